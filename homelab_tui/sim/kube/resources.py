"""The resource types the simulated API server serves (kind, plural, group, version, scope,
short names, subresources, the field labels selectors may use), how a URL or a kind names one,
and the release the server says it is."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

K3S_VERSION = "v1.31.4+k3s1"

JsonObject = dict[str, Any]


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
    ResourceType("Pod", "pods", "", "v1", True, ("po",), ("all",), subresources=("eviction", "log", "status"),
                 field_labels=("spec.nodeName", "status.phase", "status.podIP", "spec.restartPolicy",
                               "spec.schedulerName", "spec.serviceAccountName")),
    ResourceType("Service", "services", "", "v1", True, ("svc",), ("all",),
                 subresources=("status",), field_labels=("spec.clusterIP", "spec.type")),
    ResourceType("Deployment", "deployments", "apps", "v1", True, ("deploy",), ("all",),
                 subresources=("scale", "status")),
    ResourceType("Ingress", "ingresses", "networking.k8s.io", "v1", True, ("ing",),
                 subresources=("status",)),
    ResourceType("CustomResourceDefinition", "customresourcedefinitions", "apiextensions.k8s.io", "v1", False,
                 ("crd", "crds"), ("api-extensions",), subresources=("status",)),
    ResourceType("ReplicaSet", "replicasets", "apps", "v1", True, ("rs",), ("all",),
                 subresources=("scale", "status"), field_labels=("status.replicas",)),
    ResourceType("DaemonSet", "daemonsets", "apps", "v1", True, ("ds",), ("all",), subresources=("status",)),
    ResourceType("Event", "events", "", "v1", True, ("ev",), has_status=False,
                 field_labels=("involvedObject.kind", "involvedObject.namespace", "involvedObject.name",
                               "involvedObject.uid", "involvedObject.apiVersion", "involvedObject.resourceVersion",
                               "involvedObject.fieldPath", "reason", "reportingComponent", "source", "type")),
    ResourceType("Endpoints", "endpoints", "", "v1", True, ("ep",), has_status=False),
    ResourceType("ConfigMap", "configmaps", "", "v1", True, ("cm",), has_status=False),
    ResourceType("Secret", "secrets", "", "v1", True, has_status=False),
    ResourceType("EndpointSlice", "endpointslices", "discovery.k8s.io", "v1", True, has_status=False),
)
BY_PATH = {(rt.base_path, rt.plural): rt for rt in RESOURCE_TYPES}
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
