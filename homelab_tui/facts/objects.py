"""What the cluster says about the objects a plan would apply (`read_objects`, for deploy and
MetalLB): each object as it is now, and the server's dry run of our intent (its result, its
conflicts with other field managers, or its refusal); for deploy, also whether its kinds are
served (and namespaced) and the node ports taken."""

from __future__ import annotations

import asyncio
from typing import Any

from ..clients.kube import KubeClient, KubeClientError, KubeError, UnknownKind
from ..config import Config
from ..connect import kube_client
from ..plans import PlanError
from ..plans.deploy import DeployAnswers, DeployFacts, desired_objects, intended_kinds
from ..plans.manifests import LiveObject, keep_live_values, object_id

JsonObject = dict[str, Any]


async def deploy_facts(config: Config, answers: DeployAnswers) -> DeployFacts:
    try:
        async with kube_client(config, request_timeout=10.0) as kube:
            kinds = await _served(kube, intended_kinds(answers))
            # Every object the answers could apply, the app's namespace included even where it
            # exists (the plan then leaves it out).
            objects = await read_objects(kube, desired_objects(answers, DeployFacts(kinds)), answers.on_conflict)
            services, _ = await kube.list_raw("Service")
    except KubeError as error:
        raise PlanError("cluster.kubeconfig", f"the API of context {config.cluster.kube_context} refused: {error}") \
            from None
    except (OSError, KubeClientError) as error:
        raise PlanError("cluster.kubeconfig", f"cannot read the cluster ({error})") from None
    node_ports = {str(port["nodePort"]): f"{svc['metadata']['namespace']}/{svc['metadata']['name']}"
                  for svc in services for port in svc["spec"].get("ports") or [] if port.get("nodePort")}
    return DeployFacts(kinds, objects, node_ports)


async def _served(kube: KubeClient, keys: list[str]) -> dict[str, bool]:
    """kind key → namespaced, for the kinds the server serves."""
    served = {}
    for key in keys:
        api_version, kind = key.split(" ", 1)
        try:
            served[key] = (await kube.resource(api_version, kind)).namespaced
        except UnknownKind:
            pass
    return served


async def read_objects(kube: KubeClient, objects: list[JsonObject], on_conflict: str = "") -> dict[str, LiveObject]:
    """Each object as it is now and the server's dry run of it, by `object_id`. Neither is read
    where the object cannot exist yet: in a namespace that does not exist, or of a kind the server
    does not serve (a custom resource whose CRD the plan installs first): the plan creates those."""
    names = sorted({obj["metadata"]["name"] for obj in objects if obj["kind"] == "Namespace"}
                   | {ns for obj in objects if (ns := obj["metadata"].get("namespace"))})
    namespaces = dict(zip(names, await asyncio.gather(*(kube.get("Namespace", None, name) for name in names))))

    async def read(obj: JsonObject) -> LiveObject:
        meta = obj["metadata"]
        if obj["kind"] == "Namespace":
            live = namespaces[meta["name"]]
        elif meta.get("namespace") and namespaces[meta["namespace"]] is None:
            return LiveObject()
        else:
            try:
                live = await kube.get(obj["kind"], meta.get("namespace"), meta["name"], obj["apiVersion"])
            except UnknownKind:
                return LiveObject()
        return await _dry_run(kube, obj, live, on_conflict)

    return dict(zip(map(object_id, objects), await asyncio.gather(*map(read, objects))))


async def _dry_run(kube: KubeClient, obj: JsonObject, live: JsonObject | None, on_conflict: str) -> LiveObject:
    """The dry run of `obj` as it is; on a conflict, as answered: forced, or with the conflicting
    fields at their live values (shared with their manager). The conflicts are kept either way:
    the plan says what forcing takes, and from whom."""
    try:
        return LiveObject(live, await kube.server_side_apply(obj, dry_run=True))
    except KubeError as error:
        if error.code != 409 or not error.conflicts:
            return LiveObject(live, error=error.message or str(error))
        conflicts = error.conflicts
    if on_conflict not in ("force", "keep-live") or live is None:
        return LiveObject(live, conflicts=conflicts)
    try:
        if on_conflict == "force":
            return LiveObject(live, await kube.server_side_apply(obj, dry_run=True, force=True), conflicts)
        shared = keep_live_values(obj, live, list(conflicts))
        return LiveObject(live, await kube.server_side_apply(shared, dry_run=True), conflicts)
    except KubeError as error:
        return LiveObject(live, conflicts=conflicts, error=error.message or str(error))
