"""A real OpenSSH sshd on loopback for the integration tests, started and stopped by PID per test.

`sandboxed_sshd` runs it in its own mount and UTS namespaces, over a copy of /etc and an empty
/usr/local/bin, so that a whole bootstrap (hostname, /etc/hosts, an install script run as root)
changes the copy and never this machine.
"""

from __future__ import annotations

import asyncio
import secrets
import socket
import subprocess
import time
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

import asyncssh
import pytest

from homelab_tui.clients.ssh import SshTarget, append_known_host
from tests.conftest import need_binary

SUDO_USER_PASSWORD = "Tr0ub4dor-" + secrets.token_hex(4)

# Runs as root inside the new namespaces, then becomes sshd: "$1" is the sandbox directory.
SANDBOX_SETUP = """set -e
mount --bind "$1/etc" /etc
mount --bind "$1/bin" /usr/local/bin
shift
exec "$@"
"""


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


def free_port() -> int:
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


@asynccontextmanager
async def running_sshd(directory: Path, client_key: Path, wrapper: Sequence[str] = ()) -> AsyncIterator[Sshd]:
    """sshd on a free loopback port, with a fresh host key, accepting `client_key`; `wrapper` is
    put before the sshd command line (e.g. to start it in namespaces)."""
    sshd_bin = need_binary("sshd")
    keygen = need_binary("ssh-keygen")
    Path("/run/sshd").mkdir(parents=True, exist_ok=True)
    host_key = directory / "ssh_host_ed25519_key"
    subprocess.run([keygen, "-q", "-t", "ed25519", "-N", "", "-f", str(host_key)], check=True)
    port = free_port()
    config = directory / "sshd_config"
    config.write_text(
        f"Port {port}\n"
        "ListenAddress 127.0.0.1\n"
        f"HostKey {host_key}\n"
        f"PidFile {directory / 'sshd.pid'}\n"
        f"AuthorizedKeysFile .ssh/authorized_keys {directory / 'authorized_keys'}\n"
        "StrictModes no\n"
        "UsePAM no\n"
        "PermitRootLogin yes\n"
        "PasswordAuthentication no\n"
        "KbdInteractiveAuthentication no\n"
        "Subsystem sftp internal-sftp\n"
        "LogLevel ERROR\n"
    )
    with open(directory / "sshd.log", "wb") as log:
        proc = await asyncio.create_subprocess_exec(*wrapper, sshd_bin, "-D", "-e", "-f", str(config),
                                                    stdout=log, stderr=log)
        try:
            await _wait_for_port(port, proc)
            host_public_key = asyncssh.read_public_key(str(host_key) + ".pub")
            known_hosts = directory / "known_hosts"
            append_known_host(known_hosts, "127.0.0.1", port, host_public_key)
            yield Sshd(port, host_public_key, client_key, known_hosts, directory)
        finally:
            if proc.returncode is None:
                proc.terminate()
                await proc.wait()


@pytest.fixture
def client_key(tmp_path) -> Path:
    """A client key pair; its public half is in tmp_path/authorized_keys."""
    key = asyncssh.generate_private_key("ssh-ed25519")
    path = tmp_path / "id_ed25519"
    key.write_private_key(str(path))
    path.chmod(0o600)
    (tmp_path / "authorized_keys").write_bytes(key.export_public_key())
    return path


@pytest.fixture
async def sshd(tmp_path, client_key) -> AsyncIterator[Sshd]:
    async with running_sshd(tmp_path, client_key) as server:
        yield server


@pytest.fixture
def sudo_user(tmp_path, client_key):
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
        (ssh_dir / "authorized_keys").write_bytes((tmp_path / "authorized_keys").read_bytes())
        subprocess.run(["chown", "-R", f"{name}:{name}", str(ssh_dir)], check=True)
        yield name
    finally:
        sudoers.unlink(missing_ok=True)
        subprocess.run([userdel, "-r", name], check=False, capture_output=True)


@dataclass
class Sandbox:
    """What the sandboxed sshd sees as /etc and /usr/local/bin, from this side."""

    etc: Path
    bin: Path

    def add_command(self, name: str, script: str) -> None:
        path = self.bin / name
        path.write_text(script)
        path.chmod(0o755)


@pytest.fixture
def sandbox(tmp_path, sudo_user) -> Sandbox:
    """A copy of /etc (taken after sudo_user exists, so its login and sudo rule come along)."""
    need_binary("unshare")
    root = tmp_path / "sandbox"
    root.mkdir()
    subprocess.run(["cp", "-a", "/etc", str(root / "etc")], check=True)
    (root / "bin").mkdir()
    return Sandbox(root / "etc", root / "bin")


@pytest.fixture
async def sandboxed_sshd(tmp_path, client_key, sandbox) -> AsyncIterator[Sshd]:
    unshare = need_binary("unshare")
    wrapper = [unshare, "--mount", "--uts", "--propagation", "private", "sh", "-c", SANDBOX_SETUP, "sh",
               str(sandbox.etc.parent)]
    async with running_sshd(tmp_path, client_key, wrapper) as server:
        yield server
