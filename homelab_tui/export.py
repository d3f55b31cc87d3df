"""A plan saved as something a person can run by hand, chosen by the file's suffix: `.sh` (the SSH
steps), `.rsc` (the RouterOS steps, a RouterOS import script), `.yaml` (the Kubernetes steps).
Each action says how it reads in its script (plans/actions.py); this module only assembles."""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from pathlib import Path

from .config import Config, NodeConfig
from .files import atomic_write
from .plans import Plan, PlanError, Staged, Step, Target, shown
from .plans.actions import comment


def export_staged(staged: Staged, config: Config, path: str | Path, field: str = "export") -> Path:
    """Save the plans' steps that do something as a script for their tool; the SSH steps reach each
    node as the config says. PlanError names `field` when that cannot be."""
    steps = tuple(step for plan in staged.plans for step in plan.steps)
    try:
        return export_plan(Plan(staged.plans[0].title, steps), path,
                           ssh_destinations={n.name: ssh_destination(config, n) for n in config.nodes})
    except ValueError as exc:
        raise PlanError(field, str(exc)) from None
    except OSError as exc:
        raise PlanError(field, f"cannot write {path}: {exc.strerror}") from None


def ssh_destination(config: Config, node: NodeConfig) -> str:
    """The ssh arguments that reach `node`, as a script would pass them: `user@host -p port`."""
    user = f"{config.ssh.user}@" if config.ssh.user else ""
    port = f" -p {node.ssh_port}" if node.ssh_port else ""
    return f"{user}{node.ssh_host or node.address}{port}"


def export_plan(plan: Plan, path: str | os.PathLike[str], *, ssh_destinations: Mapping[str, str] = {}) -> Path:
    """Save the steps of `plan` that do something as the script its suffix names, mode 0600.

    `ssh_destinations` maps a step's host (the config node name) to the ssh arguments that reach
    it, e.g. `pi@10.0.0.11 -p 2222`; they go into the script verbatim. Without one, the node name
    is used, as ~/.ssh/config may know it.
    """
    suffix = Path(path).suffix.lower()
    if suffix not in _SCRIPTS:
        raise ValueError(f"cannot export to {suffix or 'a file without a suffix'}: use {', '.join(_SCRIPTS)}")
    target, render = _SCRIPTS[suffix]
    steps = [step for step in plan.changes if step.target is target]
    if not steps:
        raise ValueError(f"{plan.title!r} has no {target.value} steps that do something, nothing to export as {suffix}")
    return atomic_write(path, render(plan.title, steps, ssh_destinations), mode=0o600)


def _sh_script(title: str, steps: list[Step], destinations: Mapping[str, str]) -> str:
    lines = ["#!/bin/sh", comment(f"{title}: the SSH steps, exported by homelab-tui"), "set -eu"]
    for step in steps:
        lines += ["", comment(step.description), *step.action.sh(destinations.get(step.host) or step.host)]
    return "\n".join(lines) + "\n"


def _rsc_script(title: str, steps: list[Step], _destinations: Mapping[str, str]) -> str:
    lines = [comment(f"{title}: the RouterOS steps, exported by homelab-tui")]
    for step in steps:
        lines += [comment(step.description), shown(step.rendering)]
    return "\n".join(lines) + "\n"


def _yaml_manifests(title: str, steps: list[Step], _destinations: Mapping[str, str]) -> str:
    def document(step: Step) -> str:
        return f"{comment(step.description)}\n{step.action.manifest(step.rendering).rstrip()}\n"

    return comment(f"{title}: the Kubernetes steps, exported by homelab-tui") + "\n" + "---\n".join(
        document(step) for step in steps)


_SCRIPTS: dict[str, tuple[Target, Callable[[str, list[Step], Mapping[str, str]], str]]] = {
    ".sh": (Target.SSH, _sh_script),
    ".rsc": (Target.ROUTER, _rsc_script),
    ".yaml": (Target.KUBE, _yaml_manifests),
    ".yml": (Target.KUBE, _yaml_manifests),
}
