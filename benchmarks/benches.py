"""The benchmarks, parent side: each prints its figures, and its targets go into the summary.

list        our KubeClient.list_pods() (in this process) vs `kubectl get pods -A`
table       the app (headless, own process) from constructing HomelabApp to the first frame painted
            with every pod in the Pods table, vs `kubectl get pods -A --no-headers` run in turn
            with it; target at most 1.5x kubectl. Also: the same counted from process spawn, and
            when each step of the load ended.
memory      peak RSS (VmHWM) of every 10k-pod app process, loaded and after the churn; target
            under 150 MB. One process also tells what its pods and rows hold.
cold-start  `homelab-tui --config CFG` on a 120x36 pty: spawn -> first painted frame (its first
            visible output), target under 0.6 s; and -> the first data (node) rows painted, target
            under 0.4 s. Also: table headers and footer painted, and what Python's start and the
            imports cost on their own.
churn       10k pods, 200 pod events/s for 30 s (the sim restarts random pods: RESTARTS, STATUS
            and READY change): per event, applied (kube_state.apply) -> cell updated (_apply_pending
            returned), and sent by the sim -> cell updated, which also counts the time an event
            waited before the app read it; target p95 under 50 ms. Then the Pods table vs
            `kubectl get pods -A -o wide`: dropped, duplicated, extra and mismatched rows; target
            none. The app gets DRAIN_SECONDS after the last event to catch up; an event not shown
            by then counts with its wait so far (a lower bound, printed with ">").
drift       the drift check (plans/repair.py exposure_status) over a 500-rule router, 50 exposures with
            PCC over 4 nodes, a few drifted: pass p50/p95, target p95 under 0.3 s; beside the same pass
            over our 400 rules only, and one router read (benchmarks/drift.py).
logs        a pod writing 5,000 lines/s for 10 s, its log view following it beside `kubectl logs -f`:
            key press -> screen p95 under 100 ms, RSS flat, no line lost in the buffer's window
            (benchmarks/log_follow.py).
"""

from __future__ import annotations

import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from homelab_tui.clients.kube import KubeClient

from .drift import bench_drift
from .expose_plan import bench_expose
from .join_fanout import bench_join_fanout
from .log_follow import bench_log_follow
from .common import Child, SimServer, Summary, Target, kubectl, median, ms, percentile, run_timed, say
from .terminal import import_costs, paint_times

RUNS = 5  # median of this many, for list, table and cold start
DRAIN_SECONDS = 30.0  # after the churn, how long the app may take to show every event
TABLE_TARGET = Target("ratio", 1.5, lambda r: f"{r:.2f}x", "<=")
P95_TARGET = Target("p95", 0.050, ms)
ROWS_TARGET = Target("rows wrong", 0, lambda n: f"{n:.0f}", "<=")
RSS_TARGET = Target("peak RSS", 150, lambda mb: f"{mb:.0f} MB")
COLD_TARGET = Target("first frame", 0.6, lambda s: f"{s:.2f} s")
ROWS_COLD_TARGET = Target("first node rows", 0.4, lambda s: f"{s:.2f} s")
COMPARED = ("READY", "STATUS", "RESTARTS", "NODE", "IP")  # AGE is left out: it moves on its own


@dataclass
class Context:
    workdir: Path
    summary: Summary
    rss_10k: list[tuple[str, float]] = field(default_factory=list)  # (when, peak RSS MB) of 10k-pod app processes
    probes: int = 0
    memory_breakdown: str = ""

    async def probe(self, sim: SimServer) -> tuple[Child, dict[str, Any], float]:
        """A fresh app process on `sim`, once it has painted the full Pods table: the process,
        its "table" report, and seconds from spawn to that frame (by this process's clock)."""
        self.probes += 1
        spawned = time.monotonic()
        child = await Child.spawn("app_probe", "--config", str(sim.app_config), "--pods", str(sim.pods),
                                  log=self.workdir / f"probe-{sim.pods}-{self.probes}.log")
        try:
            report = await child.expect("table", timeout=180)
        except BaseException:
            await child.close()
            raise
        if report["rows"] != sim.pods:
            await child.close()
            raise RuntimeError(f"the Pods table holds {report['rows']} rows, the API {sim.pods}")
        if sim.pods == 10_000:
            self.rss_10k.append(("loaded", report["peak_rss_mb"]))
        return child, report, report["painted_at"] - spawned


