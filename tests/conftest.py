"""Shared test helpers.

Tests that need a real system binary (sshd, dnsmasq, dig, tmux, kubectl, ssh) call
`need_binary`. It skips when the binary is absent, unless HOMELAB_REQUIRE_REAL=1 (set by CI),
which turns the skip into a failure.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import threading
from pathlib import Path

import pytest

from homelab_tui.config import Config, load_config
from homelab_tui.sim.lab import Lab

REQUIRE_REAL = os.environ.get("HOMELAB_REQUIRE_REAL") == "1"


def need_binary(name: str) -> str:
    """Path of a real binary the test needs; skip (or fail under HOMELAB_REQUIRE_REAL=1) if absent."""
    found = shutil.which(name)
    if found is None:
        for prefix in ("/usr/sbin", "/sbin", "/usr/local/sbin"):
            candidate = Path(prefix) / name
            if candidate.exists() and os.access(candidate, os.X_OK):
                found = str(candidate)
                break
    if found is None:
        message = f"{name} is not installed"
        if REQUIRE_REAL:
            pytest.fail(f"{message} and HOMELAB_REQUIRE_REAL=1")
        pytest.skip(message)
    return found


class LabThread:
    """A Lab running on an event loop in a background thread, for code that runs its own loop
    (snap_compare, the CLI's asyncio.run). `with LabThread(dir) as config:`."""

    def __init__(self, workdir: Path, preset: str = "running", **lab_options):
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.lab = Lab(preset, workdir / "lab", **lab_options)
        self.config_path = workdir / "lab.toml"

    def __enter__(self) -> Config:
        self.thread.start()
        asyncio.run_coroutine_threadsafe(self.lab.start(), self.loop).result(30)
        return load_config(self.lab.write_config(self.config_path))

    def __exit__(self, *exc_info: object) -> None:
        asyncio.run_coroutine_threadsafe(self.lab.stop(), self.loop).result(30)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)
