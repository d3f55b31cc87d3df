"""Pilot tests: change the sim lab, and the panes show it."""

from __future__ import annotations

import asyncio

import librouteros
import pytest

from textual.widgets import Static

from homelab_tui.config import load_config
from homelab_tui.models import EventType
from homelab_tui.sim.lab import Lab
from homelab_tui.ui import rows
from homelab_tui.ui.app import HomelabApp
from homelab_tui.ui.modals import DetailScreen, NamespaceScreen


async def until(pilot, predicate, timeout: float = 10.0) -> None:
    async with asyncio.timeout(timeout):
        while not predicate():
            await pilot.pause(0.05)


def cells(app: HomelabApp, pane: str, key: str) -> list[str]:
    return [str(cell) for cell in app.table(pane).get_row(key)]


def shown_keys(app: HomelabApp, pane: str) -> list[str]:
    """Row keys in the order the table shows them."""
    return [row.key.value for row in app.table(pane).ordered_rows]


def header(app: HomelabApp) -> str:
    return str(app.query_one("#status", Static).render())


def pod(name: str, namespace: str = "default") -> dict:
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name, "namespace": namespace},
            "spec": {"containers": [{"name": "c", "image": "busybox"}]}}


def router_api(lab: Lab, *words: str, **fields: str) -> list[dict]:
    """Run one RouterOS command through librouteros, as WinBox or a script would."""
    api = librouteros.connect("127.0.0.1", "admin", lab.router_password, port=lab.router.port)
    try:
        return list(api.path(*words[:-1])(words[-1], **fields))
    finally:
        api.close()


@pytest.fixture
async def lab(tmp_path):
    async with Lab("running", tmp_path / "lab") as lab:
        yield lab


@pytest.fixture
def app(lab, tmp_path) -> HomelabApp:
    config = load_config(lab.write_config(tmp_path / "lab.toml"))
    config.ui.refresh_seconds = 0.2
    return HomelabApp(config, clock=lambda: None)


async def test_nodes_and_pods_follow_the_api(lab, app):
    async with app.run_test(size=(140, 36)) as pilot:
        await until(pilot, lambda: app.table("nodes").row_count == 3)
        assert cells(app, "nodes", "master1.kube.local")[:5] == [
            "master1.kube.local", "Ready", "control-plane,master", "v1.31.4+k3s1", "192.168.40.102"]
        lab.kube.create({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "debug", "namespace": "default"},
                         "spec": {"containers": [{"name": "sh", "image": "busybox"}]}})
        await until(pilot, lambda: "default/debug" in app.table("pods").rows)
        lab.kube.delete("Pod", "default", "debug")
        await until(pilot, lambda: "default/debug" not in app.table("pods").rows)
        lab.kube.set_node_ready("node2.kube.local", False)
        await until(pilot, lambda: cells(app, "nodes", "node2.kube.local")[1] == "NotReady")
        assert app.table("pods").row_count == len(lab.kube.list("Pod"))


async def test_services_show_the_router_exposure_and_nat_follows_librouteros(lab, app):
    async with app.run_test(size=(160, 36)) as pilot:
        await until(pilot, lambda: "default/nginx" in app.table("services").rows
                    and cells(app, "services", "default/nginx")[6] != "")
        assert cells(app, "services", "default/nginx")[5] == "80:31681/TCP"
        assert cells(app, "services", "default/nginx")[6] == "80→31681 (PCC ×2)"

        def add_rule() -> None:
            api = librouteros.connect("127.0.0.1", "admin", lab.router_password, port=lab.router.port)
            try:
                tuple(api.path("ip", "firewall", "nat")("add", **{
                    "chain": "dstnat", "action": "dst-nat", "protocol": "tcp", "dst-port": "2222",
                    "in-interface": "all-ppp", "to-addresses": "192.168.40.102", "to-ports": "22",
                    "comment": "ssh to master"}))
            finally:
                api.close()

        await asyncio.to_thread(add_rule)
        await until(pilot, lambda: any("ssh to master" in str(row[-1]) for row in
                                       (app.table("nat").get_row(key) for key in app.table("nat").rows)))


