"""The log view (k9s's): a pod's log, or a Deployment's pods' logs merged, followed live.

It starts from the last TAIL_LINES lines and keeps the last BUFFER_LINES in a bounded buffer
(what `ctrl+s` saves). The streams run in a worker of the screen; their lines are collected in a
list and drawn every FLUSH_SECONDS in one write, so a pod writing thousands of lines a second
costs the UI a few writes a second, not a message per line. The widget is Textual's `Log`, which
draws only the lines on screen (a RichLog renders every line as it is written: 8 ms per 250
lines, which held keys up at 5,000 lines/s); wrapping is done here, at the widget's width. `s` stops following the end without
losing the lines that keep coming, `w` wraps, `t` opens the streams again with timestamps (from
the tail), `ctrl+s` saves the buffer, Esc goes back.

`p` on a pod reads its previous container's log instead (a CrashLoopBackOff's last words): it is
not followed; when there is no previous container, the API's words say so in the view.
"""

from __future__ import annotations

import asyncio
import re
from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

import platformdirs
from rich.cells import cell_len, chop_cells
from textual.app import App, ComposeResult
from textual.binding import Binding
from textual.screen import Screen
from textual.widgets import Footer, Log, Static
from textual.worker import Worker

from ..config import APP_NAME, Config
from ..files import atomic_write
from ..models import Deployment, Pod

if TYPE_CHECKING:
    from ..clients.kube import KubeClient

TAIL_LINES = 100  # where a followed log starts (k9s's default)
BUFFER_LINES = 5000  # lines kept (k9s's default buffer)
FLUSH_SECONDS = 0.05  # lines are drawn in batches this often
LOG_DIR = Path(platformdirs.user_data_dir(APP_NAME)) / "logs"


@dataclass(frozen=True)
class LogSource:
    """One container's log; `label` is put before each of its lines when several are merged."""

    namespace: str
    pod: str
    container: str | None = None
    label: str = ""


