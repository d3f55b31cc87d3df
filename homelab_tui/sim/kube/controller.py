"""The controller of the simulated cluster, one asyncio task that reconciles after every change:
it does what kube-controller-manager, the scheduler, the kubelets and MetalLB would. Deployments
get their pods (Pending -> ContainerCreating -> Running, one stage a pass), pods are scheduled to
the least loaded Ready node with an IP from its /24, pods being deleted or on a vanished node go,
pods of a deleted deployment are collected, LoadBalancer services get IPs from the
IPAddressPools, and ingresses get the Ready nodes' addresses."""

from __future__ import annotations

import asyncio
import ipaddress
import json
import logging
import zlib
from collections.abc import Iterator

from .objects import NAME_SUFFIX_ALPHABET, clone, labels_of, object_key, timestamp
from .printing import node_address, node_status, pod_status
from .resources import JsonObject, resource_type
from .store import Store
from .verbs import Verbs

log = logging.getLogger(__name__)
Network = ipaddress.IPv4Network | ipaddress.IPv6Network


def node_conditions(ready: bool) -> list[JsonObject]:
    """The conditions a kubelet reports: no pressure, and Ready or not."""
    now = timestamp()
    conditions = [{"type": t, "status": "False", "reason": f"KubeletHas{r}", "message": m,
                   "lastHeartbeatTime": now, "lastTransitionTime": now}
                  for t, r, m in (("MemoryPressure", "SufficientMemory", "kubelet has sufficient memory available"),
                                  ("DiskPressure", "NoDiskPressure", "kubelet has no disk pressure"),
                                  ("PIDPressure", "SufficientPID", "kubelet has sufficient PID available"))]
    conditions.append({"type": "Ready", "status": "True" if ready else "False",
                       "reason": "KubeletReady" if ready else "KubeletNotReady",
                       "message": "kubelet is posting ready status" if ready else "container runtime network "
                       "not ready: NetworkReady=false reason:NetworkPluginNotReady",
                       "lastHeartbeatTime": now, "lastTransitionTime": now})
    return conditions


def pool_addresses(pool: JsonObject) -> Iterator[str]:
    """Every address of a MetalLB IPAddressPool, in order ("a-b" ranges and CIDRs)."""
    for entry in pool.get("spec", {}).get("addresses") or []:
        entry = str(entry).strip()
        try:
            if "-" in entry:
                first, last = (ipaddress.ip_address(p.strip()) for p in entry.split("-", 1))
                for value in range(int(first), int(last) + 1):
                    yield str(ipaddress.ip_address(value))
            else:
                yield from (str(ip) for ip in ipaddress.ip_network(entry, strict=False))
        except ValueError:
            continue


def _in_pool(pool: JsonObject, ip: str) -> bool:
    return any(candidate == ip for candidate in pool_addresses(pool))


