"""Pods in the simulated cluster: the scheduler (the least loaded Ready, schedulable node that
matches the pod's nodeSelector and has its hostPorts free, else Pending with the scheduler's
FailedScheduling message) and
the kubelets (pull images, create and start containers, restart crashed ones with back-off,
stop containers of a deleted pod), each step with the Event the real component records.

The sim's failure rules, on a container's spec:
- an image containing `does-not-exist` or `nonexistent` cannot be pulled: ErrImagePull with
  containerd's "not found" message, then ImagePullBackOff, alternating with a back-off of 10 s
  doubling to 300 s, as the kubelet does;
- a container whose image contains `crash`, whose command and args are `false`, or whose
  command line holds `exit N` (N not 0) runs for a second, exits with that code (1 for the
  others) and is restarted: once at once, then after CrashLoopBackOff's back-off (10 s, doubling
  to 300 s), each restart keeping the previous run's log.
Every duration is multiplied by the controller's `time_scale` (tests make them short)."""

from __future__ import annotations

import asyncio
import ipaddress
import math
import re
from collections.abc import Callable
from dataclasses import dataclass, field

from . import logs
from .events import EventRecorder
from .objects import clone, labels_of, object_key, timestamp
from .printing import node_address, node_status
from .resources import JsonObject, resource_type
from .store import LogKey, Store

Network = ipaddress.IPv4Network | ipaddress.IPv6Network
PULL_FAILURE_MARKERS = ("does-not-exist", "nonexistent")
CRASH_MARKER = "crash"
BACKOFF_START, BACKOFF_MAX = 10.0, 300.0
KUBELET_RESYNC = 2.0  # from a failure to the next state the kubelet reports (ErrImagePull -> ImagePullBackOff)
CRASH_AFTER = 1.0  # how long a crashing container runs
LOG_RATE_ANNOTATION = "sim.homelab-tui.io/log-lines-per-second"
LOG_SECONDS_ANNOTATION = "sim.homelab-tui.io/log-seconds"


def image_reference(image: str) -> str:
    """The fully qualified reference containerd pulls (`docker.io/library/nginx:1.27`)."""
    name, _, digest = image.partition("@")
    first, _, rest = name.partition("/")
    if not rest:
        name = f"docker.io/library/{name}"
    elif "." not in first and ":" not in first and first != "localhost":
        name = f"docker.io/{name}"
    if not digest and ":" not in name.rpartition("/")[2]:
        name += ":latest"
    return f"{name}@{digest}" if digest else name


def pull_error(image: str) -> str | None:
    """containerd's error for an image the sim cannot pull, None when it can."""
    if not any(marker in image for marker in PULL_FAILURE_MARKERS):
        return None
    ref = image_reference(image)
    return f'failed to pull and unpack image "{ref}": failed to resolve reference "{ref}": {ref}: not found'


def crash_exit_code(container: JsonObject) -> int | None:
    """The exit code a container crashes with under the sim's rules, None when it keeps running."""
    words = [str(w) for w in (container.get("command") or []) + (container.get("args") or [])]
    if words in (["false"], ["/bin/false"]):
        return 1
    found = re.search(r"\bexit\s+(\d+)", " ".join(words))
    if found and int(found.group(1)):
        return int(found.group(1))
    return 1 if CRASH_MARKER in container.get("image", "") else None


def _backoff(failures: int) -> float:
    return min(BACKOFF_MAX, BACKOFF_START * 2 ** max(0, failures - 1))


@dataclass
class ContainerRun:
    """What a kubelet remembers of one container between its syncs."""

    next_at: float = 0.0  # loop time at which the kubelet acts on it next (inf: nothing to do)
    pull_failures: int = 0
    retry_pull_at: float = 0.0
    writer: asyncio.Task[int] | None = field(default=None, repr=False)


