"""Benchmarks: `make bench` runs them side by side and reports ratios. No timing asserts in tests."""
