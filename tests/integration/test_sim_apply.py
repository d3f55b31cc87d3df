"""The simulated API server's writes as a client sees them on the wire: server-side apply with
managedFields and conflicts, dryRun=All, strict field validation, CRDs, MetalLB's webhook right
after its install, and the Eviction API. The messages are the real API server's."""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import aiohttp
import pytest

from homelab_tui.sim.kube_api import KubeApiSim
from tests.integration.conftest import running_kube_sim

TOKEN = "apply-test-token-4d1c"
DEPLOYMENTS = "/apis/apps/v1/namespaces/default/deployments"


@dataclass
class Reply:
    status: int
    body: Any
    warnings: list[str]


Http = Callable[..., Awaitable[Reply]]


def serving(controller_delay: float) -> contextlib.AbstractAsyncContextManager[KubeApiSim]:
    return running_kube_sim(TOKEN, [("node1", "192.168.40.103")], metallb_webhook_warmup=0.5,
                            controller_delay=controller_delay)


@pytest.fixture
async def sim() -> AsyncIterator[KubeApiSim]:
    async with serving(0.0) as server:
        yield server


@pytest.fixture
async def quiet() -> AsyncIterator[KubeApiSim]:
    """A server whose controller waits an hour: only the test's own writes change anything."""
    async with serving(3600.0) as server:
        yield server


@pytest.fixture
async def http(sim: KubeApiSim) -> AsyncIterator[Http]:
    async with client(sim) as call:
        yield call


@pytest.fixture
async def quiet_http(quiet: KubeApiSim) -> AsyncIterator[Http]:
    async with client(quiet) as call:
        yield call


@contextlib.asynccontextmanager
async def client(sim: KubeApiSim) -> AsyncIterator[Http]:
    async with aiohttp.ClientSession(headers={"Authorization": f"Bearer {TOKEN}"}) as session:

        async def call(method: str, path: str, body: Any = None, content_type: str = "application/json",
                       **params: str) -> Reply:
            data = None if body is None else json.dumps(body)
            async with session.request(method, sim.url + path, data=data, params=params,
                                       headers={"Content-Type": content_type}, ssl=sim.client_ssl_context()) as resp:
                return Reply(resp.status, await resp.json(content_type=None), resp.headers.getall("Warning", []))

        yield call


def apply(http: Http, path: str, body: Any, manager: str = "homelab-tui", **params: str) -> Awaitable[Reply]:
    return http("PATCH", path, body, "application/apply-patch+yaml", fieldManager=manager, **params)


def deployment(name: str = "web", replicas: int = 1, labels: dict[str, str] | None = None,
               image: str = "nginx:1.27") -> dict[str, Any]:
    return {"apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": name, "namespace": "default", "labels": labels or {"app": name}},
            "spec": {"replicas": replicas, "selector": {"matchLabels": {"app": name}},
                     "template": {"metadata": {"labels": {"app": name}},
                                  "spec": {"containers": [{"name": name, "image": image,
                                                           "ports": [{"containerPort": 80}]}]}}}}


def managers(obj: dict[str, Any]) -> dict[tuple[str, str], dict[str, Any]]:
    return {(e["manager"], e["operation"]): e["fieldsV1"] for e in obj["metadata"].get("managedFields", [])}


async def watch_events(sim: KubeApiSim, path: str, since: int, seconds: str = "0.5") -> list[dict[str, Any]]:
    async with aiohttp.ClientSession(headers={"Authorization": f"Bearer {TOKEN}"}) as session:
        async with session.get(sim.url + path, params={"watch": "true", "resourceVersion": str(since),
                                                       "timeoutSeconds": seconds},
                               ssl=sim.client_ssl_context()) as resp:
            return [json.loads(line) for line in (await resp.read()).splitlines() if line.strip()]


