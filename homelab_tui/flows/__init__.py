"""The wizards' flows, shared by the CLI (cli/wizard.py) and the TUI (ui/wizards/): a request →
facts → a pure plan → `Staged` plans, applied by `apply_staged`. One module per wizard; each
defines its request and its flow and ends with its `WIZARD`. No textual here.

WIZARDS is the registry: the CLI's subcommands, the TUI's keys and the command palette are all
made from it. Adding a wizard is adding its modules and one line here.
"""

from __future__ import annotations

from . import bootstrap, join
from .apply import apply_staged
from .wizard import Wizard

WIZARDS: tuple[Wizard, ...] = (
    bootstrap.WIZARD,
    join.WIZARD,
)

__all__ = ["WIZARDS", "Wizard", "apply_staged"]
