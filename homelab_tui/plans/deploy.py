"""Deploy: an app from the form (a Deployment, its Service exposed one of six ways, an Ingress) or
any manifest, applied server-side under our field manager, each object read against its live self
and the server's dry run, then waited for as `kubectl rollout status` waits.

`check_answers` refuses bad answers before the lab is contacted, every wrong field at once;
`desired_objects` is what will be applied (the flow dry-runs exactly these); `deploy_plan` makes
the steps. Pure: the flow reads the facts."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from . import Plan, PlanError
from .manifests import (
    INSTANCE,
    LiveObject,
    apply_steps,
    keep_live_values,
    kind_key,
    object_id,
    ours,
    ordered,
    parse_manifest,
)

JsonObject = dict[str, Any]

EXPOSE_MODES = ("clusterip", "nodeport", "loadbalancer", "ingress", "hostport", "hostnetwork")
CONFLICT_CHOICES = ("force", "keep-live")
NODE_PORTS = range(30000, 32768)  # the API server's default --service-node-port-range
DEFAULT_PORT = 80

# DNS-1035 label (a Service name must be one), DNS-1123 label and subdomain, as the API checks them.
_DNS1035 = re.compile(r"[a-z]([-a-z0-9]*[a-z0-9])?")
_DNS1123_LABEL = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?")
_DNS1123_SUBDOMAIN = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*")
# An image reference: [registry[:port]/]path[:tag][@digest] (distribution's reference grammar, simplified).
# The first component is a registry only with a dot, a port, or as localhost; the path is lower case.
_IMAGE = re.compile(r"(?:(?:[a-zA-Z0-9-]+(?:\.[a-zA-Z0-9-]+)+|localhost|[a-zA-Z0-9-]+(?=:[0-9]))(?::[0-9]+)?/)?"
                    r"[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*"
                    r"(?:/[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*)*(?::[\w][\w.-]{0,127})?(?:@sha256:[0-9a-f]{64})?")
_ENV_NAME = re.compile(r"[-._a-zA-Z][-._a-zA-Z0-9]*")
_QUANTITY = re.compile(r"[0-9]+(\.[0-9]+)?(m|k|M|G|T|P|E|Ki|Mi|Gi|Ti|Pi|Ei)?")
RESOURCE_NAMES = ("cpu", "memory", "ephemeral-storage")


@dataclass(frozen=True)
class DeployAnswers:
    """The answers as given (text), checked by `check_answers`. With `manifest` (its text, read
    by the flow from `manifest_source`), the manifest's objects are applied instead of the form's."""

    name: str
    image: str = ""
    namespace: str = ""  # default: "default"
    replicas: str = ""  # default: 1
    port: str = ""  # the container port; default: 80
    env: tuple[str, ...] = ()  # NAME=value
    requests: str = ""  # cpu=100m,memory=64Mi
    limits: str = ""
    expose: str = "clusterip"
    node_port: str = ""
    host: str = ""
    path: str = ""
    ingress_class: str = ""  # default: traefik on k3s, nginx elsewhere
    tls_secret: str = ""
    on_conflict: str = ""  # "", force, keep-live
    distribution: str = "k3s"
    manifest: str = ""
    manifest_source: str = ""


@dataclass(frozen=True)
class DeployFacts:
    kinds: dict[str, bool] = field(default_factory=dict)  # "apps/v1 Deployment" → namespaced; absent: not served
    objects: dict[str, LiveObject] = field(default_factory=dict)  # by object_id
    node_ports: dict[str, str] = field(default_factory=dict)  # a taken nodePort → "namespace/service"


def _namespace(answers: DeployAnswers) -> str:
    return answers.namespace or "default"


def _int(text: str, default: int) -> int:
    return int(text) if text.strip() else default


def _pairs(text: str) -> dict[str, str]:
    return dict(item.split("=", 1) for item in re.split(r"[,\s]+", text.strip()) if item)


def name_problem(name: str) -> str:
    """Why `name` cannot name an app (its Deployment, Service and Ingress), or ""."""
    if len(name) <= 63 and _DNS1035.fullmatch(name):
        return ""
    return (f"{name!r} is not a valid name: lower-case letters, digits and '-', starting with a letter and ending "
            "with a letter or digit, at most 63 characters (DNS-1035 label)")


def check_answers(answers: DeployAnswers) -> None:
    """Every wrong answer at once, each naming its field, before the lab is contacted."""
    errors: list[tuple[str, str]] = []

    def need(ok: bool, name: str, message: str) -> None:
        if not ok:
            errors.append((name, message))

    need(not name_problem(answers.name), "name", name_problem(answers.name))
    need(len(_namespace(answers)) <= 63 and bool(_DNS1123_LABEL.fullmatch(_namespace(answers))), "namespace",
         f"{answers.namespace!r} is not a valid namespace: lower-case letters, digits and '-', at most 63 "
         "characters (DNS-1123 label)")
    need(answers.on_conflict in ("", *CONFLICT_CHOICES), "on_conflict",
         f"expected one of {', '.join(CONFLICT_CHOICES)}, got {answers.on_conflict!r}")
    if answers.manifest:
        parse_manifest(answers.manifest, answers.manifest_source or "manifest")  # raises naming the document
        PlanError.check(errors)
        return
    need(bool(answers.image) and len(answers.image) <= 255 and bool(_IMAGE.fullmatch(answers.image)), "image",
         f"{answers.image!r} is not an image reference (such as nginx:1.27 or ghcr.io/owner/app:v1)"
         if answers.image else "required: the container image, such as nginx:1.27")
    need(answers.replicas.strip().isdigit() or not answers.replicas.strip(), "replicas",
         f"expected a whole number of replicas (0 or more), got {answers.replicas!r}")
    need(_port(answers.port, 1, 65535, True), "port", f"expected a port from 1 to 65535, got {answers.port!r}")
    for item in answers.env:
        name, _, _ = item.partition("=")
        need("=" in item and bool(_ENV_NAME.fullmatch(name)), "env",
             f"{item!r}: expected NAME=value, NAME made of letters, digits, '_', '-' and '.', not starting "
             "with a digit")
    for name in ("requests", "limits"):
        text = getattr(answers, name)
        for item in re.split(r"[,\s]+", text.strip()) if text.strip() else ():
            key, _, value = item.partition("=")
            need(key in RESOURCE_NAMES and bool(_QUANTITY.fullmatch(value)), name,
                 f"{item!r}: expected cpu=QUANTITY or memory=QUANTITY (such as cpu=250m,memory=128Mi)")
    need(answers.expose in EXPOSE_MODES, "expose", f"expected one of {', '.join(EXPOSE_MODES)}, got {answers.expose!r}")
    if answers.expose == "nodeport":
        need(_port(answers.node_port, NODE_PORTS.start, NODE_PORTS.stop - 1, True), "node_port",
             f"expected a node port from {NODE_PORTS.start} to {NODE_PORTS.stop - 1} (or none, for one the "
             f"cluster picks), got {answers.node_port!r}")
    if answers.expose == "ingress":
        host = answers.host.removeprefix("*.")
        need(not answers.host or (len(host) <= 253 and bool(_DNS1123_SUBDOMAIN.fullmatch(host))), "host",
             f"{answers.host!r} is not a host name (such as web.example.org)")
        need(not answers.path or answers.path.startswith("/"), "path", f"expected a path starting with /, got "
             f"{answers.path!r}")
        for name in ("ingress_class", "tls_secret"):
            value = getattr(answers, name)
            need(not value or bool(_DNS1123_SUBDOMAIN.fullmatch(value)), name,
                 f"{value!r} is not a valid name (lower-case letters, digits, '-' and '.')")
    PlanError.check(errors)


def _port(text: str, low: int, high: int, optional: bool) -> bool:
    text = text.strip()
    return (optional and not text) or (text.isdigit() and low <= int(text) <= high)


def app_objects(answers: DeployAnswers) -> list[JsonObject]:
    """The form's app: its Deployment, a Service exposing it as asked, and an Ingress for
    `ingress`. Labels: the app's name and instance (the selector), and ours."""
    name, namespace, port = answers.name, _namespace(answers), _int(answers.port, DEFAULT_PORT)
    selector = {"app.kubernetes.io/name": name, INSTANCE: name}
    container: JsonObject = {"name": name, "image": answers.image,
                             "ports": [{"name": "http", "containerPort": port, "protocol": "TCP"}]}
    if answers.expose == "hostport":
        container["ports"][0]["hostPort"] = port
    if answers.env:
        container["env"] = [{"name": item.split("=", 1)[0], "value": item.split("=", 1)[1]} for item in answers.env]
    resources = {kind: _pairs(getattr(answers, kind)) for kind in ("requests", "limits") if getattr(answers, kind)}
    if resources:
        container["resources"] = resources
    pod_spec: JsonObject = {"containers": [container]}
    if answers.expose == "hostnetwork":
        pod_spec.update(hostNetwork=True, dnsPolicy="ClusterFirstWithHostNet")
    metadata = {"name": name, "namespace": namespace, "labels": dict(selector)}
    deployment = {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": metadata,
                  "spec": {"replicas": _int(answers.replicas, 1), "selector": {"matchLabels": selector},
                           "template": {"metadata": {"labels": selector}, "spec": pod_spec}}}
    service_port: JsonObject = {"name": "http", "port": port, "targetPort": "http", "protocol": "TCP"}
    service_type = {"nodeport": "NodePort", "loadbalancer": "LoadBalancer"}.get(answers.expose, "ClusterIP")
    if answers.expose == "nodeport" and answers.node_port.strip():
        service_port["nodePort"] = int(answers.node_port)
    service = {"apiVersion": "v1", "kind": "Service", "metadata": metadata,
               "spec": {"type": service_type, "selector": selector, "ports": [service_port]}}
    objects = [deployment, service]
    if answers.expose == "ingress":
        rule: JsonObject = {"http": {"paths": [{"path": answers.path or "/", "pathType": "Prefix", "backend": {
            "service": {"name": name, "port": {"name": "http"}}}}]}}
        if answers.host:
            rule = {"host": answers.host, **rule}
        ingress_spec: JsonObject = {"ingressClassName": answers.ingress_class or (
            "traefik" if answers.distribution == "k3s" else "nginx"), "rules": [rule]}
        if answers.tls_secret:
            ingress_spec["tls"] = [{"hosts": [answers.host] if answers.host else [], "secretName": answers.tls_secret}]
        objects.append({"apiVersion": "networking.k8s.io/v1", "kind": "Ingress", "metadata": metadata,
                        "spec": ingress_spec})
    return objects


