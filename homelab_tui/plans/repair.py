"""Repair: an exposure as it stands against what expose would make now, and the plan that puts it
back. Pure.

What the user asked is the Service's record (plans/expose.py `record_of`); "now" is the live
Service, nodes, router and zone. Two things can part them:
- **drift**: an item carrying our marker whose fields differ (a hand edit in WinBox), is disabled,
  is gone (deleted by hand, or released: its marker dropped), or is there twice (a conflict that
  is never resolved by picking one). Counters and dynamic items are not drift.
- **staleness**, for a NodePort target: the nodes the rules forward to are no longer the eligible
  ones: a node NotReady for `rebalance_after` seconds or more, a node gone, a node (back) Ready
  and not forwarded to, or, under externalTrafficPolicy Local, a node without a Ready endpoint.
  Under policy Cluster every Ready node's NodePort reaches the endpoints, so where the pods run
  does not matter (no router churn on every reschedule).

The repair plan is expose's, built over the eligible nodes with the user's record kept as it
was: it sets drifted fields back, enables what was disabled, adds what is missing, rebalances
PCC (the classifiers' count, a pair per node; places kept, plans/expose.py `_keep_places`), turns
DDNS on and updates the record. One plan answers `v` (revert) in the NAT pane, the rebalance key,
the probe's fixes and `[router] auto_rebalance`.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field, replace

from . import Plan, PlanError, Step
from .actions import CloudDdns, DnsPut, RouterAdd, RouterRemove, RouterSet
from .expose import ADDRESS_LIST, MANGLE, NAT, ExposeAnswers, ExposeFacts, answers_from_record, build_expose, record_key
from .routeros import our_items, parse_marker

DNS_RECORD, DDNS = "dns", "/ip/cloud"  # the "menus" of a record's and DDNS's differences


@dataclass(frozen=True)
class RepairAnswers:
    service: str  # namespace/name
    port: int  # the public port
    protocol: str = "tcp"
    rebalance_after: float = 60.0  # [router] rebalance_after_seconds
    wan: str = "all-ppp"  # [router] wan_interface
    proxied: bool = True  # [dns.cloudflare] proxied


@dataclass(frozen=True)
class RepairFacts:
    expose: ExposeFacts = field(default_factory=ExposeFacts)  # the Service's records are in expose.service


@dataclass(frozen=True)
class Difference:
    """One item of ours that is not as planned."""

    menu: str  # a RouterOS menu, DNS_RECORD or DDNS
    marker: str  # its comment ("" for DDNS)
    state: str  # "changed", "disabled", "missing", "extra", "conflict" or "off"
    fields: tuple[tuple[str, str, str], ...] = ()  # (field, ours, the router's or the zone's)
    ids: tuple[str, ...] = ()  # the items' ids, for a conflict

    def __str__(self) -> str:
        where = self.marker or self.menu
        if self.state == "changed":
            return f"{where}: " + "; ".join(f"{name} is {theirs or '(none)'}, ours {ours or '(none)'}"
                                           for name, ours, theirs in self.fields)
        return {"disabled": f"{where} is disabled",
                "missing": f"{where} is missing (deleted by hand, or released)",
                "extra": f"{where} is no longer planned",
                "conflict": f"{where} is there {len(self.ids)} times ({', '.join(self.ids)}): remove the copies by "
                            "hand; homelab-tui never picks one",
                "off": "the router's DDNS is off"}[self.state]


@dataclass(frozen=True)
class ExposureStatus:
    """An exposure against its record: what differs, why PCC is stale, and the repair plan (None
    when there is nothing to repair, or `error` says why none can be made)."""

    service: str
    protocol: str
    port: int
    differences: tuple[Difference, ...] = ()
    stale: tuple[str, ...] = ()  # "node2 NotReady", "node3 joined", ...
    plan: Plan | None = None
    error: str = ""

    @property
    def summary(self) -> str:
        """A few words for a table cell: "PCC stale (node2 NotReady)", "drift: 1 changed", "ok"."""
        if self.error:
            return self.error.split(":")[0]
        if self.stale:
            return f"PCC stale ({', '.join(self.stale)})"
        if self.differences:
            counts: dict[str, int] = {}
            for difference in self.differences:
                counts[difference.state] = counts.get(difference.state, 0) + 1
            return "drift: " + ", ".join(f"{count} {state}" for state, count in counts.items())
        return "ok"

    @property
    def drifted(self) -> dict[str, Difference]:
        """The differences of items on the router, by marker (what the NAT pane flags)."""
        return {d.marker: d for d in self.differences if d.marker and d.menu not in (DNS_RECORD, DDNS)}


def repair_plan(answers: RepairAnswers, facts: RepairFacts) -> Plan:
    status = exposure_status(answers, facts)
    if status.error:
        raise PlanError("--service", status.error)
    if status.plan is None:
        raise PlanError("--service", f"nothing to repair: {answers.service} {answers.protocol}/{answers.port} is "
                                     "as planned")
    return status.plan


def exposure_status(exposure: RepairAnswers, facts: RepairFacts) -> ExposureStatus:
    """The exposure of `exposure.service`'s public port against its record (what the panes and the
    probe show); the repair plan is in it."""
    port = (exposure.service, exposure.protocol, exposure.port)  # what our_items selects
    found = ExposureStatus(exposure.service, exposure.protocol, exposure.port)
    router, service = facts.expose.router, facts.expose.service
    conflicts = tuple(Difference(menu, comment, "conflict", ids=tuple(i.get(".id", "?") for i in items))
                      for menu, table in ((NAT, router.nat), (MANGLE, router.mangle), (ADDRESS_LIST, router.address_list))
                      for comment, items in our_items(table, *port).items() if len(items) > 1)
    if conflicts:
        return replace(found, differences=conflicts, error="conflict: a marker is on more than one item; remove "
                                                           "the copies by hand")
    key = record_key(exposure.protocol, exposure.port)
    if not service.exists:
        return replace(found, error=f"orphaned: the Service {exposure.service} is gone; unexpose it")
    if key not in service.records:
        return replace(found, error=f"unrecorded: {exposure.service} has no record of how {exposure.protocol}/"
                                    f"{exposure.port} was exposed (annotation {key}); expose it again to record it")
    try:
        recorded = answers_from_record(exposure.service, key, service.records[key], wan=exposure.wan,
                                       proxied=exposure.proxied)
    except ValueError as error:
        return replace(found, error=f"unrecorded: {error}")
    stale, eligible = _staleness(recorded, facts.expose, port, exposure.rebalance_after)
    try:
        plan = build_expose(replace(recorded, nodes=eligible), facts.expose, record=recorded)
    except PlanError as error:
        return replace(found, stale=stale, error="; ".join(message for _, message in error.errors))
    differences = tuple(d for step in plan.steps if not step.is_noop and (d := _difference(step, facts.expose)))
    if not differences:
        return replace(found, stale=stale)
    # a rebalance changes classifiers and adds or removes rules: those are not hand edits
    notes = (f"PCC stale ({', '.join(stale)}): rebalanced over {', '.join(eligible) or 'no node'}",) if stale else \
        tuple(f"drift: {d}" for d in differences if d.state != "extra")
    title = f"Repair {exposure.service} {exposure.protocol}/{exposure.port}" + (
        f": rebalance PCC ({', '.join(stale)})" if stale else "")
    return replace(found, differences=differences, stale=stale,
                   plan=Plan(title, plan.steps, notes + plan.warnings))


def _staleness(recorded: ExposeAnswers, facts: ExposeFacts, port: tuple[str, str, int], after: float
               ) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """Why the forwarded nodes are not the eligible ones, and the eligible nodes (the record's
    nodes, or every node, when it asked for none)."""
    if recorded.target != "nodeport":
        return (), recorded.nodes
    by_name = {node.name: node for node in facts.nodes}
    local = facts.service.external_traffic_policy == "Local"

    def reason(name: str) -> str:
        node = by_name.get(name)
        if node is None:
            return f"{name} is gone"
        if not node.ready and node.not_ready_seconds >= after:
            return f"{name} NotReady"
        if local and name not in facts.service.endpoint_nodes:
            return f"{name} has no endpoint"
        return ""

    eligible = tuple(name for name in recorded.nodes or tuple(by_name) if not reason(name))
    if recorded.balance == "single":
        eligible = eligible[:1]
    by_address = {node.address: node.name for node in facts.nodes}
    forwarded = [item.get("to-addresses", "") for comment, items in sorted(our_items(facts.router.nat, *port).items())
                 if (marker := parse_marker(comment)) and marker.role == "dstnat" for item in items]
    if not forwarded:
        return (), eligible
    gone = [(reason(by_address[address]) or f"{by_address[address]} is not chosen") if address in by_address
            else f"a rule forwards to {address}, no node" for address in forwarded
            if by_address.get(address) not in eligible]
    forwarded = [by_address.get(address, address) for address in forwarded]
    # a node is new to PCC when the rules have no place for it; a place whose rule is missing is drift
    places = max((m.index for items in (facts.router.mangle, facts.router.nat) for c in our_items(items, *port)
                  if (m := parse_marker(c)) and m.role in ("pcc", "dstnat")), default=len(forwarded))
    joined = [f"{name} {'joined' if not recorded.nodes else 'is Ready again'}"
              for name in [n for n in eligible if n not in forwarded][:max(len(eligible) - places, 0)]
              ] if recorded.balance == "pcc" else []
    return tuple(gone + joined), eligible


def _difference(step: Step, facts: ExposeFacts) -> Difference | None:
    """What a step of the repair plan puts back."""
    action, undo = step.action, step.undo
    if isinstance(action, RouterAdd):
        return Difference(action.menu, action.comment, "missing")
    if isinstance(action, RouterRemove):
        return Difference(action.menu, action.comment, "extra")
    if isinstance(action, RouterSet) and isinstance(undo, RouterSet):
        theirs = dict(undo.fields)
        changed = tuple((name, ours, theirs.get(name, "")) for name, ours in action.fields if name != "disabled")
        state = "changed" if changed else "disabled"
        return Difference(action.menu, action.comment, state, changed)
    if isinstance(action, CloudDdns):
        return Difference(DDNS, "", "off")
    if isinstance(action, DnsPut):
        live = next((r for r in facts.zone.records if r.get("comment") == action.comment), None)
        if live is None:
            return Difference(DNS_RECORD, action.comment, "missing")
        wanted = (("type", action.type, live.get("type", "")), ("content", action.content, live.get("content", "")),
                  ("proxied", json.dumps(action.proxied), str(live.get("proxied", "")).lower()))
        return Difference(DNS_RECORD, action.comment, "changed", tuple(w for w in wanted if w[1] != w[2]))
    return None
