"""Expose: one port of a Service through the router to the internet, with DDNS and a Cloudflare
record. The facts are the Service and nodes, the router and the zone, all read live."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from ..config import Config
from ..plans import PlanError, Staged
from ..plans.expose import BALANCES, DNS_MODES, TARGETS, ExposeAnswers, expose_plan
from .wizard import Note, ask

if TYPE_CHECKING:
    from ..executors import Executors


def _node_names(config: Config, in_cluster: frozenset[str]) -> list[tuple[str, str, bool]]:
    return [(f"{n.name} ({n.address})", n.name, False) for n in config.nodes]


@dataclass(frozen=True)
class ExposeRequest:
    service: str = ask("service", "the Service to expose, namespace/name", metavar="NS/NAME", required=True,
                       hint="default/nginx")
    nodes: tuple[str, ...] = ask("nodes (space toggles)", "a node to forward to (repeatable; default: every Ready "
                                 "node)", flag="--node", options=_node_names, many=True, only_for=("target", "nodeport"))
    host: str = ask("host", "the public name, in the Cloudflare zone", hint="nginx.example.org")
    dns: str = ask("DNS record", "cname: to the router's DDNS name; a: to its public address; none",
                   choices=DNS_MODES, initial=lambda config: "cname")
    target: str = ask("target", "nodeport: the nodes' NodePort; loadbalancer: the Service's LoadBalancer address",
                      choices=TARGETS, initial=lambda config: "nodeport")
    balance: str = ask("balance", "pcc: spread new connections over the nodes; single: one node",
                       choices=BALANCES, initial=lambda config: "pcc", only_for=("target", "nodeport"))
    port: str = ask("service port", "its port, by number or name (default: its first)", hint="80")
    public_port: str = ask("public port", "the port on the internet (default: the Service port)", hint="80")
    sticky: bool = ask("sticky", "one client stays on one node (PCC on src-address, not src-address-and-port)",
                       switch=True, hint="one client, one node")
    cloudflare_only: bool = ask("Cloudflare only", "accept connections from Cloudflare's ranges only", switch=True,
                                hint="only from Cloudflare's ranges")
    hairpin: bool = ask("hairpin", "LAN clients reach the public name too (off by default: its masquerade hides "
                        "their addresses from the app)", switch=True, hint="LAN clients too (hides their addresses)")
    replace_dns_record: bool = ask("replace a record not ours", "replace a record of this name that homelab-tui "
                                   "did not make", switch=True, hint="replace it")


async def plan_expose(config: Config, request: ExposeRequest, executors: Executors, note: Note) -> Staged:
    if not request.service:
        raise PlanError("service", "required: namespace/name of the Service, such as default/nginx")
    cloudflare = config.dns.cloudflare if config.dns else None
    answers = ExposeAnswers(
        service=request.service, port=request.port, public_port=request.public_port,
        target=request.target or "nodeport", balance=request.balance or "pcc", nodes=request.nodes,
        sticky=request.sticky, cloudflare_only=request.cloudflare_only, hairpin=request.hairpin,
        dns=request.dns or "cname", host=request.host, replace_dns_record=request.replace_dns_record,
        wan=config.router.wan_interface if config.router else "all-ppp",
        proxied=cloudflare.proxied if cloudflare else False)
    from ..facts.expose import expose_facts  # the router and Cloudflare clients load when a plan is made

    facts = await expose_facts(config, answers.service, answers.host, with_record=answers.dns != "none",
                               with_ranges=answers.cloudflare_only)
    return Staged((expose_plan(answers, facts),))


REQUEST, FLOW = ExposeRequest, plan_expose