class LogScreen(Screen[None]):
    DEFAULT_CSS = """
    LogScreen #log-status { height: 1; padding: 0 1; background: $panel; text-wrap: nowrap; text-overflow: ellipsis; }
    LogScreen Log { height: 1fr; background: $surface; scrollbar-size-horizontal: 1; }
    """
    AUTO_FOCUS = "Log"
    BINDINGS = [
        Binding("escape,q", "back", "Back", id="log_back"),
        Binding("s", "toggle_autoscroll", "Autoscroll", id="log_autoscroll",
                tooltip="Stop or resume following the end; new lines are kept either way"),
        Binding("w", "toggle_wrap", "Wrap", id="log_wrap", tooltip="Wrap long lines"),
        Binding("t", "toggle_timestamps", "Timestamps", id="log_timestamps",
                tooltip="Show each line's timestamp (the streams start again from the tail)"),
        Binding("ctrl+s", "save", "Save", id="log_save", tooltip=f"Save the lines kept to a file in {LOG_DIR}"),
    ]

    def __init__(self, config: Config, title: str, sources: list[LogSource], *, previous: bool = False) -> None:
        super().__init__()
        self.config = config
        self.title_text = title
        self.sources = sources
        self.previous = previous  # the previous containers' logs, read once, not followed
        self.timestamps = False
        self.wrap = False
        self.buffer: deque[str] = deque(maxlen=BUFFER_LINES)
        self.received = 0  # lines read since the streams (re)started
        self._pending: list[str] = []
        self._problems: list[str] = []  # an error or the end of a stream: said in the view, not kept
        self._streaming = False

    def compose(self) -> ComposeResult:
        yield Static(id="log-status")
        yield Log(max_lines=BUFFER_LINES, id="log")
        yield Footer()

    def on_mount(self) -> None:
        self.set_interval(FLUSH_SECONDS, self.flush)
        self._start()

    @property
    def log_widget(self) -> Log:
        return self.query_one(Log)

    # -- the streams -----------------------------------------------------------------------------

    def _start(self) -> None:
        self._streaming = True
        self.run_worker(self._stream(), group="log-stream", exclusive=True, exit_on_error=False,
                        description=f"read the log of {self.title_text}")
        self._show_status()

    async def _stream(self) -> None:
        from ..connect import kube_client  # loaded by now: the watches imported the client

        client = kube_client(self.config)
        try:
            await client.open()
            await asyncio.gather(*(self._read(client, source) for source in self.sources))
        finally:
            self._streaming = False
            await client.close()
            self._show_status()

    async def _read(self, client: KubeClient, source: LogSource) -> None:
        from ..clients.kube import KubeClientError, KubeError

        prefix = f"{source.label} " if source.label else ""
        try:
            async for line in client.stream_logs(
                    source.namespace, source.pod, container=source.container, follow=not self.previous,
                    tail_lines=BUFFER_LINES if self.previous else TAIL_LINES, previous=self.previous,
                    timestamps=self.timestamps):
                self._pending.append(prefix + line if prefix else line)  # not held: a flush swaps the list
        except KubeError as error:  # the API's own words: no previous container, not started yet ...
            self._problems.append(f"✖ {prefix}{error.message or error}")
            self.app.notify(f"{source.namespace}/{source.pod}: {error.message or error}", severity="warning")
        except KubeClientError as error:
            self._problems.append(f"✖ {prefix}{error}")
        else:
            if not self.previous:
                self._problems.append(f"-- {prefix}the log stream ended --")

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        """A failure the streams did not expect goes to the app's one error router."""
        self.app.on_worker_state_changed(event)

    # -- drawing -----------------------------------------------------------------------------------

    def flush(self) -> None:
        """Draw the lines read since the last flush, in one write."""
        lines, problems = self._pending, self._problems
        if not lines and not problems:
            return
        self._pending, self._problems = [], []
        if lines:
            self.received += len(lines)
            self.buffer.extend(lines)
            self._write(lines)
        if problems:
            self._write(problems)
        self._show_status()

    def _write(self, lines: list[str]) -> None:
        """Unwrapped, a line keeps its length (scroll sideways); wrapped, it is cut at the width."""
        log = self.log_widget
        if self.wrap and (width := log.scrollable_content_region.width) > 0:
            lines = [part for line in lines for part in (chop_cells(line, width) if cell_len(line) > width else (line,))]
        log.write_lines(lines)
        if log.auto_scroll:  # again once laid out: a long line's new scrollbar takes the last row
            log.call_after_refresh(log.scroll_end, animate=False, x_axis=False)

    def _show_status(self) -> None:
        if not self.is_mounted:
            return
        log = self.log_widget if self.children else None
        state = "previous container" if self.previous else ("following" if self._streaming else "ended")
        parts = [f"[b]Logs[/] {self.title_text}", state,
                 f"autoscroll {'on' if log is None or log.auto_scroll else 'off'}",
                 f"wrap {'on' if self.wrap else 'off'}", f"timestamps {'on' if self.timestamps else 'off'}",
                 f"{len(self.buffer)} lines"]
        self.query_one("#log-status", Static).update(" · ".join(parts))

    # -- keys --------------------------------------------------------------------------------------

    def action_back(self) -> None:
        self.dismiss()

    def action_toggle_autoscroll(self) -> None:
        log = self.log_widget
        log.auto_scroll = not log.auto_scroll
        if log.auto_scroll:
            log.scroll_end(animate=False)
        self._show_status()

    def action_toggle_wrap(self) -> None:
        self.wrap = not self.wrap
        self._redraw()
        self._show_status()

    def _redraw(self) -> None:
        """The kept lines drawn again (wrapped at the width now, or not)."""
        self.log_widget.clear()
        if self.buffer:
            self._write(list(self.buffer))

    def on_resize(self) -> None:
        if self.wrap:
            self.call_after_refresh(self._redraw)

    def action_toggle_timestamps(self) -> None:
        """The streams again, from the tail, with (or without) each line's timestamp."""
        self.timestamps = not self.timestamps
        self.buffer.clear()
        self._pending, self._problems = [], []
        self.received = 0
        self.log_widget.clear()
        self._start()

    def action_save(self) -> None:
        name = re.sub(r"[^A-Za-z0-9_.-]+", "_", self.title_text).strip("_")
        path = LOG_DIR / f"{name}-{datetime.now():%Y%m%d-%H%M%S}.log"
        atomic_write(path, "".join(f"{line}\n" for line in self.buffer), backup=False)
        self.app.notify(f"saved {len(self.buffer)} lines to {path}")


# -- opening the view from a pane -------------------------------------------------------------------


def open_logs(app: App, title: str, sources: list[LogSource], *, previous: bool = False) -> None:
    app.push_screen(LogScreen(app.config, title, sources, previous=previous))


def containers_of(raw: dict) -> list[str]:
    return [container["name"] for container in (raw.get("spec") or {}).get("containers") or []]


def pod_sources(namespace: str, pod: str, containers: list[str], label: str = "") -> list[LogSource]:
    """A pod's containers; with several, each line says its container (k9s shows them all)."""
    if len(containers) <= 1:
        return [LogSource(namespace, pod, containers[0] if containers else None, label)]
    return [LogSource(namespace, pod, container, f"{label or pod}/{container}") for container in containers]


def deployment_logs(app: App, deployment: Deployment, pods: Iterable[Pod]) -> None:
    """The logs of a Deployment's pods (those its selector matches now), merged, each line after
    its pod's name. The containers are the template's (a pod's own are alike)."""
    selector = deployment.selector
    mine = sorted((pod for pod in pods if pod.namespace == deployment.namespace and selector
                   and all(pod.labels.get(k) == v for k, v in selector.items())), key=lambda pod: pod.name)
    if not mine:
        app.notify(f"Deployment {deployment.key} has no pods", severity="warning")
        return
    containers = list(deployment.containers)
    sources = [source for pod in mine for source in pod_sources(pod.namespace, pod.name, containers, pod.name)]
    open_logs(app, f"deploy/{deployment.key}", sources)
