"""Expose: one port of a Service, through the router to the internet, with DDNS and a Cloudflare
record. Seed 02's rules, made safe, as one reviewed and reversible plan. Pure: the flow reads the
Service, the router and the zone.

The router rules:
- one target (`single` over a node's NodePort, or the Service's LoadBalancer address): one dst-nat;
- `pcc` over N nodes: per node i a mangle rule marking new unmarked connections
  (`connection-state=new connection-mark=no-mark ... per-connection-classifier=...:N/i
  passthrough=no`: a later mark rule, a multi-WAN one say, cannot overwrite ours), then a dst-nat
  per mark that also matches the protocol, the port and the WAN (seed 02's matched the mark
  only, which another service's marks would match too).
Each carries its marker (plans/routeros.py); ours go before the first rule of the user's that
would shadow them, and a last step re-reads the order and repairs it.
"""

from __future__ import annotations

import ipaddress
import json
from dataclasses import dataclass, field

from . import Plan, PlanError, Step, Target
from .actions import CloudDdns, DnsDelete, DnsPut, DnsRestore, PatchObject, RouterAdd, RouterOrder, RouterRemove, RouterSet
from .routeros import Marker, console_find, our_items, parse_marker, render_console

NAT, MANGLE, ADDRESS_LIST = "/ip/firewall/nat", "/ip/firewall/mangle", "/ip/firewall/address-list"
CGNAT = ipaddress.ip_network("100.64.0.0/10")
# The ports Cloudflare's proxy accepts (support article 200169156).
PROXIED_HTTP_PORTS = (80, 8080, 8880, 2052, 2082, 2086, 2095)
PROXIED_HTTPS_PORTS = (443, 2053, 2083, 2087, 2096, 8443)
TARGETS, BALANCES, DNS_MODES = ("nodeport", "loadbalancer"), ("pcc", "single"), ("cname", "a", "none")
# Fields a comparison ignores: counters and what the router keeps about an item.
_UNCOMPARED = frozenset({".id", "bytes", "packets", "dynamic", "invalid", "disabled", ".nextid", "log", "log-prefix"})

Item = dict[str, str]  # a printed RouterOS item, every value a RouterOS string


@dataclass(frozen=True)
class ServicePort:
    name: str
    port: int
    protocol: str = "TCP"
    node_port: int = 0


@dataclass(frozen=True)
class ServiceFacts:
    exists: bool = True
    type: str = "ClusterIP"
    ports: tuple[ServicePort, ...] = ()
    load_balancer_ip: str = ""
    external_traffic_policy: str = "Cluster"
    endpoint_nodes: tuple[str, ...] = ()  # nodes running a Ready endpoint
    records: dict[str, str] = field(default_factory=dict)  # our annotations: how each port is exposed


@dataclass(frozen=True)
class NodeFacts:
    name: str  # the config's name
    address: str
    ready: bool = True
    not_ready_seconds: float = 0.0  # how long it has been NotReady (its Ready condition's last transition)
    ready_seconds: float = float("inf")  # how long it has been Ready


@dataclass(frozen=True)
class RouterFacts:
    nat: tuple[Item, ...] = ()  # in printed order
    mangle: tuple[Item, ...] = ()
    address_list: tuple[Item, ...] = ()
    interfaces: tuple[str, ...] = ()
    interface_lists: dict[str, tuple[str, ...]] = field(default_factory=dict)  # list → members
    lan: str = ""  # the LAN network (for the hairpin masquerade)
    cloud: Item = field(default_factory=dict)  # /ip/cloud


@dataclass(frozen=True)
class ZoneFacts:
    zone: str = ""  # "" when no Cloudflare zone is configured
    ssl_mode: str = "full"  # off, flexible, full, strict
    records: tuple[Item, ...] = ()  # the records named `host` (type, content, proxied, comment, id)
    cloudflare_ranges: tuple[str, ...] = ()
    ranges_source: str = ""  # "Cloudflare's API" or "the bundled snapshot of 2026-…"