def intended_kinds(answers: DeployAnswers) -> list[str]:
    """The kinds (as `kind_key`) the answers will apply, for the flow to look up: served? namespaced?"""
    source = parse_manifest(answers.manifest, answers.manifest_source) if answers.manifest else app_objects(answers)
    return list(dict.fromkeys(["v1 Namespace", *map(kind_key, source)]))


def desired_objects(answers: DeployAnswers, cluster: DeployFacts) -> list[JsonObject]:
    """Exactly what will be applied, in order: the app's namespace when the cluster lacks it, then
    the objects, ours and namespaced; a conflicting field's live value kept when so answered."""
    source = parse_manifest(answers.manifest, answers.manifest_source) if answers.manifest else app_objects(answers)
    namespace = _namespace(answers)
    errors = [("manifest" if answers.manifest else "name",
               f"{answers.manifest_source or 'the app'}: {obj['kind']} of {obj['apiVersion']} is not served by the "
               "cluster (a CRD not installed, or a wrong apiVersion?)")
              for obj in source if kind_key(obj) not in cluster.kinds]
    PlanError.check(errors)
    objects = [ours(obj, answers.name, namespace, cluster.kinds[kind_key(obj)]) for obj in source]
    needed = {obj["metadata"]["namespace"] for obj in objects if obj["metadata"].get("namespace")}
    named = {obj["metadata"]["name"] for obj in objects if obj["kind"] == "Namespace"}
    for missing in sorted(needed - named):
        ns = {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": missing}}
        if cluster.objects.get(object_id(ns), LiveObject()).live is None:
            objects.append(ours(ns, answers.name, namespace, False))
    if answers.on_conflict == "keep-live":
        objects = [keep_live_values(obj, known.live, list(known.conflicts))
                   if (known := cluster.objects.get(object_id(obj))) and known.live and known.conflicts else obj
                   for obj in objects]
    return ordered(objects)


def deploy_plan(answers: DeployAnswers, facts: DeployFacts) -> Plan:
    check_answers(answers)
    objects = desired_objects(answers, facts)
    errors: list[tuple[str, str]] = []
    if not answers.manifest and answers.expose == "nodeport" and answers.node_port.strip():
        owner = facts.node_ports.get(answers.node_port.strip(), "")
        if owner and owner != f"{_namespace(answers)}/{answers.name}":
            errors.append(("node_port", f"node port {answers.node_port} is taken by Service {owner}"))
    PlanError.check(errors)  # the Service's dry run says the same, less clearly
    steps, waits, warnings = [], [], []
    for obj in objects:
        known = facts.objects.get(object_id(obj), LiveObject())
        if known.error:
            errors.append(("manifest" if answers.manifest else "name", f"{object_id(obj)}: {known.error}"))
        elif known.conflicts and not answers.on_conflict:
            errors.append(("on_conflict", f"{object_id(obj)}: {', '.join(known.conflicts)} "
                                          f"{'is' if len(known.conflicts) == 1 else 'are'} owned by another field "
                                          f"manager ({'; '.join(sorted(set(known.conflicts.values())))}); answer "
                                          "force to take over, or keep-live to keep the live value"))
        else:
            made = apply_steps(obj, known, force=answers.on_conflict == "force")
            steps.append(made.apply)
            waits += [made.wait] if made.wait else []
            warnings += made.warnings
    PlanError.check(errors)
    what = f"from {answers.manifest_source or 'the manifest'}" if answers.manifest else answers.image
    title = f"Deploy {answers.name} ({what}) to {_namespace(answers)}"
    if not answers.manifest and answers.expose != "clusterip":
        title += f", exposed by {answers.expose}"
    return Plan(title, (*steps, *waits), tuple(warnings))
