"""Deploy, apply -f and undeploy through the CLI twins on the simulated lab, checked with the real
kubectl: the app rolls out, the same deploy again changes nothing, an image that cannot be pulled
fails fast and leaves nothing behind, a field another manager took is never forced silently, and
undeploy removes exactly what deploy made."""

from __future__ import annotations

import json
import re
import subprocess
import time

import pytest

from homelab_tui.cli import main
from tests.conftest import LabThread, need_binary

DEPLOY = ["deploy", "--name", "web", "--image", "nginx:1.27", "--replicas", "2", "--expose", "nodeport",
          "--node-port", "31681"]


@pytest.fixture
def lab(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))
    runner = LabThread(tmp_path)
    with runner:
        # the lab's seeded nginx holds 31681, the reference NodePort: free it for our app
        runner.lab.kube.delete("Service", "default", "nginx")
        yield runner


def cli(lab, capsys, *argv: str) -> tuple[int, str]:
    code = main([*argv, "--config", str(lab.config_path)])
    captured = capsys.readouterr()
    return code, captured.out + captured.err


def kubectl(lab, *args: str) -> str:
    binary = need_binary("kubectl")
    done = subprocess.run([binary, "--kubeconfig", str(lab.lab.kubeconfig_path), "--context",
                           lab.lab.config_dict()["cluster"].get("context") or "homelab", *args],
                          capture_output=True, text=True, timeout=30)
    assert done.returncode == 0, done.stderr
    return done.stdout


def ours(lab) -> list[str]:
    """Every object labelled as the app's, by kind and name (what undeploy must remove)."""
    out = kubectl(lab, "get", "deploy,svc,ingress,configmap", "-A", "-l",
                  "app.kubernetes.io/managed-by=homelab-tui", "-o", "name")
    return sorted(out.split())


def test_deploy_rolls_out_then_is_a_no_op_then_undeploys(lab, capsys):
    code, out = cli(lab, capsys, *DEPLOY, "--yes")
    assert code == 0, out
    assert 'deployment "web" successfully rolled out' in out
    deploy = json.loads(kubectl(lab, "get", "deploy", "web", "-o", "json", "--show-managed-fields"))
    assert (deploy["status"]["availableReplicas"], deploy["spec"]["replicas"]) == (2, 2)
    assert "homelab-tui" in {entry["manager"] for entry in deploy["metadata"]["managedFields"]}
    service = json.loads(kubectl(lab, "get", "svc", "web", "-o", "json"))
    assert (service["spec"]["type"], service["spec"]["ports"][0]["nodePort"]) == ("NodePort", 31681)
    assert re.search(r"^web +2/2 +2 +2 ", kubectl(lab, "get", "deploy", "web"), re.M)

    code, out = cli(lab, capsys, *DEPLOY, "--yes")
    assert code == 0 and "nothing to do: every step is a no-op" in out, out
    assert out.count("is unchanged") == 3

    code, out = cli(lab, capsys, "undeploy", "--name", "web", "--yes")
    assert code == 0, out
    assert ours(lab) == []
    deadline = time.monotonic() + 10
    while kubectl(lab, "get", "pods", "-l", "app.kubernetes.io/instance=web", "-o", "name").strip():
        assert time.monotonic() < deadline, "the app's pods outlived its Deployment"
        time.sleep(0.2)


def test_an_image_that_cannot_be_pulled_fails_fast_and_leaves_nothing(lab, capsys):
    started = time.monotonic()
    code, out = cli(lab, capsys, "deploy", "--name", "broken", "--image", "nginx:does-not-exist",
                    "--namespace", "trial", "--yes")
    elapsed = time.monotonic() - started
    assert code == 1, out
    assert "ErrImagePull" in out or "ImagePullBackOff" in out
    assert "rolled back" in out.lower() or "undo" in out.lower(), out
    assert elapsed < 60  # far from the 600 s progress deadline: it did not wait it out
    assert ours(lab) == []
    assert "trial" not in kubectl(lab, "get", "namespaces", "-o", "name")


def test_a_failed_update_puts_the_app_back_as_it_was(lab, capsys):
    assert cli(lab, capsys, *DEPLOY, "--yes")[0] == 0
    before = json.loads(kubectl(lab, "get", "deploy", "web", "-o", "json"))
    broken = [arg if arg != "nginx:1.27" else "nginx:does-not-exist" for arg in DEPLOY]
    code, out = cli(lab, capsys, *broken, "--yes")
    assert code == 1 and ("ImagePullBackOff" in out or "ErrImagePull" in out), out
    assert "put back as it was" in out and "rolled back: 1 step(s) undone" in out, out
    after = json.loads(kubectl(lab, "get", "deploy", "web", "-o", "json"))
    assert after["spec"]["template"] == before["spec"]["template"]
    assert "web" in kubectl(lab, "get", "svc", "web", "-o", "name")  # unchanged by the failed deploy: kept


def test_a_field_another_manager_took_is_never_forced_silently(lab, capsys):
    assert cli(lab, capsys, *DEPLOY, "--yes")[0] == 0
    kubectl(lab, "scale", "deploy/web", "--replicas", "3")

    code, out = cli(lab, capsys, *DEPLOY, "--dry-run")
    assert code == 2 and "--on-conflict" in out and ".spec.replicas" in out, out
    code, out = cli(lab, capsys, *DEPLOY, "--on-conflict", "keep-live", "--yes")
    assert code == 0, out
    assert json.loads(kubectl(lab, "get", "deploy", "web", "-o", "json"))["spec"]["replicas"] == 3
    code, out = cli(lab, capsys, *DEPLOY, "--on-conflict", "force", "--yes")
    assert code == 0, out
    assert json.loads(kubectl(lab, "get", "deploy", "web", "-o", "json"))["spec"]["replicas"] == 2


def test_apply_a_manifest_of_three_documents(lab, capsys, tmp_path):
    manifest = tmp_path / "shop.yaml"
    manifest.write_text("""apiVersion: v1
kind: ConfigMap
metadata: {name: shop-config}
data: {greeting: hello}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: shop}
spec:
  replicas: 1
  selector: {matchLabels: {app: shop}}
  template:
    metadata: {labels: {app: shop}}
    spec:
      containers: [{name: shop, image: "nginx:1.27"}]
---
apiVersion: v1
kind: Service
metadata: {name: shop}
spec:
  selector: {app: shop}
  ports: [{port: 80}]
""")
    code, out = cli(lab, capsys, "apply", "-f", str(manifest), "--namespace", "store", "--yes")
    assert code == 0, out
    assert ours(lab) == ["configmap/shop-config", "deployment.apps/shop", "service/shop"]
    assert "shop" in kubectl(lab, "get", "deploy", "-n", "store", "-o", "name")

    manifest.write_text(manifest.read_text().replace("replicass", "x").replace("replicas: 1", "replicass: 1"))
    code, out = cli(lab, capsys, "apply", "-f", str(manifest), "--namespace", "store", "--dry-run")
    assert code == 2 and "replicass" in out, out

    code, out = cli(lab, capsys, "undeploy", "--name", "shop", "--namespace", "store", "--yes")
    assert code == 0, out
    assert ours(lab) == []
