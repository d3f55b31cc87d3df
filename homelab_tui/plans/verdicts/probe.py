"""The reachability probe: why can't the internet reach an exposed Service? Pure: the hops, in
order, judged from facts read live (facts/probe.py), stopping at the first that fails and
saying what to do about it. It makes no plan: it only reads.

The hops: the public name, DDNS (/ip cloud), our router rules, the router to each target
(`/tool/fetch` on the router), the node port on each node (curl on the node), the Service's
endpoints, its pods. Every check runs from inside the LAN: none of them is the outside view (a
request from here to the public address would be a hairpin test, not a WAN test), and the output
says so.

After the hops, a check of its own, judged whatever the hops say (it is not on the path from the
internet): when the router forwards the cluster's domain (the DNS gateway), the Service's cluster
name asked at the router's DNS, `dig <name>.<namespace>.svc.cluster.local @router`, must give its
ClusterIP. Without the gateway it is "not checked", never a failure.
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass, field

from ..dns_gateway import NAMESPACE as GATEWAY_NAMESPACE
from ..dns_gateway import SERVICE as GATEWAY_SERVICE
from ..expose import CGNAT, MANGLE, NAT, Item, RouterFacts, shadowing_rule
from ..repair import ExposureStatus
from ..routeros import parse_marker

PASS, FAIL, NOT_CHECKED, SKIPPED = "pass", "fail", "not checked", "skipped"
HOPS = ("public name", "DDNS", "router rules", "router to targets", "node ports", "endpoints", "pods")
CLUSTER_DNS = "cluster DNS via the router"  # the check after the hops
HAIRPIN_NOTE = ("Every check runs from inside the LAN: this is not the outside view. A request from here to the "
                "public address would be a hairpin test through the router, not a test from the internet.")
_CLASSIFIER = re.compile(r":(\d+)/\d+$")


@dataclass(frozen=True)
class ProbeAnswers:
    service: str  # namespace/name
    port: int = 0  # the public port; 0: every exposed port of the Service
    host: str = ""  # the public name; "": the name of our record in the zone


@dataclass(frozen=True)
class PodFacts:
    name: str
    ready: bool
    restarts: int = 0


@dataclass(frozen=True)
class NodePortCheck:
    """`curl -s -o /dev/null -w '%{http_code}' http://127.0.0.1:<port>/` run on a node over SSH."""
    node: str  # the config's name
    port: int
    exit_status: int = 0
    output: str = ""
    error: str = ""  # the node could not be asked (SSH), or it is no node of the config


@dataclass(frozen=True)
class RouterFetch:
    """`/tool/fetch url=http://<address>:<port>/ output=none` run on the router, for one target."""
    address: str
    port: int
    ok: bool = False
    message: str = ""  # the router's failure, e.g. "failure: connection refused"
    unchecked: str = ""  # why it could not run: the router refused the command, or could not be asked


@dataclass(frozen=True)
class ClusterDnsFacts:
    """The router's entry forwarding the cluster's domain (the DNS gateway's, ours by its marker), and
    the Service's cluster name asked at the router's DNS (the configured resolvers)."""
    name: str  # <name>.<namespace>.svc.<domain>
    domain: str  # the entry's name, e.g. cluster.local
    forward_to: str
    enabled: bool = True
    outcome: str = ""  # models.DnsOutcome's value; "" when there was no resolver to ask
    addresses: tuple[str, ...] = ()
    detail: str = ""


@dataclass(frozen=True)
class ProbeFacts:
    router: RouterFacts = field(default_factory=RouterFacts)
    zone_host: str = ""  # the name of our record of the Service in the zone
    dns_outcome: str = ""  # models.DnsOutcome's value; "" when nothing was looked up
    dns_addresses: tuple[str, ...] = ()
    dns_detail: str = ""
    resolvers: tuple[str, ...] = ()
    cloudflare_ranges: tuple[str, ...] = ()
    endpoints_ready: int = 0
    endpoints_total: int = 0
    pods: tuple[PodFacts, ...] = ()
    node_ports: tuple[NodePortCheck, ...] = ()
    router_fetches: tuple[RouterFetch, ...] = ()  # one per target, in targets() order
    cluster_ip: str = ""  # the Service's; "" when it has none (headless)
    cluster_dns: ClusterDnsFacts | None = None  # None: the router forwards no cluster domain of ours
    exposures: tuple[ExposureStatus, ...] = ()  # each exposed port against its record (plans/repair.py)


@dataclass(frozen=True)
class Hop:
    name: str
    verdict: str  # PASS, FAIL, NOT_CHECKED or SKIPPED
    detail: str
    fix: str = ""  # what to do, on a failing hop


@dataclass(frozen=True)
class Verdict:
    hops: tuple[Hop, ...]
    note: str = HAIRPIN_NOTE

    @property
    def failed(self) -> Hop | None:
        return next((hop for hop in self.hops if hop.verdict == FAIL), None)


def public_host(answers: ProbeAnswers, facts: ProbeFacts) -> str:
    return answers.host or facts.zone_host


def our_rules(answers: ProbeAnswers, router: RouterFacts) -> list[tuple[str, int, Item]]:
    """(menu, position in it, item) of every NAT and mangle rule whose marker is this Service's
    (and port's, when given)."""
    found = []
    for menu, items in ((MANGLE, router.mangle), (NAT, router.nat)):
        for position, item in enumerate(items):
            marker = parse_marker(item.get("comment", ""))
            if marker and marker.role and marker.service == answers.service and answers.port in (0, marker.port) \
                    and item.get("dynamic") != "true":
                found.append((menu, position, item))
    return found


def targets(answers: ProbeAnswers, router: RouterFacts) -> list[tuple[str, int]]:
    """(address, port) of each dst-nat of ours, in order, once each."""
    seen: list[tuple[str, int]] = []
    for menu, _, item in our_rules(answers, router):
        if menu == NAT and item.get("action") == "dst-nat" and item.get("to-addresses"):
            target = (item["to-addresses"], int(item.get("to-ports") or 0))
            if target not in seen:
                seen.append(target)
    return seen


def probe_verdict(answers: ProbeAnswers, facts: ProbeFacts) -> Verdict:
    hops: list[Hop] = []
    for name, judge in zip(HOPS, (_public_name, _ddns, _router_rules, _router_to_targets, _node_ports,
                                  _endpoints, _pods)):
        if any(hop.verdict == FAIL for hop in hops):
            hops.append(Hop(name, SKIPPED, "not reached: an earlier hop failed"))
        else:
            hops.append(judge(answers, facts))
    return Verdict((*hops, _cluster_dns(answers, facts)))


def _expose_again(answers: ProbeAnswers, extra: str = "") -> str:
    port = f" --public-port {answers.port}" if answers.port else ""
    return f"homelab-tui expose --service {answers.service}{port}{extra}"


def _repairable(facts: ProbeFacts) -> bool:
    return any(status.plan is not None for status in facts.exposures)


def _repair(answers: ProbeAnswers, facts: ProbeFacts, extra: str = "") -> str:
    """The one-key fix: the repair plan when the exposure is recorded (f in the TUI), else expose."""
    if _repairable(facts):
        port = f" --port {answers.port}" if answers.port else ""
        return f"homelab-tui repair --service {answers.service}{port}"
    return _expose_again(answers, extra)


def _public_name(answers: ProbeAnswers, facts: ProbeFacts) -> Hop:
    name, host = HOPS[0], public_host(answers, facts)
    if not host:
        return Hop(name, NOT_CHECKED, "no public name: no record of ours in the zone and no --host")
    via = f" (resolvers {', '.join(facts.resolvers)})" if facts.resolvers else ""
    if facts.dns_outcome != "answer":
        detail = f": {facts.dns_detail}" if facts.dns_detail else ""
        return Hop(name, FAIL, f"{host}: {facts.dns_outcome or 'not looked up'}{detail}{via}",
                   f"make its record: {_expose_again(answers, f' --host {host}')}")
    ranges = [ipaddress.ip_network(cidr) for cidr in facts.cloudflare_ranges]
    public = facts.router.cloud.get("public-address", "")
    wrong = [address for address in facts.dns_addresses
             if address != public and not any(_in(address, network) for network in ranges)]
    if wrong:
        return Hop(name, FAIL, f"{host} → {', '.join(facts.dns_addresses)}: {', '.join(wrong)} is neither "
                               f"Cloudflare's proxy nor our public address {public or '(unknown)'}{via}",
                   f"update the stale record: {_repair(answers, facts, f' --host {host}')}")
    kind = "our public address" if public in facts.dns_addresses else "Cloudflare's proxy"
    return Hop(name, PASS, f"{host} → {', '.join(facts.dns_addresses)} ({kind}){via}")


def _in(address: str, network: ipaddress.IPv4Network | ipaddress.IPv6Network) -> bool:
    try:
        return ipaddress.ip_address(address) in network
    except ValueError:
        return False


def _ddns(answers: ProbeAnswers, facts: ProbeFacts) -> Hop:
    name, cloud = HOPS[1], facts.router.cloud
    dns_name, public = cloud.get("dns-name", ""), cloud.get("public-address", "")
    if cloud.get("ddns-enabled") != "true":
        return Hop(name, FAIL, "DDNS is off (/ip cloud ddns-enabled=no)",
                   f"turn on DDNS: {_repair(answers, facts)} (or /ip cloud set ddns-enabled=yes)")
    if not dns_name or not public:
        return Hop(name, FAIL, f"/ip cloud has no {'dns-name' if not dns_name else 'public-address'} yet",
                   "wait for /ip cloud to update (/ip cloud force-update), then probe again")
    if _in(public, CGNAT):
        return Hop(name, FAIL, f"the WAN address {public} is in 100.64.0.0/10 (carrier-grade NAT): the internet "
                               "cannot reach this router", "ask the ISP for a public address, or use a tunnel")
    if cloud.get("warning"):
        return Hop(name, FAIL, f"/ip cloud warns: {cloud['warning']}",
                   "the router is behind another NAT: forward the port on the upstream router, or bridge it")
    return Hop(name, PASS, f"{dns_name} → {public}")


def _router_rules(answers: ProbeAnswers, facts: ProbeFacts) -> Hop:
    name, router = HOPS[2], facts.router
    ours = our_rules(answers, router)
    if not ours:
        return Hop(name, FAIL, f"no rule of ours for {answers.service} on the router",
                   f"expose it: {_expose_again(answers)}")
    problems, fixes = [], []
    by_comment: dict[str, int] = {}
    for _, _, item in ours:
        by_comment[item["comment"]] = by_comment.get(item["comment"], 0) + 1
    for comment, count in by_comment.items():
        if count > 1:
            problems.append(f"{comment} is on {count} rules (a conflict)")
            fixes.append(f"remove the copies of {comment}")
    for comment in _missing(ours):
        problems.append(f"{comment} is missing")
        fixes.append(f"make it again: {_repair(answers, facts)}")
    for menu, _, item in ours:
        comment = item["comment"]
        if item.get("disabled") == "true":
            problems.append(f"{comment} is disabled")
            fixes.append(f"enable {comment}: {_repair(answers, facts)}" if _repairable(facts) else
                         f"enable rule {comment}: /{menu.strip('/').replace('/', ' ')} enable "
                         f"[find comment=\"{comment}\"]")
        if item.get("invalid") == "true":
            problems.append(f"{comment} is invalid")
            fixes.append(f"fix rule {comment} (RouterOS marks it invalid: a field names what it lacks)")
    for status in facts.exposures:
        if status.stale:
            problems.append(status.summary)
            fixes.append(f"rebalance: {_repair(answers, facts)}")
        for difference in status.differences:
            if difference.state == "changed" and difference.menu in (MANGLE, NAT):
                problems.append(f"changed by hand: {difference}")
                fixes.append(f"revert: {_repair(answers, facts)}")
    for menu, chain in ((MANGLE, "prerouting"), (NAT, "dstnat")):
        shadow = _shadowing(router, menu, chain, ours)
        if shadow is not None:
            problems.append(f"an earlier rule of yours in {chain} takes the connections first: "
                            f"{_describe(shadow)}")
            fixes.append(f"move our rules above it, or disable it: {_expose_again(answers)} repairs the order")
    counters = ", ".join(f"{item['comment']} {item.get('packets', '0')} connections"
                         for menu, _, item in ours if menu == NAT and item.get("action") == "dst-nat")
    seen = f"; dst-nat counters (each counts a connection): {counters}" if counters else ""
    if problems:
        return Hop(name, FAIL, "; ".join(problems) + seen, "; ".join(dict.fromkeys(fixes)))
    return Hop(name, PASS, f"{len(ours)} rules of ours, enabled, none shadowed{seen}")


def _missing(ours: list[tuple[str, int, Item]]) -> list[str]:
    """The PCC markers a node's pair lacks: the classifier `...:N/i` says there are N nodes, each
    with a `pcc i` mark and a `dstnat i` rule."""
    markers = [m for _, _, item in ours if (m := parse_marker(item["comment"])) is not None]
    expected = 0
    for _, _, item in ours:
        found = _CLASSIFIER.search(item.get("per-connection-classifier", ""))
        if found:
            expected = max(expected, int(found.group(1)))
    if not expected or not markers:
        return []
    have = {(m.port, m.role, m.index) for m in markers}
    missing = []
    for port in sorted({m.port for m in markers if m.role == "pcc"}):
        owner = next(m for m in markers if m.port == port)
        for role in ("pcc", "dstnat"):
            missing += [f"{owner.owner} {role} {i}]" for i in range(1, expected + 1) if (port, role, i) not in have]
    return missing


def _shadowing(router: RouterFacts, menu: str, chain: str, ours: list[tuple[str, int, Item]]) -> Item | None:
    """The first enabled rule of the user's before our first rule in `chain` that would take its
    connections, judged as expose judges it."""
    mine = [(position, item) for m, position, item in ours if m == menu and item.get("chain") == chain]
    if not mine:
        return None
    first, ours_item = mine[0]
    items = router.mangle if menu == MANGLE else router.nat
    return shadowing_rule(items[:first], chain, ours_item)


def _describe(item: Item) -> str:
    fields = " ".join(f"{key}={item[key]}" for key in ("chain", "action", "protocol", "dst-port", "in-interface",
                                                      "to-addresses", "comment") if item.get(key))
    return f"{item.get('.id', '?')} {fields}"


def _router_to_targets(answers: ProbeAnswers, facts: ProbeFacts) -> Hop:
    name, fetches = HOPS[3], facts.router_fetches
    where = ", ".join(f"{address}:{port}" for address, port in targets(answers, facts.router)) or "none"
    if not fetches:
        return Hop(name, NOT_CHECKED, f"no target asked from the router; targets: {where}")
    unchecked = [f for f in fetches if f.unchecked]
    if unchecked:
        reason = unchecked[0].unchecked
        policy = (" (its API user's group needs the test policy: /user group set <group> policy=...,test)"
                  if "permission" in reason else "")
        return Hop(name, NOT_CHECKED, f"{reason}{policy}; targets: {where}")
    outside = "from the router, still not the outside view"
    failed = [f for f in fetches if not f.ok]
    if failed:
        return Hop(name, FAIL, "; ".join(f"/tool/fetch http://{f.address}:{f.port}/ from the router: {f.message}"
                                         for f in failed) + f" ({len(fetches) - len(failed)} of {len(fetches)} "
                                                              f"targets answered)", _fetch_fix(answers, facts, failed))
    return Hop(name, PASS, f"{', '.join(f'{f.address}:{f.port}' for f in fetches)} answered /tool/fetch ({outside})")


def _fetch_fix(answers: ProbeAnswers, facts: ProbeFacts, failed: list[RouterFetch]) -> str:
    fixes = []
    if any("refused" in f.message for f in failed):
        fixes.append(f"the Service has no Ready endpoint, so kube-proxy refuses it: check its pods (d on "
                     f"{answers.service})" if not facts.endpoints_ready else
                     "nothing listens on that port: is the node Ready (kubectl get nodes), kube-proxy running "
                     f"on it, and the port still the Service's (expose again: {_expose_again(answers)})?")
    if any("refused" not in f.message for f in failed):
        fixes.append("nobody answers at that address: is the machine up, on the LAN, and the address still "
                     "its (DHCP lease) or the LoadBalancer's?")
    return "; ".join(fixes)


def _node_ports(answers: ProbeAnswers, facts: ProbeFacts) -> Hop:
    name = HOPS[4]
    if not facts.node_ports:
        return Hop(name, NOT_CHECKED, "no node port to check (the target is not a node's NodePort)")
    passed, unchecked, failed = [], [], []
    for check in facts.node_ports:
        where = f"{check.node}:{check.port}"
        code = check.output.strip()
        if check.error:
            unchecked.append(f"{where} ({check.error})")
        elif not re.fullmatch(r"\d{3}", code):
            unchecked.append(f"{where} (curl gave no HTTP status: exit {check.exit_status})")
        elif code == "000":
            failed.append(f"{where} (nothing answers: curl exit {check.exit_status})")
        else:
            passed.append(f"{where} HTTP {code}")
    if failed:
        return Hop(name, FAIL, "; ".join(failed + passed + unchecked),
                   "check kube-proxy on that node and the Service's node port "
                   "(the node may be NotReady, or the port changed: expose again)")
    if not passed:
        return Hop(name, NOT_CHECKED, "; ".join(unchecked))
    return Hop(name, PASS, "; ".join(passed + [f"not checked: {u}" for u in unchecked]))


def _endpoints(answers: ProbeAnswers, facts: ProbeFacts) -> Hop:
    name = HOPS[5]
    if not facts.endpoints_ready:
        return Hop(name, FAIL, f"no Ready endpoint ({facts.endpoints_total} in its EndpointSlices)",
                   f"check the pods behind {answers.service} and its selector (d on the Service)")
    return Hop(name, PASS, f"{facts.endpoints_ready} of {facts.endpoints_total} endpoints Ready")


def _pods(answers: ProbeAnswers, facts: ProbeFacts) -> Hop:
    name = HOPS[6]
    ready = [pod for pod in facts.pods if pod.ready]
    restarts = ", ".join(f"{pod.name} {pod.restarts}" for pod in facts.pods if pod.restarts)
    restarted = f"; restarts: {restarts}" if restarts else "; no restarts"
    if not ready:
        return Hop(name, FAIL, f"none of {len(facts.pods)} pods is Ready{restarted if facts.pods else ''}",
                   "read their logs and events (l and d in the Pods pane)")
    return Hop(name, PASS, f"{len(ready)} of {len(facts.pods)} pods Ready{restarted}")


def _cluster_dns(answers: ProbeAnswers, facts: ProbeFacts) -> Hop:
    gateway = facts.cluster_dns
    if gateway is None:
        return Hop(CLUSTER_DNS, NOT_CHECKED, "not set up: the router forwards no cluster domain "
                                             "(homelab-tui dns-gateway sets it up)")
    via = f"the router's FWD entry {gateway.domain} → {gateway.forward_to}"
    again = "homelab-tui dns-gateway puts it back"
    if not gateway.enabled:
        return Hop(CLUSTER_DNS, FAIL, f"{via} is disabled", f"enable it: {again}")
    if not gateway.outcome:
        return Hop(CLUSTER_DNS, NOT_CHECKED, f"no [dns] nameservers to ask for {gateway.name} (through {via})")
    if not facts.cluster_ip:
        return Hop(CLUSTER_DNS, NOT_CHECKED, f"{answers.service} has no ClusterIP (headless): "
                                             f"{gateway.name} names its pods")
    asked = f"asked at {', '.join(facts.resolvers) or 'the configured resolvers'}, through {via}"
    if gateway.outcome == "answer" and facts.cluster_ip in gateway.addresses:
        return Hop(CLUSTER_DNS, PASS, f"{gateway.name} → {facts.cluster_ip} (its ClusterIP); {asked}")
    if gateway.outcome == "answer":
        found = f"{', '.join(gateway.addresses)}, not its ClusterIP {facts.cluster_ip}"
    else:
        found = gateway.outcome + (f": {gateway.detail}" if gateway.detail else "")
    return Hop(CLUSTER_DNS, FAIL, f"{gateway.name}: {found}; {asked}",
               f"check that CoreDNS answers on {gateway.forward_to} (kubectl -n {GATEWAY_NAMESPACE} get service "
               f"{GATEWAY_SERVICE}) and that the resolvers asked are the router; {again}")
