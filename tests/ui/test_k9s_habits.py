"""What a k9s user expects of the screen: ages that keep time, `?` for the keys, `:` for the views,
j/k, panes sized by what they hold, a header and footer that fit 80x24, screenshots that land."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from textual.widgets import Input, Label, Static

from homelab_tui.config import load_config
from homelab_tui.ui import app as app_module, rows
from homelab_tui.ui.app import HomelabApp
from homelab_tui.ui.modals import CommandScreen, HelpScreen
from homelab_tui.ui.panes import DASHBOARD_ORDER
from homelab_tui.ui.panes.dashboard import share
from homelab_tui.ui.widgets import KeysFooter
from tests.ui.test_app_live import lab, shown_keys, until  # noqa: F401 (lab is a fixture)


class Clock:
    """A clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = datetime.now(UTC)

    def __call__(self) -> datetime:
        return self.now


def live_app(lab, tmp_path, clock=lambda: None) -> HomelabApp:
    config = load_config(lab.write_config(tmp_path / "lab.toml"))
    config.ui.refresh_seconds = 0.2
    return HomelabApp(config, clock=clock)


def age_of(app: HomelabApp, pane: str, key: str) -> str:
    return str(app.table(pane).get_row(key)[-1])


async def settled(pilot) -> None:
    app = pilot.app
    await until(pilot, lambda: app.table("pods").row_count == 5 and app.table("nat").row_count == 5
                and app.table("dns").row_count == 6 and app.table("services").row_count == 2)
    await pilot.pause(0.1)


async def test_ages_on_screen_keep_time_and_only_they_are_read(lab, tmp_path):
    clock = Clock()
    app = live_app(lab, tmp_path, clock)
    async with app.run_test(size=(80, 24)) as pilot:
        await settled(pilot)
        pods = app.table("pods")  # at 80x24 the dashboard shows a few of its rows, the rest are below
        visible = pods.scrollable_content_region.height - pods.header_height
        keys = shown_keys(app, "pods")
        assert visible < len(keys)
        before = {key: age_of(app, "pods", key) for key in keys}
        clock.now += timedelta(hours=3)
        app.dashboard.refresh_ages()  # what the one-second timer calls
        after = {key: age_of(app, "pods", key) for key in keys}
        on_screen, below = keys[:visible], keys[visible:]
        assert all(after[key] == rows.age(app.state.kube.of("Pod")[key].created, clock.now) for key in on_screen)
        assert all(after[key].endswith("h") for key in on_screen)
        assert all(after[key] == before[key] for key in below)  # not read: a tick costs the visible rows


async def test_snapshot_mode_shows_no_ages(lab, tmp_path):
    app = live_app(lab, tmp_path)
    async with app.run_test(size=(120, 36)) as pilot:
        await settled(pilot)
        app.dashboard.refresh_ages()
        assert {age_of(app, "pods", key) for key in shown_keys(app, "pods")} == {""}


async def test_question_mark_lists_the_pane_keys_and_the_global_ones(lab, tmp_path):
    app = live_app(lab, tmp_path)
    async with app.run_test(size=(120, 36)) as pilot:
        await settled(pilot)
        await pilot.press("2", "question_mark")
        await until(pilot, lambda: isinstance(app.screen, HelpScreen))
        (pane_title, pane_keys), (global_title, global_keys) = app.screen.sections
        assert pane_title == "Pods pane" and global_title == "Everywhere"
        assert {"j", "k", "^d"} <= {key for key, _ in pane_keys}
        assert {"Down", "Up", "Open", "Delete"} <= {what.split(":")[0] for _, what in pane_keys}
        assert {"/", "n", "?", ":", "B", "J", "q"} <= {key for key, _ in global_keys}
        await pilot.press("escape")
        await until(pilot, lambda: not isinstance(app.screen, HelpScreen))


