"""Container logs in the simulated cluster, kept as a kubelet keeps them: one log per container
run (by container id), so a restarted container's previous run stays readable (`previous=true`)
until the next restart. Each line is stored with its RFC 3339 timestamp (nanoseconds), which
`timestamps=true` shows and `sinceSeconds`/`sinceTime` filter on.

Which run a request reads follows the kubelet's rules (validateContainerLogStatus): the running
container, else the terminated one, else the last terminated; `previous` reads the last
terminated; a waiting container without one is an error worded as the kubelet's.

A log writer makes a running container print numbered lines (`line 00000001 from <pod>/<c>`)
at a given rate, for benchmarks: the numbers show whether a reader lost any."""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime

from .resources import JsonObject
from .store import LogKey, Store


def run_key(namespace: str, pod: str, container_id: str) -> LogKey:
    """The store key of one container run's log (a pod name never holds '#')."""
    return namespace, f"{pod}#{container_id.rpartition('/')[2]}"


def pod_of(key: LogKey) -> tuple[str, str]:
    return key[0], key[1].partition("#")[0]


def stamp(ns: int | None = None) -> str:
    """RFC 3339 with nine digits of nanoseconds (fixed width, so stamps compare as strings)."""
    ns = time.time_ns() if ns is None else ns
    seconds, nanos = divmod(ns, 1_000_000_000)
    return datetime.fromtimestamp(seconds, UTC).strftime("%Y-%m-%dT%H:%M:%S") + f".{nanos:09d}Z"


def rfc3339nano(stored_stamp: str) -> str:
    """Go's RFC3339Nano form of a stored stamp: trailing zeros of the fraction dropped."""
    whole, _, fraction = stored_stamp.removesuffix("Z").partition(".")
    fraction = fraction.rstrip("0")
    return f"{whole}.{fraction}Z" if fraction else f"{whole}Z"


def append(store: Store, key: LogKey, texts: list[str]) -> None:
    now = stamp()
    store.append_logs(key, [f"{now} {text}" for text in texts])


def end_followers(store: Store, key: LogKey) -> None:
    """The container run ended: followers' streams end, its lines stay readable."""
    for queue in store.log_followers.pop(key, ()):
        queue.put_nowait(None)


class LogError(Exception):
    """Why a container's log cannot be read (the kubelet's wording)."""


def container_run_id(pod: JsonObject, container: str, previous: bool) -> str:
    """The id of the container run a log request reads, or LogError (the kubelet's rules)."""
    name = pod["metadata"]["name"]
    statuses = (pod.get("status") or {}).get("containerStatuses") or []
    status = next((s for s in statuses if s.get("name") == container), None)
    if status is None:
        raise LogError(f'container "{container}" in pod "{name}" is waiting to start: ContainerCreating')
    state, last = status.get("state") or {}, (status.get("lastState") or {}).get("terminated")
    if previous:
        if not last or not last.get("containerID"):
            raise LogError(f'previous terminated container "{container}" in pod "{name}" not found')
        return last["containerID"]
    if state.get("running") is not None:
        return status.get("containerID", "")
    if state.get("terminated") is not None:
        terminated = state["terminated"]
        if terminated.get("containerID"):
            return terminated["containerID"]
        if last and last.get("containerID"):
            return last["containerID"]
        raise LogError(f'container "{container}" in pod "{name}" is terminated')
    if last is not None:
        if not last.get("containerID"):
            raise LogError(f'container "{container}" in pod "{name}" is terminated')
        return last["containerID"]
    reason = (state.get("waiting") or {}).get("reason")
    if reason == "ErrImagePull":
        raise LogError(f'container "{container}" in pod "{name}" is waiting to start: image can\'t be pulled')
    if reason == "ImagePullBackOff":
        raise LogError(f'container "{container}" in pod "{name}" is waiting to start: trying and failing to '
                       "pull image")
    if reason:
        raise LogError(f'container "{container}" in pod "{name}" is waiting to start: {reason}')
    raise LogError(f'container "{container}" in pod "{name}" is waiting to start - no logs yet')


def select_lines(lines: list[str], *, tail: int | None, since: str | None) -> list[str]:
    """The stored lines from `since` (a stored stamp) on, then the last `tail` of them."""
    if since:
        lines = [line for line in lines if line[:30] >= since]
    if tail is not None:
        lines = lines[-tail:] if tail > 0 else []
    return lines


def shown(line: str, timestamps: bool) -> str:
    when, _, text = line.partition(" ")
    return f"{rfc3339nano(when)} {text}" if timestamps else text


async def write_lines(store: Store, key: LogKey, label: str, per_second: float, seconds: float | None) -> int:
    """Append numbered lines to the log at `key` at `per_second`, for `seconds` (None: until the
    run's log goes); a batch every 10 ms, late batches catch up. Returns how many it wrote."""
    loop = asyncio.get_running_loop()
    started, written = loop.time(), 0
    total = None if seconds is None else round(per_second * seconds)
    while key in store.logs and (total is None or written < total):
        await asyncio.sleep(0.01)
        due = int((loop.time() - started) * per_second)
        if total is not None:
            due = min(due, total)
        if due > written:
            append(store, key, [f"line {n:08d} from {label}" for n in range(written + 1, due + 1)])
            written = due
    return written
