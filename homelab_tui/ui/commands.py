"""The command palette, and the one list of wizards that their keys and palette entries come from.

`WIZARD_ENTRIES` is the only place the UI names the wizards: the app's keys (`wizard_bindings`)
and the palette's entries (`palette_commands`) are made from it, and each opens with
`HomelabApp.action_wizard(name)`. Its entries have the fields of `flows.Wizard` (name, key, title,
summary), so the registry replaces it in one line: `WIZARD_ENTRIES = flows.WIZARDS`.
"""

from __future__ import annotations

from collections.abc import Iterator
from functools import partial
from typing import NamedTuple

from textual.app import App, SystemCommand
from textual.binding import Binding
from textual.command import DiscoveryHit, Hits
from textual.system_commands import SystemCommandsProvider

from .panes import PANES


class WizardEntry(NamedTuple):
    name: str  # action_wizard(name), and its key's binding id (for [ui.keymap])
    key: str
    title: str  # in the palette; its first word in the footer
    summary: str  # in the palette, and the key's tooltip


WIZARD_ENTRIES = (
    WizardEntry("bootstrap", "b", "Bootstrap a cluster", "Install k3s or kubeadm on the first server"),
    WizardEntry("join", "j", "Join nodes", "Join worker nodes to the cluster"),
)


def wizard_bindings() -> list[Binding]:
    return [Binding(wizard.key, f"wizard('{wizard.name}')", wizard.title.split()[0], id=wizard.name,
                    tooltip=wizard.summary) for wizard in WIZARD_ENTRIES]


def palette_commands(app: App) -> Iterator[SystemCommand]:
    """The wizards and the views. Each runs as its key does, through the app's `check_action`: a
    wizard opened here is read-only too under --read-only."""
    entries = [(wizard.title, wizard.summary, f"wizard('{wizard.name}')") for wizard in WIZARD_ENTRIES]
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
