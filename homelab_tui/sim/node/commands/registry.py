"""The registry of the simulated shell's commands. Each area module declares its commands with
`@command("name", "alias", ...)`; the shell looks a command up by name in `COMMANDS`. A name
registered twice is an error at import time, not a silent override."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING

from ..proc import Proc

if TYPE_CHECKING:
    from ..shell import NodeShell

Command = Callable[["NodeShell", list[str], Proc], Awaitable[int]]

COMMANDS: dict[str, Command] = {}


def command(*names: str) -> Callable[[Command], Command]:
    """Register the decorated function as the command `names` run."""

    def register(function: Command) -> Command:
        for name in names:
            if name in COMMANDS:
                raise ValueError(f"the simulated shell has a command {name!r} already")
            COMMANDS[name] = function
        return function

    return register
