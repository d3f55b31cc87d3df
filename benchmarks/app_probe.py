"""The app under test, headless (`App.run_test`), alone in its own process, instrumented from outside.

    python -m benchmarks.app_probe --config CFG --pods N

Reports "table" once the first frame is painted with all N pods in the Pods table (the pane is
shown right after mount): seconds from constructing `HomelabApp`, when each step of the first
load ended, and the process's memory. Then it takes commands (JSON lines on stdin):

  attribute   reports "attribute": the retained size of the pods' raw JSON, their models and the
              Pods table's rows (walked after the figures above were taken)
  measure     start recording Pod events; reports "measuring". What follows runs in a watchdog
              thread, so that it answers on time even when the app's event loop is saturated:
  finish      (last_rv=R, drain=S) wait until the event of resourceVersion R is applied and every
              recorded event has reached its cells, or S seconds; then report "churn": per event
              [rv, applied, cell updated, next frame] (time.monotonic), the Pod events applied,
              those applied but not yet in their cells [rv, applied], flush and DataTable times,
              GC pauses, CPU, and the Pods table as it is; then end the process
  quit

Instrumentation wraps attributes of the one app instance (state.kube.apply, _display), of its
dashboard (_apply_pending, the flush of the watch events) and of its Pods table (update_cell,
add_keyed_rows; and for timing, the deferred measuring Textual's DataTable does when idle:
_update_dimensions for new rows, _update_column_widths for updated cells); the app's code is not
changed.
"""

from __future__ import annotations

import time

PROCESS_STARTED = time.monotonic()

import argparse  # noqa: E402
import asyncio  # noqa: E402
import gc  # noqa: E402
import os  # noqa: E402
import resource  # noqa: E402
import sys  # noqa: E402
import threading  # noqa: E402

from homelab_tui.config import load_config  # noqa: E402
from homelab_tui.models import EventType  # noqa: E402
from homelab_tui.ui.app import HomelabApp  # noqa: E402

from .common import Reports, peak_rss_mb, rss_mb  # noqa: E402

IMPORTED = time.monotonic()
RSS_AFTER_IMPORTS = rss_mb()
SIZE = (200, 60)
TIMEOUT = 120.0
DATATABLE_TIMED = ("_update_dimensions", "_update_column_widths")  # Textual's deferred measuring


def key_text(key) -> str:
    """A row key as the app gives it: str, or a DataTable RowKey."""
    return str(getattr(key, "value", key))


def cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def wrap(obj, name: str, after, timed: bool = False) -> None:
    """Call `after(*args)` (or `after(started, *args)`) once `obj.name(*args)` has returned."""
    original = getattr(obj, name)

    def wrapper(*args, **kwargs):
        started = time.monotonic()
        result = original(*args, **kwargs)
        after(started, *args, **kwargs) if timed else after(*args, **kwargs)
        return result

    setattr(obj, name, wrapper)


class Stopwatch:
    """Time spent inside one wrapped method, counting a call still running when read (one call
    may hold the event loop for many seconds), the longest call, and the items its first
    argument carried (cells to re-measure, rows to size)."""

    def __init__(self, obj, name: str):
        self.total = self.longest = 0.0
        self.calls = self.items = 0
        self._since: float | None = None
        original = getattr(obj, name)

        def timed(*args, **kwargs):
            self.calls += 1
            self.items += len(args[0]) if args and hasattr(args[0], "__len__") else 0
            self._since = time.monotonic()
            try:
                return original(*args, **kwargs)
            finally:
                spent, self._since = time.monotonic() - self._since, None
                self.total += spent
                self.longest = max(self.longest, spent)

        setattr(obj, name, timed)

    def reset(self) -> None:
        self.total = self.longest = 0.0
        self.calls = self.items = 0

    def read(self) -> dict[str, float]:
        running = time.monotonic() - self._since if self._since is not None else 0.0
        return {"seconds": self.total + running, "longest": max(self.longest, running), "calls": self.calls,
                "items": self.items, "running": running}


