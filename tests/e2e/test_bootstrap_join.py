"""Bootstrap and join through the CLI twins, end to end, on the simulated lab's bare nodes:
real SSH to each node, the k3s install commands, the kubeconfig merged into a fresh file, the
nodes appearing in the Kubernetes API; then the same commands again do nothing."""

from __future__ import annotations

import json
import stat
from pathlib import Path

import pytest
import tomli_w
import yaml

from homelab_tui.cli import main
from tests.conftest import LabThread


def ready_nodes(lab) -> set[str]:
    return {n["metadata"]["name"] for n in lab.kube.list("Node")
            if any(c["type"] == "Ready" and c["status"] == "True" for c in n["status"]["conditions"])}


# the release bootstrap pins, and the kubelet version every node then reports (agents follow the server)
RELEASES = {"k3s": (("--k3s-version", "v1.29.9+k3s1"), "v1.29.9+k3s1"),
            "kubeadm": (("--kubernetes-version", "v1.29"), "v1.29.4")}
DISTRIBUTIONS = {
    "k3s": ({"pod_cidr": "10.42.0.0/16", "service_cidr": "10.43.0.0/16"},
            ["curl -sfL https://get.k3s.io | INSTALL_K3S_EXEC=", "server --cluster-cidr=10.42.0.0/16 --service-cidr=10.43.0.0/16"]),
    "kubeadm": ({"pod_cidr": "10.244.0.0/16", "service_cidr": "10.96.0.0/12"},
                ["sudo kubeadm init --pod-network-cidr=10.244.0.0/16 --service-cidr=10.96.0.0/12",
                 "sudo KUBECONFIG=/etc/kubernetes/admin.conf kubectl apply -f https://github.com/flannel-io/"]),
}


@pytest.mark.parametrize("distribution", DISTRIBUTIONS)
def test_bootstrap_then_join_on_bare_nodes(tmp_path, monkeypatch, capsys, distribution):
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))
    cidrs, expected_commands = DISTRIBUTIONS[distribution]
    runner = LabThread(tmp_path, "fresh")
    with runner:
        lab = runner.lab
        settings = lab.config_dict()
        kubeconfig = tmp_path / "kube" / "config"
        settings["cluster"].update(cidrs, distribution=distribution, kubeconfig=str(kubeconfig))
        labels = {"node1": {"topology.kubernetes.io/zone": "shelf-1"}, "master1": {"homelab/role": "gateway"}}
        for node in settings["nodes"]:
            node["labels"] = labels.get(node["name"], {})
        path = tmp_path / "homelab.toml"
        path.write_text(tomli_w.dumps(settings))

        def cli(*args: str) -> tuple[int, str]:
            code = main(["--config", str(path), *args])
            captured = capsys.readouterr()
            return code, captured.out + captured.err

        code, out = cli("bootstrap", "--node", "master1", "--dry-run")
        assert code == 0 and "sudo hostnamectl set-hostname master1.kube.local" in out
        assert all(command in out for command in expected_commands), out
        assert not lab.kube.list("Node")  # a dry run changes nothing
        code, out = cli("bootstrap", "--node", "master1", "--dry-run", "--export", str(tmp_path / "plan.txt"))
        assert code == 2 and "bootstrap: --export: cannot export to .txt: use .sh, .rsc, .yaml" in out, out

        release, kubelet_version = RELEASES[distribution]
        code, out = cli("bootstrap", "--node", "master1", *release, "--yes")
        assert code == 0, out
        assert ready_nodes(lab) == {"master1.kube.local"}
        merged = yaml.safe_load(kubeconfig.read_text())
        assert [c["name"] for c in merged["contexts"]] == ["homelab"] and merged["current-context"] == "homelab"
        assert merged["clusters"][0]["cluster"]["server"] == lab.kube.url
        assert stat.S_IMODE(kubeconfig.stat().st_mode) == 0o600

        code, out = cli("join", "--node", "node1", "--node", "node2", "--yes")
        assert code == 0, out
        # the nodes join at once: each output line names the node it comes from
        assert any(line.startswith("[node1] ") for line in out.splitlines())
        assert any(line.startswith("[node2] ") for line in out.splitlines())
        assert ready_nodes(lab) == {"master1.kube.local", "node1.kube.local", "node2.kube.local"}
        assert {n["status"]["nodeInfo"]["kubeletVersion"] for n in lab.kube.list("Node")} == {kubelet_version}
        for name, wanted in labels.items():  # [[nodes]] labels, on the registered nodes
            assert wanted.items() <= lab.kube.get("Node", None, f"{name}.kube.local")["metadata"]["labels"].items()
        files = lab.fleet["master1.kube.local"].state.files
        # the join secret: k3s's node token, or the hash in kubeadm's printed join command
        token = (files["/var/lib/rancher/k3s/server/node-token"].strip() if distribution == "k3s"
                 else "--discovery-token-ca-cert-hash sha256:")
        assert token not in out

        for command in (("bootstrap", "--node", "master1"), ("join", "--node", "node1", "--node", "node2")):
            code, out = cli(*command, "--dry-run")
            assert code == 0 and "nothing to do: every step is a no-op" in out, out
        # an answer the running cluster does not use is refused, not dropped as "nothing to do"
        other = "10.99.0.0/16" if distribution == "k3s" else "10.97.0.0/16"
        code, out = cli("bootstrap", "--node", "master1", "--service-cidr", other, "--dry-run")
        assert code == 2 and f"bootstrap: --service-cidr: {other} differs from the installed cluster's" in out, out
        assert f"changing it needs a reinstall of {distribution} on master1" in out

        audit = (tmp_path / "state" / "homelab-tui" / "audit.jsonl").read_text()
        records = [json.loads(line) for line in audit.splitlines()]
        assert any(r["host"] == "node2" and r["outcome"] == "applied" for r in records)
        assert token not in audit


