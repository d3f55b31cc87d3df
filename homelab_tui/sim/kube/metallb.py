"""MetalLB as the simulated cluster installs it: the documents of its native manifest that matter
here (namespace, the IPAddressPool and L2Advertisement CRDs, the webhook Service, the controller
Deployment and the speaker DaemonSet), and its validating webhooks. Right after an install the
webhooks refuse: while the controller is not available nothing listens behind the webhook
Service ("no endpoints available"), and for a few seconds after it becomes available the server
is still starting ("connection refused"), as metallb#1540 and #1597 describe. Then a pool whose
addresses overlap another pool's is denied, as the real webhook does."""

from __future__ import annotations

import ipaddress
import time
from collections.abc import Iterator

from .errors import KubeApiError
from .resources import JsonObject, ResourceType

NAMESPACE = "metallb-system"
VERSION = "v0.14.9"
WEBHOOK_SERVICE = "metallb-webhook-service"
WEBHOOKS = {"IPAddressPool": "ipaddresspoolvalidationwebhook.metallb.io",
            "L2Advertisement": "l2advertisementvalidationwebhook.metallb.io"}


def _crd(kind: str, plural: str, spec: JsonObject, columns: list[JsonObject], status: bool) -> JsonObject:
    version: JsonObject = {
        "additionalPrinterColumns": columns, "name": "v1beta1", "served": True, "storage": True,
        "schema": {"openAPIV3Schema": {
            "description": f"{kind} is the Schema for the {plural} API.", "type": "object",
            "properties": {"apiVersion": {"type": "string"}, "kind": {"type": "string"}, "metadata": {"type": "object"},
                           "spec": spec, "status": {"type": "object",
                                                    "x-kubernetes-preserve-unknown-fields": True}}}},
    }
    if status:
        version["subresources"] = {"status": {}}
    return {"apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
            "metadata": {"name": f"{plural}.metallb.io",
                         "annotations": {"controller-gen.kubebuilder.io/version": "v0.16.3"}},
            "spec": {"group": "metallb.io", "scope": "Namespaced",
                     "names": {"kind": kind, "listKind": f"{kind}List", "plural": plural, "singular": kind.lower()},
                     "versions": [version]}}


def _strings() -> JsonObject:
    return {"type": "array", "items": {"type": "string"}}


def _selectors() -> JsonObject:
    return {"type": "array", "items": {"type": "object", "x-kubernetes-map-type": "atomic", "properties": {
        "matchExpressions": {"type": "array",
                             "items": {"type": "object", "x-kubernetes-preserve-unknown-fields": True}},
        "matchLabels": {"type": "object", "additionalProperties": {"type": "string"}}}}}


def crds() -> list[JsonObject]:
    """MetalLB's CRDs for the layer-2 setup: IPAddressPool and L2Advertisement (metallb.io/v1beta1)."""
    pool_spec = {"type": "object", "required": ["addresses"], "properties": {
        "addresses": _strings(), "autoAssign": {"type": "boolean", "default": True},
        "avoidBuggyIPs": {"type": "boolean", "default": False},
        "serviceAllocation": {"type": "object", "properties": {
            "namespaceSelectors": _selectors(), "namespaces": _strings(), "priority": {"type": "integer"},
            "serviceSelectors": _selectors()}}}}
    advertisement_spec = {"type": "object", "properties": {
        "interfaces": _strings(), "ipAddressPoolSelectors": _selectors(), "ipAddressPools": _strings(),
        "nodeSelectors": _selectors()}}
    return [
        _crd("IPAddressPool", "ipaddresspools", pool_spec, [
            {"jsonPath": ".spec.autoAssign", "name": "Auto Assign", "type": "boolean"},
            {"jsonPath": ".spec.avoidBuggyIPs", "name": "Avoid Buggy IPs", "type": "boolean"},
            {"jsonPath": ".spec.addresses", "name": "Addresses", "type": "string"}], status=True),
        _crd("L2Advertisement", "l2advertisements", advertisement_spec, [
            {"jsonPath": ".spec.ipAddressPools", "name": "IPAddressPools", "type": "string"},
            {"jsonPath": ".spec.ipAddressPoolSelectors", "name": "IPAddressPool Selectors", "type": "string"},
            {"jsonPath": ".spec.interfaces", "name": "Interfaces", "type": "string"},
            {"jsonPath": ".spec.nodeSelectors", "name": "Node Selectors", "priority": 10, "type": "string"}],
             status=False),
    ]


