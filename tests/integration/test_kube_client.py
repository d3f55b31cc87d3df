"""homelab_tui.clients.kube against the simulated API server, over the real HTTPS wire."""

from __future__ import annotations

import asyncio
import contextlib
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from homelab_tui.clients.kube import (
    CONNECTED,
    RETRYING,
    KubeClient,
    KubeConfigError,
    KubeError,
    KubeUnreachable,
    UnknownKind,
    list_contexts,
)
from homelab_tui.models import EventType, KubeEvent, Service
from homelab_tui.sim.kube_api import KubeApiSim

TOKEN = "client-test-token-9c8b"


@pytest.fixture
async def sim() -> AsyncIterator[KubeApiSim]:
    server = KubeApiSim(TOKEN)
    server.add_node("master1", "192.168.40.102")
    server.add_node("node1", "192.168.40.103", roles=(), arch="amd64")
    server.create({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "metallb-system"}})
    async with server:
        yield server


@pytest.fixture
async def kube(kubeconfig: Path) -> AsyncIterator[KubeClient]:
    async with KubeClient(kubeconfig, retry_base=0.05, retry_cap=0.2) as client:
        yield client


class Watching:
    """Runs kube.watch() in a task and hands out its events one by one."""

    def __init__(self, kube: KubeClient, kind: str, **kwargs: Any):
        self.events: asyncio.Queue[KubeEvent] = asyncio.Queue()
        self.task = asyncio.create_task(self._pump(kube, kind, kwargs))

    async def _pump(self, kube: KubeClient, kind: str, kwargs: dict[str, Any]) -> None:
        async for event in kube.watch(kind, **kwargs):
            await self.events.put(event)

    async def next(self, timeout: float = 5.0) -> KubeEvent:
        return await asyncio.wait_for(self.events.get(), timeout)

    async def next_of(self, event_type: EventType, name: str | None = None, timeout: float = 5.0) -> KubeEvent:
        while True:
            event = await self.next(timeout)
            if event.type == event_type and (name is None or (event.obj is not None and event.obj.name == name)):
                return event

    async def close(self) -> None:
        self.task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self.task


@pytest.fixture
async def watching(kube: KubeClient) -> AsyncIterator[Any]:
    opened: list[Watching] = []

    def start(kind: str, **kwargs: Any) -> Watching:
        opened.append(Watching(kube, kind, **kwargs))
        return opened[-1]

    yield start
    for watch in opened:
        await watch.close()


def service(name: str, **spec: Any) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "Service", "metadata": {"name": name, "namespace": "default"},
            "spec": {"selector": {"app": name}, "ports": [{"port": 80}], **spec}}


def deployment(name: str, replicas: int = 1, image: str = "nginx:1.27") -> dict[str, Any]:
    return {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": name, "namespace": "default"},
            "spec": {"replicas": replicas, "selector": {"matchLabels": {"app": name}},
                     "template": {"metadata": {"labels": {"app": name}},
                                  "spec": {"containers": [{"name": "web", "image": image}]}}}}


async def wait_until(check: Any, timeout: float = 5.0) -> Any:
    async with asyncio.timeout(timeout):
        while not (result := await check()):
            await asyncio.sleep(0.05)
    return result


