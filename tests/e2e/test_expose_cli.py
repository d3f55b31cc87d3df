"""Expose and unexpose through the CLI twins on the simulated lab: seed 02's PCC made by a plan,
found again as all no-ops, removed leaving the router and the zone as they were; and a plan that
fails on the router (a refused add, a connection cut mid-plan) leaves none of our rules."""

from __future__ import annotations

import asyncio
import ipaddress
import re
import subprocess

import pytest

from homelab_tui.cli import main
from homelab_tui.clients.cloudflare import CloudflareClient, bundled_ip_ranges
from homelab_tui.plans.routeros import MARKER_PREFIX
from tests.conftest import LabThread, need_binary

EXPOSE = ["expose", "--service", "default/nginx", "--node", "node1", "--node", "node2", "--host", "nginx.example.org"]
MENUS = ("/ip/firewall/nat", "/ip/firewall/mangle", "/ip/firewall/address-list")


@pytest.fixture
def lab(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))
    runner = LabThread(tmp_path)
    with runner:
        router = runner.lab.router
        for menu in MENUS[:2]:  # the running preset's hand-made PCC rules: expose makes its own
            for rule in router.rules(menu):
                if "Load balancer" in rule.get("comment", ""):
                    router._remove(menu, [router._find(menu, rule[".id"])])
        yield runner


def cli(lab, capsys, *argv: str) -> tuple[int, str]:
    code = main([*argv, "--config", str(lab.config_path)])
    captured = capsys.readouterr()
    return code, captured.out + captured.err


def router_state(lab) -> dict[str, list[dict[str, str]]]:
    """The router's tables, whole, without counters."""
    return {menu: [{k: v for k, v in rule.items() if k not in ("bytes", "packets")} for rule in lab.lab.router.rules(menu)]
            for menu in MENUS}


def zone_records(lab) -> list[tuple[str, str, str, str]]:
    async def read():
        async with CloudflareClient(lab.lab.cloudflare_token, base_url=lab.lab.cloudflare.url) as client:
            zone = await client.zone_by_name("example.org")
            return sorted((r.type, r.name, r.content, r.comment) for r in await client.list_records(zone["id"]))
    return asyncio.run_coroutine_threadsafe(read(), lab.loop).result(10)


def dig(lab, name: str, rdtype: str) -> list[str]:
    done = subprocess.run([need_binary("dig"), "@127.0.0.1", "-p", str(lab.lab.dns.port), name, rdtype, "+short",
                           "+tries=1", "+time=2"], capture_output=True, text=True, timeout=10)
    return done.stdout.split()


def ours(lab) -> list[str]:
    return [rule["comment"] for menu in MENUS for rule in lab.lab.router.rules(menu)
            if rule.get("comment", "").startswith(MARKER_PREFIX)]


def test_expose_pcc_then_again_then_unexpose_leaves_all_as_it_was(lab, capsys, tmp_path):
    before_router, before_zone = router_state(lab), zone_records(lab)
    code, out = cli(lab, capsys, *EXPOSE, "--replace-dns-record", "--yes")
    assert code == 0, out
    nat = {rule["comment"]: rule for rule in lab.lab.router.rules("/ip/firewall/nat")}
    mangle = {rule["comment"]: rule for rule in lab.lab.router.rules("/ip/firewall/mangle")}
    first = mangle["[homelab-tui default/nginx tcp/80 pcc 1]"]
    # seed 02's fields, plus the safety ones
    assert {k: first[k] for k in ("chain", "action", "in-interface", "protocol", "dst-port", "new-connection-mark",
                                  "per-connection-classifier")} == {
        "chain": "prerouting", "action": "mark-connection", "in-interface": "all-ppp", "protocol": "tcp",
        "dst-port": "80", "new-connection-mark": "kube_node_1", "per-connection-classifier": "src-address-and-port:2/0"}
    assert (first["connection-state"], first["connection-mark"], first["passthrough"]) == ("new", "no-mark", "false")
    second = nat["[homelab-tui default/nginx tcp/80 dstnat 2]"]
    assert (second["connection-mark"], second["to-addresses"], second["to-ports"]) == (
        "kube_node_2", "192.168.40.104", "31681")
    assert ("CNAME", "nginx.example.org", "529c0491d41c.sn.mynetname.net",
            "[homelab-tui default/nginx tcp/80 dns]") in zone_records(lab)
    # proxied, as the config says: dig gets Cloudflare's edge, as it would from the real resolvers
    answers = dig(lab, "nginx.example.org", "A")
    ranges = [ipaddress.ip_network(cidr) for cidr in bundled_ip_ranges().ipv4_cidrs]
    assert answers and all(any(ipaddress.ip_address(a) in net for net in ranges) for a in answers), answers

    code, out = cli(lab, capsys, *EXPOSE, "--yes")
    assert code == 0 and "nothing to do: every step is a no-op" in out, out
    audit = (tmp_path / "state" / "homelab-tui" / "audit.jsonl").read_text()
    assert audit.count('"target": "router"') >= 4 and '"target": "dns"' in audit
    assert lab.lab.cloudflare_token not in audit and lab.lab.router_password not in audit

    code, out = cli(lab, capsys, "unexpose", "--service", "default/nginx", "--yes")
    assert code == 0, out
    assert router_state(lab) == before_router
    after_zone = zone_records(lab)
    # the hand-made record expose replaced (with the user's yes) is gone; nothing of ours is left
    assert [r for r in after_zone if r[3].startswith(MARKER_PREFIX)] == []
    assert set(after_zone) <= set(before_zone)


# The plan reads 8 things from the router; then each add is a look-up by marker and the add.
# Command 14 is thus the third add (the second PCC mark).
THIRD_ADD = 8 + 2 + 2 + 1


@pytest.mark.parametrize("fault", ["second NAT add refused", "connection cut before an add",
                                   "connection cut after an add"])
def test_a_failed_expose_leaves_none_of_our_rules(lab, capsys, fault):
    before = router_state(lab)
    if fault == "second NAT add refused":
        lab.lab.router.faults.fail_add("/ip/firewall/nat", 2)
    else:
        lab.lab.router.faults.drop_mid_plan(THIRD_ADD, applied=fault.endswith("after an add"))
    code, out = cli(lab, capsys, *EXPOSE, "--dns", "none", "--yes")
    assert code == 1, out
    assert ours(lab) == []
    assert router_state(lab) == before
    undone = re.findall(r"undid \d+\. (.+)", out)
    assert undone and "rolled back:" in out, out
