"""Command-line entry point: the TUI, `check`, `sim`, and the headless twins of the wizards.

Exit codes: 0 success, 1 something unreachable or failed, 2 bad config or bad arguments.
No traceback reaches the user for any of those.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
from pathlib import Path

from . import __version__
from .config import Config, ConfigError, config_path, load_config

EXIT_OK, EXIT_USAGE = 0, 2  # 1 (something failed) comes from the commands themselves


class _Parser(argparse.ArgumentParser):
    """argparse, but a bad flag names itself and exits 2 without the whole usage dump."""

    def error(self, message: str) -> None:  # type: ignore[override]
        self.exit(EXIT_USAGE, f"{self.prog}: error: {message}\n(see {self.prog} --help)\n")


def build_parser() -> argparse.ArgumentParser:
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
    _add_twins(commands)
    return parser


def _add_twins(commands: argparse._SubParsersAction) -> None:
    """The headless twins of the wizards (run by twins.py, imported only when one runs)."""
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
    bootstrap = commands.add_parser("bootstrap", parents=[common], help="install the first server of the cluster")
    bootstrap.add_argument("--node", required=True, help="the config node to make the server")
    bootstrap.add_argument("--distribution", choices=("k3s", "kubeadm"), help="default: cluster.distribution")
    bootstrap.add_argument("--pod-cidr", help="default: cluster.pod_cidr")
    bootstrap.add_argument("--service-cidr", help="default: cluster.service_cidr")
    bootstrap.add_argument("--tls-san", action="append", default=[], metavar="NAME", help="extra API certificate name")
    bootstrap.add_argument("--disable", action="append", default=[], choices=("traefik", "servicelb"),
                           help="k3s component to leave out")
    k3s_release = bootstrap.add_mutually_exclusive_group()
    k3s_release.add_argument("--k3s-version", default="", metavar="VERSION", help="e.g. v1.31.4+k3s1")
    k3s_release.add_argument("--k3s-channel", default="", metavar="CHANNEL",
                             help="stable (the install script's default), latest, or a minor such as v1.31")
    bootstrap.add_argument("--kubernetes-version", default="", metavar="MINOR",
                           help="kubeadm: the pkgs.k8s.io minor version to install, e.g. v1.30 (the default)")
    bootstrap.add_argument("--extra-arg", action="append", default=[], metavar="ARG",
                           help="passed on to k3s server or kubeadm init, e.g. --extra-arg=--write-kubeconfig-mode=600")
    join = commands.add_parser("join", parents=[common], help="join worker nodes to the cluster")
    join.add_argument("--node", action="append", required=True, help="a config node to join (repeatable)")
    join.add_argument("--server", help="the server node (default: the config's first server)")


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


def _run_twin(args: argparse.Namespace) -> int:
    from .clients.ssh import SshError
    from .plans import PlanError
    from .twins import run_bootstrap, run_join, ssh_failure

    config = _load(args)
    run = run_bootstrap if args.command == "bootstrap" else run_join
    try:
        return asyncio.run(run(config, args))
    except PlanError as exc:
        print(f"{args.command}: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except SshError as exc:
        print(f"{args.command}: {ssh_failure(exc)}", file=sys.stderr)
        return 1


def _run_app(config: Config, read_only: bool = False) -> int:
    from .ui.app import HomelabApp

    HomelabApp(config, read_only=read_only).run()
    return EXIT_OK


async def _run_demo() -> int:
    import tempfile

    from .sim.lab import Lab
    from .ui.app import HomelabApp

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
    args = build_parser().parse_args(argv)
    try:
        if args.command == "check":
            from .check import run_check

            return asyncio.run(run_check(_load(args), timeout=args.timeout, out=sys.stdout))
        if args.command == "sim":
            from .sim.lab import run_headless

            return asyncio.run(run_headless(args.write_config, preset=args.preset, out=sys.stdout))
        if args.command in ("bootstrap", "join"):
            return _run_twin(args)
        if args.demo:
            return asyncio.run(_run_demo())
        return _run_app(_load(args), args.read_only)
    except ConfigError as exc:
        print(exc.render(), file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:  # `homelab-tui ... | head`: the reader left, nothing more to say
        sys.stdout = open(os.devnull, "w")
        return 1


if __name__ == "__main__":
    sys.exit(main())
