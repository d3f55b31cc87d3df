"""Unexpose: remove exactly what expose made for a Service, found by its markers: the router's
rules and address-list entries, and its DNS record. `disable_only` disables the rules in place
instead (they keep their position, for a pause). DDNS goes off with `ddns_off`, or when expose
turned it on for this Service and no other exposure relies on it (as found). Pure."""

from __future__ import annotations

import json
from dataclasses import dataclass, field

from . import Plan, PlanError, Step, Target
from .actions import CloudDdns, DnsDelete, DnsRestore, RouterAdd, RouterRemove, RouterSet
from .expose import (
    _UNCOMPARED,
    ADDRESS_LIST,
    DDNS_TURNED_ON,
    MANGLE,
    NAT,
    PAUSED,
    RouterFacts,
    ZoneFacts,
    annotate_step,
    recorded_values,
)
from .routeros import console_find, our_items, parse_marker, render_console


@dataclass(frozen=True)
class UnexposeAnswers:
    service: str  # namespace/name
    disable_only: bool = False
    ddns_off: bool = False


@dataclass(frozen=True)
class UnexposeFacts:
    router: RouterFacts = field(default_factory=RouterFacts)
    zone: ZoneFacts = field(default_factory=ZoneFacts)
    records: dict[str, str] = field(default_factory=dict)  # the Service's records of how it is exposed
    cluster_read: bool = True  # False: the cluster could not be read, so its records stay
    ddns_users: tuple[str, ...] = ()  # the other exposed Services whose record relies on the router's DDNS


def unexpose_plan(answers: UnexposeAnswers, facts: UnexposeFacts) -> Plan:
    steps = []
    for menu, items in ((NAT, facts.router.nat), (MANGLE, facts.router.mangle), (ADDRESS_LIST, facts.router.address_list)):
        for item in (item for found in our_items(items, answers.service).values() for item in found):
            comment = item["comment"]
            target = console_find(comment=comment)
            if answers.disable_only:
                steps.append(Step(Target.ROUTER, "", f"Disable {comment} in place",
                                  render_console("disable", menu, target=target),
                                  RouterSet(menu, comment, (("disabled", "yes"),)),
                                  noop_reason=f"{comment} is disabled already" if item.get("disabled") == "true" else "",
                                  undo=RouterSet(menu, comment, (("disabled", "no"),)),
                                  undo_rendering=render_console("enable", menu, target=target)))
                continue
            fields = {key: value for key, value in item.items() if key not in _UNCOMPARED and not key.startswith(".")}
            steps.append(Step(Target.ROUTER, "", f"Remove {comment}", render_console("remove", menu, target=target),
                              RouterRemove(menu, comment), undo=RouterAdd(menu, tuple(fields.items())),
                              undo_rendering=render_console("add", menu, fields)))
    if not answers.disable_only:
        for record in facts.zone.records:
            marker = parse_marker(record.get("comment", ""))
            if marker is None or marker.service != answers.service or marker.role != "dns":
                continue
            document = json.dumps(record, sort_keys=True)
            steps.append(Step(Target.DNS, "", f"Delete the record {record.get('type')} {record.get('name')} → "
                                              f"{record.get('content')}",
                              f"DELETE {record.get('type')} {record.get('name')} (comment {record.get('comment')})",
                              DnsDelete(facts.zone.zone, record.get("name", ""), record.get("comment", "")),
                              undo=DnsRestore(facts.zone.zone, document),
                              undo_rendering=f"create {record.get('name')} again"))
    if facts.records:
        steps.extend(_record_steps(answers, facts.records))
    # expose turned DDNS on for this Service: off again with it, unless another exposure relies on it
    turned_on = any(recorded_values(text).get(DDNS_TURNED_ON) for text in facts.records.values())
    ours_alone = turned_on and facts.cluster_read and not facts.ddns_users and not answers.disable_only
    if answers.ddns_off or ours_alone:
        why = "" if answers.ddns_off else " (expose turned it on for this Service, and no other exposure uses it)"
        steps.append(Step(Target.ROUTER, "", f"Turn off the router's DDNS{why}", "/ip cloud set ddns-enabled=no",
                          CloudDdns(False), noop_reason="DDNS is off" if facts.router.cloud.get("ddns-enabled") != "true"
                          else "", undo=CloudDdns(True), undo_rendering="/ip cloud set ddns-enabled=yes"))
    if not steps:
        raise PlanError("--service", f"nothing to unexpose: no rule, list entry or record carries a marker of "
                                     f"{answers.service}")
    warnings = ("the DDNS name keeps resolving to the last address it had, even off (MikroTik's /ip cloud)",) \
        if answers.ddns_off or ours_alone else ()
    if turned_on and facts.ddns_users and not answers.ddns_off and not answers.disable_only:
        warnings += (f"DDNS stays on, though expose turned it on for {answers.service}: "
                     f"it is used by {', '.join(facts.ddns_users)} too",)
    if not facts.cluster_read:
        warnings += ("the cluster could not be read: the Service's record of how it was exposed stays",)
    verb = "Pause" if answers.disable_only else "Unexpose"
    return Plan(f"{verb} {answers.service}", tuple(steps), warnings)


def _record_steps(answers: UnexposeAnswers, records: dict[str, str]) -> list[Step]:
    """Forget how the Service was exposed; or, pausing, mark its records paused (a repair then
    leaves the disabled rules alone, and exposing again resumes)."""
    keys = sorted(records)
    if not answers.disable_only:
        return [annotate_step(answers.service, f"Forget on the Service how it was exposed ({', '.join(keys)})",
                              dict.fromkeys(keys), dict(records))]
    paused = {key: json.dumps({**json.loads(records[key]), PAUSED: True}, sort_keys=True, separators=(",", ":"))
              for key in keys}
    return [annotate_step(answers.service, f"Record on the Service that it is paused ({', '.join(keys)})", paused,
                          dict(records), "paused already" if paused == records else "")]
