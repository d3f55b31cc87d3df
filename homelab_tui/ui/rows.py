"""Table rows for each pane: pure functions from models to cell text, sort keys and cell
styles (named, not coloured: the app maps them to the theme). No textual here."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from ..models import Deployment, DnsCheck, Ingress, MangleRule, NatRule, Node, Pod, Service
from ..plans.routeros import MARKER_PREFIX

if TYPE_CHECKING:
    from ..plans.repair import ExposureStatus

NODE_COLUMNS = ("NAME", "STATUS", "ROLES", "VERSION", "INTERNAL-IP", "ARCH", "PODS", "CPU", "MEMORY", "AGE")
POD_COLUMNS = ("NAMESPACE", "NAME", "READY", "STATUS", "RESTARTS", "NODE", "IP", "AGE")
SERVICE_COLUMNS = ("NAMESPACE", "NAME", "TYPE", "CLUSTER-IP", "EXTERNAL-IP", "PORTS", "EXPOSED", "AGE")
NAT_COLUMNS = ("#", "OWN", "TABLE", "CHAIN", "ACTION", "PROTO", "DST-PORT", "IN-IF", "TARGET", "MARK / PCC", "PACKETS",
               "BYTES", "COMMENT")
DNS_COLUMNS = ("NAME", "STATUS", "EXPECTED", "ACTUAL")
DEPLOYMENT_COLUMNS = ("NAMESPACE", "NAME", "READY", "UP-TO-DATE", "AVAILABLE", "AGE")
INGRESS_COLUMNS = ("NAMESPACE", "NAME", "CLASS", "HOSTS", "ADDRESS", "AGE")

# k9s's column sort: shift and the column's letter (pressed again: reversed). k9s's letters for the
# columns we share (N name, A age, S status, R ready, T restarts, I IP, O node); the others chosen
# so that no pane has two columns on one letter, and none takes a wizard's capital.
WIZARD_CAPITALS = frozenset("BJDMEU")
SORT_LETTERS = {
    "NAME": "N", "AGE": "A", "STATUS": "S", "READY": "R", "RESTARTS": "T", "IP": "I", "NODE": "O",
    "NAMESPACE": "W", "ROLES": "L", "VERSION": "V", "INTERNAL-IP": "I", "ARCH": "H", "PODS": "P", "CPU": "C",
    "MEMORY": "Y", "TYPE": "Y", "CLUSTER-IP": "C", "EXTERNAL-IP": "X", "PORTS": "P", "EXPOSED": "F",
    "#": "O", "TABLE": "T", "CHAIN": "C", "ACTION": "A", "PROTO": "P", "TARGET": "G", "PACKETS": "K", "BYTES": "Y",
    "EXPECTED": "X", "ACTUAL": "A", "UP-TO-DATE": "T", "AVAILABLE": "V", "CLASS": "C", "HOSTS": "H", "ADDRESS": "I",
}

# The OWN column of a router rule homelab-tui manages. Not ◆: its width is East Asian
# "ambiguous", two cells in some terminals, which pushed our rows one cell to the right.
OURS = "✦"

# Named cell styles: "bad" and "warn" colour a status cell, "ours" and "disabled" a whole row (and
# "bad" a rule of ours that is not as planned).
BAD_STATES = ("NotReady", "CrashLoopBackOff", "Error", "ImagePullBackOff", "ErrImagePull", "OOMKilled",
              "Failed", "Unknown", "MISMATCH", "Evicted", "conflict")
WARN_STATES = ("Pending", "ContainerCreating", "Terminating", "PodInitializing", "SchedulingDisabled",
               "PCC stale", "drift:", "unrecorded")


def age(created: str, now: datetime | None) -> str:
    """kubectl-style age (`5d`, `3h`, `12m`, `40s`); "" when ages are hidden (now is None)."""
    if now is None or not created:
        return ""
    try:
        seconds = int((now - datetime.fromisoformat(created.replace("Z", "+00:00"))).total_seconds())
    except ValueError:
        return "?"
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size:
            return f"{seconds // size}{unit}"
    return f"{max(seconds, 0)}s"


def utc_now() -> datetime:
    return datetime.now(UTC)


def node_row(node: Node, pod_count: int, now: datetime | None) -> tuple[str, ...]:
    roles = ",".join(node.roles) or "<none>"
    return (node.name, node.status, roles, node.kubelet_version, node.internal_ip, node.arch, str(pod_count),
            node.cpu, node.memory, age(node.created, now))


def pod_row(pod: Pod, now: datetime | None) -> tuple[str, ...]:
    return (pod.namespace, pod.name, f"{pod.ready_containers}/{pod.total_containers}", pod.status,
            str(pod.restarts), pod.node or "<none>", pod.ip or "<none>", age(pod.created, now))


def deployment_row(deployment: Deployment, now: datetime | None) -> tuple[str, ...]:
    """As `kubectl get deploy`: READY is ready/desired; UP-TO-DATE and AVAILABLE from the status."""
    return (deployment.namespace, deployment.name, f"{deployment.ready_replicas}/{deployment.replicas}",
            str(deployment.updated_replicas), str(deployment.available_replicas), age(deployment.created, now))


def ingress_row(ingress: Ingress, now: datetime | None) -> tuple[str, ...]:
    """As `kubectl get ingress`: the rules' hosts (`*` when none names one) and the addresses."""
    return (ingress.namespace, ingress.name, ingress.ingress_class or "<none>", ",".join(ingress.hosts) or "*",
            ",".join(ingress.addresses), age(ingress.created, now))


