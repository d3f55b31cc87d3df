"""Async Kubernetes client: kubeconfig handling, lists as models, resilient watches, apply, logs.

kubernetes-asyncio loads the kubeconfig (auth, TLS, exec plugins) and owns the HTTP session.
Requests go through its `ApiClient.call_api` as raw REST calls on dicts, so built-in kinds and
CRDs such as MetalLB's share one code path, and watches are plain JSON-lines streams whose
resourceVersion, 410 Expired handling and reconnects this module controls (kubernetes-asyncio's
Watch retries once with a stale resourceVersion, then raises 410).

No textual here: state changes are reported through the `on_status(state, reason)` callback.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass, replace
from typing import Any

import aiohttp
import orjson
from kubernetes_asyncio.client import ApiClient, Configuration
from kubernetes_asyncio.config.config_exception import ConfigException
from kubernetes_asyncio.config.kube_config import KubeConfigLoader, KubeConfigMerger

from homelab_tui.clients.kubeconfig import kubeconfig_paths
from homelab_tui.models import (
    ObjectApplied,
    Deployment,
    EventType,
    Ingress,
    KubeEvent,
    KubeObject,
    Node,
    Pod,
    Service,
    ServicePort,
)

JsonObject = dict[str, Any]

CONNECTED = "connected"
RETRYING = "retrying"


# --- errors ---------------------------------------------------------------------------------


class KubeClientError(Exception):
    """Base of everything this module raises."""


class KubeConfigError(KubeClientError):
    """No usable kubeconfig, or an unknown context."""


class KubeUnreachable(KubeClientError):
    """The API server could not be reached (refused, reset, timed out)."""


class KubeError(KubeClientError):
    """The API server answered with an error Status."""

    def __init__(self, code: int, reason: str, message: str, status: JsonObject | None = None):
        super().__init__(f"{code} {reason}: {message}" if reason else f"{code}: {message}")
        self.code = code
        self.reason = reason
        self.message = message
        self.status = status or {}

    @classmethod
    def from_response(cls, code: int, body: bytes) -> KubeError:
        try:
            status = orjson.loads(body)
        except ValueError:
            status = None
        if isinstance(status, dict) and status.get("kind") == "Status":
            return cls(code, status.get("reason", ""), status.get("message", ""), status)
        return cls(code, "", body.decode(errors="replace").strip()[:500])


# --- kinds ------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class KindInfo:
    api_version: str
    plural: str
    namespaced: bool

    def path(self, namespace: str | None = None, name: str | None = None) -> str:
        base = f"/apis/{self.api_version}" if "/" in self.api_version else f"/api/{self.api_version}"
        if self.namespaced and namespace:
            base += f"/namespaces/{namespace}"
        base += f"/{self.plural}"
        return f"{base}/{name}" if name else base


KINDS: dict[str, KindInfo] = {
    "Namespace": KindInfo("v1", "namespaces", False),
    "Node": KindInfo("v1", "nodes", False),
    "Pod": KindInfo("v1", "pods", True),
    "Service": KindInfo("v1", "services", True),
    "ConfigMap": KindInfo("v1", "configmaps", True),
    "Secret": KindInfo("v1", "secrets", True),
    "Deployment": KindInfo("apps/v1", "deployments", True),
    "Ingress": KindInfo("networking.k8s.io/v1", "ingresses", True),
    "IPAddressPool": KindInfo("metallb.io/v1beta1", "ipaddresspools", True),
    "L2Advertisement": KindInfo("metallb.io/v1beta1", "l2advertisements", True),
}


def kind_info(kind: str, api_version: str | None = None) -> KindInfo:
    """Where a kind lives. Kinds not in KINDS are taken as namespaced with a regular plural."""
    known = KINDS.get(kind)
    if known and (api_version is None or api_version == known.api_version):
        return known
    if api_version is None:
        raise KubeClientError(f"unknown kind {kind!r}; give its apiVersion")
    lower = kind.lower()
    if lower.endswith("y"):
        plural = lower[:-1] + "ies"
    elif lower.endswith(("s", "x", "ch", "sh")):
        plural = lower + "es"
    else:
        plural = lower + "s"
    return KindInfo(api_version, plural, True)


# --- conversion from raw objects ----------------------------------------------------------------


def _terminated_reason(terminated: JsonObject) -> str:
    if terminated.get("reason"):
        return terminated["reason"]
    if terminated.get("signal"):
        return f"Signal:{terminated['signal']}"
    return f"ExitCode:{terminated.get('exitCode')}"


def pod_status_summary(raw: JsonObject) -> tuple[str, int, int, int]:
    """(STATUS, ready containers, total containers, restarts) exactly as `kubectl get pods` computes
    them (printPod in k8s.io/kubernetes/pkg/printers/internalversion)."""
    spec, status, meta = raw.get("spec") or {}, raw.get("status") or {}, raw.get("metadata") or {}
    total = len(spec.get("containers") or [])
    ready = restarts = 0
    reason = status.get("reason") or status.get("phase") or ""
    initializing = False
    init_total = len(spec.get("initContainers") or [])
    for index, container in enumerate(status.get("initContainerStatuses") or []):
        restarts += container.get("restartCount", 0)
        state = container.get("state") or {}
        terminated, waiting = state.get("terminated"), state.get("waiting")
        if terminated and terminated.get("exitCode") == 0:
            continue
        if terminated:
            reason = "Init:" + _terminated_reason(terminated)
        elif waiting and waiting.get("reason") and waiting["reason"] != "PodInitializing":
            reason = "Init:" + waiting["reason"]
        else:
            reason = f"Init:{index}/{init_total}"
        initializing = True
        break
    if not initializing:
        restarts = 0
        has_running = False
        for container in reversed(status.get("containerStatuses") or []):
            restarts += container.get("restartCount", 0)
            state = container.get("state") or {}
            terminated, waiting = state.get("terminated"), state.get("waiting")
            if waiting and waiting.get("reason"):
                reason = waiting["reason"]
            elif terminated:
                reason = _terminated_reason(terminated)
            elif container.get("ready") and "running" in state:
                has_running = True
                ready += 1
        if reason == "Completed" and has_running:
            pod_ready = any(c.get("type") == "Ready" and c.get("status") == "True"
                            for c in status.get("conditions") or [])
            reason = "Running" if pod_ready else "NotReady"
    if meta.get("deletionTimestamp"):
        reason = "Unknown" if status.get("reason") == "NodeLost" else "Terminating"
    return reason, ready, total, restarts


def _meta(raw: JsonObject) -> JsonObject:
    return raw.get("metadata") or {}


def node_from_raw(raw: JsonObject) -> Node:
    meta, spec, status = _meta(raw), raw.get("spec") or {}, raw.get("status") or {}
    labels = meta.get("labels") or {}
    info, capacity = status.get("nodeInfo") or {}, status.get("capacity") or {}
    internal_ip = next((a.get("address", "") for a in status.get("addresses") or []
                        if a.get("type") == "InternalIP"), "")
    prefix = "node-role.kubernetes.io/"
    return Node(
        name=meta.get("name", ""),
        ready=any(c.get("type") == "Ready" and c.get("status") == "True" for c in status.get("conditions") or []),
        unschedulable=bool(spec.get("unschedulable")),
        roles=tuple(sorted(k[len(prefix):] for k in labels if k.startswith(prefix))),
        kubelet_version=info.get("kubeletVersion", ""), internal_ip=internal_ip,
        arch=info.get("architecture") or labels.get("kubernetes.io/arch", ""), os_image=info.get("osImage", ""),
        cpu=str(capacity.get("cpu", "")), memory=str(capacity.get("memory", "")),
        created=meta.get("creationTimestamp") or "", labels=dict(labels), raw=raw,
    )


def pod_from_raw(raw: JsonObject) -> Pod:
    meta, spec, status = _meta(raw), raw.get("spec") or {}, raw.get("status") or {}
    display, ready, total, restarts = pod_status_summary(raw)
    return Pod(
        namespace=meta.get("namespace", ""), name=meta.get("name", ""), phase=status.get("phase", ""),
        status=display, ready_containers=ready, total_containers=total, restarts=restarts,
        node=spec.get("nodeName") or "", ip=status.get("podIP") or "", created=meta.get("creationTimestamp") or "",
        labels=dict(meta.get("labels") or {}), raw=raw,
    )


def service_from_raw(raw: JsonObject) -> Service:
    meta, spec, status = _meta(raw), raw.get("spec") or {}, raw.get("status") or {}
    ingress = (status.get("loadBalancer") or {}).get("ingress") or []
    return Service(
        namespace=meta.get("namespace", ""), name=meta.get("name", ""), type=spec.get("type", "ClusterIP"),
        cluster_ip=spec.get("clusterIP") or "",
        external_ips=(tuple(i.get("ip") or i.get("hostname", "") for i in ingress)
                      + tuple(spec.get("externalIPs") or ())),
        ports=tuple(ServicePort(port=p.get("port", 0), protocol=p.get("protocol", "TCP"),
                                target_port=str(p.get("targetPort", p.get("port", ""))),
                                node_port=p.get("nodePort"), name=p.get("name", ""))
                    for p in spec.get("ports") or []),
        selector=dict(spec.get("selector") or {}), created=meta.get("creationTimestamp") or "", raw=raw,
    )


def deployment_from_raw(raw: JsonObject) -> Deployment:
    meta, spec, status = _meta(raw), raw.get("spec") or {}, raw.get("status") or {}
    return Deployment(
        namespace=meta.get("namespace", ""), name=meta.get("name", ""), replicas=spec.get("replicas", 1),
        ready_replicas=status.get("readyReplicas", 0), available_replicas=status.get("availableReplicas", 0),
        selector=dict((spec.get("selector") or {}).get("matchLabels") or {}),
        created=meta.get("creationTimestamp") or "", raw=raw,
    )


def ingress_from_raw(raw: JsonObject) -> Ingress:
    meta, spec, status = _meta(raw), raw.get("spec") or {}, raw.get("status") or {}
    ingress = (status.get("loadBalancer") or {}).get("ingress") or []
    return Ingress(
        namespace=meta.get("namespace", ""), name=meta.get("name", ""),
        ingress_class=(spec.get("ingressClassName")
                       or (meta.get("annotations") or {}).get("kubernetes.io/ingress.class", "")),
        hosts=tuple(r["host"] for r in spec.get("rules") or [] if r.get("host")),
        addresses=tuple(i.get("ip") or i.get("hostname", "") for i in ingress),
        created=meta.get("creationTimestamp") or "", raw=raw,
    )


CONVERTERS: dict[str, Callable[[JsonObject], KubeObject]] = {
    "Node": node_from_raw, "Pod": pod_from_raw, "Service": service_from_raw,
    "Deployment": deployment_from_raw, "Ingress": ingress_from_raw,
}


# --- kubeconfig -------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class KubeContext:
    name: str
    cluster: str
    user: str
    namespace: str
    current: bool


def _merged_kubeconfig(kubeconfig: Any) -> Any:
    """The merged config like kubectl: for clusters, users, contexts and current-context, the first
    file to set a name wins. (KubeConfigMerger lets the last current-context win; fixed here.)"""
    paths = [p for p in kubeconfig_paths(kubeconfig) if p.exists()]
    if not paths:
        raise KubeConfigError("no kubeconfig found (looked at: "
                              + ", ".join(str(p) for p in kubeconfig_paths(kubeconfig)) + ")")
    try:
        merger = KubeConfigMerger(os.pathsep.join(str(p) for p in paths))
    except (OSError, ValueError, TypeError, AttributeError) as error:
        raise KubeConfigError(f"cannot read kubeconfig: {error}") from error
    if merger.config is None:
        raise KubeConfigError("kubeconfig is empty")
    first_current = next((merger.config_files[p].get("current-context") for p in merger.paths
                          if (merger.config_files[p] or {}).get("current-context")), None)
    if first_current:
        merger.config.value["current-context"] = first_current
    return merger.config


def list_contexts(kubeconfig: Any = None) -> list[KubeContext]:
    """The contexts of the merged kubeconfig, the current one flagged."""
    config = _merged_kubeconfig(kubeconfig)
    current = config.value.get("current-context")
    contexts = []
    for entry in config.value.get("contexts") or []:
        context = entry.value if hasattr(entry, "value") else entry
        body = context.get("context") or {}
        contexts.append(KubeContext(name=context["name"], cluster=body.get("cluster", ""), user=body.get("user", ""),
                                    namespace=body.get("namespace", "default"), current=context["name"] == current))
    return contexts


async def load_configuration(kubeconfig: Any = None, context: str | None = None) -> tuple[Configuration, str]:
    """A kubernetes-asyncio Configuration for `context` (default: the current one) and its name."""
    config = _merged_kubeconfig(kubeconfig)
    names = [c.name for c in list_contexts(kubeconfig)]
    chosen = context or config.value.get("current-context")
    if not chosen or chosen not in names:
        raise KubeConfigError(f"context {chosen!r} not found in kubeconfig (have: {', '.join(names) or 'none'})")
    try:
        loader = KubeConfigLoader(config_dict=config, config_base_path=None, active_context=chosen)
        configuration = type.__call__(Configuration)
        await loader.load_and_set(configuration)
    except (ConfigException, AssertionError, KeyError) as error:
        raise KubeConfigError(f"invalid kubeconfig for context {chosen!r}: {error}") from error
    return configuration, chosen


# --- the client -------------------------------------------------------------------------------


def _strip_server_fields(obj: JsonObject) -> JsonObject:
    """What `apply` compares and patches: the object minus status and server-owned metadata."""
    desired = {k: v for k, v in obj.items() if k not in ("status", "apiVersion", "kind")}
    meta = {k: v for k, v in (obj.get("metadata") or {}).items() if k in ("name", "namespace", "labels", "annotations")}
    desired["metadata"] = meta
    return desired


def is_subset(desired: Any, live: Any) -> bool:
    """True when every field set in `desired` has the same value in `live` (lists pairwise)."""
    if isinstance(desired, dict):
        return isinstance(live, dict) and all(
            (value is None and key not in live) or (key in live and is_subset(value, live[key]))
            for key, value in desired.items())
    if isinstance(desired, list):
        return isinstance(live, list) and len(desired) == len(live) and all(map(is_subset, desired, live))
    return desired == live


async def _lines(response: aiohttp.ClientResponse) -> AsyncIterator[bytes]:
    """The lines of a streamed body, of any length (StreamReader.readline caps line size)."""
    buffer = b""
    async for chunk in response.content.iter_any():
        buffer += chunk
        *lines, buffer = buffer.split(b"\n")
        for line in lines:
            yield line
    if buffer:
        yield buffer


async def _body(response: aiohttp.ClientResponse) -> bytes | bytearray:
    """The response body, read into one buffer of the announced size when there is one: `read()`
    holds every chunk and then their join, twice the body (60 MB for a 10k-pod list) at once."""
    if response.content_length is None:
        return await response.read()
    body, filled = bytearray(response.content_length), 0
    async for chunk in response.content.iter_any():
        body[filled:filled + len(chunk)] = chunk  # in place while it fits; grows if the length lied
        filled += len(chunk)
    del body[filled:]
    return body


class KubeClient:
    """One connection to one cluster context. Use as `async with KubeClient(...) as kube:`.

    `on_status(state, reason)` is called when the connection state changes: "connected", or
    "retrying" with a reason, while a watch reconnects with capped exponential backoff.
    """

    def __init__(self, kubeconfig: Any = None, context: str | None = None, *,
                 on_status: Callable[[str, str], None] | None = None, retry_base: float = 0.5,
                 retry_cap: float = 30.0, watch_timeout: int = 300, request_timeout: float = 30.0):
        self._kubeconfig = kubeconfig
        self._wanted_context = context
        self.context = ""
        self.server = ""
        self._on_status = on_status
        self.retry_base = retry_base
        self.retry_cap = retry_cap
        self.watch_timeout = watch_timeout
        self.request_timeout = request_timeout
        self.state = ""
        self._reason = ""
        self._api: ApiClient | None = None

    def __repr__(self) -> str:
        return f"KubeClient(context={self.context!r}, server={self.server!r}, state={self.state!r})"

    async def __aenter__(self) -> KubeClient:
        await self.open()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def open(self) -> None:
        configuration, self.context = await load_configuration(self._kubeconfig, self._wanted_context)
        self.server = configuration.host
        self._api = ApiClient(configuration=configuration)

    async def close(self) -> None:
        if self._api is not None:
            await self._api.close()
            self._api = None

    def _set_state(self, state: str, reason: str = "") -> None:
        if (state, reason) != (self.state, self._reason):
            self.state, self._reason = state, reason
            if self._on_status is not None:
                self._on_status(state, reason)

    # -- raw requests ----------------------------------------------------------------------------

    async def _send(self, method: str, path: str, *, query: Sequence[tuple[str, str]] = (),
                    body: Any = None, content_type: str = "application/json",
                    timeout: float | aiohttp.ClientTimeout | None = None) -> aiohttp.ClientResponse:
        if self._api is None:
            raise KubeClientError("KubeClient is not open")
        try:
            return await self._api.call_api(
                path, method, query_params=list(query), header_params={"Accept": "application/json",
                                                                       "Content-Type": content_type},
                body=body, auth_settings=["BearerToken"], _preload_content=False,
                _request_timeout=timeout or self.request_timeout)
        except (aiohttp.ClientConnectionError, TimeoutError, OSError) as error:
            raise KubeUnreachable(f"cannot reach {self.server}: {error.__class__.__name__}: {error}") from None

    async def _request(self, method: str, path: str, **kwargs: Any) -> Any:
        response = await self._send(method, path, **kwargs)
        try:
            data = await _body(response)
        except (aiohttp.ClientError, TimeoutError) as error:
            raise KubeUnreachable(f"connection to {self.server} lost: {error.__class__.__name__}") from None
        finally:
            response.release()
        if response.status >= 400:
            raise KubeError.from_response(response.status, data)
        self._set_state(CONNECTED)
        return orjson.loads(data) if data else None  # a 10k-pod list parses 3x faster than with json

    # -- reads -------------------------------------------------------------------------------------

    async def version(self) -> str:
        """The server's gitVersion, e.g. v1.31.4+k3s1."""
        return (await self._request("GET", "/version"))["gitVersion"]

    async def list_raw(self, kind: str, namespace: str | None = None, *, label_selector: str = "",
                       field_selector: str = "") -> tuple[list[JsonObject], str]:
        """(items, list resourceVersion) of a kind, in one namespace or all."""
        query = [(k, v) for k, v in (("labelSelector", label_selector), ("fieldSelector", field_selector)) if v]
        body = await self._request("GET", kind_info(kind).path(namespace), query=query)
        return body.get("items") or [], body.get("metadata", {}).get("resourceVersion", "")

    async def list_objects(self, kind: str, namespace: str | None = None, *, label_selector: str = "",
                   field_selector: str = "") -> list[KubeObject]:
        items, _ = await self.list_raw(kind, namespace, label_selector=label_selector, field_selector=field_selector)
        return [CONVERTERS[kind](item) for item in items]

    async def list_nodes(self) -> list[Node]:
        return await self.list_objects("Node")  # type: ignore[return-value]

    async def list_pods(self, namespace: str | None = None, *, label_selector: str = "",
                        field_selector: str = "") -> list[Pod]:
        return await self.list_objects("Pod", namespace, label_selector=label_selector,  # type: ignore[return-value]
                               field_selector=field_selector)

    async def list_services(self, namespace: str | None = None) -> list[Service]:
        return await self.list_objects("Service", namespace)  # type: ignore[return-value]

    async def list_deployments(self, namespace: str | None = None) -> list[Deployment]:
        return await self.list_objects("Deployment", namespace)  # type: ignore[return-value]

    async def get(self, kind: str, namespace: str | None, name: str,
                  api_version: str | None = None) -> JsonObject | None:
        """The raw object, or None when it does not exist."""
        try:
            return await self._request("GET", kind_info(kind, api_version).path(namespace, name))
        except KubeError as error:
            if error.code == 404:
                return None
            raise

    # -- watch -------------------------------------------------------------------------------------

    async def watch(self, kind: str, namespace: str | None = None, *, label_selector: str = "",
                    field_selector: str = "", keep_raw: bool = True) -> AsyncIterator[KubeEvent]:
        """Endless stream of changes to `kind`: first RELISTED with every object, then ADDED /
        MODIFIED / DELETED. After a 410 Expired, or after a lost connection (retried with capped
        exponential backoff), it lists again and emits a fresh RELISTED. With keep_raw=False the
        models drop the raw object (`raw` is {}): at 10k pods it is most of the memory."""
        convert = CONVERTERS[kind] if keep_raw else (lambda item: replace(CONVERTERS[kind](item), raw={}))
        path = kind_info(kind).path(namespace)
        selectors = [(k, v) for k, v in (("labelSelector", label_selector), ("fieldSelector", field_selector)) if v]
        delay = self.retry_base
        resource_version = ""
        while True:
            try:
                if not resource_version:
                    items, resource_version = await self.list_raw(
                        kind, namespace, label_selector=label_selector, field_selector=field_selector)
                    delay = self.retry_base
                    yield KubeEvent(kind, EventType.RELISTED, None, resource_version,
                                    tuple(convert(item) for item in items))
                async for event_type, obj in self._watch_stream(path, resource_version, selectors):
                    if event_type == "ERROR":
                        error = KubeError(obj.get("code", 500), obj.get("reason", ""), obj.get("message", ""), obj)
                        if error.code == 410:
                            resource_version = ""
                            break
                        raise error
                    resource_version = obj.get("metadata", {}).get("resourceVersion", resource_version)
                    if event_type != "BOOKMARK":
                        yield KubeEvent(kind, EventType(event_type), convert(obj), resource_version)
            except KubeError as error:
                if error.code == 410:
                    resource_version = ""
                elif error.code >= 500 or error.code == 429:
                    resource_version = ""
                    delay = await self._back_off(delay, f"API error {error.code} {error.reason}")
                else:
                    raise
            except KubeUnreachable as error:
                resource_version = ""
                delay = await self._back_off(delay, str(error))

    async def _back_off(self, delay: float, reason: str) -> float:
        self._set_state(RETRYING, reason)
        await asyncio.sleep(delay)
        return min(delay * 2, self.retry_cap)

    async def _watch_stream(self, path: str, resource_version: str,
                            selectors: list[tuple[str, str]]) -> AsyncIterator[tuple[str, JsonObject]]:
        query = [("watch", "true"), ("resourceVersion", resource_version), ("allowWatchBookmarks", "true"),
                 ("timeoutSeconds", str(self.watch_timeout)), *selectors]
        timeout = aiohttp.ClientTimeout(sock_connect=self.request_timeout, sock_read=self.watch_timeout + 30)
        response = await self._send("GET", path, query=query, timeout=timeout)
        try:
            if response.status >= 400:
                raise KubeError.from_response(response.status, await response.read())
            self._set_state(CONNECTED)
            async for line in _lines(response):
                if line.strip():
                    event = orjson.loads(line)
                    yield event["type"], event["object"]
        except (aiohttp.ClientError, TimeoutError) as error:
            raise KubeUnreachable(f"watch on {self.server} lost: {error.__class__.__name__}") from None
        finally:
            response.release()

    # -- writes ------------------------------------------------------------------------------------

    async def create(self, obj: JsonObject) -> JsonObject:
        info = kind_info(obj["kind"], obj.get("apiVersion"))
        return await self._request("POST", info.path(obj.get("metadata", {}).get("namespace", "default")), body=obj)

    async def merge_patch(self, kind: str, namespace: str | None, name: str, patch: JsonObject,
                          api_version: str | None = None) -> JsonObject:
        return await self._request("PATCH", kind_info(kind, api_version).path(namespace, name), body=patch,
                                   content_type="application/merge-patch+json")

    async def apply(self, obj: JsonObject) -> ObjectApplied:
        """Make the cluster hold `obj`: create it if absent, merge-patch it if a field it sets
        differs from the live object, otherwise leave it alone."""
        meta = obj.get("metadata") or {}
        info = kind_info(obj["kind"], obj.get("apiVersion"))
        namespace = meta.get("namespace", "default") if info.namespaced else None
        if info.namespaced:
            obj = {**obj, "metadata": {**meta, "namespace": namespace}}
        live = await self.get(obj["kind"], namespace, meta["name"], obj.get("apiVersion"))
        if live is None:
            try:
                await self.create(obj)
                return ObjectApplied.CREATED
            except KubeError as error:
                if error.reason != "AlreadyExists":
                    raise
                live = await self.get(obj["kind"], namespace, meta["name"], obj.get("apiVersion"))
        desired = _strip_server_fields(obj)
        if live is not None and is_subset(desired, live):
            return ObjectApplied.UNCHANGED
        await self.merge_patch(obj["kind"], namespace, meta["name"], desired, obj.get("apiVersion"))
        return ObjectApplied.CONFIGURED

    async def delete(self, kind: str, namespace: str | None, name: str, *, api_version: str | None = None,
                     grace_period: int | None = None) -> bool:
        """Delete an object; False when it did not exist."""
        options: JsonObject = {"kind": "DeleteOptions", "apiVersion": "v1", "propagationPolicy": "Background"}
        if grace_period is not None:
            options["gracePeriodSeconds"] = grace_period
        try:
            await self._request("DELETE", kind_info(kind, api_version).path(namespace, name), body=options)
        except KubeError as error:
            if error.code == 404:
                return False
            raise
        return True

    # -- logs --------------------------------------------------------------------------------------

    async def stream_logs(self, namespace: str, pod: str, *, follow: bool = False, container: str | None = None,
                          tail_lines: int | None = None) -> AsyncIterator[str]:
        """The pod's log, line by line; with follow=True it goes on until the pod or stream ends."""
        query = [("follow", "true" if follow else "false")]
        if container:
            query.append(("container", container))
        if tail_lines is not None:
            query.append(("tailLines", str(tail_lines)))
        timeout = aiohttp.ClientTimeout(sock_connect=self.request_timeout,
                                        sock_read=None if follow else self.request_timeout)
        response = await self._send("GET", f"{KINDS['Pod'].path(namespace, pod)}/log", query=query, timeout=timeout)
        try:
            if response.status >= 400:
                raise KubeError.from_response(response.status, await response.read())
            async for line in _lines(response):
                yield line.decode(errors="replace")
        except (aiohttp.ClientError, TimeoutError) as error:
            raise KubeUnreachable(f"log stream from {self.server} lost: {error.__class__.__name__}") from None
        finally:
            response.release()