class Controller:
    """Reconciles the store after each change, `delay` seconds later (0: at once). Owns the pod
    network: each node's /24 of the pod CIDR and the next free IP in it."""

    def __init__(self, store: Store, verbs: Verbs, pod_cidr: Network, delay: float) -> None:
        self._store = store
        self._verbs = verbs
        self._pod_cidr = pod_cidr
        self.delay = delay
        self._node_subnets: dict[str, Network] = {}
        self._ip_cursors: dict[str, int] = {}
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._store.changed = asyncio.Event()
        self._task = asyncio.create_task(self._run(), name="kube-sim-controller")
        self._store.changed.set()

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
            self._task = None

    async def _run(self) -> None:
        """Reconcile after every change; each pass advances every object by at most one stage."""
        while True:
            await self._store.changed.wait()
            self._store.changed.clear()
            await asyncio.sleep(self.delay)
            try:
                self.reconcile()
            except Exception:  # a bug in one pass must not stop the controller for good
                log.exception("kube sim controller pass failed")

    def reconcile(self) -> None:
        self._advance_pods()
        self._reconcile_deployments()
        self._assign_load_balancers()
        self._update_ingresses()

    def set_pod_cidr(self, pod_cidr: Network) -> None:
        """Give nodes pod subnets from `pod_cidr` from now on (the cluster was installed with it)."""
        self._pod_cidr = pod_cidr
        self._node_subnets.clear()

    def node_subnet(self, node_name: str) -> Network:
        """The node's pod subnet, given to it the first time it is asked for (as the node
        controller allocates podCIDRs)."""
        if node_name not in self._node_subnets:
            self._node_subnets[node_name] = self._subnet(len(self._node_subnets))
        return self._node_subnets[node_name]

    def _subnet(self, index: int) -> Network:
        if self._pod_cidr.prefixlen >= 24:
            return self._pod_cidr
        base = int(self._pod_cidr.network_address) + index * 256
        return ipaddress.ip_network(f"{ipaddress.ip_address(base)}/24")

    def used_pod_ips(self) -> set[str]:
        pods = self._store.objects["pods"].values()
        return {p["status"]["podIP"] for p in pods if p.get("status", {}).get("podIP")}

    def _allocate_pod_ip(self, node_name: str, used: set[str]) -> str:
        """The next free IP of the node's /24 (like flannel), else of the whole pod CIDR."""
        subnet = self._node_subnets.get(node_name, self._pod_cidr)
        for network, cursor in ((subnet, node_name), (self._pod_cidr, "")):
            base, usable = int(network.network_address), network.num_addresses - 3  # skip net, .1 bridge, bcast
            start = self._ip_cursors.get(cursor, 0)
            for step in range(usable):
                offset = (start + step) % usable
                ip = str(ipaddress.ip_address(base + 2 + offset))
                if ip not in used:
                    used.add(ip)
                    self._ip_cursors[cursor] = offset + 1
                    return ip
        raise RuntimeError(f"pod CIDR {self._pod_cidr} exhausted")

    def bind_pod(self, pod: JsonObject, node: JsonObject, used_ips: set[str], now: str) -> JsonObject:
        """Schedule `pod` (a private copy, changed in place) to `node`: its containers are being created."""
        host_ip = node_address(node, "InternalIP")
        pod_ip = self._allocate_pod_ip(node["metadata"]["name"], used_ips)
        pod["spec"]["nodeName"] = node["metadata"]["name"]
        pod["status"] = {
            "phase": "Pending", "hostIP": host_ip, "hostIPs": [{"ip": host_ip}], "podIP": pod_ip,
            "podIPs": [{"ip": pod_ip}], "startTime": now, "qosClass": "BestEffort",
            "conditions": [{"type": "PodScheduled", "status": "True", "lastTransitionTime": now}],
            "containerStatuses": [
                {"name": c["name"], "image": c["image"], "imageID": "", "ready": False, "started": False,
                 "restartCount": 0, "state": {"waiting": {"reason": "ContainerCreating"}}, "lastState": {}}
                for c in pod["spec"]["containers"]],
        }
        return pod

    def start_pod(self, pod: JsonObject, now: str) -> JsonObject:
        """Start the containers of a bound `pod` (a private copy, changed in place)."""
        status = pod["status"]
        status["phase"] = "Running"
        status["conditions"] = [
            {"type": t, "status": "True", "lastTransitionTime": now}
            for t in ("PodReadyToStartContainers", "Initialized", "Ready", "ContainersReady", "PodScheduled")]
        for container in status["containerStatuses"]:
            container.update({
                "ready": True, "started": True, "state": {"running": {"startedAt": now}},
                "imageID": f"docker.io/library/{container['image'].split(':')[0]}@sha256:" + "0" * 64,
                "containerID": f"containerd://{self._store.random.getrandbits(256):064x}",
            })
        self._store.logs[object_key(pod)] = [line for c in pod["spec"]["containers"] for line in _startup_log(c, now)]
        return pod

    def _advance_pods(self) -> None:
        pod_rt, nodes = resource_type("Pod"), self._store.objects["nodes"]
        ready_nodes = sorted((n for n in nodes.values() if node_status(n) == "Ready"),
                             key=lambda n: n["metadata"]["name"])
        load = {n["metadata"]["name"]: 0 for n in ready_nodes}
        used_ips: set[str] | None = None
        for pod in list(self._store.objects["pods"].values()):
            node_name = pod["spec"].get("nodeName")
            if node_name in load:
                load[node_name] += 1
        for pod in list(self._store.objects["pods"].values()):
            node_name, phase = pod["spec"].get("nodeName"), pod.get("status", {}).get("phase")
            if pod["metadata"].get("deletionTimestamp") or (node_name and ("", node_name) not in nodes):
                self._store.commit(pod_rt, "DELETED", clone(pod), pod)
                self._store.close_logs(object_key(pod))
            elif phase in (None, "Pending") and not pod.get("status", {}).get("containerStatuses"):
                node = nodes.get(("", node_name)) if node_name else None
                if node is None and ready_nodes:
                    node = min(ready_nodes, key=lambda n: load[n["metadata"]["name"]])
                    load[node["metadata"]["name"]] += 1
                if node is not None:
                    used_ips = self.used_pod_ips() if used_ips is None else used_ips
                    self._store.commit(pod_rt, "MODIFIED", self.bind_pod(clone(pod), node, used_ips, timestamp()), pod)
                elif not pod.get("status", {}).get("conditions"):
                    self._store.commit(pod_rt, "MODIFIED", _unschedulable(pod, len(nodes)), pod)
            elif phase == "Pending" and node_name:
                self._store.commit(pod_rt, "MODIFIED", self.start_pod(clone(pod), timestamp()), pod)

    def _reconcile_deployments(self) -> None:
        pod_rt, deploy_rt = resource_type("Pod"), resource_type("Deployment")
        owned: dict[str, list[JsonObject]] = {}
        for pod in self._store.objects["pods"].values():
            owner = next((o for o in pod["metadata"].get("ownerReferences") or [] if o.get("kind") == "Deployment"),
                         None)
            if owner and not pod["metadata"].get("deletionTimestamp"):
                owned.setdefault(owner["uid"], []).append(pod)
        live_uids = {d["metadata"]["uid"] for d in self._store.objects["deployments"].values()}
        for uid, pods in owned.items():  # garbage collection of pods whose deployment is gone
            if uid not in live_uids:
                for pod in pods:
                    self._verbs.delete(pod_rt, *object_key(pod), None)
        for deploy in list(self._store.objects["deployments"].values()):
            template_hash = _template_hash(deploy["spec"]["template"])
            pods = owned.get(deploy["metadata"]["uid"], [])
            current = [p for p in pods if labels_of(p).get("pod-template-hash") == template_hash]
            for pod in pods:
                if pod not in current:
                    self._verbs.delete(pod_rt, *object_key(pod), None)
            want = deploy["spec"].get("replicas", 1)
            for _ in range(want - len(current)):
                current.append(self._verbs.create(pod_rt, deploy["metadata"]["namespace"],
                                                  _pod_for(deploy, template_hash)))
            if len(current) > want:
                # Scale down the least advanced, then the newest, like a ReplicaSet.
                current.sort(key=lambda p: (p["metadata"]["creationTimestamp"], p["metadata"]["name"]), reverse=True)
                current.sort(key=lambda p: p.get("status", {}).get("phase") == "Running")
                for pod in current[: len(current) - want]:
                    self._verbs.delete(pod_rt, *object_key(pod), None)
                current = current[len(current) - want:]
            status = _deployment_status(deploy, current, template_hash)
            if status != deploy.get("status"):
                self._store.commit(deploy_rt, "MODIFIED", {**clone(deploy), "status": status}, deploy)

    def _assign_load_balancers(self) -> None:
        svc_rt = resource_type("Service")
        pools = sorted(self._store.objects["ipaddresspools"].values(),
                       key=lambda p: (p["metadata"]["creationTimestamp"], p["metadata"]["name"]))
        services = sorted(self._store.objects["services"].values(), key=lambda s: s["metadata"]["creationTimestamp"])
        in_use = {i.get("ip") for s in services
                  for i in s.get("status", {}).get("loadBalancer", {}).get("ingress") or []}
        for svc in services:
            ingress = svc.get("status", {}).get("loadBalancer", {}).get("ingress") or []
            current_ip = ingress[0].get("ip") if ingress else None
            is_lb = svc["spec"].get("type") == "LoadBalancer"
            owning_pool = next((p for p in pools if current_ip and _in_pool(p, current_ip)), None)
            if current_ip and is_lb and owning_pool:
                continue
            if current_ip:  # no longer a LoadBalancer, or its pool is gone: revoke
                in_use.discard(current_ip)
            assignment = self._pick_lb_ip(svc, pools, in_use) if is_lb else None
            if assignment is None and not current_ip:
                continue
            updated = clone(svc)
            annotations = updated["metadata"].setdefault("annotations", {})
            if assignment:
                pool, ip = assignment
                in_use.add(ip)
                updated["status"]["loadBalancer"] = {"ingress": [{"ip": ip, "ipMode": "VIP"}]}
                annotations["metallb.io/ip-allocated-from-pool"] = pool["metadata"]["name"]
            else:
                updated["status"]["loadBalancer"] = {}
                annotations.pop("metallb.io/ip-allocated-from-pool", None)
            self._store.commit(svc_rt, "MODIFIED", updated, svc)

    @staticmethod
    def _pick_lb_ip(svc: JsonObject, pools: list[JsonObject], in_use: set[str | None]) -> tuple[JsonObject, str] | None:
        annotations = svc["metadata"].get("annotations") or {}
        requested = (annotations.get("metallb.io/loadBalancerIPs") or annotations.get("metallb.universe.tf/"
                     "loadBalancerIPs") or svc["spec"].get("loadBalancerIP") or "").split(",")[0].strip()
        for pool in pools:
            if requested:
                if requested not in in_use and _in_pool(pool, requested):
                    return pool, requested
                continue
            if pool["spec"].get("autoAssign", True):
                ip = next((ip for ip in pool_addresses(pool) if ip not in in_use), None)
                if ip:
                    return pool, ip
        return None

    def _update_ingresses(self) -> None:
        """Ingresses get the Ready nodes' addresses, as k3s' traefik with servicelb reports them."""
        ingress_rt = resource_type("Ingress")
        addresses = [{"ip": node_address(n, "InternalIP")}
                     for n in self._store.select(resource_type("Node"), None) if node_status(n) == "Ready"]
        wanted = {"loadBalancer": {"ingress": addresses}} if addresses else {"loadBalancer": {}}
        for ingress in list(self._store.objects["ingresses"].values()):
            if ingress.get("status") != wanted:
                self._store.commit(ingress_rt, "MODIFIED", {**clone(ingress), "status": wanted}, ingress)


