"""Command-line entry point: the TUI, `check`, `sim`, and the headless twin of every wizard.

Exit codes (exits.py): 0 success, 1 something unreachable or failed, 2 bad config or bad
arguments. No traceback reaches the user for any of those.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
from pathlib import Path

from .. import __version__
from ..config import Config, ConfigError, config_path, load_config
from .exits import EXIT_FAILED, EXIT_INTERRUPTED, EXIT_OK, EXIT_USAGE
from .flags import add_wizard_commands


class _Parser(argparse.ArgumentParser):
    """argparse, but a bad flag names itself and exits 2 without the whole usage dump."""

    def error(self, message: str) -> None:  # type: ignore[override]
        self.exit(EXIT_USAGE, f"{self.prog}: error: {message}\n(see {self.prog} --help)\n")


def build_parser(argv: list[str] | None = None) -> argparse.ArgumentParser:
    """The whole command line; given `argv`, only the wizard it runs gets its flags (see flags.py)."""
    parser = _Parser(prog="homelab-tui", description=__doc__.splitlines()[0])
    parser.add_argument("--version", action="version", version=f"homelab-tui {__version__}")
    parser.add_argument("--config", metavar="PATH", help="config file (default: $HOMELAB_TUI_CONFIG, "
                        "else ~/.config/homelab-tui/config.toml)")
    parser.add_argument("--demo", action="store_true",
                        help="start the simulated lab (preset running) in-process and open the app on it")
    parser.add_argument("--read-only", action="store_true", help="wizards show their plans but never apply them")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)

    check = commands.add_parser("check", help="validate the config and probe every component")
    check.add_argument("--config", metavar="PATH", default=argparse.SUPPRESS, help="config file")
    check.add_argument("--timeout", type=_positive_seconds, default=10.0, metavar="SECONDS",
                       help="per-component timeout (default 10)")

    sim = commands.add_parser("sim", help="run the simulated lab headless until Ctrl-C")
    sim.add_argument("--write-config", metavar="PATH", required=True, type=Path,
                     help="write a config for the lab here (secrets and keys go to PATH's .d folder)")
    sim.add_argument("--preset", choices=("fresh", "running"), default="running",
                     help="fresh: bare nodes; running: k3s, nginx on NodePort 31681, PCC rules, DDNS")
    add_wizard_commands(commands, argv)
    return parser


def _positive_seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number of seconds, got {text!r}") from None
    if value <= 0:
        raise argparse.ArgumentTypeError(f"expected a positive number of seconds, got {text!r}")
    return value


def _load(args: argparse.Namespace) -> Config:
    return load_config(config_path(args.config))


def _run_wizard(args: argparse.Namespace) -> int:
    from ..clients.ssh import SshError
    from ..plans import PlanError
    from .wizard import run_wizard, ssh_failure

    config = _load(args)
    try:
        return asyncio.run(run_wizard(args.wizard, config, args))
    except PlanError as exc:
        print(f"{args.command}: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except SshError as exc:
        print(f"{args.command}: {ssh_failure(exc)}", file=sys.stderr)
        return EXIT_FAILED


def _run_app(config: Config, read_only: bool = False) -> int:
    from ..ui.app import HomelabApp

    HomelabApp(config, read_only=read_only).run()
    return EXIT_OK


async def _run_demo() -> int:
    import tempfile

    from ..sim.lab import Lab
    from ..ui.app import HomelabApp

    with tempfile.TemporaryDirectory(prefix="homelab-demo-") as workdir:
        lab = Lab("running", Path(workdir) / "lab", ready_delay=1.0, controller_delay=1.0)
        await lab.start()
        try:
            config = load_config(lab.write_config(Path(workdir) / "lab.toml"))
            await HomelabApp(config).run_async()
        finally:
            await lab.stop()
    return EXIT_OK


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    args = build_parser(argv).parse_args(argv)
    try:
        if args.command == "check":
            from .check import run_check

            return asyncio.run(run_check(_load(args), timeout=args.timeout, out=sys.stdout))
        if args.command == "sim":
            from ..sim.lab import run_headless

            return asyncio.run(run_headless(args.write_config, preset=args.preset, out=sys.stdout))
        if hasattr(args, "wizard"):
            return _run_wizard(args)
        if args.demo:
            return asyncio.run(_run_demo())
        return _run_app(_load(args), args.read_only)
    except ConfigError as exc:
        print(exc.render(), file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        return EXIT_INTERRUPTED
    except BrokenPipeError:  # `homelab-tui ... | head`: the reader left, nothing more to say
        sys.stdout = open(os.devnull, "w")
        return EXIT_FAILED


if __name__ == "__main__":
    sys.exit(main())
