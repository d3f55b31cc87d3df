"""The DNS gateway: cluster DNS for the LAN. `dns_gateway_plan` is pure. It exposes CoreDNS
(kube-system, selector k8s-app=kube-dns, as the cluster's own kube-dns Service) on UDP and TCP 53
through a LoadBalancer Service, pinned to one MetalLB address (`metallb.io/loadBalancerIPs`), so
the plan knows the address before it is applied; it waits for MetalLB to assign it, then adds a
RouterOS 7 forwarding entry, `/ip dns static add type=FWD name=cluster.local match-subdomain=yes
forward-to=<address>`, marked as ours. Every LAN client that asks the router then resolves
`*.svc.cluster.local`. Seed 04 did this with a UDP ingress pinned to one node (hostNetwork); a
MetalLB address moves with the pods instead.

The address: `--address` if given, else the one the Service has now, else the first address of
MetalLB's pools that no Service holds. NodePort is refused: a FWD entry forwards to port 53 of an
address, and a NodePort lies in 30000-32767.

`remove` builds the teardown: the router entry, then the Service, each with an undo. Run again on
the state it made, every step is a no-op with its reason."""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field

from . import Plan, PlanError, Step, Target
from .actions import DeleteObject, RouterAdd, RouterRemove, RouterSet, WaitLoadBalancer
from .manifests import JsonObject, LiveObject, apply_steps, object_id, ours, owned_elsewhere
from .metallb import pool_range
from .nodes import kubectl
from .routeros import Marker, console_find, render_console

NAMESPACE = "kube-system"
SERVICE = "homelab-tui-dns"
SELECTOR = {"k8s-app": "kube-dns"}  # CoreDNS's pods, as kube-dns selects them
MENU = "/ip/dns/static"
DEFAULT_DOMAIN = "cluster.local"
TARGETS = ("loadbalancer", "nodeport")
ADDRESS_ANNOTATION = "metallb.io/loadBalancerIPs"
MARKER = Marker(f"{NAMESPACE}/{SERVICE}", "udp", 53, "dns-gateway")


@dataclass(frozen=True)
class DnsGatewayAnswers:
    target: str = TARGETS[0]
    address: str = ""  # the LoadBalancer address; "": the Service's, else the first free one of MetalLB's pools
    domain: str = DEFAULT_DOMAIN  # the cluster's DNS domain, forwarded with its subdomains
    remove: bool = False
    context: str = ""  # the kubeconfig context, for the renderings


@dataclass(frozen=True)
class DnsGatewayFacts:
    objects: dict[str, LiveObject] = field(default_factory=dict)  # the Service, by object_id
    pools: dict[str, tuple[str, ...]] = field(default_factory=dict)  # MetalLB's IPAddressPools' addresses
    taken: tuple[str, ...] = ()  # LoadBalancer addresses other Services hold
    entry: dict[str, str] | None = None  # our /ip/dns/static entry (RouterOS strings), None when absent
    entries_ours: int = 0  # how many entries carry our marker (more than one is a conflict)
    others: tuple[str, ...] = ()  # other FWD entries for the domain (not ours): "name -> forward-to"
    router: bool = True  # a router is configured


def service_object(answers: DnsGatewayAnswers, address: str) -> JsonObject:
    """The Service exposing CoreDNS on UDP and TCP 53 at `address`, labelled as ours."""
    meta: dict = {"name": SERVICE, "namespace": NAMESPACE}
    if address:
        meta["annotations"] = {ADDRESS_ANNOTATION: address}
    service = {"apiVersion": "v1", "kind": "Service", "metadata": meta,
               "spec": {"type": "LoadBalancer", "selector": dict(SELECTOR),
                        "ports": [{"name": "dns", "port": 53, "targetPort": 53, "protocol": "UDP"},
                                  {"name": "dns-tcp", "port": 53, "targetPort": 53, "protocol": "TCP"}]}}
    return ours(service, SERVICE, NAMESPACE, True)


def service_id() -> str:
    return object_id(service_object(DnsGatewayAnswers(), ""))


