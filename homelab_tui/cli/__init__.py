"""Command-line entry point: the TUI, `init`, `check`, `probe`, `sim`, and the headless twin of every wizard.

Exit codes (exits.py): 0 success, 1 something unreachable or failed, 2 bad config or bad
arguments. No traceback reaches the user for any of those.
"""

from __future__ import annotations

import argparse
import asyncio
import math
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from .. import __version__
from ..config import (Config, ConfigError, ConfigIssue, config_path, load_config, parse_node, parse_router,
                      printable)
from .exits import EXIT_FAILED, EXIT_INTERRUPTED, EXIT_OK, EXIT_USAGE
from .flags import add_wizard_commands
from .probe import add_probe_command


class _Parser(argparse.ArgumentParser):
    """argparse, but a bad flag names itself and exits 2 without the whole usage dump."""

    def error(self, message: str) -> None:  # type: ignore[override]
        self.exit(EXIT_USAGE, f"{self.prog}: error: {printable(message)}\n(see {self.prog} --help)\n")


def build_parser(argv: list[str] | None = None) -> argparse.ArgumentParser:
    """The whole command line; given `argv`, only the wizard it runs gets its flags (see flags.py)."""
    parser = _Parser(prog="homelab-tui", description=__doc__.splitlines()[0])
    parser.add_argument("--version", action="version", version=f"homelab-tui {__version__}")
    parser.add_argument("--config", metavar="PATH", help="config file (default: $HOMELAB_TUI_CONFIG, "
                        "else ~/.config/homelab-tui/config.toml)")
    parser.add_argument("--demo", action="store_true",
                        help="start the simulated lab in-process and open the app on it")
    parser.add_argument("--preset", choices=("fresh", "running"), default="running",
                        help="with --demo: fresh (bare nodes, an untouched router) or running (a cluster with an "
                             "app exposed; the default)")
    parser.add_argument("--read-only", action="store_true", help="wizards show their plans but never apply them")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)

    init = commands.add_parser("init", help="write a commented config to start from (the reference lab)")
    init.add_argument("--config", metavar="PATH", default=argparse.SUPPRESS,
                      help="where to write it (default: $HOMELAB_TUI_CONFIG, else ~/.config/homelab-tui/config.toml)")
    init.add_argument("--node", metavar="NAME=ADDRESS", action="append", default=[], type=_flag_type(parse_node),
                      help="a node and its IPv4 address; repeat it; the first is the server (default: ask on a "
                           "terminal, else the example's three)")
    init.add_argument("--router", metavar="HOST", type=_flag_type(parse_router),
                      help="the MikroTik router's address (default: ask on a terminal, else 192.168.40.1)")
    init.add_argument("--force", action="store_true", help="replace an existing config (kept as .bak)")

    check = commands.add_parser("check", help="validate the config and probe every component")
    check.add_argument("--config", metavar="PATH", default=argparse.SUPPRESS, help="config file")
    check.add_argument("--timeout", type=_timeout_flag, default=10.0, metavar="SECONDS",
                       help="per-component timeout, 0.5 to 600 (default 10)")
    check.add_argument("--accept-new-host-keys", action="store_true",
                       help="trust a node's host key seen for the first time, after printing its fingerprint; "
                            "a changed key is always refused")

    sim = commands.add_parser("sim", help="run the simulated lab headless until Ctrl-C")
    sim.add_argument("--write-config", metavar="PATH", required=True, type=Path,
                     help="write a config for the lab here (secrets and keys go to PATH's .d folder)")
    sim.add_argument("--preset", choices=("fresh", "running"), default="running",
                     help="fresh: bare nodes; running: k3s, nginx on NodePort 31681, PCC rules, DDNS")
    add_probe_command(commands)
    add_wizard_commands(commands, argv)
    return parser


