"""The probe's verdicts (plans/verdicts/probe.py), hop by hop: all green, then each hop failing on its own,
with what to do, and the hops after it skipped; then the cluster-DNS check after the hops, judged on its own."""

from __future__ import annotations

from dataclasses import replace

import pytest

from homelab_tui.plans import Plan
from homelab_tui.plans.expose import RouterFacts
from homelab_tui.plans.repair import Difference, ExposureStatus
from homelab_tui.plans.verdicts.probe import (CLUSTER_DNS, FAIL, HOPS, NOT_CHECKED, PASS, SKIPPED, ClusterDnsFacts,
                                              NodePortCheck, PodFacts, ProbeAnswers, ProbeFacts, RouterFetch,
                                              probe_verdict)

ANSWERS = ProbeAnswers("default/nginx")
WAN = {"in-interface": "all-ppp", "protocol": "tcp", "dst-port": "80"}


def _pcc(i: int, **extra: str) -> dict[str, str]:
    return {".id": f"*{i}", "chain": "prerouting", "action": "mark-connection", **WAN,
            "per-connection-classifier": f"src-address-and-port:2/{i - 1}", "new-connection-mark": f"kube_node_{i}",
            "comment": f"[homelab-tui default/nginx tcp/80 pcc {i}]", "disabled": "false", **extra}


def _dstnat(i: int, **extra: str) -> dict[str, str]:
    return {".id": f"*1{i}", "chain": "dstnat", "action": "dst-nat", **WAN, "connection-mark": f"kube_node_{i}",
            "to-addresses": f"192.168.40.10{i + 2}", "to-ports": "31681", "packets": str(5 * i),
            "comment": f"[homelab-tui default/nginx tcp/80 dstnat {i}]", "disabled": "false", **extra}


ROUTER = RouterFacts(nat=(_dstnat(1), _dstnat(2)), mangle=(_pcc(1), _pcc(2)),
                     cloud={"ddns-enabled": "true", "dns-name": "abc.sn.mynetname.net",
                            "public-address": "198.51.100.19"})
GREEN = ProbeFacts(router=ROUTER, zone_host="nginx.example.org", dns_outcome="answer",
                   dns_addresses=("104.21.27.224",), resolvers=("1.1.1.1",), cloudflare_ranges=("104.16.0.0/13",),
                   endpoints_ready=2, endpoints_total=2,
                   pods=(PodFacts("nginx-a", True), PodFacts("nginx-b", True, restarts=3)),
                   node_ports=(NodePortCheck("node1", 31681, 0, "200"), NodePortCheck("node2", 31681, 0, "200")),
                   router_fetches=(RouterFetch("192.168.40.103", 31681, True),
                                   RouterFetch("192.168.40.104", 31681, True)))
REFUSED = RouterFetch("192.168.40.104", 31681, message="failure: connection refused")


def verdicts(facts: ProbeFacts, answers: ProbeAnswers = ANSWERS) -> dict[str, tuple[str, str, str]]:
    return {hop.name: (hop.verdict, hop.detail, hop.fix) for hop in probe_verdict(answers, facts).hops}


def test_all_green():
    found = verdicts(GREEN)
    assert [found[name][0] for name in HOPS] == [PASS] * 7
    assert "Cloudflare's proxy" in found["public name"][1]
    assert "dstnat 2] 10 connections" in found["router rules"][1]
    assert found["router to targets"][1] == ("192.168.40.103:31681, 192.168.40.104:31681 answered /tool/fetch "
                                             "(from the router, still not the outside view)")
    assert "node1:31681 HTTP 200" in found["node ports"][1]
    assert "nginx-b 3" in found["pods"][1]
    assert probe_verdict(ANSWERS, GREEN).failed is None
    assert "hairpin" in probe_verdict(ANSWERS, GREEN).note


def test_a_record_to_our_public_address_passes_too():
    found = verdicts(replace(GREEN, dns_addresses=("198.51.100.19",)))
    assert found["public name"][0] == PASS and "our public address" in found["public name"][1]


def _router(**changes) -> ProbeFacts:
    return replace(GREEN, router=replace(ROUTER, **changes))


