"""Applying a wizard's plans: the one way every front end hands `Staged` plans to the engine."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import TYPE_CHECKING

from .. import engine
from ..plans import Plan, Staged

if TYPE_CHECKING:
    from ..executors import Executors

CONCURRENCY = 16  # plans of `rest` at once: more than a homelab has nodes, but a bound on SSH sessions

OnEvent = Callable[[Plan], Callable[[engine.Event], None]]  # the event handler of each plan


async def apply_staged(staged: Staged, executors: Executors, on_event: OnEvent) -> list[tuple[Plan, engine.ApplyResult]]:
    """Apply the first plans in order (stopping at a failure), then the rest at once; every plan
    shares one context, so the join secret read first reaches the node plans. Returns each plan
    applied with its result (the error of a failed one is masked)."""
    context = engine.ApplyContext()
    audit = engine.AuditLog(engine.default_audit_path())
    limit = asyncio.Semaphore(CONCURRENCY)

    async def apply(plan: Plan) -> engine.ApplyResult:
        async with limit:
            return await engine.apply_plan(plan, executors.by_target, on_event=on_event(plan), audit=audit,
                                           context=context)

    outcomes = []
    for plan in staged.first:
        outcomes.append((plan, await apply(plan)))
        if not outcomes[-1][1].ok:
            return outcomes
    results = await asyncio.gather(*(apply(plan) for plan in staged.rest))
    return [*outcomes, *zip(staged.rest, results)]
