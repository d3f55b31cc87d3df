"""Simulated Kubernetes API server (k3s flavoured) on loopback, with bearer-token auth.

It serves HTTPS with a throwaway CA by default, like k3s: kubectl only sends credentials over TLS
(client-go's clientcmd drops the user's token for an http:// server), so plain HTTP (`tls=False`)
works for kubernetes-asyncio and aiohttp but not for kubectl.

It speaks enough of the real REST API for `kubectl` and kubernetes-asyncio:
- discovery (/version, /api, /apis and each group version);
- list and watch with one global resourceVersion, a bounded watch history (410 Expired when a
  watch starts too far back), `timeoutSeconds`, label and field selectors;
- server-side Table printing, which is what `kubectl get` asks for;
- create, get, replace (409 on a stale resourceVersion), merge / strategic-merge / apply patch,
  delete, pods/log (with follow), deployments/scale and */status;
- Status bodies for errors, shaped like the real ones (NotFound, AlreadyExists, Conflict, Invalid).

A small controller, run as one asyncio task, does what kube-controller-manager, the scheduler,
the kubelets and MetalLB would: Deployment -> Pods (Pending -> ContainerCreating -> Running),
graceful pod deletion, garbage collection, LoadBalancer IPs from IPAddressPools. Cluster IPs and
node ports are allocated synchronously on create, as the real API server does.

Stored objects are never mutated in place: every change stores a new dict, so watch events and
list responses can share them safely.
"""

from __future__ import annotations

import asyncio
import base64
import gc
import hmac
import ipaddress
import json
import logging
import os
import random
import re
import ssl
import tempfile
import uuid
import zlib
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import yaml
from aiohttp import web

from homelab_tui.files import atomic_write

K3S_VERSION = "v1.31.4+k3s1"
NODE_PORT_RANGE = range(30000, 32768)
DEFAULT_NAMESPACES = ("default", "kube-system", "kube-public", "kube-node-lease")
PROTECTED_NAMESPACES = frozenset(DEFAULT_NAMESPACES)
# Kubernetes' name-suffix alphabet (k8s.io/apimachinery/pkg/util/rand): no vowels, no 0/1/3.
_SUFFIX_ALPHABET = "bcdfghjklmnpqrstvwxz2456789"
_VERBS = ["create", "delete", "get", "list", "patch", "update", "watch"]

JsonObject = dict[str, Any]
log = logging.getLogger(__name__)


# --- TLS ------------------------------------------------------------------------------------


