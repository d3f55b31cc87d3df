"""The MetalLB wizard on the simulated lab (k3s with ServiceLB, the router's DHCP pool): its flow
reads the lab and plans the install from the fixture manifest, ServiceLB's disabling and the pool;
applied, a LoadBalancer Service gets an address from the pool; planned again, every step is a
no-op. Then the same through the CLI twin, end to end, and the refusals naming the field."""

from __future__ import annotations

import ipaddress
import time
from pathlib import Path

import pytest
import tomli_w

from homelab_tui.cli import main
from homelab_tui.config import load_config
from homelab_tui.connect import kube_client
from homelab_tui.executors import build_executors
from homelab_tui.flows.metallb import MetallbRequest, plan_metallb
from homelab_tui.flows.staged import apply_staged
from homelab_tui.plans import PlanError, listing
from homelab_tui.sim.lab import Lab
from tests.conftest import LabThread

MANIFEST = Path(__file__).parents[1] / "fixtures" / "metallb-native.yaml"
POOL = "192.168.40.20-192.168.40.30"


def in_pool(address: str, pool: str = POOL) -> bool:
    low, high = (ipaddress.IPv4Address(part) for part in pool.split("-"))
    return bool(address) and low <= ipaddress.IPv4Address(address) <= high


def lab_config(lab: Lab, tmp_path: Path, **cluster) -> Path:
    """The lab's config, with the fixture as cluster.metallb_manifest (tests never download)."""
    lab.write_config(tmp_path / "lab.toml")  # and the secret files its config reads
    settings = lab.config_dict()
    settings["cluster"].update(metallb_manifest=str(MANIFEST), **cluster)
    path = tmp_path / "homelab.toml"
    path.write_text(tomli_w.dumps(settings))
    return path


def load_balancer(name: str = "web") -> dict:
    return {"apiVersion": "v1", "kind": "Service", "metadata": {"name": name, "namespace": "default"},
            "spec": {"type": "LoadBalancer", "selector": {"app": "nginx"}, "ports": [{"port": 80, "targetPort": 80}]}}


def external_ip(lab: Lab, name: str = "web") -> str:
    service = lab.kube.get("Service", "default", name) or {}
    ingress = ((service.get("status") or {}).get("loadBalancer") or {}).get("ingress") or []
    return ingress[0].get("ip", "") if ingress else ""


async def wait_until(condition, timeout: float = 10.0) -> None:
    import asyncio

    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        await asyncio.sleep(0.05)


@pytest.fixture
async def lab(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))
    async with Lab("running", tmp_path / "lab") as lab:
        yield lab


async def plan(config, **answers):
    executors = build_executors(config)
    try:
        return await plan_metallb(config, MetallbRequest(**answers), executors, lambda text: None), executors
    except BaseException:
        await executors.close()
        raise


async def apply(staged, executors):
    """The plan applied, its executors closed: the engine's result."""
    try:
        [(_, result)] = await apply_staged(staged, executors, lambda plan: lambda event: None)
    finally:
        await executors.close()
    return result


async def test_the_wizard_installs_metallb_and_a_load_balancer_gets_a_pool_address(lab, tmp_path):
    config = load_config(lab_config(lab, tmp_path))
    lab.kube.create(load_balancer())
    staged, executors = await plan(config, addresses=POOL)
    result = await apply(staged, executors)
    shown = "\n".join(line for _, line in listing(staged.plans))
    changes = [step.description for step in staged.plans[0].changes]
    assert "Install MetalLB: Namespace metallb-system" in changes[changes.index(
        "Disable k3s's ServiceLB on master1 (/etc/rancher/k3s/config.yaml)") + 2]  # after the restart
    assert "Install MetalLB: CustomResourceDefinition ipaddresspools.metallb.io" in changes
    assert "Wait for the endpoints of MetalLB's webhook (metallb-system/metallb-webhook-service)" in changes
    assert "ipAddressPools:\n  - homelab" in shown.replace("    ", "  ") or "- homelab" in shown
    assert "namespace: metallb-system" in shown and "addresspools:" not in shown
    assert result.ok, result.error
    config_yaml = lab.fleet["master1.kube.local"].state.files["/etc/rancher/k3s/config.yaml"]
    assert "servicelb" in config_yaml
    pool = lab.kube.get("IPAddressPool", "metallb-system", "homelab")
    assert pool["spec"]["addresses"] == [POOL]
    assert lab.kube.get("L2Advertisement", "metallb-system", "homelab")["spec"]["ipAddressPools"] == ["homelab"]
    await wait_until(lambda: in_pool(external_ip(lab)))
    lab.kube.create(load_balancer("api"))
    await wait_until(lambda: in_pool(external_ip(lab, "api")) and external_ip(lab, "api") != external_ip(lab))

    again, executors = await plan(config, addresses=POOL)
    await executors.close()
    assert again.changes == 0, [s.description for s in again.plans[0].changes]
    reasons = [step.noop_reason for step in again.plans[0].steps]
    assert "MetalLB is installed: its controller metallb-system/controller is available" in reasons


