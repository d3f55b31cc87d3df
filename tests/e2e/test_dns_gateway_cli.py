"""The DNS gateway through the CLI twin on the simulated lab: MetalLB set up by its own twin, then
`dns-gateway --yes` gives CoreDNS's Service a pool address and the router a FWD entry for
cluster.local pointing at it; again, every step is a no-op; `--remove --yes` leaves the router's
DNS entries and the cluster's Services as they were. And it works: the real `dig`, asking the
router's DNS, gets a Service's ClusterIP for its cluster name only while the entry is there and
enabled; the probe's "cluster DNS via the router" line and the DNS pane's row say the same."""

from __future__ import annotations

import asyncio
import json
import re
import subprocess

import pytest

from homelab_tui.cli import main
from homelab_tui.config import load_config
from homelab_tui.connect import dns_client, router_client
from homelab_tui.facts.dns import dns_checks, polled_gateway_entry
from homelab_tui.plans.dns_gateway import MARKER
from homelab_tui.sim.router.menus import MENUS
from tests.conftest import LabThread, need_binary
from tests.integration.test_metallb_flow import POOL, in_pool, lab_config

MENU = "/ip/dns/static"


@pytest.fixture
def lab(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))
    runner = LabThread(tmp_path)
    with runner:
        yield runner


def entries(lab) -> list[dict[str, str]]:
    return [dict(row) for row in lab.lab.router.rules(MENU)]


def test_dns_gateway_then_again_then_remove(lab, tmp_path, capsys):
    path = lab_config(lab.lab, tmp_path)

    def cli(*args: str) -> tuple[int, str]:
        code = main(["--config", str(path), *args])
        captured = capsys.readouterr()
        return code, captured.out + captured.err

    code, out = cli("dns-gateway", "--dry-run")
    assert code == 2 and "no MetalLB pool" in out, out
    code, out = cli("metallb", "--range", POOL, "--yes")
    assert code == 0, out
    before = entries(lab)

    code, out = cli("dns-gateway", "--target", "nodeport", "--dry-run")
    assert code == 2 and "NodePort lies in 30000-32767" in out, out

    code, out = cli("dns-gateway", "--dry-run", "--export", str(tmp_path / "gateway.rsc"))
    assert code == 0, out
    script = (tmp_path / "gateway.rsc").read_text()
    assert "/ip dns static add name=cluster.local type=FWD match-subdomain=yes forward-to=192.168.40." in script
    code, out = cli("dns-gateway", "--dry-run", "--export", str(tmp_path / "gateway.yaml"))
    assert code == 0 and "name: homelab-tui-dns" in (tmp_path / "gateway.yaml").read_text(), out
    assert lab.lab.kube.get("Service", "kube-system", "homelab-tui-dns") is None  # a dry run changes nothing

    code, out = cli("dns-gateway", "--yes")
    assert code == 0 and "\ndone" in out, out
    service = lab.lab.kube.get("Service", "kube-system", "homelab-tui-dns")
    assert service["spec"]["type"] == "LoadBalancer"
    assert service["spec"]["selector"] == {"k8s-app": "kube-dns"}
    assert sorted((p["protocol"], p["port"]) for p in service["spec"]["ports"]) == [("TCP", 53), ("UDP", 53)]
    address = service["status"]["loadBalancer"]["ingress"][0]["ip"]
    assert in_pool(address)
    ours = [row for row in entries(lab) if row.get("comment") == str(MARKER)]
    assert len(ours) == 1
    assert {k: ours[0][k] for k in ("name", "type", "match-subdomain", "forward-to")} == {
        "name": "cluster.local", "type": "FWD", "match-subdomain": "true", "forward-to": address}

    code, out = cli("dns-gateway", "--dry-run")
    assert code == 0 and "nothing to do: every step is a no-op" in out, out

    # A hand edit in WinBox (another forward-to, disabled) is put back by running the wizard again.
    router = lab.lab.router
    router._set(MENUS[MENU], router._find(MENU, ours[0][".id"]), {"forward-to": "192.168.40.99", "disabled": "true"})
    assert [row["forward-to"] for row in entries(lab) if row.get("comment") == str(MARKER)] == ["192.168.40.99"]
    code, out = cli("dns-gateway", "--yes")
    assert code == 0 and "\ndone" in out, out
    fixed = next(row for row in entries(lab) if row.get("comment") == str(MARKER))
    assert (fixed["forward-to"], fixed["disabled"]) == (address, "false")

    code, out = cli("unexpose", "--service", "kube-system/homelab-tui-dns", "--yes")  # the same teardown
    assert code == 0 and "\ndone" in out, out
    assert entries(lab) == before
    assert lab.lab.kube.get("Service", "kube-system", "homelab-tui-dns") is None
    code, out = cli("dns-gateway", "--remove", "--dry-run")
    assert code == 0 and "nothing to do: every step is a no-op" in out, out
    assert "Traceback" not in out


