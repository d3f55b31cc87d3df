"""Keys: a pane's own bindings never mean something else app-wide, and they work only while their
pane has focus."""

from __future__ import annotations

import pytest
from textual.app import App, ComposeResult
from textual.binding import Binding
from textual.screen import Screen

from homelab_tui.state import LabState
from homelab_tui.ui.app import HomelabApp
from homelab_tui.flows import WIZARDS
from homelab_tui.ui.panes import PANES, NodesPane, PodsPane

K9S_KEYS = {"0", "1", "2", "3", "4", "5", "slash", "n", "s", "S", "question_mark", "colon", "q"}
PANE_KEYS = {"j": "cursor_down", "k": "cursor_up", "enter": "select_cursor", "tab": "app.focus_next"}


def actions_by_key(*owners: type) -> dict[str, set[str]]:
    keys: dict[str, set[str]] = {}
    for owner in owners:
        for key, bindings in owner._merged_bindings.key_to_bindings.items():
            keys.setdefault(key, set()).update(binding.action for binding in bindings)
    return keys


def test_the_app_binds_the_k9s_keys_and_the_wizards():
    app_keys = actions_by_key(HomelabApp)
    assert K9S_KEYS <= set(app_keys)
    assert {wizard.key for wizard in WIZARDS} == {"B", "J"} <= set(app_keys)


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
