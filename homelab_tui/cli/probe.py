"""`homelab-tui probe --service NS/NAME [--port N] [--host NAME] [--json]`: the reachability
probe's table of hops (plans/verdicts/probe.py), read live. It makes no plan. Exit 0 when every checked
hop passes, 1 naming the first failing hop, 2 for a bad flag or a Service that does not exist."""

from __future__ import annotations

import argparse
import json
import re
from dataclasses import asdict
from typing import TextIO

from ..config import Config
from ..plans import PlanError
from ..plans.verdicts.probe import ProbeAnswers, Verdict
from .exits import EXIT_FAILED, EXIT_OK, EXIT_USAGE

_SERVICE = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?/[a-z0-9]([-a-z0-9.]*[a-z0-9])?")


def add_probe_command(commands: argparse._SubParsersAction) -> None:
    probe = commands.add_parser("probe", help="why can't I reach it? check an exposed Service hop by hop")
    probe.add_argument("--config", metavar="PATH", default=argparse.SUPPRESS, help="config file")
    probe.add_argument("--service", metavar="NS/NAME", required=True, help="the exposed Service, e.g. default/nginx")
    probe.add_argument("--port", metavar="PORT", type=_port, default=0,
                       help="its public port (default: every exposed port of the Service)")
    probe.add_argument("--host", metavar="NAME", default="",
                       help="the public name (default: the name of our record in the zone)")
    probe.add_argument("--json", action="store_true", help="the hops as JSON")


def _port(text: str) -> int:
    if not text.isdigit() or not 1 <= int(text) <= 65535:
        raise argparse.ArgumentTypeError(f"expected a port from 1 to 65535, got {text!r}")
    return int(text)


async def run_probe(config: Config, args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    from ..flows.probe import probe

    if not _SERVICE.fullmatch(args.service):
        print(f"probe: --service: expected namespace/name, such as default/nginx, got {args.service!r}", file=err)
        return EXIT_USAGE
    answers = ProbeAnswers(args.service, args.port, args.host)
    try:
        _, verdict = await probe(config, answers)
    except PlanError as error:
        for field, message in error.errors:
            print(f"probe: {field}: {message}", file=err)
        return EXIT_USAGE if any(field == "--service" for field, _ in error.errors) else EXIT_FAILED
    (_print_json if args.json else _print_table)(verdict, out)
    failed = verdict.failed
    if failed is not None:
        print(f"probe: the hop '{failed.name}' fails: {failed.fix}", file=err)
        return EXIT_FAILED
    return EXIT_OK


def _print_json(verdict: Verdict, out: TextIO) -> None:
    failed = verdict.failed
    print(json.dumps({"hops": [asdict(hop) for hop in verdict.hops], "failed": failed.name if failed else None,
                      "note": verdict.note}, indent=2), file=out)


def _print_table(verdict: Verdict, out: TextIO) -> None:
    width = max(len(hop.name) for hop in verdict.hops)
    verdict_width = max(len(hop.verdict) for hop in verdict.hops)
    print(f"{'HOP':<{width}}  {'VERDICT':<{verdict_width}}  DETAIL", file=out)
    for hop in verdict.hops:
        print(f"{hop.name:<{width}}  {hop.verdict.upper():<{verdict_width}}  {hop.detail}", file=out)
        if hop.fix:
            print(f"{'':<{width}}  {'':<{verdict_width}}  to do: {hop.fix}", file=out)
    print(f"\n{verdict.note}", file=out)
