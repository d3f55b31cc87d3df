"""Server-side apply and managedFields, after structured-merge-diff (what the real API server
runs): field sets over an object's schema, in the FieldsV1 notation (`f:spec`, `k:{"name":"web"}`,
`v:"x"`, `.` for a field owned as a whole); an Apply makes the applied configuration its manager's
set, merges it into the live object, removes what the manager applied before and dropped (unless
another manager owns it), and refuses with 409 a changed field another manager owns, unless
forced; every other write records an Update entry that takes what it changed."""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from .errors import KubeApiError
from .objects import clone, timestamp
from .resources import JsonObject, ResourceType
from .schema import FREE, Free, Leaf, ListOf, MapOf, Node, Struct, child

PathElement = tuple[str, str]  # ("f", name) | ("k", '{"name":"web"}') | ("v", '"x"')
FieldPath = tuple[PathElement, ...]
# Fields no manager owns: the server sets them (structured-merge-diff's stripped fields).
SYSTEM_METADATA = frozenset({"name", "namespace", "uid", "resourceVersion", "generation", "creationTimestamp",
                             "managedFields", "selfLink", "deletionTimestamp", "deletionGracePeriodSeconds"})
KEY_DEFAULTS = {"protocol": "TCP"}  # key fields the server defaults (a port's protocol)


