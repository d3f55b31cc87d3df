"""Shared test helpers.

Tests that need a real system binary (sshd, dnsmasq, dig, tmux, kubectl, ssh) call
`need_binary`. It skips when the binary is absent, unless HOMELAB_REQUIRE_REAL=1 (set by CI),
which turns the skip into a failure.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

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