def check_answers(answers: DnsGatewayAnswers) -> None:
    errors = []
    if answers.target not in TARGETS:
        errors.append(("--target", f"expected {' or '.join(TARGETS)}, got {answers.target!r}"))
    elif answers.target == "nodeport" and not answers.remove:
        errors.append(("--target", "a RouterOS FWD entry forwards to port 53 of an address, and a NodePort lies in "
                                   "30000-32767: use --target loadbalancer with a MetalLB pool (M)"))
    if answers.address:
        try:
            ipaddress.IPv4Address(answers.address)
        except ipaddress.AddressValueError:
            errors.append(("--address", f"expected an IPv4 address, got {answers.address!r}"))
    if not answers.domain or " " in answers.domain:
        errors.append(("--domain", f"expected a DNS domain such as {DEFAULT_DOMAIN}, got {answers.domain!r}"))
    PlanError.check(errors)


def _current_address(live: JsonObject | None) -> str:
    """The address the Service holds: its status's, else the one it asks MetalLB for."""
    if live is None:
        return ""
    ingress = ((live.get("status") or {}).get("loadBalancer") or {}).get("ingress") or []
    if ingress and ingress[0].get("ip"):
        return ingress[0]["ip"]
    return ((live.get("metadata") or {}).get("annotations") or {}).get(ADDRESS_ANNOTATION, "")


def _in_pools(address: str, pools: dict[str, tuple[str, ...]]) -> bool:
    ip = ipaddress.IPv4Address(address)
    return any(low <= ip <= high for entries in pools.values() for low, high in map(pool_range, entries))


def _choose_address(answers: DnsGatewayAnswers, facts: DnsGatewayFacts, live: JsonObject | None) -> str:
    """The address to pin; PlanError when there is none to take."""
    if not facts.pools:
        raise PlanError("--address", "no MetalLB pool: set one up first (M, or `homelab-tui metallb --range ...`)")
    address = answers.address or _current_address(live)
    if address:
        if address != _current_address(live) and address in facts.taken:
            raise PlanError("--address", f"{address} is held by another LoadBalancer Service")
        if not _in_pools(address, facts.pools):
            raise PlanError("--address", f"{address} is in none of MetalLB's pools "
                                         f"({', '.join(a for v in facts.pools.values() for a in v)})")
        return address
    taken = set(facts.taken)
    for entries in facts.pools.values():
        for low, high in map(pool_range, entries):
            for number in range(int(low), int(high) + 1):
                if str(ipaddress.IPv4Address(number)) not in taken:
                    return str(ipaddress.IPv4Address(number))
    raise PlanError("--address", "every address of MetalLB's pools is held by a Service: widen a pool")


def _entry_fields(answers: DnsGatewayAnswers, address: str) -> tuple[tuple[str, str], ...]:
    return (("name", answers.domain), ("type", "FWD"), ("match-subdomain", "yes"), ("forward-to", address),
            ("comment", str(MARKER)))


def _matches(entry: dict[str, str], fields: tuple[tuple[str, str], ...]) -> bool:
    """Whether the router's entry (RouterOS strings: true/false) has our fields, and is enabled."""
    def same(key: str, value: str) -> bool:
        got = entry.get(key, "")
        return got == value or (value == "yes" and got == "true")
    return all(same(k, v) for k, v in fields) and entry.get("disabled", "false") in ("false", "no", "")


def _router_steps(answers: DnsGatewayAnswers, facts: DnsGatewayFacts, address: str) -> list[Step]:
    fields = _entry_fields(answers, address)
    marker = str(MARKER)
    what = f"Forward {answers.domain} and its subdomains to {address}"
    if facts.entry is None:
        return [Step(Target.ROUTER, "", what, render_console("add", MENU, dict(fields)),
                     RouterAdd(MENU, fields), undo=RouterRemove(MENU, marker),
                     undo_rendering=render_console("remove", MENU, target=console_find(comment=marker)))]
    changes = tuple((k, v) for k, v in fields if k != "comment") + (("disabled", "no"),)
    before = tuple((k, facts.entry.get(k, "")) for k, _ in changes)
    noop = f"the router already forwards {answers.domain} to {address}" if _matches(facts.entry, fields) else ""
    return [Step(Target.ROUTER, "", what, render_console("set", MENU, dict(changes), target=console_find(
        comment=marker)), RouterSet(MENU, marker, changes), noop_reason=noop,
        undo=RouterSet(MENU, marker, before),
        undo_rendering=render_console("set", MENU, dict(before), target=console_find(comment=marker)))]


