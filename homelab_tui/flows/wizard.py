"""What a wizard is, for both front ends: a frozen request (its answers), how each answer is asked,
and the flow that turns a request into plans.

A request is a frozen dataclass whose fields are declared with `ask(...)`. The CLI makes one flag
per field from it (cli/wizard.py) and the TUI one form row (ui/wizards/form.py), so an answer is
written out once: its type, label, help, choices, default and when it applies. The flow reads the
facts it needs and returns the plans (`Staged`); it never asks anything itself, except through
the executors' hooks (an unknown host key, a sudo password).
"""

from __future__ import annotations

import importlib
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import Field, dataclass, field, fields
from typing import TYPE_CHECKING, Any, Protocol

from ..config import Config

if TYPE_CHECKING:
    from ..executors import Executors
    from ..plans import Staged

Note = Callable[[str], None]  # a warning for the user that does not stop the plan
# (config, names of the nodes the cluster has) -> (label, value, preselected) for each choice
Options = Callable[[Config, frozenset[str]], list[tuple[str, str, bool]]]


@dataclass(frozen=True)
class Ask:
    """How one answer is asked. `many` answers are tuples: a repeated flag, and in the form a
    checkbox per choice, a list to pick from, or text split on `separator` ("," or "shell")."""

    label: str  # the form's label
    help: str  # the flag's help
    hint: str = ""  # the form's placeholder (for a list: what it says when there is nothing to pick)
    flag: str = ""  # default: --name-with-dashes
    aliases: tuple[str, ...] = ()  # further flags for the same answer
    metavar: str | None = None
    choices: tuple[str, ...] = ()
    options: Options | None = None  # choices that come from the config (nodes), for the form
    many: bool = False
    separator: str = ","
    required: bool = False
    initial: Callable[[Config], str] | None = None  # the form's starting value (the flag's is empty: the config's)
    only_for: tuple[str, str] | None = None  # (answer, value): shown in the form only when that answer has it
    switch: bool = False  # a yes/no answer: a flag with no value, a checkbox in the form


def ask(label: str, help: str, **how: Any) -> Any:
    """A request field asked as `Ask(label, help, **how)`; text defaults to "", many to (), a switch
    to False."""
    spec = Ask(label, help, **how)
    return field(default=() if spec.many else False if spec.switch else "", metadata={"ask": spec})


def asked(request: type) -> list[tuple[Field, Ask]]:
    """The request's answers in order, each with how it is asked."""
    return [(f, f.metadata["ask"]) for f in fields(request) if "ask" in f.metadata]


def flag(f: Field, spec: Ask) -> str:
    return spec.flag or "--" + f.name.replace("_", "-")


def field_id(name: str) -> str:
    """An answer's id in the form (and in its widgets' ids): pod_cidr → pod-cidr."""
    return name.replace("_", "-")


def request_from(request: type, values: dict[str, Any]) -> Any:
    """A request from raw answers: many-answers as tuples, absent ones at their defaults."""
    given = {}
    for f, spec in asked(request):
        if f.name in values and values[f.name] is not None:
            value = values[f.name]
            given[f.name] = tuple(value) if spec.many else value
    return request(**given)


class Flow(Protocol):
    def __call__(self, config: Config, request: Any, executors: Executors, note: Note) -> Awaitable[Staged]: ...


@dataclass(frozen=True)
class Wizard:
    """One wizard: what opens it (`key` in the TUI, none for one reached from the palette only;
    the subcommand `name` on the command line) and what the palette and --help say (`title`,
    `summary`). Its request and flow live in
    flows/<name>.py (`REQUEST`, `FLOW`), imported when first asked for: every start shows the
    wizards' keys, and only a wizard in use pays for its facts, plans and engine."""

    name: str
    key: str
    title: str
    summary: str
    label: str = ""  # the footer's word for the key; default: the title's first word

    @property
    def command(self) -> str:
        """The CLI subcommand: the module's name with dashes (dns_gateway → dns-gateway)."""
        return self.name.replace("_", "-")

    @property
    def key_label(self) -> str:
        return self.label or self.title.split()[0]

    @property
    def request(self) -> type:
        return self._module().REQUEST

    @property
    def flow(self) -> Flow:
        return self._module().FLOW

    def answers(self) -> Iterable[tuple[Field, Ask]]:
        return asked(self.request)

    def _module(self) -> Any:
        return importlib.import_module(f"{__package__}.{self.name}")
