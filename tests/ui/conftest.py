"""Shared fixtures for the UI tests. A module that needs a different lab defines its own `lab`."""

from __future__ import annotations

import pytest

from homelab_tui.sim.lab import Lab
from tests.ui.test_app_live import pod


@pytest.fixture
async def lab(tmp_path, monkeypatch):
    """The running sim lab plus a bare "debug" pod; the audit log goes to tmp_path/state."""
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))
    async with Lab("running", tmp_path / "lab") as lab:
        lab.kube.create(pod("debug"))
        yield lab