class Pods:
    """The scheduler and the kubelets. `now` is the event loop's clock; `wake(at)` asks the
    controller for a pass at that time."""

    def __init__(self, store: Store, events: EventRecorder, pod_cidr: Network,
                 now: Callable[[], float], wake: Callable[[float], None]) -> None:
        self._store = store
        self._events = events
        self._pod_cidr = pod_cidr
        self._now = now
        self._wake = wake
        self.time_scale = 1.0
        self._node_subnets: dict[str, Network] = {}
        self._ip_cursors: dict[str, int] = {}
        self._runs: dict[tuple[str, str], ContainerRun] = {}  # (pod uid, container name)
        self._images: dict[str, set[str]] = {}  # node -> images pulled there
        self._work: set[tuple[str, str]] = set()  # pods bound and not started, or waiting for a time
        self._pods_seen = 0
        self._rt = resource_type("Pod")

    # -- the pod network ----------------------------------------------------------------

    def set_pod_cidr(self, pod_cidr: Network) -> None:
        self._pod_cidr = pod_cidr
        self._node_subnets.clear()

    def node_subnet(self, node_name: str) -> Network:
        """The node's pod subnet, given the first time it is asked for (as the node controller
        allocates podCIDRs)."""
        if node_name not in self._node_subnets:
            index = len(self._node_subnets)
            if self._pod_cidr.prefixlen >= 24:
                self._node_subnets[node_name] = self._pod_cidr
            else:
                base = int(self._pod_cidr.network_address) + index * 256
                self._node_subnets[node_name] = ipaddress.ip_network(f"{ipaddress.ip_address(base)}/24")
        return self._node_subnets[node_name]

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

    # -- binding and the instant start the seeding uses -------------------------------------

    def bind_pod(self, pod: JsonObject, node: JsonObject, used_ips: set[str], now: str) -> JsonObject:
        """Schedule `pod` (a private copy, changed in place) to `node`: its containers are being created."""
        host_ip = node_address(node, "InternalIP")
        host_network = pod["spec"].get("hostNetwork")
        pod_ip = host_ip if host_network else self._allocate_pod_ip(node["metadata"]["name"], used_ips)
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
        """Start every container of a bound `pod` at once (a private copy, changed in place): how
        seeded pods come up, without events."""
        for spec, status in zip(pod["spec"]["containers"], pod["status"]["containerStatuses"], strict=True):
            self._run_container(pod, spec, status, now)
        _pod_phase_and_conditions(pod, now)
        return pod

    def _run_container(self, pod: JsonObject, spec: JsonObject, status: JsonObject, now: str) -> str:
        container_id = f"containerd://{self._store.random.getrandbits(256):064x}"
        status.update({
            "ready": True, "started": True, "state": {"running": {"startedAt": now}},
            "imageID": f"{image_reference(spec['image']).rpartition(':')[0]}@sha256:" + "0" * 64,
            "containerID": container_id,
        })
        meta = pod["metadata"]
        key = logs.run_key(meta["namespace"], meta["name"], container_id)
        self._store.logs[key] = []
        logs.append(self._store, key, startup_log(spec, now))
        return container_id

    # -- one pass --------------------------------------------------------------------------

    def reconcile(self) -> None:
        nodes, pods = self._store.objects["nodes"], self._store.objects["pods"]
        now = self._now()
        pending, going = [], []
        for pod in pods.values():  # one look at each pod: scheduling, or termination
            node_name = pod["spec"].get("nodeName")
            if pod["metadata"].get("deletionTimestamp") or (node_name and ("", node_name) not in nodes):
                going.append(pod)
            elif not (pod.get("status") or {}).get("containerStatuses") and (pod.get("status") or {}).get(
                    "phase") in (None, "Pending"):
                pending.append(pod)
        self._schedule(nodes, pending)
        for pod in going:
            self._terminate(pod, nodes.get(("", pod["spec"].get("nodeName") or "")))
        ready = {key for key, node in nodes.items() if node_status(node).startswith("Ready")}
        for key in list(self._work):  # only the pods a kubelet has something to do for
            pod = pods.get(key)
            if pod is None:
                self._work.discard(key)
            elif ("", pod["spec"].get("nodeName") or "") in ready and pod.get("status", {}).get("containerStatuses"):
                if not self._sync_pod(pod, pod["spec"]["nodeName"], now):
                    self._work.discard(key)
        if len(pods) < self._pods_seen:
            self._sweep_logs()
        self._pods_seen = len(pods)

    def _schedule(self, nodes: dict[tuple[str, str], JsonObject], pending: list[JsonObject]) -> None:
        if not pending:
            return
        load = {name: 0 for _, name in nodes}
        ports: dict[str, set[tuple[int, str]]] = {name: set() for name in load}
        for pod in self._store.objects["pods"].values():
            if pod["spec"].get("nodeName") in load:
                load[pod["spec"]["nodeName"]] += 1
                ports[pod["spec"]["nodeName"]] |= host_ports(pod)
        used_ips: set[str] | None = None
        for pod in pending:
            node_name = pod["spec"].get("nodeName")
            if node_name:
                node = nodes.get(("", node_name))
                if node is None:
                    continue
            else:
                fits = [n for n in nodes.values() if unfit_reason(pod, n, ports[n["metadata"]["name"]]) is None]
                if not fits:
                    self._unschedulable(pod, list(nodes.values()), ports)
                    continue
                node = min(sorted(fits, key=lambda n: n["metadata"]["name"]), key=lambda n: load[n["metadata"]["name"]])
                load[node["metadata"]["name"]] += 1
                ports[node["metadata"]["name"]] |= host_ports(pod)
            used_ips = self.used_pod_ips() if used_ips is None else used_ips
            bound = self._store.commit(self._rt, "MODIFIED", self.bind_pod(clone(pod), node, used_ips, timestamp()), pod)
            self._work.add(object_key(bound))
            if not node_name:
                meta = bound["metadata"]
                self._events.record(bound, "Normal", "Scheduled", f"Successfully assigned {meta['namespace']}/"
                                    f"{meta['name']} to {node['metadata']['name']}", "default-scheduler")

    def _unschedulable(self, pod: JsonObject, nodes: list[JsonObject], ports: dict[str, set[tuple[int, str]]]) -> None:
        message = scheduling_failure(pod, nodes, ports)
        condition = next((c for c in pod.get("status", {}).get("conditions") or [] if c["type"] == "PodScheduled"), {})
        if condition.get("message") == message:
            return
        updated = clone(pod)
        updated["status"] = {"phase": "Pending", "qosClass": "BestEffort", "conditions": [{
            "type": "PodScheduled", "status": "False", "reason": "Unschedulable", "message": message,
            "lastProbeTime": None, "lastTransitionTime": timestamp()}]}
        updated = self._store.commit(self._rt, "MODIFIED", updated, pod)
        self._events.record(updated, "Warning", "FailedScheduling", message, "default-scheduler")

    def _terminate(self, pod: JsonObject, node: JsonObject | None) -> None:
        """The kubelet stops the containers of a deleted pod (or the node is gone): the pod goes."""
        host = node["metadata"]["name"] if node else ""
        if node is not None:
            for status in pod.get("status", {}).get("containerStatuses") or []:
                if (status.get("state") or {}).get("running") is not None:
                    self._events.record(pod, "Normal", "Killing", f"Stopping container {status['name']}",
                                        "kubelet", host, f"spec.containers{{{status['name']}}}")
        self._store.commit(self._rt, "DELETED", clone(pod), pod)
        self._forget(pod)

    def _forget(self, pod: JsonObject) -> None:
        uid = pod["metadata"]["uid"]
        for container in pod["spec"].get("containers") or []:
            run = self._runs.pop((uid, container["name"]), None)
            if run and run.writer:
                run.writer.cancel()
        namespace, name = object_key(pod)
        for key in [k for k in self._store.logs if logs.pod_of(k) == (namespace, name)]:
            self._store.close_logs(key)

    def _sweep_logs(self) -> None:
        """Logs of pods gone by a path that did not close them (a delete with grace 0), after a
        pass that finds fewer pods than the last."""
        pods = self._store.objects["pods"]
        for key in [k for k in (*self._store.logs, *self._store.log_followers) if logs.pod_of(k) not in pods]:
            self._store.close_logs(key)

    # -- the kubelet -------------------------------------------------------------------------

    def _sync_pod(self, pod: JsonObject, node_name: str, now: float) -> bool:
        """Do what is due for the pod's containers; whether anything is left to do later."""
        uid = pod["metadata"]["uid"]
        due = pending = False
        for status in pod["status"]["containerStatuses"]:
            run = self._runs.get((uid, status["name"]))
            waiting = ((status.get("state") or {}).get("waiting") or {}).get("reason")
            if run is None and waiting == "ContainerCreating":
                run = self._runs[(uid, status["name"])] = ContainerRun()
            if run is not None and run.next_at <= now:
                due = True
            pending = pending or (run is not None and math.isfinite(run.next_at))
        if not due:
            return pending
        updated = clone(pod)
        stamp = timestamp()
        specs = {c["name"]: c for c in updated["spec"]["containers"]}
        for status in updated["status"]["containerStatuses"]:
            run = self._runs.get((uid, status["name"]))
            if run is not None and run.next_at <= now:
                self._sync_container(updated, specs[status["name"]], status, run, node_name, now, stamp)
                if math.isfinite(run.next_at):
                    self._wake(run.next_at)
        _pod_phase_and_conditions(updated, stamp)
        self._store.commit(self._rt, "MODIFIED", updated, pod)
        return any(math.isfinite(r.next_at) for c in updated["status"]["containerStatuses"]
                   if (r := self._runs.get((uid, c["name"]))) is not None)

    def _record(self, pod: JsonObject, container: str, node: str, event_type: str, reason: str, message: str) -> None:
        self._events.record(pod, event_type, reason, message, "kubelet", node, f"spec.containers{{{container}}}")

    def _sync_container(self, pod: JsonObject, spec: JsonObject, status: JsonObject, run: ContainerRun,
                        node: str, now: float, stamp: str) -> None:
        state = status.get("state") or {}
        waiting = (state.get("waiting") or {}).get("reason")
        name, scale = spec["name"], self.time_scale
        run.next_at = math.inf
        if state.get("running") is not None:
            code = crash_exit_code(spec)
            if code is None:
                return
            container_id = status.get("containerID", "")
            key = logs.run_key(pod["metadata"]["namespace"], pod["metadata"]["name"], container_id)
            logs.append(self._store, key, [f"{spec['name']}: exiting with status {code}"])
            logs.end_followers(self._store, key)
            status.update({"ready": False, "started": False, "state": {"terminated": {
                "exitCode": code, "reason": "Error", "startedAt": state["running"].get("startedAt"),
                "finishedAt": stamp, "containerID": container_id}}})
            run.next_at = now + KUBELET_RESYNC * scale
        elif state.get("terminated") is not None:
            policy = pod["spec"].get("restartPolicy", "Always")
            if policy == "Never" or (policy == "OnFailure" and not state["terminated"].get("exitCode")):
                return
            status["lastState"] = {"terminated": state["terminated"]}
            if status.get("restartCount", 0) == 0:
                self._start_container(pod, spec, status, run, node, now, stamp)
                return
            delay = _backoff(status["restartCount"])
            status["state"] = {"waiting": {"reason": "CrashLoopBackOff", "message": (
                f"back-off {int(delay)}s restarting failed container={name} pod={pod['metadata']['name']}_"
                f"{pod['metadata']['namespace']}({pod['metadata']['uid']})")}}
            self._record(pod, name, node, "Warning", "BackOff", f"Back-off restarting failed container {name} in pod "
                         f"{pod['metadata']['name']}_{pod['metadata']['namespace']}({pod['metadata']['uid']})")
            run.next_at = now + delay * scale
        elif waiting == "ErrImagePull":
            message = f'Back-off pulling image "{spec["image"]}"'
            self._record(pod, name, node, "Normal", "BackOff", message)
            self._record(pod, name, node, "Warning", "Failed", "Error: ImagePullBackOff")
            status["state"] = {"waiting": {"reason": "ImagePullBackOff",
                                           "message": f"{message}: ErrImagePull: {pull_error(spec['image'])}"}}
            run.next_at = run.retry_pull_at
        elif waiting in ("ContainerCreating", "ImagePullBackOff", "CrashLoopBackOff"):
            if waiting == "CrashLoopBackOff":
                status["restartCount"] = status.get("restartCount", 0) + 1
            self._start_container(pod, spec, status, run, node, now, stamp)

    def _start_container(self, pod: JsonObject, spec: JsonObject, status: JsonObject, run: ContainerRun,
                         node: str, now: float, stamp: str) -> None:
        name, image = spec["name"], spec["image"]
        pulled = self._images.setdefault(node, set())
        if status.get("lastState", {}).get("terminated") and status.get("state", {}).get("terminated"):
            status["restartCount"] = status.get("restartCount", 0) + 1  # restarted at once, the first time
        if image in pulled and spec.get("imagePullPolicy") != "Always":
            self._record(pod, name, node, "Normal", "Pulled", f'Container image "{image}" already present on machine')
        else:
            self._record(pod, name, node, "Normal", "Pulling", f'Pulling image "{image}"')
            error = pull_error(image)
            if error:
                self._record(pod, name, node, "Warning", "Failed", f'Failed to pull image "{image}": {error}')
                self._record(pod, name, node, "Warning", "Failed", "Error: ErrImagePull")
                status["state"] = {"waiting": {"reason": "ErrImagePull", "message": error}}
                run.pull_failures += 1
                run.retry_pull_at = now + _backoff(run.pull_failures) * self.time_scale
                run.next_at = now + KUBELET_RESYNC * self.time_scale
                return
            pulled.add(image)
            self._record(pod, name, node, "Normal", "Pulled", f'Successfully pulled image "{image}" in 1.204s '
                         "(1.204s including waiting). Image size: 72955450 bytes.")
        self._record(pod, name, node, "Normal", "Created", f"Created container {name}")
        container_id = self._run_container(pod, spec, status, stamp)
        self._record(pod, name, node, "Normal", "Started", f"Started container {name}")
        if crash_exit_code(spec) is not None:
            run.next_at = now + CRASH_AFTER * self.time_scale
        self._start_writer(pod, spec, container_id, run)

    def _start_writer(self, pod: JsonObject, spec: JsonObject, container_id: str, run: ContainerRun) -> None:
        annotations = pod["metadata"].get("annotations") or {}
        if LOG_RATE_ANNOTATION not in annotations:
            return
        seconds = annotations.get(LOG_SECONDS_ANNOTATION)
        meta = pod["metadata"]
        run.writer = self.write_logs(logs.run_key(meta["namespace"], meta["name"], container_id),
                                     f"{meta['name']}/{spec['name']}", float(annotations[LOG_RATE_ANNOTATION]),
                                     float(seconds) if seconds else None)

    def write_logs(self, key: LogKey, label: str, per_second: float, seconds: float | None) -> asyncio.Task[int]:
        return asyncio.get_running_loop().create_task(
            logs.write_lines(self._store, key, label, per_second, seconds), name=f"sim-log-writer {label}")

    def running_log_key(self, namespace: str, name: str, container: str | None = None) -> LogKey:
        """The log key of the pod's current container run (KeyError: no such pod)."""
        pod = self._store.objects["pods"][(namespace, name)]
        statuses = pod.get("status", {}).get("containerStatuses") or []
        status = next((s for s in statuses if container is None or s["name"] == container), {})
        return logs.run_key(namespace, name, status.get("containerID", ""))


