"""The shape of the objects the simulated API server knows, compact: what each field of the
built-in kinds is (a scalar, a struct with known fields, a map, a list that is atomic, a set or
keyed by some of its items' fields), and the same read from a CRD's `openAPIV3Schema`. Server-side
apply tracks ownership through it (`k:{"name":"web"}` for a keyed list item), and strict field
validation finds unknown fields with it. Parts we do not model are `FREE` (anything goes, as under
`x-kubernetes-preserve-unknown-fields`); a kind without a schema is free as a whole."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from .resources import JsonObject


@dataclass(frozen=True, slots=True)
class Leaf:
    """A scalar."""


@dataclass(frozen=True, slots=True)
class Free:
    """Anything: maps are granular, lists atomic, unknown fields allowed (structured-merge-diff's
    "deduced" type)."""


@dataclass(frozen=True, slots=True)
class Struct:
    fields: Mapping[str, Node]
    atomic: bool = False  # owned and replaced as a whole (+structType=atomic)
    open: bool = False  # undeclared fields allowed (x-kubernetes-preserve-unknown-fields)
    required: tuple[str, ...] = ()
    defaults: Mapping[str, Any] = field(default_factory=dict)
    types: Mapping[str, str] = field(default_factory=dict)  # field -> JSON type, for CRD validation


@dataclass(frozen=True, slots=True)
class MapOf:
    """A map with free keys (labels, data): each key is a field; the map itself is owned by whoever
    made it (`.` in managedFields)."""

    value: Node
    atomic: bool = False


@dataclass(frozen=True, slots=True)
class ListOf:
    item: Node
    keys: tuple[str, ...] = ()  # list-type map: items are `k:{...}`
    set: bool = False  # list-type set: items are `v:...`

    @property
    def atomic(self) -> bool:
        return not self.keys and not self.set


Node = Leaf | Free | Struct | MapOf | ListOf
LEAF, FREE = Leaf(), Free()
STRINGS = ListOf(LEAF)  # an atomic list of strings (command, args, hosts)


def struct(*names: str, **typed: Node) -> Struct:
    """A struct whose `names` are scalars and `typed` fields have the given shapes."""
    return Struct({**dict.fromkeys(names, LEAF), **typed})


def _build_builtin() -> dict[str, Struct]:
    string_map = MapOf(LEAF)
    owner_reference = struct("apiVersion", "kind", "name", "uid", "controller", "blockOwnerDeletion")
    metadata = struct(
        "name", "generateName", "namespace", "uid", "resourceVersion", "generation", "creationTimestamp",
        "deletionTimestamp", "deletionGracePeriodSeconds", "selfLink",
        labels=string_map, annotations=string_map, finalizers=ListOf(LEAF, set=True),
        ownerReferences=ListOf(owner_reference, keys=("uid",)), managedFields=ListOf(FREE))
    label_selector = Struct({"matchLabels": string_map, "matchExpressions": ListOf(FREE)}, atomic=True)
    container = struct(
        "name", "image", "workingDir", "imagePullPolicy", "terminationMessagePath", "terminationMessagePolicy",
        "stdin", "stdinOnce", "tty", "restartPolicy",
        command=STRINGS, args=STRINGS,
        ports=ListOf(struct("name", "hostPort", "containerPort", "protocol", "hostIP"),
                     keys=("containerPort", "protocol")),
        env=ListOf(struct("name", "value", valueFrom=FREE), keys=("name",)), envFrom=ListOf(FREE),
        resources=Struct({"limits": string_map, "requests": string_map, "claims": FREE}),
        volumeMounts=ListOf(struct("name", "mountPath", "readOnly", "subPath", "subPathExpr", "mountPropagation",
                                   "recursiveReadOnly"), keys=("mountPath",)),
        livenessProbe=FREE, readinessProbe=FREE, startupProbe=FREE, lifecycle=FREE, securityContext=FREE,
        resizePolicy=FREE, volumeDevices=FREE)
    containers = ListOf(container, keys=("name",))
    pod_spec = struct(
        "restartPolicy", "terminationGracePeriodSeconds", "activeDeadlineSeconds", "dnsPolicy",
        "serviceAccountName", "serviceAccount", "automountServiceAccountToken", "nodeName", "hostNetwork", "hostPID",
        "hostIPC", "shareProcessNamespace", "hostname", "subdomain", "schedulerName", "priorityClassName",
        "priority", "runtimeClassName", "enableServiceLinks", "preemptionPolicy", "setHostnameAsFQDN", "hostUsers",
        containers=containers, initContainers=containers, ephemeralContainers=FREE,
        volumes=ListOf(Struct({"name": LEAF}, open=True), keys=("name",)), nodeSelector=string_map,
        securityContext=FREE, imagePullSecrets=ListOf(struct("name"), keys=("name",)), affinity=FREE,
        tolerations=ListOf(FREE), hostAliases=FREE, dnsConfig=FREE, readinessGates=FREE, overhead=FREE,
        topologySpreadConstraints=FREE, os=FREE, schedulingGates=FREE, resourceClaims=FREE)
    template = Struct({"metadata": metadata, "spec": pod_spec})
    workload = {"selector": label_selector, "template": template}

    def kind(**fields: Node) -> Struct:
        return Struct({"apiVersion": LEAF, "kind": LEAF, "metadata": metadata, "status": FREE, **fields})

    return {
        "Namespace": kind(spec=Struct({"finalizers": ListOf(LEAF, set=True)})),
        "Node": kind(spec=struct("podCIDR", "providerID", "unschedulable", "externalID",
                                 podCIDRs=ListOf(LEAF, set=True), taints=ListOf(FREE), configSource=FREE)),
        "Pod": kind(spec=pod_spec),
        "Service": kind(spec=struct(
            "clusterIP", "type", "sessionAffinity", "loadBalancerIP", "externalName", "externalTrafficPolicy",
            "healthCheckNodePort", "publishNotReadyAddresses", "ipFamilyPolicy", "allocateLoadBalancerNodePorts",
            "loadBalancerClass", "internalTrafficPolicy", "trafficDistribution",
            ports=ListOf(struct("name", "protocol", "appProtocol", "port", "targetPort", "nodePort"),
                         keys=("port", "protocol")),
            selector=MapOf(LEAF, atomic=True), clusterIPs=STRINGS, externalIPs=STRINGS,
            loadBalancerSourceRanges=STRINGS, ipFamilies=STRINGS, sessionAffinityConfig=FREE)),
        "Deployment": kind(spec=struct("replicas", "minReadySeconds", "revisionHistoryLimit", "paused",
                                       "progressDeadlineSeconds", **workload,
                                       strategy=struct("type", rollingUpdate=struct("maxUnavailable", "maxSurge")))),
        "ReplicaSet": kind(spec=struct("replicas", "minReadySeconds", **workload)),
        "DaemonSet": kind(spec=struct("minReadySeconds", "revisionHistoryLimit", **workload, updateStrategy=FREE)),
        "StatefulSet": kind(spec=struct("replicas", "serviceName", "podManagementPolicy", "revisionHistoryLimit",
                                        "minReadySeconds", **workload, volumeClaimTemplates=ListOf(FREE),
                                        updateStrategy=FREE, persistentVolumeClaimRetentionPolicy=FREE,
                                        ordinals=FREE)),
        "Ingress": kind(spec=struct("ingressClassName", defaultBackend=FREE,
                                    tls=ListOf(struct("secretName", hosts=STRINGS)),
                                    rules=ListOf(struct("host", http=struct(paths=ListOf(
                                        struct("path", "pathType", backend=FREE))))))),
        "ConfigMap": kind(data=string_map, binaryData=string_map, immutable=LEAF),
        "Secret": kind(data=string_map, stringData=string_map, type=LEAF, immutable=LEAF),
        "CustomResourceDefinition": kind(spec=struct(
            "group", "scope", "preserveUnknownFields",
            names=struct("plural", "singular", "kind", "listKind", shortNames=STRINGS, categories=STRINGS),
            versions=ListOf(struct("name", "served", "storage", "deprecated", "deprecationWarning", schema=FREE,
                                   subresources=FREE, additionalPrinterColumns=FREE, selectableFields=FREE),
                            keys=("name",)),
            conversion=FREE)),
    }


BUILTIN_SCHEMAS = _build_builtin()
OPEN_OBJECT = Struct({"metadata": BUILTIN_SCHEMAS["Namespace"].fields["metadata"]}, open=True)


def schema_for_kind(kind: str) -> Struct:
    """The schema of a built-in kind; a kind we do not model is open (nothing is unknown)."""
    return BUILTIN_SCHEMAS.get(kind, OPEN_OBJECT)


def child(node: Node, name: str) -> Node | None:
    """The shape of field `name` of a struct or map `node`; None when the field is undeclared."""
    if isinstance(node, Struct):
        found = node.fields.get(name)
        return found if found is not None else (FREE if node.open else None)
    if isinstance(node, MapOf):
        return node.value
    return FREE if isinstance(node, Free) else None


def from_openapi(schema: JsonObject, metadata: Node | None = None) -> Node:
    """A node from a CRD's structural openAPIV3Schema (properties, additionalProperties,
    x-kubernetes-preserve-unknown-fields, list types, required, defaults)."""
    kind = schema.get("type")
    if schema.get("x-kubernetes-int-or-string"):
        return LEAF
    if kind == "object" or "properties" in schema or "additionalProperties" in schema:
        props = schema.get("properties") or {}
        if "additionalProperties" in schema and not props:
            extra = schema["additionalProperties"]
            return MapOf(from_openapi(extra) if isinstance(extra, dict) else FREE,
                         atomic=schema.get("x-kubernetes-map-type") == "atomic")
        fields = {name: from_openapi(sub) for name, sub in props.items()}
        if metadata is not None:
            fields.setdefault("apiVersion", LEAF)
            fields.setdefault("kind", LEAF)
            fields["metadata"] = metadata
        return Struct(fields, atomic=schema.get("x-kubernetes-map-type") == "atomic",
                      open=bool(schema.get("x-kubernetes-preserve-unknown-fields")) or (not props and metadata is None),
                      required=tuple(schema.get("required") or ()),
                      defaults={n: s["default"] for n, s in props.items() if "default" in s},
                      types={n: s["type"] for n, s in props.items() if s.get("type")})
    if kind == "array":
        item = from_openapi(schema.get("items") or {})
        list_type = schema.get("x-kubernetes-list-type", "atomic")
        if list_type == "map":
            return ListOf(item, keys=tuple(schema.get("x-kubernetes-list-map-keys") or ()))
        return ListOf(item, set=list_type == "set")
    if schema.get("x-kubernetes-preserve-unknown-fields"):
        return FREE
    return LEAF


def custom_resource_schema(open_api: JsonObject | None) -> Struct:
    """The schema of a custom resource: its CRD's openAPIV3Schema with the standard metadata."""
    metadata = BUILTIN_SCHEMAS["Namespace"].fields["metadata"]
    node = from_openapi(open_api or {"type": "object", "x-kubernetes-preserve-unknown-fields": True}, metadata)
    return node if isinstance(node, Struct) else OPEN_OBJECT