def test_bad_answers_exit_2_naming_the_field(tmp_path, capsys):
    config = tmp_path / "homelab.toml"
    config.write_text('[[nodes]]\nname = "master1"\naddress = "192.168.40.102"\nrole = "server"\n'
                      '[[nodes]]\nname = "node1"\naddress = "192.168.40.103"\n')
    for args, expected in (
        (["--node", "master1", "--k3s-release", "v1.31.4"],
         "bootstrap: --k3s-release: expected a k3s release such as v1.31.4+k3s1, or a channel: stable, latest, "
         "testing or a minor such as v1.31; got 'v1.31.4'"),
        (["--node", "master1", "--pod-cidr", "10.42.0.0/16", "--service-cidr", "10.42.0.0/17"],
         "bootstrap: --service-cidr: 10.42.0.0/17 overlaps the pod CIDR 10.42.0.0/16"),
        (["--node", "master1", "--pod-cidr", "192.168.0.0/16"],
         "bootstrap: --pod-cidr: 192.168.0.0/16 contains the address of node master1 (192.168.40.102)"),
        (["--node", "master9"], "bootstrap: --node: no node named 'master9' in the config (known: master1, node1)"),
        (["--node", "node1"], 'bootstrap: --node: node1 has role = "agent" in the config, and bootstrap makes a server'),
        (["--node", "master1", "--tls-san", "bad name!"],
         "bootstrap: --tls-san: expected a DNS name or an IP address, got 'bad name!'"),
        (["--node", "master1", "--pod-cidr", "fd00:42::/56"],
         "bootstrap: --pod-cidr: expected an IPv4 network such as 10.42.0.0/16, got fd00:42::/56"),
        (["--node", "master1", "--distribution", "kubeadm", "--pod-cidr", "10.244.0.0/16", "--k3s-channel", "latest"],
         "bootstrap: --k3s-release: is a k3s option; kubeadm has no use for it (got 'latest')"),
    ):
        assert main(["--config", str(config), "bootstrap", *args, "--dry-run"]) == 2
        err = capsys.readouterr().err
        assert expected in err and "Traceback" not in err
    with config.open("a") as more:
        more.write('[cluster]\ninstall_script = "k3s-install.sh"\n')  # a local file that is not there
    assert main(["--config", str(config), "join", "--node", "master1", "--dry-run"]) == 2
    err = capsys.readouterr().err
    assert (f"join: cluster.install_script: expected a URL or a local file, and {tmp_path / 'k3s-install.sh'} "
            "is not a file") in err


def test_a_failed_join_is_reported_per_node_and_retried(tmp_path, monkeypatch, capsys):
    """node2 cannot download k3s: the join reports it with its step and reason, node1 stays joined,
    and the same command joins node2 once it can. The kubeconfig is the one $KUBECONFIG names
    (the first file of the list that exists, as kubectl writes), with no cluster.kubeconfig set."""
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))
    other, local = tmp_path / "work-kubeconfig", tmp_path / "kubeconfig"
    local.write_text("apiVersion: v1\nkind: Config\nclusters: []\nusers: []\ncontexts: []\n")
    monkeypatch.setenv("KUBECONFIG", f"{other}:{local}")
    runner = LabThread(tmp_path, "fresh")
    with runner:
        lab = runner.lab
        settings = lab.config_dict()
        del settings["cluster"]["kubeconfig"]
        path = tmp_path / "homelab.toml"
        path.write_text(tomli_w.dumps(settings))

        def cli(*args: str) -> tuple[int, str]:
            code = main(["--config", str(path), *args, "--yes"])
            captured = capsys.readouterr()
            return code, captured.out + captured.err

        assert cli("bootstrap", "--node", "master1")[0] == 0
        assert [c["name"] for c in yaml.safe_load(local.read_text())["contexts"]] == ["homelab"]
        assert not other.exists()

        lab.fleet["node2.kube.local"].state.internet = False
        code, out = cli("join", "--node", "node1", "--node", "node2")
        assert code == 1
        # curl | sh exits 0 when curl fails; the check after it catches that
        assert "failed: Join node2, at “Check that k3s-agent is running on node2”: exit status 3: inactive" in out
        assert "failed: Join node1" not in out
        assert ready_nodes(lab) == {"master1.kube.local", "node1.kube.local"}

        lab.fleet["node2.kube.local"].state.internet = True
        code, out = cli("join", "--node", "node1", "--node", "node2")
        assert code == 0, out
        assert ready_nodes(lab) == {"master1.kube.local", "node1.kube.local", "node2.kube.local"}


def test_an_api_that_refuses_is_reported_not_taken_for_no_cluster(tmp_path, capsys):
    """A wrong token must not make bootstrap plan as if there were no cluster (it would skip the
    check that a new pod CIDR needs a reinstall)."""
    with LabThread(tmp_path, "running") as config:
        kubeconfig = Path(config.cluster.kubeconfig)
        kubeconfig.write_text(kubeconfig.read_text().replace(
            yaml.safe_load(kubeconfig.read_text())["users"][0]["user"]["token"], "wrong-token"))
        code = main(["--config", str(config.path), "bootstrap", "--node", "master1", "--pod-cidr", "10.99.0.0/16",
                     "--dry-run"])
        err = capsys.readouterr().err
    assert code == 2 and "bootstrap: cluster.kubeconfig: the API of context homelab refused to answer" in err, err
    assert "Traceback" not in err
