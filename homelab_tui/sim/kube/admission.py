"""Admission in the simulated API server: what the real one defaults, validates and allocates
before it stores an object. Names are checked (RFC 1123 / DNS-1035), pods and deployments get
their defaults and their spec checked, and a Service gets its cluster IP and node ports,
all-or-nothing, as the API server allocates them synchronously; a CRD is checked and established,
a custom resource checked against its CRD's schema. Errors are 422 Invalid with one cause per
field. Then the validating webhooks (MetalLB's) review the object."""

from __future__ import annotations

import ipaddress
import re

from .crds import CRD_KIND, admit_crd, admit_custom_resource
from .errors import FieldError, invalid
from .metallb import NAMESPACE as METALLB_NAMESPACE
from .metallb import WEBHOOK_SERVICE, MetalLbWebhook
from .resources import JsonObject, ResourceType
from .store import Store

NODE_PORT_RANGE = range(30000, 32768)


def validate_name(rt: ResourceType, name: str) -> list[FieldError]:
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


def default_pod_spec(spec: JsonObject, path: str) -> list[FieldError]:
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


def default_deployment(obj: JsonObject) -> list[FieldError]:
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
    errors += default_pod_spec(template.setdefault("spec", {}), "spec.template.spec")
    return errors


def _condition_states(obj: JsonObject) -> list[tuple[str, str, str]]:
    return [(c.get("type", ""), c.get("status", ""), c.get("reason", ""))
            for c in (obj.get("status") or {}).get("conditions") or []]


class Admission:
    """Runs on every create and update; the Service allocations look at the services stored."""

    def __init__(self, store: Store, service_cidr: ipaddress.IPv4Network | ipaddress.IPv6Network,
                 metallb_webhook_warmup: float = 2.0) -> None:
        self._store = store
        self._service_cidr = service_cidr
        self.metallb_webhook = MetalLbWebhook(metallb_webhook_warmup)
        store.listeners.append(self.metallb_webhook.observe)

    def use_service_cidr(self, service_cidr: ipaddress.IPv4Network | ipaddress.IPv6Network) -> None:
        """Allocate Service addresses from `service_cidr` from now on (the cluster was installed)."""
        self._service_cidr = service_cidr

    def admit(self, rt: ResourceType, obj: JsonObject, old: JsonObject | None) -> JsonObject:
        name = obj["metadata"].get("name", "")
        errors = validate_name(rt, name)
        if rt.kind == "Pod":
            errors += default_pod_spec(obj.setdefault("spec", {}), "spec")
            if old is None:
                obj["status"] = {"phase": "Pending", "qosClass": "BestEffort"}
            else:
                obj["spec"]["nodeName"] = obj["spec"].get("nodeName") or old["spec"].get("nodeName")
        elif rt.kind == "Deployment":
            errors += default_deployment(obj)
        elif rt.kind == "Service":
            errors += self._admit_service(obj, old)
        elif rt.kind == CRD_KIND:
            old_plural = ((old or {}).get("spec") or {}).get("names", {}).get("plural")
            errors += admit_crd(obj, self._store.types.all(), old_plural)
            if old is not None and _condition_states(old) == _condition_states(obj):
                obj["status"]["conditions"] = old["status"]["conditions"]  # unchanged: keep their times
        elif self._store.types.is_custom(rt):
            errors += admit_custom_resource(obj, self._store.types.schema(rt))
        if errors:
            raise invalid(rt, name, errors)
        return obj

    def review(self, rt: ResourceType, obj: JsonObject) -> None:
        """The validating webhooks registered for `rt` (MetalLB's, while its controller exists)."""
        if rt.group != "metallb.io":
            return
        controller = self._store.objects["deployments"].get((METALLB_NAMESPACE, "controller"))
        service = self._store.objects["services"].get((METALLB_NAMESPACE, WEBHOOK_SERVICE))
        pools = list(self._store.objects["ipaddresspools"].values()) if rt.kind == "IPAddressPool" else []
        self.metallb_webhook.review(rt, obj, controller, (service or {}).get("spec", {}).get("clusterIP"), pools)

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
            taken = {s["spec"].get("clusterIP") for s in self._store.objects["services"].values()}
            if requested and requested != "None":
                try:
                    inside = ipaddress.ip_address(requested) in self._service_cidr
                except ValueError:
                    inside = False
                if not inside or requested in taken:
                    why = "provided IP is already allocated" if inside else (
                        f"the provided IP ({requested}) is not in the valid range. The range of valid IPs is "
                        f"{self._service_cidr}")
                    return [FieldError("spec.clusterIPs", f'Invalid value: []string{{"{requested}"}}: failed to '
                                       f"allocate IP {requested}: {why}")]
            elif not requested:
                requested = next(str(ip) for ip in self._service_cidr.hosts() if str(ip) not in taken)
        spec["clusterIP"] = requested
        spec["clusterIPs"] = [requested]
        if requested != "None":
            spec.setdefault("ipFamilies", ["IPv4"])
            spec.setdefault("ipFamilyPolicy", "SingleStack")
        spec.setdefault("internalTrafficPolicy", "Cluster")
        return []

    def _allocated_node_ports(self, exclude: JsonObject | None) -> set[int]:
        excluded = exclude["metadata"]["uid"] if exclude else None
        return {port["nodePort"] for svc in self._store.objects["services"].values()
                if svc["metadata"]["uid"] != excluded
                for port in svc["spec"].get("ports") or [] if port.get("nodePort")}
