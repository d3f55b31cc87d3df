"""The HTTP face of the simulated API server (aiohttp): bearer-token auth, discovery, resource
URLs routed to the verbs with their options (fieldManager, dryRun, fieldValidation, force), list
and watch (resourceVersion, timeoutSeconds, selectors, Table printing), the patch types kubectl
sends (server-side apply too), pod logs (followed too), deployments/scale and pods/eviction.
Warnings go out in Warning headers; every error as the Status body the real API server sends."""

from __future__ import annotations

import asyncio
import hmac
import json
import re
import ssl
import time
from datetime import datetime
from typing import Any

import yaml
from aiohttp import web
from multidict import CIMultiDict

from .crds import CRD_KIND, TypeRegistry
from .discovery import discovery_document
from .logs import LogError, container_run_id, run_key, select_lines, shown
from .logs import stamp as log_stamp
from .errors import KubeApiError, bad_request, not_found, resource_details, status_body
from .objects import labels_of
from .printing import render_columns_table, render_table, selector_text
from .resources import JsonObject, ResourceType
from .selectors import compile_field_selector, compile_label_selector
from .store import Store, Watcher
from .verbs import Verbs, WriteOptions, validate_options

APPLY_PATCH = "application/apply-patch+yaml"
PATCH_TYPES = {"application/merge-patch+json": "merge", "application/strategic-merge-patch+json": "strategic",
               "application/json-patch+json": "json", APPLY_PATCH: "apply"}


