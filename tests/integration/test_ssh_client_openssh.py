"""Our SSH client against a real OpenSSH sshd on loopback (see conftest.py)."""

from __future__ import annotations

import platform
import socket
import subprocess
import time
from pathlib import Path

import asyncssh
import pytest

from homelab_tui.clients.ssh import (
    HostKeyChanged,
    HostKeyUnknown,
    SshAuthFailed,
    SshSession,
    SshTimeout,
    SudoPasswordRejected,
    SudoPasswordRequired,
    append_known_host,
)
from homelab_tui.facts.node import node_facts
from tests.conftest import need_binary
from tests.integration.conftest import SUDO_USER_PASSWORD

async def test_exit_status_stdout_and_stderr_come_through(sshd):
    async with SshSession(sshd.target()) as session:
        result = await session.run("echo out; echo err >&2; exit 3")
        assert (result.exit_status, result.stdout, result.stderr) == (3, "out\n", "err\n")
        assert (await session.run("true")).ok
        missing = await session.run("definitely-not-a-command-xyz")
        assert missing.exit_status == 127 and "not found" in missing.stderr
        assert await session.read_file("/etc/hostname") == Path("/etc/hostname").read_text()


async def test_stream_delivers_lines_incrementally_with_stderr(sshd):
    async with SshSession(sshd.target()) as session:
        stream = session.stream("for i in 1 2 3; do echo $i; sleep 0.2; done; echo oops >&2; exit 4")
        arrivals: list[tuple[float, str]] = []
        async for line in stream:
            arrivals.append((time.monotonic(), line))
    assert [line for _, line in arrivals] == ["1", "2", "3", "oops"]
    assert arrivals[1][0] - arrivals[0][0] > 0.1 and arrivals[2][0] - arrivals[1][0] > 0.1
    assert stream.exit_status == 4


async def test_run_timeout(sshd):
    async with SshSession(sshd.target()) as session:
        started = time.monotonic()
        with pytest.raises(SshTimeout):
            await session.run("sleep 5", timeout=0.3)
        assert time.monotonic() - started < 2


async def test_node_facts_read_arch_os_and_hostname(sshd):
    pretty = next(
        line.split("=", 1)[1].strip().strip('"')
        for line in Path("/etc/os-release").read_text().splitlines()
        if line.startswith("PRETTY_NAME=")
    )
    async with SshSession(sshd.target()) as session:
        info = await node_facts(session)
    assert (info.arch, info.os, info.hostname) == (platform.machine(), pretty, socket.gethostname())


async def test_unknown_and_changed_host_keys_are_refused(sshd, tmp_path):
    keygen = need_binary("ssh-keygen")
    printed = subprocess.run(
        [keygen, "-lf", str(sshd.directory / "ssh_host_ed25519_key.pub")], capture_output=True, text=True, check=True
    ).stdout.split()[1]

    with pytest.raises(HostKeyUnknown) as unknown:
        async with SshSession(sshd.target(known_hosts=str(tmp_path / "missing_known_hosts"))):
            pass
    assert unknown.value.fingerprint == printed

    impostor = asyncssh.generate_private_key("ssh-ed25519")
    wrong = tmp_path / "wrong_known_hosts"
    append_known_host(wrong, "127.0.0.1", sshd.port, impostor)
    with pytest.raises(HostKeyChanged) as changed:
        async with SshSession(sshd.target(known_hosts=str(wrong))):
            pass
    assert changed.value.new_fingerprint == printed
    assert changed.value.old_fingerprint == impostor.get_fingerprint("sha256")


async def test_wrong_client_key_is_an_auth_failure(sshd, tmp_path):
    stranger = tmp_path / "stranger"
    asyncssh.generate_private_key("ssh-ed25519").write_private_key(str(stranger))
    with pytest.raises(SshAuthFailed):
        async with SshSession(sshd.target(identity_file=str(stranger))):
            pass


async def test_sftp_upload_sets_content_and_mode(sshd, tmp_path):
    remote = tmp_path / "uploaded" / "install.sh"
    remote.parent.mkdir()
    async with SshSession(sshd.target()) as session:
        await session.upload(b"#!/bin/sh\necho installed \"$@\"\n", str(remote), mode=0o750)
        result = await session.run(f"{remote} now")
    assert remote.read_bytes() == b"#!/bin/sh\necho installed \"$@\"\n"
    assert remote.stat().st_mode & 0o777 == 0o750
    assert result.stdout == "installed now\n"


async def test_sudo_with_a_password(sshd, sudo_user):
    user_target = sshd.target(user=sudo_user)
    with pytest.raises(SudoPasswordRequired):
        async with SshSession(user_target) as session:
            await session.run("id -un", sudo=True)

    asked: list[str] = []

    async def ask(host: str) -> str:
        asked.append(host)
        return SUDO_USER_PASSWORD

    async with SshSession(user_target, sudo_password=ask) as session:
        assert (await session.run("id -un")).stdout == f"{sudo_user}\n"
        first = await session.run("id -un", sudo=True)
        second = await session.run("id -u && echo done", sudo=True)
        streamed = [line async for line in session.stream("id -un", sudo=True)]
    assert (first.stdout, second.stdout, streamed) == ("root\n", "0\ndone\n", ["root"])
    assert asked == [f"127.0.0.1:{sshd.port}"]
    assert all(SUDO_USER_PASSWORD not in repr(r) for r in (first, second))

    async def wrong(host: str) -> str:
        return "not-" + SUDO_USER_PASSWORD

    with pytest.raises(SudoPasswordRejected) as rejected:
        async with SshSession(user_target, sudo_password=wrong) as session:
            await session.run("id -un", sudo=True)
    assert SUDO_USER_PASSWORD not in str(rejected.value)


async def test_node_facts_from_a_real_shell(sshd):
    """The facts script (every command in one line, markers between) parsed from a real sh."""
    import platform
    import socket


    async with SshSession(sshd.target()) as session:
        facts = await node_facts(session)
    assert facts.arch == platform.machine() and facts.hostname == socket.gethostname()
    assert any(line.startswith("127.0.0.1 ") for line in facts.hosts_lines)
    assert facts.k3s_service == "" and not facts.kubeadm_role
