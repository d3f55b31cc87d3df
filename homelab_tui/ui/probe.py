"""`p` on a Services row (or the palette's "Probe a Service"): the reachability probe's hops, in
order, read live in a worker (flows/probe.py, the CLI twin's reading), the first failing hop's fix
under them, and what the probe cannot see (the hairpin note). `r` reads again; `f`, on a failing
hop, opens the repair wizard on the Service; Esc closes. It changes nothing itself."""

from __future__ import annotations

from typing import TYPE_CHECKING

from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.screen import Screen
from textual.widgets import Footer, Static

from ..config import Config
from ..plans import PlanError
from ..plans.routeros import parse_marker
from ..plans.verdicts.probe import CLUSTER_DNS, FAIL, NOT_CHECKED, PASS, Hop, ProbeAnswers, ProbeFacts, Verdict, our_rules
from ..state import describe_error
from .modals import PickScreen

if TYPE_CHECKING:
    from .app import HomelabApp

REPAIR = "repair"  # the wizard `f` opens
MARKS = {PASS: "✓", FAIL: "✗", NOT_CHECKED: "?"}  # a skipped hop: "-"


class ProbeScreen(Screen[None]):
    """The probe of one Service (`namespace/name`), read as the screen opens and on `r`."""

    DEFAULT_CSS = """
    ProbeScreen #probe-title { padding: 0 1; height: auto; }
    ProbeScreen #probe-status { padding: 0 1; height: auto; }
    ProbeScreen #probe-view { height: 1fr; border: round $panel-lighten-2; padding: 0 1; }
    ProbeScreen #probe-fix { height: auto; margin-top: 1; }
    ProbeScreen #probe-note { height: auto; margin-top: 1; color: $text-muted; }
    """
    BINDINGS = [Binding("r", "run", "Run again", id="probe_again", tooltip="Read the lab and judge every hop again"),
                Binding("f", "fix", "Fix", id="probe_fix", tooltip="Open the repair plan of the failing hop"),
                Binding("escape", "close", "Close", id="probe_close")]

    def __init__(self, config: Config, service: str) -> None:
        super().__init__()
        self.config, self.service = config, service
        self.verdict: Verdict | None = None
        self.public_port = 0  # our rules' public port, when they have one

    def compose(self) -> ComposeResult:
        yield Static(f"[b]Probe[/] {self.service} · r runs it again, Esc closes", id="probe-title")
        yield Static(id="probe-status")
        with VerticalScroll(id="probe-view"):
            yield Static(id="probe-hops")
            yield Static(id="probe-fix")
            yield Static(id="probe-note")
        yield Footer()

    def on_mount(self) -> None:
        self.action_run()

    def action_close(self) -> None:
        self.dismiss()

    def action_run(self) -> None:
        self.run_worker(self._read(), group="probe", exclusive=True, exit_on_error=False,  # ends with the screen
                        description=f"probe {self.service}")

    async def _read(self) -> None:
        from ..flows.probe import probe  # the clients load when a probe runs, not with the app

        self._show(None, Text("reading the router, the zone, the cluster and the nodes…", style="dim"))
        answers = ProbeAnswers(self.service)
        try:
            facts, verdict = await probe(self.config, answers)
        except PlanError as error:  # the router, the zone or the cluster cannot be read, or no such Service
            said = "\n".join(f"{field}: {message}" for field, message in error.errors)
            self._show(None, Text(said, style="bold red"))
            return
        except Exception as error:  # a missing secret, a wire that broke: said here, the screen stays usable
            self._show(None, Text(f"cannot probe {self.service}: {describe_error(error)}", style="bold red"))
            return
        self.public_port = _public_port(answers, facts)
        self._show(verdict, Text(""))

    def _show(self, verdict: Verdict | None, status: Text) -> None:
        self.verdict = verdict
        self.query_one("#probe-status", Static).update(status)
        self.query_one("#probe-hops", Static).update(hop_table(verdict, self.app.current_theme) if verdict else "")
        failed = verdict.failed if verdict else None
        fix = Text()
        if failed is not None:
            fix.append(f"✗ {failed.name} fails. ", style="bold")
            fix.append(f"To do: {failed.fix}")  # Text: a rule's marker is never read as markup
            if _fixable(failed):
                fix.append(f"\nf opens the {_fixer(failed).replace('_', ' ')} plan", style="bold")
        self.query_one("#probe-fix", Static).update(fix)
        self.query_one("#probe-note", Static).update(Text(verdict.note) if verdict else "")
        self.refresh_bindings()  # `f` is offered only on a failing hop

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "fix":
            return self.verdict is not None and _fixable(self.verdict.failed)
        return True

    def action_fix(self) -> None:
        if self.verdict is None or self.verdict.failed is None or not _fixable(self.verdict.failed):
            return
        if (wizard := _fixer(self.verdict.failed)) == REPAIR:
            self.app.open_wizard(REPAIR, {"service": self.service, "port": str(self.public_port or "")})
        else:
            self.app.open_wizard(wizard, {})


def open_probe(app: HomelabApp, service: str) -> None:
    """The probe screen of `service` ("ns/name"), else of a Service picked from those held."""
    if service:
        app.push_screen(ProbeScreen(app.config, service))
    else:
        app.push_screen(PickScreen("Probe which Service?", sorted(app.state.kube.of("Service"))),
                        lambda picked: open_probe(app, picked) if picked else None)


def _fixable(failed: Hop | None) -> bool:
    """Whether a plan fixes the hop: the repair plan where its fix names it, the DNS gateway's."""
    return failed is not None and (failed.name == CLUSTER_DNS or "homelab-tui repair" in failed.fix)


def _fixer(failed: Hop) -> str:
    """The wizard whose plan fixes a failing hop: the DNS gateway's for its own check, else repair."""
    return "dns_gateway" if failed.name == CLUSTER_DNS else REPAIR


def hop_table(verdict: Verdict, theme) -> Table:
    """The hops in order: each with its mark and verdict coloured from the theme, and its detail."""
    styles = {PASS: theme.success or "green", FAIL: f"bold {theme.error or 'red'}",
              NOT_CHECKED: theme.warning or "yellow"}
    table = Table(expand=True, box=None, padding=(0, 1), pad_edge=False, header_style="bold")
    table.add_column("HOP", no_wrap=True)
    table.add_column("VERDICT", no_wrap=True)
    table.add_column("DETAIL", ratio=1)
    for hop in verdict.hops:
        style = styles.get(hop.verdict, "dim")
        table.add_row(Text(hop.name, style="bold" if hop.verdict == FAIL else ""),
                      Text(f"{MARKS.get(hop.verdict, '-')} {hop.verdict.upper()}", style=style),
                      Text(hop.detail, style="dim" if style == "dim" else ""))
    return table


def _public_port(answers: ProbeAnswers, facts: ProbeFacts) -> int:
    """The public port of our rules for the Service, when there is one port (0: none, or several)."""
    ports = {marker.port for _, _, item in our_rules(answers, facts.router)
             if (marker := parse_marker(item["comment"])) is not None}
    return ports.pop() if len(ports) == 1 else 0