class HttpApi:
    """Serves the API on 127.0.0.1 (TLS when given an SSLContext): an OS-picked port the first
    time, the same port after a stop."""

    def __init__(self, store: Store, verbs: Verbs, token: str, ssl_context: ssl.SSLContext | None) -> None:
        self._store = store
        self._verbs = verbs
        self._token = token
        self._ssl_context = ssl_context
        self._runner: web.AppRunner | None = None
        self.port = 0

    @property
    def serving(self) -> bool:
        return self._runner is not None

    async def start(self) -> None:
        app = web.Application(client_max_size=16 * 1024 * 1024)
        app.router.add_route("*", "/{tail:.*}", self._dispatch)
        runner = web.AppRunner(app, access_log=None, shutdown_timeout=2.0)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", self.port, ssl_context=self._ssl_context, reuse_address=True)
        await site.start()
        self._runner = runner
        self.port = runner.addresses[0][1]

    async def stop(self) -> None:
        """End open watches and followed logs, and stop serving."""
        if self._runner is None:
            return
        runner, self._runner = self._runner, None
        self._store.end_streams()
        await runner.cleanup()

    def _authorized(self, request: web.Request) -> bool:
        header = request.headers.get("Authorization", "")
        scheme, _, credential = header.partition(" ")
        return scheme.lower() == "bearer" and hmac.compare_digest(credential.strip().encode(), self._token.encode())

    async def _dispatch(self, request: web.Request) -> web.StreamResponse:
        if not self._authorized(request):
            return _json(status_body(401, "Unauthorized", "Unauthorized"), 401)
        path = request.path.rstrip("/") or "/"
        try:
            discovery = discovery_document(path, self.port, self._store.types.group_versions())
            if discovery is not None:
                if request.method != "GET":
                    raise KubeApiError(405, "MethodNotAllowed", "the server does not allow this method on the "
                                       "requested resource")
                return _json(discovery)
            return await self._serve_resource(request, path)
        except KubeApiError as error:
            return _json(error.status, error.code)
        except (ValueError, KeyError, TypeError) as error:  # malformed input we did not anticipate
            return _json(status_body(400, "BadRequest", f"{error.__class__.__name__}: {error}"), 400)

    async def _serve_resource(self, request: web.Request, path: str) -> web.StreamResponse:
        rt, namespace, name, subresource = _parse_resource_path(self._store.types, path)
        method = request.method
        if subresource and subresource not in rt.subresources:
            raise not_found(rt, f"{name}/{subresource}")
        if subresource == "log":
            return await self._serve_log(request, rt, namespace, name)
        if subresource == "scale":
            return await self._serve_scale(request, rt, namespace, name)
        if subresource == "eviction":
            return await self._serve_eviction(request, namespace or "", name or "")
        if name is None:
            if method == "GET":
                if request.query.get("watch") in ("1", "true", "True"):
                    return await self._serve_watch(request, rt, namespace)
                return self._serve_list(request, rt, namespace)
            if method == "POST":
                if rt.namespaced and namespace is None:
                    raise _method_not_allowed()
                options = _write_options(request, "CreateOptions")
                created = self._verbs.create(rt, namespace or "", await _read_body(request), options)
                return _json(created, 201, options.warnings)
            raise _method_not_allowed()
        namespace = namespace or ""
        if method == "GET":
            obj = self._store.require(rt, namespace, name)
            if wants_table(request) and not subresource:
                return _json(self._table(rt, [obj], obj["metadata"]["resourceVersion"], request))
            return _json(obj)
        if method == "PUT":
            options = _write_options(request, "UpdateOptions")
            updated = self._verbs.replace(rt, namespace, name, await _read_body(request), subresource, options)
            return _json(updated, 200, options.warnings)
        if method == "PATCH":
            return await self._serve_patch(request, rt, namespace, name, subresource)
        if method == "DELETE":
            return await self._serve_delete(request, rt, namespace, name)
        raise _method_not_allowed()

    async def _serve_delete(self, request: web.Request, rt: ResourceType, namespace: str,
                            name: str) -> web.StreamResponse:
        raw = await request.read()
        options = json.loads(raw) if raw.strip() else {}
        dry_run = request.query.getall("dryRun", []) or list(options.get("dryRun") or [])
        validate_options("DeleteOptions", dry_run, "", "", None, apply=False)
        grace = request.query.get("gracePeriodSeconds", options.get("gracePeriodSeconds"))
        removed = self._verbs.delete(rt, namespace, name, None if grace is None else int(grace),
                                     (options.get("preconditions") or {}).get("uid"), bool(dry_run))
        if rt.kind == "Pod":
            return _json(removed)
        return _json({"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success",
                      "details": {**resource_details(rt, name), "uid": removed["metadata"]["uid"]}})

    async def _serve_eviction(self, request: web.Request, namespace: str, name: str) -> web.StreamResponse:
        """POST pods/<name>/eviction with a policy/v1 Eviction: 201 and a graceful delete."""
        if request.method != "POST":
            raise _method_not_allowed()
        options = _write_options(request, "CreateOptions")
        self._verbs.evict(namespace, name, await _read_body(request), options.dry_run)
        return _json({"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success", "code": 201}, 201)

    async def _serve_patch(self, request: web.Request, rt: ResourceType, namespace: str, name: str,
                           subresource: str) -> web.StreamResponse:
        content_type = request.content_type
        if content_type not in PATCH_TYPES:
            raise KubeApiError(415, "UnsupportedMediaType", "the body of the request was in an unknown format - "
                               "accepted media types include: application/json-patch+json, "
                               "application/merge-patch+json, application/apply-patch+yaml")
        options = _write_options(request, "PatchOptions", apply=content_type == APPLY_PATCH)
        raw = await request.read()
        if content_type == APPLY_PATCH:
            try:
                body = yaml.safe_load(raw) or {}
            except yaml.YAMLError as error:
                raise bad_request(f"error decoding YAML: {error}") from None
            obj, created = self._verbs.apply(rt, namespace, name, body, options)
            return _json(obj, 201 if created else 200, options.warnings)
        patched = self._verbs.patch(rt, namespace, name, _decode_json(raw), subresource, options,
                                    PATCH_TYPES[content_type])
        return _json(patched, 200, options.warnings)

    def _table(self, rt: ResourceType, objects: list[JsonObject], resource_version: str,
               request: web.Request) -> JsonObject:
        include = request.query.get("includeObject", "Metadata")
        if rt.kind == CRD_KIND or self._store.types.is_custom(rt):
            return render_columns_table(self._store.types.columns(rt), objects, resource_version, include)
        return render_table(rt, objects, resource_version, include)

    def _serve_list(self, request: web.Request, rt: ResourceType, namespace: str | None) -> web.StreamResponse:
        label_match = compile_label_selector(request.query.get("labelSelector", ""))
        field_match = compile_field_selector(request.query.get("fieldSelector", ""), rt)
        items = [o for o in self._store.select(rt, namespace) if label_match(labels_of(o)) and field_match(o)]
        rv = str(self._store.rv)
        if wants_table(request):
            return _json(self._table(rt, items, rv, request))
        return _json({"kind": f"{rt.kind}List", "apiVersion": rt.api_version,
                      "metadata": {"resourceVersion": rv}, "items": items})

    async def _serve_watch(self, request: web.Request, rt: ResourceType, namespace: str | None) -> web.StreamResponse:
        watcher = Watcher(rt, namespace, compile_label_selector(request.query.get("labelSelector", "")),
                          compile_field_selector(request.query.get("fieldSelector", ""), rt))
        timeout = None
        if "timeoutSeconds" in request.query:
            timeout = float(request.query["timeoutSeconds"])
        elif "timeout" in request.query:
            timeout = parse_go_duration(request.query["timeout"])
        since = request.query.get("resourceVersion", "")
        if not since.isdigit() and since:
            raise bad_request(f"invalid resource version: {since!r}")
        # Replay and subscribe in one synchronous step, so no change can slip in between.
        if since in ("", "0"):
            for obj in self._store.select(rt, namespace):
                if watcher.matches(obj):
                    watcher.queue.put_nowait(("ADDED", obj))
        elif int(since) < self._store.compacted_rv:
            watcher.queue.put_nowait(("ERROR", self._store.expired_status(int(since))))
            watcher.queue.put_nowait(None)
        else:
            for change in self._store.history:
                if change.rv > int(since):
                    watcher.offer(change)
        self._store.watchers.add(watcher)
        response = web.StreamResponse(headers={"Content-Type": "application/json",
                                               "Cache-Control": "no-cache, private"})
        try:
            await response.prepare(request)
            table = wants_table(request)
            deadline = None if timeout is None else asyncio.get_running_loop().time() + timeout
            while True:
                remaining = 1.0 if deadline is None else deadline - asyncio.get_running_loop().time()
                if remaining <= 0 or request.transport is None or request.transport.is_closing():
                    break
                try:
                    item = await asyncio.wait_for(watcher.queue.get(), timeout=min(remaining, 1.0))
                except TimeoutError:
                    continue
                if item is None:
                    break
                event_type, obj = item
                if table and event_type != "ERROR":
                    obj = self._table(rt, [obj], obj["metadata"]["resourceVersion"], request)
                await response.write(json.dumps({"type": event_type, "object": obj}).encode() + b"\n")
            await response.write_eof()
        except (ConnectionResetError, asyncio.CancelledError):
            pass
        finally:
            self._store.watchers.discard(watcher)
        return response

    async def _serve_log(self, request: web.Request, rt: ResourceType, namespace: str | None,
                         name: str | None) -> web.StreamResponse:
        """A container's log as the kubelet serves it: the run the kubelet's rules pick
        (`previous` for the last terminated one), `tailLines`, `sinceSeconds`/`sinceTime`,
        `timestamps`, and `follow` until the run ends (kube/logs.py)."""
        pod = self._store.require(rt, namespace or "", name or "")
        containers = [c["name"] for c in pod["spec"]["containers"]]
        query = request.query
        container = query.get("container")
        if container is None and len(containers) > 1:
            raise bad_request(f"a container name must be specified for pod {name}, choose one of: "
                              f"[{' '.join(containers)}]")
        if container is not None and container not in containers:
            raise bad_request(f"container {container} is not valid for pod {name}")
        truthy = ("1", "true", "True")
        previous = query.get("previous") in truthy
        try:
            run_id = container_run_id(pod, container or containers[0], previous)
        except LogError as error:
            raise bad_request(str(error)) from None
        key = run_key(namespace or "", name or "", run_id)
        since = None
        if "sinceSeconds" in query:
            since = log_stamp(time.time_ns() - int(query["sinceSeconds"]) * 1_000_000_000)
        elif "sinceTime" in query:
            when = datetime.fromisoformat(query["sinceTime"].replace("Z", "+00:00"))
            since = log_stamp(int(when.timestamp()) * 1_000_000_000)
        timestamps = query.get("timestamps") in truthy
        lines = select_lines(self._store.logs.get(key, []), tail=int(query["tailLines"]) if "tailLines" in query
                             else None, since=since)
        status = next(s for s in pod["status"]["containerStatuses"] if s["name"] == (container or containers[0]))
        follow = (query.get("follow") in truthy and not previous
                  and (status.get("state") or {}).get("running") is not None and key in self._store.logs)
        queue: asyncio.Queue[str | None] = asyncio.Queue()
        if follow:  # subscribed before the first write, so no line falls between
            self._store.log_followers.setdefault(key, set()).add(queue)
        response = web.StreamResponse(headers={"Content-Type": "text/plain"})
        try:
            await response.prepare(request)
            await response.write("".join(f"{shown(line, timestamps)}\n" for line in lines).encode())
            while follow and self.serving:
                batch = [await queue.get()]
                while not queue.empty() and len(batch) < 1000:
                    batch.append(queue.get_nowait())
                ended = None in batch
                await response.write("".join(f"{shown(line, timestamps)}\n" for line in batch if line is not None)
                                     .encode())
                if ended:
                    break
            await response.write_eof()
        except (ConnectionResetError, asyncio.CancelledError):
            pass
        finally:
            self._store.log_followers.get(key, set()).discard(queue)
        return response

    async def _serve_scale(self, request: web.Request, rt: ResourceType, namespace: str | None,
                           name: str | None) -> web.StreamResponse:
        namespace, name = namespace or "", name or ""
        if request.method in ("PUT", "PATCH"):
            options = _write_options(request, "UpdateOptions" if request.method == "PUT" else "PatchOptions")
            body = await _read_body(request) if request.method == "PUT" else _decode_json(await request.read())
            replicas = (body.get("spec") or {}).get("replicas")
            if replicas is not None:
                self._verbs.patch(rt, namespace, name, {"spec": {"replicas": replicas}}, "scale", options)
        elif request.method != "GET":
            raise KubeApiError(405, "MethodNotAllowed", "the server does not allow this method")
        deploy = self._store.require(rt, namespace, name)
        meta = deploy["metadata"]
        return _json({
            "kind": "Scale", "apiVersion": "autoscaling/v1",
            "metadata": {k: meta[k] for k in ("name", "namespace", "uid", "resourceVersion", "creationTimestamp")},
            "spec": {"replicas": deploy["spec"].get("replicas", 1)},
            "status": {"replicas": deploy.get("status", {}).get("replicas", 0),
                       "selector": selector_text(deploy["spec"]["selector"].get("matchLabels"))},
        })


