"""Plans: what a wizard will do, as data. Builders in this package are pure functions of
(answers, facts) → Plan; `engine.py` applies a Plan. No I/O and no textual here.

A Step names its target (an SSH host, the Kubernetes API, the router, DNS, or this machine), an
exact `rendering` a person could run by hand (a shell command, YAML, a RouterOS console line),
a description, and the `action` the engine performs (see actions.py). A step whose state already matches has a
`noop_reason` and is skipped. A step may carry an `undo`, which the engine runs in reverse order
when a later step fails.

Secrets never appear in a plan. A step that needs one (a join token) refers to it by name as
`{secret:NAME}`; an earlier `CaptureSecret` step reads it at apply time, and the engine fills it
in at the last moment and masks it in every output line, event and audit record.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from enum import Enum
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .actions import Action


class Target(str, Enum):
    SSH = "ssh"
    KUBE = "kube"
    ROUTER = "router"
    DNS = "dns"
    LOCAL = "local"


SECRET_REF = re.compile(r"\{secret:([a-z0-9_-]+)\}")


def secret_ref(name: str) -> str:
    """The placeholder a step's command uses for a secret captured at apply time."""
    return f"{{secret:{name}}}"


def secret_variable(name: str) -> str:
    """The shell variable a secret is kept in by hand: k3s-token → K3S_TOKEN."""
    return name.upper().replace("-", "_")


def secret_placeholder(name: str) -> str:
    """How a secret reference reads in a rendering or an export: `${K3S_TOKEN}`, so the exported
    script says where the value has to come from."""
    return "${" + secret_variable(name) + "}"


@dataclass(frozen=True)
class Step:
    target: Target
    host: str  # the config node name for SSH steps; "" for the others
    description: str
    rendering: str
    action: Action  # one of plans.actions
    noop_reason: str = ""
    undo: Action | None = None
    undo_rendering: str = ""

    @property
    def is_noop(self) -> bool:
        return bool(self.noop_reason)


@dataclass(frozen=True)
class Plan:
    title: str
    steps: tuple[Step, ...] = field(default_factory=tuple)
    warnings: tuple[str, ...] = ()  # what the user should know before saying yes (shown above the steps)

    def __iter__(self) -> Iterator[Step]:
        return iter(self.steps)

    @property
    def changes(self) -> tuple[Step, ...]:
        """The steps that will do something."""
        return tuple(step for step in self.steps if not step.is_noop)

    @property
    def is_noop(self) -> bool:
        return not self.changes


@dataclass(frozen=True)
class Staged:
    """What one wizard applies: the plans of `first` one after another (stopping at a failure),
    then the plans of `rest` at once. A join reads its secret first, then joins every node."""

    first: tuple[Plan, ...]
    rest: tuple[Plan, ...] = ()

    @property
    def plans(self) -> tuple[Plan, ...]:
        return (*self.first, *self.rest)

    @property
    def changes(self) -> int:
        return sum(len(plan.changes) for plan in self.plans)


class PlanError(ValueError):
    """The answers cannot make a plan: `field` names the answer, the message says why. When several
    answers are wrong at once, `errors` holds every (field, message), this one first, so that a form
    can show them all."""

    def __init__(self, field: str, message: str, *, more: tuple[tuple[str, str], ...] = ()) -> None:
        super().__init__("\n".join(f"{f}: {m}" for f, m in ((field, message), *more)))
        self.field = field
        self.message = message
        self.errors = ((field, message), *more)

    @staticmethod
    def check(errors: list[tuple[str, str]]) -> None:
        """Raise one PlanError for every (field, message) in `errors`; nothing when there is none."""
        if errors:
            (field, message), *more = errors
            raise PlanError(field, message, more=tuple(more))


def shown(text: str) -> str:
    """A rendering with secret references as `${NAME}` placeholders."""
    return SECRET_REF.sub(lambda match: secret_placeholder(match[1]), text)


_TARGET_NAMES = {Target.KUBE: "the cluster", Target.ROUTER: "the router", Target.DNS: "DNS", Target.LOCAL: "this machine",
                 Target.SSH: "a node"}


def impact(plans: Iterable[Plan]) -> str:
    """What applying `plans` does, in one line to confirm: how many changes, where, and each reboot."""
    from .actions import Reboot  # actions import this module

    changes = [step for plan in plans for step in plan.changes]
    where = list(dict.fromkeys(step.host or _TARGET_NAMES[step.target] for step in changes))
    reboots = list(dict.fromkeys(step.host for step in changes if isinstance(step.action, Reboot)))
    text = f"{len(changes)} change{'s' * (len(changes) != 1)} on {', '.join(where) or 'nothing'}"
    return text + (f"; reboots {', '.join(reboots)}" if reboots else "")


def listing(plans: Iterable[Plan]) -> Iterator[tuple[str, str]]:
    """The plans as the user checks them, line by line: what each step does and exactly how, or
    why not. Each line comes with its kind, for the front end to style: "title", "warning", "step",
    "command" or, for a no-op, "noop-step" and "noop"."""
    for plan in plans:
        yield "title", plan.title
        for warning in plan.warnings:
            yield "warning", f"  ! {warning}"
        for number, step in enumerate(plan.steps, 1):
            where = step.host if step.target is Target.SSH else step.target.value
            noop = "noop-" if step.is_noop else ""
            yield f"{noop}step", f"{number:>2}. [{where}] {step.description}"
            if step.is_noop:
                yield "noop", f"    no-op: {step.noop_reason}"
            elif "\n" in step.rendering:  # a manifest: shown as it is, indented under its step
                for line in shown(step.rendering).splitlines():
                    yield "command", f"      {line}"
            else:
                yield "command", f"    $ {shown(step.rendering)}"