def _template_hash(template: JsonObject) -> str:
    """pod-template-hash as the deployment controller makes it: a 32-bit hash, safe-encoded."""
    digest = str(zlib.crc32(json.dumps(template, sort_keys=True).encode()))
    return "".join(NAME_SUFFIX_ALPHABET[ord(ch) % len(NAME_SUFFIX_ALPHABET)] for ch in digest)


def _pod_for(deploy: JsonObject, template_hash: str) -> JsonObject:
    template = deploy["spec"]["template"]
    meta = deploy["metadata"]
    labels = {**(template.get("metadata", {}).get("labels") or {}), "pod-template-hash": template_hash}
    return {
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {
            "generateName": f"{meta['name']}-{template_hash}-", "namespace": meta["namespace"], "labels": labels,
            "annotations": dict(template.get("metadata", {}).get("annotations") or {}),
            "ownerReferences": [{"apiVersion": "apps/v1", "kind": "Deployment", "name": meta["name"],
                                 "uid": meta["uid"], "controller": True, "blockOwnerDeletion": True}],
        },
        "spec": clone(template.get("spec", {})),
    }


def _unschedulable(pod: JsonObject, node_count: int) -> JsonObject:
    pod = clone(pod)
    pod["status"] = {"phase": "Pending", "qosClass": "BestEffort", "conditions": [{
        "type": "PodScheduled", "status": "False", "reason": "Unschedulable", "lastTransitionTime": timestamp(),
        "message": f"0/{node_count} nodes are available: {node_count} node(s) had untolerated taint "
                   "{node.kubernetes.io/not-ready: }." if node_count else "no nodes available to schedule pods"}]}
    return pod


