"""Drift over 500 rules: the check that judges every exposure against its record
(plans/repair.py `exposure_status`), over a router with 50 Services exposed with PCC over 4 nodes
(4 mark rules and 4 dst-nats each: 400 rules of ours) and 100 rules of the user's (masquerades,
port forwards, multi-WAN marks), with a few of ours drifted: a field edited, a rule disabled, a
rule deleted, a marker duplicated, a DNS record changed, and a node without an endpoint under
policy Local (stale PCC).

The router is the simulated RouterOS (in this process), loaded with expose's own rules, so the
check judges items as the API prints them (`facts/expose.py` `router_facts`, read once). The
Services, nodes and zone are built as `facts/exposures.py` builds them, records (plans/expose.py
`record_of`) included.

In the app the check runs in the dashboard's exposures worker after each router poll
(ui/panes/dashboard.py `_check_exposures`), never in a key handler or a paint: the reads
(`facts/exposures.py`: the router, the API, the zone) are awaited I/O, during which the event loop
is free, so what a pane can feel is only the pure pass measured here: CPU that holds the event
loop (or, run in a thread, the GIL) for as long as it takes.

Figures, side by side: the pass (target p95 under 0.3 s), the same pass over a router holding
only our 400 rules (what the user's rules cost), and one read of the 500-rule router from the sim
(the check's first read after each poll; the sim's side runs in this process and counts in it).
"""

from __future__ import annotations

import os
import secrets
import time
from dataclasses import replace
from pathlib import Path

from homelab_tui.config import load_config
from homelab_tui.facts.expose import router_facts
from homelab_tui.plans.actions import RouterAdd
from homelab_tui.plans.expose import (
    MANGLE,
    NAT,
    ExposeAnswers,
    ExposeFacts,
    NodeFacts,
    RouterFacts,
    ServiceFacts,
    ServicePort,
    ZoneFacts,
    build_expose,
    record_key,
    record_of,
)
from homelab_tui.plans.repair import ExposureStatus, RepairAnswers, RepairFacts, exposure_status
from homelab_tui.plans.routeros import MARKER_PREFIX, Marker, parse_marker
from homelab_tui.sim.routeros import RouterOsSim

from .common import Summary, Target, median, ms, percentile, say

SERVICES, AGENTS, PASSES, READS = 50, 4, 20, 5
PASS_TARGET = Target("p95", 0.3, ms)
PLANTED = 6  # a field edited, a rule disabled, a rule deleted, a marker duplicated, a record changed, stale PCC
ZONE, DDNS_NAME = "example.org", "529c0491d41c.sn.mynetname.net"
PASSWORD_ENV = "HOMELAB_BENCH_ROUTER_PASSWORD"
NODES = (NodeFacts("master1", "192.168.40.102"),
         *(NodeFacts(f"node{i}", f"192.168.40.{102 + i}") for i in range(1, AGENTS + 1)))
AGENT_NAMES = tuple(node.name for node in NODES[1:])
Inputs = list[tuple[RepairAnswers, RepairFacts]]  # what exposure_status takes, per exposure
# The drift, by Service index: what was done to its items by hand.
EDITED, DISABLED, DELETED, DUPLICATED, RECORD_CHANGED, LOCAL = 3, 11, 19, 27, 35, 43


def asked(index: int) -> ExposeAnswers:
    return ExposeAnswers(f"apps/app-{index:02}", public_port=str(8000 + index), nodes=AGENT_NAMES,
                         host=f"app-{index:02}.{ZONE}", proxied=False, wan="all-ppp")


def service_facts(index: int) -> ServiceFacts:
    answers = asked(index)
    local = index == LOCAL  # its pods run on all nodes but the last
    return ServiceFacts(type="NodePort", ports=(ServicePort("http", 80, "TCP", 30000 + index),),
                        external_traffic_policy="Local" if local else "Cluster",
                        endpoint_nodes=AGENT_NAMES[:-1] if local else AGENT_NAMES,
                        records={record_key("tcp", 8000 + index): record_of(answers)})


