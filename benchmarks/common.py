"""Shared by the benchmarks: child processes that talk JSON lines, kubectl runs, statistics and
target verdicts.

The sim API (`benchmarks.sim_server`) and the app under test (`benchmarks.app_probe`) each run in
their own process, so neither one's CPU, memory or GIL counts against the other. Both write their
reports as lines `BENCH {json}` on stdout and take commands as JSON lines on stdin; anything else
they print (and all of stderr, kept in a log file) is ignored unless the child fails.
"""

from __future__ import annotations

import asyncio
import json
import math
import os
import statistics
import sys
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

REPO = Path(__file__).resolve().parent.parent
PREFIX = "BENCH "
NODES = 50
STREAM_LIMIT = 256 * 1024 * 1024  # one report line may carry a whole 10k-row table


# -- the child side ---------------------------------------------------------------------------


class Reports:
    """A child's report channel, on duplicates of fds 0 and 1 taken at startup, so reports still
    get out (and commands in) while Textual captures `print` and `sys.stdout`."""

    def __init__(self) -> None:
        self._out: TextIO = os.fdopen(os.dup(1), "w", buffering=1)
        self._in: TextIO = os.fdopen(os.dup(0), "r")
        self._lock = threading.Lock()

    def send(self, event: str, **fields: Any) -> None:
        line = PREFIX + json.dumps({"event": event, **fields}) + "\n"
        with self._lock:
            self._out.write(line)
            self._out.flush()

    def read_command(self) -> dict[str, Any]:
        """The next command line from the parent (blocking); {"cmd": "quit"} at end of input."""
        line = self._in.readline()
        return json.loads(line) if line.strip() else {"cmd": "quit"}

    async def command(self) -> dict[str, Any]:
        return await asyncio.to_thread(self.read_command)


def peak_rss_mb() -> float:
    """This process's own peak resident set size: VmHWM, the high-water mark of its address space.

    Not ru_maxrss: on Linux, exec() folds the high-water mark of the address space it replaces
    into the new program's ru_maxrss, and subprocess spawns with vfork, so a child's ru_maxrss
    starts at the *parent's* peak. After the `list` benchmark (10k pods listed in the parent)
    that is ~270 MB, which every app process spawned afterwards reported as its own peak.
    """
    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024  # kB
    except OSError:
        pass
    import resource  # no procfs: ru_maxrss (KiB on Linux), which may include the parent's peak

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def rss_mb() -> float:
    """This process's current resident set size."""
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


# -- the parent side --------------------------------------------------------------------------


class Child:
    """A `python -m benchmarks.<module>` process, its reports and its stderr log."""

    def __init__(self, proc: asyncio.subprocess.Process, name: str, log: Path):
        self.proc, self.name, self.log = proc, name, log

    @classmethod
    async def spawn(cls, module: str, *args: str, log: Path) -> Child:
        with log.open("wb") as stderr:
            proc = await asyncio.create_subprocess_exec(
                sys.executable, "-m", f"benchmarks.{module}", *args, cwd=REPO, limit=STREAM_LIMIT,
                stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE, stderr=stderr)
        return cls(proc, module, log)

    def send(self, cmd: str, **fields: Any) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.write((json.dumps({"cmd": cmd, **fields}) + "\n").encode())

    async def expect(self, event: str, timeout: float) -> dict[str, Any]:
        """The next report, which must be `event`."""
        assert self.proc.stdout is not None
        try:
            async with asyncio.timeout(timeout):
                while True:
                    line = (await self.proc.stdout.readline()).decode()
                    if not line:
                        raise self.failure(f"exited (code {await self.proc.wait()}) before reporting {event!r}")
                    if line.startswith(PREFIX):
                        report = json.loads(line[len(PREFIX):])
                        if report["event"] != event:
                            raise self.failure(f"reported {report['event']!r}, expected {event!r}: {report}")
                        return report
        except TimeoutError:
            raise self.failure(f"did not report {event!r} within {timeout:.0f} s") from None

    def failure(self, what: str) -> RuntimeError:
        tail = self.log.read_text(errors="replace")[-3000:] if self.log.exists() else ""
        return RuntimeError(f"{self.name} {what}\n--- its stderr ({self.log}) ends with:\n{tail}")

    async def close(self, timeout: float = 10.0) -> None:
        """Ask it to quit, and end it if it does not."""
        if self.proc.returncode is None:
            try:
                self.send("quit")
                self.proc.stdin.close()
                await asyncio.wait_for(self.proc.wait(), timeout)
            except (TimeoutError, ConnectionError):
                self.proc.kill()
                await self.proc.wait()


