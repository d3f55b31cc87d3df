"""Kubernetes objects as a plan applies them: parsed from a manifest (errors name the document and
the field), labelled as ours, and turned into server-side apply steps read against the live object
and the server's dry run (a no-op when the dry run changes nothing, a short diff otherwise, an undo
that deletes what was created or puts back what was changed). Pure: the flow reads the facts."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import yaml

from . import PlanError, Step, Target
from .actions import ApplyObject, DeleteObject, ReplaceObject, WaitRollout, object_text

JsonObject = dict[str, Any]

MANAGED_BY = ("app.kubernetes.io/managed-by", "homelab-tui")  # on every object we make: undeploy finds them
INSTANCE = "app.kubernetes.io/instance"  # the app an object belongs to
LAST_APPLIED = "kubectl.kubernetes.io/last-applied-configuration"
FIELD_MANAGER = "homelab-tui"
# Kinds applied first, in this order (what the rest needs must exist); the rest keep the file's order.
FIRST_KINDS = ("Namespace", "CustomResourceDefinition")
DIFF_LINES = 12  # a step's diff is short: the first changes, then how many more

# Server-set fields a diff and an undo leave out.
_SERVER_METADATA = ("managedFields", "resourceVersion", "generation", "uid", "creationTimestamp", "selfLink")


@dataclass(frozen=True)
class LiveObject:
    """What the cluster says about one object we would apply, keyed by `object_id` in the facts."""

    live: JsonObject | None = None  # the object now; None when it does not exist
    dry_run: JsonObject | None = None  # the server's dry run of our intent; None when it could not run
    conflicts: dict[str, str] = field(default_factory=dict)  # field path → the other manager's claim
    error: str = ""  # the dry run's refusal (an unknown field, an invalid value)


def owned_elsewhere(conflicts: dict[str, str]) -> str:
    """A dry run's or an apply's conflicts, as one line: `.spec.replicas (conflict with "kubectl" ...)`."""
    return "; ".join(f"{path} ({claim})" for path, claim in conflicts.items())


def object_id(obj: JsonObject) -> str:
    """"Deployment default/web", "Namespace shop": how facts and messages name an object."""
    meta = obj.get("metadata") or {}
    where = f"{meta['namespace']}/" if meta.get("namespace") else ""
    return f"{obj.get('kind')} {where}{meta.get('name')}"


def kind_key(obj: JsonObject) -> str:
    """"apps/v1 Deployment": how the facts say whether a kind is served and namespaced."""
    return f"{obj.get('apiVersion')} {obj.get('kind')}"


# -- manifests ---------------------------------------------------------------------------------


def parse_manifest(text: str, source: str = "manifest") -> list[JsonObject]:
    """The objects of a multi-document YAML manifest, in order (empty documents skipped; a List's
    items taken one by one). A PlanError on `manifest` names each bad document and field."""
    try:
        documents = list(yaml.safe_load_all(text))
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        raise PlanError("manifest", f"{source} is not YAML{where}: {getattr(error, 'problem', error)}") from None
    objects, errors = [], []
    for number, document in enumerate(documents, 1):
        if document is None:
            continue
        items = document.get("items") if isinstance(document, dict) and str(document.get("kind", "")).endswith(
            "List") else [document]
        for item in items or []:
            problem = _document_problem(item)
            if problem:
                errors.append(("manifest", f"{source} document {number}: {problem}"))
            else:
                objects.append(item)
    PlanError.check(errors)
    if not objects:
        raise PlanError("manifest", f"{source} has no objects")
    return objects


def _document_problem(document: Any) -> str:
    if not isinstance(document, dict):
        return f"expected a mapping (an object), found {type(document).__name__}"
    for path in ("apiVersion", "kind"):
        if not isinstance(document.get(path), str) or not document[path]:
            return f"{path}: required (a string)"
    meta = document.get("metadata")
    if not isinstance(meta, dict):
        return "metadata: required (a mapping with a name)"
    if not isinstance(meta.get("name"), str) or not meta["name"]:
        return "metadata.name: required (a string)" + (" (generateName cannot be applied)"
                                                       if meta.get("generateName") else "")
    for key in ("labels", "annotations"):
        if meta.get(key) is not None and not isinstance(meta[key], dict):
            return f"metadata.{key}: expected a mapping"
    return ""


def ours(obj: JsonObject, instance: str, namespace: str, namespaced: bool) -> JsonObject:
    """`obj` labelled as made by us for `instance`, in `namespace` when its kind is namespaced and
    it names none (as kubectl apply -n does); a namespace it names itself is kept."""
    meta = dict(obj["metadata"])
    meta["labels"] = {**(meta.get("labels") or {}), MANAGED_BY[0]: MANAGED_BY[1], INSTANCE: instance}
    if namespaced:
        meta["namespace"] = meta.get("namespace") or namespace
    else:
        meta.pop("namespace", None)
    return {**obj, "metadata": meta}


def ordered(objects: list[JsonObject]) -> list[JsonObject]:
    """Namespaces, then CRDs, then the rest in their order."""
    rank = {kind: i for i, kind in enumerate(FIRST_KINDS)}
    return sorted(objects, key=lambda obj: rank.get(obj["kind"], len(rank)))


# -- conflicts ----------------------------------------------------------------------------------

_SEGMENT = re.compile(r'([^.\[]+)((?:\[[^\]]*\])*)')
_SELECTOR = re.compile(r'\[(\w+)=("(?:[^"\\]|\\.)*"|[^\]]*)\]')


def _path_steps(path: str) -> Iterator[tuple[str, list[tuple[str, Any]]]]:
    """`.spec.template.spec.containers[name="web"].image` → ("spec", []), ..., ("containers",
    [("name", "web")]), ("image", [])."""
    for match in _SEGMENT.finditer(path.lstrip(".")):
        keys = []
        for key, raw in _SELECTOR.findall(match[2]):
            keys.append((key, yaml.safe_load(raw)))
        yield match[1], keys


def _lookup(obj: Any, path: str) -> tuple[Any, Any, Any] | None:
    """(parent, key, value) of `path` in `obj`, or None when it is not there."""
    parent, key, node = None, None, obj
    for name, selectors in _path_steps(path):
        if not isinstance(node, dict) or name not in node:
            return None
        parent, key, node = node, name, node[name]
        for selector_key, selector_value in selectors:
            if not isinstance(node, list):
                return None
            index = next((i for i, item in enumerate(node)
                          if isinstance(item, dict) and item.get(selector_key) == selector_value), None)
            if index is None:
                return None
            parent, key, node = node, index, node[index]
    return parent, key, node


def keep_live_values(obj: JsonObject, live: JsonObject, paths: list[str]) -> JsonObject:
    """`obj` with the value at each conflicting path taken from `live`: applying the value another
    manager set shares the field with it instead of taking it (SSA's third way out of a
    conflict, beside force and dropping the field)."""
    result = yaml.safe_load(yaml.safe_dump(obj))  # a deep copy of plain data
    for path in paths:
        mine, theirs = _lookup(result, path), _lookup(live, path)
        if mine is not None and theirs is not None:
            parent, key, _ = mine
            parent[key] = theirs[2]
    return result


# -- steps -------------------------------------------------------------------------------------


def comparable(obj: JsonObject) -> JsonObject:
    """An object without status and the metadata the server keeps: what a diff compares and an
    undo puts back."""
    meta = {k: v for k, v in (obj.get("metadata") or {}).items() if k not in _SERVER_METADATA}
    return {**{k: v for k, v in obj.items() if k != "status"}, "metadata": meta}


def _flatten(value: Any, prefix: str = "") -> Iterator[tuple[str, Any]]:
    if isinstance(value, dict) and value:
        for key in sorted(value):
            yield from _flatten(value[key], f"{prefix}.{key}" if prefix else str(key))
    elif isinstance(value, list) and value:
        for i, item in enumerate(value):
            yield from _flatten(item, f"{prefix}[{i}]")
    else:
        yield prefix, value


def diff_lines(live: JsonObject, after: JsonObject) -> list[str]:
    """What the apply changes, field by field, as short "~ path: old → new" lines."""
    before, then = dict(_flatten(comparable(live))), dict(_flatten(comparable(after)))
    lines = []
    for path in sorted(before.keys() | then.keys()):
        if path not in then:
            lines.append(f"- {path}: {_short(before[path])}")
        elif path not in before:
            lines.append(f"+ {path}: {_short(then[path])}")
        elif before[path] != then[path]:
            lines.append(f"~ {path}: {_short(before[path])} → {_short(then[path])}")
    if len(lines) > DIFF_LINES:
        lines = [*lines[:DIFF_LINES], f"… and {len(lines) - DIFF_LINES} more"]
    return lines


def _short(value: Any) -> str:
    text = value if isinstance(value, str) else json.dumps(value)
    return text if len(text) <= 60 else text[:57] + "..."


class _Dumper(yaml.SafeDumper):
    """Writes a value shared by two places (a selector and the template's labels) twice, not as an
    alias, as kubectl shows it."""

    def ignore_aliases(self, data: Any) -> bool:
        return True


def yaml_text(obj: JsonObject) -> str:
    return yaml.dump(obj, Dumper=_Dumper, sort_keys=False, default_flow_style=False).rstrip()


@dataclass(frozen=True)
class ObjectSteps:
    apply: Step
    wait: Step | None = None  # for a Deployment: its rollout, waited for once every object is applied
    warnings: tuple[str, ...] = ()


def apply_steps(obj: JsonObject, facts: LiveObject, force: bool, webhook_grace: float = 0.0) -> ObjectSteps:
    """The server-side apply of `obj` (a no-op when the dry run changes nothing) with its undo,
    and for a Deployment the wait for its rollout. `webhook_grace`: seconds a just-installed
    webhook may refuse the apply (ApplyObject)."""
    name, warnings = object_id(obj), []
    live, dry_run = facts.live, facts.dry_run
    if live is None:
        noop, changes, undo = "", ["new object"], DeleteObject(
            obj["kind"], obj["metadata"].get("namespace", ""), obj["metadata"]["name"],
            api_version=obj["apiVersion"])
        undo_text = f"delete {name}"
    else:
        changes = diff_lines(live, dry_run) if dry_run is not None else ["(no dry run: the diff is unknown)"]
        noop = "" if changes else f"{name} is unchanged: the live object already matches"
        undo = ReplaceObject(object_text(comparable(live)))
        undo_text = f"put {name} back as it was"
        annotations = (live.get("metadata") or {}).get("annotations") or {}
        managers = {entry.get("manager") for entry in (live.get("metadata") or {}).get("managedFields") or []}
        if LAST_APPLIED in annotations and FIELD_MANAGER not in managers:
            warnings.append(f"{name} was made with client-side `kubectl apply`: this apply takes it over, and a "
                            "field only in its last-applied-configuration stays set (kubernetes#99003)")
    if force and facts.conflicts:
        warnings.append(f"{name}: forcing takes {', '.join(facts.conflicts)} from "
                        f"{'; '.join(sorted(set(facts.conflicts.values())))}")
    rendering = "\n".join([*(f"# {line}" for line in changes), yaml_text(obj)])
    verb = "Create" if live is None else "Update"
    apply = Step(Target.KUBE, "", f"{verb} {name} (server-side apply)", rendering,
                 ApplyObject(object_text(obj), force=force and bool(facts.conflicts), webhook_grace=webhook_grace),
                 noop_reason=noop,
                 undo=undo, undo_rendering=undo_text)
    wait = None
    if obj["kind"] == "Deployment" and obj["apiVersion"] == "apps/v1":
        meta = obj["metadata"]
        wait = Step(Target.KUBE, "", f"Wait for {name} to roll out",
                    f"kubectl rollout status deployment/{meta['name']} -n {meta['namespace']}",
                    WaitRollout(meta["namespace"], meta["name"]),
                    noop_reason=f"{name} is unchanged: nothing rolls out" if noop else "")
    return ObjectSteps(apply, wait, tuple(warnings))
