"""Uninstall through the CLI twin, end to end, on the simulated running lab: real SSH to the nodes,
the drain and the Node's removal through the API, k3s's own uninstall scripts and our /etc/hosts
lines; then the same command again does nothing. The last server goes last, and takes the
kubeconfig's context along. On bare nodes, bootstrap, join and uninstall leave the lab as it was,
compared whole, but for what uninstall keeps on purpose (the hostname, the memory cgroup flags)."""

from __future__ import annotations

import copy
import difflib
import json
import stat

import pytest
import tomli_w
import yaml

from homelab_tui.cli import main
from homelab_tui.sim.node.state import CGROUP_PARAMS, CMDLINE_PATH
from tests.conftest import LabThread


def pods_on(lab, node: str) -> list[str]:
    return [p["metadata"]["name"] for p in lab.kube.list("Pod") if p["spec"].get("nodeName") == node]


@pytest.mark.timeout(120)
def test_uninstall_an_agent_then_the_rest(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))
    runner = LabThread(tmp_path, "running")
    with runner:
        lab = runner.lab
        node2 = lab.fleet["node2.kube.local"].state

        def cli(*args: str) -> tuple[int, str]:
            code = main(["--config", str(runner.config_path), *args])
            captured = capsys.readouterr()
            return code, captured.out + captured.err

        assert pods_on(lab, "node2.kube.local")  # something to drain
        node2.files["/etc/hosts"] += "192.168.40.9 nas.lan\n"  # the user's own: uninstall leaves them
        node2.install_file("/usr/local/bin/backup.sh", "#!/bin/sh\n", 0o755)
        code, out = cli("uninstall", "--node", "master1", "--dry-run")
        assert code == 2 and "node1.kube.local, node2.kube.local would be left without one" in out, out

        code, out = cli("uninstall", "--node", "node2", "--yes")
        assert code == 0, out
        assert "Cordon node2.kube.local" in out and "evicted" in out and "Node node2.kube.local deleted" in out
        assert "sudo /usr/local/bin/k3s-agent-uninstall.sh" in out
        assert lab.kube.get("Node", None, "node2.kube.local") is None
        assert not pods_on(lab, "node2.kube.local")
        assert node2.installed is None and not {"k3s", "k3s-agent"} & node2.services
        assert not any(path.startswith(("/usr/local/bin/k3s", "/etc/rancher/", "/var/lib/rancher/",
                                        "/etc/systemd/system/k3s")) for path in node2.files)
        hosts = node2.files["/etc/hosts"]
        assert "# homelab-tui" not in hosts and "192.168.40.9 nas.lan\n" in hosts
        assert "/usr/local/bin/backup.sh" in node2.files
        assert {n["metadata"]["name"] for n in lab.kube.list("Node")} == {"master1.kube.local", "node1.kube.local"}

        code, out = cli("uninstall", "--node", "node2", "--yes")
        assert code == 0 and "nothing to do: every step is a no-op" in out, out
        assert "no k3s on node2" in out and "the API has no node node2.kube.local" in out
        assert "/etc/hosts has no line ending in # homelab-tui" in out

        # the server named first still goes last, after its agent; the kubeconfig forgets the cluster
        code, out = cli("uninstall", "--node", "master1", "--node", "node1", "--yes")
        assert code == 0, out
        assert out.index("Uninstall k3s from node1") < out.index("Uninstall k3s from master1")
        assert "master1 is the cluster's last server" in out
        assert all(not sim.state.installed for sim in lab.fleet.nodes.values())
        assert not lab.kube.list("Node")  # the datastore went with the last server
        kubeconfig = yaml.safe_load(lab.kubeconfig_path.read_text())
        assert not any(entry["name"] == "homelab" for section in ("clusters", "users", "contexts")
                       for entry in kubeconfig.get(section) or [])
        assert stat.S_IMODE(lab.kubeconfig_path.stat().st_mode) == 0o600
        backup = lab.kubeconfig_path.with_name("kubeconfig.bak")
        assert "homelab" in backup.read_text()

        code, out = cli("uninstall", "--node", "master1", "--node", "node1", "--node", "node2", "--yes")
        assert code == 0 and "nothing to do: every step is a no-op" in out, out


