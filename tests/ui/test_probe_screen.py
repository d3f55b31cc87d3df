"""The probe screen on the running sim lab: `p` on an exposed Service's row shows its hops in
order; a rule of ours disabled on the router fails the router-rules hop, with its fix under the
table, and `f` opens the repair plan on the Service, which enables it again; the palette probes
the row under the cursor or a Service picked; while it reads it says so, and a router that cannot
be read is said on the screen."""

from __future__ import annotations

import io
import re

from rich.console import Console
from textual.command import CommandPalette
from textual.widgets import Input, OptionList, Static

from homelab_tui.config import load_config
from homelab_tui.executors import build_executors
from homelab_tui.flows.expose import ExposeRequest, plan_expose
from homelab_tui.flows.staged import apply_staged
from homelab_tui.plans.verdicts.probe import HOPS
from homelab_tui.ui.app import HomelabApp
from homelab_tui.ui.modals import PickScreen
from homelab_tui.ui.probe import ProbeScreen
from homelab_tui.ui.wizards import WizardScreen
from tests.ui.test_app_live import until
from tests.ui.test_wizards import apply_confirmed, finished, plan_shown
from tests.ui.test_expose_wizard import lab  # noqa: F401  (the fixture: the running lab without its hand-made PCC)

DISABLED = "[homelab-tui default/nginx tcp/80 dstnat 2]"


async def exposed_app(lab, tmp_path) -> HomelabApp:  # noqa: F811
    """default/nginx exposed over node1 and node2 with a CNAME (the expose flow, applied), and the
    app on the lab."""
    config = load_config(lab.write_config(tmp_path / "lab.toml"))
    request = ExposeRequest(service="default/nginx", nodes=("node1", "node2"), host="nginx.example.org",
                            replace_dns_record=True)
    executors = build_executors(config)
    try:
        staged = await plan_expose(config, request, executors, lambda text: None)
        [(_, result)] = await apply_staged(staged, executors, lambda plan: lambda event: None)
    finally:
        await executors.close()
    assert result.ok, result.error
    return HomelabApp(config, clock=lambda: None)


def text_of(screen: ProbeScreen, name: str, width: int = 400) -> str:
    """What a part of the probe screen shows, as plain text (wide enough not to wrap)."""
    console = Console(file=io.StringIO(), width=width, record=True)
    console.print(screen.query_one(f"#probe-{name}", Static).content)
    return console.export_text()


def hop_rows(screen: ProbeScreen) -> list[tuple[str, str, str]]:
    """(hop, verdict, detail) of each row of the hop table, in order."""
    lines = text_of(screen, "hops").splitlines()
    assert lines[0].split() == ["HOP", "VERDICT", "DETAIL"], lines
    return [tuple(re.split(r"\s{2,}", line.strip(), maxsplit=2)) for line in lines[1:] if line.strip()]


def hops_read(screen) -> bool:
    return isinstance(screen, ProbeScreen) and "HOP" in text_of(screen, "hops")


async def probe_nginx_row(pilot) -> ProbeScreen:
    app = pilot.app
    await pilot.press("3")  # the Services pane
    await until(pilot, lambda: "default/nginx" in app.table("services").rows, timeout=10)
    while app.table("services").cursor_key() != "default/nginx":
        await pilot.press("j")
    await pilot.press("p")
    await until(pilot, lambda: hops_read(app.screen), timeout=20)
    return app.screen


