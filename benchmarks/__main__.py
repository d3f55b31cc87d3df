"""`make bench`: the app and its client against kubectl and the targets, on the sim API seeded with
5,000 and 10,000 pods over 50 nodes (in its own process, on 127.0.0.1).

    python -m benchmarks [list|table|churn|memory|cold-start|join|logs|expose|drift ...]   (default: all of them)

Figures are medians of several runs where a run is short; each target is printed with PASS, or
MISS and by how much, and the checked figures are repeated in a summary at the end. See
benchmarks/benches.py for what each benchmark measures.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

from .benches import NAMES, run


async def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__.splitlines()[0])
    parser.add_argument("benchmarks", nargs="*", metavar="BENCHMARK",
                        help=f"any of {', '.join(NAMES)} (default: all)")
    selected = parser.parse_args(argv).benchmarks or list(NAMES)
    if unknown := [name for name in selected if name not in NAMES]:
        parser.error(f"unknown benchmark {', '.join(unknown)} (choose from {', '.join(NAMES)})")
    if shutil.which("kubectl") is None:
        print("kubectl is not installed; nothing to compare against", file=sys.stderr)
        return 1
    started = time.monotonic()
    print(f"{os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f} (other work on the machine skews the figures)")
    with tempfile.TemporaryDirectory(prefix="homelab-bench-") as tmp:
        summary = await run(selected, Path(tmp))
    summary.print()
    print(f"\n(benchmarks took {time.monotonic() - started:.0f} s; load average {os.getloadavg()[0]:.1f} at the end)")
    return 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main(sys.argv[1:])))