async def test_colon_switches_views_by_k9s_names_tab_completes_and_unknown_is_said(lab, tmp_path):
    app = live_app(lab, tmp_path)
    async with app.run_test(size=(120, 36)) as pilot:
        await settled(pilot)
        for typed, view in (("po", "pods"), ("svc", "services"), ("services", "services"), ("nat", "nat"),
                            ("dns", "dns"), ("no", "nodes")):
            await pilot.press("colon")
            await until(pilot, lambda: isinstance(app.screen, CommandScreen))
            await pilot.press(*typed, "enter")
            await until(pilot, lambda: not isinstance(app.screen, CommandScreen))
            assert app.view == view and app.focused is app.table(view)
        await pilot.press("colon")
        await until(pilot, lambda: isinstance(app.screen, CommandScreen))
        await pilot.press("s", "e", "tab")
        prompt = app.screen.query_one(Input)
        assert prompt.value == "services" and prompt.content_region.height == 1  # what is typed shows
        await pilot.press("ctrl+u", *"nope", "enter")
        assert isinstance(app.screen, CommandScreen)
        assert "unknown command: nope" in str(app.screen.query_one("#command-error", Label).render())
        await pilot.press("escape")
        await until(pilot, lambda: not isinstance(app.screen, CommandScreen))
        assert app.view == "nodes"


async def test_j_and_k_move_the_cursor(lab, tmp_path):
    app = live_app(lab, tmp_path)
    async with app.run_test(size=(120, 36)) as pilot:
        await settled(pilot)
        await pilot.press("2")
        pods = app.table("pods")
        assert pods.cursor_row == 0
        await pilot.press("j", "j")
        assert pods.cursor_row == 2
        await pilot.press("k")
        assert pods.cursor_row == 1


def test_share_meets_small_needs_and_splits_the_rest():
    assert share([6, 8, 5], 40) == [6, 8, 5]
    assert share([6, 100, 60], 40, minimum=4) == [6, 17, 17]
    assert share([50, 50], 10, minimum=4) == [5, 5]


@pytest.mark.parametrize("size", [(160, 48), (100, 30), (200, 60)])
async def test_panes_are_sized_by_their_rows(lab, tmp_path, size):
    app = live_app(lab, tmp_path)
    async with app.run_test(size=size) as pilot:
        await settled(pilot)
        await pilot.pause(0.2)
        panes = app.dashboard.panes
        if size == (160, 48):  # everything fits: every row of every pane is on screen, full width
            for pane in (pane for pane in panes.values() if pane.NAME in DASHBOARD_ORDER):  # the others are shown alone
                assert pane.scrollable_content_region.height >= pane.header_height + pane.row_count, pane.NAME
            for name in ("services", "dns"):  # their columns do not fit side by side at this width: stacked
                assert panes[name].virtual_size.width <= panes[name].scrollable_content_region.width
            assert panes["services"].region.x == panes["dns"].region.x
        bottom = max(pane.region.bottom for pane in panes.values())
        assert bottom <= app.dashboard.region.bottom  # within the screen


async def test_80x24_keeps_the_status_rows_and_a_readable_footer(lab, tmp_path):
    app = live_app(lab, tmp_path)
    async with app.run_test(size=(80, 24)) as pilot:
        await settled(pilot)
        await pilot.pause(0.2)
        status = app.query_one("#status", Static)
        assert status.region.height == 2 and "● kubernetes" in str(status.render()).split("\n")[1]
        footer = app.query_one(KeysFooter)
        assert footer.has_class("-tight")
        shown = [key for key in footer.query("FooterKey") if key.display]
        assert sum(key.region.width for key in shown) <= footer.region.width
        assert {key.action for key in shown} >= {"help", "edit_filter", "quit", "command_palette"}


async def test_a_screenshot_lands_in_the_data_dir(lab, tmp_path, monkeypatch):
    target = tmp_path / "data" / "screenshots"  # missing, as ~/Downloads often is
    monkeypatch.setattr(app_module, "SCREENSHOT_DIR", target)
    app = live_app(lab, tmp_path)
    async with app.run_test(size=(120, 36)) as pilot:
        await pilot.press("ctrl+s")
        await until(pilot, lambda: any(str(target) in note.message for note in app._notifications))
        [saved] = target.glob("*.svg")
        assert saved.read_text().startswith("<svg")
