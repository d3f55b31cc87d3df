"""The log benchmark: a pod writes RATE lines/s for SECONDS s while the app's log view follows it,
beside a plain `kubectl logs -f --tail=100` of the same pod, both on the sim API in its own process.

Figures, side by side where both have them:
- a key press (`s`, handed over from a thread as a terminal's input is) to the first frame painted
  after the view handled it: p50, p95, max; target p95 under 100 ms (kubectl has no keys);
- RSS: peak, and its growth from when the buffer first filled to the end (the view keeps 5,000
  lines: it must stay flat); target growth under 20 MB; kubectl's peak beside it;
- lines: the app's buffer window (its last 5,000 lines) must hold every number in its range and
  end with the last line written; kubectl must have every line; target 0 lost;
- how long after the last line was written each had it (the app: in its buffer, drawn).
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import time
from pathlib import Path

from .common import Child, Summary, Target, ms, percentile, say

RATE, SECONDS = 5_000, 10.0
KEY_INTERVAL = 0.25
DRAIN_SECONDS = 30.0
KEY_TARGET = Target("p95", 0.100, ms)
GROWTH_TARGET = Target("RSS growth", 20, lambda mb: f"{mb:.1f} MB")
LOST_TARGET = Target("lines lost", 0, lambda n: f"{n:.0f}", "<=")
NUMBERED = re.compile(rb"^line (\d+) from ")


def proc_status_mb(pid: int, field: str) -> float:
    """VmRSS or VmHWM of another process, from /proc (0 when it is gone)."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(f"{field}:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