async def test_apply_creates_then_an_unchanged_intent_changes_nothing(quiet_http: Http) -> None:
    http = quiet_http
    created = await apply(http, f"{DEPLOYMENTS}/web", deployment())
    assert created.status == 201
    fields = managers(created.body)[("homelab-tui", "Apply")]
    assert fields["f:spec"]["f:replicas"] == {} and fields["f:spec"]["f:selector"] == {}
    container = fields["f:spec"]["f:template"]["f:spec"]["f:containers"]['k:{"name":"web"}']
    assert container["."] == {} and container["f:image"] == {}
    assert 'k:{"containerPort":80,"protocol":"TCP"}' in container["f:ports"]
    assert "f:name" not in fields["f:metadata"]  # the server's own fields are nobody's
    assert created.body["metadata"]["managedFields"][0]["fieldsType"] == "FieldsV1"

    again = await apply(http, f"{DEPLOYMENTS}/web", deployment())
    assert again.status == 200
    assert again.body["metadata"]["resourceVersion"] == created.body["metadata"]["resourceVersion"]
    assert again.body["metadata"]["generation"] == 1 and again.body["metadata"]["managedFields"] == \
        created.body["metadata"]["managedFields"]

    relabelled = await apply(http, f"{DEPLOYMENTS}/web", deployment(labels={"app": "web", "tier": "front"}))
    assert relabelled.body["metadata"]["generation"] == 1  # metadata only
    scaled = await apply(http, f"{DEPLOYMENTS}/web", deployment(replicas=2, labels={"app": "web", "tier": "front"}))
    assert scaled.body["metadata"]["generation"] == 2 and scaled.body["spec"]["replicas"] == 2


async def test_apply_needs_a_field_manager(http: Http) -> None:
    reply = await http("PATCH", f"{DEPLOYMENTS}/web", deployment(), "application/apply-patch+yaml")
    assert reply.status == 422
    assert reply.body["message"] == ('PatchOptions.meta.k8s.io "" is invalid: fieldManager: Required value: is '
                                     "required for apply patch")
    assert reply.body["details"]["causes"][0]["field"] == "fieldManager"
    forced = await http("PATCH", f"{DEPLOYMENTS}/web", {"spec": {}}, "application/merge-patch+json", force="true")
    assert forced.status == 422
    assert "force: Forbidden: may not be specified for non-apply patch" in forced.body["message"]


async def test_a_field_another_manager_changed_conflicts_until_forced(http: Http) -> None:
    await http("POST", DEPLOYMENTS, deployment(), fieldManager="kubectl-client-side-apply")
    scaled = await http("PATCH", f"{DEPLOYMENTS}/web", {"spec": {"replicas": 3}}, "application/merge-patch+json",
                        fieldManager="kubectl-edit")
    assert managers(scaled.body)[("kubectl-edit", "Update")] == {"f:spec": {"f:replicas": {}}}

    refused = await apply(http, f"{DEPLOYMENTS}/web", deployment(replicas=5))
    assert refused.status == 409 and refused.body["reason"] == "Conflict"
    assert refused.body["message"] == ('Apply failed with 1 conflict: conflict with "kubectl-edit" using apps/v1: '
                                       ".spec.replicas")
    assert refused.body["details"]["causes"] == [{"type": "FieldManagerConflict", "field": ".spec.replicas",
                                                  "message": 'conflict with "kubectl-edit" using apps/v1'}]

    shared = await apply(http, f"{DEPLOYMENTS}/web", deployment(replicas=3))  # the same value: shared
    assert shared.status == 200
    owners = managers(shared.body)
    assert "f:replicas" in owners[("homelab-tui", "Apply")]["f:spec"]
    assert owners[("kubectl-edit", "Update")] == {"f:spec": {"f:replicas": {}}}

    forced = await apply(http, f"{DEPLOYMENTS}/web", deployment(replicas=5), force="true")
    assert forced.status == 200 and forced.body["spec"]["replicas"] == 5
    assert ("kubectl-edit", "Update") not in managers(forced.body)


async def test_fields_an_apply_drops_are_removed_unless_someone_else_owns_them(http: Http) -> None:
    await apply(http, f"{DEPLOYMENTS}/web", deployment(labels={"app": "web", "tier": "front", "team": "a"}))
    relabelled = await http("PATCH", f"{DEPLOYMENTS}/web", {"metadata": {"labels": {"team": "b"}}},
                            "application/merge-patch+json", fieldManager="labeller")  # takes the label
    assert managers(relabelled.body)[("labeller", "Update")] == {"f:metadata": {"f:labels": {"f:team": {}}}}
    trimmed = await apply(http, f"{DEPLOYMENTS}/web", deployment(labels={"app": "web"}))
    assert trimmed.body["metadata"]["labels"] == {"app": "web", "team": "b"}  # tier removed, team kept


