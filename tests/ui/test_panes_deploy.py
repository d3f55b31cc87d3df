"""The read side of k9s's pane keys, by keyboard alone on the sim lab: the Deployments and
Ingresses panes (live, as kubectl prints them), `d` describe with Events, `y` YAML, shift+letter
sort, `o` to a pod's owning Deployment, and the terminal keys: `s` on a pod (kubectl exec) and on a
node (OpenSSH), each asserted as the exact command handed to the terminal, the SSH one then run
for real against the lab's node."""

from __future__ import annotations

import asyncio

import pytest

from homelab_tui.config import load_config
from homelab_tui.connect import kube_client
from homelab_tui.sim.lab import Lab
from homelab_tui.ui.app import HomelabApp
from homelab_tui.ui.modals import DetailScreen, PickScreen
from homelab_tui.ui.panes.pods import SHELL_FALLBACK
from tests.ui.test_app_live import cells, shown_keys, until
from tests.ui.test_log_view import a_pod, open_on


@pytest.fixture
async def lab(tmp_path):
    async with Lab("running", tmp_path / "lab") as lab:
        yield lab


class Terminal:
    """The one seam: what the app would hand the terminal (App.run_suspended), recorded."""

    def __init__(self, app: HomelabApp) -> None:
        self.commands: list[list[str]] = []
        app.run_suspended = self.run

    def run(self, argv: list[str]) -> int:
        self.commands.append(argv)
        return 0


def lab_app(lab: Lab, tmp_path, **options) -> HomelabApp:
    config = load_config(lab.write_config(tmp_path / "lab.toml"))
    config.ui.refresh_seconds = 0.2
    return HomelabApp(config, clock=lambda: None, **options)


async def test_the_deployments_pane_is_kubectl_get_deploy_and_follows_the_api(lab, tmp_path):
    app = lab_app(lab, tmp_path)
    async with app.run_test(size=(120, 36)) as pilot:
        await pilot.press("6")
        await until(pilot, lambda: "default/nginx" in app.table("deployments").rows)
        assert app.view == "deployments" and app.focused is app.table("deployments")
        assert app.table("deployments").display and not app.table("ingresses").display
        await until(pilot, lambda: cells(app, "deployments", "default/nginx") == ["default", "nginx", "2/2", "2", "2", ""])
        assert {"kube-system/coredns", "kube-system/metrics-server"} <= set(app.table("deployments").rows)

        client = kube_client(app.config)
        await client.open()
        try:
            await client.patch("Deployment", "default", "nginx", {"spec": {"replicas": 3}}, subresource="scale")
        finally:
            await client.close()
        await until(pilot, lambda: cells(app, "deployments", "default/nginx")[2:5] == ["3/3", "3", "3"])

        await pilot.press("7")  # the Ingresses: class, host, the address the controller gave
        await until(pilot, lambda: "default/nginx" in app.table("ingresses").rows)
        await until(pilot, lambda: cells(app, "ingresses", "default/nginx")[4] != "")
        namespace, name, klass, hosts, address, _ = cells(app, "ingresses", "default/nginx")
        ingress = lab.kube.get("Ingress", "default", "nginx")
        assert (klass, hosts) == ("traefik", ingress["spec"]["rules"][0]["host"])
        assert address.split(",") == [i["ip"] for i in ingress["status"]["loadBalancer"]["ingress"]]

        await pilot.press("0")  # all panes: the two shown alone are not among them
        assert not app.table("deployments").display and app.focused is app.table("nodes")


async def test_d_describes_with_events_and_y_shows_the_yaml(lab, tmp_path):
    app = lab_app(lab, tmp_path)
    async with app.run_test(size=(120, 36)) as pilot:
        await open_on(pilot, "6", "deployments", "default/nginx", "d")
        await until(pilot, lambda: isinstance(app.screen, DetailScreen))
        text = app.screen.yaml_text
        assert app.screen.title_text == "describe Deployment default/nginx"
        assert "Name:" in text and "nginx" in text and "Replicas:           2 desired" in text
        events = text.split("Events:", 1)[1]
        assert "ScalingReplicaSet" in events and "Scaled up replica set nginx-" in events
        await pilot.press("escape")

        name = a_pod(lab, "nginx-")
        await open_on(pilot, "2", "pods", f"default/{name}", "d")
        await until(pilot, lambda: isinstance(app.screen, DetailScreen))
        text = app.screen.yaml_text
        assert "Controlled By:      ReplicaSet/nginx-" in text and "Scheduled" in text.split("Events:", 1)[1]
        await pilot.press("escape")

        await pilot.press("y")
        await until(pilot, lambda: isinstance(app.screen, DetailScreen))
        assert app.screen.title_text == f"Pod default/{name}"
        assert "kind: Pod" in app.screen.yaml_text and "managedFields" not in app.screen.yaml_text


async def test_shift_letters_sort_by_their_column_and_again_reverse(lab, tmp_path):
    app = lab_app(lab, tmp_path)
    async with app.run_test(size=(120, 36)) as pilot:
        await pilot.press("2")
        pods = app.table("pods")
        await until(pilot, lambda: pods.row_count >= 5)
        await pilot.press("N")
        names = [key.split("/")[1] for key in shown_keys(app, "pods")]
        assert pods.sorting == ("NAME", False) and names == sorted(names)
        await pilot.press("N")
        assert pods.sorting == ("NAME", True)
        assert [key.split("/")[1] for key in shown_keys(app, "pods")] == sorted(names, reverse=True)
        await pilot.press("O")  # by NODE
        nodes = [cells(app, "pods", key)[5] for key in shown_keys(app, "pods")]
        assert pods.sorting == ("NODE", False) and nodes == sorted(nodes)
        assert "sort NODE ▲" in pods.border_title
        await pilot.press("1", "S")  # the Nodes pane: by STATUS
        assert app.table("nodes").sorting == ("STATUS", False)
        assert pods.sorting == ("NODE", False)  # each pane keeps its own


