"""The installed entry point in a real terminal: `homelab-tui --demo` shows the nodes, `q` quits;
at 80x24 the header, the footer and the NAT pane's columns are as a terminal draws them."""

from __future__ import annotations

import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from tests.conftest import need_binary

ENTRY = Path(sys.executable).parent / "homelab-tui"


class Demo:
    """`homelab-tui --demo` in a tmux session of its own."""

    def __init__(self, tmux: str, session: str) -> None:
        self.tmux, self.session = tmux, session

    def screen_when(self, predicate: Callable[[str], bool], timeout: float = 30) -> str:
        """The screen once `predicate` holds of it, or as it is after `timeout` seconds."""
        screen, deadline = "", time.monotonic() + timeout
        while time.monotonic() < deadline and not predicate(screen):
            time.sleep(0.3)
            screen = subprocess.run([self.tmux, "capture-pane", "-p", "-t", self.session], capture_output=True,
                                    text=True).stdout
        return screen

    def keys(self, *keys: str) -> None:
        subprocess.run([self.tmux, "send-keys", "-t", self.session, *keys], check=True)


@contextmanager
def demo(width: int, height: int, *options: str) -> Iterator[Demo]:
    tmux = need_binary("tmux")
    session = f"homelab-e2e-{uuid.uuid4().hex[:8]}"
    # The demo starts a second later: started at once from pytest, it sometimes read the pane's size
    # before tmux had set it, and drew 80x24 in a larger pane for good.
    subprocess.run([tmux, "new-session", "-d", "-s", session, "-x", str(width), "-y", str(height),
                    f"sleep 1; {ENTRY} --demo {' '.join(options)}; echo EXITED=$?; sleep 30"], check=True)
    try:
        yield Demo(tmux, session)
    finally:
        subprocess.run([tmux, "kill-session", "-t", session], capture_output=True)


def test_the_fresh_demo_has_no_cluster_yet_and_offers_bootstrap():
    with demo(140, 36, "--preset", "fresh") as lab:
        screen = lab.screen_when(lambda screen: "B bootstraps a cluster" in screen)
        assert "no kubeconfig" in screen.lower() and "node2.kube.local" not in screen, screen
        lab.keys("q")
        assert "EXITED=0" in lab.screen_when(lambda screen: "EXITED=" in screen, timeout=15)


def test_demo_renders_nodes_and_quits():
    with demo(140, 36) as lab:
        screen = lab.screen_when(lambda screen: "node2.kube.local" in screen)
        assert "master1.kube.local" in screen and "node2.kube.local" in screen, screen
        lab.keys("q")
        screen = lab.screen_when(lambda screen: "EXITED=" in screen, timeout=15)
        assert "EXITED=0" in screen, screen
        assert "Traceback" not in screen


def test_80x24_keeps_the_header_the_footer_and_the_nat_columns_in_line():
    with demo(80, 24) as lab:
        screen = lab.screen_when(lambda screen: "● node2" in screen)
        lines = screen.splitlines()
        assert "● kubernetes" in lines[1], screen  # the header's second row, the health marks
        assert lines[-1].rstrip().endswith("^p palette"), screen  # the palette key, whole
        lab.keys("4")  # the NAT pane alone: our rules (OWN marked) beside another
        screen = lab.screen_when(lambda screen: screen.count("dstnat") >= 2)
        rules = [line for line in screen.splitlines() if " nat " in line or " mangle " in line]
        assert len(rules) >= 4, screen
        for column in ("nat", "mangle"):
            starts = {line.index(f" {column} ") for line in rules if f" {column} " in line}
            assert len(starts) == 1, screen  # every row's TABLE cell in the same terminal column
