"""A wizard's form, made from its request (flows/wizard.py): one row per answer, in the request's
order. Text is an Input; a choice a Select; many choices a Checkbox each; many config nodes a
SelectionList. A row that applies only for another answer's value (`only_for`) shows only then.
`answers()` reads the request's raw answers back; a blank one means "the config's"."""

from __future__ import annotations

import shlex
from typing import Any

from textual import on
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.widget import Widget
from textual.binding import Binding
from textual.widgets import Checkbox, Input, Label, Select, SelectionList

from ...config import Config
from ...flows.wizard import Ask, Wizard, field_id, flag
from ...plans import PlanError


class ManyChoice(SelectionList):
    """A list of choices, space toggling one; `a` selects them all, or none when all are."""

    BINDINGS = [Binding("a", "all", "All", id="choose_all")]

    def action_all(self) -> None:
        if len(self.selected) == self.option_count:
            self.deselect_all()
        else:
            self.select_all()


class WizardForm(Vertical):
    DEFAULT_CSS = """
    WizardForm { height: auto; padding: 0 1; }
    WizardForm Horizontal, WizardForm Vertical { height: auto; }
    WizardForm Horizontal > Label { padding: 0 1 0 0; width: 16; }
    WizardForm Input, WizardForm Select { width: 1fr; }
    WizardForm Checkbox { margin: 0 2 0 0; }
    WizardForm SelectionList { height: auto; max-height: 8; }
    """

    def __init__(self, wizard: Wizard, config: Config, in_cluster: frozenset[str],
                 given: dict[str, str] | None = None) -> None:
        super().__init__(id="form")
        self.wizard, self.config, self.in_cluster = wizard, config, in_cluster
        self.given = given or {}  # text answers to start with, by field name

    def compose(self) -> ComposeResult:
        for f, spec in self.wizard.answers():
            yield self._row(field_id(f.name), spec, self.given.get(f.name, ""))

    def _row(self, name: str, spec: Ask, given: str = "") -> Widget:
        initial = given or (spec.initial(self.config) if spec.initial else "")
        kind = _kind(spec)
        if kind == "list":  # with nothing to pick, the hint says why
            options = spec.options(self.config, self.in_cluster)
            return Vertical(Label(spec.label if options or not spec.hint else spec.hint),
                            ManyChoice(*options, id=name), id=f"{name}-row")
        if kind == "select":
            options = (spec.options(self.config, self.in_cluster) if spec.options
                       else [(choice, choice, choice == initial) for choice in spec.choices])
            # A fixed choice with no default starts blank (the hint says what blank means): the
            # form never picks one for the user (on_conflict's force, say).
            blank = not options or (not spec.options and not initial)
            first = Select.NULL if blank else options[0][1]
            value = next((value for _, value, chosen in options if chosen), first)
            answer = Select([(label, value) for label, value, _ in options], value=value, allow_blank=blank,
                            prompt=spec.hint or "Select", compact=True, id=name)
        elif kind == "checkboxes":
            answer = Horizontal(*(Checkbox(choice, compact=True, id=f"{name}-{choice}") for choice in spec.choices))
        elif kind == "switch":
            answer = Checkbox(spec.hint or "yes", compact=True, id=name)
        else:
            answer = Input(initial, placeholder=spec.hint, compact=True, id=name)
        return Horizontal(Label(spec.label), answer, id=f"{name}-row")

    def on_mount(self) -> None:
        self._show_rows()

    @on(Select.Changed)
    def _show_rows(self) -> None:
        """Each row whose `only_for` answer has its value is shown; the others are hidden."""
        for (_, spec), row in zip(self.wizard.answers(), self.children):
            if spec.only_for is not None:
                answer, value = spec.only_for
                row.display = self.query_one(f"#{field_id(answer)}", Select).value == value

    def labels(self) -> dict[str, str]:
        """The label the form shows for each answer, by the names an error may give it: the request's
        field (pod_cidr) or its flag (--node)."""
        return {name: spec.label for f, spec in self.wizard.answers() for name in (f.name, flag(f, spec))}

    def answers(self) -> dict[str, Any]:
        """The answers as the request takes them; a hidden row's answer is left blank."""
        values: dict[str, Any] = {}
        for (f, spec), row in zip(self.wizard.answers(), self.children):
            if not row.display:
                continue
            name, kind = field_id(f.name), _kind(spec)
            if kind == "list":
                values[f.name] = tuple(self.query_one(f"#{name}", ManyChoice).selected)
            elif kind == "select":
                value = self.query_one(f"#{name}", Select).value
                values[f.name] = "" if value is Select.NULL else value
            elif kind == "checkboxes":
                values[f.name] = tuple(c for c in spec.choices if self.query_one(f"#{name}-{c}", Checkbox).value)
            elif kind == "switch":
                values[f.name] = self.query_one(f"#{name}", Checkbox).value
            else:
                values[f.name] = _text_answer(spec, self.query_one(f"#{name}", Input).value.strip())
        return values


def _kind(spec: Ask) -> str:
    """The widget an answer is asked with: a list of config nodes to pick many, a Select of one
    choice, a checkbox per choice, one checkbox for a switch, or text."""
    if spec.switch:
        return "switch"
    if spec.options:
        return "list" if spec.many else "select"
    if spec.choices:
        return "checkboxes" if spec.many else "select"
    return "text"


def _text_answer(spec: Ask, text: str) -> str | tuple[str, ...]:
    if not spec.many:
        return text
    if spec.separator == "shell":
        try:
            return tuple(shlex.split(text))
        except ValueError as exc:
            raise PlanError(spec.label, f"expected arguments as a shell would split them ({exc})") from None
    return tuple(part.strip() for part in text.split(spec.separator) if part.strip())
