"""A clean first run: the next step without a config, `init`, host keys trusted from `check`, a
hanging password command stopped at the timeout, errors that name their file, host and reason,
and the demo cleaning up after itself on SIGHUP and SIGTERM."""

from __future__ import annotations

import os
import pty
import signal
import stat
import subprocess
import sys
import time
from pathlib import Path

import asyncssh
import pytest

from homelab_tui.cli import main
from homelab_tui.config import SecretError, example_config_text, load_config, read_secret
from tests.integration.test_cli import CLI, run_cli, running_lab  # noqa: F401 (running_lab: a fixture)

ROOT = Path(__file__).resolve().parents[2]




# --- no config yet ----------------------------------------------------------------------------


def test_without_a_config_the_app_and_check_show_the_next_step(tmp_path, monkeypatch, capsys):
    monkeypatch.delenv("HOMELAB_TUI_CONFIG", raising=False)
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path))
    for argv in ([], ["check"]):
        assert main(argv) == 2
        err = capsys.readouterr().err
        assert str(tmp_path / "homelab-tui" / "config.toml") in err
        assert "homelab-tui init" in err and "homelab-tui --demo" in err and "Traceback" not in err


# --- init -------------------------------------------------------------------------------------


def test_init_writes_the_example_privately_and_never_overwrites_without_force(tmp_path, monkeypatch, capsys):
    monkeypatch.delenv("HOMELAB_TUI_CONFIG", raising=False)
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg"))  # the folder does not exist yet
    target = tmp_path / "xdg" / "homelab-tui" / "config.toml"
    assert main(["init", "--node", "m1=192.168.1.10", "--node", "w1=192.168.1.11", "--router", "192.168.1.1"]) == 0
    assert str(target) in capsys.readouterr().out
    assert stat.S_IMODE(target.stat().st_mode) == 0o600
    config = load_config(target)
    assert [(n.name, n.address, n.role) for n in config.nodes] == [("m1", "192.168.1.10", "server"),
                                                                   ("w1", "192.168.1.11", "agent")]
    assert config.router.host == "192.168.1.1" and config.dns.nameservers == ["192.168.1.1"]
    assert "# " in target.read_text()  # still the commented example
    first = target.read_text()

    assert main(["init"]) == 2  # never overwrites without --force
    err = capsys.readouterr().err
    assert str(target) in err and "--force" in err
    assert target.read_text() == first

    assert main(["init", "--force"]) == 0  # the example's own lab, the previous file kept
    backup = target.with_name("config.toml.bak")
    assert backup.read_text() == first and stat.S_IMODE(backup.stat().st_mode) == 0o600
    assert [n.name for n in load_config(target).nodes] == ["master1", "node1", "node2"]
    assert sorted(p.name for p in target.parent.iterdir()) == ["config.toml", "config.toml.bak"]  # no temp files


def test_the_example_is_package_data():
    assert example_config_text() == (ROOT / "config.toml.example").read_text()
    wheel_data = subprocess.run([sys.executable, "-c", "import tomllib, pathlib; d = tomllib.loads(pathlib.Path("
                                 "'pyproject.toml').read_text()); print(d['tool']['setuptools']['package-data'])"],
                                cwd=ROOT, capture_output=True, text=True, check=True).stdout
    assert "config.toml.example" in wheel_data


# --- secrets ----------------------------------------------------------------------------------


def test_a_hanging_password_command_is_killed_at_the_timeout_with_its_children(tmp_path):
    marker = tmp_path / "child-alive"
    command = f"sh -c 'sleep 30; touch {marker}' "
    started = time.monotonic()
    with pytest.raises(SecretError, match=r"router.password_command: printed nothing within 1s"):
        read_secret("router.password", command=f"sh -c \"{command} & wait\"", timeout=1)
    assert time.monotonic() - started < 3


def test_check_stops_a_hanging_password_command_at_its_timeout(tmp_path, capsys):
    config = tmp_path / "config.toml"
    config.write_text('[cluster]\nname = "lab"\nkubeconfig = "missing-kubeconfig"\n'
                      '[router]\nhost = "127.0.0.1"\npassword_command = "sleep 30"\n')
    started = time.monotonic()
    assert main(["check", "--config", str(config), "--timeout", "1"]) == 1
    assert time.monotonic() - started < 4
    out = capsys.readouterr().out
    router = next(line for line in out.splitlines() if " router " in f" {line} ")
    assert router.startswith("FAIL") and "router.password_command: printed nothing within 1s" in router


# --- errors that name their file, host and reason ----------------------------------------------


async def test_ssh_errors_name_the_host_port_and_the_reason(tmp_path):
    from homelab_tui.clients.ssh import SshError, SshRefused, SshSession, SshTarget

    base = dict(known_hosts=str(tmp_path / "known_hosts"), config_path=None, use_agent=False, connect_timeout=2)
    with pytest.raises(SshRefused, match=r"master1: 127.0.0.1:1: connection refused"):
        async with SshSession(SshTarget(host="127.0.0.1", port=1, name="master1", **base)):
            pass
    with pytest.raises(SshError, match=r"nowhere.invalid:22: cannot resolve the host name"):
        async with SshSession(SshTarget(host="nowhere.invalid", port=22, **base)):
            pass
    (tmp_path / "bad_key").write_text("-----BEGIN OPENSSH PRIVATE KEY-----\nabc\n")
    with pytest.raises(SshError, match=rf"identity file {tmp_path}/bad_key: not a private key"):
        async with SshSession(SshTarget(host="127.0.0.1", port=1, identity_file=str(tmp_path / "bad_key"), **base)):
            pass


