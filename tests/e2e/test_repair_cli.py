"""Drift and stale PCC through the CLI twins on the simulated lab: an exposure records what was
asked on its Service; a hand edit on the router and a disabled rule are put back by `repair`; a
node NotReady past `[router] rebalance_after_seconds` is rebalanced away and back when Ready
again; a released rule keeps its fields and loses our marker; unexpose forgets the record."""

from __future__ import annotations

import asyncio
import json

from homelab_tui.config import load_config
from homelab_tui.executors import build_executors
from homelab_tui.facts.exposures import exposure_inputs
from homelab_tui.flows.release import plan_release
from homelab_tui.flows.staged import apply_staged
from homelab_tui.plans import Staged
from homelab_tui.plans.repair import exposure_status
from homelab_tui.plans.routeros import MARKER_PREFIX
from tests.e2e.test_expose_cli import EXPOSE, MENUS, cli, lab, router_state  # noqa: F401 (the fixture)

NAT, MANGLE = MENUS[:2]
DSTNAT_2 = "[homelab-tui default/nginx tcp/80 dstnat 2]"


def edit(lab, menu: str, comment: str, **changes: str) -> None:
    """A hand edit, as in WinBox."""
    router = lab.lab.router
    rule = next(r for r in router.rules(menu) if r.get("comment") == comment)
    router._set(router._menu(menu), router._find(menu, rule[".id"]), changes)


def rule(lab, menu: str, comment: str) -> dict[str, str]:
    return next(r for r in lab.lab.router.rules(menu) if r.get("comment") == comment)


def in_lab(lab, function, *args):
    """Call the sim from the test, on the lab's loop (its watchers hear of it)."""
    async def call():
        function(*args)
    asyncio.run_coroutine_threadsafe(call(), lab.loop).result(10)


def statuses(lab):
    config = load_config(lab.config_path)

    async def read():
        return [exposure_status(answers, facts) for answers, facts in await exposure_inputs(config)]
    return asyncio.run(read())


def record(lab) -> dict[str, str]:
    annotations = lab.lab.kube.get("Service", "default", "nginx")["metadata"].get("annotations") or {}
    return {k: v for k, v in annotations.items() if k.startswith("homelab-tui/")}


def test_repair_puts_back_a_hand_edit_and_a_disabled_rule(lab, capsys):
    code, out = cli(lab, capsys, *EXPOSE, "--replace-dns-record", "--yes")
    assert code == 0, out
    assert json.loads(record(lab)["homelab-tui/expose-tcp-80"])["nodes"] == ["node1", "node2"]
    exposed = router_state(lab)
    [status] = statuses(lab)
    assert status.summary == "ok" and not status.needs_repair

    edit(lab, NAT, DSTNAT_2, **{"to-ports": "8080"})
    edit(lab, MANGLE, "[homelab-tui default/nginx tcp/80 pcc 1]", disabled="true")  # as print shows it
    [status] = statuses(lab)
    assert status.summary == "drift: 1 disabled, 1 changed", status
    assert status.drifted[DSTNAT_2].fields == (("to-ports", "31681", "8080"),)

    code, out = cli(lab, capsys, "repair", "--service", "default/nginx", "--dry-run")
    assert code == 0 and "drift: [homelab-tui default/nginx tcp/80 dstnat 2]: to-ports is 8080, ours 31681" in out, out
    assert rule(lab, NAT, DSTNAT_2)["to-ports"] == "8080"  # a dry run changes nothing
    code, out = cli(lab, capsys, "repair", "--service", "default/nginx", "--yes")
    assert code == 0, out
    assert router_state(lab) == exposed
    code, out = cli(lab, capsys, "repair", "--service", "default/nginx", "--yes")
    assert code == 0 and "nothing to do: every step is a no-op" in out, out