def unknown_fields(obj: Any, node: Node, path: str = "", keyed: bool = False) -> list[str]:
    """The fields of `obj` that `node` does not declare: as the strict JSON decoder names them
    (`spec.template.spec.containers[0].imagee`), or, `keyed`, as structured-merge-diff does
    (`.spec.template.spec.containers[name="web"].imagee: field not declared in schema`)."""
    found: list[str] = []
    if isinstance(obj, dict) and isinstance(node, (Struct, MapOf)):
        for name, value in obj.items():
            sub = child(node, name)
            where = f"{path}.{name}" if path or keyed else name
            if sub is None:
                found.append(f"{where}: field not declared in schema" if keyed else where)
            else:
                found += unknown_fields(value, sub, where, keyed)
    elif isinstance(obj, list) and isinstance(node, ListOf):
        for index, item in enumerate(obj):
            if keyed and node.keys and isinstance(item, dict):
                element = ",".join(f"{k}={json.dumps(item.get(k))}" for k in sorted(node.keys) if k in item)
            elif keyed and node.set:
                element = f"={json.dumps(item)}"
            else:
                element = str(index)
            found += unknown_fields(item, node.item, f"{path}[{element}]", keyed)
    return found


def drop_fields(obj: Any, paths: list[str]) -> None:
    """Remove the fields `unknown_fields` named (what a decoder that ignores them keeps)."""
    for path in paths:
        parts = re.findall(r"[^.\[\]]+|\[\d+\]", path)
        target: Any = obj
        for part in parts[:-1]:
            target = target[int(part[1:-1])] if part.startswith("[") else target.get(part)
            if target is None:
                break
        if isinstance(target, dict):
            target.pop(parts[-1], None)
