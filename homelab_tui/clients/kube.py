"""Async Kubernetes client: kubeconfig handling, lists as models, resilient watches, apply, logs.

The kubeconfig is read by clients/kubeconfig.py (kubectl's merge rules, tokens, client
certificates, CAs); only an exec or auth-provider user borrows kubernetes-asyncio's loader for its
credentials. Requests are raw REST calls on dicts over a small HTTP/1.1 client on asyncio streams
(`_Http`, keep-alive), so built-in kinds and CRDs such as MetalLB's share one code path, and
watches are plain JSON-lines streams whose resourceVersion, 410 Expired handling and reconnects
this module controls. kubernetes-asyncio and aiohttp together took ~400 ms to import before the
first request could go out; this module imports neither on the way to the first list.

No textual here: state changes are reported through the `on_status(state, reason)` callback.
"""

from __future__ import annotations

import asyncio
import base64
import os
import ssl
import tempfile
from collections.abc import AsyncIterator, Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote, urlencode, urlsplit

import orjson

from homelab_tui.clients.kubeconfig import KubeconfigInvalid, KubeTarget, merged_kubeconfig, resolve_context
from homelab_tui.models import (
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

FIELD_MANAGER = "homelab-tui"  # our name in managedFields, for every write we make

CONNECTED = "connected"
RETRYING = "retrying"


# --- errors ---------------------------------------------------------------------------------


class KubeClientError(Exception):
    """Base of everything this module raises."""


class KubeConfigError(KubeClientError):
    """No usable kubeconfig, or an unknown context."""


class KubeUnreachable(KubeClientError):
    """The API server could not be reached (refused, reset, timed out)."""


class UnknownKind(KubeClientError):
    """The server does not serve a kind (a CRD not installed, a wrong apiVersion)."""


class KubeError(KubeClientError):
    """The API server answered with an error Status."""

    def __init__(self, code: int, reason: str, message: str, status: JsonObject | None = None):
        super().__init__(f"{code} {reason}: {message}" if reason else f"{code}: {message}")
        self.code = code
        self.reason = reason
        self.message = message
        self.status = status or {}

    @property
    def conflicts(self) -> dict[str, str]:
        """A server-side apply conflict's fields, each with the other manager's claim
        (`conflict with "kubectl" using apps/v1`), from the Status' causes."""
        causes = ((self.status or {}).get("details") or {}).get("causes") or []
        return {cause.get("field", ""): cause.get("message", "") for cause in causes
                if cause.get("reason", cause.get("type")) == "FieldManagerConflict"}

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
    "Event": KindInfo("v1", "events", True),
    "Endpoints": KindInfo("v1", "endpoints", True),
    "Deployment": KindInfo("apps/v1", "deployments", True),
    "ReplicaSet": KindInfo("apps/v1", "replicasets", True),
    "StatefulSet": KindInfo("apps/v1", "statefulsets", True),
    "DaemonSet": KindInfo("apps/v1", "daemonsets", True),
    "EndpointSlice": KindInfo("discovery.k8s.io/v1", "endpointslices", True),
    "CustomResourceDefinition": KindInfo("apiextensions.k8s.io/v1", "customresourcedefinitions", False),
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


def node_from_raw(raw: JsonObject, keep_raw: bool = True) -> Node:
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
        created=meta.get("creationTimestamp") or "", labels=dict(labels), raw=raw if keep_raw else {},
    )


def pod_from_raw(raw: JsonObject, keep_raw: bool = True) -> Pod:
    meta, spec, status = _meta(raw), raw.get("spec") or {}, raw.get("status") or {}
    display, ready, total, restarts = pod_status_summary(raw)
    return Pod(
        namespace=meta.get("namespace", ""), name=meta.get("name", ""), phase=status.get("phase", ""),
        status=display, ready_containers=ready, total_containers=total, restarts=restarts,
        node=spec.get("nodeName") or "", ip=status.get("podIP") or "", created=meta.get("creationTimestamp") or "",
        labels=dict(meta.get("labels") or {}), raw=raw if keep_raw else {},
    )


def service_from_raw(raw: JsonObject, keep_raw: bool = True) -> Service:
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
        selector=dict(spec.get("selector") or {}), created=meta.get("creationTimestamp") or "", raw=raw if keep_raw else {},
    )


def deployment_from_raw(raw: JsonObject, keep_raw: bool = True) -> Deployment:
    meta, spec, status = _meta(raw), raw.get("spec") or {}, raw.get("status") or {}
    return Deployment(
        namespace=meta.get("namespace", ""), name=meta.get("name", ""), replicas=spec.get("replicas", 1),
        ready_replicas=status.get("readyReplicas", 0), available_replicas=status.get("availableReplicas", 0),
        selector=dict((spec.get("selector") or {}).get("matchLabels") or {}),
        created=meta.get("creationTimestamp") or "", updated_replicas=status.get("updatedReplicas", 0),
        containers=tuple(c["name"] for c in ((spec.get("template") or {}).get("spec") or {}).get("containers") or []),
        raw=raw if keep_raw else {},
    )