@dataclass(frozen=True)
class ExposeAnswers:
    service: str  # namespace/name
    port: str = ""  # the Service port, by number or name; default: its only (or first) port
    public_port: str = ""  # default: the Service port
    target: str = "nodeport"
    balance: str = "pcc"
    nodes: tuple[str, ...] = ()  # default: every Ready node (with an endpoint, for policy Local)
    sticky: bool = False
    cloudflare_only: bool = False
    hairpin: bool = False
    dns: str = "cname"
    host: str = ""
    replace_dns_record: bool = False
    wan: str = "all-ppp"  # router.wan_interface: an interface or an interface list
    proxied: bool = True


@dataclass(frozen=True)
class ExposeFacts:
    service: ServiceFacts = field(default_factory=ServiceFacts)
    nodes: tuple[NodeFacts, ...] = ()
    router: RouterFacts = field(default_factory=RouterFacts)
    zone: ZoneFacts = field(default_factory=ZoneFacts)


# -- the record: how a port was exposed, kept on its Service -----------------------------------

RECORD_PREFIX = "homelab-tui/expose-"  # + "tcp-80": one annotation per exposed port
_RECORDED = ("port", "target", "balance", "nodes", "sticky", "cloudflare_only", "hairpin", "dns", "host")
PAUSED = "paused"  # set by unexpose --disable-only: the rules are disabled on purpose
DDNS_TURNED_ON = "ddns_turned_on"  # expose turned the router's DDNS on: unexpose may turn it off


def record_key(protocol: str, public_port: int) -> str:
    return f"{RECORD_PREFIX}{protocol}-{public_port}"


def record_of(answers: ExposeAnswers, ddns_turned_on: bool = False) -> str:
    """What the user asked, as the Service's annotation keeps it: not the WAN nor proxying (the
    config's), nor a one-time agreement to replace a record. Drift and rebalancing are judged
    against it (plans/repair.py). `ddns_turned_on`: expose turned the router's DDNS on for it,
    so unexpose turns it off again when no other exposure uses it."""
    values = {name: getattr(answers, name) for name in _RECORDED}
    flag = {DDNS_TURNED_ON: True} if ddns_turned_on else {}
    return json.dumps({**values, "nodes": list(answers.nodes), **flag}, sort_keys=True, separators=(",", ":"))


def recorded_values(text: str) -> dict:
    """A record's values as stored ({} when it is not well formed)."""
    try:
        values = json.loads(text)
    except ValueError:
        return {}
    return values if isinstance(values, dict) else {}


def answers_from_record(service: str, key: str, text: str, *, wan: str, proxied: bool) -> tuple[ExposeAnswers, bool]:
    """The answers a record keeps, and whether the exposure is paused (unexpose --disable-only);
    ValueError when it is not one of ours or not well formed."""
    protocol, _, port = key.removeprefix(RECORD_PREFIX).partition("-")
    values = json.loads(text)
    if not key.startswith(RECORD_PREFIX) or protocol not in ("tcp", "udp") or not port.isdigit() \
            or not isinstance(values, dict) or set(values) - {*_RECORDED, PAUSED, DDNS_TURNED_ON}:
        raise ValueError(f"not a record of homelab-tui: {key}")
    paused = bool(values.pop(PAUSED, False))
    values.pop(DDNS_TURNED_ON, None)
    return ExposeAnswers(service=service, public_port=port, wan=wan, proxied=proxied,
                         **{**values, "nodes": tuple(values.get("nodes") or ())}), paused


def annotate_step(service: str, description: str, values: dict[str, str | None], previous: dict[str, str | None],
                  noop_reason: str = "") -> Step:
    """Set (or, with None, remove) the Service's annotations `values`; the undo puts `previous` back."""
    namespace, name = service.split("/")

    def annotate(annotations: dict[str, str | None]) -> PatchObject:
        return PatchObject("Service", namespace, name, json.dumps({"metadata": {"annotations": annotations}},
                                                                  separators=(",", ":")))

    def shown(annotations: dict[str, str | None]) -> str:
        return f"kubectl annotate service {name} -n {namespace} --overwrite " + " ".join(
            f"{key}='{value}'" if value is not None else f"{key}-" for key, value in annotations.items())

    return Step(Target.KUBE, "", description, shown(values), annotate(values), noop_reason=noop_reason,
                undo=annotate(previous), undo_rendering=shown(previous))