async def test_o_jumps_from_a_pod_to_its_deployment_through_its_replica_set(lab, tmp_path):
    name = a_pod(lab, "coredns-", "kube-system")
    app = lab_app(lab, tmp_path)
    async with app.run_test(size=(120, 36)) as pilot:
        await until(pilot, lambda: "kube-system/coredns" in app.table("deployments").rows)
        await open_on(pilot, "2", "pods", f"kube-system/{name}", "o")
        await until(pilot, lambda: app.view == "deployments")
        deployments = app.table("deployments")
        assert app.focused is deployments and deployments.cursor_key() == "kube-system/coredns"

        speaker = next((pod["metadata"]["name"] for pod in lab.kube.list("Pod", "metallb-system")
                        if pod["metadata"]["name"].startswith("speaker-")), None)
        if speaker is not None:  # a DaemonSet's pod: named, no pane to jump to
            await open_on(pilot, "2", "pods", f"metallb-system/{speaker}", "o")
            await until(pilot, lambda: any("owned by DaemonSet metallb-system/speaker" in note.message
                                           for note in app._notifications))
            assert app.view == "pods"


async def test_s_on_a_pod_hands_kubectl_exec_with_the_bash_fallback_to_the_terminal(lab, tmp_path):
    lab.kube.create({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "two", "namespace": "default"},
                     "spec": {"containers": [{"name": "web", "image": "nginx"}, {"name": "sidecar", "image": "busybox"}]}})
    app = lab_app(lab, tmp_path)
    terminal = Terminal(app)
    name = a_pod(lab, "nginx-")
    kubeconfig = str(app.config.resolve_path(app.config.cluster.kubeconfig))
    async with app.run_test(size=(120, 36)) as pilot:
        await open_on(pilot, "2", "pods", f"default/{name}", "s")
        await until(pilot, lambda: terminal.commands)
        assert terminal.commands.pop() == [
            "kubectl", "exec", "-it", "-n", "default", name, "-c", "nginx", "--context", "homelab",
            "--kubeconfig", kubeconfig, "--", "sh", "-c", "command -v bash >/dev/null && exec bash || exec sh"]
        assert SHELL_FALLBACK == "command -v bash >/dev/null && exec bash || exec sh"  # k9s exec.go

        await open_on(pilot, "2", "pods", "default/two", "s")  # two containers: which one?
        await until(pilot, lambda: isinstance(app.screen, PickScreen))
        assert app.screen.choices == ["web", "sidecar"]
        await pilot.press("down", "enter")
        await until(pilot, lambda: terminal.commands)
        assert terminal.commands.pop()[5:8] == ["two", "-c", "sidecar"]

        await open_on(pilot, "2", "pods", "default/two", "s")
        await until(pilot, lambda: isinstance(app.screen, PickScreen))
        await pilot.press("escape")  # no container, no shell
        await pilot.pause(0.2)
        assert not terminal.commands


async def test_a_missing_kubectl_is_said_and_nothing_runs(lab, tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    app = lab_app(lab, tmp_path)
    terminal = Terminal(app)
    async with app.run_test(size=(120, 36)) as pilot:
        await open_on(pilot, "2", "pods", f"default/{a_pod(lab, 'nginx-')}", "s")
        await until(pilot, lambda: any("kubectl is not installed" in note.message for note in app._notifications))
        assert not terminal.commands and app.is_running


async def test_read_only_hides_and_refuses_the_shells(lab, tmp_path):
    app = lab_app(lab, tmp_path, read_only=True)
    terminal = Terminal(app)
    async with app.run_test(size=(120, 36)) as pilot:
        await open_on(pilot, "2", "pods", f"default/{a_pod(lab, 'nginx-')}", "s")
        await pilot.press("1", "s")
        await pilot.pause(0.3)
        assert not terminal.commands
        shown = {binding.binding.action for binding in app.screen.active_bindings.values()}
        assert "ssh" not in shown and "shell" not in shown


async def test_s_on_a_node_runs_openssh_with_the_config_settings_strictly(lab, tmp_path):
    app = lab_app(lab, tmp_path)
    terminal = Terminal(app)
    config = app.config
    async with app.run_test(size=(120, 36)) as pilot:
        await open_on(pilot, "1", "nodes", "node1.kube.local", "s")
        await until(pilot, lambda: terminal.commands)
    node = config.node("node1")
    [argv] = terminal.commands
    assert argv == ["ssh", "-p", str(node.ssh_port), "-o", "StrictHostKeyChecking=yes",
                    "-o", f"UserKnownHostsFile={config.resolve_path(config.ssh.known_hosts)}", "-o", "ConnectTimeout=5",
                    "-i", str(config.resolve_path(config.ssh.identity_file)), "-o", "IdentityAgent=none",
                    "-F", "none", "-l", "ubuntu", "127.0.0.1"]
    # The same command, run for real with a command for the node: it gets in, host key checked.
    ssh = await asyncio.create_subprocess_exec(*argv[:-1], "-o", "BatchMode=yes", argv[-1], "hostname",
                                               stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    out, err = await asyncio.wait_for(ssh.communicate(), 30)
    assert ssh.returncode == 0, err.decode()
    assert out.decode().strip() == "node1.kube.local"
