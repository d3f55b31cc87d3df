"""The modal screens: a row's detail, the keys (`?`), the command prompt (`:`), the namespace
picker, the confirmation of a change (its plan shown, Cancel focused), and what a wizard asks in:
trusting a new host key, a sudo password, one line of text."""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

from rich.syntax import Syntax
from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Button, Footer, Input, Label, OptionList, Static
from textual.widgets.option_list import Option

if TYPE_CHECKING:
    from ..plans import Plan

# How each kind of plan line (plans.listing) is styled.
LINE_STYLES = {"title": "bold", "warning": "bold yellow", "step": "", "command": "cyan", "noop-step": "dim", "noop": "dim"}


def plan_text(plans: Iterable[Plan]) -> Text:
    """The plans as the user checks them: what each step does and exactly how, or why not."""
    from ..plans import listing  # the plans load with the first plan shown, not at start

    text = Text()
    for kind, line in listing(plans):
        text.append(f"{line}\n" if kind == "title" else f" {line}\n", style=LINE_STYLES[kind])
    return text

ALL_NAMESPACES = ""  # the picker's answer for "all namespaces"
_ALL_OPTION = "*all*"  # not a valid namespace name, so it cannot clash


class DetailScreen(ModalScreen[None]):
    """One row in full: an object's YAML, or every field of a router rule or DNS check."""

    DEFAULT_CSS = """
    DetailScreen { align: center middle; }
    DetailScreen > Vertical { width: 90%; height: 90%; border: round $accent; background: $surface; }
    DetailScreen VerticalScroll { height: 1fr; padding: 0 1; }
    """
    AUTO_FOCUS = "VerticalScroll"
    BINDINGS = [Binding("escape,q,enter", "dismiss", "Close", id="close_detail")]

    def __init__(self, title: str, yaml_text: str) -> None:
        super().__init__()
        self.title_text = title
        self.yaml_text = yaml_text

    def compose(self) -> ComposeResult:
        with Vertical() as frame:
            frame.border_title = self.title_text
            with VerticalScroll():
                yield Static(Syntax(self.yaml_text, "yaml", theme="ansi_dark", background_color="default"),
                             id="detail-text")
        yield Footer()


class NamespaceScreen(ModalScreen[str | None]):
    """Pick the namespace the Pods and Services panes show; None when cancelled."""

    DEFAULT_CSS = """
    NamespaceScreen { align: center middle; }
    NamespaceScreen OptionList { width: 50; height: auto; max-height: 80%; border: round $accent; }
    """
    AUTO_FOCUS = "OptionList"
    BINDINGS = [Binding("escape", "dismiss(None)", "Cancel", id="cancel_namespace")]

    def __init__(self, namespaces: list[str], current: str) -> None:
        super().__init__()
        self.namespaces = namespaces
        self.current = current

    def compose(self) -> ComposeResult:
        options = [Option("all namespaces", id=_ALL_OPTION)] + [Option(ns, id=ns) for ns in self.namespaces]
        picker = OptionList(*options, id="namespaces")
        picker.border_title = "Namespace"
        yield picker

    def on_mount(self) -> None:
        picker = self.query_one(OptionList)
        picker.highlighted = picker.get_option_index(self.current or _ALL_OPTION)

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        self.dismiss(ALL_NAMESPACES if event.option.id == _ALL_OPTION else event.option.id)


class PickScreen(ModalScreen[str | None]):
    """One of a few choices (a pod's container); Enter picks, Esc cancels (None)."""

    DEFAULT_CSS = """
    PickScreen { align: center middle; }
    PickScreen OptionList { width: 60; height: auto; max-height: 80%; border: round $accent; }
    """
    AUTO_FOCUS = "OptionList"
    BINDINGS = [Binding("escape", "dismiss(None)", "Cancel", id="cancel_pick")]

    def __init__(self, title: str, choices: list[str]) -> None:
        super().__init__()
        self.title_text, self.choices = title, choices

    def compose(self) -> ComposeResult:
        picker = OptionList(*(Option(choice, id=choice) for choice in self.choices), id="choices")
        picker.border_title = self.title_text
        yield picker

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        self.dismiss(event.option.id)


