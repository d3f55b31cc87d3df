"""Run a TUI in a pseudo-terminal and time what it paints, for the cold-start benchmark; and
attribute import time per package from `python -X importtime`."""

from __future__ import annotations

import asyncio
import fcntl
import os
import re
import struct
import subprocess
import termios
import time
from collections.abc import Mapping, Sequence

# CSI and OSC sequences, DCS/APC strings and two-byte escapes: what is left is the painted text.
ESCAPES = re.compile(r"\x1b(?:\[[0-?]*[ -/]*[@-~]|\][^\x07\x1b]*(?:\x07|\x1b\\)|[PX^_][^\x1b]*\x1b\\|[@-Z\\-_])")


async def paint_times(argv: Sequence[str], milestones: Mapping[str, Sequence[str]], *, columns: int = 120,
                      lines: int = 36, env: Mapping[str, str] | None = None, timeout: float = 30.0) -> dict[str, float]:
    """Seconds from spawning `argv` on a fresh pty of `columns` x `lines` until the screen output
    (escape sequences removed) holds every text of each milestone; an empty milestone is reached
    by the first visible character. Then it types `q`, and ends the process if it has not quit
    within 5 s."""
    master, slave = os.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", lines, columns, 0, 0))
    loop = asyncio.get_running_loop()
    painted = bytearray()
    reached: dict[str, float] = {}
    all_reached, closed = asyncio.Event(), asyncio.Event()

    def on_output() -> None:
        try:
            chunk = os.read(master, 1 << 16)
        except OSError:  # EIO: the child side is closed
            chunk = b""
        if not chunk:
            loop.remove_reader(master)
            closed.set()
            return
        now = time.monotonic()
        if all_reached.is_set():
            return  # keep draining, so the app never blocks writing
        painted.extend(chunk)
        text = ESCAPES.sub("", painted.decode("utf-8", "replace"))
        for name, needles in milestones.items():
            if name not in reached and text.strip() and all(needle in text for needle in needles):
                reached[name] = now - started
        if len(reached) == len(milestones):
            all_reached.set()

    child_env = {**(env or os.environ), "TERM": "xterm-256color", "COLUMNS": str(columns), "LINES": str(lines)}
    started = time.monotonic()
    proc = subprocess.Popen(argv, stdin=slave, stdout=slave, stderr=slave, env=child_env, start_new_session=True)
    os.close(slave)
    loop.add_reader(master, on_output)
    try:
        async with asyncio.timeout(timeout):
            await asyncio.wait({asyncio.ensure_future(all_reached.wait()), asyncio.ensure_future(closed.wait())},
                               return_when=asyncio.FIRST_COMPLETED)
    except TimeoutError:
        pass
    finally:
        await _quit(proc, master)
        if not closed.is_set():
            loop.remove_reader(master)
        os.close(master)
    missing = [name for name in milestones if name not in reached]
    if missing:
        text = ESCAPES.sub("", painted.decode("utf-8", "replace"))
        raise RuntimeError(f"{' '.join(argv)}: never painted {missing} within {timeout:.0f} s "
                           f"(exit code {proc.returncode}); output ends with: {text[-1500:]!r}")
    return reached


async def _quit(proc: subprocess.Popen, master: int) -> None:
    try:
        os.write(master, b"q")
    except OSError:
        pass
    for signal_it in (None, proc.terminate, proc.kill):
        if signal_it is not None:
            signal_it()
        for _ in range(250):  # 5 s
            if proc.poll() is not None:
                return
            await asyncio.sleep(0.02)


def import_costs(importtime_stderr: str) -> list[tuple[str, float, str]]:
    """(top-level package, self seconds summed over its modules, the homelab_tui module that first
    imported it) from `python -X importtime` output, most expensive first."""
    parent: dict[str, str] = {}
    orphans: dict[int, list[str]] = {}  # importtime prints a module after the modules it imports
    self_time: dict[str, float] = {}
    order: list[str] = []
    for line in importtime_stderr.splitlines():
        found = re.match(r"import time:\s+(\d+) \|\s+\d+ \|( +)(\S+)", line)
        if not found:
            continue
        micros, indent, name = found.groups()
        depth = (len(indent) - 1) // 2
        for child in orphans.pop(depth + 1, []):
            parent[child] = name
        orphans.setdefault(depth, []).append(name)
        self_time[name] = int(micros) / 1e6
        order.append(name)

    def importer(module: str) -> str:
        while module in parent:
            module = parent[module]
            if module.startswith("homelab_tui"):
                return module
        return "-"

    totals: dict[str, float] = {}
    first: dict[str, str] = {}
    for name in order:  # the first module printed of a package is in the subtree of its first import
        package = name.split(".")[0]
        totals[package] = totals.get(package, 0.0) + self_time[name]
        first.setdefault(package, name)
    return sorted(((p, s, importer(first[p]) if not p.startswith("homelab_tui") else "-") for p, s in totals.items()),
                  key=lambda row: -row[1])
