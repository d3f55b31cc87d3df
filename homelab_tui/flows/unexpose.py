"""Unexpose: what expose made for a Service, read from the router and the zone by its markers."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import TYPE_CHECKING

from ..config import Config
from ..plans import PlanError, Staged
from ..plans.dns_gateway import NAMESPACE, SERVICE
from ..plans.expose import recorded_values
from ..plans.unexpose import UnexposeAnswers, UnexposeFacts, unexpose_plan
from .wizard import Note, ask

if TYPE_CHECKING:
    from ..executors import Executors

GATEWAY_SERVICE = f"{NAMESPACE}/{SERVICE}"


@dataclass(frozen=True)
class UnexposeRequest:
    service: str = ask("service", "the exposed Service, namespace/name", metavar="NS/NAME", required=True,
                       hint="default/nginx")
    disable_only: bool = ask("disable only", "disable the rules in place (they keep their position) instead of "
                             "removing them", switch=True, hint="pause: disable in place")
    ddns_off: bool = ask("DDNS off", "also turn off the router's DDNS (it goes off anyway when expose turned it on "
                             "for this Service and no other exposure uses it)", switch=True, hint="turn DDNS off")


async def plan_unexpose(config: Config, request: UnexposeRequest, executors: Executors, note: Note) -> Staged:
    if request.service.count("/") != 1:
        raise PlanError("service", f"expected namespace/name, such as default/nginx, got {request.service!r}")
    if request.service == GATEWAY_SERVICE:  # the DNS gateway is torn down by its own plan
        from .dns_gateway import DnsGatewayRequest, plan_dns_gateway

        return await plan_dns_gateway(config, DnsGatewayRequest(remove=True), executors, note)
    from ..facts.expose import exposure_records, expose_zone_records, router_facts  # clients load with a plan

    router, zone, recorded = await asyncio.gather(router_facts(config), expose_zone_records(config, request.service),
                                                  exposure_records(config))
    answers = UnexposeAnswers(request.service, request.disable_only, request.ddns_off)
    others = {name: records for name, records in (recorded or {}).items() if name != request.service}
    ddns_users = tuple(sorted(name for name, records in others.items()
                              if any(recorded_values(text).get("dns", "none") != "none" for text in records.values())))
    facts = UnexposeFacts(router, zone, (recorded or {}).get(request.service, {}), recorded is not None, ddns_users)
    return Staged((unexpose_plan(answers, facts),))


REQUEST, FLOW = UnexposeRequest, plan_unexpose
