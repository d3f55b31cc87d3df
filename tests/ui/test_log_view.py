"""The log view, by keyboard alone on the sim lab: `l` follows a pod's log from its last 100
lines, `p` shows the previous container's (or the API's reason why there is none), `s` stops
following the end without losing lines, `w` wraps, `t` restarts the stream with timestamps,
`ctrl+s` saves the buffer, Esc goes back; the buffer keeps the last 5,000 lines, none lost."""

from __future__ import annotations

import re

import pytest
from textual.widgets import Log

from homelab_tui.config import load_config
from homelab_tui.sim.lab import Lab
from homelab_tui.ui import logs as logs_module
from homelab_tui.ui.app import HomelabApp
from homelab_tui.ui.logs import BUFFER_LINES, TAIL_LINES, LogScreen
from tests.ui.test_app_live import until

STAMP = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z ")


@pytest.fixture
async def lab(tmp_path):
    async with Lab("running", tmp_path / "lab") as lab:
        lab.kube.time_scale = 0.05  # a crashing container's back-off in a fraction of a second
        yield lab


def lab_app(lab: Lab, tmp_path) -> HomelabApp:
    config = load_config(lab.write_config(tmp_path / "lab.toml"))
    config.ui.refresh_seconds = 0.2
    return HomelabApp(config, clock=lambda: None)


def a_pod(lab: Lab, prefix: str, namespace: str = "default") -> str:
    return next(pod["metadata"]["name"] for pod in lab.kube.list("Pod", namespace)
                if pod["metadata"]["name"].startswith(prefix) and pod["status"].get("phase") == "Running")


async def open_on(pilot, pane_key: str, pane: str, row: str, key: str) -> None:
    """Show a pane, put the cursor on `row`, press `key`."""
    app = pilot.app
    await pilot.press(pane_key)
    table = app.table(pane)
    await until(pilot, lambda: row in table.rows)
    table.move_cursor(row=table.get_row_index(row))
    await pilot.press(key)


def drawn(screen: LogScreen) -> str:
    return "\n".join(screen.query_one(Log).lines)


async def test_l_follows_a_pod_from_its_tail_and_the_keys_work(lab, tmp_path, monkeypatch):
    monkeypatch.setattr(logs_module, "LOG_DIR", tmp_path / "saved")
    name = a_pod(lab, "nginx-")
    for n in range(1, 251):
        lab.kube.append_pod_log("default", name, f"before {n:03d}")
    app = lab_app(lab, tmp_path)
    async with app.run_test(size=(120, 36)) as pilot:
        await open_on(pilot, "2", "pods", f"default/{name}", "l")
        await until(pilot, lambda: isinstance(app.screen, LogScreen))
        screen: LogScreen = app.screen
        await until(pilot, lambda: len(screen.buffer) == TAIL_LINES)
        assert list(screen.buffer) == [f"before {n:03d}" for n in range(151, 251)]  # the last 100, in order
        assert "before 250" in drawn(screen) and "before 150" not in drawn(screen)

        lab.kube.append_pod_log("default", name, "followed 1")  # live
        await until(pilot, lambda: "followed 1" in drawn(screen))
        log = screen.query_one(Log)
        assert log.scroll_offset.y == log.max_scroll_y  # at the end

        await pilot.press("s")  # autoscroll off: lines keep coming, the view stays
        assert not log.auto_scroll and "autoscroll off" in str(screen.query_one("#log-status").render())
        await pilot.press("home")
        for n in range(2, 80):
            lab.kube.append_pod_log("default", name, f"followed {n}")
        await until(pilot, lambda: screen.buffer[-1] == "followed 79")
        await pilot.pause(0.1)
        assert log.scroll_offset.y == 0 and "followed 79" in drawn(screen)  # kept, not shown
        await pilot.press("s")  # on again: at the tail
        await until(pilot, lambda: log.scroll_offset.y == log.max_scroll_y)

        wide = "x" * 300
        lab.kube.append_pod_log("default", name, wide)
        await until(pilot, lambda: screen.buffer[-1] == wide)
        await pilot.press("w")  # wrap: the long line takes several rows of the width
        await until(pilot, lambda: screen.wrap and log.virtual_size.width <= log.scrollable_content_region.width)
        assert sum(1 for line in log.lines if set(line.strip()) == {"x"}) >= 3

        await pilot.press("ctrl+s")
        await until(pilot, lambda: any("saved" in note.message for note in app._notifications))
        [saved] = (tmp_path / "saved").glob("*.log")
        assert saved.read_text().splitlines() == list(screen.buffer)
        assert str(saved) in next(note.message for note in app._notifications if "saved" in note.message)

        await pilot.press("t")  # timestamps: the stream again from the tail, each line stamped
        await until(pilot, lambda: len(screen.buffer) == TAIL_LINES and screen.buffer[-1].endswith(wide))
        assert all(STAMP.match(line) for line in screen.buffer)

        await pilot.press("escape")
        await until(pilot, lambda: not isinstance(app.screen, LogScreen))
        assert app.focused is app.table("pods")


