"""The panes' changes, by keyboard alone on the sim lab: each is a plan shown with Cancel focused,
applied by the engine (audited), and hidden and refused under --read-only. Scale and restart
change the pods the Pods pane shows; cordon shows SchedulingDisabled; drain empties the node;
kill asks twice, the second time for the pod's name."""

from __future__ import annotations

import json
import re

import pytest
from textual.widgets import Button, Input, Label, Static

from homelab_tui.ui.app import HomelabApp
from homelab_tui.ui.modals import ConfirmScreen, ScaleScreen, TypeToConfirmScreen
from tests.ui.test_app_live import cells, pod, until
from tests.ui.test_pane_actions import lab_app


def audited(tmp_path) -> list[tuple[str, str]]:
    path = tmp_path / "state" / "homelab-tui" / "audit.jsonl"
    if not path.exists():
        return []
    return [(record["outcome"], record["rendering"]) for record in map(json.loads, path.read_text().splitlines())]


def nginx_pods(app: HomelabApp, status: str = "Running") -> set[str]:
    """The nginx pods the Pods pane shows with `status`."""
    pane = app.table("pods")
    return {row.key.value for row in pane.ordered_rows
            if row.key.value.startswith("default/nginx-") and cells(app, "pods", row.key.value)[3] == status}


async def on_row(pilot, app: HomelabApp, pane_key: str, pane: str, key: str) -> None:
    """Show pane `pane` alone (its digit) and put the cursor on `key` by filtering to it (`/`)."""
    await pilot.press(pane_key)
    await until(pilot, lambda: key in app.table(pane).rows)
    await pilot.press("slash", *f"^{key.rpartition('/')[2]}$", "enter")
    await until(pilot, lambda: app.table(pane).cursor_key() == key and app.focused is app.table(pane))


async def confirm(pilot, app: HomelabApp, *shown: str) -> str:
    """The plan is shown with Cancel focused, and says `shown`; Tab, Enter applies it."""
    await until(pilot, lambda: isinstance(app.screen, ConfirmScreen))
    plan = str(app.screen.query_one("#confirm-plan", Static).render())
    assert all(text in plan for text in shown), plan
    assert isinstance(app.focused, Button) and app.focused.id == "cancel"
    await pilot.press("tab", "enter")
    await until(pilot, lambda: not isinstance(app.screen, ConfirmScreen))
    return plan


async def test_scale_is_prefilled_from_the_scale_subresource_and_the_pods_follow(lab, tmp_path):
    app = lab_app(lab, tmp_path)
    async with app.run_test(size=(140, 40)) as pilot:
        await both_nginx_pods_running(pilot, app)
        await on_row(pilot, app, "6", "deployments", "default/nginx")
        await pilot.press("s")
        await until(pilot, lambda: isinstance(app.screen, ScaleScreen))
        field = app.screen.query_one("#replicas", Input)
        assert field.value == "2"
        await pilot.press("backspace", "minus", "1", "enter")  # refused, the field named
        await until(pilot, lambda: "replicas: must be a whole number of 0 or more" in str(
            app.screen.query_one("#scale-error", Label).render()))
        assert isinstance(app.screen, ScaleScreen)
        await pilot.press("backspace", "backspace", "3", "enter")
        await confirm(pilot, app, "Scale Deployment default/nginx to 3 replicas (from 2)", "--subresource=scale")
        await pilot.press("2")
        await until(pilot, lambda: len(nginx_pods(app)) == 3)
    assert lab.kube.get("Deployment", "default", "nginx")["spec"]["replicas"] == 3
    assert audited(tmp_path) == [("applied", "kubectl patch deployment nginx -n default --subresource=scale "
                                             "--type=merge -p '{\"spec\":{\"replicas\":3}}' --field-manager=homelab-tui")]


async def both_nginx_pods_running(pilot, app: HomelabApp) -> set[str]:
    """The nginx deployment's two pods, once the Pods pane shows both Running."""
    await pilot.press("2")
    await until(pilot, lambda: len(nginx_pods(app)) == 2)
    return nginx_pods(app)


