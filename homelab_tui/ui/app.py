"""The live view: Nodes, Pods, Services, NAT and DNS panes on a dashboard, each one key away.

Each pane is a unit in ui/panes/ (its columns, its rows, Enter, its own keys) and keeps its table
by row key. The dashboard (panes/dashboard.py) holds the panes and runs the feeds that fill
`state.LabState`: Kubernetes watches, router and DNS polls. The app composes the screen, switches
between the dashboard and one pane, draws the header, and routes every worker's failure
(`on_worker_state_changed`): a failing component marks its panes stale, says why in the header
and is retried with backoff. One component failing never stops the app or another pane.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from collections.abc import Awaitable, Callable, Iterable
from functools import partial
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

import platformdirs

from textual import on
from textual.app import App, ComposeResult, SuspendNotSupported, SystemCommand
from textual.binding import Binding
from textual.css.query import NoMatches
from textual.screen import Screen
from textual.widgets import Input
from textual.worker import Worker, WorkerState

from ..config import APP_NAME, Config, ConfigError, ConfigIssue, SecretError
from ..flows import WIZARDS
from ..state import Health, LabState, describe_error
from . import rows
from .commands import HomelabCommands, palette_commands, wizard_bindings
from .header import StatusHeader
from .modals import ALL_NAMESPACES, CommandScreen, ConfirmScreen, HelpScreen, NamespaceScreen
from .panes import DASHBOARD_ORDER, PANES, Pane
from .panes.dashboard import FEEDS, Dashboard
from .themes import VARIABLE_DEFAULTS, load_themes
from .widgets import KeysFooter

if TYPE_CHECKING:
    from ..plans import Plan


PANE_KEYS = Binding.Group("Panes", compact=True)
SCREENSHOT_DIR = Path(platformdirs.user_data_dir(APP_NAME)) / "screenshots"


class HomelabApp(App[None]):
    TITLE = "homelab-tui"
    CSS_PATH = "app.tcss"
    AUTO_FOCUS = "#nodes-table"  # not the hidden filter input
    HORIZONTAL_BREAKPOINTS = [(0, "-narrow"), (160, "-wide")]
    COMMANDS = {HomelabCommands}
    BINDINGS = [
        # 0-5: every pane, or one alone; the footer groups them as "012345 Panes"
        Binding("0", "dashboard", "All panes", id="show_dashboard", tooltip="Every pane together", group=PANE_KEYS),
        *(Binding(pane.KEY, f"show('{pane.NAME}')", pane.TITLE, id=f"show_{pane.NAME}", group=PANE_KEYS)
          for pane in PANES),
        Binding("question_mark", "help", "Help", id="help", tooltip="The keys of this pane and the app's"),
        Binding("colon", "command", "Command", id="command", show=False,
                tooltip="k9s's command prompt: :pods, :no, :svc, :nat, :dns"),
        Binding("slash", "edit_filter", "Filter", id="filter", tooltip="Show rows matching a regular expression"),
        Binding("escape", "clear_filter", "Clear filter", id="clear_filter", show=False),
        Binding("n", "pick_namespace", "Namespace", id="namespace", tooltip="Pods and Services of one namespace"),
        *wizard_bindings(),
        Binding("ctrl+s", "screenshot", "Screenshot", id="screenshot", show=False,
                tooltip=f"Save the screen as SVG in {SCREENSHOT_DIR}"),
        Binding("q", "quit", "Quit", id="quit"),
    ]
    # The panes' keys (and the wizards') work on the panes only, not under a wizard or a modal.
    PANE_ACTIONS = {"show", "dashboard", "edit_filter", "clear_filter", "pick_namespace", "wizard", "probe", "help",
                    "command"}
    # The pane keys k9s calls dangerous: a shell, and each change (delete, kill, restart, scale, cordon,
    # drain): --read-only hides and refuses them, here alone (`Pane.check_action` asks `blocked_actions`).
    # A change reached another way is refused by `apply_change` too.
    DANGEROUS_ACTIONS = frozenset({"shell", "ssh", "delete", "kill", "restart", "scale", "cordon", "uncordon",
                                   "drain", "release"})

    def __init__(self, config: Config, *, clock: Callable[[], datetime | None] = rows.utc_now,
                 read_only: bool = False) -> None:
        super().__init__()
        self.read_only = read_only  # wizards show plans but never apply them
        for theme in load_themes().values():
            self.register_theme(theme)
        if config.ui.theme not in self.available_themes:
            known = ", ".join(sorted(self.available_themes))
            raise ConfigError(str(config.path or "config"),
                              [ConfigIssue("ui.theme", f"unknown theme {config.ui.theme!r}; expected one of {known}")])
        self.theme = config.ui.theme
        self.config = config
        self.clock = clock  # returns None in snapshot mode: no ages on screen
        self.state = LabState()
        self.view = "dashboard"  # or the name of the one pane shown
        self.namespace = ALL_NAMESPACES
        self._focused_pane = PANES[0].NAME

    def get_theme_variable_defaults(self) -> dict[str, str]:
        return {**super().get_theme_variable_defaults(), **VARIABLE_DEFAULTS}

    # -- composition and views ----------------------------------------------------------------

    def compose(self) -> ComposeResult:
        yield StatusHeader(id="status")
        self.dashboard = Dashboard(self.config, self.state, self.clock)
        yield self.dashboard
        yield Input(placeholder="filter: a regular expression; Enter applies, Esc clears", id="filter")
        # Where not every key fits (80 columns), the footer keeps those to move around, the panes'
        # first k9s keys, filter, help and quit
        yield KeysFooter(essential={"dashboard", *(f"show('{pane.NAME}')" for pane in PANES), "select_cursor",
                                    "app.focus_next", "logs", "shell", "ssh", "help", "edit_filter", "quit",
                                    "command_palette"})

    def on_mount(self) -> None:
        self.set_keymap(self.config.ui.keymap)
        self._render_header()

    def table(self, name: str) -> Pane:
        return self.dashboard.panes[name]

    @property
    def active_pane(self) -> Pane:
        return self.table(self._focused_pane if self.view == "dashboard" else self.view)

    @property
    def kube_context(self) -> str:
        return self.state.kube_context

    @property
    def filters(self) -> dict[str, re.Pattern[str]]:
        """The panes' filters (`/regex`), of the panes that have one."""
        return {name: pane.filter for name, pane in self.dashboard.panes.items() if pane.filter is not None}

    def on_descendant_focus(self, event) -> None:
        if isinstance(event.widget, Pane):
            self._focused_pane = event.widget.NAME
            self._render_header()

    def action_show(self, name: str) -> None:
        self.view = name
        self.dashboard.show(name)
        self.table(name).focus()
        self._render_header()

    def jump_to(self, name: str, key: str) -> None:
        """Pane `name` alone, the cursor on the row of `key` (k9s's jump to an owner)."""
        self.action_show(name)
        pane = self.table(name)
        if key in pane.rows:
            pane.move_cursor(row=pane.get_row_index(key))
        else:
            self.notify(f"{key} is not shown in the {pane.TITLE} pane (its filter or namespace hides it, "
                        "or it is not there yet)", severity="warning")

    def action_dashboard(self) -> None:
        self.view = "dashboard"
        self.dashboard.show(None)
        if self._focused_pane not in DASHBOARD_ORDER:
            self._focused_pane = PANES[0].NAME
        self.table(self._focused_pane).focus()
        self._render_header()

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        return action not in self.PANE_ACTIONS or self.screen is self.screen_stack[0]

    def get_system_commands(self, screen: Screen) -> Iterable[SystemCommand]:
        """Textual's commands, and on the panes (where their keys work) the wizards and the views."""
        yield from super().get_system_commands(screen)
        if screen is self.screen_stack[0]:
            yield from palette_commands(self)

    def action_wizard(self, name: str) -> None:
        self.open_wizard(name, self.active_pane.wizard_answers())

    def open_wizard(self, name: str, given: dict[str, str]) -> None:
        """The wizard `name`, its form starting from `given` (a row's answers, by field name)."""
        from .wizards import WizardScreen  # the engine and its clients load when a wizard opens

        self.push_screen(WizardScreen(name, self.config, in_cluster=set(self.state.kube.of("Node")),
                                      read_only=self.read_only, given=given))

    def action_probe(self) -> None:
        """The reachability probe of the Service under the cursor (`p` on a Services row), else of
        one picked (the palette, from another pane)."""
        from .probe import open_probe  # the probe's screen loads when it is first used

        open_probe(self, self.active_pane.wizard_answers().get("service", ""))

    def on_dashboard_turned_stale(self, event: Dashboard.TurnedStale) -> None:
        """`[router] auto_rebalance`: an exposure's PCC turned stale, so its rebalance is shown to
        confirm (once per set of reasons), applied by the engine and audited as automatic."""
        status = event.status
        if self.read_only or not (self.config.router and self.config.router.auto_rebalance) or not status.needs_repair:
            return
        if len(self.screen_stack) > 1:  # never over a wizard or a question: y there would answer it
            self.notify(f"{status.summary} on {status.service}: b on its Services row opens the rebalance",
                        severity="warning", timeout=15)
            return
        from ..flows.repair import plan_rebalance

        self.apply_change(partial(plan_rebalance, service=status.service, protocol=status.protocol, port=status.port),
                          "Rebalance")

    def on_wizard_screen_applied(self) -> None:
        """A bootstrap may have just written the kubeconfig the watch found missing: look again now
        rather than after the backoff (or never, for a missing kubeconfig)."""
        if self.state.components.get("kubernetes").health is not Health.CONNECTED:
            self.dashboard.start("kubernetes", afresh=True)

    # -- help, the command prompt, screenshots ----------------------------------------------------------

    def action_help(self) -> None:
        """The keys that work here, from the live bindings: the focused pane's, then the app's."""
        pane, mine, app_wide = self.active_pane, [], []
        for key, active in self.screen.active_bindings.items():
            binding = active.binding
            if binding.description:
                entry = (self.get_key_display(binding), binding.description + (
                    f": {binding.tooltip}" if binding.tooltip else ""))
                (mine if active.node is pane else app_wide).append(entry)
        self.push_screen(HelpScreen([(f"{pane.TITLE} pane", mine), ("Everywhere", app_wide)]))

    def action_command(self) -> None:
        commands = {command: pane.NAME for pane in PANES for command in (pane.NAME, *pane.COMMANDS)}
        commands.update(dict.fromkeys(("q", "quit"), "quit"))
        self.push_screen(CommandScreen(list(commands)),
                         lambda command: self.run_command(commands[command]) if command else None)

    def run_command(self, target: str) -> None:
        """What a `:` command names: a pane shown alone, or quit."""
        if target == "quit":
            self.exit()
        else:
            self.action_show(target)

    def deliver_screenshot(self, filename: str | None = None, path: str | None = None,
                           time_format: str | None = None) -> str | None:
        """Screenshots go to the data dir (Textual's default, ~/Downloads, is often missing), which
        is made first; Textual then says where the file went."""
        if path is None:
            SCREENSHOT_DIR.mkdir(parents=True, exist_ok=True)
            path = str(SCREENSHOT_DIR)
        return super().deliver_screenshot(filename, path, time_format)

    # -- changes from the panes ----------------------------------------------------------------------

    def apply_change(self, make_plan: Callable[[Config], Awaitable[Plan]], verb: str) -> None:
        """The one way a pane changes the lab (delete now; scale, restart, expose next): the plan,
        read against the live state, is shown with Cancel focused, then applied by the engine, which
        audits it. Under --read-only it is refused here, with a notice naming it."""
        self.run_worker(self._apply_change(make_plan, verb), group="change", exit_on_error=False,
                        description=verb.lower())

    async def _apply_change(self, make_plan: Callable[[Config], Awaitable[Plan]], verb: str) -> None:
        from ..executors import build_executors  # the clients and the engine load when a change is made
        from ..flows.staged import apply_staged
        from ..plans import Staged

        plan = await make_plan(self.config)
        if plan.is_noop:
            self.notify(f"nothing to do: {plan.steps[0].noop_reason}")
            return
        if self.read_only:
            self.notify(f"read-only: {plan.title} is shown, not applied", severity="warning")
            return
        if not await self.push_screen_wait(ConfirmScreen(plan, verb)):
            return
        executors = build_executors(self.config)
        try:
            [(_, result)] = await apply_staged(Staged((plan,)), executors, lambda plan: lambda event: None)
        finally:
            await executors.close()
        if result.ok:
            self.notify(f"{plan.title}: done")
        else:
            self.notify(f"{plan.title} failed: {result.error}", severity="error", timeout=15)

    @property
    def blocked_actions(self) -> frozenset[str]:
        return self.DANGEROUS_ACTIONS if self.read_only else frozenset()

    # -- a program in the terminal: a shell in a pod, SSH into a node ---------------------------

    def run_in_terminal(self, argv: list[str], what: str) -> None:
        """Suspend the app, run `argv` in the terminal, and come back to the panes (k9s's shell). A
        missing program (kubectl, ssh) is said in a notification naming it, never a crash."""
        if shutil.which(argv[0]) is None:
            self.notify(f"cannot {what}: {argv[0]} is not installed (not found on PATH)", severity="error",
                        timeout=15)
            return
        try:
            code = self.run_suspended(argv)
        except SuspendNotSupported:
            self.notify(f"cannot {what}: this terminal cannot hand itself over", severity="error")
            return
        if code not in (0, 130):  # 130: the user left with Ctrl+C
            self.notify(f"{what}: {argv[0]} exited with status {code}", severity="warning")

    def run_suspended(self, argv: list[str]) -> int:
        """`argv` run with the terminal handed over; its exit status. (Tests replace this one call.)"""
        with self.suspend():
            return subprocess.call(argv)

    # -- filter and namespace of the pane in front ----------------------------------------------

    def action_edit_filter(self) -> None:
        editor = self.query_one("#filter", Input)
        current = self.active_pane.filter
        editor.value = current.pattern if current else ""
        editor.add_class("editing")
        editor.focus()

    @on(Input.Submitted, "#filter")  # only the filter: other inputs (a sudo password!) are not filters
    def apply_filter(self, event: Input.Submitted) -> None:
        try:
            self._set_filter(event.value)
        except re.error as exc:
            self.notify(f"filter: not a regular expression: {exc}", severity="error")

    def action_clear_filter(self) -> None:
        self._set_filter("")

    def _set_filter(self, pattern: str) -> None:
        pane = self.active_pane
        pane.set_filter(pattern)
        self.query_one("#filter", Input).remove_class("editing")
        pane.focus()
        self._render_header()

    def action_pick_namespace(self) -> None:
        self.run_worker(self._pick_namespace(), group="namespaces", exclusive=True, exit_on_error=False,
                        description="list the namespaces")

    async def _pick_namespace(self) -> None:
        """The cluster's namespaces (kube-public and kube-node-lease too, which hold no pod), listed
        as the picker opens; while the API is away, those of the objects held."""
        from ..clients.kube import KubeClientError  # loaded by now: the watches imported it

        names = set(self.state.namespaces())
        if (client := self.dashboard.kube) is not None:
            try:
                items, _ = await client.list_raw("Namespace")
            except KubeClientError as error:
                self.notify(f"cannot list the namespaces: {describe_error(error)}", severity="warning")
            else:
                names.update(item["metadata"]["name"] for item in items)
        self.push_screen(NamespaceScreen(sorted(names), self.namespace), self.set_namespace)

    def set_namespace(self, namespace: str | None) -> None:
        """Show one namespace in the namespaced panes ("" for all); None leaves it as it is."""
        if namespace is not None:
            self.namespace = namespace
            self.dashboard.set_namespace(namespace)
            self._render_header()

    # -- header ---------------------------------------------------------------------------------

    def on_dashboard_changed(self) -> None:
        self._render_header()

    def _render_header(self) -> None:
        if not self.is_mounted:
            return
        try:
            header = self.query_one(StatusHeader)
        except NoMatches:  # a feed reporting while the app shuts down, its screen already gone
            return
        header.show(self.config, self.state, self.namespace, self.active_pane.filter)

    # -- one handler for every worker's failure --------------------------------------------------

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        """A worker failed. A feed (kubernetes, router, dns): say why in the header, keep the last
        rows (stale), retry with backoff (`Dashboard.failed`); a missing secret or kubeconfig does
        not fix itself, so it is reported and not retried. Any other worker (a look-up, a pane's
        change, a wizard's work, and whatever pane action comes next) did one thing the user asked
        for: a notification says what failed, by the worker's description, and the user retries."""
        if event.state is not WorkerState.ERROR or not self.is_running:
            return  # a worker caught by shutdown, with the panes already gone: nothing to report
        component, error = event.worker.group, event.worker.error
        if component not in FEEDS:
            self.notify(f"cannot {event.worker.description}: {describe_error(error)}", severity="error", timeout=15)
            return
        from ..clients.kube import KubeConfigError  # loaded by now: the failed feed imported it

        permanent = isinstance(error, (SecretError, KubeConfigError))
        bootstrap = next(wizard.key for wizard in WIZARDS if wizard.name == "bootstrap")
        reason = describe_error(error) + (f"; {bootstrap} bootstraps a cluster" if isinstance(error, KubeConfigError)
                                          else "")
        self.dashboard.failed(component, Health.ERROR if permanent else Health.RETRYING, reason)