def make_tls_material() -> tuple[bytes, ssl.SSLContext]:
    """(CA certificate PEM, server SSLContext): a throwaway CA and a serving certificate for
    127.0.0.1 / localhost, as k3s generates its own."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

    now = datetime.now(UTC)

    def build(subject: str, issuer: x509.Name | None, key: ec.EllipticCurvePrivateKey,
              signer: ec.EllipticCurvePrivateKey, is_ca: bool) -> x509.Certificate:
        name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, subject)])
        builder = (x509.CertificateBuilder().subject_name(name).issuer_name(issuer or name)
                   .public_key(key.public_key()).serial_number(x509.random_serial_number())
                   .not_valid_before(now - timedelta(minutes=5)).not_valid_after(now + timedelta(days=365))
                   .add_extension(x509.BasicConstraints(ca=is_ca, path_length=None), critical=True))
        if is_ca:
            builder = builder.add_extension(x509.KeyUsage(True, False, False, False, False, True, True, False, False),
                                            critical=True)
        else:
            builder = builder.add_extension(x509.SubjectAlternativeName([
                x509.DNSName("localhost"), x509.DNSName("kubernetes"),
                x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), critical=False).add_extension(
                x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        return builder.sign(signer, hashes.SHA256())

    ca_key, server_key = ec.generate_private_key(ec.SECP256R1()), ec.generate_private_key(ec.SECP256R1())
    ca_cert = build("k3s-server-ca", None, ca_key, ca_key, True)
    server_cert = build("k3s", ca_cert.subject, server_key, ca_key, False)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    with tempfile.TemporaryDirectory() as tmp:  # load_cert_chain only reads files
        cert_file, key_file = Path(tmp, "serving.crt"), Path(tmp, "serving.key")
        cert_file.write_bytes(server_cert.public_bytes(serialization.Encoding.PEM))
        key_file.write_bytes(server_key.private_bytes(serialization.Encoding.PEM,
                                                      serialization.PrivateFormat.PKCS8, serialization.NoEncryption()))
        context.load_cert_chain(cert_file, key_file)
    return ca_cert.public_bytes(serialization.Encoding.PEM), context


# --- resource types -------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ResourceType:
    kind: str
    plural: str
    group: str
    version: str
    namespaced: bool
    short_names: tuple[str, ...] = ()
    categories: tuple[str, ...] = ()
    has_status: bool = True
    subresources: tuple[str, ...] = ()
    field_labels: tuple[str, ...] = ()  # beyond metadata.name and metadata.namespace

    @property
    def api_version(self) -> str:
        return f"{self.group}/{self.version}" if self.group else self.version

    @property
    def base_path(self) -> str:
        return f"/apis/{self.group}/{self.version}" if self.group else f"/api/{self.version}"

    @property
    def group_resource(self) -> str:
        """`deployments.apps` / `pods`: how the real API names a resource in error messages."""
        return f"{self.plural}.{self.group}" if self.group else self.plural

    @property
    def qualified_kind(self) -> str:
        """`Deployment.apps` / `Service`: how the real API names a kind in Invalid messages."""
        return f"{self.kind}.{self.group}" if self.group else self.kind


RESOURCE_TYPES: tuple[ResourceType, ...] = (
    ResourceType("Namespace", "namespaces", "", "v1", False, ("ns",),
                 subresources=("status",), field_labels=("status.phase",)),
    ResourceType("Node", "nodes", "", "v1", False, ("no",),
                 subresources=("status",), field_labels=("spec.unschedulable",)),
    ResourceType("Pod", "pods", "", "v1", True, ("po",), ("all",), subresources=("log", "status"),
                 field_labels=("spec.nodeName", "status.phase", "status.podIP", "spec.restartPolicy",
                               "spec.schedulerName", "spec.serviceAccountName")),
    ResourceType("Service", "services", "", "v1", True, ("svc",), ("all",),
                 subresources=("status",), field_labels=("spec.clusterIP", "spec.type")),
    ResourceType("Deployment", "deployments", "apps", "v1", True, ("deploy",), ("all",),
                 subresources=("scale", "status")),
    ResourceType("Ingress", "ingresses", "networking.k8s.io", "v1", True, ("ing",),
                 subresources=("status",)),
    ResourceType("IPAddressPool", "ipaddresspools", "metallb.io", "v1beta1", True, has_status=False),
    ResourceType("L2Advertisement", "l2advertisements", "metallb.io", "v1beta1", True,
                 has_status=False),
)
_BY_PATH = {(rt.base_path, rt.plural): rt for rt in RESOURCE_TYPES}
GROUP_VERSIONS = {
    gv: [rt for rt in RESOURCE_TYPES if rt.base_path == gv]
    for gv in dict.fromkeys(rt.base_path for rt in RESOURCE_TYPES)
}


def resource_type(kind: str) -> ResourceType:
    """The ResourceType for a kind, plural or short name, case-insensitively ("Pod", "pods", "po")."""
    wanted = kind.lower()
    for rt in RESOURCE_TYPES:
        if wanted in (rt.kind.lower(), rt.plural, *rt.short_names):
            return rt
    raise KeyError(f"unknown kind {kind!r}")


# --- errors ---------------------------------------------------------------------------------


class KubeApiError(Exception):
    """An API error; `status` is the Status body the HTTP layer sends."""

    def __init__(self, code: int, reason: str, message: str, details: JsonObject | None = None):
        super().__init__(message)
        self.code = code
        self.reason = reason
        self.message = message
        self.details = details

    @property
    def status(self) -> JsonObject:
        return status_body(self.code, self.reason, self.message, self.details)


def status_body(code: int, reason: str, message: str, details: JsonObject | None = None) -> JsonObject:
    body: JsonObject = {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
                        "message": message, "reason": reason}
    if details:
        body["details"] = details
    body["code"] = code
    return body


def _resource_details(rt: ResourceType, name: str) -> JsonObject:
    details: JsonObject = {"name": name}
    if rt.group:
        details["group"] = rt.group
    details["kind"] = rt.plural
    return details


def not_found(rt: ResourceType, name: str) -> KubeApiError:
    return KubeApiError(404, "NotFound", f'{rt.group_resource} "{name}" not found',
                        _resource_details(rt, name))


def already_exists(rt: ResourceType, name: str) -> KubeApiError:
    return KubeApiError(409, "AlreadyExists", f'{rt.group_resource} "{name}" already exists',
                        _resource_details(rt, name))


def conflict(rt: ResourceType, name: str) -> KubeApiError:
    return KubeApiError(
        409, "Conflict",
        f'Operation cannot be fulfilled on {rt.group_resource} "{name}": the object has been '
        "modified; please apply your changes to the latest version and try again",
        _resource_details(rt, name))


def bad_request(message: str) -> KubeApiError:
    return KubeApiError(400, "BadRequest", message)


@dataclass(frozen=True, slots=True)
class FieldError:
    """One cause of a 422 Invalid, e.g. FieldError("spec.ports[0].nodePort", "Invalid value: 1: ...")."""

    field: str
    detail: str

    @property
    def reason(self) -> str:
        for prefix, reason in (("Invalid value", "FieldValueInvalid"), ("Required", "FieldValueRequired"),
                               ("Forbidden", "FieldValueForbidden"), ("Unsupported", "FieldValueNotSupported"),
                               ("Duplicate", "FieldValueDuplicate")):
            if self.detail.startswith(prefix):
                return reason
        return "FieldValueInvalid"


def invalid(rt: ResourceType, name: str, errors: Sequence[FieldError]) -> KubeApiError:
    texts = [f"{e.field}: {e.detail}" for e in errors]
    summary = texts[0] if len(texts) == 1 else "[" + ", ".join(texts) + "]"
    details: JsonObject = {"name": name}
    if rt.group:
        details["group"] = rt.group
    details["kind"] = rt.kind
    details["causes"] = [{"reason": e.reason, "message": e.detail, "field": e.field} for e in errors]
    return KubeApiError(422, "Invalid", f'{rt.qualified_kind} "{name}" is invalid: {summary}', details)


# --- selectors ------------------------------------------------------------------------------

_LABEL_REQUIREMENT = re.compile(
    r"^(?P<absent>!)?\s*(?P<key>[A-Za-z0-9][-A-Za-z0-9_./]*)\s*"
    r"(?:(?P<op>==|!=|=)\s*(?P<value>[-A-Za-z0-9_.]*)"
    r"|\s+(?P<setop>in|notin)\s*\((?P<values>[^()]*)\))?$"
)


def _split_top_level(text: str) -> list[str]:
    """Split a selector on commas that are not inside parentheses."""
    parts, depth, current = [], 0, []
    for char in text:
        if char == "," and depth == 0:
            parts.append("".join(current))
            current = []
            continue
        depth += {"(": 1, ")": -1}.get(char, 0)
        current.append(char)
    parts.append("".join(current))
    return [part.strip() for part in parts if part.strip()]


def compile_label_selector(text: str) -> Callable[[dict[str, str]], bool]:
    """Label selector (`a=b`, `a==b`, `a!=b`, `a`, `!a`, `a in (x,y)`, `a notin (x)`) -> predicate."""
    checks: list[Callable[[dict[str, str]], bool]] = []
    for requirement in _split_top_level(text or ""):
        match = _LABEL_REQUIREMENT.match(requirement)
        if not match or (match["absent"] and (match["op"] or match["setop"])):
            raise bad_request(f"unable to parse requirement: {requirement!r}")
        key, op, value = match["key"], match["op"] or match["setop"], match["value"]
        if match["absent"]:
            checks.append(lambda labels, k=key: k not in labels)
        elif op in ("=", "=="):
            checks.append(lambda labels, k=key, v=value: labels.get(k) == v)
        elif op == "!=":
            checks.append(lambda labels, k=key, v=value: labels.get(k) != v)
        elif op in ("in", "notin"):
            values = frozenset(v.strip() for v in match["values"].split(",") if v.strip())
            if op == "in":
                checks.append(lambda labels, k=key, vs=values: labels.get(k) in vs)
            else:
                checks.append(lambda labels, k=key, vs=values: labels.get(k) not in vs)
        else:
            checks.append(lambda labels, k=key: k in labels)
    return lambda labels: all(check(labels) for check in checks)


def field_value(obj: JsonObject, path: str) -> str:
    """The string form of a dotted field, as field selectors compare it ("" when missing)."""
    value: Any = obj
    for part in path.split("."):
        value = value.get(part) if isinstance(value, dict) else None
    if isinstance(value, bool):
        return "true" if value else "false"
    return "" if value is None else str(value)


def compile_field_selector(text: str, rt: ResourceType) -> Callable[[JsonObject], bool]:
    """Field selector (`metadata.name=x`, `spec.nodeName!=y`, comma-separated) -> predicate."""
    allowed = {"metadata.name", "metadata.namespace", *rt.field_labels}
    checks: list[Callable[[JsonObject], bool]] = []
    for requirement in _split_top_level(text or ""):
        match = re.match(r"^([A-Za-z0-9_.]+)\s*(==|!=|=)\s*(.*)$", requirement)
        if not match:
            raise bad_request(f"invalid selector: {requirement!r}; can't understand {requirement!r}")
        path, op, value = match.groups()
        if path not in allowed:
            raise bad_request(f'field label not supported: {path}')
        if op == "!=":
            checks.append(lambda obj, p=path, v=value: field_value(obj, p) != v)
        else:
            checks.append(lambda obj, p=path, v=value: field_value(obj, p) == v)
    return lambda obj: all(check(obj) for check in checks)


# --- small helpers --------------------------------------------------------------------------


def _clone(obj: Any) -> Any:
    """A deep copy of JSON data (several times faster than copy.deepcopy)."""
    return json.loads(json.dumps(obj))


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _labels(obj: JsonObject) -> dict[str, str]:
    return obj.get("metadata", {}).get("labels") or {}


def _key(obj: JsonObject) -> tuple[str, str]:
    meta = obj["metadata"]
    return meta.get("namespace", ""), meta["name"]


def merge_patch(target: Any, patch: Any) -> Any:
    """RFC 7386 JSON merge patch; keys starting with `$` (strategic-merge directives) are dropped."""
    if not isinstance(patch, dict):
        return _clone(patch)
    result = _clone(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if key.startswith("$"):
            continue
        if value is None:
            result.pop(key, None)
        else:
            result[key] = merge_patch(result.get(key), value)
    return result


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


def _age(obj: JsonObject) -> str:
    created = obj.get("metadata", {}).get("creationTimestamp")
    if not created:
        return "<unknown>"
    then = datetime.strptime(created, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)
    return human_duration((datetime.now(UTC) - then).total_seconds())


def parse_go_duration(text: str) -> float:
    """Seconds in a Go duration such as "30s", "1m30s" or "500ms" (kubectl's `timeout` parameter)."""
    units = {"h": 3600.0, "m": 60.0, "s": 1.0, "ms": 0.001, "us": 1e-6, "µs": 1e-6, "ns": 1e-9}
    parts = re.findall(r"(\d+(?:\.\d+)?)(h|ms|m|s|us|µs|ns)", text)
    if not parts or "".join(n + u for n, u in parts) != text:
        raise bad_request(f"invalid timeout {text!r}")
    return sum(float(n) * units[u] for n, u in parts)


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


# --- server-side printing (the Tables `kubectl get` asks for) --------------------------------


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


def _node_status(node: JsonObject) -> str:
    ready = next((c for c in node.get("status", {}).get("conditions", []) if c.get("type") == "Ready"), None)
    state = "Unknown" if ready is None else ("Ready" if ready.get("status") == "True" else "NotReady")
    return f"{state},SchedulingDisabled" if node.get("spec", {}).get("unschedulable") else state


def node_roles(node: JsonObject) -> list[str]:
    prefix = "node-role.kubernetes.io/"
    return sorted(key[len(prefix):] for key in _labels(node) if key.startswith(prefix))


def _node_address(node: JsonObject, kind: str) -> str:
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


def _selector_text(selector: dict[str, str] | None) -> str:
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


TABLE_COLUMNS: dict[str, list[Column]] = {
    "Namespace": [_name_column(), Column("Status", lambda o: o.get("status", {}).get("phase", "")),
                  _age_column()],
    "Node": [
        _name_column(), Column("Status", _node_status),
        Column("Roles", lambda o: ",".join(node_roles(o)) or "<none>"), _age_column(),
        Column("Version", lambda o: o.get("status", {}).get("nodeInfo", {}).get("kubeletVersion", "")),
        Column("Internal-IP", lambda o: _node_address(o, "InternalIP"), 1),
        Column("External-IP", lambda o: _node_address(o, "ExternalIP"), 1),
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
        Column("Selector", lambda o: _selector_text(o.get("spec", {}).get("selector")), 1),
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
        Column("Selector", lambda o: _selector_text(o.get("spec", {}).get("selector", {}).get("matchLabels")), 1),
    ],
    "Ingress": [
        _name_column(), Column("Class", lambda o: o.get("spec", {}).get("ingressClassName") or "<none>"),
        Column("Hosts", lambda o: ",".join(r.get("host", "*") for r in o.get("spec", {}).get("rules") or [])
               or "*"),
        Column("Address", lambda o: ",".join(
            i.get("ip", "") for i in o.get("status", {}).get("loadBalancer", {}).get("ingress") or [])),
        Column("Ports", lambda o: "80, 443" if o.get("spec", {}).get("tls") else "80"), _age_column(),
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
    columns = TABLE_COLUMNS[rt.kind]
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


_OPENAPI_HASH = zlib.crc32(K3S_VERSION.encode())


def openapi_v3_document(group_version_path: str) -> JsonObject:
    """A minimal OpenAPI v3 document for one group version: just enough for kubectl to see that
    PATCH accepts `fieldValidation`, so it validates on the server instead of fetching schemas."""
    paths: JsonObject = {}
    for rt in GROUP_VERSIONS[group_version_path]:
        item_path = (f"{rt.base_path}/namespaces/{{namespace}}/{rt.plural}/{{name}}" if rt.namespaced
                     else f"{rt.base_path}/{rt.plural}/{{name}}")
        paths[item_path] = {"patch": {
            "operationId": f"patch{rt.kind}",
            "x-kubernetes-action": "patch",
            "x-kubernetes-group-version-kind": {"group": rt.group, "version": rt.version, "kind": rt.kind},
            "parameters": [{"name": name, "in": "query", "schema": {"type": "string", "uniqueItems": True}}
                           for name in ("dryRun", "fieldManager", "fieldValidation", "force")],
            "responses": {"200": {"description": "OK"}},
        }}
    return {"openapi": "3.0.0", "info": {"title": "Kubernetes", "version": K3S_VERSION}, "paths": paths,
            "components": {"schemas": {}}}


def _wants_table(request: web.Request) -> bool:
    return "as=Table" in request.headers.get("Accept", "")


# --- watch plumbing -------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Change:
    rv: int
    rt: ResourceType
    type: str  # ADDED / MODIFIED / DELETED
    obj: JsonObject
    old: JsonObject | None


@dataclass(eq=False)
class _Watcher:
    """One open watch: its filters and the queue its HTTP handler drains (None ends it)."""

    rt: ResourceType
    namespace: str | None
    label_match: Callable[[dict[str, str]], bool]
    field_match: Callable[[JsonObject], bool]
    queue: asyncio.Queue[tuple[str, JsonObject] | None] = field(default_factory=asyncio.Queue)

    def matches(self, obj: JsonObject | None) -> bool:
        if obj is None:
            return False
        if self.namespace and obj["metadata"].get("namespace") != self.namespace:
            return False
        return self.label_match(_labels(obj)) and self.field_match(obj)

    def offer(self, change: _Change) -> None:
        """Queue `change` as this watch sees it: objects entering or leaving the selection are
        ADDED or DELETED, as the real API server reports them."""
        if change.rt is not self.rt:
            return
        now, before = self.matches(change.obj), self.matches(change.old)
        if change.type == "DELETED":
            event_type = "DELETED" if now else None
        elif now:
            event_type = "MODIFIED" if before else "ADDED"
        else:
            event_type = "DELETED" if before else None
        if event_type:
            self.queue.put_nowait((event_type, change.obj))


# --- the simulator --------------------------------------------------------------------------


class KubeApiSim:
    """The simulated API server. Plain methods (add_node, create, get, delete, ...) change the same
    state the HTTP API serves, so a lab or a test can seed and steer it without HTTP."""

    def __init__(self, token: str, pod_cidr: str = "10.42.0.0/16", service_cidr: str = "10.43.0.0/16",
                 history_limit: int = 1000, controller_delay: float = 0.0, seed: int = 0, tls: bool = True):
        self._token = token
        self.ca_pem, self._server_ssl = make_tls_material() if tls else (b"", None)
        self.pod_cidr = ipaddress.ip_network(pod_cidr)
        self.service_cidr = ipaddress.ip_network(service_cidr)
        self.controller_delay = controller_delay
        self._random = random.Random(seed)
        self._objects: dict[str, dict[tuple[str, str], JsonObject]] = {rt.plural: {} for rt in RESOURCE_TYPES}
        self._rv = 0
        self._history: deque[_Change] = deque(maxlen=max(1, history_limit))
        self._compacted_rv = 0  # watches must start at or after this resourceVersion
        self._watchers: set[_Watcher] = set()
        self._logs: dict[tuple[str, str], list[str]] = {}
        self._log_followers: dict[tuple[str, str], set[asyncio.Queue[str | None]]] = {}
        self._node_subnets: dict[str, ipaddress.IPv4Network | ipaddress.IPv6Network] = {}
        self._ip_cursors: dict[str, int] = {}
        self._wake = asyncio.Event()
        self._controller: asyncio.Task[None] | None = None
        self._runner: web.AppRunner | None = None
        self.port = 0
        for namespace in DEFAULT_NAMESPACES:
            self.create({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": namespace}})
        self.create({
            "apiVersion": "v1", "kind": "Service",
            "metadata": {"name": "kubernetes", "namespace": "default",
                         "labels": {"component": "apiserver", "provider": "kubernetes"}},
            "spec": {"clusterIP": str(self.service_cidr.network_address + 1),
                     "ports": [{"name": "https", "port": 443, "protocol": "TCP", "targetPort": 6443}]},
        })

    def __repr__(self) -> str:  # never show the token
        return f"KubeApiSim(url={self.url!r}, objects={sum(map(len, self._objects.values()))})"

    # -- lifecycle --------------------------------------------------------------------------

    @property
    def url(self) -> str:
        return f"{'https' if self._server_ssl else 'http'}://127.0.0.1:{self.port}"

    def client_ssl_context(self) -> ssl.SSLContext | None:
        """An SSLContext trusting this server's CA (None for plain HTTP), for raw HTTP clients."""
        return ssl.create_default_context(cadata=self.ca_pem.decode()) if self._server_ssl else None

    @property
    def running(self) -> bool:
        return self._runner is not None

    async def start(self) -> None:
        """Listen on 127.0.0.1 (an OS-picked port the first time, the same port after a stop)."""
        if self._runner is not None:
            return
        app = web.Application(client_max_size=16 * 1024 * 1024)
        app.router.add_route("*", "/{tail:.*}", self._dispatch)
        runner = web.AppRunner(app, access_log=None, shutdown_timeout=2.0)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", self.port, ssl_context=self._server_ssl, reuse_address=True)
        await site.start()
        self._runner = runner
        self.port = runner.addresses[0][1]
        self._wake = asyncio.Event()
        self._controller = asyncio.create_task(self._run_controller(), name="kube-sim-controller")
        self._wake.set()

    async def stop(self) -> None:
        """Close open watches and log streams, stop serving and pause the controller."""
        if self._runner is None:
            return
        runner, self._runner = self._runner, None
        for watcher in list(self._watchers):
            watcher.queue.put_nowait(None)
        for followers in self._log_followers.values():
            for queue in followers:
                queue.put_nowait(None)
        if self._controller is not None:
            self._controller.cancel()
            await asyncio.gather(self._controller, return_exceptions=True)
            self._controller = None
        await runner.cleanup()

    async def __aenter__(self) -> KubeApiSim:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    def kubeconfig_text(self, cluster_name: str = "homelab", context: str = "homelab",
                        user: str | None = None) -> str:
        """A kubeconfig for this server that kubectl and kubernetes-asyncio accept."""
        user = user or f"{cluster_name}-admin"
        cluster: JsonObject = {"server": self.url}
        if self.ca_pem:
            cluster["certificate-authority-data"] = base64.b64encode(self.ca_pem).decode()
        config = {
            "apiVersion": "v1", "kind": "Config", "preferences": {},
            "clusters": [{"name": cluster_name, "cluster": cluster}],
            "users": [{"name": user, "user": {"token": self._token}}],
            "contexts": [{"name": context, "context": {"cluster": cluster_name, "user": user,
                                                       "namespace": "default"}}],
            "current-context": context,
        }
        return yaml.safe_dump(config, sort_keys=False)

    def write_kubeconfig(self, path: str | os.PathLike[str], cluster_name: str = "homelab",
                         context: str = "homelab") -> Path:
        """Write the kubeconfig atomically, mode 0600."""
        return atomic_write(path, self.kubeconfig_text(cluster_name, context), backup=False)

    # -- plain-Python state API ---------------------------------------------------------------

    @property
    def resource_version(self) -> int:
        return self._rv

    @property
    def open_watches(self) -> int:
        return len(self._watchers)

    def create(self, obj: JsonObject) -> JsonObject:
        """Create an object exactly as a POST would (defaults, validation, allocation)."""
        rt = resource_type(obj.get("kind", ""))
        return _clone(self._create(rt, obj.get("metadata", {}).get("namespace") or "default", obj))

    def get(self, kind: str, namespace: str | None, name: str) -> JsonObject | None:
        rt = resource_type(kind)
        found = self._objects[rt.plural].get(((namespace or "") if rt.namespaced else "", name))
        return _clone(found) if found else None

    def list(self, kind: str, namespace: str | None = None, label_selector: str = "") -> list[JsonObject]:
        rt = resource_type(kind)
        match = compile_label_selector(label_selector)
        return [_clone(o) for o in self._select(rt, namespace) if match(_labels(o))]

    def delete(self, kind: str, namespace: str | None, name: str, grace_period: int | None = None) -> None:
        """Delete like the API: pods on a node terminate gracefully (the controller removes them)."""
        rt = resource_type(kind)
        self._delete(rt, namespace or "", name, grace_period)

    def update_status(self, kind: str, namespace: str | None, name: str, status: JsonObject) -> JsonObject:
        """Merge `status` into an object's status, e.g. to make a pod CrashLoopBackOff."""
        rt = resource_type(kind)
        current = self._require(rt, namespace or "", name)
        updated = merge_patch(current, {"status": status})
        return _clone(self._commit(rt, "MODIFIED", updated, current))

    def add_node(self, name: str, address: str, arch: str = "arm64",
                 roles: Sequence[str] = ("control-plane", "master"), ready: bool = True,
                 kubelet_version: str = K3S_VERSION, os_image: str = "Ubuntu 24.04.1 LTS",
                 cpu: str = "4", memory: str = "3880Mi", labels: dict[str, str] | None = None) -> JsonObject:
        """Register a node, as a kubelet does when it joins."""
        subnet = self._node_subnets.setdefault(name, self._node_subnet(len(self._node_subnets)))
        node_labels = {
            "beta.kubernetes.io/arch": arch, "beta.kubernetes.io/instance-type": "k3s",
            "beta.kubernetes.io/os": "linux", "kubernetes.io/arch": arch, "kubernetes.io/hostname": name,
            "kubernetes.io/os": "linux", "node.kubernetes.io/instance-type": "k3s",
            **{f"node-role.kubernetes.io/{role}": "true" for role in roles}, **(labels or {}),
        }
        resources = {"cpu": cpu, "memory": memory, "pods": "110", "ephemeral-storage": "61202244Ki"}
        node = {
            "apiVersion": "v1", "kind": "Node",
            "metadata": {"name": name, "labels": node_labels,
                         "annotations": {"k3s.io/internal-ip": address, "k3s.io/hostname": name}},
            "spec": {"podCIDR": str(subnet), "podCIDRs": [str(subnet)],
                     "providerID": f"k3s://{name}"},
            "status": {
                "addresses": [{"type": "InternalIP", "address": address}, {"type": "Hostname", "address": name}],
                "capacity": resources, "allocatable": dict(resources),
                "conditions": self._node_conditions(ready),
                "daemonEndpoints": {"kubeletEndpoint": {"Port": 10250}},
                "nodeInfo": {
                    "architecture": arch, "bootID": str(self._uuid()), "containerRuntimeVersion":
                    "containerd://1.7.23-k3s2", "kernelVersion": "6.8.0-1015-raspi",
                    "kubeProxyVersion": kubelet_version, "kubeletVersion": kubelet_version,
                    "machineID": self._uuid().hex, "operatingSystem": "linux", "osImage": os_image,
                    "systemUUID": str(self._uuid()),
                },
            },
        }
        return self.create(node)

    def set_node_ready(self, name: str, ready: bool) -> None:
        rt = resource_type("Node")
        node = self._require(rt, "", name)
        updated = _clone(node)
        updated["status"]["conditions"] = self._node_conditions(ready)
        self._commit(rt, "MODIFIED", updated, node)

    def append_pod_log(self, namespace: str, name: str, line: str) -> None:
        """Add a line to a pod's log (followers of the log receive it at once)."""
        self._require(resource_type("Pod"), namespace, name)
        self._append_logs((namespace, name), [line])

    def force_compact(self) -> None:
        """Drop the watch history: every watch from an older resourceVersion now gets 410 Expired,
        and open watches receive the 410 ERROR event and end, as after an etcd compaction."""
        self._history.clear()
        self._rv += 1
        self._compacted_rv = self._rv
        expired = self._expired_status(0)
        for watcher in list(self._watchers):
            watcher.queue.put_nowait(("ERROR", expired))
            watcher.queue.put_nowait(None)

    def seed_pods(self, count: int, nodes: Sequence[str] | int, namespace_count: int = 10,
                  prefix: str = "app") -> list[str]:
        """Create `count` Running pods spread over `nodes` (names, or a count of nodes to add) and
        `namespace_count` namespaces (`<prefix>-ns-NN`), directly and without controller delay.
        Returns the node names used."""
        gc_was_enabled = gc.isenabled()
        gc.disable()  # half the time of building 10k pods goes to collections that find nothing
        try:
            return self._seed_pods(count, nodes, namespace_count, prefix)
        finally:
            if gc_was_enabled:
                gc.enable()

    def _seed_pods(self, count: int, nodes: Sequence[str] | int, namespace_count: int, prefix: str) -> list[str]:
        if isinstance(nodes, int):
            node_names = [f"{prefix}-node-{i:02d}" for i in range(nodes)]
            for i, node_name in enumerate(node_names):
                if self.get("Node", None, node_name) is None:
                    self.add_node(node_name, f"10.99.{i // 250}.{i % 250 + 1}", roles=())
        else:
            node_names = list(nodes)
        pod_rt = resource_type("Pod")
        namespaces = [f"{prefix}-ns-{i:02d}" for i in range(namespace_count)]
        for namespace in namespaces:
            if self.get("Namespace", None, namespace) is None:
                self.create({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": namespace}})
        used_ips, now = self._used_pod_ips(), _now()
        for i in range(count):
            node = self._require(resource_type("Node"), "", node_names[i % len(node_names)])
            pod = {
                "apiVersion": "v1", "kind": "Pod",
                "metadata": {"name": f"{prefix}-{i:05d}-{self._suffix()}", "namespace": namespaces[i % len(namespaces)],
                             "labels": {"app": f"{prefix}-{i % 20}"}},
                "spec": {"containers": [{"name": "app", "image": "nginx:1.27"}]},
            }
            pod = self._new_object(pod_rt, pod["metadata"]["namespace"], pod)
            pod = self._start_pod(self._bind_pod(pod, node, used_ips, now), now)
            self._commit(pod_rt, "ADDED", pod, None)
        return node_names

    # -- storage and events -------------------------------------------------------------------

    def _uuid(self) -> uuid.UUID:
        return uuid.UUID(int=self._random.getrandbits(128), version=4)

    def _suffix(self, length: int = 5) -> str:
        return "".join(self._random.choice(_SUFFIX_ALPHABET) for _ in range(length))

    def _select(self, rt: ResourceType, namespace: str | None) -> list[JsonObject]:
        store = self._objects[rt.plural]
        return [store[k] for k in sorted(store) if not namespace or not rt.namespaced or k[0] == namespace]

    def _require(self, rt: ResourceType, namespace: str, name: str) -> JsonObject:
        found = self._objects[rt.plural].get((namespace if rt.namespaced else "", name))
        if found is None:
            raise not_found(rt, name)
        return found

    def _commit(self, rt: ResourceType, event_type: str, obj: JsonObject, old: JsonObject | None) -> JsonObject:
        """Store (or remove) `obj` under a new resourceVersion, record it and tell the watches."""
        self._rv += 1
        obj["metadata"]["resourceVersion"] = str(self._rv)
        key = _key(obj)
        if event_type == "DELETED":
            self._objects[rt.plural].pop(key, None)
        else:
            self._objects[rt.plural][key] = obj
        if len(self._history) == self._history.maxlen:
            self._compacted_rv = self._history[0].rv
        change = _Change(self._rv, rt, event_type, obj, old)
        self._history.append(change)
        for watcher in self._watchers:
            watcher.offer(change)
        self._wake.set()
        return obj

    def _expired_status(self, requested: int) -> JsonObject:
        return status_body(410, "Expired", f"too old resource version: {requested} ({self._compacted_rv})")

    # -- verbs ----------------------------------------------------------------------------------

    def _new_object(self, rt: ResourceType, namespace: str, body: JsonObject) -> JsonObject:
        obj = _clone(body)
        obj["apiVersion"], obj["kind"] = rt.api_version, rt.kind
        meta = obj.setdefault("metadata", {})
        if not meta.get("name") and meta.get("generateName"):
            meta["name"] = meta["generateName"] + self._suffix()
        if rt.namespaced:
            meta["namespace"] = namespace
        else:
            meta.pop("namespace", None)
        meta["uid"] = str(self._uuid())
        meta["creationTimestamp"] = _now()
        for transient in ("resourceVersion", "deletionTimestamp", "deletionGracePeriodSeconds", "managedFields"):
            meta.pop(transient, None)
        if "spec" in obj or rt.kind in ("Deployment", "Service", "Pod"):
            meta["generation"] = 1
        if rt.has_status and not obj.get("status"):
            obj["status"] = {}
        return obj

    def _create(self, rt: ResourceType, namespace: str, body: JsonObject) -> JsonObject:
        if body.get("kind") and body["kind"] != rt.kind:
            raise bad_request(f"the API version in the data ({body.get('apiVersion')}) does not match the "
                              f"expected API version ({rt.api_version}) or kind {body['kind']!r}")
        body_ns = body.get("metadata", {}).get("namespace")
        if rt.namespaced and body_ns and body_ns != namespace:
            raise bad_request("the namespace of the provided object does not match the namespace sent on "
                              "the request")
        if rt.namespaced and ("", namespace) not in self._objects["namespaces"]:
            raise not_found(resource_type("Namespace"), namespace)
        obj = self._new_object(rt, namespace, body)
        name = obj["metadata"].get("name", "")
        if (obj["metadata"].get("namespace", ""), name) in self._objects[rt.plural]:
            raise already_exists(rt, name)
        obj = self._admit(rt, obj, None)
        if rt.kind == "Namespace":
            obj["status"] = {"phase": "Active"}
            obj["metadata"].setdefault("labels", {})["kubernetes.io/metadata.name"] = name
            obj["spec"] = {"finalizers": ["kubernetes"]}
        return self._commit(rt, "ADDED", obj, None)

    def _replace(self, rt: ResourceType, namespace: str, name: str, body: JsonObject,
                 subresource: str = "") -> JsonObject:
        current = self._require(rt, namespace, name)
        meta = body.get("metadata") or {}
        if meta.get("name", name) != name:
            raise bad_request(f"the name of the object ({meta.get('name')}) does not match the name on "
                              f"the URL ({name})")
        if meta.get("resourceVersion") and meta["resourceVersion"] != current["metadata"]["resourceVersion"]:
            raise conflict(rt, name)
        updated = _clone(body)
        updated["apiVersion"], updated["kind"] = rt.api_version, rt.kind
        new_meta = updated.setdefault("metadata", {})
        for kept in ("name", "namespace", "uid", "creationTimestamp", "generation", "deletionTimestamp",
                     "deletionGracePeriodSeconds"):
            if kept in current["metadata"]:
                new_meta[kept] = current["metadata"][kept]
            else:
                new_meta.pop(kept, None)
        if subresource == "status":  # only the status changes
            updated = {**_clone(current), "status": updated.get("status", {})}
        else:
            if rt.has_status:
                updated["status"] = _clone(current.get("status", {}))
            updated = self._admit(rt, updated, current)
            if updated.get("spec") != current.get("spec") and "generation" in new_meta:
                new_meta["generation"] += 1
        updated["metadata"]["resourceVersion"] = current["metadata"]["resourceVersion"]
        if updated == current:
            return current  # a no-op update does not bump the resourceVersion, as in the real API
        return self._commit(rt, "MODIFIED", updated, current)

    def _patch(self, rt: ResourceType, namespace: str, name: str, patch: JsonObject,
               subresource: str = "") -> JsonObject:
        current = self._require(rt, namespace, name)
        if not isinstance(patch, dict):
            raise bad_request("the patch must be a JSON object")
        wanted_rv = (patch.get("metadata") or {}).get("resourceVersion")
        if wanted_rv and wanted_rv != current["metadata"]["resourceVersion"]:
            raise conflict(rt, name)
        merged = merge_patch(current, patch)
        merged.setdefault("metadata", {})["resourceVersion"] = current["metadata"]["resourceVersion"]
        return self._replace(rt, namespace, name, merged, subresource)

    def _delete(self, rt: ResourceType, namespace: str, name: str, grace_period: int | None) -> JsonObject:
        current = self._require(rt, namespace, name)
        if rt.kind == "Namespace":
            if name in PROTECTED_NAMESPACES:
                raise KubeApiError(403, "Forbidden", f'namespaces "{name}" is forbidden: this namespace may not '
                                   "be deleted", _resource_details(rt, name))
            for other in RESOURCE_TYPES:
                if other.namespaced:
                    for obj in self._select(other, name):
                        self._commit(other, "DELETED", _clone(obj), obj)
        if rt.kind == "Pod" and current["spec"].get("nodeName") and grace_period != 0:
            if current["metadata"].get("deletionTimestamp"):
                return current
            terminating = _clone(current)
            terminating["metadata"]["deletionTimestamp"] = _now()
            terminating["metadata"]["deletionGracePeriodSeconds"] = (
                grace_period if grace_period is not None else current["spec"].get("terminationGracePeriodSeconds", 30))
            return self._commit(rt, "MODIFIED", terminating, current)
        removed = self._commit(rt, "DELETED", _clone(current), current)
        if rt.kind == "Pod":
            self._close_logs((namespace, name))
        return removed

    # -- admission: defaults, validation, allocation ----------------------------------------------

    def _admit(self, rt: ResourceType, obj: JsonObject, old: JsonObject | None) -> JsonObject:
        name = obj["metadata"].get("name", "")
        errors = self._validate_name(rt, name)
        if rt.kind == "Pod":
            errors += self._default_pod_spec(obj.setdefault("spec", {}), "spec")
            if old is None:
                obj["status"] = {"phase": "Pending", "qosClass": "BestEffort"}
            else:
                obj["spec"]["nodeName"] = obj["spec"].get("nodeName") or old["spec"].get("nodeName")
        elif rt.kind == "Deployment":
            errors += self._default_deployment(obj)
        elif rt.kind == "Service":
            errors += self._admit_service(obj, old)
        elif rt.kind == "IPAddressPool":
            obj.setdefault("spec", {}).setdefault("autoAssign", True)
            obj["spec"].setdefault("avoidBuggyIPs", False)
            if not obj["spec"].get("addresses"):
                errors.append(FieldError("spec.addresses", "Required value"))
        if errors:
            raise invalid(rt, name, errors)
        return obj

    @staticmethod
    def _validate_name(rt: ResourceType, name: str) -> list[FieldError]:
        if not name:
            return [FieldError("metadata.name", "Required value: name or generateName is required")]
        if rt.kind in ("Service", "Namespace"):
            pattern, what = r"[a-z]([-a-z0-9]*[a-z0-9])?", "a DNS-1035 label"
            if rt.kind == "Namespace":
                pattern, what = r"[a-z0-9]([-a-z0-9]*[a-z0-9])?", "a lowercase RFC 1123 label"
            if len(name) <= 63 and re.fullmatch(pattern, name):
                return []
            return [FieldError("metadata.name", f'Invalid value: "{name}": {what} must consist of lower case '
                               f"alphanumeric characters or '-' (regex used for validation is '{pattern}')")]
        pattern = r"[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*"
        if len(name) <= 253 and re.fullmatch(pattern, name):
            return []
        return [FieldError("metadata.name", f'Invalid value: "{name}": a lowercase RFC 1123 subdomain must '
                           "consist of lower case alphanumeric characters, '-' or '.', and must start and end "
                           f"with an alphanumeric character (e.g. 'example.com', regex used for validation is "
                           f"'{pattern}')")]

    @staticmethod
    def _default_pod_spec(spec: JsonObject, path: str) -> list[FieldError]:
        containers = spec.get("containers") or []
        if not containers:
            return [FieldError(f"{path}.containers", "Required value")]
        errors = []
        for i, container in enumerate(containers):
            if not container.get("name"):
                errors.append(FieldError(f"{path}.containers[{i}].name", "Required value"))
            image = container.get("image", "")
            if not image:
                errors.append(FieldError(f"{path}.containers[{i}].image", "Required value"))
            tagged = ":" in image.rsplit("/", 1)[-1] and not image.endswith(":latest")
            container.setdefault("imagePullPolicy", "IfNotPresent" if tagged else "Always")
            container.setdefault("resources", {})
            container.setdefault("terminationMessagePath", "/dev/termination-log")
            container.setdefault("terminationMessagePolicy", "File")
        for key, default in (("restartPolicy", "Always"), ("terminationGracePeriodSeconds", 30),
                             ("dnsPolicy", "ClusterFirst"), ("schedulerName", "default-scheduler"),
                             ("serviceAccountName", "default"), ("securityContext", {}),
                             ("enableServiceLinks", True)):
            spec.setdefault(key, default)
        return errors

    def _default_deployment(self, obj: JsonObject) -> list[FieldError]:
        spec = obj.setdefault("spec", {})
        spec.setdefault("replicas", 1)
        spec.setdefault("revisionHistoryLimit", 10)
        spec.setdefault("progressDeadlineSeconds", 600)
        if not spec.get("strategy"):  # kubectl create sends `strategy: {}`
            spec["strategy"] = {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": "25%", "maxUnavailable": "25%"}}
        errors = []
        if not isinstance(spec["replicas"], int) or spec["replicas"] < 0:
            errors.append(FieldError("spec.replicas", f"Invalid value: {spec['replicas']}: must be greater "
                                     "than or equal to 0"))
        template = spec.setdefault("template", {})
        template_labels = template.setdefault("metadata", {}).get("labels") or {}
        selector = (spec.get("selector") or {}).get("matchLabels")
        if not selector:
            errors.append(FieldError("spec.selector", "Required value"))
        elif any(template_labels.get(k) != v for k, v in selector.items()):
            shown = ", ".join(f'"{k}":"{v}"' for k, v in template_labels.items())
            errors.append(FieldError("spec.template.metadata.labels", f"Invalid value: map[string]string{{{shown}}}: "
                                     "`selector` does not match template `labels`"))
        errors += self._default_pod_spec(template.setdefault("spec", {}), "spec.template.spec")
        return errors

    def _admit_service(self, svc: JsonObject, old: JsonObject | None) -> list[FieldError]:
        """Default a Service and allocate its cluster IP and node ports (all-or-nothing)."""
        spec = svc.setdefault("spec", {})
        old_spec = (old or {}).get("spec", {})
        service_type = spec.setdefault("type", "ClusterIP")
        supported = ("ClusterIP", "ExternalName", "LoadBalancer", "NodePort")
        if service_type not in supported:
            return [FieldError("spec.type", f'Unsupported value: "{service_type}": supported values: '
                               + ", ".join(f'"{t}"' for t in supported))]
        ports = spec.get("ports") or []
        errors = [] if ports or service_type == "ExternalName" else [FieldError("spec.ports", "Required value")]
        spec.setdefault("sessionAffinity", "None")
        if service_type == "ExternalName":
            return errors
        taken_ports = self._allocated_node_ports(exclude=old)
        old_node_ports = {(p.get("port"), p.get("protocol", "TCP")): p.get("nodePort")
                          for p in old_spec.get("ports") or [] if p.get("nodePort")}
        wants_node_ports = service_type in ("NodePort", "LoadBalancer")
        for i, port in enumerate(ports):
            port.setdefault("protocol", "TCP")
            if not isinstance(port.get("port"), int) or not 0 < port["port"] < 65536:
                errors.append(FieldError(f"spec.ports[{i}].port", f"Invalid value: {port.get('port')}: must "
                                         "be between 1 and 65535, inclusive"))
                continue
            port.setdefault("targetPort", port["port"])
            requested = port.get("nodePort")
            if not wants_node_ports:
                if requested:
                    errors.append(FieldError(f"spec.ports[{i}].nodePort",
                                             f"Forbidden: may not be used when `type` is '{service_type}'"))
                continue
            if requested is None:
                requested = old_node_ports.get((port["port"], port["protocol"]))
                if requested is None:
                    requested = next(p for p in NODE_PORT_RANGE if p not in taken_ports)
            elif requested not in NODE_PORT_RANGE:
                errors.append(FieldError(f"spec.ports[{i}].nodePort", f"Invalid value: {requested}: provided port "
                                         "is not in the valid range. The range of valid ports is 30000-32767"))
                continue
            elif requested in taken_ports:
                errors.append(FieldError(f"spec.ports[{i}].nodePort",
                                         f"Invalid value: {requested}: provided port is already allocated"))
                continue
            port["nodePort"] = requested
            taken_ports.add(requested)
        errors += self._assign_cluster_ip(spec, old_spec)
        if wants_node_ports:
            spec.setdefault("externalTrafficPolicy", "Cluster")
        if service_type == "LoadBalancer":
            spec.setdefault("allocateLoadBalancerNodePorts", True)
        else:
            svc.setdefault("status", {})["loadBalancer"] = {}
        return errors

    def _assign_cluster_ip(self, spec: JsonObject, old_spec: JsonObject) -> list[FieldError]:
        requested = spec.get("clusterIP") or old_spec.get("clusterIP")
        if old_spec.get("clusterIP") and requested != old_spec["clusterIP"]:
            return [FieldError("spec.clusterIPs[0]", f'Invalid value: []string{{"{requested}"}}: may not change '
                               "once set")]
        if not old_spec.get("clusterIP"):
            taken = {s["spec"].get("clusterIP") for s in self._objects["services"].values()}
            if requested and requested != "None":
                try:
                    inside = ipaddress.ip_address(requested) in self.service_cidr
                except ValueError:
                    inside = False
                if not inside or requested in taken:
                    why = "provided IP is already allocated" if inside else (
                        f"the provided IP ({requested}) is not in the valid range. The range of valid IPs is "
                        f"{self.service_cidr}")
                    return [FieldError("spec.clusterIPs", f'Invalid value: []string{{"{requested}"}}: failed to '
                                       f"allocate IP {requested}: {why}")]
            elif not requested:
                requested = next(str(ip) for ip in self.service_cidr.hosts() if str(ip) not in taken)
        spec["clusterIP"] = requested
        spec["clusterIPs"] = [requested]
        if requested != "None":
            spec.setdefault("ipFamilies", ["IPv4"])
            spec.setdefault("ipFamilyPolicy", "SingleStack")
        spec.setdefault("internalTrafficPolicy", "Cluster")
        return []

    def _allocated_node_ports(self, exclude: JsonObject | None) -> set[int]:
        excluded = exclude["metadata"]["uid"] if exclude else None
        return {port["nodePort"] for svc in self._objects["services"].values()
                if svc["metadata"]["uid"] != excluded
                for port in svc["spec"].get("ports") or [] if port.get("nodePort")}

    # -- controller ------------------------------------------------------------------------------

    async def _run_controller(self) -> None:
        """Reconcile after every change; each pass advances every object by at most one stage."""
        while True:
            await self._wake.wait()
            self._wake.clear()
            await asyncio.sleep(self.controller_delay)
            try:
                self._reconcile()
            except Exception:  # a bug in one pass must not stop the controller for good
                log.exception("kube sim controller pass failed")

    def _reconcile(self) -> None:
        self._advance_pods()
        self._reconcile_deployments()
        self._assign_load_balancers()
        self._update_ingresses()

    @staticmethod
    def _node_conditions(ready: bool) -> list[JsonObject]:
        now = _now()
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

    def _node_subnet(self, index: int) -> ipaddress.IPv4Network | ipaddress.IPv6Network:
        if self.pod_cidr.prefixlen >= 24:
            return self.pod_cidr
        base = int(self.pod_cidr.network_address) + index * 256
        return ipaddress.ip_network(f"{ipaddress.ip_address(base)}/24")

    def _used_pod_ips(self) -> set[str]:
        return {p["status"]["podIP"] for p in self._objects["pods"].values() if p.get("status", {}).get("podIP")}

    def _allocate_pod_ip(self, node_name: str, used: set[str]) -> str:
        """The next free IP of the node's /24 (like flannel), else of the whole pod CIDR."""
        subnet = self._node_subnets.get(node_name, self.pod_cidr)
        for network, cursor in ((subnet, node_name), (self.pod_cidr, "")):
            base, usable = int(network.network_address), network.num_addresses - 3  # skip net, .1 bridge, bcast
            start = self._ip_cursors.get(cursor, 0)
            for step in range(usable):
                offset = (start + step) % usable
                ip = str(ipaddress.ip_address(base + 2 + offset))
                if ip not in used:
                    used.add(ip)
                    self._ip_cursors[cursor] = offset + 1
                    return ip
        raise RuntimeError(f"pod CIDR {self.pod_cidr} exhausted")

    def _bind_pod(self, pod: JsonObject, node: JsonObject, used_ips: set[str], now: str) -> JsonObject:
        """Schedule `pod` (a private copy, changed in place) to `node`: its containers are being created."""
        host_ip = _node_address(node, "InternalIP")
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

    def _start_pod(self, pod: JsonObject, now: str) -> JsonObject:
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
                "containerID": f"containerd://{self._random.getrandbits(256):064x}",
            })
        self._logs[_key(pod)] = [line for c in pod["spec"]["containers"] for line in _startup_log(c, now)]
        return pod

    def _advance_pods(self) -> None:
        pod_rt, nodes = resource_type("Pod"), self._objects["nodes"]
        ready_nodes = sorted((n for n in nodes.values() if _node_status(n) == "Ready"),
                             key=lambda n: n["metadata"]["name"])
        load = {n["metadata"]["name"]: 0 for n in ready_nodes}
        used_ips: set[str] | None = None
        for pod in list(self._objects["pods"].values()):
            node_name = pod["spec"].get("nodeName")
            if node_name in load:
                load[node_name] += 1
        for pod in list(self._objects["pods"].values()):
            node_name, phase = pod["spec"].get("nodeName"), pod.get("status", {}).get("phase")
            if pod["metadata"].get("deletionTimestamp") or (node_name and ("", node_name) not in nodes):
                self._commit(pod_rt, "DELETED", _clone(pod), pod)
                self._close_logs(_key(pod))
            elif phase in (None, "Pending") and not pod.get("status", {}).get("containerStatuses"):
                node = nodes.get(("", node_name)) if node_name else None
                if node is None and ready_nodes:
                    node = min(ready_nodes, key=lambda n: load[n["metadata"]["name"]])
                    load[node["metadata"]["name"]] += 1
                if node is not None:
                    used_ips = self._used_pod_ips() if used_ips is None else used_ips
                    self._commit(pod_rt, "MODIFIED", self._bind_pod(_clone(pod), node, used_ips, _now()), pod)
                elif not pod.get("status", {}).get("conditions"):
                    self._commit(pod_rt, "MODIFIED", _unschedulable(pod, len(nodes)), pod)
            elif phase == "Pending" and node_name:
                self._commit(pod_rt, "MODIFIED", self._start_pod(_clone(pod), _now()), pod)

    def _reconcile_deployments(self) -> None:
        pod_rt, deploy_rt = resource_type("Pod"), resource_type("Deployment")
        owned: dict[str, list[JsonObject]] = {}
        for pod in self._objects["pods"].values():
            owner = next((o for o in pod["metadata"].get("ownerReferences") or [] if o.get("kind") == "Deployment"),
                         None)
            if owner and not pod["metadata"].get("deletionTimestamp"):
                owned.setdefault(owner["uid"], []).append(pod)
        live_uids = {d["metadata"]["uid"] for d in self._objects["deployments"].values()}
        for uid, pods in owned.items():  # garbage collection of pods whose deployment is gone
            if uid not in live_uids:
                for pod in pods:
                    self._delete(pod_rt, *_key(pod), None)
        for deploy in list(self._objects["deployments"].values()):
            template_hash = _template_hash(deploy["spec"]["template"])
            pods = owned.get(deploy["metadata"]["uid"], [])
            current = [p for p in pods if _labels(p).get("pod-template-hash") == template_hash]
            for pod in pods:
                if pod not in current:
                    self._delete(pod_rt, *_key(pod), None)
            want = deploy["spec"].get("replicas", 1)
            for _ in range(want - len(current)):
                current.append(self._create(pod_rt, deploy["metadata"]["namespace"],
                                            _pod_for(deploy, template_hash)))
            if len(current) > want:
                # Scale down the least advanced, then the newest, like a ReplicaSet.
                current.sort(key=lambda p: (p["metadata"]["creationTimestamp"], p["metadata"]["name"]), reverse=True)
                current.sort(key=lambda p: p.get("status", {}).get("phase") == "Running")
                for pod in current[: len(current) - want]:
                    self._delete(pod_rt, *_key(pod), None)
                current = current[len(current) - want:]
            status = _deployment_status(deploy, current, template_hash)
            if status != deploy.get("status"):
                self._commit(deploy_rt, "MODIFIED", {**_clone(deploy), "status": status}, deploy)

    def _assign_load_balancers(self) -> None:
        svc_rt = resource_type("Service")
        pools = sorted(self._objects["ipaddresspools"].values(),
                       key=lambda p: (p["metadata"]["creationTimestamp"], p["metadata"]["name"]))
        services = sorted(self._objects["services"].values(), key=lambda s: s["metadata"]["creationTimestamp"])
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
            updated = _clone(svc)
            annotations = updated["metadata"].setdefault("annotations", {})
            if assignment:
                pool, ip = assignment
                in_use.add(ip)
                updated["status"]["loadBalancer"] = {"ingress": [{"ip": ip, "ipMode": "VIP"}]}
                annotations["metallb.io/ip-allocated-from-pool"] = pool["metadata"]["name"]
            else:
                updated["status"]["loadBalancer"] = {}
                annotations.pop("metallb.io/ip-allocated-from-pool", None)
            self._commit(svc_rt, "MODIFIED", updated, svc)

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
        addresses = [{"ip": _node_address(n, "InternalIP")}
                     for n in self._select(resource_type("Node"), None) if _node_status(n) == "Ready"]
        wanted = {"loadBalancer": {"ingress": addresses}} if addresses else {"loadBalancer": {}}
        for ingress in list(self._objects["ingresses"].values()):
            if ingress.get("status") != wanted:
                self._commit(ingress_rt, "MODIFIED", {**_clone(ingress), "status": wanted}, ingress)

    # -- pod logs -------------------------------------------------------------------------------

    def _append_logs(self, key: tuple[str, str], lines: list[str]) -> None:
        self._logs.setdefault(key, []).extend(lines)
        for queue in self._log_followers.get(key, ()):
            for line in lines:
                queue.put_nowait(line)

    def _close_logs(self, key: tuple[str, str]) -> None:
        self._logs.pop(key, None)
        for queue in self._log_followers.pop(key, ()):
            queue.put_nowait(None)

    # -- HTTP ---------------------------------------------------------------------------------

    def _authorized(self, request: web.Request) -> bool:
        header = request.headers.get("Authorization", "")
        scheme, _, credential = header.partition(" ")
        return scheme.lower() == "bearer" and hmac.compare_digest(credential.strip().encode(), self._token.encode())

    async def _dispatch(self, request: web.Request) -> web.StreamResponse:
        if not self._authorized(request):
            return _json(status_body(401, "Unauthorized", "Unauthorized"), 401)
        path = request.path.rstrip("/") or "/"
        try:
            discovery = self._discovery(path)
            if discovery is not None:
                if request.method != "GET":
                    raise KubeApiError(405, "MethodNotAllowed", "the server does not allow this method on the "
                                       "requested resource")
                return _json(discovery)
            return await self._serve_resource(request, path)
        except KubeApiError as error:
            return _json(error.status, error.code)
        except (ValueError, KeyError, TypeError) as error:  # malformed input we did not anticipate
            return _json(status_body(400, "BadRequest", f"{error.__class__.__name__}: {error}"), 400)

    def _discovery(self, path: str) -> JsonObject | None:
        if path == "/version":
            return {"major": "1", "minor": "31", "gitVersion": K3S_VERSION, "gitCommit":
                    "a6b1e4d5ba4e2ab7a5b3c6d1a3b6c8e2f1d0a9b8", "gitTreeState": "clean",
                    "buildDate": "2024-12-13T05:58:25Z", "goVersion": "go1.22.9", "compiler": "gc",
                    "platform": "linux/arm64"}
        if path == "/api":
            return {"kind": "APIVersions", "versions": ["v1"], "serverAddressByClientCIDRs":
                    [{"clientCIDR": "0.0.0.0/0", "serverAddress": f"127.0.0.1:{self.port}"}]}
        if path == "/apis":
            groups = []
            for gv in GROUP_VERSIONS:
                if gv.startswith("/apis/"):
                    group, version = gv.split("/")[2:4]
                    entry = {"groupVersion": f"{group}/{version}", "version": version}
                    groups.append({"name": group, "versions": [entry], "preferredVersion": entry})
            return {"kind": "APIGroupList", "apiVersion": "v1", "groups": groups}
        group = path.removeprefix("/apis/")
        versions = [gv.removeprefix("/apis/") for gv in GROUP_VERSIONS if gv.startswith(f"/apis/{group}/")]
        if path.startswith("/apis/") and "/" not in group and versions:
            entries = [{"groupVersion": gv, "version": gv.split("/")[1]} for gv in versions]
            return {"kind": "APIGroup", "apiVersion": "v1", "name": group, "versions": entries,
                    "preferredVersion": entries[0]}
        if path == "/openapi/v3":
            return {"paths": {gv.lstrip("/"): {"serverRelativeURL": f"/openapi/v3{gv}?hash={_OPENAPI_HASH}"}
                              for gv in GROUP_VERSIONS}}
        if path.startswith("/openapi/v3/") and path.removeprefix("/openapi/v3") in GROUP_VERSIONS:
            return openapi_v3_document(path.removeprefix("/openapi/v3"))
        if path in GROUP_VERSIONS:
            resources = []
            for rt in GROUP_VERSIONS[path]:
                resources.append({"name": rt.plural, "singularName": rt.kind.lower(), "namespaced": rt.namespaced,
                                  "kind": rt.kind, "verbs": _VERBS, "shortNames": list(rt.short_names),
                                  "categories": list(rt.categories)})
                for sub in rt.subresources:
                    kind, verbs = (("Scale", ["get", "patch", "update"]) if sub == "scale"
                                   else (rt.kind, ["get"] if sub == "log" else ["get", "patch", "update"]))
                    resources.append({"name": f"{rt.plural}/{sub}", "singularName": "", "namespaced": rt.namespaced,
                                      "kind": kind, "verbs": verbs, **({"group": "autoscaling", "version": "v1"}
                                                                      if sub == "scale" else {})})
            return {"kind": "APIResourceList", "apiVersion": "v1",
                    "groupVersion": path.removeprefix("/apis/").removeprefix("/api/"), "resources": resources}
        return None

    async def _serve_resource(self, request: web.Request, path: str) -> web.StreamResponse:
        rt, namespace, name, subresource = _parse_resource_path(path)
        method = request.method
        if subresource and subresource not in rt.subresources:
            raise not_found(rt, f"{name}/{subresource}")
        if subresource == "log":
            return await self._serve_log(request, rt, namespace, name)
        if subresource == "scale":
            return await self._serve_scale(request, rt, namespace, name)
        if name is None:
            if method == "GET":
                if request.query.get("watch") in ("1", "true", "True"):
                    return await self._serve_watch(request, rt, namespace)
                return self._serve_list(request, rt, namespace)
            if method == "POST":
                if rt.namespaced and namespace is None:
                    raise KubeApiError(405, "MethodNotAllowed", "the server does not allow this method on the "
                                       "requested resource")
                return _json(self._create(rt, namespace or "", await _read_body(request)), 201)
            raise KubeApiError(405, "MethodNotAllowed", "the server does not allow this method on the requested "
                               "resource")
        namespace = namespace or ""
        if method == "GET":
            obj = self._require(rt, namespace, name)
            if _wants_table(request) and not subresource:
                return _json(render_table(rt, [obj], obj["metadata"]["resourceVersion"],
                                          request.query.get("includeObject", "Metadata")))
            return _json(obj)
        if method == "PUT":
            return _json(self._replace(rt, namespace, name, await _read_body(request), subresource))
        if method == "PATCH":
            return await self._serve_patch(request, rt, namespace, name, subresource)
        if method == "DELETE":
            raw = await request.read()
            options = json.loads(raw) if raw.strip() else {}
            grace = request.query.get("gracePeriodSeconds", options.get("gracePeriodSeconds"))
            removed = self._delete(rt, namespace, name, None if grace is None else int(grace))
            if rt.kind == "Pod":
                return _json(removed)
            return _json({"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success",
                          "details": {**_resource_details(rt, name), "uid": removed["metadata"]["uid"]}})
        raise KubeApiError(405, "MethodNotAllowed", "the server does not allow this method on the requested resource")

    async def _serve_patch(self, request: web.Request, rt: ResourceType, namespace: str, name: str,
                           subresource: str) -> web.StreamResponse:
        content_type = request.content_type
        raw = await request.read()
        if content_type == "application/apply-patch+yaml":
            body = yaml.safe_load(raw) or {}
            if (namespace if rt.namespaced else "", name) not in self._objects[rt.plural]:
                body.setdefault("metadata", {})["name"] = name
                return _json(self._create(rt, namespace, body), 201)
            return _json(self._patch(rt, namespace, name, body, subresource))
        if content_type not in ("application/merge-patch+json", "application/strategic-merge-patch+json"):
            raise KubeApiError(415, "UnsupportedMediaType", "the body of the request was in an unknown format - "
                               "accepted media types include: application/merge-patch+json, "
                               "application/strategic-merge-patch+json, application/apply-patch+yaml")
        return _json(self._patch(rt, namespace, name, _decode_json(raw), subresource))

    def _serve_list(self, request: web.Request, rt: ResourceType, namespace: str | None) -> web.StreamResponse:
        label_match = compile_label_selector(request.query.get("labelSelector", ""))
        field_match = compile_field_selector(request.query.get("fieldSelector", ""), rt)
        items = [o for o in self._select(rt, namespace) if label_match(_labels(o)) and field_match(o)]
        rv = str(self._rv)
        if _wants_table(request):
            return _json(render_table(rt, items, rv, request.query.get("includeObject", "Metadata")))
        return _json({"kind": f"{rt.kind}List", "apiVersion": rt.api_version,
                      "metadata": {"resourceVersion": rv}, "items": items})

    async def _serve_watch(self, request: web.Request, rt: ResourceType, namespace: str | None) -> web.StreamResponse:
        watcher = _Watcher(rt, namespace, compile_label_selector(request.query.get("labelSelector", "")),
                           compile_field_selector(request.query.get("fieldSelector", ""), rt))
        timeout = None
        if "timeoutSeconds" in request.query:
            timeout = float(request.query["timeoutSeconds"])
        elif "timeout" in request.query:
            timeout = parse_go_duration(request.query["timeout"])
        since = request.query.get("resourceVersion", "")
        if not since.isdigit() and since:
            raise bad_request(f"invalid resource version: {since!r}")
        # Replay and subscribe in one synchronous step, so no change can slip in between.
        if since in ("", "0"):
            for obj in self._select(rt, namespace):
                if watcher.matches(obj):
                    watcher.queue.put_nowait(("ADDED", obj))
        elif int(since) < self._compacted_rv:
            watcher.queue.put_nowait(("ERROR", self._expired_status(int(since))))
            watcher.queue.put_nowait(None)
        else:
            for change in self._history:
                if change.rv > int(since):
                    watcher.offer(change)
        self._watchers.add(watcher)
        response = web.StreamResponse(headers={"Content-Type": "application/json",
                                               "Cache-Control": "no-cache, private"})
        try:
            await response.prepare(request)
            table = _wants_table(request)
            include_object = request.query.get("includeObject", "Metadata")
            deadline = None if timeout is None else asyncio.get_running_loop().time() + timeout
            while True:
                remaining = 1.0 if deadline is None else deadline - asyncio.get_running_loop().time()
                if remaining <= 0 or request.transport is None or request.transport.is_closing():
                    break
                try:
                    item = await asyncio.wait_for(watcher.queue.get(), timeout=min(remaining, 1.0))
                except TimeoutError:
                    continue
                if item is None:
                    break
                event_type, obj = item
                if table and event_type != "ERROR":
                    obj = render_table(rt, [obj], obj["metadata"]["resourceVersion"], include_object)
                await response.write(json.dumps({"type": event_type, "object": obj}).encode() + b"\n")
            await response.write_eof()
        except (ConnectionResetError, asyncio.CancelledError):
            pass
        finally:
            self._watchers.discard(watcher)
        return response

    async def _serve_log(self, request: web.Request, rt: ResourceType, namespace: str | None,
                         name: str | None) -> web.StreamResponse:
        pod = self._require(rt, namespace or "", name or "")
        containers = [c["name"] for c in pod["spec"]["containers"]]
        container = request.query.get("container")
        if container is None and len(containers) > 1:
            raise bad_request(f"a container name must be specified for pod {name}, choose one of: "
                              f"[{' '.join(containers)}]")
        if container is not None and container not in containers:
            raise bad_request(f"container {container} is not valid for pod {name}")
        if pod.get("status", {}).get("phase") != "Running":
            raise bad_request(f'container "{container or containers[0]}" in pod "{name}" is waiting to start: '
                              f"{pod_status(pod)[0]}")
        key = (namespace or "", name or "")
        lines = list(self._logs.get(key, []))
        if "tailLines" in request.query:
            lines = lines[-int(request.query["tailLines"]):] if int(request.query["tailLines"]) else []
        follow = request.query.get("follow") in ("1", "true", "True")
        queue: asyncio.Queue[str | None] = asyncio.Queue()
        if follow:
            self._log_followers.setdefault(key, set()).add(queue)
        response = web.StreamResponse(headers={"Content-Type": "text/plain"})
        try:
            await response.prepare(request)
            await response.write("".join(f"{line}\n" for line in lines).encode())
            while follow and self._runner is not None:
                line = await queue.get()
                if line is None:
                    break
                await response.write(f"{line}\n".encode())
            await response.write_eof()
        except (ConnectionResetError, asyncio.CancelledError):
            pass
        finally:
            self._log_followers.get(key, set()).discard(queue)
        return response

    async def _serve_scale(self, request: web.Request, rt: ResourceType, namespace: str | None,
                           name: str | None) -> web.StreamResponse:
        namespace, name = namespace or "", name or ""
        if request.method in ("PUT", "PATCH"):
            body = await _read_body(request) if request.method == "PUT" else _decode_json(await request.read())
            replicas = (body.get("spec") or {}).get("replicas")
            if replicas is not None:
                self._patch(rt, namespace, name, {"spec": {"replicas": replicas}})
        elif request.method != "GET":
            raise KubeApiError(405, "MethodNotAllowed", "the server does not allow this method")
        deploy = self._require(rt, namespace, name)
        meta = deploy["metadata"]
        return _json({
            "kind": "Scale", "apiVersion": "autoscaling/v1",
            "metadata": {k: meta[k] for k in ("name", "namespace", "uid", "resourceVersion", "creationTimestamp")},
            "spec": {"replicas": deploy["spec"].get("replicas", 1)},
            "status": {"replicas": deploy.get("status", {}).get("replicas", 0),
                       "selector": _selector_text(deploy["spec"]["selector"].get("matchLabels"))},
        })


# --- module helpers used by the simulator -------------------------------------------------------


def _json(body: JsonObject, status: int = 200) -> web.Response:
    return web.Response(body=json.dumps(body).encode(), status=status, content_type="application/json")


def _decode_json(raw: bytes) -> Any:
    try:
        return json.loads(raw)
    except ValueError as error:
        raise bad_request(f"error decoding request body: {error}") from None


async def _read_body(request: web.Request) -> JsonObject:
    raw = await request.read()
    try:
        body = yaml.safe_load(raw) if "yaml" in request.content_type else _decode_json(raw)
    except yaml.YAMLError as error:
        raise bad_request(f"error decoding YAML: {error}") from None
    if not isinstance(body, dict):
        raise bad_request("the request body must be an object")
    return body


def _parse_resource_path(path: str) -> tuple[ResourceType, str | None, str | None, str]:
    """(type, namespace, name, subresource) of a resource URL, or 404."""
    parts = path.strip("/").split("/")
    prefix_len = 2 if parts[0] == "api" else 3
    base = "/" + "/".join(parts[:prefix_len])
    rest = parts[prefix_len:]
    namespace = None
    if len(rest) >= 3 and rest[0] == "namespaces" and (base, rest[2]) in _BY_PATH:
        namespace, rest = rest[1], rest[2:]
    if not rest or (base, rest[0]) not in _BY_PATH or len(rest) > 3:
        raise KubeApiError(404, "NotFound", "the server could not find the requested resource",
                           {"causes": [{"reason": "UnexpectedServerResponse", "message": "404 page not found"}]})
    rt = _BY_PATH[(base, rest[0])]
    if rt.namespaced is False and namespace is not None:
        raise KubeApiError(404, "NotFound", "the server could not find the requested resource")
    return rt, namespace, rest[1] if len(rest) > 1 else None, rest[2] if len(rest) > 2 else ""


def _template_hash(template: JsonObject) -> str:
    """pod-template-hash as the deployment controller makes it: a 32-bit hash, safe-encoded."""
    digest = str(zlib.crc32(json.dumps(template, sort_keys=True).encode()))
    return "".join(_SUFFIX_ALPHABET[ord(ch) % len(_SUFFIX_ALPHABET)] for ch in digest)


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
        "spec": _clone(template.get("spec", {})),
    }


def _unschedulable(pod: JsonObject, node_count: int) -> JsonObject:
    pod = _clone(pod)
    pod["status"] = {"phase": "Pending", "qosClass": "BestEffort", "conditions": [{
        "type": "PodScheduled", "status": "False", "reason": "Unschedulable", "lastTransitionTime": _now(),
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
            now = _now()
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
