"""The installed entry point: `check` against the sim lab, `sim` headless, and exit codes."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from pathlib import Path

import pytest

from homelab_tui.cli import main
from homelab_tui.sim.lab import Lab

EXAMPLE = Path(__file__).resolve().parents[2] / "config.toml.example"
CLI = [sys.executable, "-m", "homelab_tui"]


async def run_cli(*args: str, env: dict[str, str] | None = None, timeout: float = 60) -> tuple[int, str, str]:
    proc = await asyncio.create_subprocess_exec(
        *CLI, *args, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
        env={**os.environ, **(env or {})})
    out, err = await asyncio.wait_for(proc.communicate(), timeout)
    return proc.returncode, out.decode(), err.decode()


@pytest.fixture
async def running_lab(tmp_path):
    lab = Lab("running", tmp_path / "lab.d")
    await lab.start()
    try:
        yield lab
    finally:
        await lab.stop()


async def test_check_is_all_ok_against_the_running_lab(running_lab, tmp_path):
    config = running_lab.write_config(tmp_path / "lab.toml")
    code, out, err = await run_cli("check", "--config", str(config))
    assert code == 0, out + err
    lines = out.splitlines()
    assert any(line.startswith("OK") and "node master1" in line and "aarch64, Ubuntu 24.04.1 LTS" in line
               for line in lines), out
    assert any(line.startswith("OK") and "kubernetes" in line and "3 nodes (3 Ready)" in line for line in lines), out
    assert any(line.startswith("OK") and "router" in line and "hex-gw, RouterOS 7.16.2 (stable), RB760iGS" in line
               for line in lines), out
    assert any(line.startswith("OK") and "dns" in line and "example.org" in line for line in lines), out
    assert any(line.startswith("OK") and "cloudflare" in line and "token active" in line for line in lines), out
    assert "7/7 OK" in out
    assert running_lab.router_password not in out + err
    assert running_lab.cloudflare_token not in out + err


async def test_check_names_the_router_when_it_is_down(running_lab, tmp_path):
    config = running_lab.write_config(tmp_path / "lab.toml")
    await running_lab.router.stop()
    code, out, err = await run_cli("check", "--config", str(config), "--timeout", "5")
    assert code == 1, out + err
    router_line = next(line for line in out.splitlines() if " router " in f" {line} ")
    assert router_line.startswith("FAIL") and "127.0.0.1" in router_line
    assert "failing: router" in out
    assert "Traceback" not in err


async def test_check_reports_an_unknown_host_key(running_lab, tmp_path):
    config = running_lab.write_config(tmp_path / "lab.toml")
    running_lab.fleet.paths.known_hosts.write_text("")
    code, out, _ = await run_cli("check", "--config", str(config))
    assert code == 1
    node_line = next(line for line in out.splitlines() if "node master1" in line)
    assert node_line.startswith("FAIL") and "SHA256:" in node_line


async def test_bad_config_exits_2_naming_the_key_without_traceback(tmp_path):
    bad = tmp_path / "bad.toml"
    bad.write_text(EXAMPLE.read_text().replace("port = 8728", "port = 99999"))
    code, out, err = await run_cli("check", "--config", str(bad))
    assert code == 2
    assert "router.port (line" in err and "expected a port number 1-65535, got an integer (99999)" in err
    assert "Traceback" not in err


async def test_a_missing_config_is_one_line_on_stderr_and_exit_2():
    code, out, err = await run_cli("check", "--config", "/nonexistent")
    assert code == 2 and out == ""
    assert len(err.splitlines()) == 1, err  # no DeprecationWarning lines from the SSH library before it
    assert err.startswith("config /nonexistent: not found; run `homelab-tui init`")


def test_config_from_environment_and_bad_flags(tmp_path, monkeypatch, capsys):
    bad = tmp_path / "env.toml"
    bad.write_text("[cluster]\nname = 3\n")
    monkeypatch.setenv("HOMELAB_TUI_CONFIG", str(bad))
    assert main(["check"]) == 2
    assert "cluster.name (line 2): expected a string, got an integer (3)" in capsys.readouterr().err
    with pytest.raises(SystemExit) as exited:
        main(["check", "--timeout", "soon"])
    assert exited.value.code == 2
    assert "--timeout: expected a number of seconds, got 'soon'" in capsys.readouterr().err
    with pytest.raises(SystemExit) as exited:
        main(["sim", "--write-config", str(tmp_path / "x.toml"), "--preset", "broken"])
    assert exited.value.code == 2
    assert "--preset: invalid choice: 'broken'" in capsys.readouterr().err


async def test_sim_runs_headless_and_check_passes_against_it(tmp_path):
    config = tmp_path / "lab.toml"
    proc = await asyncio.create_subprocess_exec(
        *CLI, "sim", "--write-config", str(config), stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    try:
        banner = []
        while True:
            line = (await asyncio.wait_for(proc.stdout.readline(), 30)).decode()
            assert line, "sim exited early: " + (await proc.stderr.read()).decode()
            banner.append(line)
            if line.startswith("Ctrl-C"):
                break
        text = "".join(banner)
        assert f"config written to {config}" in text and "kubernetes" in text and "ssh master1" in text
        assert oct(config.stat().st_mode & 0o777) == "0o600"
        code, out, err = await run_cli("check", "--config", str(config))
        assert code == 0, out + err
    finally:
        proc.send_signal(signal.SIGINT)
        await asyncio.wait_for(proc.wait(), 20)
    assert proc.returncode == 0
    assert "Traceback" not in (await proc.stderr.read()).decode()