def service_ports(service: Service) -> str:
    return ",".join(f"{p.port}:{p.node_port}/{p.protocol}" if p.node_port else f"{p.port}/{p.protocol}"
                    for p in service.ports)


def exposure(service: Service, nat_rules: Iterable[NatRule], mangle_rules: Iterable[MangleRule],
             statuses: Sequence[ExposureStatus] = ()) -> str:
    """`80→31681 (PCC ×2)` when our dst-nat rules forward to one of the service's nodePorts; then
    what is wrong with its exposed ports (`PCC stale (node2 NotReady)`, `drift: 1 missing`)."""
    wrong = [s for s in statuses if s.summary != "ok"]
    problems = "; ".join(s.summary if len(statuses) == 1 else f"{s.port}: {s.summary}" for s in wrong)
    return " · ".join(part for part in (_forwarding(service, nat_rules, mangle_rules), problems) if part)


def _forwarding(service: Service, nat_rules: Iterable[NatRule], mangle_rules: Iterable[MangleRule]) -> str:
    node_ports = {str(p.node_port) for p in service.ports if p.node_port}
    ours = [r for r in nat_rules if r.action == "dst-nat" and r.to_ports in node_ports and MARKER_PREFIX in r.comment]
    if not ours:
        return ""
    marks = {r.connection_mark for r in ours if r.connection_mark}
    feeders = [m for m in mangle_rules if m.new_connection_mark in marks]
    public_ports = sorted({m.dst_port for m in feeders} | {r.dst_port for r in ours if r.dst_port})
    target = ours[0].to_ports
    how = f" (PCC ×{len(feeders)})" if feeders else ""
    return ", ".join(f"{port}→{target}" for port in public_ports) + how


def service_row(service: Service, exposed: str, now: datetime | None) -> tuple[str, ...]:
    if service.type == "LoadBalancer":
        external = ",".join(service.external_ips) or "<pending>"
    else:
        external = ",".join(service.external_ips) or "<none>"
    return (service.namespace, service.name, service.type, service.cluster_ip or "None", external,
            service_ports(service), exposed, age(service.created, now))


def nat_row(rule: NatRule, drift: str = "") -> tuple[str, ...]:
    target = rule.to_addresses + (f":{rule.to_ports}" if rule.to_ports else "")
    return (own(rule, drift), "nat", rule.chain, rule.action, rule.protocol, rule.dst_port,
            in_interface(rule), target, rule.connection_mark, str(rule.packets), str(rule.bytes), rule.comment)


def mangle_row(rule: MangleRule, drift: str = "") -> tuple[str, ...]:
    mark = rule.new_connection_mark + (f" {rule.per_connection_classifier}" if rule.per_connection_classifier else "")
    return (own(rule, drift), "mangle", rule.chain, rule.action, rule.protocol, rule.dst_port,
            in_interface(rule), "", mark, str(rule.packets), str(rule.bytes), rule.comment)


def in_interface(rule: NatRule | MangleRule) -> str:
    """The IN-IF cell: the interface (`ether1`), or the interface list (`list:WAN`)."""
    if rule.in_interface_list and not rule.in_interface:
        return f"list:{rule.in_interface_list}"
    return rule.in_interface


def is_ours(comment: str) -> bool:
    return MARKER_PREFIX in comment


def own(rule: NatRule | MangleRule, drift: str = "") -> str:
    """The OWN cell: ✦ for ours, with how it is not as planned (`drift`: "changed", "disabled",
    "extra", "conflict", or "stale" for a rule a rebalance would change)."""
    if not is_ours(rule.comment):
        return ""
    return f"{OURS} {drift}" if drift else OURS


def rule_style(rule: NatRule | MangleRule, drift: str = "") -> str:
    """A rule of ours not as planned is flagged (in the error colour: the ours colour is close to
    the warning one); else a disabled rule is dimmed, and one of ours marked."""
    if drift:
        return "bad"
    if rule.disabled:
        return "disabled"
    return "ours" if is_ours(rule.comment) else ""


def dns_row(check: DnsCheck) -> tuple[str, ...]:
    return (check.name, "OK" if check.ok else "MISMATCH", check.expected, check.actual)


_BAD = re.compile("|".join(BAD_STATES))
_WARN = re.compile("|".join(WARN_STATES))


def status_style(cell: str) -> str:
    """The style of a status cell: "bad", "warn" or "" (fine)."""
    if _BAD.search(cell):
        return "bad"
    if _WARN.search(cell):
        return "warn"
    return ""


STATUS_COLUMNS = {"STATUS", "EXPOSED"}  # the columns coloured by status_style


# -- sorting ------------------------------------------------------------------------------------

_AGE = re.compile(r"^(\d+)([dhms])$")
_AGE_UNITS = {"d": 86400, "h": 3600, "m": 60, "s": 1}
_DIGITS = re.compile(r"(\d+)")


def natural_key(cell: object) -> tuple:
    """Text with its digit runs compared as numbers: node2 < node10, 10.0.0.9 < 10.0.0.10."""
    parts = _DIGITS.split(str(cell).lower())
    return tuple((0, int(part), "") if part.isdigit() else (1, 0, part) for part in parts if part)


def age_key(cell: object) -> tuple:
    match = _AGE.match(str(cell))
    return (int(match[1]) * _AGE_UNITS[match[2]],) if match else (-1,)


def sort_key(column: str) -> Callable[[object], tuple]:
    return age_key if column == "AGE" else natural_key


def pods_per_node(pods: Mapping[str, Pod]) -> dict[str, int]:
    counts: dict[str, int] = {}
    for pod in pods.values():
        if pod.node:
            counts[pod.node] = counts.get(pod.node, 0) + 1
    return counts
