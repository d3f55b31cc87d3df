"""What the cluster says about the objects a deploy would apply: whether their kinds are served
(and namespaced), each object as it is now, and the server's dry run of our intent (its result,
its conflicts with other field managers, or its refusal)."""

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
            # First every object the answers could apply (each namespace included), as it is now;
            # then the dry run of exactly what will be applied, given which namespaces exist.
            candidates = desired_objects(answers, DeployFacts(kinds))
            live = dict(zip(map(object_id, candidates), await asyncio.gather(*(_live(kube, obj) for obj in candidates))))
            facts = DeployFacts(kinds, {key: LiveObject(value) for key, value in live.items()})
            existing = {obj["metadata"]["name"] for obj in candidates if obj["kind"] == "Namespace" and live[object_id(obj)]}
            wanted = desired_objects(answers, facts)
            read = await asyncio.gather(*(
                _dry_run(kube, obj, live[object_id(obj)], answers.on_conflict)
                if obj["metadata"].get("namespace", "") in ("", *existing) else _skipped(live[object_id(obj)])
                for obj in wanted))
            services, _ = await kube.list_raw("Service")
    except KubeError as error:
        raise PlanError("cluster.kubeconfig", f"the API of context {config.cluster.kube_context} refused: {error}") \
            from None
    except (OSError, KubeClientError) as error:
        raise PlanError("cluster.kubeconfig", f"cannot read the cluster ({error})") from None
    node_ports = {str(port["nodePort"]): f"{svc['metadata']['namespace']}/{svc['metadata']['name']}"
                  for svc in services for port in svc["spec"].get("ports") or [] if port.get("nodePort")}
    return DeployFacts(kinds, {**facts.objects, **dict(zip(map(object_id, wanted), read))}, node_ports)


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


async def _live(kube: KubeClient, obj: JsonObject) -> JsonObject | None:
    meta = obj["metadata"]
    return await kube.get(obj["kind"], meta.get("namespace"), meta["name"], obj["apiVersion"])


async def _skipped(live: JsonObject | None) -> LiveObject:
    """An object in a namespace the plan creates: nothing to dry-run against yet."""
    return LiveObject(live)


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
