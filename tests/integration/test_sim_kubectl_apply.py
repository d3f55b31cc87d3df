"""Real kubectl against the simulated API server: `kubectl apply --server-side` (field managers,
conflicts after a `kubectl scale`, --force-conflicts, --dry-run=server), CRDs created with
`kubectl create -f`, and MetalLB's pools served once its CRDs exist."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import yaml

from homelab_tui.sim.kube_api import KubeApiSim
from tests.integration.conftest import kubectl, rows, running_kube_sim

TOKEN = "kubectl-apply-token-77ab"

MANIFEST = """\
apiVersion: v1
kind: Namespace
metadata:
  name: shop
---
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
  namespace: shop
  labels: {app: web}
spec:
  replicas: {replicas}
  selector:
    matchLabels: {app: web}
  template:
    metadata:
      labels: {app: web}
    spec:
      containers:
      - name: web
        image: nginx:1.27
        ports:
        - containerPort: 80
---
apiVersion: v1
kind: Service
metadata:
  name: web
  namespace: shop
spec:
  selector: {app: web}
  ports:
  - port: 80
    targetPort: 80
"""

pytestmark = pytest.mark.real


@pytest.fixture
async def sim() -> AsyncIterator[KubeApiSim]:
    async with running_kube_sim(TOKEN, [("node1", "192.168.40.103")]) as server:
        yield server


def manifest(tmp_path: Path, replicas: int = 2) -> str:
    path = tmp_path / f"app-{replicas}.yaml"
    path.write_text(MANIFEST.replace("{replicas}", str(replicas)))
    return str(path)


async def test_server_side_apply_twice_records_kubectl_as_the_manager(
        sim: KubeApiSim, kubectl_env: dict[str, str], tmp_path: Path) -> None:
    for _ in range(2):
        code, out, err = await kubectl(kubectl_env, "apply", "--server-side", "-f", manifest(tmp_path))
        assert code == 0, err
        assert out.split("\n")[:3] == ["namespace/shop serverside-applied", "deployment.apps/web serverside-applied",
                                       "service/web serverside-applied"]
    code, out, err = await kubectl(kubectl_env, "get", "deploy", "web", "-n", "shop", "-o", "yaml",
                                   "--show-managed-fields")
    assert code == 0, err
    live = yaml.safe_load(out)
    entries = {(e["manager"], e["operation"]): e for e in live["metadata"]["managedFields"]}
    assert entries[("kubectl", "Apply")]["fieldsV1"]["f:spec"]["f:replicas"] == {}
    assert live["metadata"]["generation"] == 1


async def test_apply_after_kubectl_scale_conflicts_until_forced(
        sim: KubeApiSim, kubectl_env: dict[str, str], tmp_path: Path) -> None:
    code, _, err = await kubectl(kubectl_env, "apply", "--server-side", "-f", manifest(tmp_path))
    assert code == 0, err
    code, out, err = await kubectl(kubectl_env, "scale", "deployment", "web", "-n", "shop", "--replicas=4")
    assert code == 0, err

    code, out, err = await kubectl(kubectl_env, "apply", "--server-side", "-f", manifest(tmp_path, replicas=3))
    assert code != 0
    assert ('Apply failed with 1 conflict: conflict with "kubectl" with subresource "scale" using apps/v1: '
            ".spec.replicas") in err
    assert "Please review the fields above--they currently have other managers." in err
    assert sim.get("Deployment", "shop", "web")["spec"]["replicas"] == 4

    code, out, err = await kubectl(kubectl_env, "apply", "--server-side", "--force-conflicts", "-f",
                                   manifest(tmp_path, replicas=3))
    assert code == 0, err
    assert sim.get("Deployment", "shop", "web")["spec"]["replicas"] == 3


async def test_server_dry_run_stores_nothing(sim: KubeApiSim, kubectl_env: dict[str, str], tmp_path: Path) -> None:
    code, _, err = await kubectl(kubectl_env, "apply", "--server-side", "-f", manifest(tmp_path))
    assert code == 0, err
    code, out, err = await kubectl(kubectl_env, "apply", "--server-side", "--dry-run=server", "-f",
                                   manifest(tmp_path, replicas=5))
    assert code == 0, err
    assert "deployment.apps/web serverside-applied (server dry run)" in out
    assert sim.get("Deployment", "shop", "web")["spec"]["replicas"] == 2


async def test_strict_validation_names_the_unknown_field(kubectl_env: dict[str, str], tmp_path: Path) -> None:
    path = tmp_path / "typo.yaml"
    path.write_text(MANIFEST.replace("{replicas}", "1").replace("  replicas: 1", "  replicass: 1"))
    code, _, err = await kubectl(kubectl_env, "create", "-f", str(path))
    assert code != 0
    assert ('Deployment in version "v1" cannot be handled as a Deployment: strict decoding error: unknown field '
            '"spec.replicass"') in err
    code, _, err = await kubectl(kubectl_env, "apply", "--server-side", "-f", str(path))
    assert code != 0 and ".spec.replicass: field not declared in schema" in err


async def test_metallb_pools_are_served_once_its_crds_are_created(
        sim: KubeApiSim, kubectl_env: dict[str, str], tmp_path: Path) -> None:
    code, _, err = await kubectl(kubectl_env, "get", "ipaddresspools", "-A")
    assert code != 0 and 'the server doesn\'t have a resource type "ipaddresspools"' in err

    documents = yaml.safe_load_all(sim.metallb_manifest())
    crds = [d for d in documents if d["kind"] in ("Namespace", "CustomResourceDefinition")]
    (tmp_path / "crds.yaml").write_text(yaml.safe_dump_all(crds))
    code, out, err = await kubectl(kubectl_env, "create", "-f", str(tmp_path / "crds.yaml"))
    assert code == 0, err
    assert "customresourcedefinition.apiextensions.k8s.io/ipaddresspools.metallb.io created" in out

    code, out, err = await kubectl(kubectl_env, "get", "crd")
    assert code == 0, err
    assert out.split("\n")[0].split() == ["NAME", "CREATED", "AT"]
    assert [r[0] for r in rows(out)] == ["ipaddresspools.metallb.io", "l2advertisements.metallb.io"]
    code, out, err = await kubectl(kubectl_env, "api-resources", "--api-group=metallb.io")
    assert code == 0, err
    assert [r[0] for r in rows(out)] == ["ipaddresspools", "l2advertisements"]

    (tmp_path / "pool.yaml").write_text(
        "apiVersion: metallb.io/v1beta1\nkind: IPAddressPool\nmetadata: {name: lan, namespace: metallb-system}\n"
        "spec: {addresses: ['192.168.40.20-192.168.40.30']}\n")
    code, out, err = await kubectl(kubectl_env, "apply", "--server-side", "-f", str(tmp_path / "pool.yaml"))
    assert (code, out.strip()) == (0, "ipaddresspool.metallb.io/lan serverside-applied"), err
    code, out, err = await kubectl(kubectl_env, "get", "ipaddresspools", "-A")
    assert code == 0, err
    assert out.split("\n")[0].split() == ["NAMESPACE", "NAME", "AUTO", "ASSIGN", "AVOID", "BUGGY", "IPS",
                                          "ADDRESSES"]
    assert rows(out) == [["metallb-system", "lan", "true", "false", '["192.168.40.20-192.168.40.30"]']]

    code, _, err = await kubectl(kubectl_env, "delete", "crd", "ipaddresspools.metallb.io")
    assert code == 0, err
    assert sim.list("CustomResourceDefinition")[0]["metadata"]["name"] == "l2advertisements.metallb.io"


async def test_server_side_apply_takes_over_a_client_side_apply(kubectl_env: dict[str, str], tmp_path: Path) -> None:
    code, out, err = await kubectl(kubectl_env, "apply", "-f", manifest(tmp_path))
    assert code == 0 and "deployment.apps/web created" in out, err
    code, out, err = await kubectl(kubectl_env, "apply", "--server-side", "-f", manifest(tmp_path))
    assert code == 0 and err == "", err  # kubectl migrated the managers with a JSON patch, silently
    code, out, err = await kubectl(kubectl_env, "get", "deploy", "web", "-n", "shop", "-o", "yaml",
                                   "--show-managed-fields")
    managers = {(e["manager"], e["operation"]) for e in yaml.safe_load(out)["metadata"]["managedFields"]}
    assert ("kubectl", "Apply") in managers and ("kubectl-client-side-apply", "Update") not in managers
    assert yaml.safe_load(out)["spec"]["template"]["metadata"]["labels"] == {"app": "web"}


async def test_kubectl_drain_evicts_through_the_eviction_api(sim: KubeApiSim, kubectl_env: dict[str, str],
                                                            tmp_path: Path) -> None:
    code, _, err = await kubectl(kubectl_env, "apply", "--server-side", "-f", manifest(tmp_path))
    assert code == 0, err
    code, out, err = await kubectl(kubectl_env, "rollout", "status", "deployment/web", "-n", "shop", "--timeout=20s")
    assert code == 0, err
    pods = [p["metadata"]["name"] for p in sim.list("Pod", "shop")]
    code, out, err = await kubectl(kubectl_env, "drain", "node1", "--ignore-daemonsets", "--timeout=20s")
    assert code == 0, err
    assert all(f"evicting pod shop/{name}" in out and f"pod/{name} evicted" in out for name in pods)
    assert "node/node1 drained" in out
    assert sim.get("Node", None, "node1")["spec"]["unschedulable"] is True
