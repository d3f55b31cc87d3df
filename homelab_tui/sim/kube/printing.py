"""Server-side printing: the meta.k8s.io/v1 Tables `kubectl get` asks for, with the columns the
real API server prints for each kind (`-o wide` ones at priority 1), the AGE format, and a pod's
STATUS, READY and RESTARTS computed as the API server's printPod does."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from .objects import labels_of
from .resources import JsonObject, ResourceType


def human_duration(seconds: float) -> str:
    """kubectl's AGE format (k8s.io/apimachinery/pkg/util/duration.HumanDuration)."""
    s = int(seconds)
    if s < -1:
        return "<invalid>"
    if s < 0:
        return "0s"
    if s < 120:
        return f"{s}s"
    minutes = s // 60
    if minutes < 10:
        return f"{minutes}m{s % 60}s" if s % 60 else f"{minutes}m"
    if minutes < 180:
        return f"{minutes}m"
    hours = s // 3600
    if hours < 8:
        return f"{hours}h{minutes % 60}m" if minutes % 60 else f"{hours}h"
    if hours < 48:
        return f"{hours}h"
    if hours < 24 * 8:
        return f"{hours // 24}d{hours % 24}h" if hours % 24 else f"{hours // 24}d"
    if hours < 24 * 365 * 2:
        return f"{hours // 24}d"
    if hours < 24 * 365 * 8:
        days = (hours // 24) % 365
        return f"{hours // 24 // 365}y{days}d" if days else f"{hours // 24 // 365}y"
    return f"{hours // 24 // 365}y"


def _since(when: str | None) -> str:
    if not when or when == "Z":
        return "<unknown>"
    then = datetime.strptime(when, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)
    return human_duration((datetime.now(UTC) - then).total_seconds())


def _age(obj: JsonObject) -> str:
    return _since(obj.get("metadata", {}).get("creationTimestamp"))



@dataclass(frozen=True, slots=True)
class Column:
    name: str
    cell: Callable[[JsonObject], Any]
    priority: int = 0  # 1: only with -o wide
    type: str = "string"
    format: str = ""


def _name_column() -> Column:
    return Column("Name", lambda o: o["metadata"]["name"], format="name")


def _age_column() -> Column:
    return Column("Age", _age)


def node_status(node: JsonObject) -> str:
    ready = next((c for c in node.get("status", {}).get("conditions", []) if c.get("type") == "Ready"), None)
    state = "Unknown" if ready is None else ("Ready" if ready.get("status") == "True" else "NotReady")
    return f"{state},SchedulingDisabled" if node.get("spec", {}).get("unschedulable") else state


def node_roles(node: JsonObject) -> list[str]:
    prefix = "node-role.kubernetes.io/"
    return sorted(key[len(prefix):] for key in labels_of(node) if key.startswith(prefix))


def node_address(node: JsonObject, kind: str) -> str:
    for address in node.get("status", {}).get("addresses", []):
        if address.get("type") == kind:
            return address.get("address", "")
    return "<none>"


def _service_external_ip(svc: JsonObject) -> str:
    spec = svc.get("spec", {})
    ingress = svc.get("status", {}).get("loadBalancer", {}).get("ingress") or []
    ips = [i.get("ip") or i.get("hostname") for i in ingress] + list(spec.get("externalIPs") or [])
    if ips:
        return ",".join(ips)
    return "<pending>" if spec.get("type") == "LoadBalancer" else "<none>"


def _service_ports(svc: JsonObject) -> str:
    ports = []
    for port in svc.get("spec", {}).get("ports") or []:
        node_port = f":{port['nodePort']}" if port.get("nodePort") else ""
        ports.append(f"{port.get('port')}{node_port}/{port.get('protocol', 'TCP')}")
    return ",".join(ports) or "<none>"


def selector_text(selector: dict[str, str] | None) -> str:
    return ",".join(f"{k}={v}" for k, v in (selector or {}).items()) or "<none>"


def _containers(obj: JsonObject) -> list[JsonObject]:
    return obj.get("spec", {}).get("template", {}).get("spec", {}).get("containers") or []


def _condition_true(status: JsonObject, kind: str) -> bool:
    return any(c.get("type") == kind and c.get("status") == "True" for c in status.get("conditions") or [])


def _exit_text(terminated: JsonObject) -> str:
    """`Completed`, `Signal:9` or `ExitCode:2`: what a terminated container shows."""
    if terminated.get("reason"):
        return terminated["reason"]
    signal = terminated.get("signal")
    return f"Signal:{signal}" if signal else f"ExitCode:{terminated.get('exitCode', 0)}"


def _shown_reason(container: JsonObject, *, init: bool) -> str | None:
    """What one container puts in a pod's STATUS column; None when it puts nothing there (it
    runs, or an init container waits for no reason worth showing)."""
    state = container.get("state") or {}
    waiting, terminated = (state.get("waiting") or {}).get("reason"), state.get("terminated")
    if init:  # an init container that failed shows that first; PodInitializing says nothing new
        return _exit_text(terminated) if terminated else (waiting if waiting != "PodInitializing" else None)
    return waiting or (_exit_text(terminated) if terminated else None)


def _exited_cleanly(container: JsonObject) -> bool:
    terminated = (container.get("state") or {}).get("terminated")
    return terminated is not None and terminated.get("exitCode", 0) == 0


def _running_and_ready(container: JsonObject) -> bool:
    state = container.get("state") or {}
    return bool(container.get("ready")) and state.get("running") is not None


def pod_status(pod: JsonObject) -> tuple[str, int, int, int]:
    """(STATUS, ready containers, total containers, restarts) as the API server prints a pod
    (printPod in k8s.io/kubernetes/pkg/printers/internalversion, Kubernetes 1.31), sidecars
    (init containers with restartPolicy Always) included. The client has its own version of this
    (clients.kube.pod_status_summary); tests compare the two."""
    spec, status = pod.get("spec") or {}, pod.get("status") or {}
    phase = status.get("phase") or ""
    gated = any(c.get("type") == "PodScheduled" and c.get("reason") == "SchedulingGated"
                for c in status.get("conditions") or [])
    shown = "SchedulingGated" if gated else status.get("reason") or phase
    init_specs = spec.get("initContainers") or []
    sidecars = {c.get("name") for c in init_specs if c.get("restartPolicy") == "Always"}
    total = len(spec.get("containers") or []) + len(sidecars)

    # Init containers run in order: the first that has neither exited 0 nor started as a sidecar
    # holds the pod back.
    ready = init_restarts = sidecar_restarts = 0
    blocked: str | None = None
    for position, container in enumerate(status.get("initContainerStatuses") or []):
        init_restarts += container.get("restartCount", 0)
        sidecar = container.get("name") in sidecars
        sidecar_restarts += container.get("restartCount", 0) if sidecar else 0
        if _exited_cleanly(container):
            continue
        if sidecar and container.get("started"):
            ready += 1 if container.get("ready") else 0
            continue
        blocked = "Init:" + (_shown_reason(container, init=True) or f"{position}/{len(init_specs)}")
        break

    if blocked and not _condition_true(status, "Initialized"):
        shown, restarts = blocked, init_restarts
    else:
        containers = status.get("containerStatuses") or []
        restarts = sidecar_restarts + sum(c.get("restartCount", 0) for c in containers)
        reasons = [_shown_reason(c, init=False) for c in containers]
        shown = next((r for r in reasons if r), blocked or shown)  # the first container's reason wins
        running = sum(1 for c, r in zip(containers, reasons, strict=True) if r is None and _running_and_ready(c))
        ready += running
        if shown == "Completed" and running:  # some containers finished, others still serve
            shown = "Running" if _condition_true(status, "Ready") else "NotReady"

    if (pod.get("metadata") or {}).get("deletionTimestamp"):
        if status.get("reason") == "NodeLost":
            shown = "Unknown"
        elif phase not in ("Succeeded", "Failed"):
            shown = "Terminating"
    return shown, ready, total, restarts


def _more(items: list[str], limit: int = 3) -> str:
    """The first `limit` items, then ` + N more...`, as the printers list endpoints."""
    shown = ",".join(items[:limit])
    return shown + (f" + {len(items) - limit} more..." if len(items) > limit else "")


def _endpoints_cell(ep: JsonObject) -> str:
    pairs = [f"{a.get('ip')}:{p.get('port')}" for subset in ep.get("subsets") or []
             for p in subset.get("ports") or [{}] for a in subset.get("addresses") or []]
    return _more(pairs) or "<none>"


def _slice_endpoints_cell(eps: JsonObject) -> str:
    return _more([a for e in eps.get("endpoints") or [] for a in e.get("addresses") or []]) or "<none>"


def _slice_ports_cell(eps: JsonObject) -> str:
    ports = [str(p["port"]) if p.get("port") is not None else "<unset>" for p in eps.get("ports") or []]
    return _more(ports) or "<unset>"


def _workload_columns(counts: list[tuple[str, Callable[[JsonObject], Any]]], *before_age: Column) -> list[Column]:
    """NAME, the counts, AGE, and -o wide's CONTAINERS, IMAGES, SELECTOR (ReplicaSet, DaemonSet)."""
    return [
        _name_column(), *(Column(title, cell, type="integer") for title, cell in counts), *before_age, _age_column(),
        Column("Containers", lambda o: ",".join(c.get("name", "") for c in _containers(o)), 1),
        Column("Images", lambda o: ",".join(c.get("image", "") for c in _containers(o)), 1),
        Column("Selector", lambda o: selector_text(o.get("spec", {}).get("selector", {}).get("matchLabels")), 1),
    ]


def _status_count(field: str) -> Callable[[JsonObject], int]:
    return lambda o: o.get("status", {}).get(field, 0)


TABLE_COLUMNS: dict[str, list[Column]] = {
    "Namespace": [_name_column(), Column("Status", lambda o: o.get("status", {}).get("phase", "")),
                  _age_column()],
    "Node": [
        _name_column(), Column("Status", node_status),
        Column("Roles", lambda o: ",".join(node_roles(o)) or "<none>"), _age_column(),
        Column("Version", lambda o: o.get("status", {}).get("nodeInfo", {}).get("kubeletVersion", "")),
        Column("Internal-IP", lambda o: node_address(o, "InternalIP"), 1),
        Column("External-IP", lambda o: node_address(o, "ExternalIP"), 1),
        Column("OS-Image", lambda o: o.get("status", {}).get("nodeInfo", {}).get("osImage", ""), 1),
        Column("Kernel-Version", lambda o: o.get("status", {}).get("nodeInfo", {}).get("kernelVersion", ""), 1),
        Column("Container-Runtime",
               lambda o: o.get("status", {}).get("nodeInfo", {}).get("containerRuntimeVersion", ""), 1),
    ],
    "Pod": [
        _name_column(),
        Column("Ready", lambda o: "{1}/{2}".format(*pod_status(o))),  # ready/total
        Column("Status", lambda o: pod_status(o)[0]), Column("Restarts", lambda o: str(pod_status(o)[3])),
        _age_column(),
        Column("IP", lambda o: o.get("status", {}).get("podIP") or "<none>", 1),
        Column("Node", lambda o: o.get("spec", {}).get("nodeName") or "<none>", 1),
        Column("Nominated Node", lambda o: "<none>", 1),
        Column("Readiness Gates", lambda o: "<none>", 1),
    ],
    "Service": [
        _name_column(), Column("Type", lambda o: o.get("spec", {}).get("type", "")),
        Column("Cluster-IP", lambda o: o.get("spec", {}).get("clusterIP") or "<none>"),
        Column("External-IP", _service_external_ip), Column("Port(s)", _service_ports), _age_column(),
        Column("Selector", lambda o: selector_text(o.get("spec", {}).get("selector")), 1),
    ],
    "Deployment": [
        _name_column(),
        Column("Ready", lambda o: f"{o.get('status', {}).get('readyReplicas', 0)}/"
                                  f"{o.get('spec', {}).get('replicas', 0)}"),
        Column("Up-to-date", lambda o: o.get("status", {}).get("updatedReplicas", 0), type="integer"),
        Column("Available", lambda o: o.get("status", {}).get("availableReplicas", 0), type="integer"),
        _age_column(),
        Column("Containers", lambda o: ",".join(c.get("name", "") for c in _containers(o)), 1),
        Column("Images", lambda o: ",".join(c.get("image", "") for c in _containers(o)), 1),
        Column("Selector", lambda o: selector_text(o.get("spec", {}).get("selector", {}).get("matchLabels")), 1),
    ],
    "Ingress": [
        _name_column(), Column("Class", lambda o: o.get("spec", {}).get("ingressClassName") or "<none>"),
        Column("Hosts", lambda o: ",".join(r.get("host", "*") for r in o.get("spec", {}).get("rules") or [])
               or "*"),
        Column("Address", lambda o: ",".join(
            i.get("ip", "") for i in o.get("status", {}).get("loadBalancer", {}).get("ingress") or [])),
        Column("Ports", lambda o: "80, 443" if o.get("spec", {}).get("tls") else "80"), _age_column(),
    ],
    "ReplicaSet": _workload_columns([("Desired", lambda o: o.get("spec", {}).get("replicas", 0)),
                                     ("Current", _status_count("replicas")), ("Ready", _status_count("readyReplicas"))]),
    "DaemonSet": _workload_columns(
        [("Desired", _status_count("desiredNumberScheduled")), ("Current", _status_count("currentNumberScheduled")),
         ("Ready", _status_count("numberReady")), ("Up-to-date", _status_count("updatedNumberScheduled")),
         ("Available", _status_count("numberAvailable"))],
        Column("Node Selector", lambda o: selector_text(
            o.get("spec", {}).get("template", {}).get("spec", {}).get("nodeSelector")))),
    "Event": [
        Column("Last Seen", lambda o: _since(o.get("lastTimestamp") or (o.get("eventTime") or "")[:19] + "Z")),
        Column("Type", lambda o: o.get("type", "")), Column("Reason", lambda o: o.get("reason", "")),
        Column("Object", lambda o: f"{o.get('involvedObject', {}).get('kind', '').lower()}/"
                                   f"{o.get('involvedObject', {}).get('name', '')}"),
        Column("Subobject", lambda o: o.get("involvedObject", {}).get("fieldPath", ""), 1),
        Column("Source", lambda o: ", ".join(v for v in (o.get("source", {}).get("component"),
                                                          o.get("source", {}).get("host")) if v), 1),
        Column("Message", lambda o: o.get("message", "")),
        Column("First Seen", lambda o: _since(o.get("firstTimestamp")), 1),
        Column("Count", lambda o: str(o.get("count", 1)), 1),
        Column("Name", lambda o: o["metadata"]["name"], 1, format="name"),
    ],
    "Endpoints": [_name_column(), Column("Endpoints", _endpoints_cell), _age_column()],
    "EndpointSlice": [
        _name_column(), Column("AddressType", lambda o: o.get("addressType", "")),
        Column("Ports", _slice_ports_cell), Column("Endpoints", _slice_endpoints_cell), _age_column(),
    ],
    "IPAddressPool": [
        _name_column(),
        Column("Auto Assign", lambda o: o.get("spec", {}).get("autoAssign", True), type="boolean"),
        Column("Avoid Buggy IPs", lambda o: o.get("spec", {}).get("avoidBuggyIPs", False), type="boolean"),
        Column("Addresses", lambda o: o.get("spec", {}).get("addresses") or []), _age_column(),
    ],
    "L2Advertisement": [
        _name_column(), Column("IPAddressPools", lambda o: o.get("spec", {}).get("ipAddressPools") or []),
        Column("Interfaces", lambda o: o.get("spec", {}).get("interfaces") or []), _age_column(),
    ],
}


def _partial_metadata(obj: JsonObject) -> JsonObject:
    return {"kind": "PartialObjectMetadata", "apiVersion": "meta.k8s.io/v1", "metadata": obj["metadata"]}


def render_table(rt: ResourceType, objects: Iterable[JsonObject], resource_version: str,
                 include_object: str = "Metadata") -> JsonObject:
    """A meta.k8s.io/v1 Table of `objects`, like the API server's server-side printing."""
    return render_columns_table(TABLE_COLUMNS[rt.kind], objects, resource_version, include_object)


def render_columns_table(columns: list[Column], objects: Iterable[JsonObject], resource_version: str,
                         include_object: str) -> JsonObject:
    """A meta.k8s.io/v1 Table with the given columns (a CRD's printer columns or a built-in kind's);
    rows carry the object, its metadata or neither, as includeObject asks."""
    rows = []
    for obj in objects:
        row: JsonObject = {"cells": [column.cell(obj) for column in columns]}
        if include_object == "Object":
            row["object"] = obj
        elif include_object != "None":
            row["object"] = _partial_metadata(obj)
        rows.append(row)
    return {
        "kind": "Table", "apiVersion": "meta.k8s.io/v1", "metadata": {"resourceVersion": resource_version},
        "columnDefinitions": [{"name": c.name, "type": c.type, "format": c.format, "description": "",
                               "priority": c.priority} for c in columns],
        "rows": rows,
    }
