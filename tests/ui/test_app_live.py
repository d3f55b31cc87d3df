"""Pilot tests: change the sim lab, and the panes show it."""

from __future__ import annotations

import asyncio

import librouteros
import pytest

from homelab_tui.config import load_config
from homelab_tui.sim.lab import Lab
from homelab_tui.ui.app import HomelabApp


async def until(pilot, predicate, timeout: float = 10.0) -> None:
    async with asyncio.timeout(timeout):
        while not predicate():
            await pilot.pause(0.05)


def cells(app: HomelabApp, pane: str, key: str) -> list[str]:
    return [str(cell) for cell in app.table(pane).get_row(key)]


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
        await until(pilot, lambda: ddns in app.table("dns").rows and cells(app, "dns", ddns)[3] == "OK")
        assert cells(app, "dns", "example.org")[2:] == [f"CNAME → {ddns} (proxied)", "OK"]
        lab.router.set_ddns(False)
        await until(pilot, lambda: "(router DDNS)" in app.table("dns").rows)
        assert cells(app, "dns", "(router DDNS)")[2:] == ["DDNS is off", "MISMATCH"]
        assert ddns not in app.table("dns").rows


async def test_router_down_is_reported_and_recovers(lab, app):
    async with app.run_test(size=(140, 36)) as pilot:
        await until(pilot, lambda: app.table("nat").row_count > 0)
        rows_before = app.table("nat").row_count
        await lab.router.stop()
        await until(pilot, lambda: app.components.get("router").health.value == "retrying")
        assert app.table("nat").row_count == rows_before  # last data kept
        await lab.router.start()
        await until(pilot, lambda: app.components.get("router").health.value == "connected")


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
        await until(pilot, lambda: app.components.get("kubernetes").health.value == "retrying")
        assert app.table("pods").has_class("stale") and app.table("pods").row_count == 5  # last data kept
        assert not app.table("nat").has_class("stale")  # the router is unaffected
        lab.kube.create({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "while-down", "namespace": "default"},
                         "spec": {"containers": [{"name": "c", "image": "busybox"}]}})
        await lab.kube.start()
        await until(pilot, lambda: "default/while-down" in app.table("pods").rows, timeout=20)
        await until(pilot, lambda: not app.table("pods").has_class("stale"))
        assert app.table("pods").row_count == len(lab.kube.list("Pod"))  # re-listed, no duplicates
