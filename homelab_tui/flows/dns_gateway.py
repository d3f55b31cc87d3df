"""The DNS gateway: CoreDNS on a MetalLB address, and the router forwarding the cluster's domain to
it. The facts are the Service as it is (and the server's dry run of ours), MetalLB's pools, the
LoadBalancer addresses other Services hold, and the router's /ip/dns/static entries."""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

from ..clients.kube import KubeClient, KubeError, UnknownKind
from ..config import Config
from ..connect import kube_client, router_client
from ..facts.objects import read_objects
from ..plans import PlanError, Staged
from ..plans.dns_gateway import (DEFAULT_DOMAIN, MARKER, MENU, NAMESPACE, SERVICE, TARGETS, DnsGatewayAnswers,
                                 DnsGatewayFacts, check_answers, desired_objects, dns_gateway_plan, service_id)
from ..plans.manifests import LiveObject
from ..plans.metallb import API_VERSION
from ..state import describe_error
from .wizard import Note, ask

if TYPE_CHECKING:
    from ..executors import Executors


@dataclass(frozen=True)
class DnsGatewayRequest:
    target: str = ask("expose CoreDNS on", "a LoadBalancer (MetalLB) address (default); NodePort is refused: "
                      "RouterOS forwards to port 53", choices=TARGETS, initial=lambda config: TARGETS[0])
    address: str = ask("address", "the LoadBalancer address (default: the Service's, else the first free one of "
                       "MetalLB's pools)", metavar="IP", hint="e.g. 192.168.40.53")
    domain: str = ask("cluster domain", f"the domain the router forwards, with its subdomains (default: "
                      f"{DEFAULT_DOMAIN})", metavar="DOMAIN", hint=DEFAULT_DOMAIN)
    remove: bool = ask("remove", "remove the gateway: the router's entry, then the Service", switch=True)


async def _kube_facts(kube: KubeClient) -> tuple[dict[str, Any] | None, dict[str, tuple[str, ...]], tuple[str, ...]]:
    """The live Service, MetalLB's pools (none when MetalLB is not served) and the LoadBalancer
    addresses other Services hold."""
    live = await kube.get("Service", NAMESPACE, SERVICE)
    try:
        items, _ = await kube.list_raw("IPAddressPool", None, api_version=API_VERSION)
    except (UnknownKind, KubeError):
        items = []
    pools = {item["metadata"]["name"]: tuple(str(a) for a in (item.get("spec") or {}).get("addresses") or ())
             for item in items}
    services, _ = await kube.list_raw("Service", None)
    taken = tuple(sorted(
        entry["ip"] for svc in services
        if (svc["metadata"]["namespace"], svc["metadata"]["name"]) != (NAMESPACE, SERVICE)
        for entry in ((svc.get("status") or {}).get("loadBalancer") or {}).get("ingress") or [] if entry.get("ip")))
    return live, pools, taken


async def _router_facts(config: Config, domain: str) -> dict[str, Any]:
    """Our entry of /ip/dns/static, how many carry our marker, and others forwarding the domain."""
    try:
        async with await router_client(config) as router:
            rows = await router.print(MENU)
    except Exception as exc:  # noqa: BLE001 - any failure to read stops the plan, said
        raise PlanError("router", f"the router could not be read ({describe_error(exc)})") from None
    mine = [row for row in rows if row.get("comment") == str(MARKER)]
    others = tuple(f"{row.get('name')} -> {row.get('forward-to')}" for row in rows
                   if row.get("comment") != str(MARKER) and row.get("type") == "FWD" and row.get("name") == domain)
    entry = {k: v for k, v in mine[0].items() if not k.startswith(".")} if mine else None
    return {"entry": entry, "entries_ours": len(mine), "others": others}


async def plan_dns_gateway(config: Config, request: DnsGatewayRequest, executors: Executors, note: Note) -> Staged:
    answers = DnsGatewayAnswers(target=request.target or TARGETS[0], address=request.address,
                                domain=request.domain or DEFAULT_DOMAIN, remove=request.remove,
                                context=config.cluster.kube_context)
    check_answers(answers)
    if config.router is None:
        return Staged((dns_gateway_plan(answers, DnsGatewayFacts(router=False)),))
    router = await _router_facts(config, answers.domain)
    async with kube_client(config, request_timeout=10.0) as kube:
        live, pools, taken = await _kube_facts(kube)
        facts = DnsGatewayFacts(objects={service_id(): LiveObject(live)}, pools=pools, taken=taken, **router)
        if not answers.remove:
            facts = replace(facts, objects=await read_objects(kube, desired_objects(answers, facts)))
    return Staged((dns_gateway_plan(answers, facts),))


REQUEST, FLOW = DnsGatewayRequest, plan_dns_gateway
