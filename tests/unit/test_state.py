"""state.py: events applied by key; a re-list is diffed, never duplicated."""

from __future__ import annotations

from dataclasses import replace

from homelab_tui.models import CloudStatus, DnsCheck, EventType, KubeEvent, MangleRule, NatRule, Pod, RouterIdentity
from homelab_tui.state import Components, Health, KubeState, LabState


def pod(name: str, status: str = "Running", raw_version: str = "1") -> Pod:
    return Pod("default", name, "Running", status, 1, 1, 0, "node1.kube.local", "10.42.1.5", "",
               raw={"metadata": {"resourceVersion": raw_version}})


def event(kind_type: EventType, obj=None, objects=(), rv="10") -> KubeEvent:
    return KubeEvent("Pod", kind_type, obj, rv, tuple(objects))


def test_add_modify_delete_report_exact_keys():
    state = KubeState()
    assert state.apply(event(EventType.ADDED, pod("a"))).upserted == ("default/a",)
    change = state.apply(event(EventType.MODIFIED, pod("a", "CrashLoopBackOff")))
    assert change.upserted == ("default/a",)
    assert state.of("Pod")["default/a"].status == "CrashLoopBackOff"
    assert state.apply(event(EventType.DELETED, pod("a"))).removed == ("default/a",)
    assert state.of("Pod") == {}
    assert not state.apply(event(EventType.DELETED, pod("a")))  # already gone: nothing to do


def test_a_modification_of_hidden_fields_is_kept_but_not_reported():
    state = KubeState()
    state.apply(event(EventType.ADDED, pod("a")))
    change = state.apply(event(EventType.MODIFIED, pod("a", raw_version="2")))
    assert not change
    assert state.of("Pod")["default/a"].raw["metadata"]["resourceVersion"] == "2"


def test_relist_is_diffed_against_what_is_held():
    state = KubeState()
    for name in ("a", "b", "c"):
        state.apply(event(EventType.ADDED, pod(name)))
    relist = event(EventType.RELISTED, objects=[pod("b"), replace(pod("c"), restarts=4), pod("d")], rv="99")
    change = state.apply(relist)
    assert change.removed == ("default/a",)
    assert sorted(change.upserted) == ["default/c", "default/d"]
    assert sorted(state.of("Pod")) == ["default/b", "default/c", "default/d"]
    assert state.resource_versions["Pod"] == "99"


def test_components_report_only_real_changes():
    components = Components()
    assert components.get("router").health is Health.CONNECTING
    assert components.set("router", Health.RETRYING, "connection refused")
    assert not components.set("router", Health.RETRYING, "connection refused")
    assert components.get("router").stale
    assert components.set("router", Health.CONNECTED)
    assert not components.get("router").stale


def test_router_rules_are_keyed_as_the_nat_pane_shows_them():
    state = LabState()
    nat = [NatRule("*1", "srcnat", "masquerade"), NatRule("*3", "dstnat", "dst-nat", to_ports="31681")]
    mangle = [MangleRule("*2", "prerouting", "mark-connection", new_connection_mark="kube_node_1"),
              MangleRule("*4", "prerouting", "mark-routing")]
    state.set_router(nat, mangle, CloudStatus(True, "x.sn.mynetname.net", "198.51.100.19"),
                     RouterIdentity("hex-gw", "7.16", "RB760iGS"))
    # the connection marks that feed dst-nat first, then NAT, each in router order
    assert list(state.router_rules) == ["mangle*2", "nat*1", "nat*3"]
    assert state.nat_rules == nat and state.mangle_rules == mangle[:1]
    assert state.router_identity.identity == "hex-gw" and state.cloud.public_address == "198.51.100.19"
    state.set_dns([DnsCheck("example.org", "CNAME → x", "CNAME → x", True)])
    assert list(state.dns_rows) == ["example.org"]