async def test_lists_convert_to_models(sim: KubeApiSim, kube: KubeClient) -> None:
    sim.set_node_ready("node1", False)
    assert await kube.version() == "v1.31.4+k3s1"
    nodes = {n.name: n for n in await kube.list_nodes()}
    master, worker = nodes["master1"], nodes["node1"]
    assert (master.ready, master.roles, master.internal_ip, master.arch) == (
        True, ("control-plane", "master"), "192.168.40.102", "arm64")
    assert (master.status, master.cpu, master.memory, master.os_image) == ("Ready", "4", "3880Mi", "Ubuntu 24.04.1 LTS")
    assert (worker.ready, worker.status, worker.roles, worker.arch) == (False, "NotReady", (), "amd64")

    await kube.server_side_apply(deployment("web", replicas=2))
    await kube.server_side_apply(service("web", type="NodePort", ports=[{"port": 80, "nodePort": 31681}]))
    pods = await wait_until(lambda: _running(kube, "app=web", 2))
    assert {p.node for p in pods} == {"master1"}  # node1 is NotReady
    assert all(p.ip.startswith("10.42.") and p.ready_containers == p.total_containers == 1 for p in pods)
    assert len({p.ip for p in pods}) == 2
    [deploy] = await kube.list_deployments("default")
    assert (deploy.name, deploy.replicas, deploy.selector) == ("web", 2, {"app": "web"})
    services = {s.name: s for s in await kube.list_services()}
    assert services["kubernetes"].cluster_ip == "10.43.0.1"
    web = services["web"]
    assert (web.type, web.ports[0].port, web.ports[0].node_port) == ("NodePort", 80, 31681)
    assert web.selector == {"app": "web"}


async def _running(kube: KubeClient, selector: str, count: int) -> list[Any]:
    pods = [p for p in await kube.list_pods("default", label_selector=selector) if p.status == "Running"]
    return pods if len(pods) == count else []


async def test_pod_status_follows_the_kubectl_column(sim: KubeApiSim, kube: KubeClient) -> None:
    sim.set_node_ready("master1", False)
    sim.set_node_ready("node1", False)
    sim.create({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p", "namespace": "default"},
                "spec": {"containers": [{"name": "c", "image": "busybox"}]}})
    assert (await kube.list_pods())[0].status == "Pending"  # no Ready node to schedule on
    sim.set_node_ready("node1", True)
    await wait_until(lambda: _running(kube, "", 1))
    sim.update_status("Pod", "default", "p", {"containerStatuses": [{
        "name": "c", "ready": False, "restartCount": 4, "image": "busybox",
        "state": {"waiting": {"reason": "CrashLoopBackOff"}}}]})
    [pod] = await kube.list_pods()
    assert (pod.status, pod.ready_containers, pod.restarts, pod.node) == ("CrashLoopBackOff", 0, 4, "node1")
    sim.delete("Pod", "default", "p", grace_period=30)
    assert [p.status for p in await kube.list_pods()] in (["Terminating"], [])


async def test_watch_reports_add_modify_delete(sim: KubeApiSim, kube: KubeClient, watching: Any) -> None:
    watch = watching("Service", namespace="default")
    first = await watch.next()
    assert first.type == EventType.RELISTED and [s.name for s in first.objects] == ["kubernetes"]

    await kube.server_side_apply(service("web"))
    added = await watch.next_of(EventType.ADDED, "web")
    assert isinstance(added.obj, Service) and added.obj.cluster_ip.startswith("10.43.")
    await kube.merge_patch("Service", "default", "web", {"metadata": {"labels": {"tier": "front"}}})
    modified = await watch.next_of(EventType.MODIFIED, "web")
    assert modified.obj is not None and modified.obj.raw["metadata"]["labels"] == {"tier": "front"}
    assert int(modified.resource_version) > int(added.resource_version)
    assert await kube.delete("Service", "default", "web") is True
    assert (await watch.next_of(EventType.DELETED, "web")).obj is not None
    assert await kube.delete("Service", "default", "web") is False


async def test_watch_relists_after_410_without_duplicates(sim: KubeApiSim, kube: KubeClient, watching: Any) -> None:
    watch = watching("Service")
    assert (await watch.next()).type == EventType.RELISTED
    await kube.server_side_apply(service("a"))
    await watch.next_of(EventType.ADDED, "a")

    sim.force_compact()
    relisted = await watch.next()
    assert relisted.type == EventType.RELISTED
    names = [s.name for s in relisted.objects]
    assert sorted(names) == ["a", "kubernetes"] and len(set(names)) == len(names)
    await kube.server_side_apply(service("b"))
    after = await watch.next()
    assert (after.type, after.obj and after.obj.name) == (EventType.ADDED, "b")  # nothing replayed twice


