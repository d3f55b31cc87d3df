"""CustomResourceDefinitions (apiextensions.k8s.io/v1) in the simulated API server: the registry
of every type served (the built-in ones plus those a CRD adds while it exists), a CRD's checks and
its status (NamesAccepted, Established), a custom resource's validation and defaults from its
openAPIV3Schema, and the Tables `kubectl get` prints for CRDs and custom resources (NAME, CREATED
AT; NAME plus the additionalPrinterColumns, AGE by default)."""

from __future__ import annotations

import json
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

from .errors import FieldError
from .objects import timestamp
from .printing import Column, human_duration
from .resources import RESOURCE_TYPES, JsonObject, ResourceType
from .schema import ListOf, MapOf, Node, Struct, custom_resource_schema, schema_for_kind

CRD_KIND = "CustomResourceDefinition"
JSON_TYPES: dict[str, tuple[type, ...]] = {
    "string": (str,), "integer": (int,), "number": (int, float), "boolean": (bool,), "array": (list,),
    "object": (dict,)}


class TypeRegistry:
    """The types served: the built-in ones, and each served version of each CRD."""

    def __init__(self) -> None:
        self._custom: dict[tuple[str, str], ResourceType] = {}  # (base path, plural) -> type
        self._schemas: dict[str, Struct] = {}  # plural -> custom resource schema
        self._columns: dict[str, list[JsonObject]] = {}  # plural -> additionalPrinterColumns

    def all(self) -> list[ResourceType]:
        return [*RESOURCE_TYPES, *self._custom.values()]

    def by_path(self, base_path: str, plural: str) -> ResourceType | None:
        for rt in RESOURCE_TYPES:
            if (rt.base_path, rt.plural) == (base_path, plural):
                return rt
        return self._custom.get((base_path, plural))

    def group_versions(self) -> dict[str, list[ResourceType]]:
        versions: dict[str, list[ResourceType]] = {}
        for rt in self.all():
            versions.setdefault(rt.base_path, []).append(rt)
        return versions

    def lookup(self, kind: str) -> ResourceType:
        """A type by kind, plural or short name, case-insensitively; KeyError when not served."""
        wanted = kind.lower()
        for rt in self.all():
            if wanted in (rt.kind.lower(), rt.plural, *rt.short_names):
                return rt
        raise KeyError(f"unknown kind {kind!r}")

    def is_custom(self, rt: ResourceType) -> bool:
        return rt.plural in self._schemas

    def schema(self, rt: ResourceType) -> Struct:
        return self._schemas.get(rt.plural) or schema_for_kind(rt.kind)

    def serve(self, crd: JsonObject) -> list[ResourceType]:
        """Serve the CRD's served versions (the storage version first); returns their types."""
        spec, names = crd["spec"], crd["spec"]["names"]
        versions = sorted((v for v in spec["versions"] if v.get("served", True)), key=lambda v: not v.get("storage"))
        self.withdraw(crd)
        types = []
        for version in versions:
            rt = ResourceType(names["kind"], names["plural"], spec["group"], version["name"],
                              spec.get("scope", "Namespaced") == "Namespaced", tuple(names.get("shortNames") or ()),
                              tuple(names.get("categories") or ()),
                              has_status="status" in (version.get("subresources") or {}),
                              subresources=tuple(sorted(version.get("subresources") or {})))
            self._custom[(rt.base_path, rt.plural)] = rt
            types.append(rt)
        storage = versions[0] if versions else {}
        self._schemas[names["plural"]] = custom_resource_schema((storage.get("schema") or {}).get("openAPIV3Schema"))
        self._columns[names["plural"]] = list(storage.get("additionalPrinterColumns") or [])
        return types

    def withdraw(self, crd: JsonObject) -> list[ResourceType]:
        """Stop serving the CRD's types; returns those that were served."""
        plural = crd["spec"]["names"]["plural"]
        gone = [rt for key, rt in self._custom.items() if rt.plural == plural and rt.group == crd["spec"]["group"]]
        for rt in gone:
            del self._custom[(rt.base_path, rt.plural)]
        self._schemas.pop(plural, None)
        self._columns.pop(plural, None)
        return gone

    def columns(self, rt: ResourceType) -> list[Column]:
        """The Table columns of a CRD or a custom resource."""
        if rt.kind == CRD_KIND:
            return [Column("Name", lambda o: o["metadata"]["name"], format="name"),
                    Column("Created At", lambda o: o["metadata"].get("creationTimestamp", ""), type="date")]
        declared = self._columns.get(rt.plural) or [
            {"name": "Age", "type": "date", "jsonPath": ".metadata.creationTimestamp"}]
        return [Column("Name", lambda o: o["metadata"]["name"], format="name"),
                *(Column(c["name"], _printer_cell(c), c.get("priority", 0), c.get("type", "string"),
                         c.get("format", "")) for c in declared)]