@dataclass
class SimServer:
    """The sim API seeded with `pods` pods over NODES nodes, in its own process (see sim_server)."""

    pods: int
    kubeconfig: Path
    app_config: Path  # a homelab-tui config with only [cluster] kubeconfig
    child: Child
    churn_seconds: float  # bounds the wait for the churn's report

    @classmethod
    async def start(cls, pods: int, workdir: Path, churn_rate: float = 200, churn_seconds: float = 30) -> SimServer:
        kubeconfig = workdir / f"kubeconfig-{pods}"
        child = await Child.spawn("sim_server", "--pods", str(pods), "--nodes", str(NODES),
                                  "--kubeconfig", str(kubeconfig), "--churn-rate", str(churn_rate),
                                  "--churn-seconds", str(churn_seconds), log=workdir / f"sim-{pods}.log")
        await child.expect("ready", timeout=120)
        app_config = workdir / f"homelab-tui-{pods}.toml"
        app_config.write_text(f"[cluster]\nkubeconfig = {json.dumps(str(kubeconfig))}\n")
        return cls(pods, kubeconfig, app_config, child, churn_seconds)

    async def churn(self) -> dict[str, Any]:
        """Run the churn; returns the sim's report (events sent, with rv and send time of each)."""
        self.child.send("churn")
        return await self.child.expect("churn-done", timeout=self.churn_seconds + 120)

    async def stop(self) -> None:
        await self.child.close()


async def run_timed(argv: Sequence[str], env: dict[str, str] | None = None) -> tuple[float, bytes, bytes]:
    """Wall seconds of a command from spawn to exit, its stdout and stderr; raises if it fails."""
    started = time.perf_counter()
    proc = await asyncio.create_subprocess_exec(*argv, env=env, stdout=asyncio.subprocess.PIPE,
                                                stderr=asyncio.subprocess.PIPE, limit=STREAM_LIMIT)
    out, err = await proc.communicate()
    elapsed = time.perf_counter() - started
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(argv)} failed ({proc.returncode}): {err.decode().strip()[-2000:]}")
    return elapsed, out, err


async def kubectl(kubeconfig: Path, *args: str) -> tuple[float, bytes]:
    """Wall seconds of `kubectl ARGS` against the sim, and its stdout."""
    seconds, out, _ = await run_timed(["kubectl", *args], env={**os.environ, "KUBECONFIG": str(kubeconfig)})
    return seconds, out


# -- statistics and verdicts ------------------------------------------------------------------


def percentile(values: Sequence[Any], q: float) -> Any:
    """Nearest-rank percentile (q in 0..100) of sortable values: one that was actually observed."""
    ordered = sorted(values)
    return ordered[max(0, math.ceil(q / 100 * len(ordered)) - 1)]


median = statistics.median


def ms(seconds: float) -> str:
    return f"{seconds * 1000:.0f} ms"


@dataclass
class Target:
    """A figure's target, e.g. Target("p95", 0.100, ms, "<") -> `p95 < 100 ms`."""

    what: str
    limit: float
    show: Any  # formats a value of the figure's unit
    op: str = "<"  # "<" (under) or "<=" (at most)

    def met(self, value: float) -> bool:
        return value < self.limit if self.op == "<" else value <= self.limit

    def verdict(self, value: float, at_least: bool = False) -> str:
        """PASS, or MISS and by how much; `at_least`: the true value is known only to exceed `value`."""
        if self.met(value) and not at_least:
            return "PASS"
        if self.met(value):
            return "UNKNOWN (only a lower bound is known)"
        more = "more than " if at_least else ""
        relative = f" ({more}{value / self.limit - 1:+.0%})" if self.limit else ""
        return f"MISS by {more}{self.show(value - self.limit)}{relative}"

    def __str__(self) -> str:
        return f"{self.what} {self.op} {self.show(self.limit)}"


@dataclass
class Summary:
    """Every checked figure of the run, printed together at the end."""

    rows: list[tuple[str, str, str, str]] = field(default_factory=list)

    def check(self, name: str, value: float, target: Target, at_least: bool = False) -> str:
        verdict = target.verdict(value, at_least)
        self.rows.append((name, (">" if at_least else "") + target.show(value), str(target), verdict))
        return f"(target {target}) {verdict}"

    def print(self) -> None:
        if not self.rows:
            return
        widths = [max(len(row[i]) for row in self.rows) for i in range(3)]
        print("\nsummary")
        for row in self.rows:
            print("  " + "  ".join(cell.ljust(width) for cell, width in zip(row, widths)) + "  " + row[3])


def say(text: str = "") -> None:
    print(text, flush=True)