def zone_facts(index: int) -> ZoneFacts:
    answers = asked(index)
    content = "old-name.sn.mynetname.net" if index == RECORD_CHANGED else DDNS_NAME
    record = {"id": f"rec{index}", "type": "CNAME", "name": answers.host, "content": content, "proxied": "false",
              "comment": str(Marker(answers.service, "tcp", 8000 + index, "dns"))}
    return ZoneFacts(ZONE, "full", (record,))


def our_rules() -> dict[str, list[dict[str, str]]]:
    """What expose made for each Service on an empty router (every pod then had a node of its
    own), with the hand edits since: menu -> rules."""
    empty = RouterFacts(interfaces=("ether1", "bridge", "pppoe-out1"), lan="192.168.40.0/24")
    rules: dict[str, list[dict[str, str]]] = {NAT: [], MANGLE: []}
    for index in range(SERVICES):
        service = replace(service_facts(index), endpoint_nodes=AGENT_NAMES)
        plan = build_expose(asked(index), ExposeFacts(service, NODES, empty, zone_facts(index)))
        for action in (step.action for step in plan.steps if isinstance(step.action, RouterAdd)):
            rule, marker = dict(action.fields), parse_marker(action.comment)
            item = (index, marker.role, marker.index) if marker else ()
            if item == (EDITED, "dstnat", 2):
                rule["to-ports"] = "8080"
            if item == (DISABLED, "pcc", 3):
                rule["disabled"] = "yes"
            if item == (DELETED, "dstnat", 4):
                continue
            rules[action.menu].append(rule)
            if item == (DUPLICATED, "dstnat", 1):
                rules[action.menu].append(dict(rule))
    return rules


def users_rules() -> dict[str, list[dict[str, str]]]:
    """100 rules a multi-WAN home router might hold: masquerades, port forwards, and marks that
    route each WAN's connections back out through it."""
    nat = [{"chain": "srcnat", "action": "masquerade", "out-interface": wan, "comment": f"masquerade {wan}"}
           for wan in ("pppoe-out1", "ether1")]
    nat += [{"chain": "dstnat", "action": "dst-nat", "in-interface": "pppoe-out1", "protocol": ("tcp", "udp")[j % 2],
             "dst-port": str(20000 + j), "to-addresses": f"192.168.40.{150 + j}", "to-ports": str(20000 + j),
             "comment": f"forward {20000 + j} to host {j}"} for j in range(58)]
    mangle = []
    for wan in ("pppoe-out1", "ether1"):
        mark = f"via-{wan}"
        mangle += [
            {"chain": "prerouting", "action": "mark-connection", "in-interface": wan, "connection-mark": "no-mark",
             "new-connection-mark": mark, "passthrough": "yes", "comment": f"multi-WAN: connections from {wan}"},
            {"chain": "prerouting", "action": "mark-routing", "in-interface": "bridge", "connection-mark": mark,
             "new-routing-mark": f"to-{wan}", "passthrough": "no", "comment": f"multi-WAN: replies out {wan}"},
            {"chain": "output", "action": "mark-routing", "connection-mark": mark, "new-routing-mark": f"to-{wan}",
             "passthrough": "no", "comment": f"multi-WAN: the router's own replies out {wan}"},
        ]
    mangle += [{"chain": "prerouting", "action": "mark-connection", "in-interface": "bridge",
                "src-address": f"192.168.40.{10 + j}", "connection-mark": "no-mark",
                "new-connection-mark": f"via-{('pppoe-out1', 'ether1')[j % 2]}", "passthrough": "yes",
                "comment": f"pin host {j} to a WAN"} for j in range(34)]
    return {NAT: nat, MANGLE: mangle}