def _printer_cell(column: JsonObject) -> Any:
    path = [part for part in column.get("jsonPath", "").split(".") if part]
    kind = column.get("type", "string")

    def cell(obj: JsonObject) -> Any:
        value: Any = obj
        for part in path:
            value = value.get(part) if isinstance(value, dict) else None
        if value is None:
            return None
        if kind == "date":
            return _age_of(value)
        if kind == "string" and not isinstance(value, str):
            return json.dumps(value, separators=(",", ":"))
        return value

    return cell


def _age_of(stamp: str) -> str:
    try:
        then = datetime.strptime(stamp, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)
    except ValueError:
        return "<invalid>"
    return human_duration((datetime.now(UTC) - then).total_seconds())


# -- admission of CRDs and custom resources --------------------------------------------------------


def admit_crd(crd: JsonObject, served: Iterable[ResourceType], own_plural: str | None) -> list[FieldError]:
    """Check a CRD (its name is <plural>.<group>, a kind, a scope, one storage version, a plural
    no other type serves) and give it the status of an established one."""
    spec = crd.setdefault("spec", {})
    names = spec.setdefault("names", {})
    errors = []
    group, plural = spec.get("group", ""), names.get("plural", "")
    if not group or "." not in group:
        errors.append(FieldError("spec.group", f'Invalid value: "{group}": should be a domain with at least one dot'))
    if not plural:
        errors.append(FieldError("spec.names.plural", "Required value"))
    if not names.get("kind"):
        errors.append(FieldError("spec.names.kind", "Required value"))
    if crd["metadata"].get("name") != f"{plural}.{group}":
        errors.append(FieldError("metadata.name", f'Invalid value: "{crd["metadata"].get("name")}": must be '
                                 "spec.names.plural+\".\"+spec.group"))
    if spec.get("scope") not in ("Namespaced", "Cluster"):
        errors.append(FieldError("spec.scope", f'Unsupported value: "{spec.get("scope", "")}": supported values: '
                                 '"Cluster", "Namespaced"'))
    versions = spec.get("versions") or []
    if not versions:
        errors.append(FieldError("spec.versions", "Invalid value: null: must have exactly one version marked as "
                                 "storage version"))
    elif sum(1 for v in versions if v.get("storage")) != 1:
        errors.append(FieldError("spec.versions", "Invalid value: " + json.dumps(versions)[:60] + ": must have "
                                 "exactly one version marked as storage version"))
    if plural and plural != own_plural and any(rt.plural == plural for rt in served):
        errors.append(FieldError("spec.names.plural", f'Invalid value: "{plural}": is already in use'))
    names.setdefault("singular", names.get("kind", "").lower())
    names.setdefault("listKind", f"{names.get('kind', '')}List")
    for version in versions:
        version.setdefault("served", True)
    now = timestamp()
    crd["status"] = {
        "acceptedNames": dict(names),
        "conditions": [
            {"type": "NamesAccepted", "status": "True", "lastTransitionTime": now, "reason": "NoConflicts",
             "message": "no conflicts found"},
            {"type": "Established", "status": "True", "lastTransitionTime": now, "reason": "InitialNamesAccepted",
             "message": "the initial names have been accepted"}],
        "storedVersions": [v["name"] for v in versions if v.get("storage")],
    }
    return errors


def admit_custom_resource(obj: JsonObject, schema: Struct) -> list[FieldError]:
    """Default and validate a custom resource against its CRD's schema (types, required fields,
    defaults), as the apiextensions server does."""
    errors: list[FieldError] = []
    for name in ("spec", "status"):
        if name in obj:
            _check(obj[name], schema.fields.get(name), name, schema.types.get(name), errors)
    return errors


def _check(value: Any, node: Node | None, path: str, json_type: str | None, errors: list[FieldError]) -> None:
    if json_type and value is not None and (not isinstance(value, JSON_TYPES.get(json_type, (object,)))
                                            or (json_type != "boolean" and isinstance(value, bool))):
        shown = json.dumps(value) if not isinstance(value, (dict, list)) else ("object" if isinstance(value, dict)
                                                                               else "array")
        errors.append(FieldError(path, f'Invalid value: "{type(value).__name__}": {path} in body must be of type '
                                 f'{json_type}: {shown}'))
        return
    if isinstance(node, Struct) and isinstance(value, dict):
        for name, default in node.defaults.items():
            value.setdefault(name, default)
        for name in node.required:
            if name not in value:
                errors.append(FieldError(f"{path}.{name}", "Required value"))
        for name, sub in value.items():
            _check(sub, node.fields.get(name), f"{path}.{name}", node.types.get(name), errors)
    elif isinstance(node, MapOf) and isinstance(value, dict):
        for name, sub in value.items():
            _check(sub, node.value, f"{path}.{name}", None, errors)
    elif isinstance(node, ListOf) and isinstance(value, list):
        for index, item in enumerate(value):
            _check(item, node.item, f"{path}[{index}]", None, errors)
