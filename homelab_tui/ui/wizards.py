"""The bootstrap and join wizards: answers, the exact plan, then the apply's progress, on one
screen. The flows (flows.py) are the same ones the CLI twins run. The work runs in App workers,
so closing the screen does not cancel an apply; an unknown host key or a sudo password is asked
for in a modal, from inside those workers."""

from __future__ import annotations

import shlex

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.message import Message
from textual.screen import ModalScreen, Screen
from textual.widgets import (Checkbox, Footer, Input, Label, Log, ProgressBar, Select, SelectionList, Static,
                             TabbedContent, TabPane)

from ..clients.ssh import HostKeyUnknown
from ..config import Config
from ..engine import ApplyResult, StepDone, event_line
from ..executors import SshExecutor
from ..flows import Staged, apply_staged, bootstrap_flow, export_staged, join_flow
from ..plans import Plan, PlanError, Target, shown
from ..plans.bootstrap import K3S_DISABLE, k3s_release
from ..plans.nodes import KUBERNETES_MINOR


class TrustHostKeyScreen(ModalScreen[bool]):
    """Trust on first use, only after the fingerprint was shown and the answer was yes."""

    DEFAULT_CSS = """
    TrustHostKeyScreen { align: center middle; }
    TrustHostKeyScreen > Vertical { width: 80; height: auto; border: round $warning; padding: 1 2; background: $surface; }
    TrustHostKeyScreen Label { width: 1fr; }
    """
    BINDINGS = [Binding("y", "dismiss(True)", "Trust it", id="trust_key"),
                Binding("n,escape", "dismiss(False)", "Refuse", id="refuse_key")]

    def __init__(self, host: str, fingerprint: str) -> None:
        super().__init__()
        self.host, self.fingerprint = host, fingerprint

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Label(f"[b]{self.host}[/] presented a host key that known_hosts does not have:")
            yield Label(f"\n  [b]{self.fingerprint}[/]\n", id="fingerprint")
            yield Label("Compare it with `ssh-keygen -lf /etc/ssh/ssh_host_ed25519_key.pub` on the node. "
                        "Trust it and add it to known_hosts? [b]y[/] / [b]n[/]")
        yield Footer()


class AskScreen(ModalScreen[str | None]):
    """One line asked in a modal; Enter answers, Esc cancels (None). The answer goes to the caller
    and nowhere else: the submit stops here, so the app never takes a password for a filter."""

    DEFAULT_CSS = """
    AskScreen { align: center middle; }
    AskScreen > Vertical { width: 72; height: auto; border: round $accent; padding: 1 2; background: $surface; }
    """
    AUTO_FOCUS = "Input"
    BINDINGS = [Binding("escape", "dismiss(None)", "Cancel", id="cancel_ask")]

    def __init__(self, prompt: str, *, value: str = "", password: bool = False) -> None:
        super().__init__()
        self.prompt, self.value, self.password = prompt, value, password

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Label(self.prompt)
            yield Input(self.value, password=self.password)
        yield Footer()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        self.dismiss(event.value or None)


class SudoPasswordScreen(AskScreen):
    """The sudo password of one host, asked once; it lives only in memory."""

    def __init__(self, host: str) -> None:
        super().__init__(f"sudo on [b]{host}[/] needs a password:", password=True)
        self.host = host


def plan_text(plans: tuple[Plan, ...]) -> Text:
    """The plans as the user checks them: what each step does and exactly how, or why not."""
    text = Text()
    for plan in plans:
        text.append(f"{plan.title}\n", style="bold")
        for number, step in enumerate(plan.steps, 1):
            where = step.host if step.target is Target.SSH else step.target.value
            dim = "dim" if step.is_noop else ""
            text.append(f" {number:>2}. [{where}] {step.description}\n", style=dim)
            text.append(f"     {'no-op: ' + step.noop_reason if step.is_noop else '$ ' + shown(step.rendering)}\n",
                        style="dim" if step.is_noop else "cyan")
    return text


class PlanProgress(Horizontal):
    """One plan's row during an apply: its title, a bar of the steps that change something, then
    how it ended."""

    def __init__(self, plan: Plan) -> None:
        super().__init__()
        self.plan = plan

    def compose(self) -> ComposeResult:
        yield Label(self.plan.title, classes="bar-label")
        yield ProgressBar(total=len(self.plan.changes), show_eta=False)
        yield Label(classes="outcome")

    def advance(self) -> None:
        self.query_one(ProgressBar).advance(1)

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
        self.query_one(".outcome", Label).update(Text(text))  # Text: an error is never read as markup


