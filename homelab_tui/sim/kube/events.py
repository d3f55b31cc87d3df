"""Events in the simulated cluster (core `v1` Events, as the kubelet and kube-controller-manager
record them with client-go's EventRecorder): one per (object, reason, message, field path), a
repeat bumps `count` and `lastTimestamp` instead of making another, as the recorder's aggregation
does. The name is `<object>.<hex nanoseconds>`, like client-go's."""

from __future__ import annotations

import time

from .objects import clone, timestamp
from .resources import JsonObject, resource_type
from .store import Store

EVENT_LIMIT = 5000  # the oldest events go first beyond this (a real cluster keeps them an hour)


class EventRecorder:
    def __init__(self, store: Store) -> None:
        self._store = store
        self._rt = resource_type("Event")
        self._by_key: dict[tuple[str, str, str, str], tuple[str, str]] = {}  # -> (namespace, name)

    def record(self, obj: JsonObject, event_type: str, reason: str, message: str, component: str,
               host: str = "", field_path: str = "") -> None:
        """Record an event about `obj` (Normal or Warning) from `component` (kubelet on `host`,
        deployment-controller, ...)."""
        meta = obj["metadata"]
        namespace = meta.get("namespace") or "default"
        key = (meta["uid"], reason, message, field_path)
        now = timestamp()
        existing = self._store.objects["events"].get(self._by_key.get(key, ("", "")))
        if existing is not None:
            updated = clone(existing)
            updated["count"] = existing.get("count", 1) + 1
            updated["lastTimestamp"] = now
            self._store.commit(self._rt, "MODIFIED", updated, existing)
            return
        involved: JsonObject = {"kind": obj.get("kind", ""), "namespace": meta.get("namespace", ""),
                                "name": meta["name"], "uid": meta["uid"], "apiVersion": obj.get("apiVersion", ""),
                                "resourceVersion": meta.get("resourceVersion", "")}
        if field_path:
            involved["fieldPath"] = field_path
        if not involved["namespace"]:
            del involved["namespace"]
        name = f"{meta['name']}.{time.time_ns():x}"
        event: JsonObject = {
            "apiVersion": "v1", "kind": "Event",
            "metadata": {"name": name, "namespace": namespace, "uid": str(self._store.new_uid()),
                         "creationTimestamp": now},
            "involvedObject": involved, "reason": reason, "message": message,
            "source": {"component": component, **({"host": host} if host else {})},
            "firstTimestamp": now, "lastTimestamp": now, "count": 1, "type": event_type,
            "eventTime": None, "reportingComponent": component, "reportingInstance": host,
        }
        self._by_key[key] = (namespace, name)
        self._store.commit(self._rt, "ADDED", event, None)
        self._trim()

    def _trim(self) -> None:
        events = self._store.objects["events"]
        if len(events) <= EVENT_LIMIT:
            return
        oldest = sorted(events.values(), key=lambda e: (e.get("lastTimestamp") or "", e["metadata"]["name"]))
        for event in oldest[: len(events) - EVENT_LIMIT]:
            self._store.commit(self._rt, "DELETED", clone(event), event)
        live = set(events)
        self._by_key = {k: v for k, v in self._by_key.items() if v in live}
