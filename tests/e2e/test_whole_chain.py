"""The whole chain by keystrokes alone (issue 13 §5): the installed `homelab-tui` in tmux, pointed
(--config) at a `fresh` sim lab this test runs, from bare nodes to a public name and back:
bootstrap master1, join node1 and node2, deploy nginx on NodePort 31681, expose it with PCC over
node1 and node2 with DDNS and a proxied CNAME, probe it, then unexpose, undeploy and uninstall.

While it is exposed, the name resolves through the sim's DNS and the router's rules carry seed
02's fields; at the end the router, the zone and the nodes are as they were at the start, compared
whole (`Lab.snapshot()`), but for what uninstall's plan says it leaves on the nodes (their hostname
and the memory cgroup flags).

The keystrokes (typed values apart) and the wall time are printed (`-s`): 48 keys, about 25 s on
the sim, half of it this test waiting for each key's effect to be drawn. The issue's target of 40
keys is not met, so it is not asserted. Per wizard: its key, F3 (the plan, shown whole in the
confirmation), y, and Esc once it is done (28 for seven wizards); the forms ask first what is
asked most (deploy: name, image, port, expose; expose: nodes, host); the rest is picking node1
and node2 (4), uninstall's nodes (`a` picks all; none is picked for you on purpose), the palette
twice, and the probe."""

from __future__ import annotations

import ipaddress
import re
import subprocess
import time
import uuid
from collections.abc import Callable

import pytest

from homelab_tui.clients.cloudflare import bundled_ip_ranges
from homelab_tui.plans.verdicts.probe import HOPS
from tests.conftest import LabThread, need_binary
from tests.e2e.test_expose_cli import dig
from tests.e2e.test_uninstall_cli import kept_on_purpose, state_diff
from tests.e2e.test_tmux_demo import ENTRY

WIDTH, HEIGHT = 160, 50


class Terminal:
    """The binary in a tmux session. `press` sends keys and counts them; `type` sends a value (not
    counted: the user would type it whatever the tool) and waits until its row shows it.

    Each key waits for the one before it to show: Textual hands a key to the widget focused when
    it reads it, and a Select's menu opens a frame later, so keys sent in a burst land in the wrong
    place. A key has shown when the screen, colours and all (the focus is only a colour), has
    changed and then stays the same for a moment; a key that changes nothing is waited for a second."""

    def __init__(self, tmux: str, session: str) -> None:
        self.tmux, self.session = tmux, session
        self.keystrokes = 0
        self.pacing = 0.0  # seconds spent waiting for keys to show

    def press(self, *keys: str) -> None:
        for key in keys:
            self.keystrokes += 1
            before, sent = self.colours(), time.monotonic()
            subprocess.run([self.tmux, "send-keys", "-t", self.session, key], check=True)
            self.settled(changed_from=before)
            self.pacing += time.monotonic() - sent

    def type(self, label: str, text: str) -> None:
        """Type `text` in the field labelled `label`, and wait until that row shows it (or its
        placeholder, when that is the same text)."""
        subprocess.run([self.tmux, "send-keys", "-t", self.session, "-l", text], check=True)
        row = re.compile(rf"^ *{re.escape(label)} +{re.escape(text)} *[▼▲]? *$", re.M)
        self.wait(lambda screen: row.search(screen) is not None, f"{text!r} in {label}")

    def colours(self) -> str:
        return subprocess.run([self.tmux, "capture-pane", "-p", "-e", "-t", self.session], capture_output=True,
                              text=True).stdout

    def settled(self, changed_from: str | None = None) -> None:
        """Wait until the screen differs from `changed_from` (a second at most), then until two
        captures in a row are the same (a blinking cursor makes that take a little longer)."""
        deadline = time.monotonic() + 1
        while changed_from is not None and self.colours() == changed_from and time.monotonic() < deadline:
            time.sleep(0.02)
        last, deadline = "", time.monotonic() + 5
        while (now := self.colours()) != last and time.monotonic() < deadline:
            last = now
            time.sleep(0.05)

    def screen(self) -> str:
        return subprocess.run([self.tmux, "capture-pane", "-p", "-t", self.session], capture_output=True,
                              text=True).stdout

    def wait(self, predicate: Callable[[str], bool], what: str, timeout: float = 30) -> str:
        """The screen once `predicate` holds of it; fails naming `what`, with the screen, after `timeout` s."""
        deadline = time.monotonic() + timeout
        while True:
            screen = self.screen()
            if predicate(screen):
                return screen
            if time.monotonic() > deadline or "EXITED=" in screen:  # or the app is gone
                pytest.fail(f"waited for {what}; the screen:\n{screen}")
            time.sleep(0.1)


