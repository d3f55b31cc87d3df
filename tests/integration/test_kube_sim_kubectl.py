"""The simulated Kubernetes API against the real kubectl, plus raw HTTP checks of its wire format.

kubectl runs with asyncio subprocesses: the sim serves from this test's event loop, so a blocking
subprocess.run would deadlock. KUBECONFIG and HOME point into tmp_path, never at the user's.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from homelab_tui.sim.kube_api import KubeApiSim
from tests.conftest import need_binary
from tests.integration.conftest import LAB_NODES, eventually, kubectl, rows, running_kube_sim

TOKEN = "sim-token-1f2e3d"


@pytest.fixture
async def sim() -> AsyncIterator[KubeApiSim]:
    async with running_kube_sim(TOKEN, LAB_NODES[:2]) as server:
        yield server


# --- kubectl ---------------------------------------------------------------------------------


async def test_kubectl_get_nodes_shows_status_roles_and_version(sim: KubeApiSim, kubeconfig: Path,
                                                                 kubectl_env: dict[str, str]) -> None:
    assert kubeconfig.stat().st_mode & 0o777 == 0o600
    sim.set_node_ready("node1", False)
    code, out, err = await kubectl(kubectl_env, "get", "nodes", "-o", "wide")
    assert code == 0, err
    header = out.splitlines()[0].split()
    assert header[:5] == ["NAME", "STATUS", "ROLES", "AGE", "VERSION"]
    by_name = {row[0]: row for row in rows(out)}
    assert by_name["master1"][1:3] == ["Ready", "control-plane,master"]
    assert by_name["master1"][4:6] == ["v1.31.4+k3s1", "192.168.40.102"]
    assert by_name["node1"][1:3] == ["NotReady", "<none>"]


async def test_kubectl_get_pods_all_namespaces(sim: KubeApiSim, kubectl_env: dict[str, str]) -> None:
    sim.create({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "coredns-1", "namespace": "kube-system"},
                "spec": {"nodeName": "master1", "containers": [{"name": "coredns", "image": "coredns:1.11"}]}})

    async def listed() -> list[list[str]]:
        code, out, _ = await kubectl(kubectl_env, "get", "pods", "-A")
        return [r for r in rows(out) if r[:4] == ["kube-system", "coredns-1", "1/1", "Running"]] if code == 0 else []

    await eventually(listed)


async def test_kubectl_deployment_lifecycle(sim: KubeApiSim, kubectl_env: dict[str, str]) -> None:
    code, out, err = await kubectl(kubectl_env, "create", "deployment", "web", "--image=nginx", "--replicas=2")
    assert (code, out.strip()) == (0, "deployment.apps/web created"), err

    async def running_pods() -> list[list[str]]:
        _, out, _ = await kubectl(kubectl_env, "get", "pods", "-l", "app=web", "-o", "wide")
        found = [r for r in rows(out) if r[1:3] == ["1/1", "Running"]]
        return found if len(found) == 2 else []

    pods = await eventually(running_pods)
    assert all(p[0].startswith("web-") for p in pods)
    assert {p[6] for p in pods} == {"master1", "node1"}  # spread over the Ready nodes
    code, out, _ = await kubectl(kubectl_env, "get", "deployment", "web")
    assert rows(out)[0][:4] == ["web", "2/2", "2", "2"]

    code, out, err = await kubectl(kubectl_env, "logs", f"pod/{pods[0][0]}")
    assert code == 0 and "Configuration complete; ready for start up" in out, err

    code, out, err = await kubectl(kubectl_env, "delete", "deployment", "web")
    assert (code, out.strip()) == (0, 'deployment.apps "web" deleted'), err

    async def no_pods() -> bool:
        _, out, err = await kubectl(kubectl_env, "get", "pods")
        return "No resources found" in err

    await eventually(no_pods)


async def test_kubectl_watch_prints_a_new_pod(sim: KubeApiSim, kubectl_env: dict[str, str]) -> None:
    binary = need_binary("kubectl")
    process = await asyncio.create_subprocess_exec(
        binary, "get", "pods", "-w", "--no-headers", "--request-timeout=20s", env=kubectl_env,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    try:
        await eventually(lambda: asyncio.sleep(0, sim.open_watches > 0))
        sim.create({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "watched", "namespace": "default"},
                    "spec": {"containers": [{"name": "c", "image": "busybox"}]}})
        assert process.stdout is not None
        line = await asyncio.wait_for(process.stdout.readline(), 10)
        assert line.decode().split()[0] == "watched"
    finally:
        process.kill()
        await process.wait()


async def test_kubectl_node_port_services(sim: KubeApiSim, kubectl_env: dict[str, str]) -> None:
    code, out, err = await kubectl(kubectl_env, "create", "service", "nodeport", "web", "--tcp=80:80",
                                   "--node-port=31681")
    assert code == 0, err
    code, out, _ = await kubectl(kubectl_env, "get", "service", "web")
    assert rows(out)[0][1] == "NodePort" and rows(out)[0][4] == "80:31681/TCP"
    assert rows(out)[0][2].startswith("10.43.")

    code, _, err = await kubectl(kubectl_env, "create", "service", "nodeport", "web2", "--tcp=80:80",
                                 "--node-port=31681")
    assert code != 0
    assert ('Service "web2" is invalid: spec.ports[0].nodePort: Invalid value: 31681: provided port is already '
            "allocated") in err
    code, _, err = await kubectl(kubectl_env, "create", "service", "nodeport", "web3", "--tcp=80:80",
                                 "--node-port=99")
    assert code != 0 and "provided port is not in the valid range" in err


async def test_kubectl_expose_load_balancer_then_metallb_pool(
        sim: KubeApiSim, kubectl_env: dict[str, str], tmp_path: Path) -> None:
    sim.install_metallb()  # MetalLB assigns addresses only while its controller runs
    sim.metallb_webhook_warmup = 0  # its webhook answers as soon as the controller is available
    await kubectl(kubectl_env, "create", "deployment", "nginx", "--image=nginx:1.27")
    code, out, err = await kubectl(kubectl_env, "expose", "deployment", "nginx", "--port=80", "--type=LoadBalancer")
    assert (code, out.strip()) == (0, "service/nginx exposed"), err
    _, out, _ = await kubectl(kubectl_env, "get", "service", "nginx")
    assert rows(out)[0][3] == "<pending>"

    manifest = tmp_path / "metallb.yaml"
    manifest.write_text(
        "apiVersion: v1\nkind: Namespace\nmetadata: {name: metallb-system}\n---\n"
        "apiVersion: metallb.io/v1beta1\nkind: IPAddressPool\nmetadata: {name: lan, namespace: metallb-system}\n"
        "spec: {addresses: ['10.0.0.5-10.0.0.10']}\n---\n"
        "apiVersion: metallb.io/v1beta1\nkind: L2Advertisement\nmetadata: {name: lan, namespace: metallb-system}\n"
        "spec: {ipAddressPools: [lan]}\n")

    async def applied() -> str:  # the webhook refuses for a moment after the install
        code, out, _ = await kubectl(kubectl_env, "apply", "-f", str(manifest))
        return out if code == 0 else ""

    out = await eventually(applied)
    assert "ipaddresspool.metallb.io/lan created" in out and "l2advertisement.metallb.io/lan created" in out
    code, out, err = await kubectl(kubectl_env, "apply", "-f", str(manifest))
    assert "ipaddresspool.metallb.io/lan unchanged" in out, err

    async def external_ip() -> bool:
        _, out, _ = await kubectl(kubectl_env, "get", "service", "nginx")
        return rows(out)[0][3] == "10.0.0.5"

    await eventually(external_ip)


# --- raw HTTP: Status bodies, watch semantics, discovery ---------------------------------------


@pytest.fixture
async def http(sim: KubeApiSim) -> AsyncIterator[Callable[..., Awaitable[tuple[int, Any]]]]:
    async with aiohttp.ClientSession(headers={"Authorization": f"Bearer {TOKEN}"}) as session:

        async def call(method: str, path: str, body: Any = None, content_type: str = "application/json",
                       **params: str) -> tuple[int, Any]:
            data = None if body is None else json.dumps(body)
            async with session.request(method, sim.url + path, data=data, params=params,
                                       headers={"Content-Type": content_type}, ssl=sim.client_ssl_context()) as resp:
                return resp.status, await resp.json(content_type=None)

        yield call


def assert_status(body: dict[str, Any], code: int, reason: str) -> None:
    assert body["kind"] == "Status" and body["apiVersion"] == "v1" and body["status"] == "Failure"
    assert (body["code"], body["reason"]) == (code, reason)
    assert body["message"]


async def read_watch(sim: KubeApiSim, path: str, **params: str) -> list[dict[str, Any]]:
    """All events of a watch stream, until the server ends it."""
    async with aiohttp.ClientSession(headers={"Authorization": f"Bearer {TOKEN}"}) as session:
        async with session.get(sim.url + path, params={"watch": "true", **params},
                               ssl=sim.client_ssl_context()) as resp:
            assert resp.status == 200
            return [json.loads(line) for line in (await resp.read()).splitlines() if line.strip()]


def pod(name: str, **labels: str) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name, "labels": labels},
            "spec": {"containers": [{"name": "c", "image": "busybox"}]}}


async def test_requires_the_bearer_token(sim: KubeApiSim) -> None:
    async with aiohttp.ClientSession() as session:
        for headers in ({}, {"Authorization": "Bearer wrong"}):
            async with session.get(f"{sim.url}/api/v1/pods", headers=headers, ssl=sim.client_ssl_context()) as resp:
                assert resp.status == 401
                assert_status(await resp.json(), 401, "Unauthorized")


async def test_not_found_already_exists_conflict_and_invalid_bodies(http: Callable[..., Any]) -> None:
    code, body = await http("GET", "/apis/apps/v1/namespaces/default/deployments/ghost")
    assert code == 404
    assert_status(body, 404, "NotFound")
    assert body["message"] == 'deployments.apps "ghost" not found'
    assert body["details"] == {"name": "ghost", "group": "apps", "kind": "deployments"}

    code, created = await http("POST", "/api/v1/namespaces/default/pods", pod("p1"))
    assert code == 201 and created["metadata"]["uid"] and created["status"]["phase"] == "Pending"
    code, body = await http("POST", "/api/v1/namespaces/default/pods", pod("p1"))
    assert code == 409
    assert_status(body, 409, "AlreadyExists")

    stale = {**created, "metadata": {**created["metadata"], "resourceVersion": "1", "labels": {"a": "b"}}}
    code, body = await http("PUT", "/api/v1/namespaces/default/pods/p1", stale)
    assert code == 409
    assert_status(body, 409, "Conflict")
    assert "the object has been modified" in body["message"]

    code, body = await http("POST", "/api/v1/namespaces/default/services", {
        "apiVersion": "v1", "kind": "Service", "metadata": {"name": "bad"},
        "spec": {"type": "NodePort", "ports": [{"port": 80, "nodePort": 40000}]}})
    assert code == 422
    assert_status(body, 422, "Invalid")
    assert body["details"]["causes"][0]["field"] == "spec.ports[0].nodePort"

    code, body = await http("POST", "/api/v1/namespaces/nowhere/pods", pod("p2"))
    assert code == 404 and body["message"] == 'namespaces "nowhere" not found'


async def test_merge_patch_and_replace_bump_the_resource_version(http: Callable[..., Any]) -> None:
    _, created = await http("POST", "/api/v1/namespaces/default/services", {
        "apiVersion": "v1", "kind": "Service", "metadata": {"name": "svc"}, "spec": {"ports": [{"port": 80}]}})
    code, patched = await http("PATCH", "/api/v1/namespaces/default/services/svc",
                               {"metadata": {"labels": {"tier": "web"}}}, "application/merge-patch+json")
    assert code == 200 and patched["metadata"]["labels"] == {"tier": "web"}
    assert int(patched["metadata"]["resourceVersion"]) > int(created["metadata"]["resourceVersion"])
    assert patched["spec"]["clusterIP"] == created["spec"]["clusterIP"]
    code, replaced = await http("PUT", "/api/v1/namespaces/default/services/svc", patched)
    assert code == 200  # nothing changed: the real API keeps the resourceVersion
    assert replaced["metadata"]["resourceVersion"] == patched["metadata"]["resourceVersion"]


async def test_list_with_label_and_field_selectors(sim: KubeApiSim, http: Callable[..., Any]) -> None:
    for name, app in (("a", "web"), ("b", "web"), ("c", "db")):
        sim.create({**pod(name, app=app), "spec": {"nodeName": "node1" if name == "a" else "master1",
                                                   "containers": [{"name": "c", "image": "busybox"}]}})
    _, body = await http("GET", "/api/v1/namespaces/default/pods", labelSelector="app=web")
    assert body["kind"] == "PodList" and int(body["metadata"]["resourceVersion"]) == sim.resource_version
    assert [p["metadata"]["name"] for p in body["items"]] == ["a", "b"]
    _, body = await http("GET", "/api/v1/pods", labelSelector="app!=web,app")
    assert [p["metadata"]["name"] for p in body["items"]] == ["c"]
    _, body = await http("GET", "/api/v1/pods", fieldSelector="spec.nodeName=master1,metadata.namespace=default")
    assert [p["metadata"]["name"] for p in body["items"]] == ["b", "c"]
    code, body = await http("GET", "/api/v1/pods", fieldSelector="spec.bogus=1")
    assert code == 400 and body["reason"] == "BadRequest"


async def test_watch_replays_from_resource_version_with_selectors(sim: KubeApiSim) -> None:
    since = sim.resource_version
    sim.create(pod("web-1", app="web"))
    sim.create(pod("db-1", app="db"))
    sim.delete("Pod", "default", "web-1")  # unscheduled: deleted at once
    events = await read_watch(sim, "/api/v1/namespaces/default/pods", resourceVersion=str(since),
                              labelSelector="app=web", timeoutSeconds="1")
    assert [(e["type"], e["object"]["metadata"]["name"]) for e in events] == [("ADDED", "web-1"),
                                                                             ("DELETED", "web-1")]
    versions = [int(e["object"]["metadata"]["resourceVersion"]) for e in events]
    assert versions == sorted(versions) and versions[0] > since


async def test_watch_from_a_compacted_version_gets_410(sim: KubeApiSim) -> None:
    old = sim.resource_version
    sim.create(pod("p"))
    sim.force_compact()
    events = await read_watch(sim, "/api/v1/pods", resourceVersion=str(old))
    assert len(events) == 1 and events[0]["type"] == "ERROR"
    assert_status(events[0]["object"], 410, "Expired")


async def test_history_limit_expires_old_versions() -> None:
    server = KubeApiSim(TOKEN, history_limit=3, tls=False, controller_delay=3600)  # only these changes
    await server.start()
    try:
        start = server.resource_version
        for i in range(5):
            server.create(pod(f"p{i}"))
        events = await read_watch(server, "/api/v1/pods", resourceVersion=str(start), timeoutSeconds="1")
        assert events[0]["object"]["code"] == 410
        recent = await read_watch(server, "/api/v1/pods", resourceVersion=str(server.resource_version - 2),
                                  timeoutSeconds="1")
        assert [e["object"]["metadata"]["name"] for e in recent] == ["p3", "p4"]
    finally:
        await server.stop()


async def test_watch_timeout_seconds_ends_the_stream(sim: KubeApiSim) -> None:
    started = time.monotonic()
    events = await read_watch(sim, "/api/v1/nodes", resourceVersion=str(sim.resource_version), timeoutSeconds="1")
    assert events == [] and 0.9 < time.monotonic() - started < 3


async def test_discovery_with_and_without_trailing_slash(sim: KubeApiSim, http: Callable[..., Any]) -> None:
    sim.install_metallb(controller=False)
    for path in ("/version", "/api", "/apis", "/api/v1", "/apis/apps/v1", "/apis/networking.k8s.io/v1",
                 "/apis/metallb.io/v1beta1"):
        plain, slashed = await http("GET", path), await http("GET", path + "/")
        assert plain == slashed and plain[0] == 200, path
    _, version = await http("GET", "/version")
    assert version["gitVersion"] == "v1.31.4+k3s1"
    _, groups = await http("GET", "/apis")
    assert {"apps", "networking.k8s.io", "apiextensions.k8s.io", "metallb.io"} <= {g["name"] for g in groups["groups"]}
    _, metallb = await http("GET", "/apis/metallb.io/v1beta1")
    assert {r["name"]: r["namespaced"] for r in metallb["resources"] if "/" not in r["name"]} == {
        "ipaddresspools": True, "l2advertisements": True}


async def test_restart_keeps_the_port_and_closes_watches(sim: KubeApiSim) -> None:
    port = sim.port
    watch = asyncio.create_task(read_watch(sim, "/api/v1/pods", resourceVersion=str(sim.resource_version)))
    await eventually(lambda: asyncio.sleep(0, sim.open_watches > 0))
    await sim.stop()
    assert await asyncio.wait_for(watch, 5) == []
    await sim.start()
    assert sim.port == port
    after = await read_watch(sim, "/api/v1/pods", resourceVersion=str(sim.resource_version), timeoutSeconds="0.2")
    assert after == []
