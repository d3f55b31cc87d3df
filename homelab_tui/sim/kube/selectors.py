"""Label selectors (`app=web`, `tier in (a,b)`, `!canary`) and field selectors
(`spec.nodeName=n1`), compiled into predicates as the API server applies them to list and watch."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from .errors import bad_request
from .resources import JsonObject, ResourceType

_LABEL_REQUIREMENT = re.compile(
    r"^(?P<absent>!)?\s*(?P<key>[A-Za-z0-9][-A-Za-z0-9_./]*)\s*"
    r"(?:(?P<op>==|!=|=)\s*(?P<value>[-A-Za-z0-9_.]*)"
    r"|\s+(?P<setop>in|notin)\s*\((?P<values>[^()]*)\))?$"
)


def _split_top_level(text: str) -> list[str]:
    """Split a selector on commas that are not inside parentheses."""
    parts, depth, current = [], 0, []
    for char in text:
        if char == "," and depth == 0:
            parts.append("".join(current))
            current = []
            continue
        depth += {"(": 1, ")": -1}.get(char, 0)
        current.append(char)
    parts.append("".join(current))
    return [part.strip() for part in parts if part.strip()]


def compile_label_selector(text: str) -> Callable[[dict[str, str]], bool]:
    """Label selector (`a=b`, `a==b`, `a!=b`, `a`, `!a`, `a in (x,y)`, `a notin (x)`) -> predicate."""
    checks: list[Callable[[dict[str, str]], bool]] = []
    for requirement in _split_top_level(text or ""):
        match = _LABEL_REQUIREMENT.match(requirement)
        if not match or (match["absent"] and (match["op"] or match["setop"])):
            raise bad_request(f"unable to parse requirement: {requirement!r}")
        key, op, value = match["key"], match["op"] or match["setop"], match["value"]
        if match["absent"]:
            checks.append(lambda labels, k=key: k not in labels)
        elif op in ("=", "=="):
            checks.append(lambda labels, k=key, v=value: labels.get(k) == v)
        elif op == "!=":
            checks.append(lambda labels, k=key, v=value: labels.get(k) != v)
        elif op in ("in", "notin"):
            values = frozenset(v.strip() for v in match["values"].split(",") if v.strip())
            if op == "in":
                checks.append(lambda labels, k=key, vs=values: labels.get(k) in vs)
            else:
                checks.append(lambda labels, k=key, vs=values: labels.get(k) not in vs)
        else:
            checks.append(lambda labels, k=key: k in labels)
    return lambda labels: all(check(labels) for check in checks)


def field_value(obj: JsonObject, path: str) -> str:
    """The string form of a dotted field, as field selectors compare it ("" when missing)."""
    value: Any = obj
    for part in path.split("."):
        value = value.get(part) if isinstance(value, dict) else None
    if isinstance(value, bool):
        return "true" if value else "false"
    return "" if value is None else str(value)


def compile_field_selector(text: str, rt: ResourceType) -> Callable[[JsonObject], bool]:
    """Field selector (`metadata.name=x`, `spec.nodeName!=y`, comma-separated) -> predicate."""
    allowed = {"metadata.name", "metadata.namespace", *rt.field_labels}
    checks: list[Callable[[JsonObject], bool]] = []
    for requirement in _split_top_level(text or ""):
        match = re.match(r"^([A-Za-z0-9_.]+)\s*(==|!=|=)\s*(.*)$", requirement)
        if not match:
            raise bad_request(f"invalid selector: {requirement!r}; can't understand {requirement!r}")
        path, op, value = match.groups()
        if path not in allowed:
            raise bad_request(f'field label not supported: {path}')
        if op == "!=":
            checks.append(lambda obj, p=path, v=value: field_value(obj, p) != v)
        else:
            checks.append(lambda obj, p=path, v=value: field_value(obj, p) == v)
    return lambda obj: all(check(obj) for check in checks)