async def test_watch_reconnects_and_relists_after_api_restart(sim: KubeApiSim, kubeconfig: Path) -> None:
    states: list[tuple[str, str]] = []
    async with KubeClient(kubeconfig, retry_base=0.05, retry_cap=0.2,
                          on_status=lambda state, reason: states.append((state, reason))) as kube:
        watch = Watching(kube, "Service")
        try:
            assert (await watch.next()).type == EventType.RELISTED
            await sim.stop()
            sim.create(service("made-while-down"))
            await wait_until(lambda: asyncio.sleep(0, kube.state == RETRYING))
            assert "127.0.0.1" in states[-1][1] and TOKEN not in states[-1][1]
            await sim.start()
            relisted = await watch.next(timeout=5)
            assert relisted.type == EventType.RELISTED
            assert "made-while-down" in {s.name for s in relisted.objects}
            assert [s for s, _ in states][0] == CONNECTED and states[-1] == (CONNECTED, "")
        finally:
            await watch.close()


async def test_server_side_apply_changes_only_what_differs(sim: KubeApiSim, kube: KubeClient) -> None:
    sim.metallb_webhook_warmup = 0
    sim.install_metallb()  # pools are served once its CRDs exist, and assigned while its controller runs
    await sim.wait_for_metallb()
    pool = {"apiVersion": "metallb.io/v1beta1", "kind": "IPAddressPool",
            "metadata": {"name": "lan", "namespace": "metallb-system"}, "spec": {"addresses": ["10.0.0.5-10.0.0.10"]}}
    for obj in (deployment("web"), service("web", type="LoadBalancer"), pool):
        created = await kube.server_side_apply(obj)
        again = await kube.server_side_apply(obj)
        assert again["metadata"].get("generation") == created["metadata"].get("generation"), obj["kind"]
        managers = {entry["manager"] for entry in again["metadata"].get("managedFields", [])}
        assert "homelab-tui" in managers, obj["kind"]

    preview = await kube.server_side_apply(deployment("web", replicas=3), dry_run=True)
    assert preview["spec"]["replicas"] == 3 and sim.get("Deployment", "default", "web")["spec"]["replicas"] == 1
    await kube.server_side_apply(deployment("web", replicas=3))
    live = sim.get("Deployment", "default", "web")
    assert live is not None and live["spec"]["replicas"] == 3 and live["metadata"]["generation"] == 2
    await wait_until(lambda: _running(kube, "app=web", 3))

    await kube.server_side_apply({**pool, "spec": {"addresses": ["10.0.0.20/30"]}})
    lb = await wait_until(lambda: _lb_ip(kube, "web"))
    assert lb == "10.0.0.20"  # reassigned from the changed pool


async def test_unknown_kind_is_named(kube: KubeClient) -> None:
    with pytest.raises(UnknownKind, match='no matches for kind "Widget" in version "example.org/v1"'):
        await kube.server_side_apply({"apiVersion": "example.org/v1", "kind": "Widget",
                                      "metadata": {"name": "w", "namespace": "default"}})


async def _lb_ip(kube: KubeClient, name: str) -> str:
    services = {s.name: s for s in await kube.list_services("default")}
    return services[name].external_ips[0] if services[name].external_ips else ""


async def test_delete_deployment_removes_its_pods(sim: KubeApiSim, kube: KubeClient) -> None:
    await kube.server_side_apply(deployment("web", replicas=2))
    await wait_until(lambda: _running(kube, "app=web", 2))
    assert await kube.delete("Deployment", "default", "web") is True
    await wait_until(lambda: _no_pods(kube))


async def _no_pods(kube: KubeClient) -> bool:
    return not await kube.list_pods("default")


