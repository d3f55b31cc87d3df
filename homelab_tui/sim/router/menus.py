"""The router's API menus (firewall NAT, mangle, filter, address lists and connections, interfaces
and interface lists, addresses, the DHCP server, pools, identity, resources, /ip cloud): which
properties each can write, the check each value goes through (worded like RouterOS's `!trap` when
it fails), required properties, defaults and verbs."""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ..routeros import RouterOsSim

# !trap categories from the API manual.
MISSING_ITEM_OR_COMMAND = 0
ARGUMENT_VALUE_FAILURE = 1
GENERAL_FAILURE = 4


class SimTrap(Exception):
    """A RouterOS `!trap`: what the sim answers to a command it refuses."""

    def __init__(self, message: str, category: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.category = category


def no_match(name: str) -> SimTrap:
    return SimTrap(f"input does not match any value of {name}", ARGUMENT_VALUE_FAILURE)


def invalid_value(name: str) -> SimTrap:
    return SimTrap(f"invalid value for argument {name}", ARGUMENT_VALUE_FAILURE)


# --- value checks --------------------------------------------------------------------------

# A check takes (property name, raw value, sim) and returns the value as RouterOS prints it.
Check = Callable[[str, str, "RouterOsSim"], str]

TRUE_WORDS = frozenset({"yes", "true"})
FALSE_WORDS = frozenset({"no", "false"})


def _text(_name: str, value: str, _sim: RouterOsSim) -> str:
    return value


def _bool(name: str, value: str, _sim: RouterOsSim) -> str:
    lowered = value.lower()
    if lowered in TRUE_WORDS:
        return "true"
    if lowered in FALSE_WORDS:
        return "false"
    raise no_match(name)


def _one_of(*values: str) -> Check:
    allowed = frozenset(values)

    def check(name: str, value: str, _sim: RouterOsSim) -> str:
        if value not in allowed:
            raise no_match(name)
        return value

    return check


def _port(text: str) -> bool:
    return text.isdigit() and 0 <= int(text) <= 65535


def _ports(name: str, value: str, _sim: RouterOsSim) -> str:
    """A port, a range `a-b`, or a comma list of those: `80`, `8000-8080`, `80,443`."""
    for part in value.split(","):
        low, dash, high = part.partition("-")
        if not _port(low) or (dash and (not _port(high) or int(high) < int(low))):
            raise invalid_value(name)
    return value


def _ipv4(text: str) -> ipaddress.IPv4Address | None:
    try:
        return ipaddress.IPv4Address(text)
    except ValueError:
        return None


def _ipv4_range(name: str, value: str, _sim: RouterOsSim) -> str:
    """One address or a range `a-b` (to-addresses, pool ranges)."""
    low, dash, high = value.partition("-")
    first, last = _ipv4(low), _ipv4(high)
    if first is None or (dash and (last is None or last < first)):
        raise invalid_value(name)
    return value


def _ipv4_ranges(name: str, value: str, sim: RouterOsSim) -> str:
    for part in value.split(","):
        _ipv4_range(name, part, sim)
    return value


def _ipv4_list(name: str, value: str, _sim: RouterOsSim) -> str:
    if not all(_ipv4(part) for part in value.split(",")):
        raise invalid_value(name)
    return value


def _ipv4_prefix(name: str, value: str, _sim: RouterOsSim) -> str:
    """An address with an optional /prefix, as in src-address or /ip/address (host bits kept)."""
    negated = value.startswith("!")
    try:
        ipaddress.IPv4Interface(value[1:] if negated else value)
    except ValueError:
        raise invalid_value(name) from None
    return value


def _mac(name: str, value: str, _sim: RouterOsSim) -> str:
    if not re.fullmatch(r"[0-9A-Fa-f]{2}(:[0-9A-Fa-f]{2}){5}", value):
        raise invalid_value(name)
    return value.upper()


# Interface names firewall rules accept besides real interfaces (RouterOS keeps them for v6
# compatibility; the seed articles use in-interface=all-ppp).
INTERFACE_WILDCARDS = ("all-ppp", "all-ethernet", "all-vlan", "all-wireless")


def _interface(name: str, value: str, sim: RouterOsSim) -> str:
    """An existing interface (or a wildcard such as all-ppp), `!` for not. RouterOS refuses an
    unknown name on add; a rule whose interface goes away later turns `invalid`."""
    if value.removeprefix("!") not in sim.interface_names() | set(INTERFACE_WILDCARDS):
        raise no_match(name)
    return value


def _interface_list(name: str, value: str, sim: RouterOsSim) -> str:
    """An existing interface list (WAN, LAN, or a builtin such as all), `!` for not."""
    if value.removeprefix("!") not in sim.interface_list_names():
        raise no_match(name)
    return value


def _member_interface(name: str, value: str, sim: RouterOsSim) -> str:
    """A list member is a real interface: no `!`, no wildcard."""
    if value not in sim.interface_names():
        raise no_match(name)
    return value


def _member_list(name: str, value: str, sim: RouterOsSim) -> str:
    if value not in sim.interface_list_names():
        raise no_match(name)
    return value


CONNECTION_STATES = ("established", "invalid", "new", "related", "untracked")


def _connection_states(name: str, value: str, _sim: RouterOsSim) -> str:
    """A comma list of states, `!` before the list for not: `new`, `established,related`."""
    if not all(state in CONNECTION_STATES for state in value.removeprefix("!").split(",")):
        raise no_match(name)
    return value


HOST_NAME = re.compile(r"(?=.{1,253}$)[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?)*")


def _list_address(name: str, value: str, _sim: RouterOsSim) -> str:
    """An address list entry: an address, a network (printed as its network address, without /32),
    a range `a-b`, or a DNS name (RouterOS resolves it and keeps the name)."""
    low, dash, high = value.partition("-")
    if dash and _ipv4(low) is not None:
        first, last = _ipv4(low), _ipv4(high)
        if first is None or last is None or last < first:
            raise invalid_value(name)
        return value
    try:
        network = ipaddress.IPv4Network(value, strict=False)
    except ValueError:
        if re.fullmatch(r"[0-9./]+", value) or not HOST_NAME.fullmatch(value):
            raise invalid_value(name) from None
        return value
    return str(network.network_address) if network.prefixlen == 32 else str(network)


DURATION = re.compile(r"(?:(\d+)w)?(?:(\d+)d)?(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?")


def parse_duration(value: str) -> int | None:
    """RouterOS durations: `1d2h3m4s`, `5m`, `00:05:00`, `1d 00:05:00`; seconds, None if malformed."""
    days, _, clock = value.rpartition(" ")
    if ":" in clock:
        parts = clock.split(":")
        if len(parts) != 3 or not all(part.isdigit() for part in parts):
            return None
        hours, minutes, seconds = (int(part) for part in parts)
        rest = parse_duration(days) if days else 0
        return None if rest is None else rest + hours * 3600 + minutes * 60 + seconds
    match = DURATION.fullmatch(value)
    if not value or not match:
        return None
    if value.isdigit():
        return int(value)
    weeks, day_count, hours, minutes, seconds = (int(part or 0) for part in match.groups())
    return (((weeks * 7 + day_count) * 24 + hours) * 60 + minutes) * 60 + seconds


def _duration(name: str, value: str, _sim: RouterOsSim) -> str:
    if parse_duration(value) is None:
        raise invalid_value(name)
    return value


PROTOCOLS = (
    "tcp", "udp", "icmp", "igmp", "gre", "esp", "ah", "ipsec-esp", "ipsec-ah", "ipv6-encap",
    "ospf", "sctp", "udp-lite", "dccp", "l2tp", "vrrp", "pim", "rsvp", "etherip", "encap",
)


def _protocol(name: str, value: str, _sim: RouterOsSim) -> str:
    bare = value.removeprefix("!")
    if bare in PROTOCOLS or (bare.isdigit() and int(bare) <= 255):
        return value
    raise no_match(name)


PCC_FIELDS = (
    "src-address", "dst-address", "src-port", "dst-port", "both-addresses", "both-ports",
    "both-addresses-and-ports", "src-address-and-port", "dst-address-and-port",
)


def _pcc(name: str, value: str, _sim: RouterOsSim) -> str:
    """`<fields>:<denominator>/<remainder>` with 0 <= remainder < denominator."""
    match = re.fullmatch(r"([a-z-]+):(\d+)/(\d+)", value)
    if not match or match[1] not in PCC_FIELDS:
        raise invalid_value(name)
    denominator, remainder = int(match[2]), int(match[3])
    if denominator < 1 or remainder >= denominator:
        raise invalid_value(name)
    return value


# --- menus ---------------------------------------------------------------------------------

READ_VERBS = frozenset({"print", "getall"})
LIST_VERBS = READ_VERBS | {"add", "set", "remove", "enable", "disable"}
# Firewall tables are ordered (`move`) and count what they match.
RULE_VERBS = LIST_VERBS | {"move", "reset-counters", "reset-counters-all"}
# Arguments print takes that change nothing here.
PRINT_FLAGS = frozenset({"detail", "stats", "terse", "without-paging", "follow-only", "brief"})


@dataclass(frozen=True)
class Menu:
    """One API menu: which properties can be written (with their check) and which verbs exist."""

    path: str
    writable: Mapping[str, Check]
    verbs: frozenset[str] = LIST_VERBS
    required: tuple[str, ...] = ()
    defaults: Mapping[str, str] = field(default_factory=dict)
    single: bool = False


FIREWALL_BASE: dict[str, Check] = {
    "protocol": _protocol,
    "src-address": _ipv4_prefix,
    "dst-address": _ipv4_prefix,
    "src-port": _ports,
    "dst-port": _ports,
    "port": _ports,
    "src-address-list": _text,  # any name: a list nobody filled matches nothing
    "dst-address-list": _text,
    "in-interface": _interface,
    "out-interface": _interface,
    "in-interface-list": _interface_list,
    "out-interface-list": _interface_list,
    "connection-mark": _text,
    "connection-state": _connection_states,
    "packet-mark": _text,
    "routing-mark": _text,
    "jump-target": _text,
    "log": _bool,
    "log-prefix": _text,
    "comment": _text,
    "disabled": _bool,
}
FIREWALL_DEFAULTS = {
    "action": "accept", "log": "false", "log-prefix": "", "bytes": "0", "packets": "0",
    "invalid": "false", "dynamic": "false", "disabled": "false",
}
COMMON_ACTIONS = (
    "accept", "add-dst-to-address-list", "add-src-to-address-list", "jump", "log",
    "passthrough", "return",
)


def _firewall_rule_menu(path: str, chain: Check, actions: tuple[str, ...], writable: dict[str, Check],
                        defaults: Mapping[str, str] = FIREWALL_DEFAULTS) -> Menu:
    """An /ip/firewall rule menu: a required chain, COMMON_ACTIONS plus `actions`, the menu's own
    properties and FIREWALL_BASE's matchers."""
    return Menu(path, writable={"chain": chain, "action": _one_of(*COMMON_ACTIONS, *actions), **writable,
                                **FIREWALL_BASE},
                verbs=RULE_VERBS, required=("chain",), defaults=defaults)


NAT = _firewall_rule_menu(
    "/ip/firewall/nat",
    _one_of("srcnat", "dstnat"),
    ("dst-nat", "src-nat", "masquerade", "redirect", "netmap", "same", "endpoint-independent-nat"),
    {"to-addresses": _ipv4_range, "to-ports": _ports},
)
MANGLE = _firewall_rule_menu(
    "/ip/firewall/mangle",
    _one_of("prerouting", "input", "forward", "output", "postrouting"),
    ("mark-connection", "mark-packet", "mark-routing", "change-dscp", "change-mss", "change-ttl", "clear-df",
     "fasttrack-connection", "route", "set-priority", "sniff-pc", "sniff-tzsp", "strip-ipv4-options"),
    {"new-connection-mark": _text, "new-packet-mark": _text, "new-routing-mark": _text,
     "per-connection-classifier": _pcc, "passthrough": _bool},
    defaults={**FIREWALL_DEFAULTS, "passthrough": "true"},
)
FILTER = _firewall_rule_menu(
    "/ip/firewall/filter",
    _text,  # input, forward, output, or a custom chain
    ("drop", "reject", "fasttrack-connection", "tarpit"),
    {"reject-with": _text},
)
ADDRESS_LISTS = Menu(
    "/ip/firewall/address-list",
    writable={
        "list": _text, "address": _list_address, "timeout": _duration, "comment": _text, "disabled": _bool,
    },
    required=("list", "address"),
    defaults={"dynamic": "false", "disabled": "false"},
)
CONNECTIONS = Menu("/ip/firewall/connection", writable={}, verbs=READ_VERBS | {"remove"})
INTERFACES = Menu(
    "/interface",
    writable={"name": _text, "mtu": _text, "comment": _text, "disabled": _bool},
    verbs=READ_VERBS | {"set", "enable", "disable"},
)
INTERFACE_LISTS = Menu(
    "/interface/list",
    writable={"name": _text, "include": _text, "exclude": _text, "comment": _text},
    verbs=READ_VERBS | {"add", "set", "remove"},
    required=("name",),
    defaults={"builtin": "false", "dynamic": "false"},
)
LIST_MEMBERS = Menu(
    "/interface/list/member",
    writable={"list": _member_list, "interface": _member_interface, "comment": _text, "disabled": _bool},
    required=("list", "interface"),
    defaults={"dynamic": "false", "disabled": "false"},
)
ADDRESSES = Menu(
    "/ip/address",
    writable={
        "address": _ipv4_prefix, "network": _ipv4_list, "interface": _interface,
        "comment": _text, "disabled": _bool,
    },
    required=("address", "interface"),
    defaults={"invalid": "false", "dynamic": "false", "disabled": "false"},
)
POOLS = Menu(
    "/ip/pool",
    writable={"name": _text, "ranges": _ipv4_ranges, "next-pool": _text, "comment": _text},
    verbs=READ_VERBS | {"add", "set", "remove"},
    required=("name", "ranges"),
)
DHCP_SERVERS = Menu(
    "/ip/dhcp-server",
    writable={
        "name": _text, "interface": _interface, "address-pool": _text, "lease-time": _text,
        "comment": _text, "disabled": _bool,
    },
    required=("interface",),
    defaults={"address-pool": "static-only", "lease-time": "30m", "disabled": "false", "invalid": "false",
              "dynamic": "false"},
)
DHCP_NETWORKS = Menu(
    "/ip/dhcp-server/network",
    writable={
        "address": _ipv4_prefix, "gateway": _ipv4_list, "dns-server": _ipv4_list,
        "netmask": _text, "comment": _text,
    },
    verbs=READ_VERBS | {"add", "set", "remove"},
    required=("address",),
)
DHCP_LEASES = Menu(
    "/ip/dhcp-server/lease",
    writable={
        "address": _ipv4_list, "mac-address": _mac, "server": _text, "comment": _text,
        "disabled": _bool,
    },
    required=("address", "mac-address"),
    defaults={"dynamic": "false", "disabled": "false", "status": "waiting", "server": "defconf"},
)
RESOURCE = Menu("/system/resource", writable={}, verbs=READ_VERBS, single=True)
IDENTITY = Menu("/system/identity", writable={"name": _text}, verbs=READ_VERBS | {"set"}, single=True)
CLOUD = Menu(
    "/ip/cloud",
    writable={"ddns-enabled": _bool, "ddns-update-interval": _text, "update-time": _bool},
    verbs=READ_VERBS | {"set", "force-update"},
    single=True,
)
DNS_STATIC = Menu(  # RouterOS 7: A, CNAME and FWD (forward a name, or with match-subdomain its subdomains) entries
    "/ip/dns/static",
    writable={
        "name": _text, "regexp": _text, "type": _one_of("A", "AAAA", "CNAME", "FWD", "MX", "NS", "NXDOMAIN", "SRV",
                                                         "TXT"),
        "address": _ipv4_list, "cname": _text, "forward-to": _text, "match-subdomain": _bool, "ttl": _duration,
        "comment": _text, "disabled": _bool,
    },
    defaults={"type": "A", "match-subdomain": "false", "ttl": "1d", "dynamic": "false", "disabled": "false"},
)
MENUS: dict[str, Menu] = {
    menu.path: menu
    for menu in (NAT, MANGLE, FILTER, ADDRESS_LISTS, CONNECTIONS, INTERFACES, INTERFACE_LISTS, LIST_MEMBERS,
                 ADDRESSES, POOLS, DHCP_SERVERS, DHCP_NETWORKS, DHCP_LEASES, RESOURCE, IDENTITY, CLOUD, DNS_STATIC)
}