def _json(body: JsonObject, status: int = 200, warnings: list[str] | tuple[str, ...] = ()) -> web.Response:
    headers = CIMultiDict((("Warning", f"299 - {json.dumps(text)}") for text in warnings))
    return web.Response(body=json.dumps(body).encode(), status=status, content_type="application/json",
                        headers=headers)


def _method_not_allowed() -> KubeApiError:
    return KubeApiError(405, "MethodNotAllowed", "the server does not allow this method on the requested resource")


def _write_options(request: web.Request, kind: str, apply: bool = False) -> WriteOptions:
    """The options of a write from its query (422 when one is bad). Without a fieldManager the
    manager is the user agent's first word, as the real server names it (`kubectl`, `Python`)."""
    query = request.query
    dry_run = query.getall("dryRun", [])
    manager = query.get("fieldManager", "")
    validation = query.get("fieldValidation", "")
    force = query.get("force")
    validate_options(kind, dry_run, manager, validation, force, apply)
    if not manager:
        agent = request.headers.get("User-Agent", "").split("/")[0]
        manager = "".join(ch for ch in agent if ch.isprintable())[:128]
    return WriteOptions(manager, bool(dry_run), validation or "Warn", force in ("true", "True", "1"))


def _decode_json(raw: bytes) -> Any:
    try:
        return json.loads(raw)
    except ValueError as error:
        raise bad_request(f"error decoding request body: {error}") from None