class HelpScreen(ModalScreen[None]):
    """`?`: the keys that work where it was opened, by section (the pane's own, then the app's),
    each `(key, what it does)` as the live bindings have them."""

    DEFAULT_CSS = """
    HelpScreen { align: center middle; }
    HelpScreen > VerticalScroll { width: 80; height: auto; max-height: 90%; border: round $accent; padding: 0 1;
                                  background: $surface; }
    HelpScreen .section { text-style: bold; color: $accent; margin-top: 1; }
    """
    AUTO_FOCUS = "VerticalScroll"
    BINDINGS = [Binding("escape,question_mark,q", "dismiss", "Close", id="close_help")]

    def __init__(self, sections: list[tuple[str, list[tuple[str, str]]]]) -> None:
        super().__init__()
        self.sections = sections

    def compose(self) -> ComposeResult:
        with VerticalScroll() as frame:
            frame.border_title = "Keys"
            for title, keys in self.sections:
                yield Label(title, classes="section")
                table = Table.grid(padding=(0, 2))
                table.add_column(style="bold", no_wrap=True)
                table.add_column()
                for key, what in keys:
                    table.add_row(Text(key), Text(what))
                yield Static(table)
        yield Footer()


class CommandScreen(ModalScreen[str | None]):
    """`:` as in k9s: a command (`pods`, `po`, `svc`, ...) answered with its own name; Tab completes,
    Enter goes, Esc cancels (None). An unknown command is said so, and the prompt stays."""

    DEFAULT_CSS = """
    CommandScreen { align: center top; }
    CommandScreen > Vertical { width: 60; height: auto; margin-top: 3; border: round $accent; background: $surface; }
    CommandScreen Input, CommandScreen Input:focus { border: none; height: 1; padding: 0 1; }
    CommandScreen Label { padding: 0 1; height: auto; }
    CommandScreen #command-help { color: $text-muted; }
    CommandScreen #command-error { color: $error; }
    """
    AUTO_FOCUS = "Input"
    BINDINGS = [Binding("escape", "dismiss(None)", "Cancel", id="cancel_command"),
                Binding("tab", "complete", "Complete", id="complete_command")]

    def __init__(self, commands: list[str]) -> None:
        super().__init__()
        self.commands = commands  # the first of several with a prefix is what Tab completes to

    def compose(self) -> ComposeResult:
        from textual.suggester import SuggestFromList

        with Vertical() as frame:
            frame.border_title = ":command"
            yield Input(placeholder="pods, svc, nat ...", suggester=SuggestFromList(self.commands), id="command")
            yield Label(Text(" ".join(self.commands)), id="command-help")
            yield Label("", id="command-error")
        yield Footer()

    def action_complete(self) -> None:
        prompt = self.query_one(Input)
        typed = prompt.value.strip().lower()
        if matches := [command for command in self.commands if command.startswith(typed)]:
            prompt.value = matches[0]
            prompt.cursor_position = len(prompt.value)

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        command = event.value.strip().lstrip(":").lower()
        if command in self.commands:
            self.dismiss(command)
        elif command:
            self.query_one("#command-error", Label).update(f"unknown command: {command}")


class ConfirmScreen(ModalScreen[bool]):
    """Changes about to be applied: what they touch in one line (how many, where, each reboot),
    the plans exactly, and Cancel focused, so that Enter alone never applies them. True only when
    the apply button is pressed, or `y` (n cancels)."""

    DEFAULT_CSS = """
    ConfirmScreen { align: center middle; }
    ConfirmScreen > Vertical { width: 90; height: auto; max-height: 80%; border: round $error; padding: 1 2;
                               background: $surface; }
    ConfirmScreen #confirm-impact { text-style: bold; margin-bottom: 1; }
    ConfirmScreen VerticalScroll { height: auto; max-height: 20; }
    ConfirmScreen Horizontal { height: auto; margin-top: 1; }
    ConfirmScreen Button { margin-right: 2; }
    """
    AUTO_FOCUS = "#cancel"
    BINDINGS = [Binding("escape,n", "dismiss(False)", "Cancel", id="cancel_change"),
                Binding("y", "dismiss(True)", "Yes", id="confirm_change")]  # a deliberate yes, unlike Enter

    def __init__(self, plans: Plan | tuple[Plan, ...], verb: str, title: str = "") -> None:
        super().__init__()
        self.plans = plans if isinstance(plans, tuple) else (plans,)
        self.verb, self.title_text = verb, title or self.plans[0].title

    def compose(self) -> ComposeResult:
        from ..plans import impact

        changes = sum(len(plan.changes) for plan in self.plans)
        with Vertical() as frame:
            frame.border_title = f"{self.title_text}?"
            yield Static(Text(impact(self.plans)), id="confirm-impact")
            with VerticalScroll():
                yield Static(plan_text(self.plans), id="confirm-plan")
            with Horizontal():
                yield Button("Cancel", id="cancel")
                yield Button(f"{self.verb} ({changes} change{'s' * (changes != 1)})", variant="error", id="apply")
        yield Footer()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        event.stop()
        self.dismiss(event.button.id == "apply")


