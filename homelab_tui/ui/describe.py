"""`d` on a Kubernetes row: the object as `kubectl describe` shows it, its fields that matter then
its Events. Pure text from the raw object and its events; no textual here."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

from .rows import age

JsonObject = dict[str, Any]
HIDDEN_ANNOTATIONS = ("kubectl.kubernetes.io/last-applied-configuration",)  # kubectl describe leaves it out


def describe(raw: JsonObject, events: list[JsonObject], now: datetime | None) -> str:
    """The text of `kubectl describe <kind> <name>`: the common metadata, the kind's own fields,
    then the Events (oldest first, ages from `now`; none shown when `now` is None)."""
    meta, spec, status = raw.get("metadata") or {}, raw.get("spec") or {}, raw.get("status") or {}
    fields: list[tuple[str, Any]] = [("Name", meta.get("name", ""))]
    if meta.get("namespace"):
        fields.append(("Namespace", meta["namespace"]))
    fields += [("Labels", _pairs(meta.get("labels"))),
               ("Annotations", _pairs({k: v for k, v in (meta.get("annotations") or {}).items()
                                       if k not in HIDDEN_ANNOTATIONS})),
               ("CreationTimestamp", meta.get("creationTimestamp", ""))]
    owner = next((o for o in meta.get("ownerReferences") or [] if o.get("controller")), None)
    if owner:
        fields.append(("Controlled By", f"{owner.get('kind')}/{owner.get('name')}"))
    fields += KIND_FIELDS.get(raw.get("kind", ""), lambda spec, status: [])(spec, status)
    lines = []
    for label, value in fields:
        lines += _field(label, value)
    lines += ["Events:", *_events(events, now)]
    return "\n".join(lines) + "\n"


def _pairs(mapping: dict | None) -> list[str]:
    return [f"{k}={v}" for k, v in sorted((mapping or {}).items())]


def _field(label: str, value: Any, indent: str = "") -> list[str]:
    """`Label:  value`, a list one item a line under it (`<none>` when empty)."""
    head = f"{indent}{label}:"
    if isinstance(value, list):
        if not value:
            return [f"{head:<20}<none>"]
        return [f"{head:<20}{value[0]}", *(f"{'':<20}{item}" for item in value[1:])]
    return [f"{head:<20}{value if value not in (None, '') else '<none>'}"]


def _conditions(status: JsonObject) -> list[str]:
    return [f"{c.get('type')}={c.get('status')}" + (f" ({c['reason']})" if c.get("reason") else "")
            for c in status.get("conditions") or []]


def _pod(spec: JsonObject, status: JsonObject) -> list[tuple[str, Any]]:
    states = {s.get("name"): s for s in status.get("containerStatuses") or []}
    containers = []
    for container in spec.get("containers") or []:
        name = container.get("name", "")
        state = states.get(name, {})
        current = next(iter(state.get("state") or {}), "waiting")
        detail = (state.get("state") or {}).get(current) or {}
        containers.append(f"{name}: {container.get('image', '')} {current.capitalize()}"
                          + (f" ({detail['reason']})" if detail.get("reason") else "")
                          + f", ready={str(state.get('ready', False)).lower()}, restarts={state.get('restartCount', 0)}")
        last = (state.get("lastState") or {}).get("terminated")
        if last:
            containers.append(f"  last terminated: {last.get('reason', '')} exit code {last.get('exitCode', '')}")
    return [("Node", spec.get("nodeName", "")), ("Status", status.get("phase", "")), ("IP", status.get("podIP", "")),
            ("Containers", containers), ("Conditions", _conditions(status))]


def _deployment(spec: JsonObject, status: JsonObject) -> list[tuple[str, Any]]:
    selector = (spec.get("selector") or {}).get("matchLabels") or {}
    replicas = (f"{spec.get('replicas', 1)} desired | {status.get('updatedReplicas', 0)} updated | "
                f"{status.get('replicas', 0)} total | {status.get('availableReplicas', 0)} available | "
                f"{status.get('unavailableReplicas', 0)} unavailable")
    images = [f"{c.get('name')}: {c.get('image')}"
              for c in ((spec.get("template") or {}).get("spec") or {}).get("containers") or []]
    return [("Selector", ",".join(_pairs(selector))), ("Replicas", replicas),
            ("StrategyType", (spec.get("strategy") or {}).get("type", "RollingUpdate")),
            ("Containers", images), ("Conditions", _conditions(status))]


def _node(spec: JsonObject, status: JsonObject) -> list[tuple[str, Any]]:
    info = status.get("nodeInfo") or {}
    return [("Unschedulable", str(bool(spec.get("unschedulable"))).lower()),
            ("Taints", [f"{t.get('key')}={t.get('value', '')}:{t.get('effect')}" for t in spec.get("taints") or []]),
            ("Addresses", [f"{a.get('type')}: {a.get('address')}" for a in status.get("addresses") or []]),
            ("Capacity", _pairs(status.get("capacity"))), ("Conditions", _conditions(status)),
            ("Kubelet Version", info.get("kubeletVersion", "")), ("OS Image", info.get("osImage", ""))]


def _service(spec: JsonObject, status: JsonObject) -> list[tuple[str, Any]]:
    ingress = (status.get("loadBalancer") or {}).get("ingress") or []
    return [("Type", spec.get("type", "ClusterIP")), ("Selector", ",".join(_pairs(spec.get("selector")))),
            ("IP", spec.get("clusterIP", "")),
            ("LoadBalancer Ingress", [i.get("ip") or i.get("hostname", "") for i in ingress]),
            ("Ports", [f"{p.get('name') or '<unset>'} {p.get('port')}/{p.get('protocol', 'TCP')} → "
                       f"{p.get('targetPort', p.get('port'))}" + (f" (NodePort {p['nodePort']})" if p.get("nodePort")
                                                                 else "") for p in spec.get("ports") or []])]


def _ingress(spec: JsonObject, status: JsonObject) -> list[tuple[str, Any]]:
    ingress = (status.get("loadBalancer") or {}).get("ingress") or []
    rules = [f"{rule.get('host', '*')}{path.get('path', '/')} → {_backend(path.get('backend') or {})}"
             for rule in spec.get("rules") or [] for path in (rule.get("http") or {}).get("paths") or []]
    return [("Ingress Class", spec.get("ingressClassName", "")),
            ("Address", ",".join(i.get("ip") or i.get("hostname", "") for i in ingress)),
            ("TLS", [f"{t.get('secretName', '')} terminates {','.join(t.get('hosts') or [])}" for t in spec.get("tls") or []]),
            ("Rules", rules)]


def _backend(backend: JsonObject) -> str:
    service = backend.get("service") or {}
    port = service.get("port") or {}
    return f"{service.get('name', '?')}:{port.get('number') or port.get('name', '?')}"


KIND_FIELDS = {"Pod": _pod, "Deployment": _deployment, "Node": _node, "Service": _service, "Ingress": _ingress}


def _events(events: Iterable[JsonObject], now: datetime | None) -> list[str]:
    rows = [(e.get("type", ""), e.get("reason", ""),
             _event_age(e, now), _source(e), (e.get("message") or "").strip()) for e in events]
    if not rows:
        return ["  <none>"]
    header = ("Type", "Reason", "Age", "From", "Message")
    table = [header, tuple("-" * len(h) for h in header), *rows]
    widths = [max(len(row[i]) for row in table) for i in range(4)]
    return ["  " + "  ".join(cell.ljust(width) for cell, width in zip(row[:4], widths)) + "  " + row[4]
            for row in table]


def _event_age(event: JsonObject, now: datetime | None) -> str:
    when = (event.get("lastTimestamp") or event.get("eventTime")
            or (event.get("metadata") or {}).get("creationTimestamp") or "")
    shown = age(when, now)
    count = event.get("count") or 0
    return f"{shown} (x{count})" if shown and count > 1 else shown


def _source(event: JsonObject) -> str:
    source = event.get("source") or {}
    return source.get("component") or event.get("reportingComponent") or ""