def host_ports(pod: JsonObject) -> set[tuple[int, str]]:
    return {(p["hostPort"], p.get("protocol", "TCP")) for c in pod["spec"].get("containers") or []
            for p in c.get("ports") or [] if p.get("hostPort")}


def unfit_reason(pod: JsonObject, node: JsonObject, ports_taken: set[tuple[int, str]]) -> str | None:
    """Why the scheduler's filters refuse `node` for `pod` (worded as its FailedScheduling
    message counts it), None when the pod fits."""
    if node.get("spec", {}).get("unschedulable"):
        return "node(s) were unschedulable"
    if node_status(node) != "Ready":
        return "node(s) had untolerated taint {node.kubernetes.io/not-ready: }"
    if any(labels_of(node).get(k) != v for k, v in (pod["spec"].get("nodeSelector") or {}).items()):
        return "node(s) didn't match Pod's node affinity/selector"
    if host_ports(pod) & ports_taken:
        return "node(s) didn't have free ports for the requested pod ports"
    return None


def scheduling_failure(pod: JsonObject, nodes: list[JsonObject], ports: dict[str, set[tuple[int, str]]]) -> str:
    """The scheduler's FailedScheduling message, its reasons counted and sorted as it words them."""
    if not nodes:
        return "no nodes available to schedule pods"
    counts: dict[str, int] = {}
    for node in nodes:
        reason = unfit_reason(pod, node, ports.get(node["metadata"]["name"], set()))
        if reason:
            counts[reason] = counts.get(reason, 0) + 1
    reasons = ", ".join(sorted(f"{n} {reason}" for reason, n in counts.items()))
    total = len(nodes)
    return (f"0/{total} nodes are available: {reasons}. preemption: 0/{total} nodes are available: "
            f"{total} Preemption is not helpful for scheduling.")


