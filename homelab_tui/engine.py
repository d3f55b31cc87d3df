"""The one engine that applies a Plan, for every wizard and every headless twin.

`apply_plan` runs the steps in order through the executor of each step's target, skips the
no-ops, stops at the first failure and rolls back: the `undo` of every completed step that has
one, newest first. It reports each outcome as an event, appends it to the audit log, and fills
in `{secret:NAME}` references at the last moment, masking every secret value in whatever it
reports. (`export.py` saves a plan as scripts to run by hand instead.)

No textual here: the UI and the CLI both drive this module through the events.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field, fields, replace
from datetime import datetime, timezone
from pathlib import Path
from typing import Protocol

import platformdirs

from .plans import SECRET_REF, Plan, Step, Target, shown
from .plans.actions import Action

MASK = "****"
DRY_RUN = "dry run"
CANCELLED = "cancelled"


# -- executors -------------------------------------------------------------------------------


@dataclass
class ApplyContext:
    """What the steps of one apply (or of several plans applied together, such as the join
    secret's plan and the node plans that use it) share. `secrets` is filled by the executors of
    CaptureSecret steps; it is left out of the repr so a logged context shows no value."""

    secrets: dict[str, str] = field(default_factory=dict, repr=False)


class Executor(Protocol):
    async def execute(self, step: Step, action: Action, context: ApplyContext, output: Callable[[str], None]) -> None:
        """Do `action` (the step's action or its undo, secrets filled in) for `step`; call `output`
        with each line of live output; raise on failure."""


class SecretMissing(Exception):
    """A step refers to a secret that no earlier step captured."""


# -- masking ---------------------------------------------------------------------------------


def mask(text: str, secrets: Iterable[str]) -> str:
    """`text` with every secret value replaced by ****, wherever it appears in the text.

    `clients.ssh.redact` is not reused: it also rewrites `K3S_TOKEN=...` patterns, which would
    mangle renderings that show `${K3S_TOKEN}` placeholders, and it masks with `***`.
    """
    values: set[str] = set()
    for secret in secrets:
        values.add(secret.strip())
        # Output arrives one line at a time, so a multi-line secret can only ever show up line
        # by line: each of its lines is a secret too.
        values.update(line.strip() for line in secret.splitlines())
    values.discard("")
    if not values:
        return text
    # Longest first, so a secret that contains another is masked whole.
    pattern = "|".join(re.escape(value) for value in sorted(values, key=len, reverse=True))
    return re.sub(pattern, MASK, text)


def fill_secrets(action: Action, secrets: Mapping[str, str]) -> Action:
    """`action` with the `{secret:NAME}` references in its string fields replaced by the values."""

    def value(match: re.Match[str]) -> str:
        name = match[1]
        if name not in secrets:
            raise SecretMissing(f"secret {name!r} was never captured: the step that reads it has not run")
        return secrets[name]

    changes = {f.name: SECRET_REF.sub(value, text) for f in fields(action)
               if isinstance(text := getattr(action, f.name), str) and SECRET_REF.search(text)}
    return replace(action, **changes) if changes else action


# -- events ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class StepStarted:
    index: int
    step: Step


@dataclass(frozen=True)
class StepOutput:
    index: int
    line: str  # one line of the step's (or its undo's) output, masked


@dataclass(frozen=True)
class StepSkipped:
    index: int
    step: Step
    reason: str  # the step's noop_reason, or DRY_RUN


@dataclass(frozen=True)
class StepDone:
    index: int
    step: Step


@dataclass(frozen=True)
class StepFailed:
    index: int
    step: Step
    error: str  # masked; CANCELLED when the apply was cancelled during the step


@dataclass(frozen=True)
class UndoStarted:
    index: int
    step: Step


@dataclass(frozen=True)
class UndoDone:
    index: int
    step: Step


@dataclass(frozen=True)
class UndoFailed:
    index: int
    step: Step
    error: str  # masked


@dataclass(frozen=True)
class ApplyResult:
    ok: bool
    failed_index: int | None = None
    error: str = ""  # masked
    applied: list[int] = field(default_factory=list)  # steps done (and not necessarily undone)
    undone: list[int] = field(default_factory=list)
    undo_failed: list[int] = field(default_factory=list)


@dataclass(frozen=True)
class PlanFinished:
    result: ApplyResult


Event = (StepStarted | StepOutput | StepSkipped | StepDone | StepFailed | UndoStarted | UndoDone | UndoFailed
         | PlanFinished)


def event_line(event: Event) -> str | None:
    """How an event reads in a progress log (the CLI's and the wizards'); None: not shown."""
    match event:
        case StepStarted(index=index, step=step):
            return f"{index + 1}. {step.description}"
        case StepOutput(line=line):
            return f"    {line}"
        case StepFailed(index=index, error=error):
            return f"{index + 1}. FAILED: {error}"
        case UndoDone(index=index, step=step):
            return f"undid {index + 1}. {step.description}"
        case UndoFailed(index=index, error=error):
            return f"could not undo {index + 1}: {error}"
    return None


# -- audit log -------------------------------------------------------------------------------


def default_audit_path() -> Path:
    return Path(platformdirs.user_state_dir("homelab-tui")) / "audit.jsonl"


class AuditLog:
    """A JSON-lines file with one record per step outcome. The caller masks the record; this
    class only adds the time and appends it."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path).expanduser()

    def write(self, record: Mapping[str, object]) -> None:
        line = json.dumps({"time": datetime.now(timezone.utc).isoformat(timespec="milliseconds"), **record},
                          ensure_ascii=False)
        self.path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        # One write() of a whole line on an O_APPEND descriptor: concurrent applies (the join
        # plans run side by side, or two terminals) add lines without overwriting each other's.
        fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_APPEND | os.O_CLOEXEC, 0o600)
        try:
            os.write(fd, (line + "\n").encode())
        finally:
            os.close(fd)


# -- apply -----------------------------------------------------------------------------------


async def apply_plan(
    plan: Plan,
    executors: Mapping[Target, Executor],
    *,
    on_event: Callable[[Event], None] | None = None,
    audit: AuditLog | None = None,
    dry_run: bool = False,
    extra_secrets: Iterable[str] = (),
    context: ApplyContext | None = None,
) -> ApplyResult:
    """Apply `plan`; see the module docstring. Pass the same `context` to plans that share
    secrets. A dry run executes nothing, writes no audit record, and reports every step skipped.

    Cancelling the task during a step also rolls back the completed steps, then re-raises: a
    half-applied plan (say router rules that point at a service not yet created) is worse than
    either end state, and the undos exist for exactly that. A second cancel interrupts the
    rollback itself.
    """
    if not dry_run:
        # Refuse before touching anything, rather than half-apply and fail on a wiring mistake.
        missing = sorted({step.target.value for step in plan.changes} - {target.value for target in executors})
        if missing:
            raise ValueError(f"no executor for the {', '.join(missing)} steps of {plan.title!r}")
    return await _Apply(plan, executors, on_event, audit, extra_secrets,
                        context if context is not None else ApplyContext()).run(dry_run)


class _Apply:
    """One run of apply_plan: the reporting (events, audit, masking) every outcome goes through."""

    def __init__(self, plan: Plan, executors: Mapping[Target, Executor], on_event: Callable[[Event], None] | None,
                 audit: AuditLog | None, extra_secrets: Iterable[str], context: ApplyContext) -> None:
        self.plan = plan
        self.executors = executors
        self.on_event = on_event
        self.audit = audit
        self.extra_secrets = tuple(extra_secrets)
        self.context = context

    async def run(self, dry_run: bool) -> ApplyResult:
        applied: list[int] = []
        failure: tuple[int, str] | None = None
        cancelled: asyncio.CancelledError | None = None
        for index, step in enumerate(self.plan.steps):
            if step.is_noop or dry_run:
                reason = step.noop_reason or DRY_RUN
                self.emit(StepSkipped(index, step, self.mask(reason)))
                if not dry_run:
                    self.record(index, step, "skipped", reason=reason)
                continue
            self.emit(StepStarted(index, step))
            try:
                await self.execute(index, step, step.action)
            except asyncio.CancelledError as exc:
                cancelled, failure = exc, (index, CANCELLED)
            except Exception as exc:  # noqa: BLE001 - any failure of a step stops the plan
                failure = (index, self.mask(str(exc) or type(exc).__name__))
            if failure is not None:
                self.emit(StepFailed(index, step, failure[1]))
                self.record(index, step, "failed", error=failure[1])
                break
            applied.append(index)
            self.emit(StepDone(index, step))
            self.record(index, step, "applied")
        undone, undo_failed = await self.rollback(applied) if failure is not None else ([], [])
        failed_index, error = failure if failure is not None else (None, "")
        result = ApplyResult(ok=failure is None, failed_index=failed_index, error=error,
                             applied=applied, undone=undone, undo_failed=undo_failed)
        self.emit(PlanFinished(result))
        if cancelled is not None:
            raise cancelled
        return result

    async def rollback(self, applied: list[int]) -> tuple[list[int], list[int]]:
        """Undo the completed steps that have an undo, newest first; a failed undo is reported
        and the others still run, since each undo stands on its own."""
        undone: list[int] = []
        undo_failed: list[int] = []
        for index in reversed(applied):
            step = self.plan.steps[index]
            if step.undo is None:
                continue
            rendering = step.undo_rendering or step.rendering
            self.emit(UndoStarted(index, step))
            try:
                await self.execute(index, step, step.undo)
            except Exception as exc:  # noqa: BLE001 - reported; the rollback goes on
                error = self.mask(str(exc) or type(exc).__name__)
                undo_failed.append(index)
                self.emit(UndoFailed(index, step, error))
                self.record(index, step, "undo-failed", error=error, rendering=rendering)
            else:
                undone.append(index)
                self.emit(UndoDone(index, step))
                self.record(index, step, "undone", rendering=rendering)
        return undone, undo_failed

    async def execute(self, index: int, step: Step, action: Action) -> None:
        filled = fill_secrets(action, self.context.secrets)
        await self.executors[step.target].execute(
            step, filled, self.context, lambda line: self.emit(StepOutput(index, self.mask(line))))

    def mask(self, text: str) -> str:
        # Read the secrets each time: a CaptureSecret step adds one in the middle of the plan.
        return mask(text, (*self.context.secrets.values(), *self.extra_secrets))

    def emit(self, event: Event) -> None:
        if self.on_event is not None:
            self.on_event(event)

    def record(self, index: int, step: Step, outcome: str, *, error: str = "", reason: str = "",
               rendering: str | None = None) -> None:
        if self.audit is None:
            return
        record = {
            "plan": self.mask(self.plan.title),
            "index": index,
            "target": step.target.value,
            "host": step.host,
            "description": self.mask(step.description),
            "rendering": self.mask(shown(step.rendering if rendering is None else rendering)),
            "outcome": outcome,
            "error": self.mask(error),
        }
        if reason:
            record["reason"] = self.mask(reason)
        self.audit.write(record)
