"""The headless twin of every wizard: `homelab-tui <wizard> [answers] [--dry-run | --yes]`.

It does what the wizard does, with the answers of its flags (flags.py): the flow reads the facts
and builds the plans, which are printed; with --yes, or a `y` on a terminal, the shared engine
applies them. --dry-run stops after printing; --read-only refuses to apply; --export saves the
plan as a script.
"""

from __future__ import annotations

import argparse
import asyncio
import getpass
import sys
from collections.abc import Awaitable, Callable
from typing import TextIO

from .. import engine
from ..config import Config
from ..executors import Executors, build_executors
from ..export import export_staged
from ..flows import Wizard
from ..flows.staged import apply_staged
from ..flows.wizard import request_from
from ..plans import Plan, Staged, impact, listing
from .exits import EXIT_FAILED, EXIT_OK
from .trust import new_host_keys


async def run_wizard(wizard: Wizard, config: Config, args: argparse.Namespace, out: TextIO | None = None) -> int:
    """The wizard's plans for the answers in `args`, shown, then applied as the flags say."""
    out = out or sys.stdout  # looked up now: a default bound at import would outlive a redirected stdout
    executors = build_executors(config, sudo_password=_sudo_prompt(),
                                trust_host_key=new_host_keys(args.accept_new_host_keys, out))
    try:
        request = request_from(wizard.request, vars(args))
        staged = await wizard.flow(config, request, executors, lambda text: print(f"note: {text}", file=out))
        return await _show_and_apply(staged, config, args, executors, out)
    finally:
        await executors.close()


def _sudo_prompt() -> Callable[[str], Awaitable[str | None]]:
    """A host's sudo password, asked on a line of its own naming the node; the nodes of a join ask
    at once, and the terminal asks them one at a time."""
    one_at_a_time = asyncio.Lock()

    async def sudo_password(host: str) -> str | None:
        if not sys.stdin.isatty():
            return None
        async with one_at_a_time:
            return await asyncio.to_thread(getpass.getpass, f"\nsudo password for {host}: ")

    return sudo_password


def print_plan(staged: Staged, out: TextIO) -> None:
    """The plans as the TUI shows them, a title after a blank line and the steps under it."""
    for kind, line in listing(staged.plans):
        print(f"\n{line}" if kind == "title" else f"  {line}", file=out)


async def _show_and_apply(staged: Staged, config: Config, args: argparse.Namespace, executors: Executors,
                          out: TextIO) -> int:
    print_plan(staged, out)
    if args.export:
        export_staged(staged, config, args.export, "--export")
        print(f"\nplan saved to {args.export}", file=out)
    changes = staged.changes
    if not changes:
        print("\nnothing to do: every step is a no-op", file=out)
        return EXIT_OK
    if args.dry_run:
        print(f"\ndry run: {changes} step(s) would change something", file=out)
        return EXIT_OK
    if args.read_only:
        print("\nread-only: the plan is shown, not applied", file=out)
        return EXIT_FAILED
    if not args.yes and not await _confirmed(staged, out):
        return EXIT_FAILED
    outcomes = await apply_staged(staged, executors, _reporter(out))
    failed = [(plan, result) for plan, result in outcomes if not result.ok]
    if failed:
        print("", file=out)
        for plan, result in failed:
            step = plan.steps[result.failed_index].description if result.failed_index is not None else ""
            print(f"failed: {plan.title}" + (f", at “{step}”" if step else "") + f": {result.error}", file=out)
            if result.undone:
                print(f"rolled back: {len(result.undone)} step(s) undone"
                      + (f", {len(result.undo_failed)} could not be undone (see above)" if result.undo_failed else ""),
                      file=out)
        kept = any(set(result.applied) - set(result.undone) for _, result in failed)
        print("What succeeded stays done. Run the same command again to retry the rest." if kept
              else "Nothing it did stays. Run the same command again to retry.", file=out)
        return EXIT_FAILED
    print("\ndone", file=out)
    return EXIT_OK


async def _confirmed(staged: Staged, out: TextIO) -> bool:
    if not sys.stdin.isatty():
        print("\nrefusing to apply without a terminal to confirm on: add --yes (or --dry-run)", file=out)
        return False
    # off the loop: the SSH sessions the facts were read through stay alive while the user reads
    answer = await asyncio.to_thread(input, f"\napply {impact(staged.plans)}? [y/N] ")
    return answer.strip().lower() in ("y", "yes")


def _reporter(out: TextIO) -> Callable[[Plan], Callable[[object], None]]:
    """Event printer per plan: step lines prefixed with the plan, output lines with the node they
    come from (a join's nodes run at once, so their lines interleave)."""

    def for_plan(plan: Plan) -> Callable[[object], None]:
        def on_event(event: object) -> None:
            line = engine.event_line(event)
            if line is None:
                return
            if isinstance(event, engine.StepOutput):
                print(f"[{plan.steps[event.index].host or plan.title}] {line.strip()}", file=out, flush=True)
            else:
                print(f"{plan.title} · {line}", file=out, flush=True)

        return on_event

    return for_plan


def ssh_failure(exc: Exception) -> str:
    from ..clients.ssh import HostKeyUnknown

    if isinstance(exc, HostKeyUnknown):
        return (f"{exc}\n(check the fingerprint, e.g. with `ssh-keygen -lf /etc/ssh/ssh_host_ed25519_key.pub` on "
                "the node, then run again with --accept-new-host-keys)")
    return str(exc)