class Instruments:
    """Times taken on one app instance: the first full Pods frame, and each Pod event's way from
    `state.kube.apply` to its cells (the dashboard's `_apply_pending` returned after update_cell/add_row
    on its row) and to the next painted frame."""

    def __init__(self, app: HomelabApp, pods: int):
        self.app, self.pods = app, pods
        self.table_painted = asyncio.Event()
        self.marks: dict[str, float] = {}  # the first load's milestones (time.monotonic)
        self.measuring = False
        self.outstanding: dict[str, list[tuple[int, float]]] = {}  # key -> applied, not yet in its cells
        self.touched: set[str] = set()  # rows whose cells changed since the last flush
        self.unpainted: list[list] = []
        self.records: list[list] = []  # [rv, applied, cell updated, next frame]
        self.seen_rvs: list[int] = []  # every Pod event applied while measuring
        self.flushes: list[float] = []
        self.apply_seconds = 0.0
        self.datatable: dict[str, Stopwatch] = {}
        self.gc_pauses: list[tuple[int, float]] = []
        self._gc_started = 0.0
        wrap(app, "_display", self._after_display)
        original_apply = app.state.kube.apply

        def apply(event):
            started = time.monotonic()
            change = original_apply(event)
            if event.kind == "Pod" and event.type is EventType.RELISTED and "pods listed" not in self.marks:
                self.marks.update({"pods listed": started, "pods applied": time.monotonic()})
            if self.measuring and event.kind == "Pod":
                self.apply_seconds += time.monotonic() - started
                rv = int(event.resource_version)
                self.seen_rvs.append(rv)
                for key in change.upserted:
                    self.outstanding.setdefault(key, []).append((rv, started))
            return change

        app.state.kube.apply = apply

    def watch_pods_table(self) -> None:
        """Once mounted (before the pods are listed): time the dashboard's flushes, note which rows
        they write to, and time Textual's measuring."""
        wrap(self.app.dashboard, "_apply_pending", self._after_flush, timed=True)
        table = self.app.table("pods")
        wrap(table, "update_cell", lambda row_key, *_, **__: self.touched.add(key_text(row_key)))
        wrap(table, "add_keyed_rows", lambda rows: self.touched.update(key for key, _ in rows))
        self.datatable = {name: Stopwatch(table, name) for name in DATATABLE_TIMED if hasattr(table, name)}

    def datatable_times(self) -> dict[str, dict[str, float]]:
        return {name: watch.read() for name, watch in self.datatable.items()}

    def _after_display(self, screen, renderable) -> None:
        if renderable is None or self.app._batch_count:  # nothing was painted
            return
        now = time.monotonic()
        if "painted" not in self.marks and self.app.table("pods").row_count >= self.pods:
            self.marks["painted"] = now
            self.table_painted.set()
        for record in self.unpainted:
            record[3] = now
        self.unpainted.clear()

    def _after_flush(self, started: float) -> None:
        done = time.monotonic()
        if "rows added" not in self.marks and self.app.table("pods").row_count >= self.pods:
            self.marks.update({"flush started": started, "rows added": done})
        if not self.measuring:
            self.touched.clear()
            return
        self.flushes.append(done - started)
        for key in self.touched:
            for rv, applied in self.outstanding.pop(key, ()):
                record = [rv, applied, done, None]
                self.records.append(record)
                self.unpainted.append(record)
        self.touched.clear()

    def _on_gc(self, phase: str, info: dict) -> None:
        if phase == "start":
            self._gc_started = time.monotonic()
        else:
            self.gc_pauses.append((info["generation"], time.monotonic() - self._gc_started))

    def start_measuring(self) -> None:
        for watch in self.datatable.values():
            watch.reset()
        self.measuring = True
        gc.callbacks.append(self._on_gc)

    def stop_measuring(self) -> None:
        self.measuring = False
        gc.callbacks.remove(self._on_gc)

    def caught_up(self, last_rv: int) -> bool:
        return max(self.seen_rvs, default=0) >= last_rv and not self.outstanding