def _record_step(answers: ExposeAnswers, service: ServiceFacts, protocol: str, public_port: int,
                 turns_ddns_on: bool) -> Step:
    key = record_key(protocol, public_port)
    previous = service.records.get(key)
    text = record_of(answers, turns_ddns_on or bool(recorded_values(previous or "{}").get(DDNS_TURNED_ON)))
    return annotate_step(answers.service, f"Record on the Service how {protocol}/{public_port} is exposed ({key})",
                         {key: text}, {key: previous}, "the Service records it so" if previous == text else "")


# -- answers against facts ---------------------------------------------------------------------


def _port(answers: ExposeAnswers, service: ServiceFacts) -> ServicePort:
    if not service.ports:
        raise PlanError("--service", f"{answers.service} has no ports")
    if not answers.port:
        return service.ports[0]
    found = next((p for p in service.ports if answers.port in (p.name, str(p.port))), None)
    if found is None:
        raise PlanError("--port", f"{answers.service} has no port {answers.port} (it has "
                                  f"{', '.join(str(p.port) for p in service.ports)})")
    return found


def _backends(answers: ExposeAnswers, facts: ExposeFacts, port: ServicePort, warnings: list[str]
              ) -> list[tuple[str, str, int]]:
    """(node name or "", address, port) of each target, in order."""
    if answers.target == "loadbalancer":
        if not facts.service.load_balancer_ip:
            raise PlanError("--target", f"{answers.service} has no LoadBalancer address (type "
                                        f"{facts.service.type}); set up MetalLB (M) or use --target nodeport")
        return [("", facts.service.load_balancer_ip, port.port)]
    if not port.node_port:
        raise PlanError("--target", f"{answers.service} port {port.port} has no node port (type "
                                    f"{facts.service.type}); deploy it with --expose nodeport")
    by_name = {node.name: node for node in facts.nodes}
    unknown = [name for name in answers.nodes if name not in by_name]
    if unknown:
        raise PlanError("--node", f"no node named {', '.join(unknown)} (known: {', '.join(by_name)})")
    chosen = [by_name[name] for name in answers.nodes] or [node for node in facts.nodes if node.ready]
    if answers.balance == "single":
        chosen = chosen[:1]
    if facts.service.external_traffic_policy == "Local":
        without = [node.name for node in chosen if node.name not in facts.service.endpoint_nodes]
        if without:
            warnings.append(f"externalTrafficPolicy is Local: {', '.join(without)} run no endpoint of "
                            f"{answers.service} and would drop what they get; left out")
            chosen = [node for node in chosen if node.name in facts.service.endpoint_nodes]
    if not chosen:
        raise PlanError("--node", "no Ready node to forward to" + (" that runs an endpoint" if
                                                                    facts.service.external_traffic_policy == "Local"
                                                                    else ""))
    return [(node.name, node.address, port.node_port) for node in chosen]


def _wan_match(answers: ExposeAnswers, router: RouterFacts) -> tuple[str, str]:
    """The WAN match field: ("in-interface", "all-ppp") or ("in-interface-list", "WAN")."""
    if answers.wan in router.interface_lists:
        members = router.interface_lists[answers.wan]
        if not any(member.startswith("pppoe") or member == "all-ppp" for member in members) and any(
                name.startswith("pppoe") for name in router.interfaces):
            raise PlanError("router.wan_interface", f"interface list {answers.wan} has no PPPoE interface "
                                                    f"(members: {', '.join(members) or 'none'}): add pppoe-out1 to it")
        return "in-interface-list", answers.wan
    if answers.wan in router.interfaces or answers.wan == "all-ppp":
        return "in-interface", answers.wan
    raise PlanError("router.wan_interface", f"the router has no interface or interface list {answers.wan!r}")