async def test_ddns_off_turns_the_dns_row_red(lab, app):
    async with app.run_test(size=(140, 36)) as pilot:
        ddns = "529c0491d41c.sn.mynetname.net"
        await until(pilot, lambda: ddns in app.table("dns").rows and cells(app, "dns", ddns)[1] == "OK")
        assert cells(app, "dns", "example.org")[1:] == ["OK", f"CNAME → {ddns}", f"CNAME → {ddns} (proxied)"]
        lab.router.set_ddns(False)
        await until(pilot, lambda: "(router DDNS)" in app.table("dns").rows)
        assert cells(app, "dns", "(router DDNS)")[1:] == ["MISMATCH", "ddns-enabled=yes", "DDNS is off"]
        assert app.table("dns").get_row("(router DDNS)")[1].style == f"bold {app.current_theme.error}"
        assert ddns not in app.table("dns").rows


async def test_router_down_is_reported_and_recovers(lab, app):
    async with app.run_test(size=(140, 36)) as pilot:
        await until(pilot, lambda: app.table("nat").row_count > 0)
        rows_before = app.table("nat").row_count
        await lab.router.stop()
        await until(pilot, lambda: app.state.components.get("router").health.value == "retrying")
        assert app.table("nat").row_count == rows_before  # last data kept
        await lab.router.start()
        await until(pilot, lambda: app.state.components.get("router").health.value == "connected")


async def test_slash_filters_by_regex_and_escape_clears(lab, app):
    async with app.run_test(size=(140, 36)) as pilot:
        await until(pilot, lambda: app.table("pods").row_count == 5)
        await pilot.press("2", "slash")
        await pilot.press(*"^nginx-", "enter")
        await until(pilot, lambda: app.table("pods").row_count == 2)
        assert all(key.value.startswith("default/nginx-") for key in app.table("pods").rows)
        # live updates respect the filter: a new non-matching pod stays hidden, a matching one shows
        for name in ("debug", "nginx-extra"):
            lab.kube.create({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name, "namespace": "default"},
                             "spec": {"containers": [{"name": "c", "image": "busybox"}]}})
        await until(pilot, lambda: "default/nginx-extra" in app.table("pods").rows)
        assert "default/debug" not in app.table("pods").rows
        await pilot.press("slash", *"([", "enter")  # not a regex: the filter stays as it was
        assert app.table("pods").row_count == 3
        await pilot.press("escape", "escape")
        await until(pilot, lambda: app.table("pods").row_count == 7)


async def test_kubernetes_api_restart_marks_panes_stale_then_recovers(lab, app):
    async with app.run_test(size=(140, 36)) as pilot:
        await until(pilot, lambda: app.table("pods").row_count == 5)
        await lab.kube.stop()
        await until(pilot, lambda: app.state.components.get("kubernetes").health.value == "retrying")
        assert app.table("pods").has_class("stale") and app.table("pods").row_count == 5  # last data kept
        assert not app.table("nat").has_class("stale")  # the router is unaffected
        lab.kube.create({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "while-down", "namespace": "default"},
                         "spec": {"containers": [{"name": "c", "image": "busybox"}]}})
        await lab.kube.start()
        await until(pilot, lambda: "default/while-down" in app.table("pods").rows, timeout=20)
        await until(pilot, lambda: not app.table("pods").has_class("stale"))
        assert app.table("pods").row_count == len(lab.kube.list("Pod"))  # re-listed, no duplicates


async def test_dashboard_shows_every_pane_and_number_keys_show_one(lab, app):
    async with app.run_test(size=(100, 30)) as pilot:
        await until(pilot, lambda: app.table("nodes").row_count == 3)
        panes = ("nodes", "pods", "services", "nat", "dns")
        assert all(app.table(pane).display for pane in panes)
        await pilot.press("2")
        assert [pane for pane in panes if app.table(pane).display] == ["pods"]
        assert app.focused is app.table("pods")
        await pilot.press("0")
        assert all(app.table(pane).display for pane in panes)
        assert app.focused is app.table("pods")  # the dashboard keeps the pane you were on


async def test_header_shows_context_router_and_each_node(lab, app):
    async with app.run_test(size=(140, 36)) as pilot:
        await until(pilot, lambda: "router hex-gw" in header(app) and "node2" in header(app))
        assert "context homelab" in header(app)
        assert "node2 NotReady" not in header(app)
        lab.kube.set_node_ready("node2.kube.local", False)
        await until(pilot, lambda: "node2 NotReady" in header(app)
                    and cells(app, "nodes", "node2.kube.local")[1] == "NotReady")
        assert app.table("nodes").get_row("node2.kube.local")[1].style == f"bold {app.current_theme.error}"


