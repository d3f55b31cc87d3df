"""Every exposure, live, for judging drift and stale PCC (plans/repair.py): the exposed ports are
found by their markers on the router and by their records on the Services (so an exposure whose
rules were all deleted by hand is still found); each gets its Service, the nodes and its record
in the zone, as expose reads them, from one read of each source."""

from __future__ import annotations

from dataclasses import replace

from ..clients.kube import KubeClientError
from ..config import Config
from ..connect import kube_client
from ..plans import PlanError
from ..plans.expose import (
    RECORD_PREFIX,
    ExposeFacts,
    NodeFacts,
    RouterFacts,
    ServiceFacts,
    ZoneFacts,
    record_key,
    recorded_values,
)
from ..plans.repair import RepairAnswers, RepairFacts
from ..plans.routeros import our_items, parse_marker
from .expose import cloudflare_ranges, node_facts, records_of, router_facts, service_facts, zone_facts

Exposure = tuple[str, str, int]  # (namespace/name, protocol, public port)


async def exposure_inputs(config: Config, service: str = "", router: RouterFacts | None = None
                          ) -> list[tuple[RepairAnswers, RepairFacts]]:
    """What `repair_plan` and `exposure_status` take, for each exposed port (of `service` only,
    when given; `router`: as already read). A fixed number of reads, however many exposures: the
    router once, the Services, nodes and EndpointSlices once, the zone once. PlanError naming the
    router, the cluster or the zone when it cannot be read."""
    # One after the other: read at once, a check cancelled as the app quits could leave one read's
    # failure unretrieved (asyncio prints it on exit); it runs in the background, so the wait is unfelt.
    router = router or await router_facts(config)
    services, slices, nodes, names = await _cluster(config)
    recorded = {name: records_of(raw) for name, raw in services.items()}
    found = set(_on_router(router)) | {(name, *_port_of(key)) for name, records in recorded.items()
                                       for key in records}
    exposures = sorted(e for e in found if not service or e[0] == service)
    asked = {(name, protocol, port): recorded_values(recorded.get(name, {}).get(record_key(protocol, port), "{}"))
             for name, protocol, port in exposures}
    zone, zone_error = ZoneFacts(), ""
    try:
        if any(a.get("host") and a.get("dns", "none") != "none" for a in asked.values()):
            zone = await zone_facts(config, None)
        elif any(a.get("cloudflare_only") for a in asked.values()):
            zone = await cloudflare_ranges(config)
    except PlanError as error:  # Cloudflare down or the token refused: the router is still judged
        zone_error = error.message
    cloudflare, router_config = (config.dns.cloudflare if config.dns else None), config.router
    inputs = []
    for exposure in exposures:
        name, protocol, port = exposure
        host = asked[exposure].get("host", "")
        raw = services.get(name)
        live = service_facts(raw, slices.get(name, []), names) if raw is not None else ServiceFacts(exists=False)
        answers = RepairAnswers(name, port, protocol,
                                rebalance_after=router_config.rebalance_after_seconds if router_config else 60.0,
                                wan=router_config.wan_interface if router_config else "all-ppp",
                                proxied=cloudflare.proxied if cloudflare else False)
        records = tuple(r for r in zone.records if host and r.get("name") == host)
        inputs.append((answers, RepairFacts(ExposeFacts(live, nodes, router, replace(zone, records=records)),
                                            zone_error)))
    return inputs


def _on_router(router: RouterFacts) -> list[Exposure]:
    return [(marker.service, marker.protocol, marker.port)
            for table in (router.nat, router.mangle, router.address_list) for comment in our_items(table)
            if (marker := parse_marker(comment)) is not None]


def _port_of(key: str) -> tuple[str, int]:
    protocol, _, port = key.removeprefix(RECORD_PREFIX).partition("-")
    return protocol, int(port) if port.isdigit() else 0


async def _cluster(config: Config) -> tuple[dict[str, dict], dict[str, list[dict]], tuple[NodeFacts, ...],
                                            dict[str, str]]:
    """Every Service and its EndpointSlices by namespace/name, and the nodes (as expose names them)."""
    try:
        async with kube_client(config, request_timeout=10.0) as kube:
            services, _ = await kube.list_raw("Service")
            slices, _ = await kube.list_raw("EndpointSlice")
            nodes = await kube.list_nodes()
    except KubeClientError as error:
        raise PlanError("cluster.kubeconfig", f"cannot read the cluster ({error})") from None
    by_service: dict[str, list[dict]] = {}
    for item in slices:
        meta = item.get("metadata") or {}
        owner = (meta.get("labels") or {}).get("kubernetes.io/service-name")
        if owner:
            by_service.setdefault(f"{meta.get('namespace', '')}/{owner}", []).append(item)
    known, names = node_facts(config, nodes)
    return ({f"{(s.get('metadata') or {}).get('namespace', '')}/{(s.get('metadata') or {}).get('name', '')}": s
             for s in services}, by_service, known, names)
