"""Verdicts: pure judgements of live facts that make no Plan (the probe's hops). They live under
plans/ for its purity contract (no I/O, no wire library), in their own package because the golden
plan runner (tests/plans/test_golden.py) expects every plans/<builder>.py to build Plans; their
cases are in tests/unit/test_probe_verdicts.py."""
