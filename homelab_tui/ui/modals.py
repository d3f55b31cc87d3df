"""Modal screens of the live view: a row's detail, and the namespace picker. (The wizards' modals
are in wizards.py.)"""

from __future__ import annotations

from rich.syntax import Syntax
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Footer, OptionList, Static
from textual.widgets.option_list import Option

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
