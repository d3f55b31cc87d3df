"""Snapshots of the dashboard (at 100x30 and 200x60), of each pane (at 120x36) and of the log
view on the `running` lab, with ages hidden.

The lab runs on its own event loop in a thread (LabThread), because snap_compare runs the app
on a loop of its own; they talk over loopback sockets as they would in production. A `run_test` smoke test
in test_app_live.py sits beside these, so an app that crashed at start cannot pass as an SVG.
"""

from __future__ import annotations

import asyncio
from dataclasses import replace
from pathlib import Path

import pytest

from homelab_tui.cli import main
from homelab_tui.config import Config
from homelab_tui.ui.app import HomelabApp
from tests.conftest import LabThread
from tests.ui.test_app_live import until
from tests.ui.test_wizards import apply_confirmed, finished


@pytest.fixture(scope="module")
def lab_runner(tmp_path_factory) -> LabThread:
    runner = LabThread(tmp_path_factory.mktemp("snap"))
    with runner as config:
        runner.config = config
        yield runner


@pytest.fixture(scope="module")
def lab_config(lab_runner) -> Config:
    return lab_runner.config


def all_running(app: HomelabApp) -> bool:
    """Every pod Running and ready, every Deployment's replicas ready."""
    pods, deployments = app.table("pods"), app.table("deployments")
    ready = [str(cell) for key in pods.rows for cell in pods.get_row(key)[2:4]]
    return (pods.row_count >= 5 and deployments.row_count >= 4
            and all(status == "Running" for status in ready[1::2])
            and all(a == b for cell in ready[0::2] for a, b in [cell.split("/")])
            and all(str(deployments.get_row(key)[2]) == f"{deployments.get_row(key)[4]}/{deployments.get_row(key)[4]}"
                    for key in deployments.rows))


def settled(pane_key: str):
    """Wait until every pane has its data, then show `pane_key`'s pane."""

    async def run_before(pilot) -> None:
        app: HomelabApp = pilot.app
        async with asyncio.timeout(15):
            while not (app.table("nodes").row_count == 3 and all_running(app)
                       and app.table("nat").row_count == 5 and "nginx.example.org" in app.table("dns").rows
                       and "80→31681" in str(app.table("services").get_row("default/nginx")[6]
                                             if "default/nginx" in app.table("services").rows else "")):
                await pilot.pause(0.05)
        if pane_key:
            await pilot.press(pane_key)
        # DataTable widens its columns after the refresh that follows new rows: let that land.
        await pilot.pause(0.1)
        await pilot.pause()

    return run_before


@pytest.mark.parametrize("pane_key", ["1", "2", "3", "4", "5", "6"])
def test_pane_snapshot(snap_compare, lab_config, pane_key):
    app = HomelabApp(lab_config, clock=lambda: None)
    assert snap_compare(app, terminal_size=(120, 36), run_before=settled(pane_key))


@pytest.mark.parametrize("size", [(100, 30), (200, 60)])
def test_dashboard_snapshot(snap_compare, lab_config, size):
    app = HomelabApp(lab_config, clock=lambda: None)
    assert snap_compare(app, terminal_size=size, run_before=settled(""))


ACCESS_LOG = ('10.42.1.{client} - - [06/Dec/2026:21:{minute:02d}:{second:02d} +0000] "GET /api/items/{n} HTTP/1.1" '
              '{status} {size} "-" "curl/8.5.0"')