def _pod_phase_and_conditions(pod: JsonObject, now: str) -> None:
    """The pod's phase and conditions from its containers' states, keeping the times of the
    conditions that did not change."""
    status = pod["status"]
    containers = status.get("containerStatuses") or []
    started = any((c.get("state") or {}).get("running") is not None or (c.get("state") or {}).get("terminated")
                  or (c.get("lastState") or {}).get("terminated") for c in containers)
    status["phase"] = "Running" if started else "Pending"
    if pod["spec"].get("restartPolicy") == "Never" and containers and all(
            (c.get("state") or {}).get("terminated") for c in containers):
        failed = any(c["state"]["terminated"].get("exitCode") for c in containers)
        status["phase"] = "Failed" if failed else "Succeeded"
    unready = [c["name"] for c in containers if not c.get("ready")]
    previous = {c["type"]: c for c in status.get("conditions") or []}
    wanted = [("PodReadyToStartContainers", True), ("Initialized", True), ("Ready", not unready),
              ("ContainersReady", not unready), ("PodScheduled", True)]
    conditions = []
    for kind, ok in wanted:
        state = "True" if ok else "False"
        old = previous.get(kind)
        condition: JsonObject = {"type": kind, "status": state, "lastProbeTime": None,
                                 "lastTransitionTime": old["lastTransitionTime"] if old and old["status"] == state
                                 else now}
        if not ok:
            condition["reason"] = "ContainersNotReady"
            condition["message"] = f"containers with unready status: [{' '.join(unready)}]"
        conditions.append(condition)
    status["conditions"] = conditions


def startup_log(container: JsonObject, started: str) -> list[str]:
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