async def _read_body(request: web.Request) -> JsonObject:
    raw = await request.read()
    try:
        body = yaml.safe_load(raw) if "yaml" in request.content_type else _decode_json(raw)
    except yaml.YAMLError as error:
        raise bad_request(f"error decoding YAML: {error}") from None
    if not isinstance(body, dict):
        raise bad_request("the request body must be an object")
    return body


def _parse_resource_path(types: TypeRegistry, path: str) -> tuple[ResourceType, str | None, str | None, str]:
    """(type, namespace, name, subresource) of a resource URL, or 404."""
    parts = path.strip("/").split("/")
    prefix_len = 2 if parts[0] == "api" else 3
    base = "/" + "/".join(parts[:prefix_len])
    rest = parts[prefix_len:]
    namespace = None
    if len(rest) >= 3 and rest[0] == "namespaces" and types.by_path(base, rest[2]) is not None:
        namespace, rest = rest[1], rest[2:]
    rt = types.by_path(base, rest[0]) if rest else None
    if rt is None or len(rest) > 3:
        raise KubeApiError(404, "NotFound", "the server could not find the requested resource",
                           {"causes": [{"reason": "UnexpectedServerResponse", "message": "404 page not found"}]})
    if rt.namespaced is False and namespace is not None:
        raise KubeApiError(404, "NotFound", "the server could not find the requested resource")
    return rt, namespace, rest[1] if len(rest) > 1 else None, rest[2] if len(rest) > 2 else ""



def parse_go_duration(text: str) -> float:
    """Seconds in a Go duration such as "30s", "1m30s" or "500ms" (kubectl's `timeout` parameter)."""
    units = {"h": 3600.0, "m": 60.0, "s": 1.0, "ms": 0.001, "us": 1e-6, "µs": 1e-6, "ns": 1e-9}
    parts = re.findall(r"(\d+(?:\.\d+)?)(h|ms|m|s|us|µs|ns)", text)
    if not parts or "".join(n + u for n, u in parts) != text:
        raise bad_request(f"invalid timeout {text!r}")
    return sum(float(n) * units[u] for n, u in parts)



def wants_table(request: web.Request) -> bool:
    return "as=Table" in request.headers.get("Accept", "")
