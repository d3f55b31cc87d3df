"""The modals a wizard asks in: trusting a new host key, a sudo password, one line of text."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Footer, Input, Label


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