def apply_wizard(term: Terminal, name: str, timeout: float = 60, already_open: bool = False) -> None:
    """In the wizard `name`: F3 (the plan, shown whole in the confirmation), y; then, once it is
    done, Esc back to the panes."""
    if not already_open:
        opened(term, name)
    term.press("f3")
    term.wait(lambda s: "Cancel" in s and "Apply (" in s, f"the {name} confirmation")
    term.press("y")
    screen = term.wait(lambda s: f"{name}: done" in s or "failed:" in s, f"the {name} apply", timeout)
    assert f"{name}: done" in screen, screen
    close(term)


# Seed 02's PCC, field by field: a mark per node on new connections from the WAN, a dst-nat per mark
SEED_02 = {
    **{f"[homelab-tui default/nginx tcp/80 pcc {i}]": {
        "chain": "prerouting", "action": "mark-connection", "in-interface": "all-ppp", "protocol": "tcp",
        "dst-port": "80", "new-connection-mark": f"kube_node_{i}",
        "per-connection-classifier": f"src-address-and-port:2/{i - 1}"} for i in (1, 2)},
    **{f"[homelab-tui default/nginx tcp/80 dstnat {i}]": {
        "chain": "dstnat", "action": "dst-nat", "connection-mark": f"kube_node_{i}", "protocol": "tcp",
        "to-addresses": address, "to-ports": "31681"} for i, address in ((1, "192.168.40.103"), (2, "192.168.40.104"))},
}


def assert_seed_02(lab) -> None:
    rules = {rule.get("comment"): rule for menu in ("/ip/firewall/mangle", "/ip/firewall/nat")
             for rule in lab.router.rules(menu)}
    assert {marker: {key: rules.get(marker, {}).get(key) for key in fields} for marker, fields in SEED_02.items()} \
        == SEED_02, rules
    assert lab.router.cloud.ddns_enabled


def palette(term: Terminal, title: str) -> None:
    """Ctrl+P, the entry's title typed (a value: not counted), Enter."""
    term.press("C-p")
    term.wait(lambda s: "Search for commands" in s, "the palette")
    subprocess.run([term.tmux, "send-keys", "-t", term.session, "-l", title], check=True)
    term.wait(lambda s: title in s, f"{title} in the palette")
    term.press("enter")


def opened(term: Terminal, name: str) -> None:
    term.wait(lambda s: f"{name.capitalize()} · F2 makes the plan" in s, f"the {name} wizard")
    term.settled()


def close(term: Terminal) -> None:
    """Esc, and wait until the screen it closes is gone: a key sent right after an Esc would be read
    with it as alt+key."""
    term.press("escape")
    term.wait(lambda s: "F2 makes the plan" not in s and "esc Close" not in s, "the panes again")


