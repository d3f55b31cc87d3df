"""The simulated cluster runs workloads as a real one does: Deployments through ReplicaSets, rolling
updates with the real status counts, pods that fail to pull or crash, Events, logs, cordoned
nodes, Endpoints, k3s ServiceLB and MetalLB's controller. Seeded through the sim's Python API,
observed through its HTTP API (a real watch, logs, field selectors)."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import aiohttp
import pytest

from homelab_tui.sim.kube.workloads import surge_and_unavailable
from homelab_tui.sim.kube_api import KubeApiSim
from tests.integration.conftest import LAB_NODES, running_kube_sim

TOKEN = "sim-token-workloads"


@pytest.fixture
async def sim() -> AsyncIterator[KubeApiSim]:
    async with running_kube_sim(TOKEN, tls=False, time_scale=0.02) as server:
        yield server


@pytest.fixture
async def http(sim: KubeApiSim) -> AsyncIterator[Callable[..., Awaitable[tuple[int, Any]]]]:
    async with aiohttp.ClientSession(headers={"Authorization": f"Bearer {TOKEN}"}) as session:

        async def call(method: str, path: str, body: Any = None, **params: str) -> tuple[int, Any]:
            data = None if body is None else json.dumps(body)
            headers = {"Content-Type": "application/merge-patch+json" if method == "PATCH" else "application/json"}
            async with session.request(method, sim.url + path, data=data, params=params, headers=headers) as resp:
                text = await resp.text()
                return resp.status, (json.loads(text) if resp.content_type == "application/json" else text)

        yield call


async def until(check: Callable[[], Any], timeout: float = 10.0) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        result = check()
        if result:
            return result
        assert time.monotonic() < deadline, "condition not reached in time"
        await asyncio.sleep(0.02)


def deployment(name: str, image: str = "nginx:1.27", replicas: int = 2, **spec: Any) -> dict[str, Any]:
    return {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": name, "namespace": "default"},
            "spec": {"replicas": replicas, "selector": {"matchLabels": {"app": name}},
                     "template": {"metadata": {"labels": {"app": name}},
                                  "spec": {"containers": [{"name": "app", "image": image}]}}, **spec}}


def available(sim: KubeApiSim, name: str) -> bool:
    deploy = sim.get("Deployment", "default", name)
    status = deploy.get("status", {})
    return (status.get("observedGeneration") == deploy["metadata"]["generation"]
            and status.get("availableReplicas", 0) == status.get("updatedReplicas", 0) == deploy["spec"]["replicas"]
            and status.get("replicas") == deploy["spec"]["replicas"])


def waiting(pod: dict[str, Any]) -> dict[str, Any]:
    return pod["status"]["containerStatuses"][0]["state"].get("waiting") or {}


def test_max_surge_rounds_up_and_max_unavailable_down() -> None:
    def resolve(replicas: int, surge: Any = "25%", unavailable: Any = "25%") -> tuple[int, int]:
        return surge_and_unavailable(deployment("x", replicas=replicas, strategy={
            "type": "RollingUpdate", "rollingUpdate": {"maxSurge": surge, "maxUnavailable": unavailable}}))

    assert [resolve(n) for n in (1, 2, 3, 4, 10)] == [(1, 0), (1, 0), (1, 0), (1, 1), (3, 2)]
    assert resolve(3, 0, 0) == (0, 1)  # both 0: one may be unavailable
    assert resolve(4, "50%", 2) == (2, 2)


async def test_a_deployment_runs_its_pods_through_a_replica_set(sim: KubeApiSim) -> None:
    deploy = sim.create(deployment("web", replicas=3))
    await until(lambda: available(sim, "web"))
    [rs] = sim.list("ReplicaSet", "default")
    owner = rs["metadata"]["ownerReferences"][0]
    assert (owner["kind"], owner["name"], owner["uid"], owner["controller"]) == (
        "Deployment", "web", deploy["metadata"]["uid"], True)
    pod_hash = rs["metadata"]["labels"]["pod-template-hash"]
    assert rs["metadata"]["name"] == f"web-{pod_hash}"
    assert rs["metadata"]["annotations"]["deployment.kubernetes.io/revision"] == "1"
    assert sim.get("Deployment", "default", "web")["metadata"]["annotations"]["deployment.kubernetes.io/revision"] == "1"
    pods = sim.list("Pod", "default", "app=web")
    assert len(pods) == 3 and {p["spec"]["nodeName"] for p in pods} == {n for n, _ in LAB_NODES}
    assert all(p["metadata"]["name"].startswith(f"web-{pod_hash}-") for p in pods)
    assert {p["metadata"]["ownerReferences"][0]["uid"] for p in pods} == {rs["metadata"]["uid"]}
    assert rs["status"] == {"replicas": 3, "fullyLabeledReplicas": 3, "readyReplicas": 3, "availableReplicas": 3,
                            "observedGeneration": 1}

    sim.delete("Deployment", "default", "web")  # the garbage collector takes the ReplicaSet, then its pods
    await until(lambda: not sim.list("ReplicaSet", "default") and not sim.list("Pod", "default"))


async def test_a_template_change_rolls_the_pods_within_surge_and_unavailability(
        sim: KubeApiSim, http: Callable[..., Awaitable[tuple[int, Any]]]) -> None:
    sim.create(deployment("web", replicas=4))
    await until(lambda: available(sim, "web"))
    [old_rs] = sim.list("ReplicaSet", "default")
    seen: list[dict[str, Any]] = []
    pods_alive: list[int] = []

    async def watch() -> None:
        async with aiohttp.ClientSession(headers={"Authorization": f"Bearer {TOKEN}"}) as session:
            async with session.get(f"{sim.url}/apis/apps/v1/namespaces/default/deployments",
                                   params={"watch": "1", "fieldSelector": "metadata.name=web",
                                           "resourceVersion": str(sim.resource_version), "timeoutSeconds": "10"}) as resp:
                async for line in resp.content:
                    obj = json.loads(line)["object"]
                    seen.append(obj["status"])
                    pods_alive.append(len([p for p in sim.list("Pod", "default", "app=web")
                                           if not p["metadata"].get("deletionTimestamp")]))
                    if available(sim, "web") and obj["metadata"]["generation"] == 2 and \
                            obj["status"].get("observedGeneration") == 2 and \
                            obj["status"].get("updatedReplicas") == 4 == obj["status"].get("availableReplicas") and \
                            obj["status"].get("replicas") == 4:
                        return

    watcher = asyncio.create_task(watch())
    await asyncio.sleep(0.1)
    code, _ = await http("PATCH", "/apis/apps/v1/namespaces/default/deployments/web",
                         {"spec": {"template": {"spec": {"containers": [{"name": "app", "image": "nginx:1.28"}]}}}})
    assert code == 200
    await asyncio.wait_for(watcher, 10)

    assert sim.get("Deployment", "default", "web")["metadata"]["generation"] == 2
    # maxSurge 1, maxUnavailable 1 of 4: never more than 5 pods, never fewer than 3 available
    assert max(s.get("replicas", 0) for s in seen) == 5 and max(pods_alive) <= 5
    assert min(s.get("availableReplicas", 0) for s in seen) >= 3
    updated = [s.get("updatedReplicas", 0) for s in seen if s.get("observedGeneration") == 2]
    assert updated == sorted(updated) and updated[-1] == 4  # the new ReplicaSet only grows
    reasons = [next(c["reason"] for c in s.get("conditions", []) if c["type"] == "Progressing") for s in seen]
    assert "ReplicaSetUpdated" in reasons and reasons[-1] == "NewReplicaSetAvailable"
    assert "NewReplicaSetCreated" in reasons

    replica_sets = {rs["metadata"]["name"]: rs for rs in sim.list("ReplicaSet", "default")}
    assert replica_sets[old_rs["metadata"]["name"]]["spec"]["replicas"] == 0
    [new_rs] = [rs for name, rs in replica_sets.items() if name != old_rs["metadata"]["name"]]
    assert new_rs["metadata"]["annotations"]["deployment.kubernetes.io/revision"] == "2"
    assert {p["spec"]["containers"][0]["image"] for p in sim.list("Pod", "default", "app=web")} == {"nginx:1.28"}
    code, events = await http("GET", "/api/v1/namespaces/default/events",
                              fieldSelector="involvedObject.kind=Deployment,involvedObject.name=web,"
                                            "reason=ScalingReplicaSet")
    messages = [e["message"] for e in events["items"]]
    assert f"Scaled up replica set {new_rs['metadata']['name']} to 1 from 0" in messages
    assert f"Scaled down replica set {old_rs['metadata']['name']} to 0 from 1" in messages


async def test_an_image_that_cannot_be_pulled_backs_off_and_the_rollout_times_out(
        sim: KubeApiSim, http: Callable[..., Awaitable[tuple[int, Any]]]) -> None:
    sim.create(deployment("broken", image="nginx:does-not-exist", replicas=1, progressDeadlineSeconds=30))
    ref = "docker.io/library/nginx:does-not-exist"
    pull_error = f'failed to pull and unpack image "{ref}": failed to resolve reference "{ref}": {ref}: not found'
    pod = await until(lambda: next((p for p in sim.list("Pod", "default", "app=broken")
                                    if waiting(p).get("reason") == "ErrImagePull"), None))
    assert waiting(pod)["message"] == pull_error
    assert pod["status"]["phase"] == "Pending"
    name = pod["metadata"]["name"]
    back_off = await until(lambda: waiting(sim.get("Pod", "default", name)).get("reason") == "ImagePullBackOff"
                           and sim.get("Pod", "default", name))
    assert waiting(back_off)["message"] == (
        f'Back-off pulling image "nginx:does-not-exist": ErrImagePull: {pull_error}')
    await until(lambda: waiting(sim.get("Pod", "default", name)).get("reason") == "ErrImagePull")  # pulled again
    ready = next(c for c in sim.get("Pod", "default", name)["status"]["conditions"] if c["type"] == "Ready")
    assert (ready["status"], ready["reason"]) == ("False", "ContainersNotReady")

    code, events = await http("GET", "/api/v1/namespaces/default/events",
                              fieldSelector=f"involvedObject.name={name},involvedObject.kind=Pod")
    assert code == 200
    by_reason = {(e["reason"], e["message"]) for e in events["items"]}
    assert ("Failed", f'Failed to pull image "nginx:does-not-exist": {pull_error}') in by_reason
    assert ("Failed", "Error: ErrImagePull") in by_reason and ("Failed", "Error: ImagePullBackOff") in by_reason
    assert ("BackOff", 'Back-off pulling image "nginx:does-not-exist"') in by_reason
    pulling = next(e for e in events["items"] if e["reason"] == "Pulling")
    assert pulling["count"] >= 2 and pulling["involvedObject"]["fieldPath"] == "spec.containers{app}"
    code, body = await http("GET", f"/api/v1/namespaces/default/pods/{name}/log")
    assert code == 400 and "is waiting to start: " in body["message"]

    def progressing() -> dict[str, Any]:
        status = sim.get("Deployment", "default", "broken")["status"]
        return next(c for c in status["conditions"] if c["type"] == "Progressing")

    timed_out = await until(lambda: progressing()["reason"] == "ProgressDeadlineExceeded" and progressing())
    [rs] = sim.list("ReplicaSet", "default")
    assert (timed_out["status"], timed_out["message"]) == (
        "False", f'ReplicaSet "{rs["metadata"]["name"]}" has timed out progressing.')
    status = sim.get("Deployment", "default", "broken")["status"]
    assert status["unavailableReplicas"] == 1 and "availableReplicas" not in status


async def test_a_crashing_container_restarts_with_back_off_and_keeps_its_previous_log(
        sim: KubeApiSim, http: Callable[..., Awaitable[tuple[int, Any]]]) -> None:
    crashing = deployment("crasher", image="busybox:1.36", replicas=1)
    crashing["spec"]["template"]["spec"]["containers"][0]["command"] = ["sh", "-c", "echo starting; exit 3"]
    sim.create(crashing)
    [pod] = await until(lambda: sim.list("Pod", "default", "app=crasher"))
    name = pod["metadata"]["name"]
    path = f"/api/v1/namespaces/default/pods/{name}/log"
    await until(lambda: (sim.get("Pod", "default", name)["status"].get("phase") == "Running"))
    code, body = await http("GET", path, previous="true")
    assert (code, body["message"]) == (400, f'previous terminated container "app" in pod "{name}" not found')

    def container() -> dict[str, Any]:
        return sim.get("Pod", "default", name)["status"]["containerStatuses"][0]

    await until(lambda: container()["state"].get("waiting", {}).get("reason") == "CrashLoopBackOff")
    status = container()
    assert status["restartCount"] == 1 and not status["ready"]
    assert status["state"]["waiting"]["message"] == (
        f"back-off 10s restarting failed container=app pod={name}_default({pod['metadata']['uid']})")
    last = status["lastState"]["terminated"]
    assert (last["exitCode"], last["reason"]) == (3, "Error")
    code, previous_log = await http("GET", path, previous="true")
    assert code == 200 and previous_log.splitlines()[-1] == "app: exiting with status 3"
    await until(lambda: container()["restartCount"] >= 2)  # the back-off ends, it runs again
    await until(lambda: container()["state"].get("waiting", {}).get("message", "").startswith("back-off 20s"))
    code, events = await http("GET", "/api/v1/namespaces/default/events",
                              fieldSelector=f"involvedObject.uid={pod['metadata']['uid']},type=Warning")
    assert [e["reason"] for e in events["items"]] == ["BackOff"]
    assert events["items"][0]["count"] >= 2
    deploy = sim.get("Deployment", "default", "crasher")
    assert deploy["status"].get("availableReplicas", 0) == 0


async def test_logs_tail_since_timestamps_and_follow_without_loss(
        sim: KubeApiSim, http: Callable[..., Awaitable[tuple[int, Any]]]) -> None:
    sim.create(deployment("logger", replicas=1))
    await until(lambda: available(sim, "logger"))
    [pod] = sim.list("Pod", "default", "app=logger")
    name = pod["metadata"]["name"]
    path = f"{sim.url}/api/v1/namespaces/default/pods/{name}/log"
    code, text = await http("GET", f"/api/v1/namespaces/default/pods/{name}/log", tailLines="2", timestamps="true")
    stamp, _, line = text.splitlines()[0].partition(" ")
    assert len(text.splitlines()) == 2 and line.endswith("[notice] 1#1: nginx/1.27.3")
    assert stamp.endswith("Z") and stamp[10] == "T" and stamp[:4].isdigit()

    async with aiohttp.ClientSession(headers={"Authorization": f"Bearer {TOKEN}"}) as session:
        async with session.get(path, params={"follow": "true", "tailLines": "0"}) as resp:
            writer = sim.write_pod_logs("default", name, 2000, 1.0)
            received: list[str] = []
            while len(received) < 2000:
                received.append((await asyncio.wait_for(resp.content.readline(), 5)).decode().rstrip("\n"))
    assert await writer == 2000
    assert received == [f"line {n:08d} from {name}/app" for n in range(1, 2001)]
    code, text = await http("GET", f"/api/v1/namespaces/default/pods/{name}/log", sinceSeconds="60")
    assert len(text.splitlines()) == 2000 + 6


async def test_a_cordoned_node_takes_no_new_pods(sim: KubeApiSim, http: Callable[..., Awaitable[tuple[int, Any]]]) -> None:
    code, node = await http("PATCH", "/api/v1/nodes/node2", {"spec": {"unschedulable": True}})
    assert code == 200
    sim.set_node_ready("node1", False)
    sim.delete("Node", None, "master1")
    sim.create({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "waits", "namespace": "default"},
                "spec": {"containers": [{"name": "c", "image": "busybox"}]}})
    message = ("0/2 nodes are available: 1 node(s) had untolerated taint {node.kubernetes.io/not-ready: }, "
               "1 node(s) were unschedulable. preemption: 0/2 nodes are available: 2 Preemption is not helpful "
               "for scheduling.")
    pod = await until(lambda: sim.get("Pod", "default", "waits")["status"].get("conditions")
                      and sim.get("Pod", "default", "waits"))
    assert pod["status"]["conditions"][0]["message"] == message and "nodeName" not in pod["spec"]
    code, events = await http("GET", "/api/v1/namespaces/default/events", fieldSelector="reason=FailedScheduling")
    assert [e["message"] for e in events["items"]] == [message]
    await http("PATCH", "/api/v1/nodes/node2", {"spec": {"unschedulable": None}})
    await until(lambda: sim.get("Pod", "default", "waits")["spec"].get("nodeName") == "node2")


async def test_endpoints_and_slices_follow_the_pods(sim: KubeApiSim) -> None:
    sim.create(deployment("web", replicas=2))
    sim.create({"apiVersion": "v1", "kind": "Service", "metadata": {"name": "web", "namespace": "default"},
                "spec": {"selector": {"app": "web"}, "ports": [{"name": "http", "port": 80, "targetPort": 8080}]}})
    await until(lambda: available(sim, "web"))
    pods = {p["status"]["podIP"]: p for p in sim.list("Pod", "default", "app=web")}

    def endpoints() -> dict[str, Any]:
        return sim.get("Endpoints", "default", "web") or {}

    await until(lambda: len((endpoints().get("subsets") or [{}])[0].get("addresses", [])) == 2)
    [subset] = endpoints()["subsets"]
    assert subset["ports"] == [{"name": "http", "port": 8080, "protocol": "TCP"}]
    for address in subset["addresses"]:
        pod = pods[address["ip"]]
        assert address["nodeName"] == pod["spec"]["nodeName"]
        assert address["targetRef"] == {"kind": "Pod", "namespace": "default", "name": pod["metadata"]["name"],
                                        "uid": pod["metadata"]["uid"]}
    [eps] = sim.list("EndpointSlice", "default", "kubernetes.io/service-name=web")
    assert eps["addressType"] == "IPv4" and sorted(a for e in eps["endpoints"] for a in e["addresses"]) == sorted(pods)
    assert all(e["conditions"] == {"ready": True, "serving": True, "terminating": False} for e in eps["endpoints"])

    # a pod that is not ready is listed as such
    ip, pod = next(iter(pods.items()))
    status = pod["status"]
    sim.update_status("Pod", "default", pod["metadata"]["name"], {"conditions": [
        {**c, "status": "False"} if c["type"] == "Ready" else c for c in status["conditions"]]})
    await until(lambda: [a["ip"] for a in endpoints()["subsets"][0].get("notReadyAddresses", [])] == [ip])
    sim.delete("Service", "default", "web")
    await until(lambda: not endpoints() and not sim.list("EndpointSlice", "default", "kubernetes.io/service-name=web"))
    kubernetes = sim.get("Endpoints", "default", "kubernetes")
    assert kubernetes["subsets"] == [{"addresses": [{"ip": "192.168.40.102"}],
                                      "ports": [{"name": "https", "port": 6443, "protocol": "TCP"}]}]


def load_balancer(name: str) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "Service", "metadata": {"name": name, "namespace": "default"},
            "spec": {"type": "LoadBalancer", "selector": {"app": name}, "ports": [{"port": 80}]}}


def lb_ips(sim: KubeApiSim, name: str) -> list[str]:
    return [i["ip"] for i in sim.get("Service", "default", name)["status"].get("loadBalancer", {}).get("ingress", [])]


async def test_servicelb_runs_a_daemon_set_per_load_balancer_and_reports_the_nodes(sim: KubeApiSim) -> None:
    sim.servicelb = True
    svc = sim.create(load_balancer("web"))
    ds_name = f"svclb-web-{svc['metadata']['uid'][:8]}"
    await until(lambda: lb_ips(sim, "web") == [address for _, address in LAB_NODES])
    ds = sim.get("DaemonSet", "kube-system", ds_name)
    assert ds["metadata"]["labels"]["svccontroller.k3s.cattle.io/svcname"] == "web"
    assert ds["status"]["desiredNumberScheduled"] == ds["status"]["numberReady"] == 3
    pods = sim.list("Pod", "kube-system", f"app={ds_name}")
    assert sorted(p["spec"]["nodeName"] for p in pods) == [name for name, _ in LAB_NODES]
    assert pods[0]["spec"]["containers"][0]["ports"][0]["hostPort"] == 80

    sim.servicelb = False  # k3s restarted with `disable: [servicelb]`
    await until(lambda: sim.get("DaemonSet", "kube-system", ds_name) is None
                and not sim.list("Pod", "kube-system", f"app={ds_name}"))


async def test_metallb_assigns_only_from_pools_in_its_namespace_while_its_controller_runs(sim: KubeApiSim) -> None:
    sim.create(load_balancer("web"))
    sim.install_metallb()
    pool = {"apiVersion": "metallb.io/v1beta1", "kind": "IPAddressPool",
            "metadata": {"name": "lan", "namespace": "default"}, "spec": {"addresses": ["192.168.40.20-192.168.40.30"]}}

    def create_pool(namespace: str) -> bool:
        try:
            sim.create({**pool, "metadata": {**pool["metadata"], "namespace": namespace}})
        except Exception:  # the webhook refuses right after the install
            return False
        return True

    await until(lambda: create_pool("default"))
    await asyncio.sleep(0.3)
    assert lb_ips(sim, "web") == []  # seed 03's pool in default: MetalLB ignores it
    await until(lambda: create_pool("metallb-system"))
    await until(lambda: lb_ips(sim, "web") == ["192.168.40.20"])
    svc = sim.get("Service", "default", "web")
    assert svc["metadata"]["annotations"]["metallb.io/ip-allocated-from-pool"] == "lan"


async def test_the_scale_subresource_of_a_replica_set(sim: KubeApiSim, http: Callable[..., Awaitable[tuple[int, Any]]]) -> None:
    rs = {"apiVersion": "apps/v1", "kind": "ReplicaSet", "metadata": {"name": "bare", "namespace": "default"},
          "spec": {"replicas": 1, "selector": {"matchLabels": {"app": "bare"}},
                   "template": {"metadata": {"labels": {"app": "bare"}},
                                "spec": {"containers": [{"name": "c", "image": "nginx:1.27"}]}}}}
    sim.create(rs)
    code, scale = await http("PATCH", "/apis/apps/v1/namespaces/default/replicasets/bare/scale",
                             {"spec": {"replicas": 3}})
    assert code == 200 and scale["spec"]["replicas"] == 3
    await until(lambda: len(sim.list("Pod", "default", "app=bare")) == 3)
    code, scale = await http("GET", "/apis/apps/v1/namespaces/default/replicasets/bare/scale")
    assert scale["status"]["selector"] == "app=bare"
    await until(lambda: sim.get("ReplicaSet", "default", "bare")["status"]["readyReplicas"] == 3)


async def test_k3s_restarted_with_servicelb_disabled_removes_the_svclb_daemon_sets(tmp_path) -> None:
    from homelab_tui.sim.lab import Lab

    async with Lab("running", tmp_path / "lab") as lab:
        assert lab.kube.servicelb  # k3s' default
        svc = lab.kube.create(load_balancer("web"))
        ds_name = f"svclb-web-{svc['metadata']['uid'][:8]}"
        await until(lambda: lab.kube.get("DaemonSet", "kube-system", ds_name))
        master = lab.fleet["master1.kube.local"]
        for command in ("sh -c 'printf \"disable:\\n  - servicelb\\n\" > /etc/rancher/k3s/config.yaml'",
                        "systemctl restart k3s"):
            outcome = await master.run_command(command, root=True)
            assert outcome.exit_status == 0, outcome.stderr
        await until(lambda: lab.kube.get("DaemonSet", "kube-system", ds_name) is None)
        assert not lab.kube.servicelb


@pytest.mark.parametrize(("flags", "config", "disabled"), [
    ("--disable servicelb", "", ["servicelb"]),
    ("--disable=traefik,servicelb", "", ["servicelb", "traefik"]),
    ("", "disable: servicelb\n", ["servicelb"]),
    ("--disable=traefik", "disable:\n  - servicelb\n", ["servicelb", "traefik"]),
    ("--cluster-cidr=10.42.0.0/16", "write-kubeconfig-mode: '0644'\n", []),
])
def test_k3s_reads_disable_from_its_flags_and_config_file(flags: str, config: str, disabled: list[str]) -> None:
    from homelab_tui.sim.node.commands.kubernetes import K3S_CONFIG_PATH, k3s_unit, k3s_server_options
    from homelab_tui.sim.node.state import SimNodeState

    state = SimNodeState.prepared("master1", "192.168.40.102", hosts={})
    state.install_file("/etc/systemd/system/k3s.service", k3s_unit("server", flags.split()))
    if config:
        state.install_file(K3S_CONFIG_PATH, config)
    assert k3s_server_options(state).get("disable", []) == disabled


async def test_recreate_stops_every_old_pod_before_starting_new_ones(
        sim: KubeApiSim, http: Callable[..., Awaitable[tuple[int, Any]]]) -> None:
    sim.create(deployment("db", replicas=2, strategy={"type": "Recreate"}))
    await until(lambda: available(sim, "db"))
    [old_rs] = sim.list("ReplicaSet", "default")
    old_pods = {p["metadata"]["name"] for p in sim.list("Pod", "default", "app=db")}
    mixed: list[bool] = []

    async def no_mix() -> None:
        while True:
            names = {p["metadata"]["name"] for p in sim.list("Pod", "default", "app=db")}
            mixed.append(bool(names & old_pods) and bool(names - old_pods))
            await asyncio.sleep(0.005)

    watcher = asyncio.create_task(no_mix())
    try:
        code, _ = await http("PATCH", "/apis/apps/v1/namespaces/default/deployments/db",
                             {"spec": {"template": {"spec": {"containers": [{"name": "app", "image": "nginx:1.28"}]}}}})
        assert code == 200
        await until(lambda: available(sim, "db") and sim.get("Deployment", "default", "db")["status"]
                    ["observedGeneration"] == 2)
    finally:
        watcher.cancel()
    assert not any(mixed)
    messages = [e["message"] for e in sorted(sim.list("Event", "default"), key=lambda e: e["metadata"]["name"])
                if e["reason"] == "ScalingReplicaSet"]
    new_rs = next(rs for rs in sim.list("ReplicaSet", "default") if rs["metadata"]["name"] != old_rs["metadata"]["name"])
    assert messages[-2:] == [f"Scaled down replica set {old_rs['metadata']['name']} to 0 from 2",
                             f"Scaled up replica set {new_rs['metadata']['name']} to 2 from 0"]


async def test_ingress_addresses_come_from_traefik_only(sim: KubeApiSim) -> None:
    def ingress(name: str, klass: str) -> dict[str, Any]:
        return {"apiVersion": "networking.k8s.io/v1", "kind": "Ingress",
                "metadata": {"name": name, "namespace": "default"},
                "spec": {"ingressClassName": klass, "rules": [{"host": f"{name}.example.org"}]}}

    def addresses(name: str) -> list[str]:
        status = sim.get("Ingress", "default", name).get("status") or {}
        return [i["ip"] for i in status.get("loadBalancer", {}).get("ingress", [])]

    sim.create(ingress("web", "traefik"))
    sim.create(ingress("other", "nginx"))  # no nginx controller in k3s
    await until(lambda: addresses("web") == [address for _, address in LAB_NODES])
    assert addresses("other") == []
    sim.traefik = False  # k3s restarted with --disable traefik
    await until(lambda: addresses("web") == [])


async def test_a_host_port_fits_once_per_node(sim: KubeApiSim) -> None:
    app = deployment("edge", replicas=4)
    app["spec"]["template"]["spec"]["containers"][0]["ports"] = [{"containerPort": 80, "hostPort": 8080}]
    sim.create(app)

    def placed() -> tuple[list[str], list[dict[str, Any]]]:
        pods = sim.list("Pod", "default", "app=edge")
        return sorted(p["spec"].get("nodeName", "") for p in pods if p["spec"].get("nodeName")), [
            p for p in pods if not p["spec"].get("nodeName") and p["status"].get("conditions")]

    nodes, [waiting_pod] = await until(lambda: len(placed()[0]) == 3 and placed()[1] and placed())
    assert nodes == [name for name, _ in LAB_NODES]
    assert waiting_pod["status"]["conditions"][0]["message"] == (
        "0/3 nodes are available: 3 node(s) didn't have free ports for the requested pod ports. preemption: "
        "0/3 nodes are available: 3 Preemption is not helpful for scheduling.")