class TypeToConfirmScreen(ModalScreen[bool]):
    """The stronger confirmation of a change that cannot be taken back gently (a kill): what it
    does, and its button only once the object's name is typed. Cancel is focused; True only when
    the name was typed and the button pressed (or Enter given in the typed name)."""

    DEFAULT_CSS = """
    TypeToConfirmScreen { align: center middle; }
    TypeToConfirmScreen > Vertical { width: 80; height: auto; border: thick $error; padding: 1 2; background: $surface; }
    TypeToConfirmScreen Label { width: 1fr; }
    TypeToConfirmScreen Input { margin-top: 1; }
    TypeToConfirmScreen Horizontal { height: auto; margin-top: 1; }
    TypeToConfirmScreen Button { margin-right: 2; }
    """
    AUTO_FOCUS = "#cancel"
    BINDINGS = [Binding("escape", "dismiss(False)", "Cancel", id="cancel_typed")]

    def __init__(self, title: str, warning: str, expected: str, verb: str) -> None:
        super().__init__()
        self.title_text, self.warning, self.expected, self.verb = title, warning, expected, verb

    def compose(self) -> ComposeResult:
        with Vertical() as frame:
            frame.border_title = f"{self.title_text}?"
            yield Label(Text(self.warning), id="typed-warning")
            yield Label(Text.assemble("Type ", (self.expected, "bold"), f" to {self.verb.lower()} it:"))
            yield Input(placeholder=self.expected, id="typed-name")
            with Horizontal():
                yield Button("Cancel", id="cancel")
                yield Button(self.verb, variant="error", id="apply", disabled=True)
        yield Footer()

    def on_input_changed(self, event: Input.Changed) -> None:
        self.query_one("#apply", Button).disabled = event.value != self.expected

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        if event.value == self.expected:
            self.dismiss(True)

    def on_button_pressed(self, event: Button.Pressed) -> None:
        event.stop()
        self.dismiss(event.button.id == "apply")


class ScaleScreen(ModalScreen[int | None]):
    """How many replicas, prefilled with the live count; Enter answers a whole number of 0 or more,
    a bad value is named under the field and the dialog stays; Esc cancels (None)."""

    DEFAULT_CSS = """
    ScaleScreen { align: center middle; }
    ScaleScreen > Vertical { width: 60; height: auto; border: round $accent; padding: 1 2; background: $surface; }
    ScaleScreen Label { width: 1fr; }
    ScaleScreen #scale-error { color: $error; }
    """
    AUTO_FOCUS = "Input"
    BINDINGS = [Binding("escape", "dismiss(None)", "Cancel", id="cancel_scale")]

    def __init__(self, what: str, replicas: int) -> None:
        super().__init__()
        self.what, self.replicas = what, replicas

    def compose(self) -> ComposeResult:
        with Vertical() as frame:
            frame.border_title = f"Scale {self.what}"
            yield Label(f"replicas (now {self.replicas}):")
            yield Input(str(self.replicas), id="replicas")
            yield Label("", id="scale-error")
        yield Footer()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        text = event.value.strip()
        if text.isascii() and text.isdigit():
            self.dismiss(int(text))
        else:
            self.query_one("#scale-error", Label).update(
                Text(f"replicas: must be a whole number of 0 or more, not {text!r}"))


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
    AskScreen Label { width: 1fr; }
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
