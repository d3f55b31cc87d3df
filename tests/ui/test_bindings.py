"""Keys: a pane's own bindings never mean something else app-wide, and they work only while their
pane has focus."""

from __future__ import annotations

import pytest
from textual.app import App, ComposeResult
from textual.binding import Binding
from textual.screen import Screen
from textual.widgets import DataTable

from homelab_tui.state import LabState
from homelab_tui.ui import rows
from homelab_tui.ui.app import HomelabApp
from homelab_tui.flows import WIZARDS
from homelab_tui.ui.panes import PANES, NodesPane, Pane, PodsPane

K9S_KEYS = {"0", "1", "2", "3", "4", "5", "slash", "n", "question_mark", "colon", "q"}
PANE_KEYS = {"j": "cursor_down", "k": "cursor_up", "enter": "select_cursor", "tab": "app.focus_next"}


def actions_by_key(*owners: type) -> dict[str, set[str]]:
    keys: dict[str, set[str]] = {}
    for owner in owners:
        for key, bindings in owner._merged_bindings.key_to_bindings.items():
            keys.setdefault(key, set()).update(binding.action for binding in bindings)
    return keys


def declared(owner: type) -> list[tuple[str, str, str]]:
    """(key, action, declaring class) of every binding a class of ours declares itself."""
    return [(key.strip(), binding.action, owner.__name__)
            for binding in owner.__dict__.get("BINDINGS", []) if isinstance(binding, Binding)
            for key in binding.key.split(",")]


def test_the_app_binds_the_k9s_keys_and_the_wizards():
    app_keys = actions_by_key(HomelabApp)
    assert K9S_KEYS <= set(app_keys)
    keys = {wizard.key for wizard in WIZARDS if wizard.key}  # a wizard may have no key (palette, CLI only)
    assert {"B", "J"} <= keys <= rows.WIZARD_CAPITALS and keys <= set(app_keys)
    assert not {"s", "S"} & set(app_keys)  # sorting moved to the panes' shift+letter


@pytest.mark.parametrize("pane", PANES, ids=lambda pane: pane.NAME)
def test_no_two_bindings_collide_with_the_pane_focused(pane):
    """With the pane focused, the keys that work are its own (its classes from Pane down), the
    app's and the screen's, over Textual's (DataTable, Screen, App): no key of ours may mean two
    things among them, and a key of ours that Textual binds must mean what Textual's does."""
    ours = [entry for owner in pane.__mro__ if isinstance(owner, type) and issubclass(owner, Pane)
            for entry in declared(owner)] + declared(HomelabApp)
    seen: dict[str, tuple[str, str]] = {}
    for key, action, owner in ours:
        assert key not in seen or seen[key][0] == action, (
            f"{pane.NAME}: {key!r} is {seen[key][0]} ({seen[key][1]}) and {action} ({owner})")
        seen[key] = (action, owner)
    theirs = actions_by_key(DataTable, Screen, App)
    for key, (action, owner) in seen.items():
        assert key not in theirs or theirs[key] == {action}, f"{pane.NAME}: {key!r} of {owner} is Textual's {theirs[key]}"


@pytest.mark.parametrize("pane", PANES, ids=lambda pane: pane.NAME)
def test_the_wizard_capitals_are_wizard_keys_and_sort_keys_are_shift_letters(pane):
    """B, J, D, M, E, U open wizards from every pane (none takes them, not even as a column's sort
    letter); each column with a letter sorts by it."""
    pane_keys = actions_by_key(pane)
    assert not rows.WIZARD_CAPITALS & set(pane_keys)
    app_keys = actions_by_key(HomelabApp)
    for capital in rows.WIZARD_CAPITALS & set(app_keys):
        assert all(action.startswith("wizard(") for action in app_keys[capital])
    letters = {rows.SORT_LETTERS[column]: column for column in pane.COLUMNS if column in rows.SORT_LETTERS}
    assert len(letters) == len([c for c in pane.COLUMNS if c in rows.SORT_LETTERS])  # one letter, one column
    for letter, column in letters.items():
        assert letter.isupper() and pane_keys[letter] == {f"sort_column('{column}')"}


def test_k9s_letters_for_the_columns_we_share():
    assert {column: rows.SORT_LETTERS[column] for column in ("NAME", "AGE", "STATUS", "READY", "RESTARTS", "IP",
                                                             "NODE")} == {
        "NAME": "N", "AGE": "A", "STATUS": "S", "READY": "R", "RESTARTS": "T", "IP": "I", "NODE": "O"}


@pytest.mark.parametrize("pane", PANES, ids=lambda pane: pane.NAME)
def test_every_pane_moves_with_j_and_k_and_they_mean_nothing_app_wide(pane):
    """k9s's and vim's j/k; the wizards left them for B and J."""
    assert {key: actions for key, actions in actions_by_key(pane).items() if key in PANE_KEYS} == {
        key: {action} for key, action in PANE_KEYS.items()}
    assert not {"j", "k"} & set(actions_by_key(HomelabApp, Screen))


@pytest.mark.parametrize("pane", PANES, ids=lambda pane: pane.NAME)
def test_a_pane_key_means_nothing_else_app_wide(pane):
    """A focused pane's binding shadows the app's for the same key, so a pane may not take one."""
    app_keys = actions_by_key(HomelabApp, Screen)
    for key, actions in actions_by_key(pane).items():
        assert key not in app_keys or app_keys[key] == actions, (
            f"{pane.NAME} binds {key!r} to {actions}, the app to {app_keys[key]}")


@pytest.mark.parametrize("pane", PANES, ids=lambda pane: pane.NAME)
def test_binding_ids_are_unique(pane):
    """[ui.keymap] rebinds by id: a pane's id must not rebind an app key too."""
    app_ids = [binding.id for bindings in HomelabApp._merged_bindings.key_to_bindings.values()
               for binding in bindings if binding.id]
    pane_ids = [binding.id for binding in pane.BINDINGS if isinstance(binding, Binding) and binding.id]
    assert len(set(app_ids)) == len(app_ids) and not set(pane_ids) & set(app_ids)


class PokedPods(PodsPane):
    """A pane with an action of its own, as panes/base.py says to add one."""

    BINDINGS = [Binding("x", "poke", "Poke", id="pods_poke")]

    def on_mount(self) -> None:
        super().on_mount()
        self.pokes: list[str | None] = []

    def action_poke(self) -> None:
        self.pokes.append(self.cursor_key())


class TwoPanes(App[None]):
    def compose(self) -> ComposeResult:
        state = LabState()
        yield PokedPods(state, lambda: None)
        yield NodesPane(state, lambda: None)


async def test_a_pane_binding_works_only_while_its_pane_has_focus():
    app = TwoPanes()
    async with app.run_test() as pilot:
        pods = app.query_one(PokedPods)
        pods.focus()
        await pilot.press("x")
        assert pods.pokes == [None]  # the key of the row under the cursor: none yet
        assert "x" in {binding.binding.key for binding in app.screen.active_bindings.values()}
        app.query_one(NodesPane).focus()
        await pilot.press("x")
        assert pods.pokes == [None]


def test_the_new_keys_can_be_remapped_by_id():
    """[ui.keymap] knows the log view's keys and the sort keys (ids without '#' or '/')."""
    from homelab_tui.cli import _keymap_issues

    assert _keymap_issues({"log_wrap": "f6", "sort_position": "f7", "sort_up_to_date": "f8", "pod_shell": "f9"}) == []
