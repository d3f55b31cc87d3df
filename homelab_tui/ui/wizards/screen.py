"""The wizard screen, one for every wizard of the registry: its form (made from the wizard's
request), the exact plan (F2), then the apply's progress (F3), and the plan saved as a script
(F4). The flows are the same ones the CLI twins run. The work runs in App workers, so closing
the screen does not cancel an apply; an unknown host key or a sudo password is asked for in a
modal, from inside those workers."""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.message import Message
from textual.screen import Screen
from textual.widgets import Footer, Label, Log, ProgressBar, Static, TabbedContent, TabPane

from ...config import Config
from ...engine import ApplyResult, StepDone, StepOutput, event_line
from ...export import export_staged
from ...flows import WIZARDS
from ...flows.staged import apply_staged
from ...flows.wizard import request_from
from ...plans import Plan, PlanError, Staged
from ..modals import AskScreen, ConfirmScreen, SudoPasswordScreen, TrustHostKeyScreen, plan_text
from .form import WizardForm

if TYPE_CHECKING:  # the executors and their clients load when a plan is made, not with the screen
    from ...clients.ssh import HostKeyUnknown
    from ...executors import Executors


class PlanProgress(Horizontal):
    """One plan's row during an apply: its title, a bar of the steps that change something, then
    how it ended."""

    def __init__(self, plan: Plan) -> None:
        super().__init__()
        self.plan = plan

    def compose(self) -> ComposeResult:
        yield Label(self.plan.title, classes="bar-label")
        yield ProgressBar(total=len(self.plan.changes), show_eta=False, id="steps")
        yield ProgressBar(show_eta=False, show_percentage=False, id="rollout")
        yield Label(classes="rollout-status")
        yield Label(classes="outcome")

    def advance(self) -> None:
        self.query_one("#steps", ProgressBar).advance(1)

    def rollout(self, done: int, total: int, message: str) -> None:
        """A rollout's progress, in kubectl's words beside its own bar."""
        bar = self.query_one("#rollout", ProgressBar)
        bar.display = True
        bar.update(total=total, progress=done)
        self.query_one(".rollout-status", Label).update(Text(message))

    def finish(self, result: ApplyResult | None) -> None:
        """✓; or ✗ with the step that failed and why (the error is masked); or not run at all."""
        if result is None:
            outcome, text = "-not-run", "not run: an earlier plan failed"
        elif result.ok:
            outcome, text = "-ok", "✓ done"
        else:
            step = self.plan.steps[result.failed_index]
            outcome, text = "-failed", f"✗ {result.failed_index + 1}. {step.description}: {result.error}"
        self.add_class(outcome)
        self.query_one(".rollout-status", Label).display = False  # the outcome says how it ended
        self.query_one(".outcome", Label).update(Text(text))  # Text: an error is never read as markup


