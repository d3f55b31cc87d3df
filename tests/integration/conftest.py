"""A real OpenSSH sshd on loopback for the integration tests, started and stopped by PID per test.

`sandboxed_sshd` runs it in its own mount and UTS namespaces, over a copy of /etc and an empty
/usr/local/bin, so that a whole bootstrap (hostname, /etc/hosts, an install script run as root)
changes the copy and never this machine.

The simulated Kubernetes API and the real kubectl against it: `running_kube_sim`, and the
`kubeconfig` / `kubectl_env` fixtures built on the test module's own `sim` fixture.
"""

from __future__ import annotations

import asyncio
import os
import secrets
import socket
import subprocess
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import asyncssh
import pytest

from homelab_tui.clients.ssh import SshTarget, append_known_host
from homelab_tui.sim.kube_api import KubeApiSim
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


# --- the simulated Kubernetes API, and kubectl against it -------------------------------------

LAB_NODES = (("master1", "192.168.40.102"), ("node1", "192.168.40.103"), ("node2", "192.168.40.104"))


@asynccontextmanager
async def running_kube_sim(token: str, nodes: Sequence[tuple[str, str]] = LAB_NODES,
                           **options: Any) -> AsyncIterator[KubeApiSim]:
    """A KubeApiSim serving on loopback with `nodes` (name, address) joined: the first as the
    control plane, the others as workers. `options` go to KubeApiSim."""
    server = KubeApiSim(token, **options)
    for index, (name, address) in enumerate(nodes):
        server.add_node(name, address, roles=("control-plane", "master") if index == 0 else ())
    async with server:
        yield server


@pytest.fixture
def kubeconfig(sim: KubeApiSim, tmp_path: Path) -> Path:
    """A kubeconfig for the test module's `sim`, in tmp_path."""
    return sim.write_kubeconfig(tmp_path / "kubeconfig")


@pytest.fixture
def kubectl_env(kubeconfig: Path, tmp_path: Path) -> dict[str, str]:
    """kubectl's environment: HOME and KUBECONFIG in tmp_path, never the user's."""
    return {"PATH": os.environ.get("PATH", ""), "HOME": str(tmp_path), "KUBECONFIG": str(kubeconfig)}


async def kubectl(env: dict[str, str], *args: str, timeout: float = 20) -> tuple[int, str, str]:
    """Run the real kubectl as an asyncio subprocess (the sim serves from the test's event loop, so a
    blocking subprocess.run would deadlock): (exit code, stdout, stderr)."""
    binary = need_binary("kubectl")
    process = await asyncio.create_subprocess_exec(binary, *args, env=env, stdout=asyncio.subprocess.PIPE,
                                                   stderr=asyncio.subprocess.PIPE)
    try:
        out, err = await asyncio.wait_for(process.communicate(), timeout)
    except TimeoutError:
        process.kill()
        await process.wait()
        raise
    return process.returncode or 0, out.decode(), err.decode()


async def eventually(check: Callable[[], Awaitable[Any]], timeout: float = 10.0) -> Any:
    """Poll an async check until it returns something truthy."""
    deadline = time.monotonic() + timeout
    while True:
        result = await check()
        if result or time.monotonic() > deadline:
            assert result, "condition not reached in time"
            return result
        await asyncio.sleep(0.1)


def rows(output: str) -> list[list[str]]:
    """The rows of kubectl's table output, split on whitespace, without the header."""
    return [line.split() for line in output.strip().splitlines()[1:]]