def _compact(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"), sort_keys=True)


def _is_atomic(node: Node) -> bool:
    return isinstance(node, Leaf) or (isinstance(node, (Struct, MapOf, ListOf)) and node.atomic)


def _item_element(node: ListOf, item: Any) -> PathElement:
    if node.keys and isinstance(item, dict):
        return "k", _compact({k: item.get(k, KEY_DEFAULTS.get(k)) for k in sorted(node.keys)})
    return "v", _compact(item)


def _walk(obj: Any, node: Node, path: FieldPath, out: dict[FieldPath, tuple[str, Any]]) -> None:
    """Every field path of `obj` with its role: a "leaf" (scalar, atomic or empty map, with its
    value), a list "item", or a free-keyed "map" (which an Update owns with `.` when it made it)."""
    if isinstance(obj, dict) and not _is_atomic(node) and not (isinstance(node, ListOf)):
        if isinstance(node, MapOf):
            out[path] = ("map", None)
        if not obj:
            out[path] = ("leaf", {})
        for name, value in obj.items():
            _walk(value, child(node, name) or FREE, (*path, ("f", name)), out)
    elif isinstance(obj, list) and isinstance(node, ListOf) and not node.atomic:
        for item in obj:
            item_path = (*path, _item_element(node, item))
            out[item_path] = ("item", None)
            if node.keys and isinstance(item, dict):
                for name, value in item.items():
                    _walk(value, child(node.item, name) or FREE, (*item_path, ("f", name)), out)
    elif not isinstance(node, Free) or not isinstance(obj, dict):
        out[path] = ("leaf", _compact(obj))


def field_entries(obj: JsonObject, schema: Struct, reset_status: bool) -> dict[FieldPath, tuple[str, Any]]:
    """The ownable fields of `obj`: not apiVersion/kind, not the system metadata, and not status
    when it has its own subresource."""
    out: dict[FieldPath, tuple[str, Any]] = {}
    _walk(obj, schema, (), out)
    return {p: role for p, role in out.items() if p and not _system_path(p, reset_status)}


def _system_path(path: FieldPath, reset_status: bool) -> bool:
    top = path[0][1]
    if top in ("apiVersion", "kind") or (top == "status" and reset_status):
        return True
    return top == "metadata" and (len(path) == 1 or path[1][1] in SYSTEM_METADATA)


def applied_set(entries: dict[FieldPath, tuple[str, Any]]) -> set[FieldPath]:
    """What an Apply of these fields owns: leaves and list items, not the maps around them."""
    return {path for path, (role, _) in entries.items() if role != "map"}


# -- FieldsV1 ---------------------------------------------------------------------------------


def encode_fields(paths: Iterable[FieldPath]) -> JsonObject:
    """A set of paths in the FieldsV1 notation."""
    root: JsonObject = {}
    members: list[JsonObject] = []
    for path in paths:
        node = root
        for kind, text in path:
            node = node.setdefault(f"{kind}:{text}", {})
        members.append(node)
    for node in members:
        if node:
            node["."] = {}
    return _sorted_tree(root)


def _sorted_tree(node: JsonObject) -> JsonObject:
    return {key: _sorted_tree(node[key]) for key in sorted(node, key=lambda k: (k != ".", k))}


def decode_fields(tree: JsonObject, prefix: FieldPath = ()) -> set[FieldPath]:
    paths: set[FieldPath] = set()
    if prefix and (not tree or "." in tree):
        paths.add(prefix)
    for key, sub in tree.items():
        if key != ".":
            kind, _, text = key.partition(":")
            paths |= decode_fields(sub, (*prefix, (kind, text)))
    return paths


def path_text(path: FieldPath) -> str:
    """`.spec.template.spec.containers[name="web"].image`, as conflicts name a field."""
    parts = []
    for kind, text in path:
        if kind == "f":
            parts.append(f".{text}")
        elif kind == "k":
            keys = json.loads(text)
            parts.append("[" + ",".join(f"{k}={json.dumps(v)}" for k, v in keys.items()) + "]")
        else:
            parts.append(f"[={text}]")
    return "".join(parts)


# -- the managers of an object -------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ManagerId:
    manager: str
    operation: str  # Apply / Update
    subresource: str = ""

    def describe(self, api_version: str) -> str:
        """How a conflict names this manager (the real server's printManager)."""
        text = json.dumps(self.manager)
        if self.subresource:
            text += f" with subresource {json.dumps(self.subresource)}"
        return f"{text} using {api_version}" if self.operation == "Update" else text


@dataclass(slots=True)
class Owned:
    fields: set[FieldPath]
    api_version: str
    time: str


def read_managers(obj: JsonObject | None) -> dict[ManagerId, Owned]:
    managers: dict[ManagerId, Owned] = {}
    for entry in ((obj or {}).get("metadata") or {}).get("managedFields") or []:
        key = ManagerId(entry.get("manager", ""), entry.get("operation", "Update"), entry.get("subresource", ""))
        managers[key] = Owned(decode_fields(entry.get("fieldsV1") or {}), entry.get("apiVersion", ""),
                              entry.get("time", ""))
    return managers


def write_managers(obj: JsonObject, managers: dict[ManagerId, Owned]) -> None:
    """Store the entries as the real server orders them: Apply first, then by time."""
    entries = []
    for key, owned in sorted(managers.items(), key=lambda kv: (kv[0].operation != "Apply", kv[1].time,
                                                                kv[0].manager)):
        if not owned.fields:
            continue
        entry: JsonObject = {"manager": key.manager, "operation": key.operation, "apiVersion": owned.api_version,
                             "time": owned.time, "fieldsType": "FieldsV1", "fieldsV1": encode_fields(owned.fields)}
        if key.subresource:
            entry["subresource"] = key.subresource
        entries.append(entry)
    meta = obj.setdefault("metadata", {})
    if entries:
        meta["managedFields"] = entries
    else:
        meta.pop("managedFields", None)


def _compare(old: dict[FieldPath, tuple[str, Any]], new: dict[FieldPath, tuple[str, Any]]
             ) -> tuple[set[FieldPath], set[FieldPath]]:
    """(added or modified, removed) between two objects' entries."""
    changed = {p for p, role in new.items() if old.get(p) != role}
    return changed, set(old) - set(new)


def _touch(managers: dict[ManagerId, Owned], key: ManagerId, fields: set[FieldPath], api_version: str,
           object_changed: bool) -> None:
    """Give `key` the `fields`; its time moves only when something changed."""
    previous = managers.get(key)
    if previous is not None and previous.fields == fields and not object_changed:
        return
    managers[key] = Owned(fields, api_version, timestamp())


def record_update(rt: ResourceType, schema: Struct, old: JsonObject | None, new: JsonObject, manager: str,
                  subresource: str = "") -> None:
    """Record an Update by `manager` on `new` (changed in place): it takes what it added or
    changed from whoever owned it, and what it removed is nobody's any more."""
    reset_status = rt.has_status and subresource != "status"
    before = field_entries(old or {}, schema, reset_status)
    after = field_entries(new, schema, reset_status)
    changed, removed = _compare(before, after)
    managers = read_managers(new)  # the old object's, or those the request set explicitly
    for owned in managers.values():
        owned.fields -= changed | removed
    key = ManagerId(manager, "Update", subresource)
    mine = (managers[key].fields if key in managers else set()) | changed
    if changed or removed or key in managers:
        _touch(managers, key, mine - removed, rt.api_version, bool(changed or removed))
    write_managers(new, managers)


def apply_config(rt: ResourceType, schema: Struct, live: JsonObject | None, config: JsonObject, manager: str,
                 force: bool) -> JsonObject:
    """The object after `manager` applies `config` to `live` (None: it does not exist yet), with
    its managedFields; 409 Conflict naming each field another manager set to another value."""
    reset_status = rt.has_status
    config = {k: v for k, v in config.items() if not (k == "status" and reset_status)}
    config_entries = field_entries(config, schema, reset_status)
    managers = read_managers(live)
    key = ManagerId(manager, "Apply")
    last = managers[key].fields if key in managers else set()
    mine = applied_set(config_entries)
    merged = merge(live or {}, config, schema)
    owned = mine.union(*(o.fields for k, o in managers.items() if k != key))
    holding = {path[:i] for path in owned for i in range(1, len(path))}  # parents of an owned field stay
    for path in sorted(last - owned - holding, key=len, reverse=True):
        remove_path(merged, path, schema)
    before = field_entries(live or {}, schema, reset_status)
    after = field_entries(merged, schema, reset_status)
    changed, removed = _compare(before, after)
    conflicts = [(other, path) for other, owned in managers.items() if other != key
                 for path in owned.fields & changed]
    if conflicts and not force:
        raise apply_conflict(conflicts, rt.api_version)
    for other, owned in managers.items():
        if other != key:
            owned.fields -= changed | removed
    _touch(managers, key, mine, rt.api_version, bool(changed or removed))
    write_managers(merged, managers)
    return merged


def apply_conflict(conflicts: list[tuple[ManagerId, FieldPath]], api_version: str) -> KubeApiError:
    """The real 409: `Apply failed with 1 conflict: conflict with "m" using apps/v1: .spec.replicas`."""
    conflicts = sorted(conflicts, key=lambda c: (c[0].manager, path_text(c[1])))
    causes = [{"type": "FieldManagerConflict", "message": f"conflict with {m.describe(api_version)}",
               "field": path_text(p)} for m, p in conflicts]
    if len(conflicts) == 1:
        manager, path = conflicts[0]
        message = f"Apply failed with 1 conflict: conflict with {manager.describe(api_version)}: {path_text(path)}"
    else:
        lines: list[str] = []
        for manager in sorted({m for m, _ in conflicts}, key=lambda m: m.manager):
            lines.append(f"conflicts with {manager.describe(api_version)}:")
            lines += [f"- {path_text(p)}" for m, p in conflicts if m == manager]
        message = f"Apply failed with {len(conflicts)} conflicts: " + "\n".join(lines)
    return KubeApiError(409, "Conflict", message, {"causes": causes})


# -- merging and removing ----------------------------------------------------------------------


def merge(live: Any, config: Any, node: Node) -> Any:
    """`config` merged into `live`: maps field by field, keyed lists item by item, sets as a
    union, atomic fields and scalars replaced."""
    if isinstance(live, dict) and isinstance(config, dict) and not _is_atomic(node) and not isinstance(node, ListOf):
        result = clone(live)
        for name, value in config.items():
            if value is None:
                result.pop(name, None)
            elif name in result:
                result[name] = merge(result[name], value, child(node, name) or FREE)
            else:
                result[name] = clone(value)
        return result
    if isinstance(live, list) and isinstance(config, list) and isinstance(node, ListOf) and not node.atomic:
        result = [clone(item) for item in live]
        index = {_item_element(node, item): i for i, item in enumerate(result)}
        for item in config:
            element = _item_element(node, item)
            if element not in index:
                index[element] = len(result)
                result.append(clone(item))
            elif node.keys:
                result[index[element]] = merge(result[index[element]], item, node.item)
        return result
    return clone(config)


def remove_path(obj: Any, path: FieldPath, node: Node) -> None:
    """Remove the field at `path` from `obj` (in place), if it is there."""
    *parents, (kind, text) = path
    target, where = obj, node
    for parent_kind, parent_text in parents:
        if parent_kind == "f" and isinstance(target, dict):
            target, where = target.get(parent_text), child(where, parent_text) or FREE
        elif isinstance(target, list) and isinstance(where, ListOf):
            target = next((i for i in target if _item_element(where, i) == (parent_kind, parent_text)), None)
            where = where.item
        else:
            return
        if target is None:
            return
    if kind == "f" and isinstance(target, dict):
        target.pop(text, None)
    elif isinstance(target, list) and isinstance(where, ListOf):
        target[:] = [i for i in target if _item_element(where, i) != (kind, text)]
