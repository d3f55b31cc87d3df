"""The command palette, and the wizards' keys: both made from the registry, `flows.WIZARDS`, so a
new wizard gets its key and its palette entry without an edit here. Each opens with
`HomelabApp.action_wizard(name)`."""

from __future__ import annotations

from collections.abc import Iterator
from functools import partial

from textual.app import App, SystemCommand
from textual.binding import Binding
from textual.command import DiscoveryHit, Hits
from textual.system_commands import SystemCommandsProvider

from ..flows import WIZARDS
from .panes import PANES


def wizard_bindings() -> list[Binding]:
    return [Binding(wizard.key, f"wizard('{wizard.name}')", wizard.key_label, id=wizard.name,
                    tooltip=wizard.summary) for wizard in WIZARDS if wizard.key]


def palette_commands(app: App) -> Iterator[SystemCommand]:
    """The wizards, the probe and the views. Each runs as its key does, through the app's
    `check_action`: a wizard opened here is read-only too under --read-only."""
    entries = [(wizard.title, wizard.summary, f"wizard('{wizard.name}')") for wizard in WIZARDS]
    entries.append(("Probe a Service", "Why can't I reach it? Check an exposed Service hop by hop", "probe"))
    entries.append(("Show all panes", "The dashboard: every pane at once", "dashboard"))
    entries += [(f"Show {pane.TITLE}", f"The {pane.TITLE} pane alone", f"show('{pane.NAME}')") for pane in PANES]
    for title, help_text, action in entries:
        yield SystemCommand(title, help_text, partial(app.run_action, action))


class HomelabCommands(SystemCommandsProvider):
    """The palette (the app's only command provider): what `app.get_system_commands` lists, that is
    Textual's own commands and, on the panes, `palette_commands`. With nothing typed, the wizards
    and the views come first, in their order, then Textual's alphabetically."""

    async def discover(self) -> Hits:
        ours = [command.title for command in palette_commands(self.app)]
        commands = sorted(self.app.get_system_commands(self.screen),
                          key=lambda command: (0, ours.index(command.title), "") if command.title in ours
                          else (1, 0, command.title))
        for command in commands:
            if command.discover:
                yield DiscoveryHit(command.title, command.callback, help=command.help)
