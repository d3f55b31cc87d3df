"""The layer rule of DESIGN.md: nothing below ui/ imports textual, and nothing imports ui; and the
import-linter contracts of pyproject.toml (the shape ARCHITECTURE.md draws)."""

from __future__ import annotations

import pkgutil
import subprocess
import sys
from pathlib import Path

import pytest

import homelab_tui

PACKAGE_DIR = Path(homelab_tui.__file__).parent


def _modules_below_ui() -> list[str]:
    names = []
    for info in pkgutil.walk_packages([str(PACKAGE_DIR)], prefix="homelab_tui."):
        if info.name == "homelab_tui.ui" or info.name.startswith("homelab_tui.ui."):
            continue
        if info.name == "homelab_tui.__main__" or info.name.split(".")[:2] == ["homelab_tui", "cli"]:
            continue  # the entry point opens the TUI, so it may import ui lazily
        names.append(info.name)
    return names


def test_core_layers_never_import_textual():
    modules = _modules_below_ui()
    assert "homelab_tui.config" in modules and "homelab_tui.sim.lab" in modules
    script = (
        "import importlib, sys\n"
        f"for name in {modules!r}:\n"
        "    importlib.import_module(name)\n"
        "    if 'textual' in sys.modules:\n"
        "        print(name); break\n"
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "", f"{done.stdout.strip()} pulls in textual"


def test_nothing_below_ui_imports_ui():
    offenders = []
    for path in PACKAGE_DIR.rglob("*.py"):
        relative = path.relative_to(PACKAGE_DIR)
        if relative.parts[0] in ("ui", "cli"):
            continue
        text = path.read_text()
        if "homelab_tui.ui" in text or "from .ui" in text or "from ..ui" in text:
            offenders.append(str(relative))
    assert offenders == []


def test_import_contracts_are_kept():
    """`lint-imports` with the contracts in pyproject.toml: a broken one names the import chain."""
    lint = Path(sys.executable).parent / "lint-imports"
    if not lint.exists():
        pytest.fail("lint-imports is missing: install the test extras (make test does)")
    done = subprocess.run([str(lint), "--no-cache"], cwd=PACKAGE_DIR.parent, capture_output=True, text=True)
    assert done.returncode == 0, done.stdout[done.stdout.find("Broken contracts"):] or done.stdout + done.stderr
    assert "0 broken" in done.stdout


def test_building_the_cli_loads_no_client_library():
    """Every start builds the parser (the wizards' flags come from their requests): it must not pay
    for the client libraries, which only load when a command uses them."""
    script = ("import sys\nfrom homelab_tui.cli import build_parser\nbuild_parser()\n"
              "print(sorted({'asyncssh', 'kubernetes_asyncio', 'librouteros', 'aiohttp', 'dns', 'textual'}"
              " & set(sys.modules)))")
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "[]"