@pytest.mark.timeout(300)
def test_whole_chain_by_keystrokes(tmp_path):
    tmux = need_binary("tmux")
    runner = LabThread(tmp_path, "fresh")
    with runner:
        lab = runner.lab
        start = lab.snapshot()
        session = f"homelab-chain-{uuid.uuid4().hex[:8]}"
        subprocess.run([tmux, "new-session", "-d", "-s", session, "-x", str(WIDTH), "-y", str(HEIGHT),
                        f"sleep 1; XDG_STATE_HOME={tmp_path / 'state'} {ENTRY} --config {runner.config_path}; "
                        "echo EXITED=$?; sleep 30"], check=True)
        term = Terminal(tmux, session)
        try:
            began = time.monotonic()
            term.wait(lambda s: "B bootstraps a cluster" in s, "the app on the fresh lab")
            term.press("B")
            apply_wizard(term, "bootstrap")
            term.press("J")
            apply_wizard(term, "join", timeout=90)

            term.press("D")
            opened(term, "deploy")
            term.type("name", "nginx")
            term.press("tab")
            term.type("image", "nginx:1.27-alpine")  # not the hint, nginx:1.27: seen typed
            term.press("tab", "tab")  # container port: to expose
            term.press("enter", "down", "enter")  # expose: nodeport
            term.wait(lambda s: re.search(r"^ *node port ", s, re.M) is not None, "the node port row")
            term.press("tab")
            term.type("node port", "31681")  # (its hint is 31681 too: the plan shows it was typed)
            apply_wizard(term, "deploy", already_open=True)

            term.press("3")  # the Services pane alone, its cursor on the first row
            term.wait(lambda s: re.search(r"default +nginx +NodePort .* 80:31681/TCP", s) is not None,
                      "the nginx Service on NodePort 31681")
            term.press("j", "E")  # the nginx row
            opened(term, "expose")
            assert re.search(r"^ *service +default/nginx *$", term.screen(), re.M), term.screen()
            term.press("tab")  # to the nodes
            term.press("down", "space", "down", "space")  # node1, node2 (master1 is first)
            term.press("tab")  # to the host
            term.type("host", "nginx.example.org")  # (its hint too: the plan shows it was typed)
            apply_wizard(term, "expose", already_open=True)

            term.press("p")  # the probe of the row under the cursor, nginx
            screen = term.wait(lambda s: "Probe default/nginx" in s and " pods " in s, "the probe's hops")
            hops = dict(re.findall(r"^│ (\S+(?: \S+)*?)  +([✓✗?-] [A-Z]+(?: [A-Z]+)?)  ", screen, re.M))
            # every hop passes (the router's /tool/fetch and the nodes' curl reach the NodePort);
            # no DNS gateway was set up, so the check after the hops is "not checked"
            assert {hop: hops.get(hop) for hop in HOPS} == dict.fromkeys(HOPS, "✓ PASS"), screen
            assert "✗ FAIL" not in hops.values(), screen
            assert_seed_02(lab)
            answers = dig(runner, "nginx.example.org", "A")  # through the sim's DNS: Cloudflare's edge (proxied)
            ranges = [ipaddress.ip_network(cidr) for cidr in bundled_ip_ranges().ipv4_cidrs]
            assert answers and all(any(ipaddress.ip_address(a) in net for net in ranges) for a in answers), answers
            records = lab.snapshot()["cloudflare"]["example.org"]["records"]
            assert [(r["type"], r["name"], r["content"], r["proxied"]) for r in records
                    if r["comment"] == "[homelab-tui default/nginx tcp/80 dns]"] == [
                ("CNAME", "nginx.example.org", "529c0491d41c.sn.mynetname.net", True)], records
            close(term)

            term.press("U")  # on the nginx row
            apply_wizard(term, "unexpose")  # DDNS goes off too: expose turned it on, and nothing else uses it

            palette(term, "Undeploy an app")
            opened(term, "undeploy")
            term.type("name", "nginx")
            apply_wizard(term, "undeploy", already_open=True)

            palette(term, "Uninstall Kubernetes from nodes")
            opened(term, "uninstall")
            term.press("a")  # every node: master1, node1, node2
            apply_wizard(term, "uninstall", already_open=True, timeout=120)
            seconds = time.monotonic() - began
            print(f"whole chain: {term.keystrokes} keystrokes (typed values apart), {seconds:.1f} s "
                  f"(of which {term.pacing:.1f} s from a key sent to its effect drawn and settled)")
            assert seconds < 60  # the target; 40 keystrokes is not met (see the module's docstring)

            end = lab.snapshot()
            print("the end against the start:\n" + state_diff(start, end))
            assert (end["router"], end["cloudflare"]) == (start["router"], start["cloudflare"])
            # the nodes: as at the start but for what uninstall's plan says it leaves (hostname, cgroup flags)
            expected = kept_on_purpose(start, lab)
            assert end == expected, "the lab differs from its start:\n" + state_diff(expected, end)
        finally:
            subprocess.run([tmux, "kill-session", "-t", session], capture_output=True)