async def kubectl_get_pods(sim: SimServer) -> float:
    """Wall seconds of `kubectl get pods -A --no-headers`, which must list every pod."""
    seconds, out = await kubectl(sim.kubeconfig, "get", "pods", "-A", "--no-headers")
    if len(out.splitlines()) != sim.pods:
        raise RuntimeError(f"kubectl listed {len(out.splitlines())} pods, the sim holds {sim.pods}")
    return seconds


async def bench_list(ctx: Context, sim: SimServer) -> None:
    ours, theirs = [], []
    for _ in range(RUNS):
        started = time.perf_counter()
        async with KubeClient(sim.kubeconfig) as kube:
            pods = await kube.list_pods()
        ours.append(time.perf_counter() - started)
        if len(pods) != sim.pods:
            raise RuntimeError(f"KubeClient listed {len(pods)} pods, the sim holds {sim.pods}")
        theirs.append(await kubectl_get_pods(sim))
    a, b = median(ours), median(theirs)
    say(f"list  {sim.pods:>6} pods | homelab-tui client {ms(a):>7} | kubectl get pods -A {ms(b):>7} | "
        f"ratio {a / b:4.2f}x  (median of {RUNS})")


PHASES = {"mounted": "mounted", "pods listed": "Pod list in and converted", "pods applied": "applied to state",
          "flush started": "flush starts", "rows added": "flush done", "painted": "painted"}


async def bench_table(ctx: Context, sim: SimServer) -> None:
    ours, from_spawn, theirs, reports = [], [], [], []
    for _ in range(RUNS):
        child, report, spawn_to_frame = await ctx.probe(sim)
        await child.close()
        ours.append(report["seconds"])
        from_spawn.append(spawn_to_frame)
        reports.append(report)
        theirs.append(await kubectl_get_pods(sim))
    a, b, c = median(ours), median(theirs), median(from_spawn)
    ratio = a / b
    name = f"table {sim.pods // 1000}k: app / kubectl"
    say(f"table {sim.pods:>6} pods | app: HomelabApp() -> first frame with all rows {ms(a):>7} | kubectl get pods -A "
        f"{ms(b):>7} | ratio {ratio:4.2f}x {ctx.summary.check(name, ratio, TABLE_TARGET)}  (median of {RUNS})")
    say(f"      {'':>6}      | counting the app's process start and imports: {ms(c)}, ratio {c / b:4.2f}x")
    steps, previous = [], 0.0
    for mark, label in PHASES.items():
        at = median([report["marks"][mark] for report in reports])
        steps.append(f"{label} +{ms(at - previous)}")
        previous = at
    sizing = median([report["datatable"].get("_update_dimensions", {}).get("seconds", 0.0) for report in reports])
    say(f"      {'':>6}      | where the time goes (medians from HomelabApp()): {', '.join(steps)}; "
        f"DataTable._update_dimensions (sizing the new rows, when idle) {ms(sizing)}")


async def bench_memory(ctx: Context, sim: SimServer) -> None:
    """A 10k-pod app process's peak RSS, and what its pods and rows hold (walked after the RSS
    figures are taken, in the same process)."""
    child, report, _ = await ctx.probe(sim)
    try:
        child.send("attribute")
        held = await child.expect("attribute", timeout=120)
    finally:
        await child.close()
    other = report["rss_mb"] - report["rss_after_imports_mb"] - held["raw_mb"] - held["models_mb"] - held["table_mb"]
    ctx.memory_breakdown = (
        f"RSS once painted {report['rss_mb']:.0f} MB = after imports {report['rss_after_imports_mb']:.0f} MB + pods' "
        f"raw JSON {held['raw_mb']:.0f} MB + pod models {held['models_mb']:.0f} MB + Pods table rows "
        f"{held['table_mb']:.0f} MB + other {other:.0f} MB; peak {report['peak_rss_mb']:.0f} MB")


