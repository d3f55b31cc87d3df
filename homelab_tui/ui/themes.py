"""Textual themes from TOML files: the bundled `themes/*.toml`, then the user's
`~/.config/homelab-tui/themes/*.toml` (a user theme may replace a bundled one by name)."""

from __future__ import annotations

import sys
import tomllib
from dataclasses import fields
from pathlib import Path

import platformdirs
from textual.theme import Theme

from ..config import APP_NAME, ConfigError, ConfigIssue

# Source checkout or editable install first, then a wheel's data-files.
BUNDLED_DIRS = (Path(__file__).resolve().parents[2] / "themes", Path(sys.prefix) / "share" / APP_NAME / "themes")
USER_DIR = Path(platformdirs.user_config_dir(APP_NAME)) / "themes"
THEME_FIELDS = {f.name for f in fields(Theme)}

# App-specific CSS variables: every one needs a default, or a theme without it breaks the CSS.
VARIABLE_DEFAULTS = {"homelab-ours": "#F2A541"}


def load_theme(path: Path) -> Theme:
    """One theme file; ConfigError naming the file and the key when it is not a valid theme."""
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise ConfigError(str(path), [ConfigIssue("theme", f"cannot read: {exc}")]) from None
    unknown = sorted(set(data) - THEME_FIELDS)
    issues = [ConfigIssue(key, f"unknown key; expected one of {', '.join(sorted(THEME_FIELDS))}") for key in unknown]
    if not isinstance(data.get("name"), str) or not isinstance(data.get("primary"), str):
        issues.append(ConfigIssue("name, primary", "expected strings: every theme needs a name and a primary colour"))
    if issues:
        raise ConfigError(str(path), issues)
    try:
        return Theme(**data)
    except (TypeError, ValueError) as exc:
        raise ConfigError(str(path), [ConfigIssue("theme", f"not a valid theme: {exc}")]) from None


def load_themes(dirs: tuple[Path, ...] = (*BUNDLED_DIRS, USER_DIR)) -> dict[str, Theme]:
    themes: dict[str, Theme] = {}
    seen_bundled = False
    for directory in dirs:
        if directory in BUNDLED_DIRS and seen_bundled:
            continue  # a wheel install next to a source checkout: one bundled set is enough
        for path in sorted(directory.glob("*.toml")) if directory.is_dir() else ():
            theme = load_theme(path)
            themes[theme.name] = theme
            seen_bundled = seen_bundled or directory in BUNDLED_DIRS
    return themes