async def test_dry_run_stores_nothing(quiet: KubeApiSim, quiet_http: Http) -> None:
    sim, http = quiet, quiet_http
    await apply(http, f"{DEPLOYMENTS}/web", deployment())
    before = sim.resource_version
    preview = await apply(http, f"{DEPLOYMENTS}/web", deployment(replicas=4), dryRun="All")
    assert preview.status == 200 and preview.body["spec"]["replicas"] == 4
    new = await apply(http, f"{DEPLOYMENTS}/other", deployment("other"), dryRun="All")
    assert new.status == 201 and new.body["metadata"]["uid"]
    service = {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "np"},
               "spec": {"type": "NodePort", "ports": [{"port": 80}]}}
    would_be = await http("POST", "/api/v1/namespaces/default/services", service, dryRun="All")
    assert would_be.status == 201 and would_be.body["spec"]["ports"][0]["nodePort"] == 30000
    deleted = await http("DELETE", f"{DEPLOYMENTS}/web", dryRun="All")
    assert deleted.status == 200

    assert sim.resource_version == before
    assert await watch_events(sim, DEPLOYMENTS, before) == []
    assert sim.get("Deployment", "default", "web")["spec"]["replicas"] == 1
    assert sim.get("Deployment", "default", "other") is None and sim.get("Service", "default", "np") is None
    stored = await http("POST", "/api/v1/namespaces/default/services", service)
    assert stored.body["spec"]["ports"][0]["nodePort"] == 30000  # the dry run kept no port

    bad = await apply(http, f"{DEPLOYMENTS}/web", deployment(), dryRun="Yes")
    assert bad.status == 422 and bad.body["message"] == ('PatchOptions.meta.k8s.io "" is invalid: dryRun: Unsupported '
                                                         'value: []string{"Yes"}: supported values: "All"')


async def test_unknown_fields_as_the_real_server_reports_them(sim: KubeApiSim, http: Http) -> None:
    typo = deployment()
    typo["spec"]["replicass"] = 2
    strict = await http("POST", DEPLOYMENTS, typo, fieldValidation="Strict")
    assert strict.status == 400 and strict.body["reason"] == "BadRequest"
    assert strict.body["message"] == ('Deployment in version "v1" cannot be handled as a Deployment: strict decoding '
                                      'error: unknown field "spec.replicass"')

    warned = await http("POST", DEPLOYMENTS, typo, fieldValidation="Warn")
    assert warned.status == 201 and warned.warnings == ['299 - "unknown field \\"spec.replicass\\""']
    assert "replicass" not in warned.body["spec"]  # dropped, as the decoder drops it

    patched = await http("PATCH", f"{DEPLOYMENTS}/web", {"spec": {"replicass": 3}},
                         "application/strategic-merge-patch+json", fieldValidation="Strict")
    assert patched.status == 422
    assert patched.body["message"] == (' "" is invalid: patch: Invalid value: "map[spec:map[replicass:3]]": strict '
                                       'decoding error: unknown field "spec.replicass"')

    # Server-side apply refuses unknown fields whatever fieldValidation says: a 500 without a reason.
    applied = await apply(http, f"{DEPLOYMENTS}/web", typo, fieldValidation="Ignore")
    assert applied.status == 500 and "reason" not in applied.body
    assert applied.body["message"] == ("failed to create typed patch object (default/web; apps/v1, Kind=Deployment): "
                                       ".spec.replicass: field not declared in schema")
    nested = deployment()
    nested["spec"]["template"]["spec"]["containers"][0]["imagee"] = "x"
    applied = await apply(http, f"{DEPLOYMENTS}/web", nested)
    assert applied.body["message"].endswith('.spec.template.spec.containers[name="web"].imagee: field not declared '
                                            "in schema")


WIDGETS = "/apis/example.org/v1/namespaces/default/widgets"