def report_memory(ctx: Context) -> None:
    if not ctx.rss_10k:
        return
    peak = max(mb for _, mb in ctx.rss_10k)
    loaded = [mb for when, mb in ctx.rss_10k if when == "loaded"]
    churned = [mb for when, mb in ctx.rss_10k if when == "churn"]
    parts = [f"loaded: {min(loaded):.0f}-{max(loaded):.0f} MB over {len(loaded)} app processes"]
    if churned:
        parts.append(f"after the churn: {max(churned):.0f} MB")
    say(f"memory  10000 pods | peak RSS {peak:.0f} MB ({'; '.join(parts)}) "
        f"{ctx.summary.check('memory 10k: peak RSS', peak, RSS_TARGET)}")
    if ctx.memory_breakdown:
        say(f"      {'':>6}      | one of them: {ctx.memory_breakdown}")


async def bench_churn(ctx: Context, sim: SimServer) -> None:
    child, _, _ = await ctx.probe(sim)
    try:
        child.send("measure")
        await child.expect("measuring", timeout=60)
        churn = await sim.churn()
        sent = {rv: (at, key) for rv, at, key in churn["sent"]}
        child.send("finish", last_rv=max(sent), drain=DRAIN_SECONDS)
        result = await child.expect("churn", timeout=DRAIN_SECONDS + 60)
        _, listing = await kubectl(sim.kubeconfig, "get", "pods", "-A", "-o", "wide")
    finally:
        await child.close()
    ctx.rss_10k.append(("churn", result["peak_rss_mb"]))

    snapshot = result["snapshot_at"]
    records = [r for r in result["records"] if r[0] in sent]
    waiting = [(rv, applied) for rv, applied in result["outstanding"] if rv in sent]
    applied_rvs = set(result["seen_rvs"]) & sent.keys()
    reached = {rv for rv, *_ in records}
    applied_to_cell = [(cell - applied, True) for _, applied, cell, _ in records]
    applied_to_cell += [(snapshot - applied, False) for _, applied in waiting]
    sent_to_cell = [(cell - sent[rv][0], True) for rv, _, cell, _ in records]
    sent_to_cell += [(snapshot - at, False) for rv, (at, _) in sent.items() if rv not in reached]
    cell_to_frame = [(frame - cell, True) for _, _, cell, frame in records if frame is not None]

    state = "caught up" if result["caught_up"] else f"had NOT caught up {DRAIN_SECONDS:.0f} s after the last event"
    say(f"churn {sim.pods:>6} pods | {len(sent)} events sent in {churn['seconds']:.1f} s ({churn['rate']:.0f}/s, "
        f"sim schedule lag max {ms(churn['max_lag'])}); the app {state}: {len(applied_rvs)} applied, "
        f"{len(reached)} reached their cells, {len(waiting)} applied but not in their cells, "
        f"{len(sent) - len(applied_rvs)} not applied")
    say(f"      applied -> cell updated   {_spread(applied_to_cell)} "
        f"{_check(ctx, f'churn {sim.pods // 1000}k: applied -> cell p95', applied_to_cell)}")
    say(f"      sent by sim -> cell       {_spread(sent_to_cell)} "
        f"{_check(ctx, f'churn {sim.pods // 1000}k: sent by sim -> cell p95', sent_to_cell)}")
    if cell_to_frame:
        say(f"      cell -> next frame        {_spread(cell_to_frame)}")
    say("      (n: events; '>': some had not got there when the table was read, and count with their wait so far)")
    flushes, pauses = result["flushes"], result["gc_pauses"]
    say(f"      where the time goes: app CPU {result['cpu_seconds'] / result['wall_seconds']:.0%} of a core over "
        f"{result['wall_seconds']:.0f} s; {len(flushes)} flushes {ms(sum(flushes))} in all (p95 "
        f"{ms(percentile(flushes, 95) if flushes else 0)}); kube_state.apply {ms(result['apply_seconds'])}; "
        f"GC {len(pauses)} passes {ms(sum(s for _, s in pauses))}")
    for name, spent in result["datatable"].items():
        say(f"        Pods DataTable.{name} (deferred to idle): {spent['seconds']:.1f} s in {spent['calls']} calls "
            f"over {spent['items']} cells/rows, longest call {spent['longest']:.1f} s"
            + (f" (one still running when read, for {spent['running']:.1f} s)" if spent["running"] else ""))

    behind = {sent[rv][1] for rv in sent.keys() - applied_rvs} | {sent[rv][1] for rv, _ in waiting}
    dropped, duplicated, extra, mismatched, examples = _compare(result["columns"], result["rows"], listing.decode())
    stale = [key for key in mismatched if key in behind]
    wrong = len(dropped) + duplicated + len(extra) + len(mismatched)
    say(f"      Pods table {'at the end' if result['caught_up'] else 'when read'} vs kubectl get pods -A -o wide: "
        f"{len(result['rows'])} rows / {len(listing.splitlines()) - 1} pods; dropped: {len(dropped)}, "
        f"duplicated: {duplicated}, extra: {len(extra)}, mismatched: {len(mismatched)} in {'/'.join(COMPARED)} "
        f"({len(stale)} of them pods with events the app had not shown yet) "
        f"{ctx.summary.check(f'churn {sim.pods // 1000}k: rows wrong', wrong, ROWS_TARGET)}")
    for example in examples:
        say(f"        {example}")