@pytest.mark.timeout(180)
def test_uninstall_kubeadm_resets_the_nodes(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))
    runner = LabThread(tmp_path, "fresh")
    with runner:
        lab = runner.lab
        settings = lab.config_dict()
        settings["cluster"].update(distribution="kubeadm", pod_cidr="10.244.0.0/16", service_cidr="10.96.0.0/12",
                                   kubeconfig=str(tmp_path / "kube" / "config"))
        path = tmp_path / "homelab.toml"
        path.write_text(tomli_w.dumps(settings))

        def cli(*args: str) -> tuple[int, str]:
            code = main(["--config", str(path), *args])
            captured = capsys.readouterr()
            return code, captured.out + captured.err

        for args in (("bootstrap", "--node", "master1"), ("join", "--node", "node1")):
            code, out = cli(*args, "--yes")
            assert code == 0, out
        code, out = cli("uninstall", "--node", "node1", "--node", "master1", "--yes")
        assert code == 0, out
        assert "sudo kubeadm reset -f" in out and "sudo rm -rf /etc/cni/net.d /var/lib/etcd" in out
        assert "kubeadm reset leaves the iptables and IPVS rules" in out
        for name in ("master1.kube.local", "node1.kube.local"):
            state = lab.fleet[name].state
            assert state.installed is None and "kubelet" not in state.services
            assert not any(p.startswith("/etc/kubernetes/") for p in state.files), name
        assert not lab.kube.list("Node")
        assert "homelab" not in (tmp_path / "kube" / "config").read_text()
        code, out = cli("uninstall", "--node", "node1", "--node", "master1", "--yes")
        assert code == 0 and "nothing to do: every step is a no-op" in out, out


def kept_on_purpose(start: dict, lab) -> dict:
    """The start, with what uninstall leaves on each node on purpose (its plan says so): the
    hostname bootstrap or join set, and the memory cgroup flags in the boot command line, in the
    file and in the running kernel."""
    end = copy.deepcopy(start)
    for node in lab.nodes:
        state = end["nodes"][node.hostname]
        cmdline = state["files"][CMDLINE_PATH]["content"].rstrip("\n") + f" {CGROUP_PARAMS}\n"
        state["files"][CMDLINE_PATH]["content"] = state["booted_cmdline"] = cmdline
        state["hostname"] = node.hostname
    return end


def state_diff(expected: dict, actual: dict) -> str:
    lines = [json.dumps(side, indent=1, sort_keys=True).splitlines() for side in (expected, actual)]
    return "\n".join(difflib.unified_diff(*lines, "expected", "actual", lineterm=""))


@pytest.mark.timeout(180)
def test_bootstrap_join_uninstall_leaves_the_lab_as_it_was(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))
    runner = LabThread(tmp_path, "fresh")
    with runner:
        lab = runner.lab

        def cli(*args: str) -> str:
            code = main(["--config", str(runner.config_path), *args, "--yes"])
            captured = capsys.readouterr()
            assert code == 0, captured.out + captured.err
            return captured.out + captured.err

        start = lab.snapshot()
        cli("bootstrap", "--node", "master1")
        cli("join", "--node", "node1", "--node", "node2")
        installed = lab.snapshot()
        assert installed["kubernetes"]["cluster"] and installed != kept_on_purpose(start, lab)
        assert all("/usr/local/bin/k3s" in node["files"] for node in installed["nodes"].values())

        out = cli("uninstall", "--node", "node1", "--node", "node2", "--node", "master1")
        assert "master1 keeps its hostname (master1.kube.local) and the memory cgroup flags" in out
        end = lab.snapshot()
        expected = kept_on_purpose(start, lab)
        assert end == expected, "the lab differs from its start:\n" + state_diff(expected, end)