def test_a_refused_router_entry_rolls_the_service_back(lab, tmp_path, capsys):
    path = lab_config(lab.lab, tmp_path)
    assert main(["--config", str(path), "metallb", "--range", POOL, "--yes"]) == 0
    capsys.readouterr()
    before = entries(lab)
    lab.lab.router.faults.fail_add(MENU, 1)
    code = main(["--config", str(path), "dns-gateway", "--yes"])
    out = "".join(capsys.readouterr())
    assert code == 1, out
    assert "rolled back:" in out and "undid 1. Create Service kube-system/homelab-tui-dns" in out, out
    assert lab.lab.kube.get("Service", "kube-system", "homelab-tui-dns") is None
    assert entries(lab) == before


def dig(lab, name: str) -> tuple[str, list[str]]:
    """`dig name @router`: the status and the A records, as the real binary reads them."""
    done = subprocess.run([need_binary("dig"), "@127.0.0.1", "-p", str(lab.lab.dns.port), name, "A",
                           "+tries=1", "+time=2", "+noall", "+comments", "+answer"],
                          capture_output=True, text=True, timeout=10, check=False)
    status = re.search(r"status: (\w+)", done.stdout)
    answers = [line.split()[-1] for line in done.stdout.splitlines() if line and not line.startswith(";")
               and line.split()[3:4] == ["A"]]
    return (status.group(1) if status else done.stdout + done.stderr), answers


def cluster_dns_line(path, capsys) -> tuple[int, dict]:
    """The probe's exit code and its "cluster DNS via the router" line, from --json."""
    code = main(["--config", str(path), "probe", "--service", "default/nginx", "--json"])
    out = capsys.readouterr().out
    return code, next(hop for hop in json.loads(out)["hops"] if hop["name"] == "cluster DNS via the router")


def gateway_row(path, lab):
    """The DNS pane's row for the gateway, read as its poll reads it."""
    config = load_config(path)

    async def poll():
        async with await router_client(config) as router:
            entry = await polled_gateway_entry(router)
        return await dns_checks(config, dns_client(config), lab.lab.router.cloud, None, gateway=entry)

    return next((check for check in asyncio.run(poll()) if check.name == "*.svc.cluster.local"), None)


def test_cluster_names_resolve_at_the_router_only_through_the_gateway(lab, tmp_path, capsys):
    path = lab_config(lab.lab, tmp_path)
    name = "nginx.default.svc.cluster.local"
    cluster_ip = lab.lab.kube.get("Service", "default", "nginx")["spec"]["clusterIP"]
    assert main(["--config", str(path), "metallb", "--range", POOL, "--yes"]) == 0
    capsys.readouterr()
    assert dig(lab, name) == ("REFUSED", [])  # the router knows no cluster.local
    code, line = cluster_dns_line(path, capsys)
    assert line["verdict"] == "not checked" and "not set up" in line["detail"], line
    assert gateway_row(path, lab) is None

    assert main(["--config", str(path), "dns-gateway", "--yes"]) == 0
    capsys.readouterr()
    address = lab.lab.kube.get("Service", "kube-system", "homelab-tui-dns")["status"]["loadBalancer"]["ingress"][0]["ip"]
    assert dig(lab, name) == ("NOERROR", [cluster_ip])
    assert dig(lab, "nothing.default.svc.cluster.local") == ("NXDOMAIN", [])
    code, line = cluster_dns_line(path, capsys)
    assert line["verdict"] == "pass", line
    assert f"{name} → {cluster_ip} (its ClusterIP)" in line["detail"] and f"cluster.local → {address}" in line["detail"]
    code = main(["--config", str(path), "probe", "--service", "default/nginx"])
    assert re.search(r"^cluster DNS via the router +PASS +nginx\.default", capsys.readouterr().out, re.M)
    row = gateway_row(path, lab)
    assert row.ok and row.expected.endswith(f"→ {address}"), row
    assert row.actual == "kubernetes.default.svc.cluster.local → 10.43.0.1", row

    # Disabled by hand: the router forwards nothing, and both say so.
    router = lab.lab.router
    ours = next(row for row in entries(lab) if row.get("comment") == str(MARKER))
    router._set(MENUS[MENU], router._find(MENU, ours[".id"]), {"disabled": "true"})
    assert dig(lab, name) == ("REFUSED", [])
    code, line = cluster_dns_line(path, capsys)
    assert code == 1 and line["verdict"] == "fail" and "is disabled" in line["detail"], line
    assert "homelab-tui dns-gateway" in line["fix"]
    assert not gateway_row(path, lab).ok

    # Forwarded to an address where CoreDNS is not: the router gives up.
    router._set(MENUS[MENU], router._find(MENU, ours[".id"]), {"disabled": "false", "forward-to": "192.168.40.99"})
    assert dig(lab, name) == ("SERVFAIL", [])
    code, line = cluster_dns_line(path, capsys)
    assert code == 1 and line["verdict"] == "fail" and "servfail" in line["detail"].lower(), line
    assert not gateway_row(path, lab).ok

    assert main(["--config", str(path), "dns-gateway", "--remove", "--yes"]) == 0
    capsys.readouterr()
    assert dig(lab, name) == ("REFUSED", [])
    code, line = cluster_dns_line(path, capsys)
    assert line["verdict"] == "not checked" and "not set up" in line["detail"], line