def _check_reach(answers: ExposeAnswers, facts: ExposeFacts, public_port: int, warnings: list[str]) -> None:
    cloud = facts.router.cloud
    public = cloud.get("public-address", "")
    if public and ipaddress.ip_address(public) in CGNAT:
        raise PlanError("router", f"the WAN address {public} is in 100.64.0.0/10 (carrier-grade NAT): the internet "
                                  "cannot reach this router, and DDNS cannot change that; ask the ISP for a public "
                                  "address, or use a tunnel")
    if cloud.get("warning"):
        raise PlanError("router", f"/ip cloud warns: {cloud['warning']} (the router is behind another NAT, so the "
                                  "internet cannot reach it)")
    zone = facts.zone
    if answers.dns == "none" or not zone.zone or not answers.proxied:
        return
    if public_port not in PROXIED_HTTP_PORTS + PROXIED_HTTPS_PORTS:
        raise PlanError("--public-port", f"Cloudflare's proxy does not forward port {public_port} (HTTP: "
                                         f"{', '.join(map(str, PROXIED_HTTP_PORTS))}; HTTPS: "
                                         f"{', '.join(map(str, PROXIED_HTTPS_PORTS))})")
    if zone.ssl_mode == "flexible":
        if public_port in PROXIED_HTTPS_PORTS:
            raise PlanError("--public-port", f"the zone's SSL mode is Flexible: Cloudflare reaches the origin over "
                                             f"HTTP, so port {public_port} is never used; forward 80")
        warnings.append("SSL mode Flexible: if the app (or Traefik) redirects HTTP to HTTPS, visitors get "
                        "Cloudflare's \"too many redirects\" page; Full (strict) is safer")
    elif zone.ssl_mode in ("full", "strict") and public_port in PROXIED_HTTP_PORTS:
        warnings.append(f"SSL mode {zone.ssl_mode.capitalize()}: Cloudflare connects to the origin on 443 with "
                        f"TLS; port {public_port} is only used for plain HTTP")


# -- router steps -----------------------------------------------------------------------------


def _as_printed(value: str) -> str:
    """A value as print shows it: RouterOS takes yes/no and prints true/false."""
    return {"yes": "true", "no": "false"}.get(value, value)


def _changed(live: Item, wanted: dict[str, str]) -> dict[str, str]:
    return {key: value for key, value in wanted.items()
            if key not in _UNCOMPARED and _as_printed(live.get(key, "")) != _as_printed(value)}


def shadowing_rule(items: tuple[Item, ...], chain: str, wanted: dict[str, str]) -> Item | None:
    """The first enabled rule of the user's in `chain` that matches what ours match (same protocol
    and port, or any), so would take the connections before ours."""
    for item in items:  # the marker last: parsing it is the dearest test
        if item.get("chain") != chain or item.get("disabled") == "true":
            continue
        if item.get("action") in ("passthrough", "log") or (chain == "srcnat"):
            continue
        if item.get("protocol", "") not in ("", wanted.get("protocol", "")) or item.get("dst-port", "") not in (
                "", wanted.get("dst-port", "")):
            continue
        marker = parse_marker(item.get("comment", ""))
        if not (marker and marker.role):
            return item
    return None


