"""The DNS gateway through the CLI twin on the simulated lab: MetalLB set up by its own twin, then
`dns-gateway --yes` gives CoreDNS's Service a pool address and the router a FWD entry for
cluster.local pointing at it; again, every step is a no-op; `--remove --yes` leaves the router's
DNS entries and the cluster's Services as they were."""

from __future__ import annotations

import pytest

from homelab_tui.cli import main
from homelab_tui.plans.dns_gateway import MARKER
from homelab_tui.sim.router.menus import MENUS
from tests.conftest import LabThread
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

    code, out = cli("dns-gateway", "--remove", "--yes")
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
