"""Discovery for the simulated API server: /version, /api, /apis, each group and group
version's resource list (verbs, short names, categories, subresources), and the minimal OpenAPI
v3 documents kubectl reads before it patches. The types are those served now: the built-in ones
and the ones CRDs add."""

from __future__ import annotations

import zlib

from .resources import K3S_VERSION, JsonObject, ResourceType

RESOURCE_VERBS = ["create", "delete", "get", "list", "patch", "update", "watch"]
# name -> (kind, group, version, verbs) of a subresource; "" group/version: the parent's own.
SUBRESOURCES = {
    "status": ("", "", "", ["get", "patch", "update"]),
    "scale": ("Scale", "autoscaling", "v1", ["get", "patch", "update"]),
    "log": ("Pod", "", "", ["get"]),
    "eviction": ("Eviction", "policy", "v1", ["create"]),
}
GroupVersions = dict[str, list[ResourceType]]


def _hash(types: list[ResourceType]) -> str:
    """The hash kubectl caches a group version's OpenAPI document by: it changes with the types."""
    return f"{zlib.crc32(repr((K3S_VERSION, types)).encode()):08X}"


def openapi_v3_document(group_versions: GroupVersions, group_version_path: str) -> JsonObject:
    """A minimal OpenAPI v3 document for one group version: just enough for kubectl to see that
    PATCH accepts `fieldValidation`, so it validates on the server instead of fetching schemas."""
    paths: JsonObject = {}
    for rt in group_versions[group_version_path]:
        item_path = (f"{rt.base_path}/namespaces/{{namespace}}/{rt.plural}/{{name}}" if rt.namespaced
                     else f"{rt.base_path}/{rt.plural}/{{name}}")
        paths[item_path] = {"patch": {
            "operationId": f"patch{rt.kind}",
            "x-kubernetes-action": "patch",
            "x-kubernetes-group-version-kind": {"group": rt.group, "version": rt.version, "kind": rt.kind},
            "parameters": [{"name": name, "in": "query", "schema": {"type": "string", "uniqueItems": True}}
                           for name in ("dryRun", "fieldManager", "fieldValidation", "force")],
            "responses": {"200": {"description": "OK"}},
        }}
    return {"openapi": "3.0.0", "info": {"title": "Kubernetes", "version": K3S_VERSION}, "paths": paths,
            "components": {"schemas": {}}}


def discovery_document(path: str, port: int, group_versions: GroupVersions) -> JsonObject | None:
    """The discovery answer for `path` (None when it is no discovery path), for the types served."""
    if path == "/version":
        return {"major": "1", "minor": "31", "gitVersion": K3S_VERSION, "gitCommit":
                "a6b1e4d5ba4e2ab7a5b3c6d1a3b6c8e2f1d0a9b8", "gitTreeState": "clean",
                "buildDate": "2024-12-13T05:58:25Z", "goVersion": "go1.22.9", "compiler": "gc",
                "platform": "linux/arm64"}
    if path == "/api":
        return {"kind": "APIVersions", "versions": ["v1"], "serverAddressByClientCIDRs":
                [{"clientCIDR": "0.0.0.0/0", "serverAddress": f"127.0.0.1:{port}"}]}
    if path == "/apis":
        by_group: dict[str, list[JsonObject]] = {}
        for gv in group_versions:
            if gv.startswith("/apis/"):
                group, version = gv.split("/")[2:4]
                by_group.setdefault(group, []).append({"groupVersion": f"{group}/{version}", "version": version})
        groups = [{"name": group, "versions": entries, "preferredVersion": entries[0]}
                  for group, entries in by_group.items()]
        return {"kind": "APIGroupList", "apiVersion": "v1", "groups": groups}
    group = path.removeprefix("/apis/")
    versions = [gv.removeprefix("/apis/") for gv in group_versions if gv.startswith(f"/apis/{group}/")]
    if path.startswith("/apis/") and "/" not in group and versions:
        entries = [{"groupVersion": gv, "version": gv.split("/")[1]} for gv in versions]
        return {"kind": "APIGroup", "apiVersion": "v1", "name": group, "versions": entries,
                "preferredVersion": entries[0]}
    if path == "/openapi/v3":
        return {"paths": {gv.lstrip("/"): {"serverRelativeURL": f"/openapi/v3{gv}?hash={_hash(types)}"}
                          for gv, types in group_versions.items()}}
    if path.startswith("/openapi/v3/") and path.removeprefix("/openapi/v3") in group_versions:
        return openapi_v3_document(group_versions, path.removeprefix("/openapi/v3"))
    if path in group_versions:
        resources = []
        for rt in group_versions[path]:
            resources.append({"name": rt.plural, "singularName": rt.kind.lower(), "namespaced": rt.namespaced,
                              "kind": rt.kind, "verbs": RESOURCE_VERBS, "shortNames": list(rt.short_names),
                              "categories": list(rt.categories)})
            for sub in rt.subresources:
                kind, group, version, verbs = SUBRESOURCES.get(sub, ("", "", "", ["get"]))
                resources.append({"name": f"{rt.plural}/{sub}", "singularName": "", "namespaced": rt.namespaced,
                                  **({"group": group, "version": version} if group else {}),
                                  "kind": kind or rt.kind, "verbs": verbs})
        return {"kind": "APIResourceList", "apiVersion": "v1",
                "groupVersion": path.removeprefix("/apis/").removeprefix("/api/"), "resources": resources}
    return None