async def restarted(pilot, app: HomelabApp, before: set[str]) -> None:
    """The pods the pane showed are replaced by as many new ones, Running."""
    await pilot.press("2")
    await until(pilot, lambda: (after := nginx_pods(app)) and not after & before and len(after) == len(before),
                timeout=20)


async def test_rollout_restart_of_a_deployment_replaces_its_pods(lab, tmp_path):
    app = lab_app(lab, tmp_path)
    async with app.run_test(size=(140, 40)) as pilot:
        before = await both_nginx_pods_running(pilot, app)
        await on_row(pilot, app, "6", "deployments", "default/nginx")
        await pilot.press("r")
        await confirm(pilot, app, "Restart Deployment default/nginx", "kubectl.kubernetes.io/restartedAt",
                      "--field-manager=kubectl-rollout")
        await restarted(pilot, app, before)
    annotations = lab.kube.get("Deployment", "default", "nginx")["spec"]["template"]["metadata"]["annotations"]
    assert "kubectl.kubernetes.io/restartedAt" in annotations


async def test_restart_from_a_pod_row_restarts_the_deployment_that_runs_it(lab, tmp_path):
    app = lab_app(lab, tmp_path)
    async with app.run_test(size=(140, 40)) as pilot:
        before = await both_nginx_pods_running(pilot, app)
        one = sorted(before)[0]
        await on_row(pilot, app, "2", "pods", one)
        await pilot.press("r")
        await confirm(pilot, app, f"Restart Deployment default/nginx (it runs Pod {one.partition('/')[2]})")
        await pilot.press("escape")  # the filter named the old pod
        await restarted(pilot, app, before)


async def test_restart_of_a_bare_pod_is_refused_with_the_reason(lab, tmp_path):
    app = lab_app(lab, tmp_path)
    async with app.run_test(size=(140, 40)) as pilot:
        await on_row(pilot, app, "2", "pods", "default/debug")
        await pilot.press("r")
        await until(pilot, lambda: any("has no Deployment, StatefulSet or DaemonSet to restart" in n.message
                                       for n in app._notifications))
        assert not isinstance(app.screen, ConfirmScreen)
    assert audited(tmp_path) == []


async def test_kill_asks_for_the_pods_name_then_shows_the_plan(lab, tmp_path):
    app = lab_app(lab, tmp_path)
    async with app.run_test(size=(140, 40)) as pilot:
        await on_row(pilot, app, "2", "pods", "default/debug")
        await pilot.press("ctrl+k")
        await until(pilot, lambda: isinstance(app.screen, TypeToConfirmScreen))
        assert isinstance(app.focused, Button) and app.focused.id == "cancel"
        await pilot.press("enter")  # Enter alone cancels
        await until(pilot, lambda: not isinstance(app.screen, TypeToConfirmScreen))

        await pilot.press("ctrl+k")
        await until(pilot, lambda: isinstance(app.screen, TypeToConfirmScreen))
        await pilot.press("tab", *"debu", "enter")  # not its name: nothing happens
        assert isinstance(app.screen, TypeToConfirmScreen)
        assert app.screen.query_one("#apply", Button).disabled
        await pilot.press("g", "enter")
        await confirm(pilot, app, "Kill Pod default/debug at once",
                      "$ kubectl delete pod debug -n default --grace-period=0 --force")
        await until(pilot, lambda: "default/debug" not in app.table("pods").rows)
    assert lab.kube.get("Pod", "default", "debug") is None
    assert audited(tmp_path) == [("applied", "kubectl delete pod debug -n default --grace-period=0 --force")]


async def test_cordon_shows_scheduling_disabled_and_uncordon_clears_it(lab, tmp_path):
    app = lab_app(lab, tmp_path)
    node = "node2.kube.local"
    async with app.run_test(size=(140, 40)) as pilot:
        await on_row(pilot, app, "1", "nodes", node)
        await pilot.press("c")
        await confirm(pilot, app, f"$ kubectl cordon {node}")
        await until(pilot, lambda: cells(app, "nodes", node)[1] == "Ready,SchedulingDisabled")
        assert lab.kube.get("Node", "", node)["spec"]["unschedulable"] is True

        await pilot.press("c")  # already cordoned: nothing to apply
        await until(pilot, lambda: any(f"{node} is already cordoned" in n.message for n in app._notifications))
        assert not isinstance(app.screen, ConfirmScreen)

        await pilot.press("u")
        await confirm(pilot, app, f"$ kubectl uncordon {node}")
        await until(pilot, lambda: cells(app, "nodes", node)[1] == "Ready")
    assert [rendering for _, rendering in audited(tmp_path)] == [f"kubectl cordon {node}", f"kubectl uncordon {node}"]


