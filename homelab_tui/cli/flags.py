"""The wizards' subcommands, made from the registry: one flag per answer of each wizard's request
(flows/wizard.py), so the CLI and the TUI's form ask the same answers, written out once."""

from __future__ import annotations

import argparse

from ..flows import WIZARDS
from ..flows.wizard import flag


def add_wizard_commands(commands: argparse._SubParsersAction, argv: list[str] | None = None) -> None:
    """One subcommand per registered wizard, with a flag per answer of its request. Given the
    command line `argv`, only the wizard it names gets its flags: a start that runs no wizard
    does not import any (argparse reads the flags of the one subcommand given, no other)."""
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--config", metavar="PATH", default=argparse.SUPPRESS, help="config file")
    mode = common.add_mutually_exclusive_group()
    mode.add_argument("--dry-run", action="store_true", help="print the plan and stop")
    mode.add_argument("--yes", action="store_true", help="apply without asking")
    common.add_argument("--read-only", action="store_true", default=argparse.SUPPRESS,
                        help="show the plan but never apply it")
    common.add_argument("--export", metavar="PATH", help="also save the plan as .sh, .rsc or .yaml")
    common.add_argument("--accept-new-host-keys", action="store_true",
                        help="trust a host key seen for the first time (like OpenSSH's accept-new); "
                             "a changed key is always refused")
    for wizard in WIZARDS:
        command = commands.add_parser(wizard.command, parents=[common], help=wizard.summary.lower())
        command.set_defaults(wizard=wizard)
        if argv is not None and wizard.command not in argv:
            continue
        for f, spec in wizard.answers():
            if spec.switch:
                command.add_argument(flag(f, spec), *spec.aliases, dest=f.name, action="store_true", help=spec.help)
                continue
            options: dict = {"dest": f.name, "help": spec.help, "metavar": spec.metavar}
            if spec.choices:
                options |= {"choices": spec.choices, "metavar": None}
            if spec.many:
                options |= {"action": "append", "default": []}
            command.add_argument(flag(f, spec), *spec.aliases, required=spec.required, **options)
