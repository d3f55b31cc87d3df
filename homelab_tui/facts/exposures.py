"""Every exposure, live, for judging drift and stale PCC (plans/repair.py): the router read once,
the exposed ports found by their markers on the router and by their records on the Services (so
an exposure whose rules were all deleted by hand is still found), then per exposure its Service,
the nodes and its record in the zone, as expose reads them."""

from __future__ import annotations

import asyncio
import json

from ..clients.kube import KubeClientError
from ..config import Config
from ..connect import kube_client
from ..plans import PlanError
from ..plans.expose import RECORD_PREFIX, ExposeFacts, RouterFacts
from ..plans.repair import RepairAnswers, RepairFacts
from ..plans.routeros import parse_marker
from .expose import cloudflare_ranges, no_zone, router_facts, service_and_nodes, zone_facts

Exposure = tuple[str, str, int]  # (namespace/name, protocol, public port)


async def exposure_inputs(config: Config, service: str = "", router: RouterFacts | None = None
                          ) -> list[tuple[RepairAnswers, RepairFacts]]:
    """What `repair_plan` and `exposure_status` take, for each exposed port (of `service` only,
    when given; `router`: as already read). PlanError naming the router or the cluster when
    either cannot be read."""
    if router is None:
        router, recorded = await asyncio.gather(router_facts(config), _recorded(config))
    else:
        recorded = await _recorded(config)
    found = set(_on_router(router)) | {(name, *_port_of(key)) for name, records in recorded.items()
                                       for key in records}
    exposures = sorted(e for e in found if not service or e[0] == service)
    return list(await asyncio.gather(*(_inputs(config, router, recorded.get(e[0], {}), e) for e in exposures)))


def _on_router(router: RouterFacts) -> list[Exposure]:
    found = []
    for table in (router.nat, router.mangle, router.address_list):
        for item in table:
            comment = item.get("comment", "")
            if (marker := parse_marker(comment)) and marker.role and str(marker) == comment:
                found.append((marker.service, marker.protocol, marker.port))
    return found


def _port_of(key: str) -> tuple[str, int]:
    protocol, _, port = key.removeprefix(RECORD_PREFIX).partition("-")
    return protocol, int(port) if port.isdigit() else 0


async def _recorded(config: Config) -> dict[str, dict[str, str]]:
    """Each Service with a record of an exposure → its records."""
    try:
        async with kube_client(config, request_timeout=10.0) as kube:
            services, _ = await kube.list_raw("Service")
    except KubeClientError as error:
        raise PlanError("cluster.kubeconfig", f"cannot read the cluster ({error})") from None
    found = {}
    for raw in services:
        meta = raw.get("metadata") or {}
        records = {k: v for k, v in (meta.get("annotations") or {}).items() if k.startswith(RECORD_PREFIX)}
        if records:
            found[f"{meta.get('namespace', '')}/{meta.get('name', '')}"] = records
    return found


async def _inputs(config: Config, router: RouterFacts, records: dict[str, str], exposure: Exposure
                  ) -> tuple[RepairAnswers, RepairFacts]:
    service, protocol, port = exposure
    try:
        asked = json.loads(records.get(f"{RECORD_PREFIX}{protocol}-{port}", "{}"))
    except ValueError:
        asked = {}
    host = asked.get("host", "") if asked.get("dns", "none") != "none" else ""
    (service_facts, nodes), zone = await asyncio.gather(
        service_and_nodes(config, service),
        zone_facts(config, host) if host else cloudflare_ranges(config) if asked.get("cloudflare_only") else no_zone())
    cloudflare = config.dns.cloudflare if config.dns else None
    router_config = config.router
    answers = RepairAnswers(service, port, protocol,
                            rebalance_after=router_config.rebalance_after_seconds if router_config else 60.0,
                            wan=router_config.wan_interface if router_config else "all-ppp",
                            proxied=cloudflare.proxied if cloudflare else False)
    return answers, RepairFacts(ExposeFacts(service_facts, nodes, router, zone))