def test_a_missing_identity_file_names_the_key_and_the_path(running_lab, tmp_path, capsys):
    text = running_lab.write_config(tmp_path / "lab.toml").read_text()
    config = tmp_path / "lab.toml"
    config.write_text(text.replace(str(running_lab.fleet.paths.client_key), "~/no-such-dir/id_ed25519"))
    assert main(["check", "--config", str(config)]) == 2
    err = capsys.readouterr().err
    assert "ssh.identity_file (line" in err and "~/no-such-dir/id_ed25519" in err and "not found" in err


async def test_router_tls_on_the_plain_api_port_says_so(running_lab):
    from homelab_tui.clients.router import RouterClient, RouterUnreachable

    with pytest.raises(RouterUnreachable, match=r"TLS.*is \d+ the api-ssl port"):
        async with RouterClient("127.0.0.1", running_lab.router.port, "admin", running_lab.router_password,
                                tls=True, timeout=3):
            pass


# --- host keys from check -------------------------------------------------------------------


async def test_check_shows_every_new_host_key_and_trusts_them_when_asked(running_lab, tmp_path):
    config = running_lab.write_config(tmp_path / "lab.toml")
    known_hosts = running_lab.fleet.paths.known_hosts
    known_hosts.write_text("")
    code, out, _ = await run_cli("check", "--config", str(config))
    assert code == 1
    for node in ("master1", "node1", "node2"):
        line = next(line for line in out.splitlines() if f"node {node} " in line)
        assert line.startswith("FAIL") and "SHA256:" in line
    assert "check --accept-new-host-keys" in out and "node master1, node node1, node node2" in out

    code, out, err = await run_cli("check", "--config", str(config), "--accept-new-host-keys")
    assert code == 0, out + err
    assert out.count("trusting new host key SHA256:") == 3
    assert len(known_hosts.read_text().splitlines()) == 3

    # A changed key is refused, flag or not.
    other = asyncssh.generate_private_key("ssh-ed25519").export_public_key("openssh").decode().split()[:2]
    lines = known_hosts.read_text().splitlines()
    lines[0] = f"{lines[0].split()[0]} {' '.join(other)}"
    known_hosts.write_text("\n".join(lines) + "\n")
    code, out, _ = await run_cli("check", "--config", str(config), "--accept-new-host-keys")
    assert code == 1 and "CHANGED" in out and "trusting" not in out


# --- the demo ---------------------------------------------------------------------------------


def test_demo_passes_read_only_to_the_app(monkeypatch):
    import homelab_tui.ui.app as app_module

    seen = {}

    class Recorder:
        def __init__(self, config, *, read_only=False, **_):
            seen["read_only"] = read_only
            self.is_running = False

        async def run_async(self):
            seen["ran"] = True

    monkeypatch.setattr(app_module, "HomelabApp", Recorder)
    assert main(["--demo", "--read-only"]) == 0
    assert seen == {"read_only": True, "ran": True}


@pytest.mark.parametrize("signum", [signal.SIGHUP, signal.SIGTERM])
def test_demo_removes_its_private_directory_on_a_signal(tmp_path, signum):
    primary, secondary = pty.openpty()  # the demo's terminal; closing it is what sends SIGHUP
    env = {**os.environ, "TMPDIR": str(tmp_path), "TERM": "xterm-256color", "COLUMNS": "120", "LINES": "40"}
    proc = subprocess.Popen([*CLI, "--demo"], stdin=secondary, stdout=secondary, stderr=secondary, env=env,
                            start_new_session=True)
    os.close(secondary)
    output = bytearray()
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:  # wait for the app to draw its panes
            try:
                chunk = os.read(primary, 65536)
            except OSError:
                break
            output += chunk
            if b"Nodes" in output and list(tmp_path.glob("homelab-demo-*/lab.toml")):
                break
        assert list(tmp_path.glob("homelab-demo-*/lab.toml")), output[-2000:]
        proc.send_signal(signum)
        deadline = time.monotonic() + 30
        while proc.poll() is None and time.monotonic() < deadline:
            try:
                os.read(primary, 65536)  # keep draining, as a terminal would
            except OSError:
                time.sleep(0.05)
        assert proc.wait(5) is not None
    finally:
        if proc.poll() is None:
            proc.kill()
        os.close(primary)
    assert list(tmp_path.glob("homelab-demo-*")) == []
    assert b"Traceback" not in output


def test_init_asks_for_the_nodes_and_the_router_on_a_terminal(tmp_path, monkeypatch, capsys):
    answers = iter(["master1=192.168.50.2", "oops", "worker=192.168.50.3", "", "10.0.0.1 x", "192.168.50.1"])
    monkeypatch.setattr("sys.stdin.isatty", lambda: True)
    monkeypatch.setattr("builtins.input", lambda prompt="": next(answers))
    target = tmp_path / "config.toml"
    assert main(["init", "--config", str(target)]) == 0
    out = capsys.readouterr().out
    assert "expected NAME=ADDRESS" in out and "expected a hostname or IP address" in out  # asked again
    config = load_config(target)
    assert [(n.name, n.address) for n in config.nodes] == [("master1", "192.168.50.2"), ("worker", "192.168.50.3")]
    assert config.router.host == "192.168.50.1"
