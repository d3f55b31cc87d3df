"""Unexpose: what expose made for a Service, read from the router and the zone by its markers."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import TYPE_CHECKING

from ..config import Config
from ..plans import PlanError, Staged
from ..plans.dns_gateway import NAMESPACE, SERVICE
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
    ddns_off: bool = ask("DDNS off", "also turn off the router's DDNS", switch=True, hint="turn DDNS off")


async def plan_unexpose(config: Config, request: UnexposeRequest, executors: Executors, note: Note) -> Staged:
    if request.service.count("/") != 1:
        raise PlanError("service", f"expected namespace/name, such as default/nginx, got {request.service!r}")
    if request.service == GATEWAY_SERVICE:  # the DNS gateway is torn down by its own plan
        from .dns_gateway import DnsGatewayRequest, plan_dns_gateway

        return await plan_dns_gateway(config, DnsGatewayRequest(remove=True), executors, note)
    from ..facts.expose import expose_zone_records, router_facts, service_records  # clients load with a plan

    router, zone, records = await asyncio.gather(router_facts(config), expose_zone_records(config, request.service),
                                                 service_records(config, request.service))
    answers = UnexposeAnswers(request.service, request.disable_only, request.ddns_off)
    facts = UnexposeFacts(router, zone, records if records is not None else {}, records is not None)
    return Staged((unexpose_plan(answers, facts),))


REQUEST, FLOW = UnexposeRequest, plan_unexpose