@dataclass
class _RouterPlan:
    steps: list[Step] = field(default_factory=list)
    errors: list[tuple[str, str]] = field(default_factory=list)

    def item(self, menu: str, live: list[Item], wanted: dict[str, str], before: str, what: str) -> None:
        """Add the item, or set what differs, or nothing; a duplicated marker is a conflict."""
        comment = wanted["comment"]
        if len(live) > 1:
            self.errors.append(("router", f"{len(live)} items of {menu} carry the marker {comment} (ids "
                                          f"{', '.join(i.get('.id', '?') for i in live)}): remove the copies by hand; "
                                          "homelab-tui never picks one"))
            return
        fields = tuple(wanted.items())
        if not live:
            line = render_console("add", menu, wanted) + (f" place-before={_before_console(before)}" if before else "")
            self.steps.append(Step(Target.ROUTER, "", f"Add {what}", line, RouterAdd(menu, fields, before),
                                   undo=RouterRemove(menu, comment),
                                   undo_rendering=render_console("remove", menu, target=console_find(comment=comment))))
            return
        current = live[0]
        changes = _changed(current, wanted)
        disabled = current.get("disabled") == "true"
        if disabled:
            changes["disabled"] = "no"
        target = console_find(comment=comment)
        if not changes:
            self.steps.append(Step(Target.ROUTER, "", f"Keep {what}", render_console("set", menu, target=target),
                                   RouterSet(menu, comment, ()), noop_reason=f"{what} is in place, as planned"))
            return
        previous = {key: current.get(key, "") for key in changes}
        if disabled:
            previous["disabled"] = "yes"
        self.steps.append(Step(Target.ROUTER, "", f"Update {what}", render_console("set", menu, changes, target=target),
                               RouterSet(menu, comment, tuple(changes.items())),
                               undo=RouterSet(menu, comment, tuple(previous.items())),
                               undo_rendering=render_console("set", menu, previous, target=target)))

    def prune(self, menu: str, ours: dict[str, list[Item]], kept: set[str], what: str) -> None:
        """Remove our items that the plan no longer has (a node gone, the hairpin turned off)."""
        for comment in sorted(set(ours) - kept):
            item = ours[comment][0]
            fields = {key: value for key, value in item.items() if key not in _UNCOMPARED and not key.startswith(".")}
            self.steps.append(Step(Target.ROUTER, "", f"Remove {what} {comment}",
                                   render_console("remove", menu, target=console_find(comment=comment)),
                                   RouterRemove(menu, comment), undo=RouterAdd(menu, tuple(fields.items())),
                                   undo_rendering=render_console("add", menu, fields)))


def _keep_places(backends: list[tuple[str, str, int]], natted: dict[str, list[Item]]) -> list[tuple[str, str, int]]:
    """The targets in the places their rules have now, so a node joining or leaving moves no other
    node's rules: a target keeps its place when it is within the new count, the others fill the
    free places in order."""
    placed = {}
    for comment, items in natted.items():
        marker = parse_marker(comment)
        if marker and marker.role == "dstnat" and marker.index and len(items) == 1:
            placed[items[0].get("to-addresses", "")] = marker.index
    slots: list[tuple[str, str, int] | None] = [None] * len(backends)
    rest = []
    for backend in backends:
        index = placed.get(backend[1], 0)
        if 1 <= index <= len(slots) and slots[index - 1] is None:
            slots[index - 1] = backend
        else:
            rest.append(backend)
    return [slot if slot is not None else rest.pop(0) for slot in slots]


def _before_console(before: str) -> str:
    return before if before.startswith("*") else console_find(comment=before)


def _before(items: tuple[Item, ...], chain: str, wanted: dict[str, str]) -> str:
    shadow = shadowing_rule(items, chain, wanted)
    if shadow is None:
        return ""
    return shadow.get("comment") or shadow.get(".id", "")


def expose_plan(answers: ExposeAnswers, facts: ExposeFacts) -> Plan:
    return build_expose(answers, facts)


