"""Repair: an exposure as it stands against what expose would make now, and the plan that puts it
back. Pure.

What the user asked is the Service's record (plans/expose.py `record_of`); "now" is the live
Service, nodes, router and zone. Two things can part them:
- **drift**: an item carrying our marker whose fields differ (a hand edit in WinBox), is disabled,
  is gone (deleted by hand), or is there twice (a conflict that is never resolved by picking one).
  Counters and dynamic items are not drift; a rule the user took over (plans/release.py) is theirs.
- **staleness**, for a NodePort target: the nodes the rules forward to are no longer the eligible
  ones: a node NotReady for `rebalance_after` seconds or more, a node gone, a node Ready as long
  and not forwarded to, or, under externalTrafficPolicy Local, a node without a Ready endpoint.
  Under policy Cluster every Ready node's NodePort reaches the endpoints, so where the pods run
  does not matter (no router churn on every reschedule).
A paused exposure (unexpose --disable-only) is left alone; one with no record, or whose Service
is gone, gets no plan, and its items are flagged.

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
from .release import released_marker
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
    zone_error: str = ""  # why the zone could not be read: the router is judged, the record is not


@dataclass(frozen=True)
class Difference:
    """One item of ours that is not as planned."""

    menu: str  # a RouterOS menu, DNS_RECORD or DDNS
    marker: str  # its comment ("" for DDNS)
    state: str  # changed, disabled, missing, extra, conflict, off; orphaned, unrecorded (no plan can say)
    fields: tuple[tuple[str, str, str], ...] = ()  # (field, ours, the router's or the zone's)
    ids: tuple[str, ...] = ()  # the items' ids, for a conflict

    def __str__(self) -> str:
        where = self.marker or self.menu
        if self.state == "changed":
            return f"{where}: " + "; ".join(f"{name} is {theirs or '(none)'}, ours {ours or '(none)'}"
                                           for name, ours, theirs in self.fields)
        return {"disabled": f"{where} is disabled",
                "missing": f"{where} is missing (deleted by hand)",
                "extra": f"{where} is no longer planned",
                "conflict": f"{where} is there {len(self.ids)} times ({', '.join(self.ids)}): remove the copies by "
                            "hand; homelab-tui never picks one",
                "off": "the router's DDNS is off",
                "orphaned": f"{where} forwards for a Service that is gone",
                "unrecorded": f"{where} belongs to an exposure with no record"}[self.state]


@dataclass(frozen=True)
class ExposureStatus:
    """An exposure against its record: what differs, why PCC is stale, and the repair plan (all
    no-ops when nothing differs; None when `error` says why none can be made, or it is paused)."""

    service: str
    protocol: str
    port: int
    differences: tuple[Difference, ...] = ()
    stale: tuple[str, ...] = ()  # "node2 NotReady", "node3 joined", ...
    plan: Plan | None = None
    error: str = ""
    paused: bool = False  # unexposed with --disable-only: its rules are disabled on purpose
    released: tuple[str, ...] = ()  # markers of ours the user took over (x): never made again

    @property
    def needs_repair(self) -> bool:
        return self.plan is not None and bool(self.differences)

    @property
    def summary(self) -> str:
        """A few words for a table cell: "PCC stale (node2 NotReady)", "drift: 1 changed", "ok"."""
        if self.error:
            return self.error.split(":")[0]
        if self.paused:
            return "paused"
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
    if status.paused:
        raise PlanError("--service", f"{answers.service} {answers.protocol}/{answers.port} is paused (unexposed with "
                                     "--disable-only): expose it again to resume it")
    assert status.plan is not None
    return status.plan


def exposure_status(exposure: RepairAnswers, facts: RepairFacts) -> ExposureStatus:
    """The exposure of `exposure.service`'s public port against its record (what the panes and the
    probe show); the repair plan is in it."""
    port = (exposure.service, exposure.protocol, exposure.port)  # what our_items selects
    found = ExposureStatus(exposure.service, exposure.protocol, exposure.port)
    router, service = facts.expose.router, facts.expose.service
    tables = ((NAT, router.nat), (MANGLE, router.mangle), (ADDRESS_LIST, router.address_list))
    conflicts = tuple(Difference(menu, comment, "conflict", ids=tuple(i.get(".id", "?") for i in items))
                      for menu, table in tables for comment, items in our_items(table, *port).items() if len(items) > 1)
    if conflicts:
        return replace(found, differences=conflicts, error="conflict: a marker is on more than one item; remove "
                                                           "the copies by hand")
    key = record_key(exposure.protocol, exposure.port)

    def unplanned(state: str, error: str) -> ExposureStatus:
        """No plan can be made: every item of ours is flagged with why."""
        return replace(found, error=error, differences=tuple(
            Difference(menu, comment, state) for menu, table in tables for comment in our_items(table, *port)))

    if not service.exists:
        return unplanned("orphaned", f"orphaned: the Service {exposure.service} is gone; unexpose it")
    if key not in service.records:
        return unplanned("unrecorded", f"unrecorded: {exposure.service} has no record of how {exposure.protocol}/"
                                       f"{exposure.port} was exposed (annotation {key}); expose it again to record it")
    try:
        recorded, paused = answers_from_record(exposure.service, key, service.records[key], wan=exposure.wan,
                                               proxied=exposure.proxied)
    except ValueError as error:
        return unplanned("unrecorded", f"unrecorded: {error}")
    if paused:
        return replace(found, paused=True)
    stale, eligible = _staleness(recorded, facts.expose, port, exposure.rebalance_after)
    if recorded.target == "nodeport" and not eligible:
        return replace(found, stale=stale, error=f"no node to forward to: {', '.join(stale) or 'none is Ready'}; "
                                                 "the rules stay as they are")
    judged = replace(recorded, nodes=eligible, dns="none" if facts.zone_error else recorded.dns)
    try:
        plan = build_expose(judged, facts.expose, record=recorded)
    except PlanError as error:
        return replace(found, stale=stale, error="; ".join(message for _, message in error.errors))
    # what the user took over (x) is theirs: never made again
    released = {comment for menu, table in tables for item in table
                if (comment := released_marker(item.get("comment", "")))}
    steps = tuple(step for step in plan.steps if not (isinstance(step.action, RouterAdd)
                                                       and step.action.comment in released))
    differences = tuple(d for step in steps if not step.is_noop and (d := _difference(step, facts.expose)))
    found = replace(found, stale=stale, released=tuple(sorted(released & _planned(plan))))
    if not differences:  # an order check left alone (a rule not made again) has nothing to put in order
        steps = tuple(step if step.is_noop else replace(step, noop_reason="nothing differs") for step in steps)
        return replace(found, plan=replace(plan, title=f"Repair {exposure.service} {exposure.protocol}/{exposure.port}"
                                           ": nothing to repair", steps=steps))
    # a rebalance changes classifiers and adds or removes rules: those are not hand edits
    notes = (f"PCC stale ({', '.join(stale)}): rebalanced over {', '.join(eligible)}",) if stale else \
        tuple(f"drift: {d}" for d in differences if d.state != "extra")
    if facts.zone_error:
        notes += (f"the DNS record and DDNS are not checked: {facts.zone_error}",)
    title = f"Repair {exposure.service} {exposure.protocol}/{exposure.port}" + (
        f": rebalance PCC ({', '.join(stale)})" if stale else "")
    return replace(found, differences=differences, plan=Plan(title, steps, notes + plan.warnings))


def _planned(plan: Plan) -> set[str]:
    return {step.action.comment for step in plan.steps if isinstance(step.action, RouterAdd | RouterSet)}


def _staleness(recorded: ExposeAnswers, facts: ExposeFacts, port: tuple[str, str, int], after: float
               ) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """Why the forwarded nodes are not the eligible ones, and the eligible nodes (the record's
    nodes, or every node, when it asked for none). Both ways wait `after` seconds: a node leaves
    once NotReady that long, and one not forwarded to joins once Ready that long, so a flapping
    node does not churn the rules."""
    if recorded.target != "nodeport":
        return (), recorded.nodes
    by_name = {node.name: node for node in facts.nodes}
    by_address = {node.address: node.name for node in facts.nodes}
    local = facts.service.external_traffic_policy == "Local"
    # what our dst-nat rules forward to, and the ones the user took over (x): they still forward
    dstnats = {**our_items(facts.router.nat, *port), **our_items(
        ({**item, "comment": released_marker(item.get("comment", ""))} for item in facts.router.nat), *port)}
    forwarded = [by_address.get(address, address) for comment, items in sorted(dstnats.items())
                 if (marker := parse_marker(comment)) and marker.role == "dstnat"
                 for address in (item.get("to-addresses", "") for item in items)]

    def reason(name: str) -> str:
        node = by_name.get(name)
        if node is None:
            return f"{name} is gone"
        if not node.ready and node.not_ready_seconds >= after:
            return f"{name} NotReady"
        if local and name not in facts.service.endpoint_nodes:
            return f"{name} has no endpoint"
        return ""

    def eligible_now(name: str) -> bool:
        node = by_name.get(name)
        return not reason(name) and node is not None and (
            name in forwarded or not forwarded or (node.ready and node.ready_seconds >= after))

    eligible = tuple(name for name in recorded.nodes or tuple(by_name) if eligible_now(name))
    if recorded.balance == "single":
        eligible = eligible[:1]
    if not forwarded:
        return (), eligible
    gone = [(reason(name) or f"{name} is not chosen") if name in by_name else f"a rule forwards to {name}, no node"
            for name in forwarded if name not in eligible]
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
