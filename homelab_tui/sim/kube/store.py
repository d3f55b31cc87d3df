"""The simulated API server's storage: every object by resource type and key under one global
resourceVersion, the bounded history of changes that watches replay from (a watch that starts
before it gets 410 Expired), the open watches with their filters, and the pod logs with their
followers. Stored objects are never changed in place: every change stores a new dict, so watch
events and list responses can share them safely."""

from __future__ import annotations

import asyncio
import random
import uuid
from collections import defaultdict, deque
from collections.abc import Callable
from dataclasses import dataclass, field

from .crds import TypeRegistry
from .errors import not_found, status_body
from .objects import NAME_SUFFIX_ALPHABET, labels_of, object_key
from .resources import JsonObject, ResourceType

LogKey = tuple[str, str]  # (namespace, pod name)


@dataclass(frozen=True, slots=True)
class Change:
    rv: int
    rt: ResourceType
    type: str  # ADDED / MODIFIED / DELETED
    obj: JsonObject
    old: JsonObject | None


@dataclass(eq=False)
class Watcher:
    """One open watch: its filters and the queue its HTTP handler drains (None ends it)."""

    rt: ResourceType
    namespace: str | None
    label_match: Callable[[dict[str, str]], bool]
    field_match: Callable[[JsonObject], bool]
    queue: asyncio.Queue[tuple[str, JsonObject] | None] = field(default_factory=asyncio.Queue)

    def matches(self, obj: JsonObject | None) -> bool:
        if obj is None:
            return False
        if self.namespace and obj["metadata"].get("namespace") != self.namespace:
            return False
        return self.label_match(labels_of(obj)) and self.field_match(obj)

    def offer(self, change: Change) -> None:
        """Queue `change` as this watch sees it: objects entering or leaving the selection are
        ADDED or DELETED, as the real API server reports them."""
        if (change.rt.group, change.rt.plural) != (self.rt.group, self.rt.plural):
            return
        now, before = self.matches(change.obj), self.matches(change.old)
        if change.type == "DELETED":
            event_type = "DELETED" if now else None
        elif now:
            event_type = "MODIFIED" if before else "ADDED"
        else:
            event_type = "DELETED" if before else None
        if event_type:
            self.queue.put_nowait((event_type, change.obj))


class Store:
    """Objects, resourceVersions, watch history and logs. `random` (seeded) makes uids, name
    suffixes and container ids, so a seeded server makes the same ones every run. `types` are the
    types served (CRDs add some); `listeners` hear of every commit (type, event type, object)."""

    def __init__(self, history_limit: int, seed: int) -> None:
        self.random = random.Random(seed)
        self.types = TypeRegistry()
        self.objects: dict[str, dict[tuple[str, str], JsonObject]] = defaultdict(dict)  # by plural
        self.listeners: list[Callable[[ResourceType, str, JsonObject], None]] = []
        self.rv = 0
        self.history: deque[Change] = deque(maxlen=max(1, history_limit))
        self.compacted_rv = 0  # watches must start at or after this resourceVersion
        self.watchers: set[Watcher] = set()
        self.logs: dict[LogKey, list[str]] = {}
        self.log_followers: dict[LogKey, set[asyncio.Queue[str | None]]] = {}
        self.changed = asyncio.Event()  # set by every commit: the controller's cue

    def new_uid(self) -> uuid.UUID:
        return uuid.UUID(int=self.random.getrandbits(128), version=4)

    def name_suffix(self, length: int = 5) -> str:
        return "".join(self.random.choice(NAME_SUFFIX_ALPHABET) for _ in range(length))

    def select(self, rt: ResourceType, namespace: str | None) -> list[JsonObject]:
        store = self.objects[rt.plural]
        return [store[k] for k in sorted(store) if not namespace or not rt.namespaced or k[0] == namespace]

    def require(self, rt: ResourceType, namespace: str, name: str) -> JsonObject:
        found = self.objects[rt.plural].get((namespace if rt.namespaced else "", name))
        if found is None:
            raise not_found(rt, name)
        return found

    def commit(self, rt: ResourceType, event_type: str, obj: JsonObject, old: JsonObject | None) -> JsonObject:
        """Store (or remove) `obj` under a new resourceVersion, record it and tell the watches."""
        self.rv += 1
        obj["metadata"]["resourceVersion"] = str(self.rv)
        key = object_key(obj)
        if event_type == "DELETED":
            self.objects[rt.plural].pop(key, None)
        else:
            self.objects[rt.plural][key] = obj
        if len(self.history) == self.history.maxlen:
            self.compacted_rv = self.history[0].rv
        change = Change(self.rv, rt, event_type, obj, old)
        self.history.append(change)
        for watcher in self.watchers:
            watcher.offer(change)
        for listener in self.listeners:
            listener(rt, event_type, obj)
        self.changed.set()
        return obj

    def end_watches(self, rt: ResourceType) -> None:
        """End the open watches of a type no longer served."""
        for watcher in list(self.watchers):
            if (watcher.rt.group, watcher.rt.plural) == (rt.group, rt.plural):
                watcher.queue.put_nowait(None)

    def expired_status(self, requested: int) -> JsonObject:
        return status_body(410, "Expired", f"too old resource version: {requested} ({self.compacted_rv})")

    def compact(self) -> None:
        """Drop the watch history: every watch from an older resourceVersion now gets 410 Expired,
        and open watches receive the 410 ERROR event and end, as after an etcd compaction."""
        self.history.clear()
        self.rv += 1
        self.compacted_rv = self.rv
        expired = self.expired_status(0)
        for watcher in list(self.watchers):
            watcher.queue.put_nowait(("ERROR", expired))
            watcher.queue.put_nowait(None)

    # -- pod logs

    def append_logs(self, key: LogKey, lines: list[str]) -> None:
        self.logs.setdefault(key, []).extend(lines)
        for queue in self.log_followers.get(key, ()):
            for line in lines:
                queue.put_nowait(line)

    def close_logs(self, key: LogKey) -> None:
        self.logs.pop(key, None)
        for queue in self.log_followers.pop(key, ()):
            queue.put_nowait(None)

    def end_streams(self) -> None:
        """End every open watch and followed log (the server is stopping)."""
        for watcher in list(self.watchers):
            watcher.queue.put_nowait(None)
        for followers in self.log_followers.values():
            for queue in followers:
                queue.put_nowait(None)
