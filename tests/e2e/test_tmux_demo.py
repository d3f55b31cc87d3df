"""The installed entry point in a real terminal: `homelab-tui --demo` shows the nodes, `q` quits."""

from __future__ import annotations

import subprocess
import sys
import time
import uuid
from pathlib import Path

from tests.conftest import need_binary

ENTRY = Path(sys.executable).parent / "homelab-tui"


def test_demo_renders_nodes_and_quits():
    tmux = need_binary("tmux")
    session = f"homelab-e2e-{uuid.uuid4().hex[:8]}"
    subprocess.run([tmux, "new-session", "-d", "-s", session, "-x", "140", "-y", "36",
                    f"{ENTRY} --demo; echo EXITED=$?; sleep 30"], check=True)
    try:
        screen = ""
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and "node2.kube.local" not in screen:
            time.sleep(0.3)
            screen = subprocess.run([tmux, "capture-pane", "-p", "-t", session], capture_output=True,
                                    text=True).stdout
        assert "master1.kube.local" in screen and "node2.kube.local" in screen, screen
        subprocess.run([tmux, "send-keys", "-t", session, "q"], check=True)
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline and "EXITED=" not in screen:
            time.sleep(0.3)
            screen = subprocess.run([tmux, "capture-pane", "-p", "-t", session], capture_output=True,
                                    text=True).stdout
        assert "EXITED=0" in screen, screen
        assert "Traceback" not in screen
    finally:
        subprocess.run([tmux, "kill-session", "-t", session], capture_output=True)