class WizardScreen(Screen[None]):
    """The wizard of the registry named `name`. F2 makes the plan, F3 applies it (making it first
    when there is none: the confirmation shows it whole)."""

    class Applied(Message):
        """A plan was applied, wholly or in part: the cluster may have a kubeconfig or nodes now."""

    DEFAULT_CSS = """
    WizardScreen #error { padding: 0 1; height: auto; }
    WizardScreen #plan-view { height: 1fr; border: round $panel-lighten-2; padding: 0 1; }
    WizardScreen #progress { height: auto; max-height: 8; overflow-y: auto; }
    WizardScreen PlanProgress { height: auto; }
    WizardScreen PlanProgress #rollout { display: none; width: 20; }
    WizardScreen PlanProgress .rollout-status { width: 1fr; padding: 0 1; color: $text-muted; }
    WizardScreen .bar-label { width: 36; padding: 0 1; }
    WizardScreen .outcome { width: 1fr; padding: 0 1; }
    WizardScreen .-ok .outcome { color: $success; }
    WizardScreen .-failed .outcome { color: $error; }
    WizardScreen .-failed Bar > .bar--bar { color: $error; }
    WizardScreen .-not-run .outcome { color: $text-muted; }
    WizardScreen #logs { height: 14; display: none; }
    WizardScreen.-applied #logs { display: block; }
    WizardScreen .plan-log { height: 1fr; border: round $panel-lighten-2; }
    """
    AUTO_FOCUS = "WizardForm Input, WizardForm Select, WizardForm SelectionList, WizardForm Checkbox"  # the first
    BINDINGS = [Binding("f2", "plan", "Plan", id="wizard_plan"),
                Binding("f3", "apply", "Apply", id="wizard_apply"),
                Binding("f4", "export", "Export", id="wizard_export"),
                Binding("escape", "close", "Close", id="wizard_close")]

    def __init__(self, name: str, config: Config, *, in_cluster: set[str], read_only: bool = False,
                 given: dict[str, str] | None = None) -> None:
        super().__init__()
        self.given = given or {}  # answers to start with, from the row the wizard was opened on
        self.wizard = next(wizard for wizard in WIZARDS if wizard.name == name)
        self.config, self.in_cluster, self.read_only = config, frozenset(in_cluster), read_only
        self.staged: Staged | None = None
        self.executors: Executors | None = None
        self.applying = False
        self.planning = False
        self._one_modal = asyncio.Lock()

    def compose(self) -> ComposeResult:
        yield Static(f"[b]{self.wizard.name.capitalize()}[/] · F2 makes the plan, F3 applies it"
                     + ("  [b](read-only)[/]" if self.read_only else ""), id="wizard-title")
        yield WizardForm(self.wizard, self.config, self.in_cluster, self.given)
        yield Static(id="error")
        with VerticalScroll(id="plan-view"):
            yield Static(Text("F2 reads the nodes and shows the exact plan here.", style="dim"), id="plan")
        yield Vertical(id="progress")
        yield TabbedContent(id="logs")
        yield Footer()

    # -- plan ------------------------------------------------------------------------------------

    def action_plan(self) -> None:
        if self.applying:
            self.notify("an apply is running", severity="warning")
            return
        self.app.run_worker(self._make_plan(), group="wizard", exclusive=True, exit_on_error=False,
                            description=f"plan {self.wizard.name}")

    async def _make_plan(self) -> None:
        self.staged = None  # F3 never applies an older plan while, or after, this one is made
        self.planning = True
        try:
            await self._read_plan()
        finally:
            self.planning = False

    async def _read_plan(self) -> None:
        self.query_one("#error", Static).update("")
        self.query_one("#plan", Static).update("reading the nodes…")
        # A new plan replaces the last apply's rows and logs (they described another plan).
        await self.query_one("#logs", TabbedContent).clear_panes()
        await self.query_one("#progress").remove_children()
        self.remove_class("-applied")
        if self.executors is not None:
            await self.executors.close()
        from ...executors import build_executors

        self.executors = build_executors(self.config, sudo_password=self._ask_sudo, trust_host_key=self._ask_trust)
        try:
            request = request_from(self.wizard.request, self.query_one(WizardForm).answers())
            self.staged = await self.wizard.flow(self.config, request, self.executors,
                                                 lambda text: self.notify(text, severity="warning"))
        except PlanError as exc:  # bad answers: say which, each by the label the form shows, and keep the form
            self.staged = None
            self.query_one("#plan", Static).update("")
            labels = self.query_one(WizardForm).labels()
            self.query_one("#error", Static).update(Text("\n".join(
                f"{labels.get(field, field)}: {message}" for field, message in exc.errors), style="bold red"))
            return
        changes = self.staged.changes
        self.query_one("#plan", Static).update(plan_text(self.staged.plans))
        self.query_one("#error", Static).update(
            "nothing to do: every step is a no-op" if not changes else f"{changes} step(s) will change something")

    async def _ask_trust(self, unknown: HostKeyUnknown) -> bool:
        async with self._one_modal:
            return await self.app.push_screen_wait(TrustHostKeyScreen(unknown.host, unknown.fingerprint))

    async def _ask_sudo(self, host: str) -> str | None:
        async with self._one_modal:  # the nodes of a join ask at once: one modal at a time, each naming its node
            return await self.app.push_screen_wait(SudoPasswordScreen(host))

    # -- apply -----------------------------------------------------------------------------------

    def action_apply(self) -> None:
        if self.read_only:
            self.notify("read-only: plans are shown, not applied", severity="warning")
        elif self.planning:
            self.notify("the plan is being made", severity="warning")
        elif self.staged is None or self.executors is None:  # F3 alone: the plan, then the confirmation showing it
            self.applying = True
            self.app.run_worker(self._plan_then_confirm(), group="wizard", exit_on_error=False,
                                description=f"plan and apply {self.wizard.name}")
        elif not self.staged.changes:
            self.notify("nothing to do")
        elif not self.applying:
            self.applying = True
            self.app.run_worker(self._confirm_then_apply(self.staged, self.executors), group="wizard",
                                exit_on_error=False, description=f"apply {self.wizard.name}")

    async def _plan_then_confirm(self) -> None:
        try:
            await self._make_plan()
        finally:
            self.applying = False
        if self.staged is not None and self.executors is not None:  # else the form says what is wrong
            self.action_apply()

    async def _confirm_then_apply(self, staged: Staged, executors: Executors) -> None:
        """F3 asks first: what the plans change, where, and each reboot, with Cancel focused."""
        if not await self.app.push_screen_wait(ConfirmScreen(staged.plans, "Apply", self.wizard.title)):
            self.applying = False
            self.notify("cancelled: nothing was applied")
            return
        await self._apply(staged, executors)

    async def _apply(self, staged: Staged, executors: Executors) -> None:
        """Each plan that changes something gets a progress row and a log tab of its own (a join
        runs its nodes at once, and interleaved output would be unreadable); at the end its row
        says how it ended, so every failed node is reported, and F2 then F3 retries them."""
        from ...executors.rollout import rollout_progress  # loaded with the executors, for an apply

        logs = self.query_one("#logs", TabbedContent)
        progress = self.query_one("#progress")
        self.add_class("-applied")  # the logs take room from the plan from now on
        rows: dict[str, PlanProgress] = {}
        plan_logs: dict[str, Log] = {}
        for index, plan in enumerate(staged.plans):
            if plan.changes:
                rows[plan.title] = PlanProgress(plan)
                plan_logs[plan.title] = Log(max_lines=2000, classes="plan-log")
                await logs.add_pane(TabPane(plan.title, plan_logs[plan.title], id=f"log-{index}"))
        await progress.mount_all(rows.values())

        def on_event(plan: Plan):
            log = plan_logs.get(plan.title)

            def report(event: object) -> None:
                if log is None:
                    return
                if isinstance(event, StepDone):
                    rows[plan.title].advance()
                elif (line := event_line(event)) is not None:
                    log.write_line(line)
                    if isinstance(event, StepOutput) and (progress := rollout_progress(event.line)):
                        rows[plan.title].rollout(*progress, event.line)
            return report

        try:
            outcomes = await apply_staged(staged, executors, on_event)
            results = {plan.title: result for plan, result in outcomes}
            for title, row in rows.items():  # said before the apply counts as over
                row.finish(results.get(title))
        finally:
            self.applying = False
            await executors.close()
            self.executors = None
        self.post_message(self.Applied())
        failed = [plan.title for plan, result in outcomes if not result.ok]
        if failed:
            log = plan_logs[failed[0]]
            logs.active = log.parent.id  # the first failure's log in front, at its end
            log.scroll_end(animate=False)
            self.notify(f"failed: {', '.join(failed)}; the rest is done. F2 then F3 retries.", severity="error",
                        timeout=10)
        else:
            self.notify(f"{self.wizard.name}: done")
        self.staged = None

    @work(group="wizard-export", exit_on_error=False, description="export the plan")
    async def action_export(self) -> None:
        """Save the plan as a script to run by hand (.sh; .rsc and .yaml for router and Kubernetes
        steps), at a path asked for in a modal."""
        staged = self.staged
        if staged is None:
            self.notify("make the plan first (F2)", severity="warning")
            return
        path = await self.app.push_screen_wait(AskScreen(
            "Save the plan's SSH steps as a script (.sh; .rsc and .yaml take router and Kubernetes steps):",
            value=f"homelab-{self.wizard.name}-plan.sh"))
        if path is None:
            return
        try:
            saved = export_staged(staged, self.config, path)
        except PlanError as exc:
            self.notify(exc.message, title="cannot export", severity="error")
            return
        self.notify(f"saved to {saved.resolve()}")

    def action_close(self) -> None:
        if self.executors is not None and not self.applying:
            self.app.run_worker(self.executors.close(), group="wizard-close", exit_on_error=False,
                                description="close the SSH sessions")
        self.app.pop_screen()