def widget_crd() -> dict[str, Any]:
    schema = {"type": "object", "properties": {
        "spec": {"type": "object", "required": ["size"], "properties": {
            "size": {"type": "integer"}, "color": {"type": "string", "default": "blue"}}},
        "status": {"type": "object", "x-kubernetes-preserve-unknown-fields": True}}}
    return {"apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
            "metadata": {"name": "widgets.example.org"},
            "spec": {"group": "example.org", "scope": "Namespaced",
                     "names": {"kind": "Widget", "plural": "widgets", "shortNames": ["wd"]},
                     "versions": [{"name": "v1", "served": True, "storage": True,
                                   "schema": {"openAPIV3Schema": schema},
                                   "additionalPrinterColumns": [
                                       {"name": "Size", "type": "integer", "jsonPath": ".spec.size"},
                                       {"name": "Age", "type": "date", "jsonPath": ".metadata.creationTimestamp"}]}]}}


async def test_a_crd_serves_its_kind_until_it_is_deleted(sim: KubeApiSim, http: Http) -> None:
    assert (await http("GET", WIDGETS)).status == 404
    crd = await http("POST", "/apis/apiextensions.k8s.io/v1/customresourcedefinitions", widget_crd())
    assert crd.status == 201
    assert {c["type"]: c["status"] for c in crd.body["status"]["conditions"]} == {
        "NamesAccepted": "True", "Established": "True"}
    groups = (await http("GET", "/apis")).body
    assert {"name": "example.org", "versions": [{"groupVersion": "example.org/v1", "version": "v1"}],
            "preferredVersion": {"groupVersion": "example.org/v1", "version": "v1"}} in groups["groups"]
    resources = (await http("GET", "/apis/example.org/v1")).body["resources"]
    assert [(r["name"], r["kind"], r["shortNames"]) for r in resources] == [("widgets", "Widget", ["wd"])]
    assert "patch" in resources[0]["verbs"]

    since = sim.resource_version
    watch = asyncio.create_task(watch_events(sim, WIDGETS, since, seconds="30"))
    made = await apply(http, f"{WIDGETS}/w1", {"apiVersion": "example.org/v1", "kind": "Widget",
                                                 "metadata": {"name": "w1"}, "spec": {"size": 3}})
    assert made.status == 201 and made.body["spec"] == {"size": 3, "color": "blue"}  # defaulted from the schema
    assert made.body["metadata"]["generation"] == 1
    invalid = await http("POST", WIDGETS, {"apiVersion": "example.org/v1", "kind": "Widget",
                                           "metadata": {"name": "w2"}, "spec": {"size": "big"}})
    assert invalid.status == 422 and 'Widget.example.org "w2" is invalid: spec.size' in invalid.body["message"]
    unknown = await apply(http, f"{WIDGETS}/w1", {"apiVersion": "example.org/v1", "kind": "Widget",
                                                    "metadata": {"name": "w1"}, "spec": {"size": 3, "shape": "x"}})
    assert unknown.status == 500 and ".spec.shape: field not declared in schema" in unknown.body["message"]

    table = await http("GET", WIDGETS)
    assert [i["metadata"]["name"] for i in table.body["items"]] == ["w1"]
    async with aiohttp.ClientSession(headers={"Authorization": f"Bearer {TOKEN}",
                                              "Accept": "application/json;as=Table;v=v1;g=meta.k8s.io"}) as session:
        async with session.get(sim.url + WIDGETS, ssl=sim.client_ssl_context()) as resp:
            printed = await resp.json()
    assert [c["name"] for c in printed["columnDefinitions"]] == ["Name", "Size", "Age"]
    assert printed["rows"][0]["cells"][:2] == ["w1", 3]

    gone = await http("DELETE", "/apis/apiextensions.k8s.io/v1/customresourcedefinitions/widgets.example.org")
    assert gone.status == 200
    events = await asyncio.wait_for(watch, 5)  # the watch ends with the type
    assert [(e["type"], e["object"]["metadata"]["name"]) for e in events] == [("ADDED", "w1"), ("DELETED", "w1")]
    assert (await http("GET", WIDGETS)).status == 404
    assert "example.org" not in {g["name"] for g in (await http("GET", "/apis")).body["groups"]}