def _timeout_flag(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number of seconds, got {text!r}") from None
    if not math.isfinite(value) or not 0.5 <= value <= 600:
        raise argparse.ArgumentTypeError(f"expected a number of seconds from 0.5 to 600, got {text!r}")
    return value


def _flag_type(parse: Callable[[str], Any]) -> Callable[[str], Any]:
    """A config parser as an argparse type: its ValueError becomes the flag's error (exit 2)."""

    def check(text: str) -> Any:
        try:
            return parse(text)
        except ValueError as exc:
            raise argparse.ArgumentTypeError(str(exc)) from None

    return check


# --- checks made before anything starts -------------------------------------------------------


def ui_config_issues(config: Config) -> list[ConfigIssue]:
    """What config.py cannot check without the UI: that `ui.theme` exists and that every
    `[ui.keymap]` entry names a binding of the app and real keys, leaving a key to quit."""
    from ..config import key_line

    issues = [*_theme_issues(config), *_keymap_issues(config.ui.keymap)]
    return [ConfigIssue(issue.path, issue.message, key_line(config, issue.path)) for issue in issues]


def _theme_issues(config: Config) -> list[ConfigIssue]:
    from textual.theme import BUILTIN_THEMES

    from ..ui.themes import load_themes

    known = {*BUILTIN_THEMES, *load_themes()}
    if config.ui.theme in known:
        return []
    return [ConfigIssue("ui.theme", f"unknown theme {config.ui.theme!r}; expected one of {', '.join(sorted(known))}")]


def _app_bindings() -> tuple[list, list]:
    """(the app's own bindings, every binding of its screens, panes and modals), by walking the
    UI's classes: a binding added anywhere in ui/ is known here without a list to keep."""
    import importlib

    from textual.binding import Binding
    from textual.dom import DOMNode

    app = importlib.import_module("homelab_tui.ui.app").HomelabApp
    importlib.import_module("homelab_tui.ui.wizards.screen")
    classes, todo = [], [DOMNode]
    while todo:
        cls = todo.pop()
        todo += cls.__subclasses__()
        if cls.__module__.startswith("homelab_tui.ui."):
            classes.append(cls)

    def bindings(cls: type) -> list[Binding]:
        return [b for b in Binding.make_bindings(cls.__dict__.get("BINDINGS", [])) if b.id]

    return bindings(app), [b for cls in classes if cls is not app for b in bindings(cls)]


def _keymap_issues(keymap: dict[str, str]) -> list[ConfigIssue]:
    if not keymap:
        return []
    from ..config import keymap_keys

    app_bindings, other_bindings = _app_bindings()
    ids = {b.id for b in app_bindings + other_bindings}
    issues = []
    for binding_id, keys in keymap.items():
        where = f"ui.keymap.{binding_id}"
        if binding_id not in ids:
            issues.append(ConfigIssue(where, f"no binding has the id {binding_id!r}; expected one of "
                                             f"{', '.join(sorted(ids))}"))
        issues += [ConfigIssue(where, f"{key!r} is not a key name Textual knows (e.g. q, f5, slash, ctrl+x)")
                   for key in keymap_keys(keys) if not _known_key(key)]
    if issues:
        return issues
    # The app's keys after the remap: two actions on one key would leave one unreachable.
    owners: dict[str, list[str]] = {}
    for binding in app_bindings:
        for key in keymap_keys(keymap[binding.id]) if binding.id in keymap else [binding.key]:
            if binding.id not in owners.setdefault(key, []):
                owners[key].append(binding.id)
    for key, ids_of_key in owners.items():
        for binding_id in ids_of_key if len(ids_of_key) > 1 else ():
            if binding_id in keymap:  # name the entry that made the clash
                others = ", ".join(other for other in ids_of_key if other != binding_id)
                issues.append(ConfigIssue(f"ui.keymap.{binding_id}", f"{key!r} is also the key of {others}; "
                                          "expected a key no other binding uses"))
    quit_keys = {key for key, ids_of_key in owners.items() if ids_of_key == ["quit"]}
    if not quit_keys and not issues:
        issues.append(ConfigIssue("ui.keymap", "no key is left to quit; give the quit binding a key"))
    for binding in other_bindings:  # a pane's key shadows the app's while that pane has focus
        if binding.id in keymap and (taken := quit_keys & set(keymap_keys(keymap[binding.id]))):
            issues.append(ConfigIssue(f"ui.keymap.{binding.id}", f"{', '.join(sorted(taken))} is the key to quit; "
                                      "expected another key"))
    return issues


def _known_key(key: str) -> bool:
    import unicodedata

    from textual.keys import KEY_NAME_REPLACEMENTS, Keys

    base = key.rsplit("+", 1)[-1] if len(key) > 1 else key
    if len(base) == 1 or base in {k.value.rsplit("+", 1)[-1] for k in Keys} or base in KEY_NAME_REPLACEMENTS.values():
        return True
    try:  # Textual names a character key after its Unicode name: question_mark, full_stop ...
        unicodedata.lookup(base.replace("_", " "))
    except KeyError:
        return False
    return True


def _validated(config: Config, *, ui: bool = False, keys: bool = True) -> Config:
    """`config`, once what loading alone cannot check holds: the SSH files (connect.py) and,
    for the TUI and `check`, the theme and keymap. ConfigError names each problem."""
    from ..connect import local_file_issues

    issues = local_file_issues(config, keys=keys) + (ui_config_issues(config) if ui else [])
    if issues:
        raise ConfigError(str(config.path or "config"), issues)
    return config


def _load(args: argparse.Namespace) -> Config:
    return load_config(config_path(args.config))


# --- commands -------------------------------------------------------------------------------


def _run_wizard(args: argparse.Namespace) -> int:
    from ..clients.ssh import SshError
    from ..flows.wizard import flag
    from ..plans import PlanError
    from .wizard import run_wizard, ssh_failure

    config = _validated(_load(args))
    try:
        return asyncio.run(run_wizard(args.wizard, config, args))
    except PlanError as exc:  # each wrong answer by the flag that gives it
        flags = {f.name: flag(f, spec) for f, spec in args.wizard.answers()}
        for field, message in exc.errors:
            print(f"{args.command}: {flags.get(field, field)}: {message}", file=sys.stderr)
        return EXIT_USAGE
    except SshError as exc:
        print(f"{args.command}: {ssh_failure(exc)}", file=sys.stderr)
        return EXIT_FAILED


def _run_check(args: argparse.Namespace) -> int:
    from .check import run_check

    config = _validated(_load(args), ui=True)
    return asyncio.run(run_check(config, timeout=args.timeout, out=sys.stdout,
                                 accept_new_host_keys=args.accept_new_host_keys))


def _run_init(args: argparse.Namespace) -> int:
    from ..config import check_init_target, write_initial_config

    target = config_path(args.config)
    check_init_target(target, args.force)  # before asking anything
    nodes, router = args.node, args.router
    if sys.stdin.isatty():
        nodes = nodes or _ask_nodes()
        router = router if router is not None else _ask("router host (the MikroTik's address) [192.168.40.1]: ",
                                                        parse_router)
    written, backup = write_initial_config(target, nodes, router, force=args.force)
    print(f"config written to {written} (mode 0600)" + (f"; the previous one is now {backup}" if backup else ""))
    print("next: edit it (ssh.user, ssh.identity_file, the secrets' variables), then run `homelab-tui check`")
    return EXIT_OK


def _ask_nodes() -> list[tuple[str, str]]:
    print("The nodes, one NAME=ADDRESS per line, the server first; an empty line ends "
          "(none: the example's master1, node1, node2 on 192.168.40.102-104).")
    nodes = []
    while node := _ask(f"node {len(nodes) + 1}: ", parse_node):
        nodes.append(node)
    return nodes


def _ask(prompt: str, parse: Callable[[str], Any]) -> Any:
    """Ask until the answer parses; None for an empty answer or the end of input."""
    while True:
        try:
            answer = input(prompt).strip()
        except EOFError:
            return None
        if not answer:
            return None
        try:
            return parse(answer)
        except ValueError as exc:
            print(f"  {exc}")


def _run_app(config: Config, read_only: bool = False) -> int:
    from ..ui.app import HomelabApp

    # the TUI opens SSH only in a wizard, where a key that is no key is still named when it connects
    HomelabApp(_validated(config, ui=True, keys=False), read_only=read_only).run()
    return EXIT_OK


async def _run_demo(read_only: bool = False, preset: str = "running") -> int:
    """The app on the sim lab, in a private temporary directory (the sim's key, kubeconfig and
    secrets) that is removed however the run ends: quit, Ctrl-C, SIGTERM or a closed terminal
    (SIGHUP)."""
    import shutil
    import signal
    import tempfile

    from ..sim.lab import Lab
    from ..ui.app import HomelabApp

    loop = asyncio.get_running_loop()
    main_task = asyncio.current_task()
    app: HomelabApp | None = None
    stopped_by: list[int] = []

    def stop(signum: int) -> None:
        stopped_by.append(signum)
        if app is not None and app.is_running:
            app.exit()
        elif main_task is not None:
            main_task.cancel()

    workdir = tempfile.mkdtemp(prefix="homelab-demo-")
    for signum in (signal.SIGHUP, signal.SIGTERM):
        loop.add_signal_handler(signum, stop, signum)
    lab = Lab(preset, Path(workdir) / "lab", ready_delay=1.0, controller_delay=1.0)
    try:
        try:
            await lab.start()
            config = load_config(lab.write_config(Path(workdir) / "lab.toml"))
            if not stopped_by:
                app = HomelabApp(config, read_only=read_only)
                await app.run_async()
        finally:
            await lab.stop()
    except asyncio.CancelledError:
        if not stopped_by:
            raise
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
        for signum in (signal.SIGHUP, signal.SIGTERM):
            loop.remove_signal_handler(signum)
    return 128 + stopped_by[0] if stopped_by else EXIT_OK


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    args = build_parser(argv).parse_args(argv)
    try:
        if args.command == "init":
            return _run_init(args)
        if args.command == "check":
            return _run_check(args)
        if args.command == "probe":
            from .probe import run_probe

            return asyncio.run(run_probe(_validated(_load(args)), args, sys.stdout, sys.stderr))
        if args.command == "sim":
            from ..sim.lab import run_headless

            return asyncio.run(run_headless(args.write_config, preset=args.preset, out=sys.stdout))
        if hasattr(args, "wizard"):
            return _run_wizard(args)
        if args.demo:
            return asyncio.run(_run_demo(args.read_only, args.preset))
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