def build_expose(answers: ExposeAnswers, facts: ExposeFacts, record: ExposeAnswers | None = None) -> Plan:
    """The expose plan of `answers`, recording `record` on the Service (default: the answers); a
    repair builds with the nodes that are eligible now and keeps the record as the user asked."""
    errors = _check_answers(answers)
    PlanError.check(errors)
    if not facts.service.exists:
        raise PlanError("--service", f"no Service {answers.service}")
    warnings: list[str] = []
    port = _port(answers, facts.service)
    protocol = port.protocol.lower()
    public_port = int(answers.public_port or port.port)
    backends = _backends(answers, facts, port, warnings)
    wan_field, wan = _wan_match(answers, facts.router)
    _check_reach(answers, facts, public_port, warnings)
    owner = Marker(answers.service, protocol, public_port)
    router = _RouterPlan()
    match = {"protocol": protocol, "dst-port": str(public_port)}
    # one list per exposed port: RouterOS refuses an address twice in a list, and each port's
    # entries must come and go with it
    cloudflare_list = f"homelab-tui-cloudflare-{answers.service.replace('/', '-')}-{public_port}"
    source = {"src-address-list": cloudflare_list} if answers.cloudflare_only else {}

    # Cloudflare's ranges in an address list, for --cloudflare-only.
    listed = our_items(facts.router.address_list, answers.service, protocol, public_port)
    kept: set[str] = set()
    if answers.cloudflare_only:
        if not facts.zone.cloudflare_ranges:
            raise PlanError("--cloudflare-only", "no list of Cloudflare's ranges (no token, and no snapshot)")
        warnings.append(f"--cloudflare-only: Cloudflare's ranges from {facts.zone.ranges_source}; they are shared by "
                        "every proxied site, so this narrows who can connect but is no authentication")
        for i, cidr in enumerate(facts.zone.cloudflare_ranges, 1):
            marker = str(Marker(answers.service, protocol, public_port, "cloudflare", i))
            kept.add(marker)
            router.item(ADDRESS_LIST, listed.get(marker, []), {"list": cloudflare_list, "address": cidr,
                                                                "comment": marker},
                        "", f"Cloudflare range {cidr} to list {cloudflare_list}")
    router.prune(ADDRESS_LIST, listed, kept, "address-list entry")

    mangled = our_items(facts.router.mangle, answers.service, protocol, public_port)
    natted = our_items(facts.router.nat, answers.service, protocol, public_port)
    mangle_kept, nat_kept = set(), set()
    mangle_order, nat_order = [], []
    classifier = "src-address" if answers.sticky else "src-address-and-port"
    nat_before = _before(facts.router.nat, "dstnat", match)
    mangle_before = _before(facts.router.mangle, "prerouting", match)
    pcc = answers.target == "nodeport" and answers.balance == "pcc" and len(backends) > 1
    if pcc:
        backends = _keep_places(backends, natted)
        count = len(backends)
        overlapping = [item.get(".id", "?") for item in facts.router.mangle
                       if item.get("chain") == "prerouting" and item.get("action") == "mark-connection"
                       and item.get("dst-port", "") in ("", str(public_port))
                       and not parse_marker(item.get("comment", ""))]
        if overlapping:
            warnings.append(f"other prerouting mark-connection rules ({', '.join(overlapping)}) also match port "
                            f"{public_port}; ours go first and match only unmarked new connections (passthrough=no)")
        for i, (node, address, to_port) in enumerate(backends):
            mark = f"kube_node_{i + 1}"
            pcc_marker = str(Marker(answers.service, protocol, public_port, "pcc", i + 1))
            mangle_kept.add(pcc_marker)
            mangle_order.append(pcc_marker)
            router.item(MANGLE, mangled.get(pcc_marker, []), {
                "chain": "prerouting", "action": "mark-connection", "connection-state": "new",
                "connection-mark": "no-mark", wan_field: wan, **match, **source, "new-connection-mark": mark,
                "per-connection-classifier": f"{classifier}:{count}/{i}", "passthrough": "no",
                "comment": pcc_marker}, mangle_before, f"PCC mark {mark} ({i + 1} of {count}, {node})")
            nat_marker = str(Marker(answers.service, protocol, public_port, "dstnat", i + 1))
            nat_kept.add(nat_marker)
            nat_order.append(nat_marker)
            router.item(NAT, natted.get(nat_marker, []), {
                "chain": "dstnat", "action": "dst-nat", "connection-mark": mark, wan_field: wan, **match,
                "to-addresses": address, "to-ports": str(to_port), "comment": nat_marker},
                nat_before, f"dst-nat of {mark} to {node} {address}:{to_port}")
    else:
        node, address, to_port = backends[0]
        nat_marker = str(Marker(answers.service, protocol, public_port, "dstnat"))
        nat_kept.add(nat_marker)
        nat_order.append(nat_marker)
        router.item(NAT, natted.get(nat_marker, []), {
            "chain": "dstnat", "action": "dst-nat", wan_field: wan, **match, **source, "to-addresses": address,
            "to-ports": str(to_port), "comment": nat_marker}, nat_before,
            f"dst-nat of {protocol}/{public_port} to {node or 'the LoadBalancer'} {address}:{to_port}")
    if answers.hairpin:
        public = facts.router.cloud.get("public-address", "")
        if not public:
            raise PlanError("--hairpin", "the router reports no public address to hairpin")
        node, address, to_port = backends[0]
        hairpin = str(Marker(answers.service, protocol, public_port, "hairpin-dstnat"))
        masquerade = str(Marker(answers.service, protocol, public_port, "hairpin-masq"))
        nat_kept |= {hairpin, masquerade}
        nat_order.append(hairpin)
        router.item(NAT, natted.get(hairpin, []), {
            "chain": "dstnat", "action": "dst-nat", "dst-address": public, **match, "to-addresses": address,
            "to-ports": str(to_port), "comment": hairpin}, nat_before, f"hairpin dst-nat of {public}:{public_port}")
        router.item(NAT, natted.get(masquerade, []), {
            "chain": "srcnat", "action": "masquerade", "src-address": facts.router.lan, "dst-address": address,
            "protocol": protocol, "dst-port": str(to_port), "comment": masquerade}, "",
            f"hairpin masquerade from {facts.router.lan} to {address}")
    router.prune(MANGLE, mangled, mangle_kept, "mangle rule")
    router.prune(NAT, natted, nat_kept, "NAT rule")
    changes = any(not step.is_noop for step in router.steps)
    for menu, order, before in ((MANGLE, mangle_order, mangle_before), (NAT, nat_order, nat_before)):
        if order and before:  # our rules match disjoint connections: only a rule of the user's can come between
            moves = [render_console("move", menu, target=console_find(comment=comment))
                     + (f" destination={_before_console(before)}" if before else "") for comment in order]
            router.steps.append(Step(Target.ROUTER, "", f"Check the order of our {menu.rsplit('/', 1)[1]} rules",
                                     "\n".join(moves), RouterOrder(menu, tuple(order), before),
                                     noop_reason="" if changes else "nothing is added or changed: the order stands"))
    PlanError.check(router.errors)

    ddns = _ddns_steps(answers, facts)
    # only expose itself records turning DDNS on (a repair turning it back on keeps the record)
    turns_ddns_on = record is None and any(not step.is_noop for step in ddns)
    steps = router.steps + ddns + _dns_steps(answers, facts, owner) + [
        _record_step(record or answers, facts.service, protocol, public_port, turns_ddns_on)]
    how = ("PCC over " + ", ".join(n for n, _, _ in backends)) if pcc else (
        f"to {backends[0][0] or backends[0][1]}")
    return Plan(f"Expose {answers.service} {protocol}/{public_port} {how}", tuple(steps), tuple(warnings))


