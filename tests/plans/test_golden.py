"""Golden plans as data: each JSON file under tests/plans/<builder>/ holds the answers and facts of
the pure builder in homelab_tui/plans/<builder>.py, and the plans it must produce (or the errors it
must raise). The runner knows no builder: it finds the module's one function of (answers, facts)
and builds both from the JSON by their type hints, so a new builder needs only a folder of data.
HOMELAB_UPDATE_GOLDEN=1 rewrites the expectations from the builders; review the diff first."""

from __future__ import annotations

import dataclasses
import importlib
import inspect
import json
import os
import types
import typing
from pathlib import Path

import pytest

from homelab_tui.plans import Plan, PlanError

HERE = Path(__file__).parent
CASES = sorted(HERE.glob("*/*.json"))


def builder(name: str):
    """The one public function of homelab_tui.plans.<name> that takes (answers, facts)."""
    module = importlib.import_module(f"homelab_tui.plans.{name}")
    found = [fn for name, fn in vars(module).items() if inspect.isfunction(fn) and fn.__module__ == module.__name__
             and not name.startswith("_")
             and list(inspect.signature(fn).parameters) == ["answers", "facts"]]
    assert len(found) == 1, f"{module.__name__} has {len(found)} builders of (answers, facts)"
    return found[0]


def from_json(kind, value):
    """`value` as the type `kind`: dataclasses field by field, tuples, frozensets and dicts of them."""
    origin, args = typing.get_origin(kind), typing.get_args(kind)
    if dataclasses.is_dataclass(kind):
        hints = typing.get_type_hints(kind)
        return kind(**{name: from_json(hints[name], item) for name, item in value.items()})
    if origin in (types.UnionType, typing.Union):  # X | None
        return None if value is None else from_json(next(a for a in args if a is not type(None)), value)
    if origin is tuple:
        return tuple(from_json(args[0], item) for item in value)
    if origin is frozenset:
        return frozenset(from_json(args[0], item) for item in value)
    if origin is dict:
        return {key: from_json(args[1], item) for key, item in value.items()}
    return value


def to_json(result):
    """A builder's result as data: each Plan as its steps, in whatever tuples or dicts hold them."""
    if isinstance(result, Plan):
        steps = [{"target": s.target.value, "host": s.host, "description": s.description, "rendering": s.rendering,
                  "noop": s.noop_reason} for s in result.steps]
        return {"warnings": list(result.warnings), "steps": steps} if result.warnings else steps
    if isinstance(result, tuple | list):
        return [to_json(item) for item in result]
    return {key: to_json(item) for key, item in result.items()}


def outcome(build, case: dict) -> dict:
    hints = typing.get_type_hints(build)
    try:
        return {"plans": to_json(build(from_json(hints["answers"], case["answers"]),
                                       from_json(hints["facts"], case["facts"])))}
    except PlanError as exc:
        return {"errors": [{"field": field, "message": message} for field, message in exc.errors]}


@pytest.mark.parametrize("path", CASES, ids=[f"{path.parent.name}/{path.stem}" for path in CASES])
def test_golden_plan(path):
    case = json.loads(path.read_text())
    got = outcome(builder(path.parent.name), case)
    if os.environ.get("HOMELAB_UPDATE_GOLDEN"):
        given = {key: case[key] for key in ("answers", "facts")}
        path.write_text(json.dumps({**given, **got}, indent=2, ensure_ascii=False) + "\n")
        return
    assert got == {key: case[key] for key in ("plans", "errors") if key in case}


def test_every_builder_has_cases():
    builders = {path.stem for path in (HERE.parents[1] / "homelab_tui" / "plans").glob("*.py")
                if path.stem not in ("__init__", "nodes", "actions", "manifests", "routeros")}
    assert builders <= {path.parent.name for path in CASES}
    assert {f"{path.parent.name}/{path.stem}" for path in CASES} >= {
        "bootstrap/k3s_server_fresh_pi", "bootstrap/k3s_server_installed", "bootstrap/kubeadm_init",
        "join/k3s_join_two_agents", "join/kubeadm_join", "bootstrap/overlapping_cidrs"}