def manifest_documents() -> list[JsonObject]:
    """The documents of metallb-native.yaml the sim serves, in the manifest's order."""
    controller_labels = {"app": "metallb", "component": "controller"}
    speaker_labels = {"app": "metallb", "component": "speaker"}
    return [
        {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": NAMESPACE, "labels": {
            "pod-security.kubernetes.io/audit": "privileged", "pod-security.kubernetes.io/enforce": "privileged",
            "pod-security.kubernetes.io/warn": "privileged"}}},
        *crds(),
        {"apiVersion": "v1", "kind": "Service", "metadata": {"name": WEBHOOK_SERVICE, "namespace": NAMESPACE},
         "spec": {"ports": [{"port": 443, "targetPort": 9443}], "selector": {"component": "controller"}}},
        {"apiVersion": "apps/v1", "kind": "Deployment",
         "metadata": {"name": "controller", "namespace": NAMESPACE, "labels": controller_labels},
         "spec": {"revisionHistoryLimit": 3, "selector": {"matchLabels": controller_labels},
                  "template": {"metadata": {"labels": controller_labels}, "spec": {
                      "serviceAccountName": "controller", "terminationGracePeriodSeconds": 0,
                      "nodeSelector": {"kubernetes.io/os": "linux"},
                      "containers": [{"name": "controller", "image": f"quay.io/metallb/controller:{VERSION}",
                                      "args": ["--port=7472", "--log-level=info", "--tls-min-version=VersionTLS12"],
                                      "ports": [{"name": "monitoring", "containerPort": 7472},
                                                {"name": "webhook-server", "containerPort": 9443}]}]}}}},
        {"apiVersion": "apps/v1", "kind": "DaemonSet",
         "metadata": {"name": "speaker", "namespace": NAMESPACE, "labels": speaker_labels},
         "spec": {"selector": {"matchLabels": speaker_labels},
                  "template": {"metadata": {"labels": speaker_labels}, "spec": {
                      "serviceAccountName": "speaker", "terminationGracePeriodSeconds": 2, "hostNetwork": True,
                      "nodeSelector": {"kubernetes.io/os": "linux"},
                      "containers": [{"name": "speaker", "image": f"quay.io/metallb/speaker:{VERSION}",
                                      "args": ["--port=7472", "--log-level=info"],
                                      "ports": [{"name": "monitoring", "containerPort": 7472}]}]}}}},
    ]


def address_ranges(pool: JsonObject) -> Iterator[tuple[str, int, int]]:
    """(entry, first, last) for each "a-b" range or CIDR of a pool."""
    for entry in (pool.get("spec") or {}).get("addresses") or []:
        text = str(entry).strip()
        try:
            if "-" in text:
                first, last = (int(ipaddress.ip_address(p.strip())) for p in text.split("-", 1))
            else:
                network = ipaddress.ip_network(text, strict=False)
                first, last = int(network.network_address), int(network.broadcast_address)
        except ValueError:
            continue
        yield text, first, last


class MetalLbWebhook:
    """MetalLB's validating webhooks: registered while its controller Deployment exists, refusing
    until that has been available for `warmup` seconds."""

    def __init__(self, warmup: float) -> None:
        self.warmup = warmup
        self._available_since: float | None = None

    def observe(self, rt: ResourceType, event_type: str, obj: JsonObject) -> None:
        """Follow the controller Deployment's availability (a store commit listener)."""
        meta = obj.get("metadata") or {}
        if rt.kind != "Deployment" or (meta.get("namespace"), meta.get("name")) != (NAMESPACE, "controller"):
            return
        available = event_type != "DELETED" and any(
            c.get("type") == "Available" and c.get("status") == "True"
            for c in (obj.get("status") or {}).get("conditions") or [])
        if not available:
            self._available_since = None
        elif self._available_since is None:
            self._available_since = time.monotonic()

    @property
    def answering(self) -> bool:
        """The controller is available and the webhook server has warmed up."""
        return self._available_since is not None and time.monotonic() - self._available_since >= self.warmup

    def review(self, rt: ResourceType, obj: JsonObject, controller: JsonObject | None, webhook_ip: str | None,
               pools: list[JsonObject]) -> None:
        """Call the webhook for a create or update of `obj`; raise what the API server answers."""
        name = WEBHOOKS.get(rt.kind)
        if name is None or rt.group != "metallb.io" or controller is None:
            return
        url = (f"https://{WEBHOOK_SERVICE}.{NAMESPACE}.svc:443/validate-metallb-io-{rt.version}-{rt.kind.lower()}"
               "?timeout=10s")
        if self._available_since is None:
            failure = f'no endpoints available for service "{WEBHOOK_SERVICE}"'
        elif time.monotonic() - self._available_since < self.warmup:
            failure = f"dial tcp {webhook_ip or '10.43.0.0'}:443: connect: connection refused"
        else:
            if rt.kind == "IPAddressPool":
                _deny_overlap(name, obj, pools)
            return
        message = f'failed calling webhook "{name}": failed to call webhook: Post "{url}": {failure}'
        raise KubeApiError(500, "InternalError", f"Internal error occurred: {message}",
                           {"causes": [{"message": message}]})


def _deny_overlap(webhook: str, pool: JsonObject, pools: list[JsonObject]) -> None:
    mine = pool["metadata"].get("name")
    for entry, first, last in address_ranges(pool):
        for other in pools:
            if other["metadata"]["name"] == mine:
                continue
            for other_entry, other_first, other_last in address_ranges(other):
                if first <= other_last and other_first <= last:
                    raise KubeApiError(403, "Forbidden", f'admission webhook "{webhook}" denied the request: CIDR '
                                       f'"{entry}" in pool "{mine}" overlaps with already defined CIDR '
                                       f'"{other_entry}"')