async def read_router(workdir: Path, rules: dict[str, list[dict[str, str]]]) -> tuple[RouterFacts, list[float]]:
    """The router as `router_facts` reads it from the sim loaded with `rules`, and the seconds of
    each of READS reads."""
    password = secrets.token_urlsafe(18)
    router = RouterOsSim(password=password, ddns_name=DDNS_NAME, ddns_enabled=True)
    for menu, items in rules.items():
        for rule in items:
            router.add_rule(menu, rule)
    config_path = workdir / "drift.toml"
    config_path.parent.mkdir(parents=True, exist_ok=True)
    os.environ[PASSWORD_ENV] = password
    try:
        async with router:
            config_path.write_text(f'[router]\nhost = "127.0.0.1"\nport = {router.port}\n'
                                   f'password_env = "{PASSWORD_ENV}"\n')
            config = load_config(config_path)
            seconds, facts = [], RouterFacts()
            for _ in range(READS):
                started = time.perf_counter()
                facts = await router_facts(config)
                seconds.append(time.perf_counter() - started)
    finally:
        del os.environ[PASSWORD_ENV]
    return facts, seconds


def inputs(router: RouterFacts) -> Inputs:
    """Every exposure's inputs, as facts/exposures.py builds them: one router read shared."""
    return [(RepairAnswers(f"apps/app-{index:02}", 8000 + index, "tcp", wan="all-ppp", proxied=False),
             RepairFacts(ExposeFacts(service_facts(index), NODES, router, zone_facts(index))))
            for index in range(SERVICES)]


def timed_passes(*runs: Inputs) -> list[tuple[list[float], list[ExposureStatus]]]:
    """Seconds of each of PASSES passes over each of `runs`, taken in turn (so that other work on
    the machine weighs on each alike), and each run's statuses."""
    timed: list[tuple[list[float], list[ExposureStatus]]] = [([], []) for _ in runs]
    for round_ in range(PASSES + 1):  # the first warms up
        for (seconds, statuses), exposures in zip(timed, runs):
            started = time.perf_counter()
            statuses[:] = [exposure_status(answers, facts) for answers, facts in exposures]
            if round_:
                seconds.append(time.perf_counter() - started)
    return timed


def only_ours(router: RouterFacts) -> RouterFacts:
    def ours(items: tuple[dict[str, str], ...]) -> tuple[dict[str, str], ...]:
        return tuple(item for item in items if item.get("comment", "").startswith(MARKER_PREFIX))

    return replace(router, nat=ours(router.nat), mangle=ours(router.mangle))


async def bench_drift(summary: Summary, workdir: Path) -> None:
    ours, theirs = our_rules(), users_rules()
    # ours go before the user's rules that would take their connections (expose places them so)
    masquerades, forwards = theirs[NAT][:2], theirs[NAT][2:]
    rules = {NAT: masquerades + ours[NAT] + forwards, MANGLE: ours[MANGLE] + theirs[MANGLE]}
    router, reads = await read_router(workdir / "drift", rules)
    count = len(router.nat) + len(router.mangle)
    say(f"\ndrift over {count} rules ({sum(map(len, ours.values()))} of ours, {sum(map(len, theirs.values()))} "
        f"of the user's), {SERVICES} exposures with PCC over {AGENTS} nodes, pure pass (median and p95 of {PASSES})")
    ours_only = only_ours(router)
    (full, statuses), (baseline, _) = timed_passes(inputs(router), inputs(ours_only))
    differences = sum(len(status.differences) for status in statuses)
    found = [f"{status.service} {status.summary}" for status in statuses if status.summary != "ok"]
    p50, p95 = median(full), percentile(full, 95)
    say(f"drift {count} rules | pass p50 {ms(p50)} p95 {ms(p95)} over {len(statuses)} exposures, {differences} "
        f"differences found {summary.check(f'drift {count} rules: pass p95', p95, PASS_TARGET)}")
    say(f"      found: {'; '.join(found)}")
    if len(found) != PLANTED:  # the figures are of a check that works, or of nothing
        raise AssertionError(f"the check found {len(found)} of the {PLANTED} exposures drifted on purpose: {found}")
    say(f"      only our {len(ours_only.nat) + len(ours_only.mangle)} rules: pass p50 "
        f"{ms(median(baseline))} | ratio {p50 / median(baseline):4.2f}x (what the user's rules add)")
    say(f"      one router read of {count} rules from the sim (router_facts): {ms(median(reads))} | pass / read "
        f"{p50 / median(reads):4.2f}x  (median of {READS})")