FAILING = [
    ("public name", replace(GREEN, dns_outcome="nxdomain", dns_addresses=()), "nxdomain", "--host nginx.example.org"),
    ("public name", replace(GREEN, dns_addresses=("203.0.113.9",)), "203.0.113.9 is neither", "update the stale record"),
    ("DDNS", _router(cloud={"ddns-enabled": "false"}), "DDNS is off", "turn on DDNS: homelab-tui expose"),
    ("DDNS", _router(cloud={**ROUTER.cloud, "public-address": "100.72.1.2"}), "carrier-grade NAT", "ask the ISP"),
    ("DDNS", _router(cloud={**ROUTER.cloud, "warning": "Router is behind a NAT"}), "Router is behind a NAT",
     "upstream router"),
    ("router rules", _router(nat=(), mangle=()), "no rule of ours", "expose it"),
    ("router rules", _router(nat=(_dstnat(1), _dstnat(2, disabled="true"))),
     "[homelab-tui default/nginx tcp/80 dstnat 2] is disabled", "enable rule [homelab-tui default/nginx tcp/80 dstnat 2]"),
    ("router rules", _router(nat=(_dstnat(1, invalid="true"), _dstnat(2))), "dstnat 1] is invalid", "fix rule"),
    ("router rules", _router(nat=(_dstnat(1),)), "[homelab-tui default/nginx tcp/80 dstnat 2] is missing", "make it again"),
    ("router rules", _router(nat=(_dstnat(1), _dstnat(2), _dstnat(2))), "dstnat 2] is on 2 rules", "remove the copies"),
    ("router rules", _router(nat=({".id": "*9", "chain": "dstnat", "action": "dst-nat", "protocol": "tcp",
                                   "to-addresses": "192.168.40.50", "comment": "old web"}, _dstnat(1), _dstnat(2))),
     "an earlier rule of yours in dstnat", "repairs the order"),
    ("router rules", replace(GREEN, exposures=(ExposureStatus("default/nginx", "tcp", 80, stale=("node2 NotReady",),
                                                              plan=Plan("Repair", ())),)),
     "PCC stale (node2 NotReady)", "rebalance: homelab-tui repair --service default/nginx"),
    ("router rules", replace(GREEN, exposures=(ExposureStatus("default/nginx", "tcp", 80, differences=(Difference(
        "/ip/firewall/nat", "[homelab-tui default/nginx tcp/80 dstnat 2]", "changed", (("to-ports", "31681", "8080"),)),),
        plan=Plan("Repair", ())),)),
     "changed by hand: [homelab-tui default/nginx tcp/80 dstnat 2]: to-ports is 8080, ours 31681",
     "revert: homelab-tui repair --service default/nginx"),
    ("DDNS", replace(_router(cloud={"ddns-enabled": "false"}), exposures=(
        ExposureStatus("default/nginx", "tcp", 80, plan=Plan("Repair", ())),)), "DDNS is off",
     "turn on DDNS: homelab-tui repair --service default/nginx"),
    ("router to targets", replace(GREEN, router_fetches=(GREEN.router_fetches[0], REFUSED)),
     "/tool/fetch http://192.168.40.104:31681/ from the router: failure: connection refused (1 of 2 targets answered)",
     "is the node Ready (kubectl get nodes), kube-proxy running on it"),
    ("router to targets", replace(GREEN, endpoints_ready=0, router_fetches=(REFUSED,)), "connection refused",
     "the Service has no Ready endpoint, so kube-proxy refuses it"),
    ("router to targets", replace(GREEN, router_fetches=(RouterFetch("192.168.40.104", 31681, message=(
        "failure: connection timeout")),)), "failure: connection timeout", "is the machine up, on the LAN"),
    ("node ports", replace(GREEN, node_ports=(NodePortCheck("node1", 31681, 7, "000"),)), "node1:31681 (nothing answers",
     "kube-proxy"),
    ("endpoints", replace(GREEN, endpoints_ready=0, endpoints_total=2), "no Ready endpoint (2", "selector"),
    ("pods", replace(GREEN, pods=(PodFacts("nginx-a", False, 7),)), "none of 1 pods is Ready; restarts: nginx-a 7",
     "logs"),
]


@pytest.mark.parametrize(("hop", "facts", "detail", "fix"), FAILING, ids=[f"{c[0]}: {c[2]}" for c in FAILING])
def test_each_failing_hop_says_what_to_do_and_skips_the_rest(hop, facts, detail, fix):
    verdict = probe_verdict(ANSWERS, facts)
    assert verdict.failed is not None and verdict.failed.name == hop
    assert detail in verdict.failed.detail and fix in verdict.failed.fix
    after = [h.verdict for h in verdict.hops[HOPS.index(hop) + 1:len(HOPS)]]
    assert after == [SKIPPED] * len(after)
    assert verdict.hops[-1].name == CLUSTER_DNS and verdict.hops[-1].verdict == NOT_CHECKED  # judged, not skipped
    assert all(h.verdict in (PASS, NOT_CHECKED) for h in verdict.hops[:HOPS.index(hop)])


def test_a_rule_after_ours_or_on_another_port_or_disabled_does_not_shadow():
    other = {".id": "*9", "chain": "dstnat", "action": "dst-nat", "protocol": "tcp", "to-addresses": "192.168.40.50"}
    for nat in ((_dstnat(1), _dstnat(2), other), ({**other, "dst-port": "443"}, _dstnat(1), _dstnat(2)),
                ({**other, "disabled": "true"}, _dstnat(1), _dstnat(2))):
        assert verdicts(_router(nat=nat))["router rules"][0] == PASS


def test_what_it_cannot_see_is_not_checked_not_passed():
    found = verdicts(replace(GREEN, zone_host="", node_ports=(
        NodePortCheck("node1", 31681, 22, ""), NodePortCheck("node2", 31681, error="SSH: host key unknown"))))
    assert found["public name"][0] == NOT_CHECKED and "no public name" in found["public name"][1]
    assert found["node ports"][0] == NOT_CHECKED
    assert "no HTTP status" in found["node ports"][1] and "host key unknown" in found["node ports"][1]