async def test_errors_carry_the_status(sim: KubeApiSim, kube: KubeClient, tmp_path: Path) -> None:
    await kube.create(service("web", type="NodePort", ports=[{"port": 80, "nodePort": 31681}]))
    with pytest.raises(KubeError) as duplicate:
        await kube.create(service("web"))
    assert (duplicate.value.code, duplicate.value.reason) == (409, "AlreadyExists")
    with pytest.raises(KubeError) as taken:
        await kube.create(service("web2", type="NodePort", ports=[{"port": 80, "nodePort": 31681}]))
    assert taken.value.code == 422 and "provided port is already allocated" in taken.value.message

    config = yaml.safe_load(Path(sim.write_kubeconfig(tmp_path / "bad")).read_text())
    config["users"][0]["user"]["token"] = "not-the-token"
    (tmp_path / "bad").write_text(yaml.safe_dump(config))
    async with KubeClient(tmp_path / "bad") as wrong:
        with pytest.raises(KubeError) as denied:
            await wrong.list_nodes()
    assert denied.value.code == 401 and "not-the-token" not in str(denied.value)


async def test_pod_logs_plain_and_follow(sim: KubeApiSim, kube: KubeClient) -> None:
    await kube.server_side_apply(deployment("web"))
    [pod] = await wait_until(lambda: _running(kube, "app=web", 1))
    lines = [line async for line in kube.stream_logs("default", pod.name)]
    assert "/docker-entrypoint.sh: Configuration complete; ready for start up" in lines

    followed: asyncio.Queue[str] = asyncio.Queue()

    async def follow() -> None:
        async for line in kube.stream_logs("default", pod.name, follow=True, tail_lines=1):
            await followed.put(line)

    task = asyncio.create_task(follow())
    try:
        assert (await asyncio.wait_for(followed.get(), 5)).endswith("start worker processes")
        sim.append_pod_log("default", pod.name, "GET / 200")
        assert await asyncio.wait_for(followed.get(), 5) == "GET / 200"
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
    with pytest.raises(KubeError) as missing:
        [line async for line in kube.stream_logs("default", "ghost")]
    assert missing.value.code == 404


def _write_config(path: Path, clusters: dict[str, str], contexts: dict[str, str], current: str | None,
                  token: str = TOKEN) -> Path:
    config: dict[str, Any] = {
        "apiVersion": "v1", "kind": "Config",
        "clusters": [{"name": n, "cluster": {"server": s, "insecure-skip-tls-verify": True}}
                     for n, s in clusters.items()],
        "users": [{"name": "admin", "user": {"token": token}}],
        "contexts": [{"name": n, "context": {"cluster": c, "user": "admin"}} for n, c in contexts.items()],
    }
    if current:
        config["current-context"] = current
    path.write_text(yaml.safe_dump(config))
    return path