class KubectlFollower:
    """`kubectl logs -f --tail=100` of the pod: the numbered lines it printed and when the last came."""

    def __init__(self, proc: asyncio.subprocess.Process) -> None:
        self.proc = proc
        self.numbers: set[int] = set()
        self.last_at = 0.0
        self.rss: list[float] = []
        self.reader = asyncio.create_task(self._read())

    @classmethod
    async def start(cls, kubeconfig: Path, namespace: str, pod: str) -> KubectlFollower:
        proc = await asyncio.create_subprocess_exec(
            "kubectl", "logs", "-f", "--tail=100", "-n", namespace, pod, env={**os.environ, "KUBECONFIG": str(kubeconfig)},
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.DEVNULL, limit=2**20)
        return cls(proc)

    async def _read(self) -> None:
        assert self.proc.stdout is not None
        while line := await self.proc.stdout.readline():
            if match := NUMBERED.match(line):
                self.numbers.add(int(match[1]))
                self.last_at = time.monotonic()

    async def wait_for(self, total: int, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while total not in self.numbers and time.monotonic() < deadline and not self.reader.done():
            self.rss.append(proc_status_mb(self.proc.pid, "VmRSS"))
            await asyncio.sleep(0.05)

    async def stop(self) -> float:
        """End it; its peak RSS."""
        peak = proc_status_mb(self.proc.pid, "VmHWM")
        if self.proc.returncode is None:
            self.proc.terminate()
            await self.proc.wait()
        self.reader.cancel()
        await asyncio.gather(self.reader, return_exceptions=True)
        return peak


async def bench_log_follow(summary: Summary, workdir: Path) -> None:
    say(f"\nlog follow: one pod writing {RATE} lines/s for {SECONDS:.0f} s, sim API in its own process")
    kubeconfig, app_config = workdir / "kubeconfig-logs", workdir / "homelab-tui-logs.toml"
    sim = await Child.spawn("log_sim", "--kubeconfig", str(kubeconfig), log=workdir / "log-sim.log")
    probe = kubectl = None
    try:
        ready = await sim.expect("ready", timeout=60)
        namespace, pod = ready["namespace"], ready["pod"]
        app_config.write_text(f"[cluster]\nkubeconfig = {json.dumps(str(kubeconfig))}\n")
        probe = await Child.spawn("log_probe", "--config", str(app_config), "--namespace", namespace, "--pod", pod,
                                  log=workdir / "log-probe.log")
        await probe.expect("following", timeout=60)
        kubectl = await KubectlFollower.start(kubeconfig, namespace, pod)
        await asyncio.sleep(1.0)  # kubectl's stream open too
        probe.send("measure", seconds=SECONDS + 1, key_interval=KEY_INTERVAL)
        await probe.expect("measuring", timeout=10)
        sim.send("emit", rate=RATE, seconds=SECONDS)
        emitted = await sim.expect("emitted", timeout=SECONDS + 60)
        total = emitted["lines"]
        probe.send("finish", total=total, drain=DRAIN_SECONDS)
        await kubectl.wait_for(total, DRAIN_SECONDS)
        report = await probe.expect("logs", timeout=DRAIN_SECONDS + 30)
        kubectl_peak = await kubectl.stop()
    finally:
        if kubectl is not None:
            await kubectl.stop()
        for child in (probe, sim):
            if child is not None:
                await child.close()

    latencies = report["latencies"]
    answered = sorted(latency for latency in latencies if latency is not None)
    unanswered = len(latencies) - len(answered)
    p95 = percentile(answered, 95) if answered and not unanswered else float("inf")
    # RSS from when the buffer first filled (RATE lines/s: within the emission's first second) on
    samples = [(at, mb) for at, mb in report["rss"] if at >= emitted["started"] + 1.0]
    growth = (samples[-1][1] - samples[0][1]) if len(samples) >= 2 else 0.0
    app_lost = report["missing"] + max(total - report["last"], 0)
    kubectl_lost = total - len({n for n in kubectl.numbers if 1 <= n <= total})
    app_lag = max(report["caught_up"] - emitted["ended"], 0.0) if report["last"] >= total else float("inf")
    kubectl_lag = max(kubectl.last_at - emitted["ended"], 0.0) if total in kubectl.numbers else float("inf")
    peak = report["peak_rss_mb"]

    say(f"      {total} lines written in {emitted['ended'] - emitted['started']:.1f} s")
    say(f"      {'':34}{'app log view':>18}{'kubectl logs -f':>18}")
    say(f"      {'last line in, after it was written':34}{ms(app_lag):>18}{ms(kubectl_lag):>18}")
    say(f"      {'peak RSS':34}{peak:>15.0f} MB{kubectl_peak:>15.0f} MB   ({peak / kubectl_peak:.1f}x)"
        if kubectl_peak else f"      {'peak RSS':34}{peak:>15.0f} MB")
    app_lines, kubectl_lines = f"{app_lost} (of the last {report['buffer']})", f"{kubectl_lost} (of {total})"
    say(f"      {'lines lost':34}{app_lines:>18}{kubectl_lines:>18}")
    say(f"      buffer: {report['buffer']} lines kept ({report['first']}..{report['last']}), "
        f"{report['drawn_lines']} drawn")
    if answered:
        say(f"      key press -> screen, {len(latencies)} presses while following: p50 {ms(percentile(answered, 50))} "
            f"p95 {ms(percentile(answered, 95))} max {ms(answered[-1])}"
            + (f", {unanswered} never painted" if unanswered else ""))
    say(f"      key press -> screen {summary.check('log view: key press -> screen', p95, KEY_TARGET)}")
    if samples:
        start = emitted["started"]
        say("      app RSS while following: " + ", ".join(
            f"{mb:.0f} MB at {at - start:.0f} s" for at, mb in samples[::max(len(samples) // 5, 1)]) +
            f", {samples[-1][1]:.0f} MB at the end; kubectl {max(kubectl.rss, default=0):.0f} MB at most")
    say(f"      RSS {samples[0][1] if samples else 0:.0f} -> {samples[-1][1] if samples else 0:.0f} MB while following "
        f"{summary.check('log view: RSS growth while following', growth, GROWTH_TARGET)}")
    say(f"      lines lost in the window {summary.check('log view: lines lost in the window', app_lost, LOST_TARGET)}")