POOLS = "/apis/metallb.io/v1beta1/namespaces/metallb-system/ipaddresspools"


def pool(name: str, addresses: list[str]) -> dict[str, Any]:
    return {"apiVersion": "metallb.io/v1beta1", "kind": "IPAddressPool",
            "metadata": {"name": name, "namespace": "metallb-system"}, "spec": {"addresses": addresses}}


async def test_metallb_pools_are_served_after_its_install_and_its_webhook_warms_up(sim: KubeApiSim,
                                                                                  http: Http) -> None:
    assert (await apply(http, f"{POOLS}/lan", pool("lan", ["10.0.0.5-10.0.0.10"]))).status == 404
    sim.install_metallb()
    webhook_ip = sim.get("Service", "metallb-system", "metallb-webhook-service")["spec"]["clusterIP"]
    refusals = set()
    started = time.monotonic()
    while (reply := await apply(http, f"{POOLS}/lan", pool("lan", ["10.0.0.5-10.0.0.10"]))).status == 500:
        assert reply.body["reason"] == "InternalError"
        refusals.add(reply.body["message"])
        assert time.monotonic() - started < 10
        await asyncio.sleep(0.05)
    url = ("https://metallb-webhook-service.metallb-system.svc:443/validate-metallb-io-v1beta1-ipaddresspool"
           "?timeout=10s")
    assert (f'Internal error occurred: failed calling webhook "ipaddresspoolvalidationwebhook.metallb.io": failed to '
            f'call webhook: Post "{url}": dial tcp {webhook_ip}:443: connect: connection refused') in refusals
    assert reply.status == 201 and reply.body["spec"]["autoAssign"] is True
    assert time.monotonic() - started >= 0.5

    overlap = await apply(http, f"{POOLS}/other", pool("other", ["10.0.0.8/30"]))
    assert overlap.status == 403
    assert overlap.body["message"] == ('admission webhook "ipaddresspoolvalidationwebhook.metallb.io" denied the '
                                       'request: CIDR "10.0.0.8/30" in pool "other" overlaps with already defined '
                                       'CIDR "10.0.0.5-10.0.0.10"')


async def test_eviction_deletes_the_pod_gracefully(sim: KubeApiSim, http: Http) -> None:
    await apply(http, f"{DEPLOYMENTS}/web", deployment())
    deadline = time.monotonic() + 5
    while not (pods := [p for p in sim.list("Pod", "default") if p.get("status", {}).get("phase") == "Running"]):
        assert time.monotonic() < deadline
        await asyncio.sleep(0.05)
    name = pods[0]["metadata"]["name"]
    eviction = {"apiVersion": "policy/v1", "kind": "Eviction", "metadata": {"name": name, "namespace": "default"}}
    reply = await http("POST", f"/api/v1/namespaces/default/pods/{name}/eviction", eviction)
    assert reply.status == 201 and reply.body["status"] == "Success"
    while (gone := sim.get("Pod", "default", name)) is not None:
        assert gone["metadata"].get("deletionTimestamp") and time.monotonic() < deadline + 5
        await asyncio.sleep(0.05)

    missing = await http("POST", "/api/v1/namespaces/default/pods/nope/eviction",
                         {**eviction, "metadata": {"name": "nope"}})
    assert missing.status == 404 and missing.body["message"] == 'pods "nope" not found'
    core = (await http("GET", "/api/v1")).body["resources"]
    assert {"name": "pods/eviction", "singularName": "", "namespaced": True, "group": "policy", "version": "v1",
            "kind": "Eviction", "verbs": ["create"]} in core


async def test_re_applying_a_crd_changes_nothing(quiet_http: Http) -> None:
    path = "/apis/apiextensions.k8s.io/v1/customresourcedefinitions/widgets.example.org"
    first = await apply(quiet_http, path, widget_crd())
    again = await apply(quiet_http, path, widget_crd())
    assert (first.status, again.status) == (201, 200)
    assert again.body["metadata"]["resourceVersion"] == first.body["metadata"]["resourceVersion"]
