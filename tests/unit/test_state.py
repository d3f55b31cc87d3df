"""state.py: events applied by key; a re-list is diffed, never duplicated."""

from __future__ import annotations

from dataclasses import replace

from homelab_tui.models import EventType, KubeEvent, Pod
from homelab_tui.state import Components, Health, KubeState


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
