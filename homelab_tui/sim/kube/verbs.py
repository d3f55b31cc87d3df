"""The verbs of the simulated API server, on its store: create (defaults, validation and
allocation through admission; 409 AlreadyExists), replace (409 Conflict on a stale
resourceVersion; a no-op keeps the resourceVersion), merge patch, server-side apply, delete (a pod
on a node terminates gracefully and the controller removes it; a namespace takes its objects with
it; a CRD its custom resources) and eviction. A write from a client carries `WriteOptions`: its
field manager (recorded in managedFields), dry run (everything but the storing) and field
validation (unknown fields refused, warned about or dropped); the controller's own writes carry
none."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from .admission import Admission
from .apply import apply_config, record_update
from .crds import CRD_KIND
from .errors import (
    FieldError,
    KubeApiError,
    already_exists,
    bad_request,
    conflict,
    invalid_options,
    not_found,
    resource_details,
)
from .objects import JsonPatchError, clone, json_patch, merge_patch, timestamp
from .resources import JsonObject, ResourceType, resource_type
from .schema import drop_fields, unknown_fields
from .store import Store

DEFAULT_NAMESPACES = ("default", "kube-system", "kube-public", "kube-node-lease")
PROTECTED_NAMESPACES = frozenset(DEFAULT_NAMESPACES)


@dataclass(slots=True)
class WriteOptions:
    """What a client's write asks for, from its query: `manager` (fieldManager, or the user
    agent's first word), `dry_run` (dryRun=All), `validation` (fieldValidation: Strict, Warn or
    Ignore), `force` (apply only). `warnings` collects what goes back in Warning headers."""

    manager: str = ""
    dry_run: bool = False
    validation: str = "Warn"
    force: bool = False
    warnings: list[str] = field(default_factory=list)


class Verbs:
    """create, replace, patch, apply, delete and evict, as the HTTP handlers and the controller
    call them."""

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
        if "spec" in obj or rt.kind in ("Deployment", "Service", "Pod") or self._store.types.is_custom(rt):
            meta["generation"] = 1
        if rt.has_status and not obj.get("status"):
            obj["status"] = {}
        return obj

    # -- create --------------------------------------------------------------------------------

    def create(self, rt: ResourceType, namespace: str, body: JsonObject,
               options: WriteOptions | None = None) -> JsonObject:
        self._check_body(rt, namespace, body)
        body = self._decode_fields(rt, body, options)
        return self._create(rt, namespace, self.new_object(rt, namespace, body), options)

    def _check_body(self, rt: ResourceType, namespace: str, body: JsonObject) -> None:
        if body.get("kind") and body["kind"] != rt.kind:
            raise bad_request(f"the API version in the data ({body.get('apiVersion')}) does not match the "
                              f"expected API version ({rt.api_version}) or kind {body['kind']!r}")
        body_ns = (body.get("metadata") or {}).get("namespace")
        if rt.namespaced and body_ns and body_ns != namespace:
            raise bad_request("the namespace of the provided object does not match the namespace sent on "
                              "the request")

    def _create(self, rt: ResourceType, namespace: str, obj: JsonObject, options: WriteOptions | None,
                managed: list[JsonObject] | None = None) -> JsonObject:
        """Store a new object (`obj` from new_object); `managed`: managedFields an apply made."""
        if rt.namespaced and ("", namespace) not in self._store.objects["namespaces"]:
            raise not_found(resource_type("Namespace"), namespace)
        name = obj["metadata"].get("name", "")
        if (obj["metadata"].get("namespace", ""), name) in self._store.objects[rt.plural]:
            raise already_exists(rt, name)
        obj = self._admission.admit(rt, obj, None)
        if rt.kind == "Namespace":
            obj["status"] = {"phase": "Active"}
            obj["metadata"].setdefault("labels", {})["kubernetes.io/metadata.name"] = name
            obj["spec"] = {"finalizers": ["kubernetes"]}
        if managed:
            obj["metadata"]["managedFields"] = managed
        elif options is not None:
            record_update(rt, self._store.types.schema(rt), None, obj, options.manager)
        self._admission.review(rt, obj)
        return self._commit(rt, "ADDED", obj, None, options)

    # -- update --------------------------------------------------------------------------------

    def replace(self, rt: ResourceType, namespace: str, name: str, body: JsonObject,
                subresource: str = "", options: WriteOptions | None = None) -> JsonObject:
        if not subresource:
            body = self._decode_fields(rt, body, options)
        return self._update(rt, namespace, name, body, subresource, options, record=True)

    def _update(self, rt: ResourceType, namespace: str, name: str, body: JsonObject, subresource: str,
                options: WriteOptions | None, record: bool) -> JsonObject:
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
        if record and new_meta.get("managedFields") is None and "managedFields" in current["metadata"]:
            new_meta["managedFields"] = current["metadata"]["managedFields"]  # a body without them keeps them
        if subresource == "status":  # only the status changes
            updated = {**clone(current), "status": updated.get("status", {})}
        else:
            if rt.has_status:
                updated["status"] = clone(current.get("status", {}))
            updated = self._admission.admit(rt, updated, current)
            if "generation" in new_meta and _content(updated) != _content(current):
                new_meta["generation"] += 1
        if options is not None and record:
            record_update(rt, self._store.types.schema(rt), current, updated, options.manager, subresource)
        updated["metadata"]["resourceVersion"] = current["metadata"]["resourceVersion"]
        if updated == current:
            return current  # a no-op update does not bump the resourceVersion, as in the real API
        if subresource != "status":
            self._admission.review(rt, updated)
        return self._commit(rt, "MODIFIED", updated, current, options)

    def _commit(self, rt: ResourceType, event: str, obj: JsonObject, previous: JsonObject | None,
                options: WriteOptions | None) -> JsonObject:
        """Store a create or an update (a dry run stores nothing); a stored CRD serves its type."""
        if options is not None and options.dry_run:
            return obj
        stored = self._store.commit(rt, event, obj, previous)
        if rt.kind == CRD_KIND:
            self._store.types.serve(stored)
        return stored

    def patch(self, rt: ResourceType, namespace: str, name: str, patch: Any, subresource: str = "",
              options: WriteOptions | None = None, patch_type: str = "merge") -> JsonObject:
        """A JSON merge patch, a strategic merge patch (merged the same way here) or an RFC 6902
        JSON patch ("json", what kubectl sends to migrate managedFields)."""
        current = self._store.require(rt, namespace, name)
        if patch_type == "json":
            try:
                patched = json_patch(current, patch)
            except JsonPatchError as error:
                raise KubeApiError(422, "Invalid", str(error)) from None
            return self._update(rt, namespace, name, patched, subresource, options, record=True)
        if not isinstance(patch, dict):
            raise bad_request("the patch must be a JSON object")
        wanted_rv = (patch.get("metadata") or {}).get("resourceVersion")
        if wanted_rv and wanted_rv != current["metadata"]["resourceVersion"]:
            raise conflict(rt, name)
        merged = merge_patch(current, patch)
        if options is not None and not subresource:
            unknown = unknown_fields(merge_patch({}, patch), self._store.types.schema(rt))
            if unknown and options.validation == "Strict":
                shown = go_map(patch) if patch_type == "strategic" else json.dumps(merged, separators=(",", ":"))
                raise KubeApiError(422, "Invalid", f' "" is invalid: patch: Invalid value: {json.dumps(shown)}: '
                                   f"{strict_decoding(unknown)}",
                                   {"causes": [{"reason": "FieldValueInvalid", "field": "patch", "message":
                                                f"Invalid value: {json.dumps(shown)}: {strict_decoding(unknown)}"}]})
            options.warnings += [f'unknown field "{path}"' for path in unknown if options.validation == "Warn"]
            drop_fields(merged, unknown)
        merged.setdefault("metadata", {})["resourceVersion"] = current["metadata"]["resourceVersion"]
        return self._update(rt, namespace, name, merged, subresource, options, record=True)

    def apply(self, rt: ResourceType, namespace: str, name: str, body: JsonObject,
              options: WriteOptions) -> tuple[JsonObject, bool]:
        """Server-side apply of `body` by `options.manager`: (the object, whether it was created)."""
        if not isinstance(body, dict):
            raise bad_request("error decoding YAML: the apply configuration must be an object")
        if body.get("apiVersion") != rt.api_version:
            raise bad_request(f"Incorrect version specified in apply patch. Specified patch version: "
                              f"{body.get('apiVersion', '')}, expected: {rt.api_version}")
        self._check_body(rt, namespace, body)
        meta = body.get("metadata") or {}
        if meta.get("managedFields") is not None:
            raise bad_request("metadata.managedFields must be nil")
        if meta.get("name", name) != name:
            raise bad_request(f"the name of the object ({meta.get('name')}) does not match the name on "
                              f"the URL ({name})")
        schema = self._store.types.schema(rt)
        unknown = unknown_fields(body, schema, keyed=True)
        if unknown:
            where = f"{namespace if rt.namespaced else ''}/{name}; {rt.group}/{rt.version}, Kind={rt.kind}"
            details = unknown[0] if len(unknown) == 1 else "errors:\n  " + "\n  ".join(unknown)
            # The real server fails here with a plain error, not a Status: a 500 without a reason.
            raise KubeApiError(500, "", f"failed to create typed patch object ({where}): {details}")
        current = self._store.objects[rt.plural].get((namespace if rt.namespaced else "", name))
        merged = apply_config(rt, schema, current, body, options.manager, options.force)
        if current is None:
            managed = merged["metadata"].get("managedFields")
            merged.setdefault("metadata", {})["name"] = name
            return self._create(rt, namespace, self.new_object(rt, namespace, merged), options, managed), True
        merged["metadata"]["resourceVersion"] = current["metadata"]["resourceVersion"]
        return self._update(rt, namespace, name, merged, "", options, record=False), False

    def _decode_fields(self, rt: ResourceType, body: JsonObject, options: WriteOptions | None) -> JsonObject:
        """What the strict JSON decoder makes of `body`: 400 on unknown fields (Strict), a warning
        for each (Warn), or just without them."""
        if options is None:
            return body
        unknown = unknown_fields(body, self._store.types.schema(rt))
        if not unknown:
            return body
        if options.validation == "Strict":
            raise bad_request(f'{rt.kind} in version "{rt.version}" cannot be handled as a {rt.kind}: '
                              f"{strict_decoding(unknown)}")
        if options.validation == "Warn":
            options.warnings += [f'unknown field "{path}"' for path in unknown]
        body = clone(body)
        drop_fields(body, unknown)
        return body

    # -- delete --------------------------------------------------------------------------------

    def delete(self, rt: ResourceType, namespace: str, name: str, grace_period: int | None,
               uid: str | None = None, dry_run: bool = False) -> JsonObject:
        current = self._store.require(rt, namespace, name)
        if uid is not None and uid != current["metadata"]["uid"]:  # DeleteOptions.preconditions.uid
            raise KubeApiError(409, "Conflict", f'Operation cannot be fulfilled on {rt.plural} "{name}": '
                               f"Precondition failed: UID in precondition: {uid}, UID in object meta: "
                               f"{current['metadata']['uid']}", resource_details(rt, name))
        if rt.kind == "Namespace" and name in PROTECTED_NAMESPACES:
            raise KubeApiError(403, "Forbidden", f'namespaces "{name}" is forbidden: this namespace may not '
                               "be deleted", resource_details(rt, name))
        graceful = rt.kind == "Pod" and current["spec"].get("nodeName") and grace_period != 0
        if dry_run:
            return current if not graceful else {**clone(current), "metadata": {
                **current["metadata"], "deletionTimestamp": timestamp()}}
        if rt.kind == "Namespace":
            for other in self._store.types.all():  # a CRD's versions share their objects: once is enough
                if other.namespaced:
                    for obj in self._store.select(other, name):
                        self._store.commit(other, "DELETED", clone(obj), obj)
        if rt.kind == CRD_KIND:
            self._withdraw(current)
        if graceful:
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

    def _withdraw(self, crd: JsonObject) -> None:
        """A CRD goes: its custom resources go with it, and its types are no longer served."""
        served = self._store.types.withdraw(crd)
        if served:
            for obj in self._store.select(served[0], None):
                self._store.commit(served[0], "DELETED", clone(obj), obj)
            self._store.objects.pop(served[0].plural, None)
        for rt in served:
            self._store.end_watches(rt)

    def evict(self, namespace: str, name: str, eviction: JsonObject, dry_run: bool = False) -> None:
        """The Eviction API (policy/v1): a graceful delete of the pod (no PodDisruptionBudgets here)."""
        pod_rt = resource_type("Pod")
        if not isinstance(eviction, dict) or eviction.get("kind", "Eviction") != "Eviction":
            raise bad_request("the body of an eviction must be a policy/v1 Eviction")
        evicted = (eviction.get("metadata") or {}).get("name", name)
        if evicted != name:
            raise bad_request(f"name in URL does not match name in Eviction object: {name} != {evicted}")
        options = eviction.get("deleteOptions") or {}
        self.delete(pod_rt, namespace, name, options.get("gracePeriodSeconds"),
                    (options.get("preconditions") or {}).get("uid"), dry_run or "All" in (options.get("dryRun") or []))


def _content(obj: JsonObject) -> JsonObject:
    """What a change of bumps the generation: all but metadata and status."""
    return {k: v for k, v in obj.items() if k not in ("metadata", "status")}


def strict_decoding(unknown: list[str]) -> str:
    return "strict decoding error: " + ", ".join(f'unknown field "{path}"' for path in unknown)


def go_map(value: Any) -> str:
    """A value as Go prints a map[string]interface{} with %+v (how a strategic patch is quoted)."""
    if isinstance(value, dict):
        return "map[" + " ".join(f"{k}:{go_map(value[k])}" for k in sorted(value)) + "]"
    if isinstance(value, list):
        return "[" + " ".join(go_map(v) for v in value) + "]"
    if value is None:
        return "<nil>"
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def validate_options(kind: str, dry_run: list[str], manager: str, validation: str,
                     force: str | None, apply: bool) -> None:
    """ValidateCreateOptions / UpdateOptions / PatchOptions / DeleteOptions: 422 on a bad one."""
    errors = []
    if kind == "PatchOptions":
        if not apply and force is not None:
            errors.append(FieldError("force", "Forbidden: may not be specified for non-apply patch"))
        if apply and not manager:
            errors.append(FieldError("fieldManager", "Required value: is required for apply patch"))
    if len(manager) > 128:
        errors.append(FieldError("fieldManager", "Too long: may not be more than 128 bytes"))
    if any(value != "All" for value in dry_run):
        shown = "[]string{" + ", ".join(json.dumps(v) for v in dry_run) + "}"
        errors.append(FieldError("dryRun", f'Unsupported value: {shown}: supported values: "All"'))
    if validation not in ("", "Ignore", "Warn", "Strict") and kind != "DeleteOptions":
        errors.append(FieldError("fieldValidation", f'Unsupported value: {json.dumps(validation)}: supported '
                                 'values: "", "Ignore", "Strict", "Warn"'))
    if errors:
        raise invalid_options(kind, errors)