def ingress_from_raw(raw: JsonObject, keep_raw: bool = True) -> Ingress:
    meta, spec, status = _meta(raw), raw.get("spec") or {}, raw.get("status") or {}
    ingress = (status.get("loadBalancer") or {}).get("ingress") or []
    return Ingress(
        namespace=meta.get("namespace", ""), name=meta.get("name", ""),
        ingress_class=(spec.get("ingressClassName")
                       or (meta.get("annotations") or {}).get("kubernetes.io/ingress.class", "")),
        hosts=tuple(r["host"] for r in spec.get("rules") or [] if r.get("host")),
        addresses=tuple(i.get("ip") or i.get("hostname", "") for i in ingress),
        created=meta.get("creationTimestamp") or "", raw=raw if keep_raw else {},
    )


CONVERTERS: dict[str, Callable[[JsonObject, bool], KubeObject]] = {
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


def list_contexts(kubeconfig: Any = None) -> list[KubeContext]:
    """The contexts of the merged kubeconfig, the current one flagged."""
    try:
        merged = merged_kubeconfig(kubeconfig)
    except KubeconfigInvalid as error:
        raise KubeConfigError(str(error)) from None
    return [KubeContext(name=name, cluster=str(body.get("cluster") or ""), user=str(body.get("user") or ""),
                        namespace=str(body.get("namespace") or "default"), current=name == merged.current_context)
            for name, (body, _) in merged.entries["contexts"].items()]


def load_target(kubeconfig: Any = None, context: str | None = None) -> KubeTarget:
    """The context `context` (default: the current one): server, trust, credentials."""
    try:
        return resolve_context(kubeconfig, context)
    except KubeconfigInvalid as error:
        raise KubeConfigError(str(error)) from None


def ssl_context(target: KubeTarget) -> ssl.SSLContext | None:
    """TLS as the kubeconfig says: its CA (else the system's), verified unless it says
    insecure-skip-tls-verify; the client certificate if it has one. None for plain http."""
    if not target.server.startswith("https:"):
        return None
    where = f"context {target.context!r}"
    try:
        context = ssl.create_default_context(cadata=target.ca_pem.decode() if target.ca_pem else None)
    except (ssl.SSLError, ValueError) as error:
        raise KubeConfigError(f"{where}: the cluster's certificate authority is not a PEM certificate: {error}"
                              ) from None
    if target.insecure:
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    if target.client_cert_pem:
        # ssl loads a certificate chain only from a file: a private one, gone once read
        with tempfile.TemporaryDirectory(prefix="homelab-kube-") as private:
            pem = os.path.join(private, "client.pem")
            with open(os.open(pem, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600), "wb") as out:
                out.write(target.client_cert_pem.rstrip() + b"\n" + target.client_key_pem)
            try:
                context.load_cert_chain(pem)
            except (ssl.SSLError, ValueError) as error:
                raise KubeConfigError(f"{where}: cannot use the user's client certificate and key: {error}"
                                      ) from None
    return context


class _PluginCredentials:
    """An exec or auth-provider user: kubernetes-asyncio runs the plugin (and again when its
    token expires); only such a user imports it."""

    def __init__(self, target: KubeTarget, kubeconfig: Any):
        self.target, self.kubeconfig = target, kubeconfig
        self.configuration: Any = None

    async def load(self) -> None:
        from kubernetes_asyncio.client import Configuration
        from kubernetes_asyncio.config.config_exception import ConfigException
        from kubernetes_asyncio.config.kube_config import KubeConfigLoader

        merged = merged_kubeconfig(self.kubeconfig)
        context, _ = merged.get("contexts", self.target.context)
        cluster, _ = merged.get("clusters", self.target.cluster)
        user, base = merged.get("users", self.target.user)
        config = {"contexts": [{"name": self.target.context, "context": context}],
                  "clusters": [{"name": self.target.cluster, "cluster": cluster}],
                  "users": [{"name": self.target.user, "user": user}], "current-context": self.target.context}
        try:
            loader = KubeConfigLoader(config_dict=config, config_base_path=str(base), active_context=self.target.context)
            self.configuration = type.__call__(Configuration)
            await loader.load_and_set(self.configuration)
        except (ConfigException, AssertionError, KeyError, OSError) as error:
            raise KubeConfigError(f"kubeconfig {merged.where()}, context {self.target.context!r}: "
                                  f"the user's credential plugin failed: {error}") from error

    def client_certificate(self) -> tuple[str, str] | None:
        cert, key = self.configuration.cert_file, self.configuration.key_file
        return (cert, key) if cert and key else None

    async def authorization(self) -> str | None:
        return await self.configuration.get_api_key_with_prefix("BearerToken")


# --- the client -------------------------------------------------------------------------------


LIST_CHUNK_BYTES = 1 << 19  # a list's items are parsed and converted this much at a time


def list_chunks(body: bytes | bytearray, chunk_bytes: int = LIST_CHUNK_BYTES
                ) -> Iterator[tuple[list[JsonObject], JsonObject | None]]:
    """A List's items in order, a few hundred KB of JSON at a time, then the List without its
    items: (items, None) ..., ([], envelope). Parsing a 10k-pod list whole holds every item's
    dicts at once (~100 MB, which the allocator keeps after they are freed); in pieces, each
    piece's are freed before the next is parsed, and the first rows can be shown sooner.

    A piece ends before the next occurrence of the first item's opening (`{"metadata":`) that
    follows a `}` and a comma; that it is a boundary between items is proven by parsing: the text
    from an item's `{` parses as a JSON array of objects exactly when it ends at the `}` closing an
    item, never inside a string or a nested object. Anything unexpected falls back to parsing the
    whole body for the items not given yet."""
    given = 0

    def whole() -> Iterator[tuple[list[JsonObject], JsonObject | None]]:
        listing = orjson.loads(body)
        items = listing.pop("items", None) or []
        yield items[given:], None
        yield [], listing

    key = body.find(b'"items"')
    opened = body.find(b"[", key) if key > 0 else -1
    pos = opened + 1
    while 0 < pos < len(body) and body[pos] in b" \t\r\n":
        pos += 1
    colon = body.find(b":", pos, pos + 64) if opened > 0 else -1
    if opened < 0 or body[key + 7:opened].strip() != b":" or colon < 0 or body[pos:pos + 2] != b'{"':
        yield from whole()
        return
    opening = bytes(body[pos:colon + 1])  # e.g. b'{"metadata":'
    while True:
        start = body.find(opening, pos + chunk_bytes)
        while start >= 0:
            end = start - 1
            while body[end] in b" \t\r\n":
                end -= 1
            if body[end] == ord(","):
                end -= 1
                while body[end] in b" \t\r\n":
                    end -= 1
                if body[end] == ord("}"):
                    try:
                        items = orjson.loads(b"[" + body[pos:end + 1] + b"]")
                    except orjson.JSONDecodeError:
                        items = None
                    if items is not None:
                        break
            start = body.find(opening, start + 1)
        if start < 0:
            break
        given += len(items)
        yield items, None
        pos = start
    # the last piece: up to the `]` closing the items, the last `]` when items come last
    close = len(body)
    for _ in range(3):
        close = body.rfind(b"]", pos, close)
        if close < 0:
            break
        try:
            items = orjson.loads(b"[" + body[pos:close] + b"]")
            envelope = orjson.loads(body[:opened] + b"[]" + body[close + 1:])
        except orjson.JSONDecodeError:
            continue
        if isinstance(envelope, dict):
            envelope.pop("items", None)
            yield items, None
            yield [], envelope
            return
    yield from whole()


def _selectors(label_selector: str, field_selector: str) -> list[tuple[str, str]]:
    return [(k, v) for k, v in (("labelSelector", label_selector), ("fieldSelector", field_selector)) if v]


class _Response:
    """One HTTP/1.1 response: status and headers read, the body read as it is asked for. `release`
    gives the connection back for the next request once the body has been read to its end."""

    def __init__(self, http: _Http, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, status: int,
                 headers: dict[str, str], read_timeout: float | None, head_only: bool):
        self._http, self._reader, self._writer = http, reader, writer
        self.status, self.headers, self._read_timeout = status, headers, read_timeout
        self.chunked = "chunked" in headers.get("transfer-encoding", "").lower()
        length = headers.get("content-length")
        self.content_length = int(length) if length is not None and not self.chunked else None
        if head_only or status in (204, 304) or 100 <= status < 200:
            self.content_length = 0
        self._until_close = self.content_length is None and not self.chunked
        self._done = self.content_length == 0
        self._released = False

    async def _read(self, awaitable):
        # asyncio.timeout, not wait_for: in Python 3.11 wait_for can swallow a cancellation that
        # comes as the read completes, and a cancelled watch would then never end
        async with asyncio.timeout(self._read_timeout):
            return await awaitable

    async def iter_chunks(self) -> AsyncIterator[bytes]:
        """The body in pieces as they arrive (chunked encoding undone)."""
        reader = self._reader
        if self.chunked:
            while not self._done:
                size_line = await self._read(reader.readline())
                if not size_line.endswith(b"\n"):
                    raise ConnectionResetError("the connection closed inside a chunked body")
                try:
                    size = int(size_line.split(b";", 1)[0].strip(), 16)
                except ValueError:
                    raise ConnectionResetError(f"bad chunk size {size_line[:40]!r}") from None
                if size == 0:
                    while (await self._read(reader.readline())) not in (b"\r\n", b"\n", b""):
                        pass  # trailers
                    self._done = True
                    break
                data = await self._read(reader.readexactly(size))
                await self._read(reader.readexactly(2))
                yield data
        elif self._until_close:
            while data := await self._read(reader.read(1 << 18)):
                yield data
            self._done = True
        else:
            left = self.content_length or 0
            while left > 0:
                data = await self._read(reader.read(min(left, 1 << 20)))
                if not data:
                    raise asyncio.IncompleteReadError(b"", left)
                left -= len(data)
                yield data
            self._done = True

    async def read(self) -> bytes | bytearray:
        """The whole body; of an announced size, read into one buffer (no joining of chunks: a
        10k-pod list is 30 MB)."""
        if self.content_length is None:
            return b"".join([chunk async for chunk in self.iter_chunks()])
        body, filled = bytearray(self.content_length), 0
        async for chunk in self.iter_chunks():
            body[filled:filled + len(chunk)] = chunk
            filled += len(chunk)
        return body

    async def lines(self) -> AsyncIterator[bytes]:
        """The lines of a streamed body, of any length."""
        buffer = b""
        async for chunk in self.iter_chunks():
            buffer += chunk
            *lines, buffer = buffer.split(b"\n")
            for line in lines:
                yield line
        if buffer:
            yield buffer

    def release(self) -> None:
        if self._released:
            return
        self._released = True
        reusable = self._done and not self._until_close and self.headers.get("connection", "").lower() != "close"
        self._http.put_back(self._reader, self._writer, reusable)


class _Http:
    """HTTP/1.1 to one API server over asyncio streams: keep-alive connections (a few kept idle),
    TLS as the kubeconfig says, JSON bodies. Through an HTTP proxy when the kubeconfig names one
    (`proxy-url`) or the environment does (HTTPS_PROXY / HTTP_PROXY, unless NO_PROXY covers the
    server), as kubectl: a CONNECT tunnel, with TLS to the server inside it."""

    IDLE_KEPT = 4

    def __init__(self, server: str, ssl_context: ssl.SSLContext | None, tls_server_name: str = "",
                 proxy_url: str = ""):
        url = urlsplit(server)
        try:
            port = url.port
        except ValueError:
            port = -1
        if url.scheme not in ("http", "https") or not url.hostname or port == -1:
            raise KubeConfigError(f"the cluster's server {server!r} is not an http(s) URL with a valid port")
        self.host, self.ssl = url.hostname, ssl_context
        self.port = port or (443 if url.scheme == "https" else 80)
        self.proxy = _proxy_for(url.scheme, self.host, proxy_url)
        self.prefix = url.path.rstrip("/")
        self.host_header = url.netloc.rpartition("@")[2]
        self.server_hostname = (tls_server_name or self.host) if ssl_context is not None else None
        self.headers: dict[str, str] = {}
        self._idle: list[tuple[asyncio.StreamReader, asyncio.StreamWriter]] = []

    async def _connect(self, timeout: float | None) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        async with asyncio.timeout(timeout):
            if self.proxy is None:
                return await asyncio.open_connection(self.host, self.port, ssl=self.ssl, limit=1 << 20,
                                                     server_hostname=self.server_hostname)
            reader, writer = await asyncio.open_connection(self.proxy[0], self.proxy[1], limit=1 << 20)
            try:
                writer.write(f"CONNECT {self.host}:{self.port} HTTP/1.1\r\nHost: {self.host}:{self.port}\r\n\r\n"
                             .encode("latin-1"))
                status, _ = await self._read_head(reader)
                if status != 200:
                    raise ConnectionRefusedError(f"the proxy {self.proxy[0]}:{self.proxy[1]} refused the tunnel "
                                                 f"to {self.host}:{self.port} (HTTP {status})")
                if self.ssl is not None:
                    await writer.start_tls(self.ssl, server_hostname=self.server_hostname)
            except BaseException:
                writer.close()
                raise
            return reader, writer

    def put_back(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, reusable: bool) -> None:
        if reusable and len(self._idle) < self.IDLE_KEPT and not reader.at_eof():
            self._idle.append((reader, writer))
        else:
            writer.close()

    async def request(self, method: str, path: str, query: Sequence[tuple[str, str]], headers: dict[str, str],
                      body: bytes | None, connect_timeout: float | None, read_timeout: float | None) -> _Response:
        target = quote(self.prefix + path, safe="/:@!$&'()*+,;=-._~") + (f"?{urlencode(list(query))}" if query else "")
        lines = [f"{method} {target} HTTP/1.1", f"Host: {self.host_header}", "User-Agent: homelab-tui",
                 *(f"{name}: {value}" for name, value in {**self.headers, **headers}.items())]
        if body is not None or method in ("POST", "PUT", "PATCH"):
            lines.append(f"Content-Length: {len(body or b'')}")
        head = ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")
        while True:
            reused = bool(self._idle)
            reader, writer = self._idle.pop() if reused else await self._connect(connect_timeout)
            try:
                writer.write(head + body if body else head)
                async with asyncio.timeout(read_timeout):
                    status, response_headers = await self._read_head(reader)
            except (ConnectionError, asyncio.IncompleteReadError):
                writer.close()
                # The server closed an idle connection. Only a read is sent again: a write may
                # have been done before the connection went.
                if reused and method in ("GET", "HEAD"):
                    continue
                raise
            except BaseException:
                writer.close()
                raise
            return _Response(self, reader, writer, status, response_headers, read_timeout, method == "HEAD")

    @staticmethod
    async def _read_head(reader: asyncio.StreamReader) -> tuple[int, dict[str, str]]:
        while True:
            status_line = await reader.readline()
            if not status_line:
                raise ConnectionResetError("the server closed the connection before answering")
            parts = status_line.decode("latin-1").split(None, 2)
            if len(parts) < 2 or not parts[0].startswith("HTTP/"):
                raise ConnectionResetError(f"not an HTTP response: {status_line[:80]!r}")
            headers: dict[str, str] = {}
            while (line := await reader.readline()) not in (b"\r\n", b"\n"):
                if not line:
                    raise ConnectionResetError("the server closed the connection inside the response headers")
                name, _, value = line.decode("latin-1").partition(":")
                headers[name.strip().lower()] = value.strip()
            if not parts[1].isdigit() or not headers.get("content-length", "0").isdigit():
                raise ConnectionResetError(f"not an HTTP response: {status_line[:80]!r}")
            status = int(parts[1])
            if not 100 <= status < 200:  # 100 Continue, 103 Early Hints: the answer follows
                return status, headers

    async def close(self) -> None:
        idle, self._idle = self._idle, []
        for _, writer in idle:
            writer.close()


def _proxy_for(scheme: str, host: str, proxy_url: str) -> tuple[str, int] | None:
    """(host, port) of the HTTP proxy to tunnel through, or None to connect directly."""
    if not proxy_url:
        if not any(name.lower() in ("http_proxy", "https_proxy") for name in os.environ):
            return None
        import urllib.request  # only with a proxy in the environment: it costs the start ~15 ms

        if urllib.request.proxy_bypass_environment(host):
            return None
        proxy_url = urllib.request.getproxies_environment().get(scheme, "")
    if not proxy_url:
        return None
    proxy = urlsplit(proxy_url if "://" in proxy_url else f"http://{proxy_url}")
    if proxy.scheme != "http" or not proxy.hostname:
        raise KubeConfigError(f"proxy {proxy_url!r}: only http:// proxies are supported")
    return proxy.hostname, proxy.port or 80


# Failures of the wire: the server could not be reached, or went away mid-answer.
WIRE_ERRORS = (OSError, ConnectionError, TimeoutError, asyncio.IncompleteReadError, ssl.SSLError)


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
        self._http: _Http | None = None
        self._prefetched: dict[str, asyncio.Future[bytes | bytearray]] = {}
        self._plugin: _PluginCredentials | None = None
        self._resources: dict[tuple[str, str], KindInfo] = {}  # (apiVersion, kind), from discovery

    def __repr__(self) -> str:
        return f"KubeClient(context={self.context!r}, server={self.server!r}, state={self.state!r})"

    async def __aenter__(self) -> KubeClient:
        await self.open()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def open(self) -> None:
        target = load_target(self._kubeconfig, self._wanted_context)
        context = ssl_context(target)
        if target.plugin:
            self._plugin = _PluginCredentials(target, self._kubeconfig)
            await self._plugin.load()
            if context is not None and (pair := self._plugin.client_certificate()):
                context.load_cert_chain(*pair)
        http = _Http(target.server, context, target.tls_server_name, target.proxy_url)
        if target.token:
            http.headers["Authorization"] = f"Bearer {target.token}"
        elif target.username:
            basic = base64.b64encode(f"{target.username}:{target.password}".encode()).decode()
            http.headers["Authorization"] = f"Basic {basic}"
        self.context, self.server, self._http = target.context, target.server, http

    async def close(self) -> None:
        prefetched, self._prefetched = self._prefetched, {}
        for task in prefetched.values():
            task.cancel()
        if prefetched:
            await asyncio.wait(prefetched.values())
        if self._http is not None:
            await self._http.close()
            self._http = None

    def _set_state(self, state: str, reason: str = "") -> None:
        if (state, reason) != (self.state, self._reason):
            self.state, self._reason = state, reason
            if self._on_status is not None:
                self._on_status(state, reason)

    # -- raw requests ----------------------------------------------------------------------------

    async def _send(self, method: str, path: str, *, query: Sequence[tuple[str, str]] = (),
                    body: Any = None, content_type: str = "application/json",
                    read_timeout: float | None | bool = True) -> _Response:
        """Send a request and read the answer's head. `read_timeout`: the longest wait for the
        head and then for each piece of the body (True: `request_timeout`, None: no limit)."""
        if self._http is None:
            raise KubeClientError("KubeClient is not open")
        headers = {"Accept": "application/json"}
        if body is not None:
            headers["Content-Type"] = content_type
        if self._plugin is not None and (authorization := await self._plugin.authorization()):
            headers["Authorization"] = authorization
        data = None if body is None else body if isinstance(body, bytes) else orjson.dumps(body)
        try:
            return await self._http.request(method, path, query, headers, data, self.request_timeout,
                                            self.request_timeout if read_timeout is True else read_timeout)
        except ssl.SSLCertVerificationError as error:  # not a passing failure: retrying will not help
            raise KubeConfigError(f"{self.server} presented a certificate the kubeconfig does not trust "
                                  f"({error.verify_message}); check certificate-authority(-data) and "
                                  "tls-server-name") from None
        except WIRE_ERRORS as error:
            raise KubeUnreachable(f"cannot reach {self.server}: {error.__class__.__name__}: {error}") from None

    async def _request(self, method: str, path: str, **kwargs: Any) -> Any:
        data = await self._request_bytes(method, path, **kwargs)
        return orjson.loads(data) if data else None  # a 10k-pod list parses 3x faster than with json

    async def _request_bytes(self, method: str, path: str, **kwargs: Any) -> bytes | bytearray:
        return await self._answer(await self._send(method, path, **kwargs))

    async def _answer(self, response: _Response) -> bytes | bytearray:
        """The body of a successful answer; KubeError for an error Status."""
        try:
            data = await response.read()
        except WIRE_ERRORS as error:
            raise KubeUnreachable(f"connection to {self.server} lost: {error.__class__.__name__}") from None
        finally:
            response.release()
        if response.status >= 400:
            raise KubeError.from_response(response.status, data)
        self._set_state(CONNECTED)
        return data

    # -- reads -------------------------------------------------------------------------------------

    async def version(self) -> str:
        """The server's gitVersion, e.g. v1.31.4+k3s1."""
        return (await self._request("GET", "/version"))["gitVersion"]

    async def list_raw(self, kind: str, namespace: str | None = None, *, label_selector: str = "",
                       field_selector: str = "", api_version: str | None = None) -> tuple[list[JsonObject], str]:
        """(items, list resourceVersion) of a kind, in one namespace or all."""
        items: list[JsonObject] = []
        resource_version = ""
        async for chunk, envelope in self._list(kind, namespace, _selectors(label_selector, field_selector),
                                                api_version):
            items += chunk
            if envelope is not None:
                resource_version = (envelope.get("metadata") or {}).get("resourceVersion", "")
        return items, resource_version

    async def _list(self, kind: str, namespace: str | None, selectors: list[tuple[str, str]],
                    api_version: str | None = None) -> AsyncIterator[tuple[list[JsonObject], JsonObject | None]]:
        """`list_chunks` of a List as the server sends it, or as `prefetch` asked for it."""
        prefetched = self._prefetched.pop(kind, None) if namespace is None and not selectors else None
        if prefetched is not None:
            body = await prefetched
        else:
            path = (await self._kind(kind, api_version)).path(namespace)
            body = await self._request_bytes("GET", path, query=selectors)
        for chunk, envelope in list_chunks(body):
            yield chunk, envelope

    def prefetch(self, *kinds: str) -> None:
        """Ask for the Lists of `kinds` (all namespaces) now, for the first `watch` or `list_raw`
        of each to take: the API server prepares a big List for a while (0.3-0.6 s for 10k pods)
        and can do so while the caller gets on with other work. The requests go out in this order,
        each once the one before is answered (the server answers in turn: put big Lists last)."""
        before: asyncio.Future[None] | None = None
        for kind in kinds:
            answered = asyncio.get_running_loop().create_future()
            self._prefetched[kind] = asyncio.ensure_future(
                self._prefetch_one(kind_info(kind).path(), before, answered))
            before = answered

    async def _prefetch_one(self, path: str, before: asyncio.Future[None] | None,
                            answered: asyncio.Future[None]) -> bytes | bytearray:
        try:
            if before is not None:
                await asyncio.wait({before})
            response = await self._send("GET", path)
        finally:
            if not answered.done():
                answered.set_result(None)
        return await self._answer(response)

    async def list_objects(self, kind: str, namespace: str | None = None, *, label_selector: str = "",
                   field_selector: str = "") -> list[KubeObject]:
        items, _ = await self.list_raw(kind, namespace, label_selector=label_selector, field_selector=field_selector)
        return [CONVERTERS[kind](item, True) for item in items]

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
            return await self._request("GET", (await self._kind(kind, api_version)).path(namespace, name))
        except KubeError as error:
            if error.code == 404:
                return None
            raise

    # -- watch -------------------------------------------------------------------------------------

    async def watch(self, kind: str, namespace: str | None = None, *, label_selector: str = "",
                    field_selector: str = "", keep_raw: bool = True, preview: int = 0) -> AsyncIterator[KubeEvent]:
        """Endless stream of changes to `kind`: first RELISTED with every object, then ADDED /
        MODIFIED / DELETED. After a 410 Expired, or after a lost connection (retried with capped
        exponential backoff), it lists again and emits a fresh RELISTED. With keep_raw=False the
        models drop the raw object (`raw` is {}): at 10k pods it is most of the memory.

        A List is converted a piece at a time (`list_chunks`), giving the event loop its turn
        in between; with `preview`, the first `preview` objects of each List come ahead of its
        RELISTED as ADDED events (with no resourceVersion), to be shown while the rest converts."""
        converter = CONVERTERS[kind]
        path = kind_info(kind).path(namespace)
        selectors = _selectors(label_selector, field_selector)
        delay = self.retry_base
        resource_version = ""
        while True:
            try:
                if not resource_version:
                    objects: list[KubeObject] = []
                    listed = ""
                    async for items, envelope in self._list(kind, namespace, selectors):
                        converted = [converter(item, keep_raw) for item in items]
                        del items
                        if len(objects) < preview:
                            for obj in converted[:preview - len(objects)]:
                                yield KubeEvent(kind, EventType.ADDED, obj, "")
                        objects += converted
                        if envelope is not None:
                            listed = (envelope.get("metadata") or {}).get("resourceVersion", "")
                        await asyncio.sleep(0)
                    resource_version, delay = listed, self.retry_base
                    yield KubeEvent(kind, EventType.RELISTED, None, resource_version, tuple(objects))
                    del objects
                async for event_type, obj in self._watch_stream(path, resource_version, selectors):
                    if event_type == "ERROR":
                        error = KubeError(obj.get("code", 500), obj.get("reason", ""), obj.get("message", ""), obj)
                        if error.code == 410:
                            resource_version = ""
                            break
                        raise error
                    resource_version = obj.get("metadata", {}).get("resourceVersion", resource_version)
                    if event_type != "BOOKMARK":
                        yield KubeEvent(kind, EventType(event_type), converter(obj, keep_raw), resource_version)
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
        response = await self._send("GET", path, query=query, read_timeout=self.watch_timeout + 30)
        try:
            if response.status >= 400:
                raise KubeError.from_response(response.status, await response.read())
            self._set_state(CONNECTED)
            async for line in response.lines():
                if line.strip():
                    event = orjson.loads(line)
                    if not isinstance(event, dict) or "type" not in event or "object" not in event:
                        raise ConnectionResetError(f"not a watch event: {line[:80]!r}")
                    yield event["type"], event["object"]
        except WIRE_ERRORS as error:
            raise KubeUnreachable(f"watch on {self.server} lost: {error.__class__.__name__}") from None
        finally:
            response.release()

    # -- writes ------------------------------------------------------------------------------------

    async def create(self, obj: JsonObject) -> JsonObject:
        info = kind_info(obj["kind"], obj.get("apiVersion"))
        return await self._request("POST", info.path(obj.get("metadata", {}).get("namespace", "default")), body=obj)

    async def resource(self, api_version: str, kind: str) -> KindInfo:
        """Where the server serves `kind` of `api_version`, read from its discovery document (as
        kubectl maps a manifest's kind to a resource), so any kind the API serves, CRDs included,
        is found. UnknownKind when the server does not serve it."""
        key = (api_version, kind)
        if key not in self._resources:
            base = f"/apis/{api_version}" if "/" in api_version else f"/api/{api_version}"
            try:
                listing = await self._request("GET", base)
            except KubeError as error:
                if error.code != 404:
                    raise
                listing = {"resources": []}
            for entry in listing.get("resources") or []:
                if "/" not in entry["name"]:  # subresources ("deployments/scale") are not kinds
                    self._resources[(api_version, entry["kind"])] = KindInfo(
                        api_version, entry["name"], bool(entry.get("namespaced")))
            if key not in self._resources:
                raise UnknownKind(f'no matches for kind "{kind}" in version "{api_version}"')
        return self._resources[key]

    async def deletable_kinds(self) -> dict[str, KindInfo]:
        """Every kind the server serves that can be listed and deleted (preferred versions), by kind:
        what undeploy searches for the objects of an app."""
        versions = ["v1"] + [group["preferredVersion"]["groupVersion"]
                             for group in (await self._request("GET", "/apis")).get("groups") or []]
        listings = await asyncio.gather(*(self._request("GET", f"/api/{v}" if v == "v1" else f"/apis/{v}")
                                          for v in versions))
        found = {}
        for version, listing in zip(versions, listings):
            for entry in listing.get("resources") or []:
                if "/" not in entry["name"] and {"list", "delete"} <= set(entry.get("verbs") or ()):
                    found.setdefault(entry["kind"], KindInfo(version, entry["name"], bool(entry.get("namespaced"))))
        return found

    async def _kind(self, kind: str, api_version: str | None) -> KindInfo:
        """A kind we know by name at once; any other through discovery (a CRD's plural and scope)."""
        known = KINDS.get(kind)
        if api_version is None or (known and known.api_version == api_version):
            return kind_info(kind, api_version)
        return await self.resource(api_version, kind)

    async def server_side_apply(self, obj: JsonObject, *, manager: str = FIELD_MANAGER, dry_run: bool = False,
                                force: bool = False) -> JsonObject:
        """Server-side apply of `obj` (the whole intent: fields this manager set before and left
        out are removed) with strict field validation; the object as the server holds it after,
        or would hold it with `dry_run`. A field another manager owns with another value fails
        with KubeError 409 (reason Conflict) unless `force`."""
        meta = obj["metadata"]
        info = await self.resource(obj["apiVersion"], obj["kind"])
        query = [("fieldManager", manager), ("fieldValidation", "Strict")]
        if dry_run:
            query.append(("dryRun", "All"))
        if force:
            query.append(("force", "true"))
        path = info.path(meta.get("namespace") if info.namespaced else None, meta["name"])
        return await self._request("PATCH", path, query=query, body=orjson.dumps(obj),
                                   content_type="application/apply-patch+yaml")  # JSON is YAML

    async def patch(self, kind: str, namespace: str | None, name: str, patch: JsonObject, *,
                    api_version: str | None = None, subresource: str = "", manager: str = FIELD_MANAGER,
                    content_type: str = "application/merge-patch+json") -> JsonObject:
        """A non-apply write (merge patch by default) under `manager`: what a pane action uses,
        so that it never takes the fields of a wizard's applied intent (scale, restart, cordon)."""
        path = kind_info(kind, api_version).path(namespace, name) + (f"/{subresource}" if subresource else "")
        return await self._request("PATCH", path, query=[("fieldManager", manager)], body=patch,
                                   content_type=content_type)

    async def replace(self, path: str, obj: JsonObject, *, manager: str = FIELD_MANAGER) -> JsonObject:
        """PUT `obj` at `path` (whole; without a resourceVersion, whatever the object holds now)."""
        return await self._request("PUT", path, query=[("fieldManager", manager)], body=obj)

    async def merge_patch(self, kind: str, namespace: str | None, name: str, patch: JsonObject,
                          api_version: str | None = None) -> JsonObject:
        return await self.patch(kind, namespace, name, patch, api_version=api_version)

    async def replicas(self, kind: str, namespace: str, name: str) -> int:
        """spec.replicas as the scale subresource reports it."""
        scale = await self._request("GET", kind_info(kind).path(namespace, name) + "/scale")
        return int((scale.get("spec") or {}).get("replicas") or 0)

    async def evict(self, namespace: str, pod: str) -> bool:
        """Evict a pod through the Eviction API (which honours PodDisruptionBudgets); False when
        it was already gone. KubeError 429 when a budget refuses it for now."""
        body = {"apiVersion": "policy/v1", "kind": "Eviction", "metadata": {"name": pod, "namespace": namespace}}
        try:
            await self._request("POST", KINDS["Pod"].path(namespace, pod) + "/eviction", body=body)
        except KubeError as error:
            if error.code == 404:
                return False
            raise
        return True

    async def events_for(self, namespace: str | None, kind: str, name: str) -> list[JsonObject]:
        """The Events about one object, oldest first, as `kubectl describe` lists them."""
        selector = f"involvedObject.kind={kind},involvedObject.name={name}"
        if namespace:
            selector += f",involvedObject.namespace={namespace}"
        items, _ = await self.list_raw("Event", namespace, field_selector=selector)
        return sorted(items, key=lambda e: e.get("lastTimestamp") or e.get("eventTime")
                      or (e.get("metadata") or {}).get("creationTimestamp") or "")

    async def delete(self, kind: str, namespace: str | None, name: str, *, api_version: str | None = None,
                     grace_period: int | None = None, uid: str = "") -> bool:
        """Delete an object; False when it did not exist. With `uid`, only that very object: one
        made again under the same name meanwhile is refused (KubeError 409), not deleted."""
        options: JsonObject = {"kind": "DeleteOptions", "apiVersion": "v1", "propagationPolicy": "Background"}
        if uid:
            options["preconditions"] = {"uid": uid}
        if grace_period is not None:
            options["gracePeriodSeconds"] = grace_period
        try:
            await self._request("DELETE", (await self._kind(kind, api_version)).path(namespace, name), body=options)
        except KubeError as error:
            if error.code == 404:
                return False
            raise
        return True

    # -- logs --------------------------------------------------------------------------------------

    async def stream_logs(self, namespace: str, pod: str, *, follow: bool = False, container: str | None = None,
                          tail_lines: int | None = None, previous: bool = False,
                          timestamps: bool = False) -> AsyncIterator[str]:
        """The pod's log, line by line; with follow=True it goes on until the pod or stream ends.
        `previous`: the last terminated container's log (a CrashLoopBackOff's reason)."""
        query = [("follow", "true" if follow else "false")]
        if container:
            query.append(("container", container))
        if tail_lines is not None:
            query.append(("tailLines", str(tail_lines)))
        if previous:
            query.append(("previous", "true"))
        if timestamps:
            query.append(("timestamps", "true"))
        response = await self._send("GET", f"{KINDS['Pod'].path(namespace, pod)}/log", query=query,
                                    read_timeout=None if follow else self.request_timeout)
        try:
            if response.status >= 400:
                raise KubeError.from_response(response.status, await response.read())
            async for line in response.lines():
                yield line.decode(errors="replace")
        except WIRE_ERRORS as error:
            raise KubeUnreachable(f"log stream from {self.server} lost: {error.__class__.__name__}") from None
        finally:
            response.release()
