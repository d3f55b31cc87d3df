"""The verbs of the simulated API server, on its store: create (defaults, validation and
allocation through admission; 409 AlreadyExists), replace (409 Conflict on a stale
resourceVersion; a no-op keeps the resourceVersion), merge patch, and delete (a pod on a node
terminates gracefully and the controller removes it; a namespace takes its objects with it)."""

from __future__ import annotations

from .admission import Admission
from .errors import KubeApiError, already_exists, bad_request, conflict, not_found, resource_details
from .objects import clone, merge_patch, timestamp
from .resources import RESOURCE_TYPES, JsonObject, ResourceType, resource_type
from .store import Store

DEFAULT_NAMESPACES = ("default", "kube-system", "kube-public", "kube-node-lease")
PROTECTED_NAMESPACES = frozenset(DEFAULT_NAMESPACES)


class Verbs:
    """create, replace, patch and delete, as the HTTP handlers and the controller call them."""

    def __init__(self, store: Store, admission: Admission) -> None:
        self._store = store
        self._admission = admission

    def new_object(self, rt: ResourceType, namespace: str, body: JsonObject) -> JsonObject:
        obj = clone(body)
        obj["apiVersion"], obj["kind"] = rt.api_version, rt.kind
        meta = obj.setdefault("metadata", {})
        if not meta.get("name") and meta.get("generateName"):
            meta["name"] = meta["generateName"] + self._store.name_suffix()
        if rt.namespaced:
            meta["namespace"] = namespace
        else:
            meta.pop("namespace", None)
        meta["uid"] = str(self._store.new_uid())
        meta["creationTimestamp"] = timestamp()
        for transient in ("resourceVersion", "deletionTimestamp", "deletionGracePeriodSeconds", "managedFields"):
            meta.pop(transient, None)
        if "spec" in obj or rt.kind in ("Deployment", "Service", "Pod"):
            meta["generation"] = 1
        if rt.has_status and not obj.get("status"):
            obj["status"] = {}
        return obj

    def create(self, rt: ResourceType, namespace: str, body: JsonObject) -> JsonObject:
        if body.get("kind") and body["kind"] != rt.kind:
            raise bad_request(f"the API version in the data ({body.get('apiVersion')}) does not match the "
                              f"expected API version ({rt.api_version}) or kind {body['kind']!r}")
        body_ns = body.get("metadata", {}).get("namespace")
        if rt.namespaced and body_ns and body_ns != namespace:
            raise bad_request("the namespace of the provided object does not match the namespace sent on "
                              "the request")
        if rt.namespaced and ("", namespace) not in self._store.objects["namespaces"]:
            raise not_found(resource_type("Namespace"), namespace)
        obj = self.new_object(rt, namespace, body)
        name = obj["metadata"].get("name", "")
        if (obj["metadata"].get("namespace", ""), name) in self._store.objects[rt.plural]:
            raise already_exists(rt, name)
        obj = self._admission.admit(rt, obj, None)
        if rt.kind == "Namespace":
            obj["status"] = {"phase": "Active"}
            obj["metadata"].setdefault("labels", {})["kubernetes.io/metadata.name"] = name
            obj["spec"] = {"finalizers": ["kubernetes"]}
        return self._store.commit(rt, "ADDED", obj, None)

    def replace(self, rt: ResourceType, namespace: str, name: str, body: JsonObject,
                 subresource: str = "") -> JsonObject:
        current = self._store.require(rt, namespace, name)
        meta = body.get("metadata") or {}
        if meta.get("name", name) != name:
            raise bad_request(f"the name of the object ({meta.get('name')}) does not match the name on "
                              f"the URL ({name})")
        if meta.get("resourceVersion") and meta["resourceVersion"] != current["metadata"]["resourceVersion"]:
            raise conflict(rt, name)
        updated = clone(body)
        updated["apiVersion"], updated["kind"] = rt.api_version, rt.kind
        new_meta = updated.setdefault("metadata", {})
        for kept in ("name", "namespace", "uid", "creationTimestamp", "generation", "deletionTimestamp",
                     "deletionGracePeriodSeconds"):
            if kept in current["metadata"]:
                new_meta[kept] = current["metadata"][kept]
            else:
                new_meta.pop(kept, None)
        if subresource == "status":  # only the status changes
            updated = {**clone(current), "status": updated.get("status", {})}
        else:
            if rt.has_status:
                updated["status"] = clone(current.get("status", {}))
            updated = self._admission.admit(rt, updated, current)
            if updated.get("spec") != current.get("spec") and "generation" in new_meta:
                new_meta["generation"] += 1
        updated["metadata"]["resourceVersion"] = current["metadata"]["resourceVersion"]
        if updated == current:
            return current  # a no-op update does not bump the resourceVersion, as in the real API
        return self._store.commit(rt, "MODIFIED", updated, current)

    def patch(self, rt: ResourceType, namespace: str, name: str, patch: JsonObject,
               subresource: str = "") -> JsonObject:
        current = self._store.require(rt, namespace, name)
        if not isinstance(patch, dict):
            raise bad_request("the patch must be a JSON object")
        wanted_rv = (patch.get("metadata") or {}).get("resourceVersion")
        if wanted_rv and wanted_rv != current["metadata"]["resourceVersion"]:
            raise conflict(rt, name)
        merged = merge_patch(current, patch)
        merged.setdefault("metadata", {})["resourceVersion"] = current["metadata"]["resourceVersion"]
        return self.replace(rt, namespace, name, merged, subresource)

    def delete(self, rt: ResourceType, namespace: str, name: str, grace_period: int | None,
               uid: str | None = None) -> JsonObject:
        current = self._store.require(rt, namespace, name)
        if uid is not None and uid != current["metadata"]["uid"]:  # DeleteOptions.preconditions.uid
            raise KubeApiError(409, "Conflict", f'Operation cannot be fulfilled on {rt.plural} "{name}": '
                               f"Precondition failed: UID in precondition: {uid}, UID in object meta: "
                               f"{current['metadata']['uid']}", resource_details(rt, name))
        if rt.kind == "Namespace":
            if name in PROTECTED_NAMESPACES:
                raise KubeApiError(403, "Forbidden", f'namespaces "{name}" is forbidden: this namespace may not '
                                   "be deleted", resource_details(rt, name))
            for other in RESOURCE_TYPES:
                if other.namespaced:
                    for obj in self._store.select(other, name):
                        self._store.commit(other, "DELETED", clone(obj), obj)
        if rt.kind == "Pod" and current["spec"].get("nodeName") and grace_period != 0:
            if current["metadata"].get("deletionTimestamp"):
                return current
            terminating = clone(current)
            terminating["metadata"]["deletionTimestamp"] = timestamp()
            terminating["metadata"]["deletionGracePeriodSeconds"] = (
                grace_period if grace_period is not None else current["spec"].get("terminationGracePeriodSeconds", 30))
            return self._store.commit(rt, "MODIFIED", terminating, current)
        removed = self._store.commit(rt, "DELETED", clone(current), current)
        if rt.kind == "Pod":
            self._store.close_logs((namespace, name))
        return removed