def test_log_view_snapshot(snap_compare, lab_runner):
    """An nginx pod's log followed (fixed lines after its start, so the tail is the same every run;
    one longer than the screen, cut, not wrapped)."""
    lab, loop = lab_runner.lab, lab_runner.loop
    pod = sorted(p["metadata"]["name"] for p in lab.kube.list("Pod", "default") if p["metadata"]["name"].startswith("nginx-"))[0]

    async def write() -> None:
        for n in range(1, 131):
            lab.kube.append_pod_log("default", pod, ACCESS_LOG.format(
                client=n % 7 + 2, minute=n // 60, second=n % 60, n=n, status=404 if n % 17 == 0 else 200, size=512 + n))
        lab.kube.append_pod_log("default", pod, "2026/12/06 21:02:11 [warn] 29#29: *131 an upstream response is "
                                "buffered to a temporary file /var/cache/nginx/proxy_temp/1/00/0000000001 while reading "
                                'upstream, client: 10.42.1.3, server: _, request: "GET /api/export HTTP/1.1"')

    asyncio.run_coroutine_threadsafe(write(), loop).result(10)

    async def run_before(pilot) -> None:
        from homelab_tui.ui.logs import LogScreen

        await settled("2")(pilot)
        pods = pilot.app.table("pods")
        pods.move_cursor(row=pods.get_row_index(f"default/{pod}"))
        await pilot.press("l")
        await until(pilot, lambda: isinstance(pilot.app.screen, LogScreen) and "[warn]" in (
            pilot.app.screen.buffer[-1] if pilot.app.screen.buffer else ""))
        await pilot.pause(0.2)

    assert snap_compare(HomelabApp(lab_runner.config, clock=lambda: None), terminal_size=(120, 36),
                        run_before=run_before)


@pytest.fixture(scope="module")
def fresh_lab_config(tmp_path_factory) -> Config:
    with LabThread(tmp_path_factory.mktemp("snap-fresh"), "fresh") as config:
        yield config


@pytest.fixture
def fresh_config(fresh_lab_config, monkeypatch) -> Config:
    """The fresh lab's config, its kubeconfig relative to the working directory: the screen names
    it (the header's "no kubeconfig", the plan's merge step), and must not show a pytest temp dir."""
    kubeconfig = Path(fresh_lab_config.cluster.kubeconfig)
    monkeypatch.chdir(kubeconfig.parent.parent)
    return replace(fresh_lab_config, path=None, cluster=replace(
        fresh_lab_config.cluster, kubeconfig=str(kubeconfig.relative_to(kubeconfig.parent.parent))))


def wizard(key: str, *, plan: bool):
    async def run_before(pilot) -> None:
        await pilot.press(key)
        await pilot.pause()
        if plan:
            await made_plan(pilot)
        await pilot.pause()

    return run_before


async def made_plan(pilot) -> None:
    await pilot.press("f2")
    await until(pilot, lambda: "step(s) will change" in str(pilot.app.screen.query_one("#error").render()), timeout=20)


def test_bootstrap_wizard_form_snapshot(snap_compare, fresh_config):
    assert snap_compare(HomelabApp(fresh_config, clock=lambda: None), terminal_size=(120, 36),
                        run_before=wizard("B", plan=False))


def test_bootstrap_wizard_plan_snapshot(snap_compare, fresh_config):
    assert snap_compare(HomelabApp(fresh_config, clock=lambda: None), terminal_size=(120, 36),
                        run_before=wizard("B", plan=True))


def test_join_wizard_form_snapshot(snap_compare, fresh_config):
    assert snap_compare(HomelabApp(fresh_config, clock=lambda: None), terminal_size=(120, 36),
                        run_before=wizard("J", plan=False))


def test_host_key_modal_snapshot(snap_compare, fresh_config):
    from homelab_tui.ui.modals import TrustHostKeyScreen

    async def run_before(pilot) -> None:
        pilot.app.push_screen(TrustHostKeyScreen("node1", "SHA256:NcvgeazISUgGJIj5fs/VpjWzz5hrcPQgfA/68nUOHPg"))
        await pilot.pause()

    assert snap_compare(HomelabApp(fresh_config, clock=lambda: None), terminal_size=(120, 36), run_before=run_before)


@pytest.fixture
def bootstrapped(tmp_path, monkeypatch):
    """A fresh lab with master1 bootstrapped by the CLI twin: (config, lab)."""
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))  # the audit log of the applies
    runner = LabThread(tmp_path, "fresh")
    with runner as config:
        assert main(["--config", str(config.path), "bootstrap", "--node", "master1", "--yes"]) == 0
        yield config, runner.lab


def test_join_wizard_plan_snapshot(snap_compare, bootstrapped):
    config, _lab = bootstrapped
    assert snap_compare(HomelabApp(config, clock=lambda: None), terminal_size=(120, 36),
                        run_before=wizard("J", plan=True))


def test_join_result_with_a_failed_node_snapshot(snap_compare, bootstrapped):
    config, lab = bootstrapped

    async def run_before(pilot) -> None:
        await pilot.press("J")
        await pilot.pause()
        await made_plan(pilot)
        lab.fleet["node2.kube.local"].state.internet = False  # curl get.k3s.io fails there
        await apply_confirmed(pilot)
        await until(pilot, lambda: finished(pilot.app.screen), timeout=30)  # every row says how it ended
        await pilot.pause()

    assert snap_compare(HomelabApp(config, clock=lambda: None), terminal_size=(120, 36), run_before=run_before)