async def test_namespace_key_switches_pods_and_services(lab, app):
    async with app.run_test(size=(140, 36)) as pilot:
        await until(pilot, lambda: app.table("pods").row_count == 5)
        await pilot.press("n")
        await until(pilot, lambda: isinstance(app.screen, NamespaceScreen))
        # the cluster's namespaces, those without pods or services too
        assert app.screen.namespaces == ["default", "kube-node-lease", "kube-public", "kube-system"]
        await pilot.press("end", "enter")  # all, default, kube-node-lease, kube-public, kube-system
        await until(pilot, lambda: app.namespace == "kube-system")
        assert {key.split("/")[0] for key in shown_keys(app, "pods")} == {"kube-system"}
        assert app.table("pods").row_count == 3 and app.table("services").row_count == 0
        assert "namespace kube-system" in header(app)
        lab.kube.create(pod("other"))  # another namespace's new pod stays hidden
        lab.kube.create(pod("tool", "kube-system"))
        await until(pilot, lambda: "kube-system/tool" in app.table("pods").rows)
        assert "default/other" not in app.table("pods").rows
        await pilot.press("n")
        await until(pilot, lambda: isinstance(app.screen, NamespaceScreen))
        await pilot.press("home", "enter")  # all namespaces
        await until(pilot, lambda: app.table("pods").row_count == 7)
        assert app.table("services").row_count == 2


async def test_sort_by_any_column_survives_live_updates(lab, app):
    async with app.run_test(size=(140, 36)) as pilot:
        await until(pilot, lambda: app.table("pods").row_count == 5)
        await pilot.press("2", "N")  # k9s's shift+n: by NAME
        assert app.table("pods").sorting == ("NAME", False)
        names = [key.split("/")[1] for key in shown_keys(app, "pods")]
        assert names == sorted(names)
        await pilot.press("N")  # again: reversed
        assert [key.split("/")[1] for key in shown_keys(app, "pods")] == sorted(names, reverse=True)
        lab.kube.create(pod("zzz-last", "kube-system"))
        await until(pilot, lambda: "kube-system/zzz-last" in app.table("pods").rows)
        assert shown_keys(app, "pods")[0] == "kube-system/zzz-last"
        # numbers sort as numbers: the NAT position column, 10 after 9
        await pilot.press("4")
        for port in range(8000, 8008):
            await asyncio.to_thread(router_api, lab, "ip", "firewall", "nat", "add", chain="dstnat",
                                    action="dst-nat", protocol="tcp", **{"dst-port": str(port)},
                                    **{"to-addresses": "192.168.40.102", "to-ports": "22"})
        await until(pilot, lambda: app.table("nat").row_count == 13)
        assert [cells(app, "nat", key)[0] for key in shown_keys(app, "nat")] == [str(i) for i in range(13)]


async def test_enter_opens_the_object_yaml_and_router_rule_fields(lab, app):
    async with app.run_test(size=(140, 36)) as pilot:
        await until(pilot, lambda: app.table("pods").row_count == 5 and app.table("nat").row_count == 5)
        await pilot.press("2", "enter")
        await until(pilot, lambda: isinstance(app.screen, DetailScreen))
        first = shown_keys(app, "pods")[0]
        assert app.screen.title_text == f"Pod {first}"
        assert "kind: Pod" in app.screen.yaml_text and f"name: {first.split('/')[1]}" in app.screen.yaml_text
        assert "managedFields" not in app.screen.yaml_text
        # fetched on Enter: the panes keep no raw objects, the detail has the whole one
        assert app.state.kube.of("Pod")[first].raw == {} and "containers:" in app.screen.yaml_text
        await pilot.press("escape")
        await until(pilot, lambda: not isinstance(app.screen, DetailScreen))
        await pilot.press("4", "down", "down", "down", "enter")  # position 3: our dst-nat to node 1
        await until(pilot, lambda: isinstance(app.screen, DetailScreen))
        assert app.screen.title_text.startswith("/ip firewall nat *")
        for line in ("chain: dstnat", "to-addresses: 192.168.40.103", "to-ports: '31681'", "[homelab-tui default/nginx"):
            assert line in app.screen.yaml_text, app.screen.yaml_text


