"""Plain dataclasses describing the lab: what the clients return and what state.py holds.

No I/O and no textual here. Kubernetes objects are reduced to the fields the panes and plans
use, and keep the raw object (`raw`) for apply (the live panes drop it to save memory).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum
from typing import Any


# --- Kubernetes ---------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Node:
    name: str
    ready: bool
    unschedulable: bool
    roles: tuple[str, ...]
    kubelet_version: str
    internal_ip: str
    arch: str
    os_image: str
    cpu: str
    memory: str
    created: str  # RFC 3339 creationTimestamp
    labels: dict[str, str] = field(default_factory=dict, compare=False, hash=False)
    raw: dict[str, Any] = field(default_factory=dict, compare=False, hash=False, repr=False)

    @property
    def key(self) -> str:
        return self.name

    @property
    def status(self) -> str:
        state = "Ready" if self.ready else "NotReady"
        return f"{state},SchedulingDisabled" if self.unschedulable else state


@dataclass(frozen=True, slots=True)
class Pod:
    namespace: str
    name: str
    phase: str
    status: str  # what kubectl shows: Running, Pending, ContainerCreating, CrashLoopBackOff ...
    ready_containers: int
    total_containers: int
    restarts: int
    node: str
    ip: str
    created: str
    labels: dict[str, str] = field(default_factory=dict, compare=False, hash=False)
    raw: dict[str, Any] = field(default_factory=dict, compare=False, hash=False, repr=False)

    @property
    def key(self) -> str:
        return f"{self.namespace}/{self.name}"


@dataclass(frozen=True, slots=True)
class ServicePort:
    port: int
    protocol: str = "TCP"
    target_port: str = ""
    node_port: int | None = None
    name: str = ""


@dataclass(frozen=True, slots=True)
class Service:
    namespace: str
    name: str
    type: str
    cluster_ip: str
    external_ips: tuple[str, ...]  # LoadBalancer ingress IPs; empty means <pending> for a LB
    ports: tuple[ServicePort, ...]
    selector: dict[str, str]
    created: str
    raw: dict[str, Any] = field(default_factory=dict, compare=False, hash=False, repr=False)

    @property
    def key(self) -> str:
        return f"{self.namespace}/{self.name}"


@dataclass(frozen=True, slots=True)
class Deployment:
    namespace: str
    name: str
    replicas: int
    ready_replicas: int
    available_replicas: int
    selector: dict[str, str]
    created: str
    updated_replicas: int = 0  # of the newest template (kubectl's UP-TO-DATE)
    containers: tuple[str, ...] = ()  # the pod template's container names
    raw: dict[str, Any] = field(default_factory=dict, compare=False, hash=False, repr=False)

    @property
    def key(self) -> str:
        return f"{self.namespace}/{self.name}"


@dataclass(frozen=True, slots=True)
class Ingress:
    namespace: str
    name: str
    ingress_class: str
    hosts: tuple[str, ...]
    addresses: tuple[str, ...]
    created: str
    raw: dict[str, Any] = field(default_factory=dict, compare=False, hash=False, repr=False)

    @property
    def key(self) -> str:
        return f"{self.namespace}/{self.name}"


KubeObject = Node | Pod | Service | Deployment | Ingress


class EventType(str, Enum):
    ADDED = "ADDED"
    MODIFIED = "MODIFIED"
    DELETED = "DELETED"
    # A fresh list after a (re)connect or a 410: `objects` is the whole current set.
    RELISTED = "RELISTED"


@dataclass(frozen=True, slots=True)
class KubeEvent:
    """One change to a watched kind. For RELISTED, `obj` is None and `objects` holds the list."""

    kind: str  # "Node", "Pod", "Service", "Deployment", "Ingress"
    type: EventType
    obj: KubeObject | None
    resource_version: str
    objects: tuple[KubeObject, ...] = ()


# --- RouterOS -----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class NatRule:
    id: str  # RouterOS .id, e.g. "*3"
    chain: str
    action: str
    protocol: str = ""
    dst_port: str = ""
    in_interface: str = ""
    in_interface_list: str = ""  # in-interface-list=, e.g. WAN
    to_addresses: str = ""
    to_ports: str = ""
    connection_mark: str = ""
    packets: int = 0
    bytes: int = 0
    comment: str = ""
    disabled: bool = False
    src_address_list: str = ""
    src_address: str = ""  # the hairpin masquerade's LAN
    dst_address: str = ""  # the hairpin dst-nat's WAN address
    invalid: bool = False  # the I flag: an interface or interface list it names is gone
    dynamic: bool = False
    raw: dict[str, Any] = field(default_factory=dict, compare=False, hash=False, repr=False)


@dataclass(frozen=True, slots=True)
class MangleRule:
    id: str
    chain: str
    action: str
    protocol: str = ""
    dst_port: str = ""
    in_interface: str = ""
    in_interface_list: str = ""  # in-interface-list=, e.g. WAN
    new_connection_mark: str = ""
    per_connection_classifier: str = ""
    passthrough: bool = True
    packets: int = 0
    bytes: int = 0
    comment: str = ""
    disabled: bool = False
    connection_state: str = ""  # e.g. "new"
    connection_mark: str = ""  # the mark matched, e.g. "no-mark"
    src_address_list: str = ""
    invalid: bool = False
    dynamic: bool = False
    raw: dict[str, Any] = field(default_factory=dict, compare=False, hash=False, repr=False)


@dataclass(frozen=True, slots=True)
class CloudStatus:
    ddns_enabled: bool
    dns_name: str  # "" until DDNS is enabled and updated
    public_address: str  # as the MikroTik cloud server saw it
    status: str = ""  # "updating...", "updated", "Error: ..."
    # e.g. "Router is behind a NAT. Remote connection might not work."
    warning: str = ""


@dataclass(frozen=True, slots=True)
class AddressListEntry:
    id: str
    list: str
    address: str  # an address, network, range or DNS name
    comment: str = ""
    timeout: str = ""  # time left, e.g. "4m52s"; "" for a static entry
    dynamic: bool = False
    disabled: bool = False


@dataclass(frozen=True, slots=True)
class InterfaceList:
    id: str
    name: str  # e.g. WAN
    builtin: bool = False  # all, none, dynamic, static
    comment: str = ""


@dataclass(frozen=True, slots=True)
class InterfaceListMember:
    id: str
    list: str
    interface: str
    disabled: bool = False
    dynamic: bool = False


@dataclass(frozen=True, slots=True)
class FirewallConnection:
    """A connection tracking entry. Addresses carry the port: `203.0.113.7:50123`."""

    id: str
    protocol: str
    src_address: str
    dst_address: str
    reply_src_address: str = ""  # after dst-nat: the backend, e.g. 192.168.40.103:31681
    reply_dst_address: str = ""
    connection_mark: str = ""
    tcp_state: str = ""
    dstnat: bool = False


@dataclass(frozen=True, slots=True)
class RouterIdentity:
    identity: str
    version: str
    board: str
    architecture: str = ""
    uptime: str = ""
    cpu_load: int = 0
    free_memory: int = 0
    total_memory: int = 0


@dataclass(frozen=True, slots=True)
class RouterInterface:
    name: str
    type: str
    running: bool
    disabled: bool = False
    mac_address: str = ""


@dataclass(frozen=True, slots=True)
class IpAddress:
    address: str  # CIDR form, e.g. 192.168.40.1/24
    network: str
    interface: str
    disabled: bool = False


@dataclass(frozen=True, slots=True)
class IpPool:
    name: str
    ranges: str  # e.g. "192.168.40.50-192.168.40.254"


@dataclass(frozen=True, slots=True)
class DhcpNetwork:
    address: str
    gateway: str
    dns_server: str = ""


@dataclass(frozen=True, slots=True)
class DhcpLease:
    address: str
    mac_address: str
    host_name: str = ""
    status: str = ""
    dynamic: bool = True


# --- DNS and Cloudflare -------------------------------------------------------------------


class DnsOutcome(str, Enum):
    ANSWER = "answer"
    NXDOMAIN = "nxdomain"
    NO_ANSWER = "no-answer"
    REFUSED = "refused"
    TIMEOUT = "timeout"


@dataclass(frozen=True, slots=True)
class DnsResult:
    name: str
    outcome: DnsOutcome
    addresses: tuple[str, ...] = ()
    cname_chain: tuple[str, ...] = ()  # names followed, in order, not including `name`
    detail: str = ""


@dataclass(frozen=True, slots=True)
class DnsCheck:
    """One row of the DNS pane: a name, what it should be, what it is."""

    name: str
    expected: str
    actual: str
    ok: bool
    detail: str = ""


@dataclass(frozen=True, slots=True)
class CloudflareRecord:
    id: str
    zone_id: str
    type: str
    name: str
    content: str
    proxied: bool
    ttl: int
    comment: str = ""
    tags: tuple[str, ...] = ()  # "name" or "name:value"


@dataclass(frozen=True, slots=True)
class CloudflareIpRanges:
    """Cloudflare's published source ranges: live from `GET /ips` (with its `etag`), or the
    snapshot bundled with homelab-tui (with the `date` it was taken; `etag` empty)."""

    ipv4_cidrs: tuple[str, ...]
    ipv6_cidrs: tuple[str, ...]
    etag: str = ""
    date: str = ""  # ISO date of a bundled snapshot; "" when read live
    source: str = ""  # where the list came from, in words


# --- SSH ----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class CommandResult:
    host: str
    command: str
    exit_status: int
    stdout: str
    stderr: str = ""

    @property
    def ok(self) -> bool:
        return self.exit_status == 0