async def test_p_shows_the_hops_then_a_disabled_rule_with_its_fix(lab, tmp_path):  # noqa: F811
    app = await exposed_app(lab, tmp_path)
    async with app.run_test(size=(150, 50)) as pilot:
        probe = await probe_nginx_row(pilot)
        hops = {hop: (verdict, detail) for hop, verdict, detail in hop_rows(probe)}
        assert list(hops)[:len(HOPS)] == list(HOPS)  # in order (a check of its own may follow them)
        assert hops["public name"][0] == "✓ PASS" and "nginx.example.org" in hops["public name"][1]
        assert "Cloudflare's proxy" in hops["public name"][1]
        assert hops["DDNS"][0] == "✓ PASS"
        assert hops["router rules"] == ("✓ PASS", "4 rules of ours, enabled, none shadowed; dst-nat counters (each "
                                        "counts a connection): [homelab-tui default/nginx tcp/80 dstnat 1] 0 connections, "
                                        f"{DISABLED} 0 connections")
        # the router's /tool/fetch and the nodes' curl reach the NodePort (the sim's kube-proxy)
        targets = hops["router to targets"]
        assert targets[0] == "✓ PASS" and "192.168.40.103:31681, 192.168.40.104:31681 answered" in targets[1]
        assert hops["node ports"] == ("✓ PASS", "node1:31681 HTTP 200; node2:31681 HTTP 200")
        assert hops["endpoints"][0] == hops["pods"][0] == "✓ PASS"
        assert text_of(probe, "fix").strip() == ""
        assert "hairpin test" in text_of(probe, "note")
        assert not probe.check_action("fix", ())  # nothing to fix: `f` is not offered

        router = lab.router
        rule = next(r for r in router.rules("/ip/firewall/nat") if r.get("comment") == DISABLED)
        router._set(router._menu("/ip/firewall/nat"), router._find("/ip/firewall/nat", rule[".id"]),
                    {"disabled": "true"})
        await pilot.press("r")
        await until(pilot, lambda: "✗ FAIL" in text_of(probe, "hops"), timeout=20)
        verdicts = [(hop, verdict) for hop, verdict, _ in hop_rows(probe)][:len(HOPS)]
        assert verdicts == [("public name", "✓ PASS"), ("DDNS", "✓ PASS"), ("router rules", "✗ FAIL"),
                            *((hop, "- SKIPPED") for hop in ("router to targets", "node ports", "endpoints", "pods"))]
        assert f"{DISABLED} is disabled" in hop_rows(probe)[2][2]
        fix = text_of(probe, "fix")
        assert "✗ router rules fails." in fix and f"enable {DISABLED}: homelab-tui repair --service default/nginx" in fix, fix
        assert "f opens the repair plan" in fix

        await pilot.press("f")
        await until(pilot, lambda: isinstance(app.screen, WizardScreen))
        assert app.screen.wizard.name == "repair"
        assert app.screen.query_one("#service", Input).value == "default/nginx"
        assert app.screen.query_one("#port", Input).value == "80"
        await pilot.press("f2")
        await until(pilot, lambda: "step(s) will change" in str(app.screen.query_one("#error").render()), timeout=20)
        assert f'/ip firewall nat set [find comment="{DISABLED}"] disabled=no' in plan_shown(app)
        await apply_confirmed(pilot)
        await until(pilot, lambda: finished(app.screen), timeout=30)
        await pilot.press("escape")  # back to the probe, which reads again: every hop it can check passes
        await until(pilot, lambda: app.screen is probe)
        await pilot.press("r")
        await until(pilot, lambda: "✗" not in text_of(probe, "hops") and "PASS" in text_of(probe, "hops"), timeout=20)
        assert [verdict for hop, verdict, _ in hop_rows(probe) if hop == "router rules"] == ["✓ PASS"]
        await pilot.press("escape")
        await until(pilot, lambda: app.screen is app.screen_stack[0])


async def test_the_palette_probes_the_row_or_a_picked_service_and_says_what_it_cannot_read(lab, tmp_path):  # noqa: F811
    app = await exposed_app(lab, tmp_path)
    async with app.run_test(size=(150, 50)) as pilot:
        await until(pilot, lambda: "default/nginx" in app.state.kube.of("Service"), timeout=10)
        await pilot.press("ctrl+p")  # from the Nodes pane: no Service under the cursor, so one is picked
        await until(pilot, lambda: isinstance(app.screen, CommandPalette))
        await pilot.press(*"Probe a Service", "enter")
        await until(pilot, lambda: isinstance(app.screen, PickScreen))
        picker = app.screen.query_one(OptionList)
        picker.highlighted = picker.get_option_index("default/nginx")
        await pilot.press("enter")
        await until(pilot, lambda: hops_read(app.screen), timeout=20)
        assert "default/nginx" in str(app.screen.query_one("#probe-title", Static).render())

        status = app.screen.query_one("#probe-status", Static)
        lab.router.faults.reply_delay = 0.2  # a slow router: the screen says it is reading, and shows no old hops
        await pilot.press("r")
        await until(pilot, lambda: "reading the router" in str(status.render()))
        assert text_of(app.screen, "hops").strip() == ""
        lab.router.faults.reply_delay = 0.0
        await until(pilot, lambda: hops_read(app.screen), timeout=20)

        await lab.router.stop()
        await pilot.press("r")
        await until(pilot, lambda: "cannot read the router" in str(status.render()), timeout=20)
        assert text_of(app.screen, "hops").strip() == ""  # no hop is claimed from what could not be read
        assert not app.screen.check_action("fix", ())