@pytest.mark.parametrize(("fetches", "detail"), [
    ((RouterFetch("192.168.40.103", 31681, unchecked="the router refused /tool/fetch: not enough permissions (9)"),),
     "the router refused /tool/fetch: not enough permissions (9) (its API user's group needs the test policy"),
    ((RouterFetch("192.168.40.103", 31681, unchecked="the router refused /tool/fetch: no such command prefix"),),
     "the router refused /tool/fetch: no such command prefix; targets: 192.168.40.103:31681, 192.168.40.104:31681"),
    ((), "no target asked from the router"),
])
def test_a_fetch_the_router_refuses_is_not_checked(fetches, detail):
    found = verdicts(replace(GREEN, router_fetches=fetches))
    assert found["router to targets"][0] == NOT_CHECKED and detail in found["router to targets"][1]
    assert found["node ports"][0] == PASS  # not a failure: the hops after it are judged


def test_the_port_and_the_host_narrow_it():
    other_port = replace(ANSWERS, port=443)
    assert verdicts(GREEN, other_port)["router rules"][0] == FAIL
    assert "--public-port 443" in verdicts(GREEN, other_port)["router rules"][2]
    named = verdicts(replace(GREEN, zone_host=""), replace(ANSWERS, host="www.example.org"))
    assert "www.example.org" in named["public name"][1]


GATEWAY = ClusterDnsFacts("nginx.default.svc.cluster.local", "cluster.local", "192.168.40.20", outcome="answer",
                          addresses=("10.43.0.2",))
WITH_GATEWAY = replace(GREEN, cluster_ip="10.43.0.2", cluster_dns=GATEWAY)


def test_cluster_dns_through_the_router_is_its_own_line_after_the_hops():
    verdict = probe_verdict(ANSWERS, WITH_GATEWAY)
    assert [hop.name for hop in verdict.hops] == [*HOPS, CLUSTER_DNS] and verdict.failed is None
    hop = verdict.hops[-1]
    assert hop.verdict == PASS
    assert "nginx.default.svc.cluster.local → 10.43.0.2 (its ClusterIP)" in hop.detail
    assert "asked at 1.1.1.1, through the router's FWD entry cluster.local → 192.168.40.20" in hop.detail


def test_without_the_gateway_it_is_not_set_up_never_a_failure():
    verdict = probe_verdict(ANSWERS, GREEN)
    assert verdict.failed is None
    assert (verdict.hops[-1].verdict, verdict.hops[-1].fix) == (NOT_CHECKED, "")
    assert "not set up" in verdict.hops[-1].detail and "homelab-tui dns-gateway" in verdict.hops[-1].detail


CLUSTER_DNS_FAILING = [
    (replace(GATEWAY, enabled=False), "cluster.local → 192.168.40.20 is disabled", "enable it: homelab-tui dns-gateway"),
    (replace(GATEWAY, outcome="nxdomain", addresses=()), "nginx.default.svc.cluster.local: nxdomain",
     "CoreDNS answers on 192.168.40.20"),
    (replace(GATEWAY, outcome="refused", addresses=(), detail="127.0.0.1 answered SERVFAIL"),
     "refused: 127.0.0.1 answered SERVFAIL", "the resolvers asked are the router"),
    (replace(GATEWAY, addresses=("10.43.0.99",)), "10.43.0.99, not its ClusterIP 10.43.0.2", "kube-system get service"),
]


@pytest.mark.parametrize(("gateway", "detail", "fix"), CLUSTER_DNS_FAILING, ids=[c[1] for c in CLUSTER_DNS_FAILING])
def test_cluster_dns_fails_with_what_to_do_and_judges_nothing_else(gateway, detail, fix):
    verdict = probe_verdict(ANSWERS, replace(WITH_GATEWAY, cluster_dns=gateway))
    assert verdict.failed is not None and verdict.failed.name == CLUSTER_DNS
    assert detail in verdict.failed.detail and fix in verdict.failed.fix
    assert [hop.verdict for hop in verdict.hops[:len(HOPS)]] == [PASS] * len(HOPS)


def test_cluster_dns_is_judged_even_when_a_hop_fails_and_says_what_it_cannot_check():
    broken = replace(WITH_GATEWAY, router=replace(ROUTER, nat=(), mangle=()))
    verdict = probe_verdict(ANSWERS, broken)
    assert verdict.failed.name == "router rules" and verdict.hops[-1].verdict == PASS
    headless = verdicts(replace(WITH_GATEWAY, cluster_ip=""))[CLUSTER_DNS]
    assert headless[0] == NOT_CHECKED and "no ClusterIP (headless)" in headless[1]
    unasked = verdicts(replace(WITH_GATEWAY, cluster_dns=replace(GATEWAY, outcome="", addresses=())))[CLUSTER_DNS]
    assert unasked[0] == NOT_CHECKED and "no [dns] nameservers" in unasked[1]