def _conflicts(facts: DnsGatewayFacts) -> None:
    if facts.entries_ours > 1:
        raise PlanError("router", f"{facts.entries_ours} entries of {MENU} carry {MARKER}: remove all but one by "
                                  "hand first")


def desired_objects(answers: DnsGatewayAnswers, cluster: DnsGatewayFacts) -> list[JsonObject]:
    """What the plan applies, for the flow to read (its dry run): the Service at its address, from
    facts whose `objects` hold at least the live Service; none for a removal."""
    if answers.remove:
        return []
    live = cluster.objects.get(service_id(), LiveObject()).live
    return [service_object(answers, _choose_address(answers, cluster, live))]


def _install_plan(answers: DnsGatewayAnswers, facts: DnsGatewayFacts) -> Plan:
    known = facts.objects.get(service_id(), LiveObject())
    if known.error:
        raise PlanError("service", f"{service_id()}: {known.error}")
    if known.conflicts:
        raise PlanError("service", f"{service_id()}: fields owned by another field manager: "
                                   + owned_elsewhere(known.conflicts))
    address = _choose_address(answers, facts, known.live)
    service = service_object(answers, address)
    made = apply_steps(service, known, force=False)
    has_it = _current_address(known.live) == address and bool(
        ((known.live or {}).get("status") or {}).get("loadBalancer", {}).get("ingress"))
    wait = Step(Target.KUBE, "", f"Wait for MetalLB to give {NAMESPACE}/{SERVICE} {address}",
                f"{kubectl(answers.context)} wait -n {NAMESPACE} service/{SERVICE} --for=jsonpath="
                f"'{{.status.loadBalancer.ingress[0].ip}}'={address}",
                WaitLoadBalancer(NAMESPACE, SERVICE, address),
                noop_reason=f"{NAMESPACE}/{SERVICE} already answers on {address}" if has_it and made.apply.is_noop
                else "")
    warnings = list(made.warnings)
    warnings += [f"the router has another FWD entry for {answers.domain} ({other}): the first that matches answers"
                 for other in facts.others]
    return Plan(f"DNS gateway: {answers.domain} via {address}", (made.apply, wait, *_router_steps(
        answers, facts, address)), warnings=tuple(warnings))


def _remove_plan(answers: DnsGatewayAnswers, facts: DnsGatewayFacts) -> Plan:
    marker = str(MARKER)
    steps = []
    entry = facts.entry
    fields = tuple((k, v) for k, v in (entry or {}).items()
                   if k in ("name", "type", "match-subdomain", "forward-to", "comment"))
    steps.append(Step(Target.ROUTER, "", f"Remove the forwarding of {answers.domain}",
                      render_console("remove", MENU, target=console_find(comment=marker)),
                      RouterRemove(MENU, marker),
                      noop_reason="" if entry is not None else f"no entry of {MENU} carries {marker}",
                      undo=RouterAdd(MENU, fields) if entry is not None else None,
                      undo_rendering=render_console("add", MENU, dict(fields)) if entry is not None else ""))
    live = facts.objects.get(service_id(), LiveObject()).live
    steps.append(Step(Target.KUBE, "", f"Delete Service {NAMESPACE}/{SERVICE}",
                      f"{kubectl(answers.context)} delete service {SERVICE} -n {NAMESPACE}",
                      DeleteObject("Service", NAMESPACE, SERVICE, (live or {}).get("metadata", {}).get("uid", ""),
                                   api_version="v1"),
                      noop_reason="" if live is not None else f"Service {NAMESPACE}/{SERVICE} does not exist"))
    return Plan(f"Remove the DNS gateway for {answers.domain}", tuple(steps))


def dns_gateway_plan(answers: DnsGatewayAnswers, facts: DnsGatewayFacts) -> Plan:
    check_answers(answers)
    if not facts.router:
        raise PlanError("router", "no [router] in the config: the gateway's forwarding entry lives on the router")
    _conflicts(facts)
    return _remove_plan(answers, facts) if answers.remove else _install_plan(answers, facts)