def _deployment_status(deploy: JsonObject, pods: list[JsonObject], template_hash: str) -> JsonObject:
    want = deploy["spec"].get("replicas", 1)
    ready = sum(1 for reason, up, total, _ in map(pod_status, pods) if reason == "Running" and up == total)
    counts = {"replicas": len(pods), "updatedReplicas": len(pods), "readyReplicas": ready,
              "availableReplicas": ready, "unavailableReplicas": max(0, want - ready)}
    status: JsonObject = {"observedGeneration": deploy["metadata"].get("generation", 1),
                          **{k: v for k, v in counts.items() if v}}  # the real API omits zero counts
    rs_name = f"{deploy['metadata']['name']}-{template_hash}"
    wanted_conditions = [
        ("Available", "True", "MinimumReplicasAvailable", "Deployment has minimum availability.")
        if ready >= want else
        ("Available", "False", "MinimumReplicasUnavailable", "Deployment does not have minimum availability."),
        ("Progressing", "True", "NewReplicaSetAvailable", f'ReplicaSet "{rs_name}" has successfully progressed.')
        if ready >= want else
        ("Progressing", "True", "ReplicaSetUpdated", f'ReplicaSet "{rs_name}" is progressing.'),
    ]
    previous = {c["type"]: c for c in deploy.get("status", {}).get("conditions") or []}
    conditions = []
    for kind, state, reason, message in wanted_conditions:
        old = previous.get(kind)
        if old and (old["status"], old["reason"], old["message"]) == (state, reason, message):
            conditions.append(old)  # unchanged: keep its timestamps, so the status compares equal
        else:
            now = timestamp()
            conditions.append({"type": kind, "status": state, "lastUpdateTime": now, "lastTransitionTime": now,
                               "reason": reason, "message": message})
    status["conditions"] = conditions
    return status


def _startup_log(container: JsonObject, started: str) -> list[str]:
    """What a freshly started container prints (nginx's entrypoint for nginx images)."""
    stamp = started.replace("-", "/").replace("T", " ").removesuffix("Z")
    if "nginx" in container.get("image", ""):
        return [
            "/docker-entrypoint.sh: /docker-entrypoint.d/ is not empty, will attempt to perform configuration",
            "/docker-entrypoint.sh: Looking for shell scripts in /docker-entrypoint.d/",
            "/docker-entrypoint.sh: Configuration complete; ready for start up",
            f"{stamp} [notice] 1#1: using the \"epoll\" event method",
            f"{stamp} [notice] 1#1: nginx/1.27.3",
            f"{stamp} [notice] 1#1: start worker processes",
        ]
    return [f"{stamp} container {container.get('name')} started ({container.get('image')})"]
