"""Snapshots of the deploy wizard on the `running` lab: its form, the plan of a change to a live
app (the server's dry run as a short diff above each manifest), and the apply with its rollout."""

from __future__ import annotations

import pytest

from homelab_tui.cli import main
from homelab_tui.config import Config
from homelab_tui.ui.app import HomelabApp
from tests.conftest import LabThread
from tests.ui.test_app_live import until
from tests.ui.test_wizards import apply_confirmed, finished

SIZE = (120, 40)


@pytest.fixture(scope="module")
def deployed_lab(tmp_path_factory) -> Config:
    """The running lab with `web` deployed (one replica) by the CLI twin."""
    workdir = tmp_path_factory.mktemp("snap-deploy")
    with LabThread(workdir) as config:
        assert main(["deploy", "--name", "web", "--image", "nginx:1.27", "--config", str(workdir / "lab.toml"),
                     "--yes"]) == 0
        yield config


def deploy_form(*answers: str, plan: bool = False, apply: bool = False):
    """The deploy wizard with `answers` typed from its first field on; then F2, then F3."""

    async def run_before(pilot) -> None:
        await pilot.press("D")
        await until(pilot, lambda: pilot.app.screen.focused is not None)
        await pilot.press(*answers)
        if plan or apply:
            await pilot.press("f2")
            await until(pilot, lambda: "step(s) will change" in str(pilot.app.screen.query_one("#error").render()),
                        timeout=20)
        if apply:
            await apply_confirmed(pilot)
            await until(pilot, lambda: finished(pilot.app.screen), timeout=30)
        pilot.app.screen.set_focus(None)  # a focused Input's cursor blinks: not in a snapshot
        await pilot.pause()

    return run_before


# name, image, then container port, expose and namespace kept, replicas 3
CHANGE_REPLICAS = (*"web", "tab", *"nginx:1.27", "tab", "tab", "tab", "tab", "backspace", "3")


def test_deploy_form_snapshot(snap_compare, deployed_lab):
    assert snap_compare(HomelabApp(deployed_lab, clock=lambda: None), terminal_size=SIZE,
                        run_before=deploy_form(*"web", "tab", *"nginx:1.27"))


def test_deploy_plan_with_diff_snapshot(snap_compare, deployed_lab):
    assert snap_compare(HomelabApp(deployed_lab, clock=lambda: None), terminal_size=SIZE,
                        run_before=deploy_form(*CHANGE_REPLICAS, plan=True))


def test_deploy_rollout_snapshot(snap_compare, deployed_lab):
    assert snap_compare(HomelabApp(deployed_lab, clock=lambda: None), terminal_size=SIZE,
                        run_before=deploy_form(*(answer if answer != "3" else "2" for answer in CHANGE_REPLICAS),
                                               apply=True))
