"""The live model of the lab that the panes render, fed by the watchers and pollers.

`LabState` holds it all: the cluster (`KubeState`, watched), what the router and DNS polls read,
and each component's health. Kubernetes objects are kept per kind, keyed by `obj.key` (`ns/name`,
or the node name). Each applied event reports exactly which keys changed and which went away, so
a table can update cells by key instead of rebuilding; a RELISTED event (after a reconnect or a
410) is diffed against what is held, so a re-list never duplicates or loses rows.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum
from typing import Any

from .models import CloudStatus, DnsCheck, EventType, KubeEvent, KubeObject, MangleRule, NatRule, RouterIdentity


@dataclass(frozen=True)
class Change:
    """What one event did to one kind: keys added or modified, and keys removed."""

    kind: str
    upserted: tuple[str, ...] = ()
    removed: tuple[str, ...] = ()

    def __bool__(self) -> bool:
        return bool(self.upserted or self.removed)


class Health(str, Enum):
    CONNECTING = "connecting"
    CONNECTED = "connected"
    RETRYING = "retrying"
    ERROR = "error"


@dataclass(frozen=True)
class ComponentStatus:
    health: Health
    reason: str = ""

    @property
    def stale(self) -> bool:
        """Whether data shown for this component may be out of date."""
        return self.health is not Health.CONNECTED


@dataclass
class KubeState:
    """Every watched kind's objects by key, plus the last resourceVersion seen per kind."""

    objects: dict[str, dict[str, KubeObject]] = field(default_factory=dict)
    resource_versions: dict[str, str] = field(default_factory=dict)

    def of(self, kind: str) -> dict[str, KubeObject]:
        return self.objects.setdefault(kind, {})

    def apply(self, event: KubeEvent) -> Change:
        held = self.of(event.kind)
        self.resource_versions[event.kind] = event.resource_version
        if event.type is EventType.RELISTED:
            fresh = {obj.key: obj for obj in event.objects}
            removed = tuple(key for key in held if key not in fresh)
            upserted = tuple(key for key, obj in fresh.items() if key not in held or held[key] != obj)
            self.objects[event.kind] = fresh
            return Change(event.kind, upserted, removed)
        assert event.obj is not None, f"{event.type} event without an object"
        key = event.obj.key
        if event.type is EventType.DELETED:
            return Change(event.kind, removed=(key,)) if held.pop(key, None) is not None else Change(event.kind)
        # Always keep the newest object, but report a change only when a shown field differs:
        # models compare without `raw`.
        unchanged = key in held and held[key] == event.obj
        held[key] = event.obj
        return Change(event.kind) if unchanged else Change(event.kind, upserted=(key,))


def describe_error(exc: BaseException) -> str:
    """The reason shown for a failed component: the error's message, else its type."""
    text = str(exc).strip()
    return text if text else type(exc).__name__


@dataclass
class Components:
    """The header's view: one status per component (kubernetes, router, dns, node names)."""

    statuses: dict[str, ComponentStatus] = field(default_factory=dict)

    def set(self, component: str, health: Health, reason: str = "") -> bool:
        """Record a status; True when it differs from the one held (so the header repaints)."""
        status = ComponentStatus(health, reason)
        if self.statuses.get(component) == status:
            return False
        self.statuses[component] = status
        return True

    def get(self, component: str) -> ComponentStatus:
        return self.statuses.get(component, ComponentStatus(Health.CONNECTING))


@dataclass
class LabState:
    """Everything the live view shows. The router's rules are keyed as the NAT pane shows them
    (`nat*3`, `mangle*1`), in its order: the mark-connection rules that feed dst-nat (PCC), then
    NAT, each in router order. DNS checks are keyed by name."""

    kube: KubeState = field(default_factory=KubeState)
    kube_context: str = ""  # the kubeconfig context `kube` is watched through
    components: Components = field(default_factory=Components)
    router_rules: dict[str, NatRule | MangleRule] = field(default_factory=dict)
    cloud: CloudStatus | None = None
    router_identity: RouterIdentity | None = None
    dns_rows: dict[str, DnsCheck] = field(default_factory=dict)
    # Each exposure judged after a router poll: "ns/name tcp/80" → plans.repair.ExposureStatus (typed
    # loosely: the state sits below the plans); `exposures_error` says why the last check failed.
    exposures: dict[str, Any] = field(default_factory=dict)
    exposures_error: str = ""

    def set_router(self, nat_rules: list[NatRule], mangle_rules: list[MangleRule], cloud: CloudStatus,
                   identity: RouterIdentity) -> None:
        """What one router poll read."""
        shown: list[tuple[str, NatRule | MangleRule]] = [
            (f"mangle{rule.id}", rule) for rule in mangle_rules if rule.action == "mark-connection"]
        shown += [(f"nat{rule.id}", rule) for rule in nat_rules]
        self.router_rules = dict(shown)
        self.cloud, self.router_identity = cloud, identity

    def set_dns(self, checks: list[DnsCheck]) -> None:
        self.dns_rows = {check.name: check for check in checks}

    def set_exposures(self, statuses: list[Any]) -> None:
        """What one drift and PCC check judged (a failed check keeps the last statuses)."""
        self.exposures = {f"{s.service} {s.protocol}/{s.port}": s for s in statuses}
        self.exposures_error = ""

    def drifts(self) -> dict[str, tuple[Any, Any]]:
        """Each router item of ours not as planned, by its marker → (its exposure's status, the difference)."""
        return {marker: (status, difference) for status in self.exposures.values()
                for marker, difference in status.drifted.items()}

    def exposures_by_service(self) -> dict[str, list[Any]]:
        """The statuses of each exposed Service's ports (ns/name → by port)."""
        found: dict[str, list[Any]] = {}
        for status in sorted(self.exposures.values(), key=lambda s: s.port):
            found.setdefault(status.service, []).append(status)
        return found

    @property
    def nat_rules(self) -> list[NatRule]:
        return [rule for rule in self.router_rules.values() if isinstance(rule, NatRule)]

    @property
    def mangle_rules(self) -> list[MangleRule]:
        """The mark-connection rules shown (the others are not the router's forwarding)."""
        return [rule for rule in self.router_rules.values() if isinstance(rule, MangleRule)]

    def namespaces(self) -> list[str]:
        """Every namespace of a namespaced object held, sorted."""
        return sorted({obj.namespace for kind in ("Pod", "Service", "Ingress") for obj in self.kube.of(kind).values()})

    def ingress_hosts(self) -> list[str]:
        return [host for ingress in self.kube.of("Ingress").values() for host in ingress.hosts]