# Latencies are (seconds, complete) pairs: an incomplete one is a lower bound, what the event had
# waited when the table was read. They sort by seconds, so `percentile` takes them as they are.

def _check(ctx: Context, name: str, latencies: list[tuple[float, bool]]) -> str:
    value, complete = percentile(latencies, 95)
    return ctx.summary.check(name, value, P95_TARGET, at_least=not complete)


def _spread(latencies: list[tuple[float, bool]]) -> str:
    if not latencies:
        return "no events"

    def show(value: float, complete: bool) -> str:
        return ("" if complete else ">") + ms(value)

    return (f"p50 {show(*percentile(latencies, 50)):>8}  p95 {show(*percentile(latencies, 95)):>8}  "
            f"max {show(*max(latencies)):>8}  (n={len(latencies)})")


def _compare(columns: list[str], app_rows: list[list[str]], listing: str
             ) -> tuple[list[str], int, list[str], list[str], list[str]]:
    """(dropped, duplicated, extra, mismatched rows, a few examples) of the app's Pods table
    against kubectl's listing. kubectl's columns are cut at its header's positions."""
    header, *lines = listing.splitlines()
    names = ["NAMESPACE", "NAME", "READY", "STATUS", "RESTARTS", "AGE", "IP", "NODE", "NOMINATED NODE"]
    starts, position = [], 0
    for name in names:
        position = header.index(name, position)
        starts.append(position)
        position += len(name)
    api = {}
    for line in lines:
        cells = dict(zip(names, (line[a:b].strip() for a, b in zip(starts, starts[1:] + [None]))))
        api[f"{cells['NAMESPACE']}/{cells['NAME']}"] = cells
    shown: dict[str, dict[str, str]] = {}
    duplicated = 0
    examples = []
    for key, *cells in app_rows:
        row = dict(zip(columns, cells))
        named = f"{row['NAMESPACE']}/{row['NAME']}"
        if named in shown or named != key:
            duplicated += 1
            examples.append(f"duplicated or mis-keyed row {key!r}: {cells}")
        shown[named] = row
    dropped = [key for key in api if key not in shown]
    extra = [key for key in shown if key not in api]
    mismatched = [key for key in api if key in shown and any(shown[key][c] != api[key][c] for c in COMPARED)]
    examples += [f"dropped {key}" for key in dropped[:3]] + [f"extra {key}" for key in extra[:3]]
    examples += [f"mismatched {key}: app {[shown[key][c] for c in COMPARED]} api {[api[key][c] for c in COMPARED]}"
                 for key in mismatched[:3]]
    return dropped, duplicated, extra, mismatched, examples[:9]