async def test_a_changed_pool_is_put_back_when_a_later_step_fails(lab, tmp_path):
    """The pool's range changed and its advertisement gone; between the plan and the apply another
    manager makes the advertisement, naming other pools: its step fails on the conflict, and the
    pool is put back as it was (ReplaceObject), not left half-changed."""
    config = load_config(lab_config(lab, tmp_path))
    result = await apply(*await plan(config, addresses=POOL))
    assert result.ok, result.error
    before = lab.kube.get("IPAddressPool", "metallb-system", "homelab")
    lab.kube.delete("L2Advertisement", "metallb-system", "homelab")

    staged, executors = await plan(config, addresses="192.168.40.40-192.168.40.45")
    try:
        async with kube_client(config) as kube:
            await kube.server_side_apply({"apiVersion": "metallb.io/v1beta1", "kind": "L2Advertisement",
                                          "metadata": {"name": "homelab", "namespace": "metallb-system"},
                                          "spec": {"ipAddressPools": ["theirs"]}}, manager="someone-else")
    except BaseException:
        await executors.close()
        raise
    result = await apply(staged, executors)
    steps, changes = staged.plans[0].steps, staged.plans[0].changes
    assert [step.description for step in changes] == [
        "Update IPAddressPool metallb-system/homelab: hands out 192.168.40.40-192.168.40.45",
        "Create L2Advertisement metallb-system/homelab: announces pool homelab"]
    assert "# ~ spec.addresses[0]: 192.168.40.20-192.168.40.30 → 192.168.40.40-192.168.40.45" in \
        changes[0].rendering and changes[0].undo_rendering == "put IPAddressPool metallb-system/homelab back as it was"
    assert not result.ok and "someone-else" in result.error, result.error
    assert result.failed_index == steps.index(changes[1])
    assert result.undone == [steps.index(changes[0])] and not result.undo_failed
    after = lab.kube.get("IPAddressPool", "metallb-system", "homelab")
    assert after["spec"]["addresses"] == [POOL] and after["spec"] == before["spec"]
    assert after["metadata"]["labels"] == before["metadata"]["labels"]


@pytest.mark.parametrize("addresses, expected", [
    ("192.168.40.40-192.168.40.60", "overlaps the router's DHCP pool dhcp (192.168.40.50-192.168.40.254)"),
    ("192.168.40.100-192.168.40.105", "holds the address of node node1.kube.local (192.168.40.103)"),
    ("192.168.40.1/32", "holds the gateway 192.168.40.1"),
    ("10.0.0.5-10.0.0.10", "lies outside the LAN 192.168.40.0/24"),
])
async def test_a_pool_the_lan_uses_is_refused(lab, tmp_path, addresses, expected):
    config = load_config(lab_config(lab, tmp_path))
    with pytest.raises(PlanError) as refused:
        await plan(config, addresses=addresses)
    assert ("--range", next(m for f, m in refused.value.errors if expected in m)) in refused.value.errors
    assert not lab.kube.list("Namespace") or not any(
        ns["metadata"]["name"] == "metallb-system" for ns in lab.kube.list("Namespace"))


async def test_a_static_lease_is_refused_and_servicelb_refusal_names_its_field(lab, tmp_path):
    config = load_config(lab_config(lab, tmp_path))
    lab.router.add_rule("/ip/dhcp-server/lease", {"address": "192.168.40.25", "mac-address": "DC:A6:32:00:01:99",
                                                  "comment": "nas"})
    with pytest.raises(PlanError, match=r"holds the static DHCP lease 192.168.40.25 \(DC:A6:32:00:01:99\)"):
        await plan(config, addresses=POOL)
    with pytest.raises(PlanError) as refused:
        await plan(config, addresses="192.168.40.31-192.168.40.40", servicelb="refuse")
    assert refused.value.field == "--servicelb" and "ServiceLB" in refused.value.message


def test_the_twin_end_to_end(tmp_path, monkeypatch, capsys):
    """`homelab-tui metallb --range ... --yes` on the lab; again, nothing to do; a bad range exits 2."""
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))
    runner = LabThread(tmp_path)
    with runner:
        lab = runner.lab
        path = lab_config(lab, tmp_path)

        def cli(*args: str) -> tuple[int, str]:
            code = main(["--config", str(path), "metallb", *args])
            captured = capsys.readouterr()
            return code, captured.out + captured.err

        code, out = cli("--range", POOL, "--dry-run")
        assert code == 0 and "dry run:" in out and "kind: IPAddressPool" in out, out
        assert lab.kube.get("Deployment", "metallb-system", "controller") is None  # a dry run changes nothing
        code, out = cli("--range", POOL, "--yes")
        assert code == 0 and "\ndone" in out, out
        assert lab.kube.get("IPAddressPool", "metallb-system", "homelab")["spec"]["addresses"] == [POOL]
        code, out = cli("--range", POOL, "--dry-run")
        assert code == 0 and "nothing to do: every step is a no-op" in out, out
        code, out = cli("--range", "192.168.40.45-192.168.40.55", "--dry-run")
        assert code == 2 and "metallb: --range: 192.168.40.45-192.168.40.55 overlaps the router's DHCP pool" in out
        assert "Traceback" not in out