def _ddns_steps(answers: ExposeAnswers, facts: ExposeFacts) -> list[Step]:
    if answers.dns != "cname":
        return []
    cloud = facts.router.cloud
    ready = cloud.get("ddns-enabled") == "true" and cloud.get("dns-name") and cloud.get("public-address")
    return [Step(Target.ROUTER, "", "Turn on the router's DDNS and wait for its name",
                 "/ip cloud set ddns-enabled=yes", CloudDdns(True),
                 noop_reason=f"DDNS is on: {cloud.get('dns-name')} → {cloud.get('public-address')}" if ready else "")]


def _dns_steps(answers: ExposeAnswers, facts: ExposeFacts, owner: Marker) -> list[Step]:
    zone = facts.zone
    if answers.dns == "none":
        return []
    if not zone.zone:
        raise PlanError("--dns", "no [dns.cloudflare] zone in the config: use --dns none, or configure one")
    host = answers.host
    if not host:
        raise PlanError("--host", f"the public name to publish, in {zone.zone}")
    if host != zone.zone and not host.endswith("." + zone.zone):
        raise PlanError("--host", f"{host} is not in the zone {zone.zone}")
    marker = str(Marker(owner.service, owner.protocol, owner.port, "dns"))
    cloud = facts.router.cloud
    if answers.dns == "cname":  # without a name yet, the one DDNS gets, read when the record is made
        kind, content = "CNAME", cloud.get("dns-name", "")
    else:
        kind, content = "A", cloud.get("public-address", "")
        if not content:
            raise PlanError("--dns", "the router reports no public address for an A record; use --dns cname")
    ours = [r for r in zone.records if r.get("comment") == marker]
    theirs = [r for r in zone.records if r.get("comment") != marker and r.get("type") in ("A", "AAAA", "CNAME")]
    put = DnsPut(zone.zone, host, kind, content, answers.proxied, marker)
    proxied = "proxied" if answers.proxied else "DNS only"
    text = f"{kind} {host} → {content or 'the DDNS name'} ({proxied}, TTL auto, comment {marker})"
    steps = []
    if theirs:
        if not answers.replace_dns_record:
            shown = "; ".join(f"{r.get('type')} → {r.get('content')}" for r in theirs)
            raise PlanError("--replace-dns-record", f"{host} already has a record that homelab-tui did not make ({shown}); "
                                                    "replace it only if you mean to (--replace-dns-record)")
        for record in theirs:
            document = json.dumps(record, sort_keys=True)
            steps.append(Step(Target.DNS, "", f"Delete the record {record.get('type')} {host} → {record.get('content')} "
                                              "(not ours; replacing it was agreed)",
                              f"DELETE {record.get('type')} {host} → {record.get('content')}",
                              DnsDelete(zone.zone, host, record=document), undo=DnsRestore(zone.zone, document),
                              undo_rendering=f"create {record.get('type')} {host} → {record.get('content')} again"))
    current = ours[0] if ours else None
    same = current is not None and (current.get("type"), current.get("content"), str(current.get("proxied")).lower()) \
        == (kind, content, str(answers.proxied).lower())
    undo = DnsDelete(zone.zone, host, marker) if current is None else DnsPut(
        zone.zone, host, current.get("type", kind), current.get("content", ""),
        str(current.get("proxied")).lower() == "true", marker)
    steps.append(Step(Target.DNS, "", f"{'Create' if current is None else 'Update'} the record {host}", text, put,
                      noop_reason=f"{host} is {kind} → {content}, ours, as planned" if same else "",
                      undo=undo, undo_rendering=f"{'delete' if current is None else 'put back'} {host}"))
    return steps


def _check_answers(answers: ExposeAnswers) -> list[tuple[str, str]]:
    errors = []
    if answers.service.count("/") != 1 or not all(answers.service.split("/")):
        errors.append(("--service", f"expected namespace/name, such as default/nginx, got {answers.service!r}"))
    for flag, value, choices in (("--target", answers.target, TARGETS), ("--balance", answers.balance, BALANCES),
                                 ("--dns", answers.dns, DNS_MODES)):
        if value not in choices:
            errors.append((flag, f"expected one of {', '.join(choices)}, got {value!r}"))
    if answers.public_port and not (answers.public_port.isdigit() and 1 <= int(answers.public_port) <= 65535):
        errors.append(("--public-port", f"expected a port from 1 to 65535, got {answers.public_port!r}"))
    if answers.target == "loadbalancer" and answers.nodes:
        errors.append(("--node", "a LoadBalancer target has one address; --node is for --target nodeport"))
    return errors
