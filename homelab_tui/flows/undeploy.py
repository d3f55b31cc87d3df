"""Undeploy: the objects deploy made for an app, found by its labels in every kind the API
serves, removed."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import TYPE_CHECKING

from ..clients.kube import KubeClientError
from ..config import Config
from ..connect import kube_client
from ..plans import PlanError, Staged
from ..plans.deploy import name_problem
from ..plans.undeploy import Found, UndeployAnswers, UndeployFacts, selector, undeploy_plan
from .owners import shown_controller
from .wizard import Note, ask

if TYPE_CHECKING:
    from ..executors import Executors


@dataclass(frozen=True)
class UndeployRequest:
    name: str = ask("name", "the app deploy made", required=True, hint="web")
    namespace: str = ask("namespace", "its namespace (default: default)", initial=lambda config: "default")


async def plan_undeploy(config: Config, request: UndeployRequest, executors: Executors, note: Note) -> Staged:
    answers = UndeployAnswers(request.name, request.namespace or "default")
    if problem := name_problem(answers.name):
        raise PlanError("name", problem)
    labels = selector(answers.name)
    try:
        async with kube_client(config, request_timeout=10.0) as kube:
            kinds = await kube.deletable_kinds()
            listed = await asyncio.gather(*(
                kube.list_raw(kind, answers.namespace if info.namespaced else None, label_selector=labels,
                              api_version=info.api_version) for kind, info in kinds.items()))
    except (KubeClientError, OSError) as error:
        raise PlanError("cluster.kubeconfig", f"cannot read the cluster ({error})") from None
    found = tuple(Found(obj.get("kind") or kind, info.api_version, obj["metadata"].get("namespace", ""),
                        obj["metadata"]["name"], obj["metadata"].get("uid", ""), shown_controller(obj))
                  for (kind, info), (items, _) in zip(kinds.items(), listed) for obj in items)
    return Staged((undeploy_plan(answers, UndeployFacts(found)),))


REQUEST, FLOW = UndeployRequest, plan_undeploy