def finish_churn(reports: Reports, probe: Instruments, cpu_before: float, wall_before: float) -> None:
    """The watchdog thread: on "finish", wait for the app to catch up (or the drain time), report
    what it got to, then end the process (its event loop may be busy for minutes)."""
    command = reports.read_command()
    if command["cmd"] == "finish":
        deadline = time.monotonic() + command["drain"]
        while not probe.caught_up(command["last_rv"]) and time.monotonic() < deadline:
            time.sleep(0.02)
        caught_up = probe.caught_up(command["last_rv"])
        snapshot_at = time.monotonic()
        cpu, wall = cpu_seconds() - cpu_before, time.monotonic() - wall_before
        probe.stop_measuring()
        table = probe.app.table("pods")
        rows = []
        for key in list(table.rows):  # the loop may be running: take each row as it is now
            rows.append([key_text(key), *map(str, table.get_row(key))])
        outstanding = [pair for pairs in list(probe.outstanding.values()) for pair in pairs]
        reports.send("churn", caught_up=caught_up, snapshot_at=snapshot_at, records=list(probe.records),
                     seen_rvs=list(probe.seen_rvs), outstanding=outstanding, flushes=list(probe.flushes),
                     apply_seconds=probe.apply_seconds, datatable=probe.datatable_times(),
                     gc_pauses=list(probe.gc_pauses), cpu_seconds=cpu, wall_seconds=wall,
                     peak_rss_mb=peak_rss_mb(), columns=[str(c.label) for c in table.ordered_columns], rows=rows)
        reports.read_command()  # quit, or the end of input
    os._exit(0)


def deep_size(root: object, seen: set[int]) -> int:
    """Bytes held by `root` and everything it reaches that `seen` does not hold yet."""
    total, stack = 0, [root]
    while stack:
        obj = stack.pop()
        if id(obj) in seen or isinstance(obj, type) or callable(obj):
            continue
        seen.add(id(obj))
        total += sys.getsizeof(obj)
        if isinstance(obj, dict):
            stack.extend(obj.keys())
            stack.extend(obj.values())
        elif isinstance(obj, (list, tuple, set, frozenset)):
            stack.extend(obj)
        elif not isinstance(obj, (str, bytes, int, float)):
            if hasattr(obj, "__dict__"):
                stack.append(vars(obj))
            for cls in type(obj).__mro__:
                for slot in getattr(cls, "__slots__", ()):
                    if hasattr(obj, slot):
                        stack.append(getattr(obj, slot))
    return total


async def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.app_probe", description=__doc__.splitlines()[0])
    parser.add_argument("--config", required=True)
    parser.add_argument("--pods", type=int, required=True)
    args = parser.parse_args()
    reports = Reports()
    config = load_config(args.config)

    constructed = time.monotonic()
    app = HomelabApp(config)
    probe = Instruments(app, args.pods)
    async with app.run_test(size=SIZE) as pilot:
        probe.marks["mounted"] = time.monotonic()
        app.action_show("pods")
        probe.watch_pods_table()
        async with asyncio.timeout(TIMEOUT):
            await probe.table_painted.wait()
        painted = probe.marks["painted"]
        reports.send("table", seconds=painted - constructed, painted_at=painted,
                     marks={name: at - constructed for name, at in probe.marks.items()},
                     datatable=probe.datatable_times(), process_started=PROCESS_STARTED,
                     import_seconds=IMPORTED - PROCESS_STARTED, rows=app.table("pods").row_count,
                     rss_after_imports_mb=RSS_AFTER_IMPORTS, rss_mb=rss_mb(), peak_rss_mb=peak_rss_mb())
        while (command := await reports.command())["cmd"] != "quit":
            if command["cmd"] == "attribute":
                seen: set[int] = set()
                pods = app.state.kube.of("Pod")
                table = app.table("pods")
                raw = deep_size([pod.raw for pod in pods.values()], seen)
                models = deep_size(pods, seen)
                rows = deep_size((table._data, table.rows, table._row_locations), seen)
                reports.send("attribute", raw_mb=raw / 2**20, models_mb=models / 2**20, table_mb=rows / 2**20)
            elif command["cmd"] == "measure":
                await pilot.pause()
                await asyncio.sleep(1.0)  # settle after the initial load
                probe.start_measuring()
                threading.Thread(target=finish_churn, args=(reports, probe, cpu_seconds(), time.monotonic()),
                                 daemon=True).start()
                reports.send("measuring")
                await asyncio.Event().wait()  # the app runs on; the watchdog ends the process
            else:
                reports.send("error", message=f"unknown command {command!r}")


if __name__ == "__main__":
    asyncio.run(main())