async def test_kubeconfig_path_list_merges_like_kubectl(sim: KubeApiSim, tmp_path: Path,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    first = _write_config(tmp_path / "first", {"lab": sim.url}, {"lab": "lab"}, "lab")
    # The second file redefines "lab" (ignored: the first file wins) and adds an unreachable cluster.
    second = _write_config(tmp_path / "second", {"lab": "https://127.0.0.1:1", "gone": "https://127.0.0.1:1"},
                           {"lab": "gone", "other": "gone"}, "other")
    monkeypatch.setenv("KUBECONFIG", f"{first}:{tmp_path / 'missing'}:{second}")

    contexts = {c.name: c for c in list_contexts()}
    assert sorted(contexts) == ["lab", "other"]
    assert contexts["lab"].current and contexts["lab"].cluster == "lab" and not contexts["other"].current

    async with KubeClient() as kube:
        assert kube.context == "lab" and kube.server == sim.url
        assert await kube.version() == "v1.31.4+k3s1"
    async with KubeClient(context="other") as other:
        with pytest.raises(KubeUnreachable):
            await other.version()
    with pytest.raises(KubeConfigError, match="nope"):
        await KubeClient(context="nope").open()
    monkeypatch.setenv("KUBECONFIG", str(tmp_path / "missing"))
    with pytest.raises(KubeConfigError):
        list_contexts()


async def test_seeded_pods_are_listed_quickly(sim: KubeApiSim, kube: KubeClient) -> None:
    started = asyncio.get_running_loop().time()
    nodes = sim.seed_pods(10_000, 50, namespace_count=20)
    assert len(nodes) == 50 and asyncio.get_running_loop().time() - started < 5
    pods = await kube.list_pods()
    assert len(pods) == 10_000 and len({p.ip for p in pods}) == 10_000
    assert {p.status for p in pods} == {"Running"} and len({p.node for p in pods}) == 50
    assert len(await kube.list_pods("app-ns-07")) == 500


async def test_pods_go_through_the_kubelet_stages(tmp_path: Path) -> None:
    server = KubeApiSim(TOKEN, controller_delay=0.05)
    server.add_node("node1", "192.168.40.103", roles=())
    await server.start()
    try:
        async with KubeClient(server.write_kubeconfig(tmp_path / "config")) as kube:
            watch = Watching(kube, "Pod", namespace="default")
            try:
                assert (await watch.next()).objects == ()
                await kube.server_side_apply(deployment("web"))
                statuses = []
                while not statuses or statuses[-1] != "Running":
                    event = await watch.next()
                    assert event.obj is not None
                    statuses.append(event.obj.status)
                assert statuses == ["Pending", "ContainerCreating", "Running"]
                await kube.delete("Pod", "default", event.obj.name)
                assert (await watch.next_of(EventType.MODIFIED, event.obj.name)).obj.status == "Terminating"
                await watch.next_of(EventType.DELETED, event.obj.name)
                replacement = await watch.next_of(EventType.ADDED)
                assert replacement.obj is not None and replacement.obj.name != event.obj.name
            finally:
                await watch.close()
    finally:
        await server.stop()


async def test_prefetched_lists_and_the_preview_of_a_long_list(sim: KubeApiSim, kubeconfig: Path) -> None:
    sim.seed_pods(3_000, 50, namespace_count=5)
    async with KubeClient(kubeconfig) as kube:
        kube.prefetch("Node", "Pod")
        watching = Watching(kube, "Pod", keep_raw=False, preview=40)
        try:
            preview = [await watching.next() for _ in range(40)]
            assert {e.type for e in preview} == {EventType.ADDED} and all(e.obj.raw == {} for e in preview)
            relisted = await watching.next()
            assert relisted.type is EventType.RELISTED and len(relisted.objects) == 3_000
            assert relisted.objects[:40] == tuple(e.obj for e in preview) and relisted.resource_version
            assert {p.key for p in relisted.objects} == {
                f"{p['metadata']['namespace']}/{p['metadata']['name']}" for p in sim.list("Pod")}
            sim.create({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "late", "namespace": "default"},
                        "spec": {"containers": [{"name": "sh", "image": "busybox"}]}})
            assert (await watching.next_of(EventType.ADDED, "late")).obj.namespace == "default"
        finally:
            await watching.close()  # a cancelled watch ends (wait_for in 3.11 could swallow the cancel)
        assert {n.name for n in await kube.list_nodes()} >= {"master1", "node1"}  # the prefetched Node list
        assert not kube._prefetched
    async with KubeClient(kubeconfig) as unused:
        unused.prefetch("Node", "Pod")  # closing cancels what was never taken


async def test_an_exec_plugin_user_gets_its_token_from_the_plugin(sim: KubeApiSim, tmp_path: Path) -> None:
    plugin = tmp_path / "credential.py"
    plugin.write_text("import json\nprint(json.dumps({'apiVersion': 'client.authentication.k8s.io/v1', "
                      f"'kind': 'ExecCredential', 'status': {{'token': {TOKEN!r}}}}}))\n")
    config = yaml.safe_load(Path(sim.write_kubeconfig(tmp_path / "config")).read_text())
    config["users"][0]["user"] = {"exec": {"apiVersion": "client.authentication.k8s.io/v1", "command": sys.executable,
                                           "args": [str(plugin)], "interactiveMode": "Never"}}
    (tmp_path / "config").write_text(yaml.safe_dump(config))
    async with KubeClient(tmp_path / "config") as kube:
        assert {n.name for n in await kube.list_nodes()} == {"master1", "node1"}