class WizardScreen(Screen[None]):
    """`kind` is "bootstrap" or "join". F2 makes the plan, F3 applies it."""

    class Applied(Message):
        """A plan was applied, wholly or in part: the cluster may have a kubeconfig or nodes now."""

    DEFAULT_CSS = """
    WizardScreen #form { height: auto; padding: 0 1; }
    WizardScreen #form Horizontal { height: auto; }
    WizardScreen #form Horizontal > Label { padding: 0 1 0 0; width: 16; }
    WizardScreen #form Input, WizardScreen #form Select { width: 1fr; }
    WizardScreen #form Checkbox { margin: 0 2 0 0; }
    WizardScreen #form.-kubeadm .k3s-only, WizardScreen #form .kubeadm-only { display: none; }
    WizardScreen #form.-kubeadm .kubeadm-only { display: block; }
    WizardScreen SelectionList { height: auto; max-height: 8; }
    WizardScreen #error { padding: 0 1; height: auto; }
    WizardScreen #plan-view { height: 1fr; border: round $panel-lighten-2; padding: 0 1; }
    WizardScreen #progress { height: auto; max-height: 8; overflow-y: auto; }
    WizardScreen PlanProgress { height: auto; }
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
    BINDINGS = [Binding("f2", "plan", "Plan", id="wizard_plan"),
                Binding("f3", "apply", "Apply", id="wizard_apply"),
                Binding("f4", "export", "Export", id="wizard_export"),
                Binding("escape", "close", "Close", id="wizard_close")]

    def __init__(self, kind: str, config: Config, *, in_cluster: set[str], read_only: bool = False) -> None:
        super().__init__()
        self.kind, self.config, self.in_cluster, self.read_only = kind, config, in_cluster, read_only
        self.staged: Staged | None = None
        self.ssh: SshExecutor | None = None
        self.applying = False

    def compose(self) -> ComposeResult:
        yield Static(f"[b]{self.kind.capitalize()}[/] · F2 makes the plan, F3 applies it"
                     + ("  [b](read-only)[/]" if self.read_only else ""), id="wizard-title")
        kubeadm = self.kind == "bootstrap" and self.config.cluster.distribution == "kubeadm"
        with Vertical(id="form", classes="-kubeadm" if kubeadm else ""):
            yield from self._form()
        yield Static(id="error")
        with VerticalScroll(id="plan-view"):
            yield Static(Text("F2 reads the nodes and shows the exact plan here.", style="dim"), id="plan")
        yield Vertical(id="progress")
        yield TabbedContent(id="logs")
        yield Footer()

    def _form(self) -> ComposeResult:
        cluster = self.config.cluster
        if self.kind == "bootstrap":
            servers = sorted(self.config.nodes, key=lambda n: n.role != "server")
            with Horizontal():
                yield Label("node")
                yield Select([(n.name, n.name) for n in servers], value=servers[0].name, allow_blank=False,
                             compact=True, id="node")
            with Horizontal():
                yield Label("distribution")
                yield Select([("k3s", "k3s"), ("kubeadm", "kubeadm")], value=cluster.distribution,
                             allow_blank=False, compact=True, id="distribution")
            for field, value, placeholder, classes in (
                    ("pod CIDR", cluster.pod_cidr, "", ""), ("service CIDR", cluster.service_cidr, "", ""),
                    ("tls-san", "", "extra API certificate names, comma-separated", ""),
                    ("k3s release", "", "stable (default) · latest · v1.31 · v1.31.4+k3s1", "k3s-only"),
                    ("kubernetes", "", f"the minor version to install: {KUBERNETES_MINOR} (default)",
                     "kubeadm-only"),
                    ("extra args", "", "for k3s server or kubeadm init, e.g. --node-taint=...", "")):
                with Horizontal(classes=classes):
                    yield Label(field)
                    yield Input(value, placeholder=placeholder, compact=True, id=field.replace(" ", "-").lower())
            with Horizontal(classes="k3s-only"):
                yield Label("disable")
                for component in K3S_DISABLE:
                    yield Checkbox(component, compact=True, id=f"disable-{component}")
        else:
            joinable = [n for n in self.config.nodes if n.role != "server" and n.fqdn not in self.in_cluster]
            yield Label("nodes to join (space toggles)")
            yield SelectionList(*((f"{n.name} ({n.address})", n.name, True) for n in joinable), id="nodes")

    # -- plan ------------------------------------------------------------------------------------

    def action_plan(self) -> None:
        if self.applying:
            self.notify("an apply is running", severity="warning")
            return
        self.app.run_worker(self._make_plan(), group="wizard", exclusive=True, exit_on_error=False,
                            description=f"plan {self.kind}")

    async def _make_plan(self) -> None:
        self.query_one("#error", Static).update("")
        self.query_one("#plan", Static).update("reading the nodes…")
        # A new plan replaces the last apply's rows and logs (they described another plan).
        await self.query_one("#logs", TabbedContent).clear_panes()
        await self.query_one("#progress").remove_children()
        self.remove_class("-applied")
        if self.ssh is not None:
            await self.ssh.close()
        self.ssh = SshExecutor(self.config, sudo_password=self._ask_sudo, trust_host_key=self._ask_trust)
        try:
            if self.kind == "bootstrap":
                self.staged = await bootstrap_flow(self.config, self.ssh, **self._bootstrap_answers(),
                                                   note=lambda text: self.notify(text, severity="warning"))
            else:
                self.staged = await join_flow(self.config, self.ssh, nodes=self.query_one(SelectionList).selected)
        except PlanError as exc:  # a bad answer: say which, keep the form
            self.staged = None
            self.query_one("#plan", Static).update("")
            self.query_one("#error", Static).update(Text(f"{exc.field}: {exc.message}", style="bold red"))
            return
        changes = self.staged.changes
        self.query_one("#plan", Static).update(plan_text(self.staged.plans))
        self.query_one("#error", Static).update(
            "nothing to do: every step is a no-op" if not changes else f"{changes} step(s) will change something")

    def _bootstrap_answers(self) -> dict[str, object]:
        def text(field: str) -> str:
            return self.query_one(f"#{field}", Input).value.strip()

        kubeadm = self.query_one("#distribution", Select).value == "kubeadm"
        try:
            extra_args = tuple(shlex.split(text("extra-args")))
        except ValueError as exc:
            raise PlanError("extra args", f"expected arguments as a shell would split them ({exc})") from None
        version, channel = ("", "") if kubeadm else k3s_release(text("k3s-release"))
        return dict(node=self.query_one("#node", Select).value, distribution="kubeadm" if kubeadm else "k3s",
                    pod_cidr=text("pod-cidr"), service_cidr=text("service-cidr"),
                    tls_sans=tuple(name.strip() for name in text("tls-san").split(",") if name.strip()),
                    k3s_version=version, k3s_channel=channel, extra_args=extra_args,
                    kubernetes_version=text("kubernetes") if kubeadm else "",
                    disable=() if kubeadm else tuple(c for c in K3S_DISABLE if self.query_one(f"#disable-{c}",
                                                                                              Checkbox).value))

    @on(Select.Changed, "#distribution")
    def _show_distribution_fields(self, event: Select.Changed) -> None:
        self.query_one("#form").set_class(event.value == "kubeadm", "-kubeadm")

    async def _ask_trust(self, unknown: HostKeyUnknown) -> bool:
        return await self.app.push_screen_wait(TrustHostKeyScreen(unknown.host, unknown.fingerprint))

    async def _ask_sudo(self, host: str) -> str | None:
        return await self.app.push_screen_wait(SudoPasswordScreen(host))

    # -- apply -----------------------------------------------------------------------------------

    def action_apply(self) -> None:
        if self.read_only:
            self.notify("read-only: plans are shown, not applied", severity="warning")
        elif self.staged is None or self.ssh is None:
            self.notify("make the plan first (F2)", severity="warning")
        elif not self.staged.changes:
            self.notify("nothing to do")
        elif not self.applying:
            self.applying = True
            self.app.run_worker(self._apply(self.staged, self.ssh), group="wizard", exit_on_error=False,
                                description=f"apply {self.kind}")

    async def _apply(self, staged: Staged, ssh: SshExecutor) -> None:
        """Each plan that changes something gets a progress row and a log tab of its own (a join
        runs its nodes at once, and interleaved output would be unreadable); at the end its row
        says how it ended, so every failed node is reported, and F2 then F3 retries them."""
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
            return report

        try:
            outcomes = await apply_staged(staged, self.config, ssh, on_event)
        finally:
            self.applying = False
            await ssh.close()
            self.ssh = None
        self.post_message(self.Applied())
        results = {plan.title: result for plan, result in outcomes}
        for title, row in rows.items():
            row.finish(results.get(title))
        failed = [plan.title for plan, result in outcomes if not result.ok]
        if failed:
            log = plan_logs[failed[0]]
            logs.active = log.parent.id  # the first failure's log in front, at its end
            log.scroll_end(animate=False)
            self.notify(f"failed: {', '.join(failed)}; the rest is done. F2 then F3 retries.", severity="error",
                        timeout=10)
        else:
            self.notify(f"{self.kind}: done")
        self.staged = None

    @work(group="wizard-export", exit_on_error=False)
    async def action_export(self) -> None:
        """Save the plan as a script to run by hand (.sh; .rsc and .yaml for router and Kubernetes
        steps), at a path asked for in a modal."""
        staged = self.staged
        if staged is None:
            self.notify("make the plan first (F2)", severity="warning")
            return
        path = await self.app.push_screen_wait(AskScreen(
            "Save the plan's SSH steps as a script (.sh; .rsc and .yaml take router and Kubernetes steps):",
            value=f"homelab-{self.kind}-plan.sh"))
        if path is None:
            return
        try:
            saved = export_staged(staged, self.config, path)
        except PlanError as exc:
            self.notify(exc.message, title="cannot export", severity="error")
            return
        self.notify(f"saved to {saved.resolve()}")

    def action_close(self) -> None:
        if self.ssh is not None and not self.applying:
            self.app.run_worker(self.ssh.close(), group="wizard-close", exit_on_error=False)
        self.app.pop_screen()