def daemon_set(name: str) -> dict:
    labels = {"app": name}
    return {"apiVersion": "apps/v1", "kind": "DaemonSet", "metadata": {"name": name, "namespace": "kube-system"},
            "spec": {"selector": {"matchLabels": labels}, "template": {
                "metadata": {"labels": labels}, "spec": {"containers": [{"name": name, "image": "busybox"}]}}}}


async def test_drain_cordons_then_evicts_each_pod_but_a_daemonsets(lab, tmp_path):
    node = "node2.kube.local"
    lab.kube.create(daemon_set("agent"))
    app = lab_app(lab, tmp_path)

    def on_node() -> set[str]:
        return {key.value for key in app.table("pods").rows if cells(app, "pods", key.value)[5] == node}

    async with app.run_test(size=(140, 40)) as pilot:
        await pilot.press("2")
        await until(pilot, lambda: len(nginx_pods(app)) == 2 and any(
            key.startswith("kube-system/agent-") for key in on_node()))
        [agent] = {key for key in on_node() if key.startswith("kube-system/agent-")}
        await on_row(pilot, app, "1", "nodes", node)
        await pilot.press("r")
        plan = await confirm(pilot, app, f"$ kubectl cordon {node}", f"Leave Pod {agent} on the node",
                             "no-op: run by DaemonSet agent, which would start it again on this node")
        evicted = re.findall(r"Evict Pod (\S+)", plan)
        assert evicted and agent not in evicted
        await until(pilot, lambda: cells(app, "nodes", node)[1] == "Ready,SchedulingDisabled")
        await pilot.press("2")
        await until(pilot, lambda: on_node() == {agent}, timeout=20)
    [skipped] = [rendering for outcome, rendering in audited(tmp_path) if outcome == "skipped"]
    assert f"/pods/{agent.partition('/')[2]}/eviction" in skipped
    renderings = [rendering for outcome, rendering in audited(tmp_path) if outcome == "applied"]
    assert renderings[0] == f"kubectl cordon {node}", renderings
    assert [rendering.rpartition(" /api/v1/namespaces/")[2] for rendering in renderings[1:]] == [
        f"{key.replace('/', '/pods/')}/eviction -f -" for key in evicted], (renderings, plan)


# The changes of each pane, by key: hidden under --read-only, and nothing happens when pressed.
CHANGES = {"pods": ("2", "default/debug", {"ctrl+d": "delete", "ctrl+k": "kill", "r": "restart"}),
           "deployments": ("6", "default/nginx", {"ctrl+d": "delete", "s": "scale", "r": "restart"}),
           "nodes": ("1", "", {"ctrl+d": "delete", "c": "cordon", "u": "uncordon", "r": "drain"})}


@pytest.mark.parametrize("pane", CHANGES)
async def test_read_only_hides_and_blocks_every_change(lab, tmp_path, pane):
    app = lab_app(lab, tmp_path, read_only=True)
    digit, key, keys = CHANGES[pane]
    async with app.run_test(size=(140, 40)) as pilot:
        await pilot.press(digit)
        await until(pilot, lambda: app.table(pane).row_count > 0)
        if key:
            await on_row(pilot, app, digit, pane, key)
        hidden = set(keys.values())
        assert not hidden & {active.binding.action for active in app.screen.active_bindings.values()}
        for press in keys:
            await pilot.press(press)
            await pilot.pause(0.2)
            assert app.screen is app.screen_stack[0], f"{press} opened {app.screen}"
        assert not any("read-only" in n.message for n in app._notifications)
    assert audited(tmp_path) == []
    assert lab.kube.get("Pod", "default", "debug") is not None
    assert lab.kube.get("Deployment", "default", "nginx")["spec"]["replicas"] == 2
    assert not any(node.get("spec", {}).get("unschedulable") for node in lab.kube.list("Node"))
