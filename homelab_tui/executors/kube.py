"""Kubernetes steps, against the API of the configured cluster (`cluster.kube_context`)."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable

from ..clients.kube import KubeClient, KubeError, UnknownKind, kind_info
from ..config import Config
from ..connect import kube_client
from ..models import EventType, KubeEvent, KubeObject
from ..plans import Step
from ..plans.actions import (
    WEBHOOK_NOT_READY,
    Action,
    ApplyObject,
    DeleteObject,
    EvictPod,
    LabelNode,
    PatchObject,
    ReplaceObject,
    WaitEndpoints,
    WaitLoadBalancer,
    WaitNodeReady,
    WaitRollout,
)
from ..plans.manifests import owned_elsewhere
from .common import StepError
from .rollout import RolloutFailed, wait_rollout

WEBHOOK_RETRY_PAUSE = 1.0  # seconds between tries while a new webhook refuses
ENDPOINTS_POLL = 1.0  # seconds between looks at a Service's endpoints
EVICTION_RETRY_PAUSE = 5.0  # seconds between tries while a disruption budget refuses (kubectl drain's)


def object_name(obj: dict) -> str:
    """`deployment.apps/web` (with its namespace when it has one), as kubectl names an object."""
    meta, group = obj["metadata"], obj["apiVersion"].split("/")[0] if "/" in obj["apiVersion"] else ""
    kind = obj["kind"].lower() + (f".{group}" if group else "")
    return f"{kind}/{meta['name']}" + (f" in {meta['namespace']}" if meta.get("namespace") else "")


class KubeExecutor:
    """The waits that run at the same time (one per node of a join) share one connection and one
    Node watch."""

    def __init__(self, config: Config) -> None:
        self.config = config
        self._nodes = NodeWatch(lambda: kube_client(self.config, retry_cap=2.0))

    async def execute(self, step: Step, action: Action, context, output: Callable[[str], None]) -> None:
        do = {WaitNodeReady: self._wait_ready, LabelNode: self._label, DeleteObject: self._delete,
              ApplyObject: self._apply, ReplaceObject: self._replace, PatchObject: self._patch,
              WaitRollout: self._wait_rollout, EvictPod: self._evict,
              WaitEndpoints: self._wait_endpoints, WaitLoadBalancer: self._wait_load_balancer}.get(type(action))
        if do is None:
            raise StepError(f"a Kubernetes step cannot {type(action).__name__}")
        await do(action, output)

    async def _wait_ready(self, action: WaitNodeReady, output: Callable[[str], None]) -> None:
        try:
            await asyncio.wait_for(self._nodes.until_ready(action.node, output), action.timeout)
        except TimeoutError:
            raise StepError(f"{action.node} was not Ready within {action.timeout:g} s") from None

    async def _label(self, action: LabelNode, output: Callable[[str], None]) -> None:
        async with kube_client(self.config) as kube:
            await kube.merge_patch("Node", None, action.node, {"metadata": {"labels": dict(action.labels)}})
        output(f"{action.node} labelled " + " ".join(f"{key}={value}" for key, value in action.labels))

    async def _delete(self, action: DeleteObject, output: Callable[[str], None]) -> None:
        async with kube_client(self.config) as kube:
            deleted = await kube.delete(action.kind, action.namespace or None, action.name, uid=action.uid,
                                        grace_period=action.grace_period, api_version=action.api_version or None)
        output(f"{action.kind} {action.name} " + ("deleted" if deleted else "was already gone"))

    async def _apply(self, action: ApplyObject, output: Callable[[str], None]) -> None:
        obj = action.obj
        give_up = time.monotonic() + action.webhook_grace
        async with kube_client(self.config) as kube:
            while True:
                try:
                    await kube.server_side_apply(obj, force=action.force)
                    break
                except UnknownKind as error:
                    raise StepError(f"{object_name(obj)}: {error}") from None
                except KubeError as error:
                    if error.code == 409 and error.conflicts:
                        raise StepError(f"{object_name(obj)}: fields owned by another manager: "
                                        + owned_elsewhere(error.conflicts)) from None
                    if WEBHOOK_NOT_READY in error.message and time.monotonic() < give_up:
                        output(f"{object_name(obj)}: the webhook is not ready yet; trying again")
                        await asyncio.sleep(WEBHOOK_RETRY_PAUSE)
                        continue
                    raise StepError(f"{object_name(obj)}: {error.message or error.reason}") from None
        output(f"{object_name(obj)} serverside-applied")

    async def _replace(self, action: ReplaceObject, output: Callable[[str], None]) -> None:
        obj = action.obj
        meta = obj["metadata"]
        async with kube_client(self.config) as kube:
            info = await kube.resource(obj["apiVersion"], obj["kind"])
            path = info.path(meta.get("namespace") if info.namespaced else None, meta["name"])
            live = await kube.get(obj["kind"], meta.get("namespace"), meta["name"], obj["apiVersion"])
            if live is None:  # gone meanwhile: made again as it was
                await kube.server_side_apply(obj, force=True)
            else:  # over the version read now: custom resources refuse an unconditional update
                version = live["metadata"]["resourceVersion"]
                await kube.replace(path, {**obj, "metadata": {**meta, "resourceVersion": version}})
        output(f"{object_name(obj)} put back as it was")

    async def _patch(self, action: PatchObject, output: Callable[[str], None]) -> None:
        async with kube_client(self.config) as kube:
            await kube.patch(action.kind, action.namespace or None, action.name, json.loads(action.patch),
                             subresource=action.subresource, manager=action.manager)
        output(f"{kind_info(action.kind).plural}/{action.name} patched")

    async def _evict(self, action: EvictPod, output: Callable[[str], None]) -> None:
        give_up = time.monotonic() + action.timeout
        async with kube_client(self.config) as kube:
            while True:
                try:
                    evicted = await kube.evict(action.namespace, action.name)
                    break
                except KubeError as error:
                    if error.code != 429 or time.monotonic() >= give_up:
                        raise StepError(f"pod {action.namespace}/{action.name} not evicted: "
                                        f"{error.message or error.reason}") from None
                    output(f"pod {action.namespace}/{action.name}: {error.message or error.reason} "
                           f"(trying again in {EVICTION_RETRY_PAUSE:g} s)")
                    await asyncio.sleep(EVICTION_RETRY_PAUSE)
        output(f"pod {action.namespace}/{action.name} " + ("evicted" if evicted else "was already gone"))

    async def _wait_endpoints(self, action: WaitEndpoints, output: Callable[[str], None]) -> None:
        where = f"service {action.namespace}/{action.name}"
        give_up = time.monotonic() + action.timeout
        async with kube_client(self.config) as kube:
            output(f"{where}: waiting for a ready endpoint")
            while not await ready_endpoints(kube, action.namespace, action.name):
                if time.monotonic() >= give_up:
                    raise StepError(f"{where} had no ready endpoint within {action.timeout:g} s")
                await asyncio.sleep(ENDPOINTS_POLL)
        output(f"{where} has a ready endpoint")

    async def _wait_load_balancer(self, action: WaitLoadBalancer, output: Callable[[str], None]) -> None:
        where = f"service {action.namespace}/{action.name}"
        give_up = time.monotonic() + action.timeout
        async with kube_client(self.config) as kube:
            output(f"{where}: waiting for its LoadBalancer address {action.address}")
            while True:
                service = await kube.get("Service", action.namespace, action.name) or {}
                ingress = ((service.get("status") or {}).get("loadBalancer") or {}).get("ingress") or []
                if any(entry.get("ip") == action.address for entry in ingress):
                    break
                if time.monotonic() >= give_up:
                    got = ", ".join(entry.get("ip") or entry.get("hostname") or "?" for entry in ingress) or "none"
                    raise StepError(f"{where} did not get {action.address} within {action.timeout:g} s (it has "
                                    f"{got}): is MetalLB running, and the address in one of its pools?")
                await asyncio.sleep(ENDPOINTS_POLL)
        output(f"{where} answers on {action.address}")

    async def _wait_rollout(self, action: WaitRollout, output: Callable[[str], None]) -> None:
        async with kube_client(self.config) as kube:
            try:
                await asyncio.wait_for(wait_rollout(kube, action.namespace, action.name, output), action.timeout)
            except RolloutFailed as error:
                raise StepError(str(error)) from None
            except TimeoutError:
                raise StepError(f'deployment "{action.name}" did not roll out within {action.timeout:g} s') from None


async def ready_endpoints(kube: KubeClient, namespace: str, service: str) -> bool:
    """Whether a Service has a ready endpoint: in its EndpointSlices, else in its Endpoints (a kind
    the server does not serve counts as none)."""
    for kind, selector in (("EndpointSlice", f"kubernetes.io/service-name={service}"), ("Endpoints", "")):
        try:
            items, _ = await kube.list_raw(kind, namespace, label_selector=selector,
                                           field_selector="" if selector else f"metadata.name={service}")
        except KubeError as error:
            if error.code == 404:
                continue
            raise
        for item in items:
            if kind == "EndpointSlice" and any((e.get("conditions") or {}).get("ready") is not False
                                               and e.get("addresses") for e in item.get("endpoints") or []):
                return True
            if kind == "Endpoints" and any(s.get("addresses") for s in item.get("subsets") or []):
                return True
    return False


class NodeWatch:
    """One Node watch (a listing first, then changes) for every wait on it at a time: the first
    waiter opens a client and starts the watch, the last one to leave stops it and closes the
    client. Ten nodes joined at once thus cost the API one connection, one listing and one watch,
    not ten. A waiter that arrives while the watch runs starts from the nodes as last seen, as a
    watch of its own would start from a listing; a failed watch fails the waiters it had, and the
    next waiter starts afresh."""

    def __init__(self, client: Callable[[], KubeClient]) -> None:
        self._client = client
        self._task: asyncio.Task[None] | None = None
        self._queues: set[asyncio.Queue[KubeEvent | Exception]] = set()
        self._nodes: dict[str, KubeObject] | None = None  # by name, once listed

    async def until_ready(self, node: str, output: Callable[[str], None]) -> None:
        """Return once `node` is Ready; say each state it goes through."""
        queue: asyncio.Queue[KubeEvent | Exception] = asyncio.Queue()
        if self._nodes is not None:
            queue.put_nowait(KubeEvent("Node", EventType.RELISTED, None, "", tuple(self._nodes.values())))
        self._queues.add(queue)
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(self._watch())
        try:
            last = ""
            while True:
                event = await queue.get()
                if isinstance(event, Exception):
                    raise event
                objects = event.objects if event.type is EventType.RELISTED else (event.obj,)
                for obj in objects:
                    if obj is not None and obj.name == node:
                        state = "deleted" if event.type is EventType.DELETED else obj.status
                        if state != last:
                            output(f"{node}: {state}")
                            last = state
                        if state.split(",")[0] == "Ready":
                            return
                if not last:
                    last = "not registered yet"
                    output(f"{node}: {last}")
        finally:
            self._queues.discard(queue)
            if not self._queues and self._task is not None:
                task, self._task, self._nodes = self._task, None, None
                task.cancel()
                await asyncio.gather(task, return_exceptions=True)  # the client is closed

    async def _watch(self) -> None:
        try:
            async with self._client() as client:
                async for event in client.watch("Node", keep_raw=False):
                    if event.type is EventType.RELISTED:
                        self._nodes = {obj.name: obj for obj in event.objects}
                    elif self._nodes is not None and event.obj is not None:
                        if event.type is EventType.DELETED:
                            self._nodes.pop(event.obj.name, None)
                        else:
                            self._nodes[event.obj.name] = event.obj
                    for queue in self._queues:
                        queue.put_nowait(event)
        except Exception as exc:  # noqa: BLE001 - each waiter fails with it
            if self._task is asyncio.current_task():
                self._task, self._nodes = None, None
            for queue in self._queues:
                queue.put_nowait(exc)
