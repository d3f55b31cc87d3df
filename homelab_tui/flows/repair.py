"""Repair: put an exposure back as it was asked (its record on the Service) against the live
lab: revert drift, rebalance stale PCC, turn DDNS on, update the record. The one fix behind `v`
(NAT pane), the rebalance key (Services pane), the probe's `f` and `[router] auto_rebalance`."""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

from ..config import Config
from ..plans import Plan, PlanError, Staged
from ..plans.repair import exposure_status, repair_plan
from .wizard import Note, ask

if TYPE_CHECKING:
    from ..executors import Executors


@dataclass(frozen=True)
class RepairRequest:
    service: str = ask("service", "the exposed Service, namespace/name", metavar="NS/NAME", required=True,
                       hint="default/nginx")
    port: str = ask("public port", "its exposed port (default: every exposed port of the Service)", hint="80")


async def plan_repair(config: Config, request: RepairRequest, executors: Executors, note: Note) -> Staged:
    if request.service.count("/") != 1 or not all(request.service.split("/")):
        raise PlanError("service", f"expected namespace/name, such as default/nginx, got {request.service!r}")
    if request.port and not request.port.isdigit():
        raise PlanError("port", f"expected a port number, got {request.port!r}")
    from ..facts.exposures import exposure_inputs  # the router and Cloudflare clients load with a plan

    inputs = [(answers, facts) for answers, facts in await exposure_inputs(config, request.service)
              if not request.port or answers.port == int(request.port)]
    if not inputs:
        raise PlanError("service", f"{request.service} is not exposed" + (f" on port {request.port}" if request.port
                                                                          else ""))
    if len(inputs) == 1:
        return Staged((repair_plan(*inputs[0]),))
    plans, errors = [], []  # every port of the Service: one that cannot be repaired does not stop the others
    for answers, facts in inputs:
        try:
            plans.append(repair_plan(answers, facts))
        except PlanError as error:
            errors += [(field, f"{answers.protocol}/{answers.port}: {message}") for field, message in error.errors]
    if not plans:
        PlanError.check(errors)
    for field, message in errors:
        note(f"{field}: {message}")
    return Staged(tuple(plans))



async def plan_rebalance(config: Config, service: str, protocol: str, port: int) -> Plan:
    """`[router] auto_rebalance`: the repair of one exposed port made again now, against the live
    lab (the check that saw it stale may be a poll old), titled as automatic; PlanError when it is
    no longer stale."""
    from ..facts.exposures import exposure_inputs

    fresh = next((exposure_status(answers, facts) for answers, facts in await exposure_inputs(config, service)
                  if (answers.protocol, answers.port) == (protocol, port)), None)
    if fresh is None or not fresh.stale or fresh.plan is None:
        raise PlanError("service", f"{service} {protocol}/{port} is no longer stale")
    return replace(fresh.plan, title=f"Automatic rebalance: {fresh.plan.title}")


REQUEST, FLOW = RepairRequest, plan_repair
