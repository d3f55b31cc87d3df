"""The app's log view under test, headless (`App.run_test`), alone in its own process.

    python -m benchmarks.log_probe --config CFG --namespace NS --pod POD

Opens the log view on the pod (what `l` on its row opens) and reports "following" once its stream
is open. On `measure` (seconds, key_interval) a thread presses `s` (autoscroll) every
`key_interval` seconds, as a terminal's input thread hands keys over, and samples the process's
RSS; each press is timed from its hand-over to the first frame painted after the view handled it.
On `finish` (total: the number of the last line written, drain: seconds) it waits until that line
is in the buffer, or `drain` s, and reports "logs": the key latencies, the RSS samples and peak,
when the last line was drawn, and the buffer's window (its size, first and last line numbers,
numbers missing inside it).
"""

from __future__ import annotations

import argparse
import asyncio
import re
import threading
import time

from textual import events

from homelab_tui.config import load_config
from homelab_tui.ui.app import HomelabApp
from homelab_tui.ui.logs import LogScreen, LogSource

from .common import Reports, peak_rss_mb, rss_mb

SIZE = (200, 60)
NUMBERED = re.compile(r"^line (\d+) from ")


class KeyTimer:
    """Keys handed over from a thread, each timed to the first frame painted after its action ran."""

    def __init__(self, app: HomelabApp, screen: LogScreen) -> None:
        self.app, self.screen = app, screen
        self.sent: list[float] = []  # when each key was handed over
        self.handled = 0
        self.painted: list[float | None] = []  # per key: the frame after its action, None until then
        self._unpainted: list[int] = []
        original_display, original_toggle = app._display, screen.action_toggle_autoscroll

        def display(screen_, renderable):
            result = original_display(screen_, renderable)
            if renderable is not None and self._unpainted:
                now = time.monotonic()
                for index in self._unpainted:
                    self.painted[index] = now
                self._unpainted.clear()
            return result

        def toggle():
            original_toggle()
            self._unpainted.append(self.handled)
            self.handled += 1

        app._display, screen.action_toggle_autoscroll = display, toggle

    def press(self, loop: asyncio.AbstractEventLoop) -> None:
        """From another thread: hand `s` to the app as its driver does with a key read."""
        self.sent.append(time.monotonic())
        self.painted.append(None)
        key = events.Key("s", "s")
        key.set_sender(self.app)
        loop.call_soon_threadsafe(self.app._driver.send_message, key)

    def latencies(self) -> list[float | None]:
        return [None if painted is None else painted - sent for sent, painted in zip(self.sent, self.painted)]


async def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.log_probe", description=__doc__.splitlines()[0])
    parser.add_argument("--config", required=True)
    parser.add_argument("--namespace", required=True)
    parser.add_argument("--pod", required=True)
    args = parser.parse_args()
    reports = Reports()
    config = load_config(args.config)
    app = HomelabApp(config, clock=lambda: None)
    async with app.run_test(size=SIZE) as pilot:
        screen = LogScreen(config, f"{args.namespace}/{args.pod}", [LogSource(args.namespace, args.pod)])
        await app.push_screen(screen)
        async with asyncio.timeout(30):
            while not screen._streaming:
                await pilot.pause(0.05)
        await asyncio.sleep(1.0)  # the stream's request answered, the first lines drawn
        timer = KeyTimer(app, screen)
        reports.send("following", rss_mb=rss_mb())
        loop = asyncio.get_running_loop()
        samples: list[tuple[float, float]] = []
        stop = threading.Event()
        while (command := await reports.command())["cmd"] != "quit":
            if command["cmd"] == "measure":
                def drive(seconds=command["seconds"], interval=command["key_interval"]) -> None:
                    ended = time.monotonic() + seconds
                    while time.monotonic() < ended and not stop.is_set():
                        timer.press(loop)
                        samples.append((time.monotonic(), rss_mb()))
                        time.sleep(interval)

                thread = threading.Thread(target=drive, daemon=True)
                thread.start()
                reports.send("measuring")
            elif command["cmd"] == "finish":
                total, drain = command["total"], command["drain"]
                deadline = time.monotonic() + drain

                def last_number() -> int:
                    match = NUMBERED.match(screen.buffer[-1]) if screen.buffer else None
                    return int(match[1]) if match else 0

                while last_number() < total and time.monotonic() < deadline:
                    await asyncio.sleep(0.01)
                caught_up = time.monotonic()
                stop.set()
                thread.join(5)
                await pilot.pause(0.3)  # the last key's frame
                numbers = [int(match[1]) for line in screen.buffer if (match := NUMBERED.match(line))]
                window = set(range(numbers[0], numbers[-1] + 1)) if numbers else set()
                reports.send("logs", latencies=timer.latencies(), rss=samples, peak_rss_mb=peak_rss_mb(),
                             caught_up=caught_up, last=last_number(), buffer=len(screen.buffer),
                             first=numbers[0] if numbers else 0, missing=len(window - set(numbers)),
                             drawn_lines=len(screen.log_widget.lines))
            else:
                reports.send("error", message=f"unknown command {command!r}")


if __name__ == "__main__":
    asyncio.run(main())