async def test_p_shows_the_previous_container_or_the_api_reason(lab, tmp_path):
    lab.kube.create({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "crasher", "namespace": "default"},
                     "spec": {"containers": [{"name": "app", "image": "example/crash:1"}]}})
    app = lab_app(lab, tmp_path)
    async with app.run_test(size=(120, 36)) as pilot:
        await until(pilot, lambda: "default/crasher" in app.table("pods").rows
                    and int(str(app.table("pods").get_row("default/crasher")[4])) >= 1)
        await open_on(pilot, "2", "pods", "default/crasher", "p")
        await until(pilot, lambda: isinstance(app.screen, LogScreen))
        screen: LogScreen = app.screen
        await until(pilot, lambda: len(screen.buffer) > 0)
        assert "previous container" in str(screen.query_one("#log-status").render())
        assert any("crash" in line or "exit" in line.lower() for line in screen.buffer), list(screen.buffer)
        await pilot.press("escape")

        healthy = a_pod(lab, "nginx-")
        await open_on(pilot, "2", "pods", f"default/{healthy}", "p")
        await until(pilot, lambda: isinstance(app.screen, LogScreen))
        reason = f'previous terminated container "nginx" in pod "{healthy}" not found'
        await until(pilot, lambda: reason in drawn(app.screen))  # the API's words, in the view
        assert any(reason in note.message for note in app._notifications)
        assert not app.screen.buffer  # not a log line: nothing to save


async def test_the_buffer_keeps_the_last_5000_lines_none_lost(lab, tmp_path):
    name = a_pod(lab, "nginx-")
    app = lab_app(lab, tmp_path)
    async with app.run_test(size=(120, 36)) as pilot:
        await open_on(pilot, "2", "pods", f"default/{name}", "l")
        await until(pilot, lambda: isinstance(app.screen, LogScreen))
        screen: LogScreen = app.screen
        await until(pilot, lambda: screen.buffer)
        writer = lab.kube.write_pod_logs("default", name, lines_per_second=5000, seconds=1.5)
        assert await writer == 7500
        marker = f"line {7500:08d} from default/{name}"
        await until(pilot, lambda: screen.buffer and screen.buffer[-1].startswith(marker[:13]))
        numbered = [int(line.split()[1]) for line in screen.buffer if line.startswith("line ")]
        assert len(screen.buffer) == BUFFER_LINES
        assert numbered == list(range(7500 - len(numbered) + 1, 7501))  # consecutive: none lost in the window
        assert len(screen.query_one(Log).lines) <= BUFFER_LINES


async def test_l_on_a_deployment_merges_its_pods_logs_by_pod_name(lab, tmp_path):
    pods = sorted(pod["metadata"]["name"] for pod in lab.kube.list("Pod", "default")
                  if pod["metadata"]["name"].startswith("nginx-"))
    assert len(pods) == 2
    app = lab_app(lab, tmp_path)
    async with app.run_test(size=(120, 36)) as pilot:
        await open_on(pilot, "6", "deployments", "default/nginx", "l")
        await until(pilot, lambda: isinstance(app.screen, LogScreen))
        screen: LogScreen = app.screen
        await until(pilot, lambda: {line.split()[0] for line in screen.buffer} == set(pods))
        for pod in pods:
            lab.kube.append_pod_log("default", pod, f"hello from {pod}")
        await until(pilot, lambda: {f"{pod} hello from {pod}" for pod in pods} <= set(screen.buffer))
        assert screen.title_text == "deploy/default/nginx"
