"""Our SSH client against a real OpenSSH sshd on loopback (started and stopped by PID per test)."""

from __future__ import annotations

import asyncio
import platform
import secrets
import socket
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

import asyncssh
import pytest

from homelab_tui.clients.ssh import (
    HostKeyChanged,
    HostKeyUnknown,
    SshAuthFailed,
    SshSession,
    SshTarget,
    SshTimeout,
    SudoPasswordRejected,
    SudoPasswordRequired,
    append_known_host,
    facts,
)
from tests.conftest import need_binary

SUDO_USER_PASSWORD = "Tr0ub4dor-" + secrets.token_hex(4)


@dataclass
class Sshd:
    port: int
    host_public_key: asyncssh.SSHKey
    client_key_path: Path
    known_hosts: Path
    directory: Path

    def target(self, **overrides) -> SshTarget:
        settings = dict(
            host="127.0.0.1",
            port=self.port,
            user="root",
            identity_file=str(self.client_key_path),
            known_hosts=str(self.known_hosts),
            use_agent=False,
            config_path=None,
            connect_timeout=5,
        )
        settings.update(overrides)
        return SshTarget(**settings)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


async def _wait_for_port(port: int, proc: asyncio.subprocess.Process, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.returncode is not None:
            raise RuntimeError(f"sshd exited with {proc.returncode}")
        try:
            _reader, writer = await asyncio.open_connection("127.0.0.1", port)
        except OSError:
            await asyncio.sleep(0.05)
            continue
        writer.close()
        await writer.wait_closed()
        return
    raise RuntimeError("sshd did not start listening")


@pytest.fixture
async def sshd(tmp_path) -> Sshd:
    sshd_bin = need_binary("sshd")
    keygen = need_binary("ssh-keygen")
    Path("/run/sshd").mkdir(parents=True, exist_ok=True)
    host_key = tmp_path / "ssh_host_ed25519_key"
    subprocess.run([keygen, "-q", "-t", "ed25519", "-N", "", "-f", str(host_key)], check=True)
    client_key = asyncssh.generate_private_key("ssh-ed25519")
    client_key_path = tmp_path / "id_ed25519"
    client_key.write_private_key(str(client_key_path))
    client_key_path.chmod(0o600)
    (tmp_path / "authorized_keys").write_bytes(client_key.export_public_key())
    port = _free_port()
    config = tmp_path / "sshd_config"
    config.write_text(
        f"Port {port}\n"
        "ListenAddress 127.0.0.1\n"
        f"HostKey {host_key}\n"
        f"PidFile {tmp_path / 'sshd.pid'}\n"
        f"AuthorizedKeysFile .ssh/authorized_keys {tmp_path / 'authorized_keys'}\n"
        "StrictModes no\n"
        "UsePAM no\n"
        "PermitRootLogin yes\n"
        "PasswordAuthentication no\n"
        "KbdInteractiveAuthentication no\n"
        "Subsystem sftp internal-sftp\n"
        "LogLevel ERROR\n"
    )
    log = open(tmp_path / "sshd.log", "wb")
    proc = await asyncio.create_subprocess_exec(sshd_bin, "-D", "-e", "-f", str(config), stdout=log, stderr=log)
    try:
        await _wait_for_port(port, proc)
        host_public_key = asyncssh.read_public_key(str(host_key) + ".pub")
        known_hosts = tmp_path / "known_hosts"
        append_known_host(known_hosts, "127.0.0.1", port, host_public_key)
        yield Sshd(port, host_public_key, client_key_path, known_hosts, tmp_path)
    finally:
        if proc.returncode is None:
            proc.terminate()
            await proc.wait()
        log.close()


@pytest.fixture
def sudo_user(sshd):
    """A throw-away unprivileged user whose sudo needs a password; removed afterwards."""
    need_binary("sudo")
    useradd, chpasswd, userdel = need_binary("useradd"), need_binary("chpasswd"), need_binary("userdel")
    name = f"hlt{secrets.token_hex(3)}"
    subprocess.run([useradd, "-m", "-s", "/bin/sh", name], check=True)
    sudoers = Path(f"/etc/sudoers.d/{name}")
    try:
        subprocess.run([chpasswd], input=f"{name}:{SUDO_USER_PASSWORD}\n", text=True, check=True)
        sudoers.write_text(f"{name} ALL=(ALL) ALL\n")
        sudoers.chmod(0o440)
        ssh_dir = Path(f"/home/{name}/.ssh")
        ssh_dir.mkdir(mode=0o700)
        (ssh_dir / "authorized_keys").write_bytes((sshd.directory / "authorized_keys").read_bytes())
        subprocess.run(["chown", "-R", f"{name}:{name}", str(ssh_dir)], check=True)
        yield name
    finally:
        sudoers.unlink(missing_ok=True)
        subprocess.run([userdel, "-r", name], check=False, capture_output=True)


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


async def test_facts_reads_arch_os_and_hostname(sshd):
    pretty = next(
        line.split("=", 1)[1].strip().strip('"')
        for line in Path("/etc/os-release").read_text().splitlines()
        if line.startswith("PRETTY_NAME=")
    )
    async with SshSession(sshd.target()) as session:
        info = await facts(session)
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


async def test_engine_uploads_an_install_script_and_runs_it_with_sudo(sshd, sudo_user, tmp_path, monkeypatch):
    """The bootstrap builder's air-gapped install steps, applied by the engine to a real sshd: the
    script goes over SFTP, runs as root after one sudo password prompt, and streams its output."""
    from homelab_tui import engine
    from homelab_tui.config import load_config
    from homelab_tui.executors import SshExecutor
    from homelab_tui.plans import Plan, Target
    from homelab_tui.plans.nodes import NodeSpec, k3s_install_steps

    script = tmp_path / "install.sh"
    script.write_text('#!/bin/sh\necho "[INFO]  exec: $INSTALL_K3S_EXEC"\necho "[INFO]  running as uid $(id -u)"\n')
    config_file = tmp_path / "homelab.toml"
    config_file.write_text(
        f'[ssh]\nuser = "{sudo_user}"\nidentity_file = "{sshd.client_key_path}"\nknown_hosts = "{sshd.known_hosts}"\n'
        'use_agent = false\nconfig_file = ""\n'
        f'[[nodes]]\nname = "pi"\naddress = "192.168.40.102"\nrole = "server"\nssh_host = "127.0.0.1"\n'
        f'ssh_port = {sshd.port}\n')
    config = load_config(config_file)
    steps = k3s_install_steps(NodeSpec("pi", "192.168.40.102", "pi.kube.local"), str(script),
                              [("INSTALL_K3S_EXEC", "server --cluster-cidr=10.42.0.0/16")], "k3s", installed_reason="")
    plan = Plan("air-gapped install", tuple(steps[:2]))  # upload, run (this machine has no k3s to check)
    asked: list[str] = []

    async def password(host: str) -> str:
        asked.append(host)
        return SUDO_USER_PASSWORD

    events: list[object] = []
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))
    audit = engine.AuditLog(engine.default_audit_path())
    ssh = SshExecutor(config, sudo_password=password)
    try:
        result = await engine.apply_plan(plan, {Target.SSH: ssh}, on_event=events.append, audit=audit,
                                         extra_secrets=[SUDO_USER_PASSWORD])
    finally:
        await ssh.close()
    assert result.ok, result.error
    lines = [e.line for e in events if isinstance(e, engine.StepOutput)]
    assert "[INFO]  exec: server --cluster-cidr=10.42.0.0/16" in lines and "[INFO]  running as uid 0" in lines
    assert len(asked) == 1
    assert SUDO_USER_PASSWORD not in audit.path.read_text()

    # the same plan against a host whose key changed: refused before anything runs
    impostor = asyncssh.generate_private_key("ssh-ed25519")
    wrong = tmp_path / "wrong_known_hosts"
    append_known_host(wrong, "127.0.0.1", sshd.port, impostor)
    config.ssh.known_hosts = str(wrong)
    ssh = SshExecutor(config, sudo_password=password, trust_host_key=lambda unknown: asyncio.sleep(0, True))
    try:
        result = await engine.apply_plan(plan, {Target.SSH: ssh})
    finally:
        await ssh.close()
    assert not result.ok and "REMOTE HOST IDENTIFICATION HAS CHANGED" in result.error


async def test_node_facts_from_a_real_shell(sshd):
    """The facts script (every command in one line, markers between) parsed from a real sh."""
    import platform
    import socket

    from homelab_tui.gather import node_facts

    async with SshSession(sshd.target()) as session:
        facts = await node_facts(session)
    assert facts.arch == platform.machine() and facts.hostname == socket.gethostname()
    assert any(line.startswith("127.0.0.1 ") for line in facts.hosts_lines)
    assert facts.k3s_service == "" and not facts.kubeadm_role