async def test_nat_marks_our_rules_and_dims_disabled_ones(lab, app):
    async with app.run_test(size=(260, 36)) as pilot:
        await until(pilot, lambda: app.table("nat").row_count == 5)
        await asyncio.to_thread(router_api, lab, "ip", "firewall", "nat", "add", chain="dstnat", action="dst-nat",
                                protocol="tcp", comment="[b]game[/b] server [minecraft]",
                                **{"dst-port": "25566", "to-addresses": "192.168.40.104", "to-ports": "25565"})
        await until(pilot, lambda: app.table("nat").row_count == 6)
        await pilot.press("4")
        await pilot.pause(0.1)
        # comments are shown as written, brackets and all, never read as markup
        screen = app.export_screenshot()
        assert "[homelab-tui&#160;default/nginx&#160;tcp/80]" in screen
        assert "[b]game[/b]&#160;server&#160;[minecraft]" in screen
        by_comment = {cells(app, "nat", key)[-1]: key for key in app.table("nat").rows}
        ours = by_comment["Load balancer. Service nginx. DST NAT to kube node 1 [homelab-tui default/nginx tcp/80]"]
        assert cells(app, "nat", ours)[1] == rows.OURS
        assert cells(app, "nat", by_comment["defconf: masquerade"])[1] == ""
        await asyncio.to_thread(router_api, lab, "ip", "firewall", "nat", "add", chain="dstnat", action="dst-nat",
                                protocol="tcp", disabled="yes", comment="old game server",
                                **{"dst-port": "25565", "to-addresses": "192.168.40.104", "to-ports": "25565"})
        await until(pilot, lambda: app.table("nat").row_count == 7)
        disabled = next(key for key in app.table("nat").rows if cells(app, "nat", key)[-1] == "old game server")
        assert all(cell.style == "dim" for cell in app.table("nat").get_row(disabled))
        assert app.table("nat").get_row(ours)[2].style != "dim"


async def test_forced_410_relists_without_duplicate_rows(lab, app):
    relists = []
    apply = app.state.kube.apply

    def counting_apply(event):
        if event.type is EventType.RELISTED and event.kind == "Pod":
            relists.append(event)
        return apply(event)

    app.state.kube.apply = counting_apply
    async with app.run_test(size=(140, 36)) as pilot:
        await until(pilot, lambda: app.table("pods").row_count == 5 and len(relists) == 1)
        lab.kube.force_compact()  # every open watch gets 410 Gone
        gone = shown_keys(app, "pods")[0]
        lab.kube.delete("Pod", *gone.split("/"))
        lab.kube.create(pod("after-compaction"))
        await until(pilot, lambda: len(relists) >= 2 and "default/after-compaction" in app.table("pods").rows)
        await until(pilot, lambda: gone not in app.table("pods").rows)
        api = {f"{p['metadata']['namespace']}/{p['metadata']['name']}" for p in lab.kube.list("Pod")}
        assert sorted(shown_keys(app, "pods")) == sorted(api)  # each once, none lost


async def test_dropped_router_connection_recovers(lab, app):
    async with app.run_test(size=(140, 36)) as pilot:
        await until(pilot, lambda: app.table("nat").row_count == 5
                    and app.state.components.get("router").health.value == "connected")
        assert lab.router.drop_connections() >= 1
        await asyncio.to_thread(router_api, lab, "ip", "firewall", "nat", "add", chain="dstnat", action="dst-nat",
                                protocol="tcp", comment="after the drop",
                                **{"dst-port": "8443", "to-addresses": "192.168.40.102", "to-ports": "443"})
        await until(pilot, lambda: any(cells(app, "nat", key)[-1] == "after the drop" for key in app.table("nat").rows))
        assert app.state.components.get("router").health.value == "connected"
        assert not app.table("nat").has_class("stale")


async def test_cursor_stays_on_its_row_through_live_updates(lab, app):
    async with app.run_test(size=(140, 36)) as pilot:
        await until(pilot, lambda: app.table("pods").row_count == 5)
        table = app.table("pods")
        await pilot.press("2", "down", "down")
        chosen = shown_keys(app, "pods")[2]
        lab.kube.create(pod("aaa-sorts-first"))  # lands above the cursor
        await until(pilot, lambda: "default/aaa-sorts-first" in table.rows)
        assert shown_keys(app, "pods")[table.cursor_row] == chosen
        lab.kube.delete("Pod", "default", "aaa-sorts-first")
        await until(pilot, lambda: "default/aaa-sorts-first" not in table.rows)
        assert shown_keys(app, "pods")[table.cursor_row] == chosen
