"""Headless twins of the wizards: `homelab-tui bootstrap` and `homelab-tui join`.

Each does what its wizard does: answers (from flags and the config), facts (read over SSH and
from the local kubeconfig), a plan from the pure builder, printed; then, with --yes or a `y` on
a terminal, the shared engine applies it. --dry-run stops after printing; --read-only refuses to
apply. Exit codes: 0 done (or nothing to do), 1 a step failed or a host could not be reached,
2 a bad answer (the message names it).
"""

from __future__ import annotations

import argparse
import asyncio
import getpass
import sys
from collections.abc import Awaitable, Callable
from typing import TextIO

from . import engine
from .clients.ssh import HostKeyUnknown, SshError
from .config import Config
from .executors import SshExecutor
from .flows import Staged, apply_staged, bootstrap_flow, export_staged, join_flow
from .plans import Plan, Target, shown

EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2


async def run_bootstrap(config: Config, args: argparse.Namespace, out: TextIO | None = None) -> int:
    return await _run(config, args, out, lambda ssh, out: bootstrap_flow(
        config, ssh, node=args.node, distribution=args.distribution, pod_cidr=args.pod_cidr,
        service_cidr=args.service_cidr, tls_sans=tuple(args.tls_san), disable=tuple(args.disable),
        k3s_version=args.k3s_version, k3s_channel=args.k3s_channel,
        kubernetes_version=args.kubernetes_version, extra_args=tuple(args.extra_arg),
        note=lambda text: print(f"note: {text}", file=out)))


async def run_join(config: Config, args: argparse.Namespace, out: TextIO | None = None) -> int:
    return await _run(config, args, out, lambda ssh, out: join_flow(config, ssh, nodes=args.node, server=args.server))


async def _run(config: Config, args: argparse.Namespace, out: TextIO | None,
               flow: Callable[[SshExecutor, TextIO], Awaitable[Staged]]) -> int:
    """The plans from `flow`, shown, then applied as the flags say; the SSH sessions closed after."""
    out = out or sys.stdout  # looked up now: a default bound at import would outlive a redirected stdout
    ssh = _ssh_executor(config, args, out)
    try:
        return await _show_and_apply(await flow(ssh, out), config, args, ssh, out)
    finally:
        await ssh.close()


def _ssh_executor(config: Config, args: argparse.Namespace, out: TextIO) -> SshExecutor:
    async def trust(unknown: HostKeyUnknown) -> bool:
        if args.accept_new_host_keys:
            print(f"{unknown.host}: trusting new host key {unknown.fingerprint} (--accept-new-host-keys)", file=out)
            return True
        return False

    async def sudo_password(host: str) -> str | None:
        if not sys.stdin.isatty():
            return None
        return await asyncio.to_thread(getpass.getpass, f"sudo password for {host}: ")

    return SshExecutor(config, sudo_password=sudo_password, trust_host_key=trust)


def print_plan(plans: list[Plan], out: TextIO) -> int:
    """The plans as a numbered list; returns how many steps will change something."""
    changes = 0
    for plan in plans:
        print(f"\n{plan.title}", file=out)
        for number, step in enumerate(plan.steps, 1):
            where = f"[{step.host}]" if step.target is Target.SSH else f"[{step.target.value}]"
            print(f"  {number:>2}. {where} {step.description}", file=out)
            if step.is_noop:
                print(f"      no-op: {step.noop_reason}", file=out)
            else:
                changes += 1
                print(f"      $ {shown(step.rendering)}", file=out)
    return changes


async def _show_and_apply(staged: Staged, config: Config, args: argparse.Namespace, ssh: SshExecutor,
                          out: TextIO) -> int:
    changes = print_plan(list(staged.plans), out)
    if args.export:
        export_staged(staged, config, args.export, "--export")
        print(f"\nplan saved to {args.export}", file=out)
    if not changes:
        print("\nnothing to do: every step is a no-op", file=out)
        return EXIT_OK
    if args.dry_run:
        print(f"\ndry run: {changes} step(s) would change something", file=out)
        return EXIT_OK
    if args.read_only:
        print("\nread-only: the plan is shown, not applied", file=out)
        return EXIT_FAILED
    if not args.yes and not _confirmed(changes, out):
        return EXIT_FAILED
    outcomes = await apply_staged(staged, config, ssh, _reporter(out))
    failed = [(plan, result) for plan, result in outcomes if not result.ok]
    if failed:
        print("", file=out)
        for plan, result in failed:
            step = plan.steps[result.failed_index].description if result.failed_index is not None else ""
            print(f"failed: {plan.title}" + (f", at “{step}”" if step else "") + f": {result.error}", file=out)
        print("What succeeded stays done. Run the same command again to retry the rest.", file=out)
        return EXIT_FAILED
    print("\ndone", file=out)
    return EXIT_OK


def _confirmed(changes: int, out: TextIO) -> bool:
    if not sys.stdin.isatty():
        print("\nrefusing to apply without a terminal to confirm on: add --yes (or --dry-run)", file=out)
        return False
    answer = input(f"\napply {changes} step(s)? [y/N] ")
    return answer.strip().lower() in ("y", "yes")


def _reporter(out: TextIO) -> Callable[[Plan], Callable[[object], None]]:
    """Event printer per plan: step lines prefixed with the plan, output lines indented."""

    def for_plan(plan: Plan) -> Callable[[object], None]:
        def on_event(event: object) -> None:
            line = engine.event_line(event)
            if line is not None:
                print(line if isinstance(event, engine.StepOutput) else f"{plan.title} · {line}", file=out, flush=True)

        return on_event

    return for_plan


def ssh_failure(exc: SshError) -> str:
    if isinstance(exc, HostKeyUnknown):
        return (f"{exc}\n(check the fingerprint, e.g. with `ssh-keygen -lf /etc/ssh/ssh_host_ed25519_key.pub` on "
                "the node, then run again with --accept-new-host-keys)")
    return str(exc)
