"""Golden plans as data: each JSON file under tests/plans/golden holds a builder's answers and
facts and the steps it must produce (or the error it must raise). HOMELAB_UPDATE_GOLDEN=1
rewrites the expectations from the builders; review the diff before committing it."""

from __future__ import annotations

import json
import os
from dataclasses import fields
from pathlib import Path

import pytest

from homelab_tui.plans import Plan, PlanError
from homelab_tui.plans.bootstrap import BootstrapAnswers, BootstrapFacts, bootstrap_plan
from homelab_tui.plans.join import JoinAnswers, JoinFacts, join_plans
from homelab_tui.plans.nodes import NodeFacts, NodeSpec

GOLDEN = Path(__file__).parent / "golden"
CASES = sorted(GOLDEN.glob("*.json"))


def build(cls, data):
    """A frozen dataclass from JSON: nested specs and facts, lists as tuples, sets as frozensets."""
    values = {}
    for f in fields(cls):
        if f.name not in data:
            continue
        value = data[f.name]
        kind = {"node": NodeSpec, "server": NodeSpec}.get(f.name) if cls in (BootstrapAnswers, JoinAnswers) else None
        if cls is BootstrapFacts and f.name == "node":
            value = build(NodeFacts, value)
        elif cls is JoinFacts and f.name == "nodes":
            value = {name: build(NodeFacts, facts) for name, facts in value.items()}
        elif kind is not None:
            value = NodeSpec(**value)
        elif f.name in ("cluster", "nodes") and cls in (BootstrapAnswers, JoinAnswers):
            value = tuple(NodeSpec(**node) for node in value)
        elif f.name in ("hosts_lines", "in_cluster"):
            value = frozenset(value)
        elif isinstance(value, list):
            value = tuple(value)
        values[f.name] = value
    return cls(**values)


def steps_of(plan: Plan) -> list[dict]:
    return [{"target": s.target.value, "host": s.host, "description": s.description, "rendering": s.rendering,
             "noop": s.noop_reason} for s in plan.steps]


def outcome(case: dict) -> dict:
    try:
        if case["builder"] == "bootstrap":
            plan = bootstrap_plan(build(BootstrapAnswers, case["answers"]), build(BootstrapFacts, case["facts"]))
            return {"steps": steps_of(plan)}
        secret, plans = join_plans(build(JoinAnswers, case["answers"]), build(JoinFacts, case["facts"]))
        return {"steps": steps_of(secret), "nodes": {name: steps_of(plan) for name, plan in plans.items()}}
    except PlanError as exc:
        return {"error": {"field": exc.field, "message": exc.message}}


@pytest.mark.parametrize("path", CASES, ids=[path.stem for path in CASES])
def test_golden_plan(path):
    case = json.loads(path.read_text())
    got = outcome(case)
    if os.environ.get("HOMELAB_UPDATE_GOLDEN"):
        expected = {k: v for k, v in case.items() if k not in ("steps", "nodes", "error")}
        path.write_text(json.dumps({**expected, **got}, indent=2, ensure_ascii=False) + "\n")
        return
    assert got == {k: case[k] for k in ("steps", "nodes", "error") if k in case}


def test_cases_exist():
    assert {path.stem for path in CASES} >= {"k3s_server_fresh_pi", "k3s_server_installed", "kubeadm_init",
                                              "k3s_join_two_agents", "kubeadm_join", "overlapping_cidrs"}

