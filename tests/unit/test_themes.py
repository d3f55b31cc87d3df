"""Themes from TOML: the bundled ones load, a bad file or an unknown name is a clear error."""

from __future__ import annotations

import pytest

from homelab_tui.cli import main
from homelab_tui.config import ConfigError
from homelab_tui.ui.themes import BUNDLED_DIRS, VARIABLE_DEFAULTS, load_theme, load_themes


def test_bundled_themes_load_and_set_every_app_variable():
    themes = load_themes(BUNDLED_DIRS)
    assert {"homelab-dark", "homelab-light"} <= set(themes)
    for theme in themes.values():
        assert set(VARIABLE_DEFAULTS) <= set(theme.variables)


def test_a_user_theme_overrides_by_name(tmp_path):
    (tmp_path / "mine.toml").write_text('name = "homelab-dark"\nprimary = "#123456"\n')
    assert load_themes((*BUNDLED_DIRS, tmp_path))["homelab-dark"].primary == "#123456"


def test_a_bad_theme_file_names_the_file_and_key(tmp_path):
    path = tmp_path / "bad.toml"
    path.write_text('name = "x"\nprimary = "#000000"\nprimray = "#111111"\n')
    with pytest.raises(ConfigError) as caught:
        load_theme(path)
    assert "bad.toml" in str(caught.value) and "primray: unknown key" in str(caught.value)


def test_an_unknown_theme_in_the_config_exits_2(tmp_path, capsys):
    config = tmp_path / "config.toml"
    config.write_text('[ui]\ntheme = "solarised-ish"\n')
    for command in ([], ["check"]):  # check reports it too, before the TUI would stop on it
        assert main([*command, "--config", str(config)]) == 2
        err = capsys.readouterr().err
        assert "ui.theme (line 2): unknown theme 'solarised-ish'; expected one of" in err and "homelab-dark" in err
        assert "Traceback" not in err