def test_a_node_not_ready_is_rebalanced_away_then_back(lab, capsys):
    path = lab.config_path
    path.write_text(path.read_text().replace("[router]\n", "[router]\nrebalance_after_seconds = 0\n", 1))
    code, out = cli(lab, capsys, *EXPOSE, "--replace-dns-record", "--yes")
    assert code == 0, out
    node2 = next(n["metadata"]["name"] for n in lab.lab.kube.list("Node") if n["metadata"]["name"].startswith("node2"))

    in_lab(lab, lab.lab.kube.set_node_ready, node2, False)
    [status] = statuses(lab)
    assert status.summary == "PCC stale (node2 NotReady)", status
    code, out = cli(lab, capsys, "repair", "--service", "default/nginx", "--yes")
    assert code == 0, out
    forwarding = [r for r in lab.lab.router.rules(NAT) if r.get("comment", "").startswith(MARKER_PREFIX)]
    assert [(r["comment"], r["to-addresses"]) for r in forwarding] == [
        ("[homelab-tui default/nginx tcp/80 dstnat]", "192.168.40.103")], out
    assert not [r for r in lab.lab.router.rules(MANGLE) if r.get("comment", "").startswith(MARKER_PREFIX)]

    in_lab(lab, lab.lab.kube.set_node_ready, node2, True)
    [status] = statuses(lab)
    assert status.summary == "PCC stale (node2 is Ready again)", status
    code, out = cli(lab, capsys, "repair", "--service", "default/nginx", "--yes")
    assert code == 0, out
    assert rule(lab, NAT, DSTNAT_2)["to-addresses"] == "192.168.40.104"
    assert rule(lab, MANGLE, "[homelab-tui default/nginx tcp/80 pcc 2]")["per-connection-classifier"] == \
        "src-address-and-port:2/1"


def test_release_drops_only_the_marker_and_unexpose_forgets_the_record(lab, capsys):
    code, out = cli(lab, capsys, *EXPOSE, "--replace-dns-record", "--yes")
    assert code == 0, out
    before = rule(lab, NAT, DSTNAT_2)
    config = load_config(lab.config_path)

    async def release():
        executors = build_executors(config)
        try:
            plan = await plan_release(config, NAT, DSTNAT_2)
            [(_, result)] = await apply_staged(Staged((plan,)), executors, lambda plan: lambda event: None)
            return result
        finally:
            await executors.close()
    assert asyncio.run(release()).ok
    released = next(r for r in lab.lab.router.rules(NAT) if r[".id"] == before[".id"])
    assert released["comment"] == "released from homelab-tui: default/nginx tcp/80 dstnat 2"
    assert {k: v for k, v in released.items() if k != "comment"} == {k: v for k, v in before.items() if k != "comment"}
    [status] = statuses(lab)  # the released rule is the user's: not missing, and never made again
    assert status.summary == "ok" and status.released == (DSTNAT_2,), status
    code, out = cli(lab, capsys, "repair", "--service", "default/nginx", "--yes")
    assert code == 0 and "nothing to do" in out, out

    code, out = cli(lab, capsys, "unexpose", "--service", "default/nginx", "--yes")
    assert code == 0, out
    assert record(lab) == {}
    assert any(r[".id"] == before[".id"] for r in lab.lab.router.rules(NAT))  # the released rule is the user's


def test_a_paused_exposure_is_left_alone_until_exposed_again(lab, capsys):
    code, out = cli(lab, capsys, *EXPOSE, "--replace-dns-record", "--yes")
    assert code == 0, out
    code, out = cli(lab, capsys, "unexpose", "--service", "default/nginx", "--disable-only", "--yes")
    assert code == 0, out
    assert json.loads(record(lab)["homelab-tui/expose-tcp-80"])["paused"] is True
    [status] = statuses(lab)
    assert status.summary == "paused" and not status.needs_repair, status
    code, out = cli(lab, capsys, "repair", "--service", "default/nginx", "--yes")
    assert code == 2 and "paused" in out and "expose it again" in out, out
    assert all(rule(lab, NAT, DSTNAT_2)[k] == "true" for k in ("disabled",))  # still paused

    code, out = cli(lab, capsys, *EXPOSE, "--yes")  # resumes: enabled again, and the record no longer paused
    assert code == 0, out
    assert rule(lab, NAT, DSTNAT_2)["disabled"] == "false"
    assert "paused" not in json.loads(record(lab)["homelab-tui/expose-tcp-80"])
    assert statuses(lab)[0].summary == "ok"
