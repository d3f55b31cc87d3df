"""Small helpers for the JSON objects the simulated API server stores: copying, timestamps,
labels and keys, JSON merge patch, and the random suffix Kubernetes puts on generated names."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from .resources import JsonObject

# Kubernetes' name-suffix alphabet (k8s.io/apimachinery/pkg/util/rand): no vowels, no 0/1/3.
NAME_SUFFIX_ALPHABET = "bcdfghjklmnpqrstvwxz2456789"


def clone(obj: Any) -> Any:
    """A deep copy of JSON data (several times faster than copy.deepcopy)."""
    return json.loads(json.dumps(obj))


def timestamp() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def labels_of(obj: JsonObject) -> dict[str, str]:
    return obj.get("metadata", {}).get("labels") or {}


def object_key(obj: JsonObject) -> tuple[str, str]:
    meta = obj["metadata"]
    return meta.get("namespace", ""), meta["name"]


def merge_patch(target: Any, patch: Any) -> Any:
    """RFC 7386 JSON merge patch; keys starting with `$` (strategic-merge directives) are dropped."""
    if not isinstance(patch, dict):
        return clone(patch)
    result = clone(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if key.startswith("$"):
            continue
        if value is None:
            result.pop(key, None)
        else:
            result[key] = merge_patch(result.get(key), value)
    return result
