"""`homelab-tui apply -f FILE`: the deploy wizard's manifest mode as its own twin, as
`kubectl apply --server-side -f` is to `kubectl create deployment`. The objects are labelled as
the app named by --name (default: the file's name), which `undeploy --name` removes."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from ..config import Config
from ..plans import PlanError, Staged
from ..plans.deploy import CONFLICT_CHOICES
from .deploy import DeployRequest, plan_deploy
from .wizard import Note, ask

if TYPE_CHECKING:
    from ..executors import Executors


@dataclass(frozen=True)
class ApplyRequest:
    filename: str = ask("manifest file", "the manifest to apply (multi-document YAML)", aliases=("-f",),
                        metavar="FILE", required=True)
    namespace: str = ask("namespace", "for the objects that name none (default: default)",
                         initial=lambda config: "default")
    name: str = ask("app name", "the app the objects belong to, for undeploy (default: the file's name)")
    on_conflict: str = ask("on conflict", "when another field manager owns a field: force (take it) or keep-live "
                           "(keep its value); default: stop and say which", choices=CONFLICT_CHOICES,
                           hint="stop and say which field")


def app_name(filename: str) -> str:
    """An app name from a file name: `My App.yaml` → my-app."""
    return re.sub(r"[^a-z0-9]+", "-", Path(filename).stem.lower()).strip("-") or "app"


async def plan_apply(config: Config, request: ApplyRequest, executors: Executors, note: Note) -> Staged:
    if not request.filename:
        raise PlanError("filename", "required: the manifest file to apply")
    return await plan_deploy(config, DeployRequest(name=request.name or app_name(request.filename),
                                                   namespace=request.namespace, manifest=request.filename,
                                                   on_conflict=request.on_conflict), executors, note)


REQUEST, FLOW = ApplyRequest, plan_apply