async def cold_start_bounds() -> None:
    """What the Python side costs before the app does anything: for reading the cold start."""
    python = sys.executable
    exit_now = "import os; os._exit(0)"  # no interpreter teardown: the app is painting by then
    commands = {"python -c pass": "", "import textual.app": "import textual.app; ",
                "import homelab_tui.cli + ui.app": "import homelab_tui.cli, homelab_tui.ui.app; "}
    figures = []
    for label, imports in commands.items():
        argv = [python, "-c", imports + exit_now]
        figures.append(f"{label} {ms(median([(await run_timed(argv))[0] for _ in range(RUNS)]))}")
    say(f"cold start bounds | python spawn -> exit without teardown: {' | '.join(figures)}  (median of {RUNS})")
    _, _, err = await run_timed([python, "-X", "importtime", "-c", "import homelab_tui.cli, homelab_tui.ui.app"])
    costs = import_costs(err.decode())
    total = sum(seconds for _, seconds, _ in costs)
    top = ", ".join(f"{package} {ms(seconds)}" + (f" (via {via})" if via != "-" else "")
                    for package, seconds, via in costs[:8])
    say(f"      imports under -X importtime, {ms(total)} in all, by package: {top}")


async def bench_cold_start(ctx: Context, sim: SimServer) -> None:
    entry = str(Path(sys.executable).with_name("homelab-tui"))
    milestones = {"first frame": [], "table headers and footer": ["NAME", "Quit"], "first node rows": ["app-node-00"]}
    runs = [await paint_times([entry, "--config", str(sim.app_config)], milestones) for _ in range(RUNS)]
    figures = {name: median([run[name] for run in runs]) for name in milestones}
    first, rows = figures["first frame"], figures["first node rows"]
    say(f"cold  {sim.pods:>6} pods | homelab-tui on a 120x36 pty, spawn -> " +
        " | ".join(f"{name} {seconds:.2f} s" for name, seconds in figures.items()) +
        f" {ctx.summary.check(f'cold start {sim.pods // 1000}k: first frame', first, COLD_TARGET)}"
        f" {ctx.summary.check(f'cold start {sim.pods // 1000}k: first node rows', rows, ROWS_COLD_TARGET)}"
        f"  (median of {RUNS})")


BENCHMARKS = {"list": bench_list, "table": bench_table, "memory": bench_memory, "cold-start": bench_cold_start,
              "churn": bench_churn}  # in running order: churn changes the pods, so it goes last
SIZES = {"list": (5_000, 10_000), "table": (5_000, 10_000), "memory": (10_000,), "cold-start": (5_000, 10_000),
         "churn": (10_000,)}
NAMES = (*BENCHMARKS, "join", "logs", "expose", "drift")  # these run on sims of their own, not on the seeded API


async def run(selected: list[str], workdir: Path) -> Summary:
    ctx = Context(workdir, Summary())
    if "join" in selected:
        await bench_join_fanout(ctx.summary, workdir)
    if "logs" in selected:
        await bench_log_follow(ctx.summary, workdir)
    if "expose" in selected:
        await bench_expose(ctx.summary, workdir)
    if "drift" in selected:
        await bench_drift(ctx.summary, workdir)
    if "cold-start" in selected:
        await cold_start_bounds()
    for pods in (5_000, 10_000):
        wanted = [name for name in BENCHMARKS if name in selected and pods in SIZES[name]]
        if not wanted:
            continue
        say(f"\n{pods} pods over 50 nodes, sim API in its own process")
        started = time.monotonic()
        sim = await SimServer.start(pods, workdir)
        say(f"      (sim seeded and serving in {time.monotonic() - started:.1f} s)")
        try:
            for name in wanted:
                await BENCHMARKS[name](ctx, sim)
        finally:
            await sim.stop()
        if pods == 10_000 and ("memory" in selected):
            report_memory(ctx)
    return ctx.summary
