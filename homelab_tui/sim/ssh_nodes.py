"""Simulated Raspberry Pi nodes reachable over real SSH: one asyncssh server per node on 127.0.0.1.

Each node has its own ed25519 host key, accepts public-key logins for one user (default
`ubuntu`, a sudoer), serves SFTP from its in-memory files, and runs commands through a small
POSIX-shell interpreter that knows the bootstrap commands of the reference lab. Anything else
exits 127 with `sh: 1: <cmd>: not found`. A fleet of nodes shares one client key and writes the
known_hosts and ssh_config files OpenSSH needs to reach them.

The node itself lives in `homelab_tui.sim.node`: its state (`node.state.SimNodeState`), the
shell (`node.shell`, its parser and its commands in `node.commands`, where the canonical
commands the plans use are listed) and SFTP (`node.sftp`). The cluster side (the Kubernetes
sim) is reached through the `node.cluster.SimCluster` hooks.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

import asyncssh

from homelab_tui.files import atomic_write

from .node.cluster import InMemoryCluster, SimCluster
from .node.proc import Input, Proc, Sink
from .node.sftp import NodeSftp
from .node.shell import NodeShell
from .node.state import PATH_DIRS, SimNodeState, os_pretty_name

log = logging.getLogger(__name__)


class _ChannelOutput:
    """A served command's stdout and stderr on its SSH channel, in the order written. What the
    command writes without pausing (one turn of the event loop) goes out together, as sshd
    forwards whatever the command's pipes hold when it reads them, rather than as one SSH packet
    per line (which would cost the client and the sim CPU a real node never asks for). A command
    that pauses between lines (paced output, the install's progress) still streams them."""

    def __init__(self, process: asyncssh.SSHServerProcess) -> None:
        self._process = process
        self._pending: list[tuple[bool, list[str]]] = []  # (stderr?, texts), in the order written
        self._scheduled = False

    def writer(self, stderr: bool = False) -> Callable[[str], None]:
        def write(text: str) -> None:
            if self._pending and self._pending[-1][0] == stderr:
                self._pending[-1][1].append(text)
            else:
                self._pending.append((stderr, [text]))
            if not self._scheduled:
                self._scheduled = True
                asyncio.get_running_loop().call_soon(self._flush_soon)

        return write

    def flush(self) -> None:
        """Send what is pending now (before the exit status, which must follow it)."""
        self._scheduled = False
        pending, self._pending = self._pending, []
        for stderr, texts in pending:
            (self._process.stderr if stderr else self._process.stdout).write("".join(texts))

    def _flush_soon(self) -> None:
        if not self._scheduled:  # flushed already
            return
        try:
            self.flush()
        except (asyncssh.Error, BrokenPipeError, ConnectionError):
            pass  # the channel is gone (a reboot, the client left); the command ends unheard


class _NodeServer(asyncssh.SSHServer):
    def __init__(self, sim: SshNodeSim) -> None:
        self._sim = sim
        self._conn: asyncssh.SSHServerConnection | None = None

    def connection_made(self, conn: asyncssh.SSHServerConnection) -> None:
        self._conn = conn
        self._sim._connections.add(conn)

    def connection_lost(self, exc: Exception | None) -> None:
        self._sim._connections.discard(self._conn)

    def begin_auth(self, username: str) -> bool:
        if username == self._sim.state.user and self._sim._authorized_keys and self._conn is not None:
            self._conn.set_authorized_keys(self._sim._authorized_keys)
        return True

    def password_auth_supported(self) -> bool:
        return False


@dataclass(frozen=True)
class CommandOutcome:
    exit_status: int
    stdout: str
    stderr: str


class SshNodeSim:
    """One simulated node: an SSH server on 127.0.0.1 with its own host key and the node shell.

    `line_delay` paces every output line sent over SSH; `install_delay` is roughly how long a
    k3s install or kubeadm init/join takes in total; `reboot_delay` is how long the node
    refuses connections after `reboot`. `port=0` lets the OS pick; a reboot keeps the port.
    """

    def __init__(
        self,
        state: SimNodeState,
        *,
        cluster: SimCluster | None = None,
        client_keys: Iterable[asyncssh.SSHKey] = (),
        host_key: asyncssh.SSHKey | None = None,
        line_delay: float = 0.0,
        install_delay: float = 0.0,
        reboot_delay: float = 0.5,
        port: int = 0,
    ) -> None:
        self.state = state
        self.cluster: SimCluster = cluster if cluster is not None else InMemoryCluster()
        self.host_key = host_key or asyncssh.generate_private_key("ssh-ed25519")
        self.line_delay = line_delay
        self.install_delay = install_delay
        self.reboot_delay = reboot_delay
        self.rebooting = False
        self.shell = NodeShell(self)
        self._port = port
        self._client_keys: list[asyncssh.SSHKey] = []
        self._authorized_keys: asyncssh.SSHAuthorizedKeys | None = None
        self._listener: asyncssh.SSHAcceptor | None = None
        self._connections: set[asyncssh.SSHServerConnection] = set()
        self._reboot_task: asyncio.Task[None] | None = None
        for key in client_keys:
            self.authorize(key)

    def __repr__(self) -> str:
        return f"SshNodeSim({self.state.name!r}, port={self._port}, up={self.is_up})"

    @property
    def port(self) -> int:
        return self._port

    @property
    def host_public_key(self) -> asyncssh.SSHKey:
        return self.host_key.convert_to_public()

    @property
    def is_up(self) -> bool:
        return self._listener is not None

    def authorize(self, public_key: asyncssh.SSHKey) -> None:
        """Allow `public_key` to log in as the node's user."""
        self._client_keys.append(public_key.convert_to_public())
        lines = "".join(k.export_public_key("openssh").decode() for k in self._client_keys)
        self._authorized_keys = asyncssh.import_authorized_keys(lines)

    async def start(self) -> None:
        self._listener = await asyncssh.listen(
            "127.0.0.1",
            self._port,
            server_factory=lambda: _NodeServer(self),
            server_host_keys=[self.host_key],
            process_factory=self._serve_process,
            sftp_factory=lambda chan: NodeSftp(chan, self.state),
            reuse_address=True,
            keepalive_interval=0,
        )
        self._port = self._listener.get_port()

    async def stop(self) -> None:
        if self._reboot_task is not None:
            self._reboot_task.cancel()
            await asyncio.gather(self._reboot_task, return_exceptions=True)
            self._reboot_task = None
        await self._go_down()
        self.rebooting = False

    async def run_command(self, command: str, *, root: bool = False, stdin: str = "") -> CommandOutcome:
        """Run a command line on the node without SSH (for the lab's presets and quick checks)."""
        out, err = Sink(), Sink()
        status = await self.shell.run_line(command, Proc(root, self._login_env(root), Input(stdin), out, err))
        return CommandOutcome(status, out.text(), err.text())

    def _login_env(self, root: bool) -> dict[str, str]:
        user = "root" if root else self.state.user
        home = "/root" if root else self.state.home
        return {"HOME": home, "USER": user, "LOGNAME": user, "PATH": ":".join(PATH_DIRS), "SHELL": "/bin/bash"}

    async def _serve_process(self, process: asyncssh.SSHServerProcess) -> None:
        output = _ChannelOutput(process)
        out = Sink(output.writer(), self.line_delay)
        err = Sink(output.writer(stderr=True), self.line_delay)
        proc = Proc(False, self._login_env(False), Input(reader=process.stdin), out, err)
        try:
            if process.command is None:
                status = await self._interactive(output, process, proc)
            else:
                status = await self.shell.run_line(process.command, proc)
        except (asyncssh.Error, BrokenPipeError, ConnectionError):
            return
        except Exception:  # a bug in the interpreter must not kill the server: report it like a crash
            log.exception("%s: the simulated shell crashed on `%s ...`", self.state.name, " ".join(process.command.split()[:1]))
            output.writer(stderr=True)("sh: internal error in the simulated shell\n")
            status = 70
        if self.rebooting:
            return
        try:
            output.flush()  # what the command wrote, then its exit status
        except (asyncssh.Error, BrokenPipeError, ConnectionError):
            return
        process.exit(status)

    async def _interactive(self, output: _ChannelOutput, process: asyncssh.SSHServerProcess,
                           proc: Proc) -> int:
        """A minimal login shell: one command per line, `exit` to leave."""
        status = 0
        write = output.writer()
        write(f"Welcome to {os_pretty_name(self.state.os_release)} (GNU/Linux {self.state.kernel} {self.state.arch})\n\n")
        while not self.rebooting:
            write(f"{self.state.user}@{self.state.hostname}:~$ ")
            line = await process.stdin.readline()
            if not line or line.strip() in ("exit", "logout"):
                break
            status = await self.shell.run_line(line.strip(), dataclasses.replace(proc, stdin=Input()))
        return status

    def begin_reboot(self) -> None:
        """Go down now (listener and sessions closed), come back after `reboot_delay` seconds."""
        if self.rebooting:
            return
        self.rebooting = True
        log.info("%s: rebooting for %.1fs", self.state.name, self.reboot_delay)
        self._reboot_task = asyncio.get_running_loop().create_task(self._reboot_cycle())

    async def _reboot_cycle(self) -> None:
        await self._go_down()
        await asyncio.sleep(self.reboot_delay)
        self.state.boot()
        await self.start()
        self.rebooting = False
        self._reboot_task = None

    async def _go_down(self) -> None:
        listener, self._listener = self._listener, None
        if listener is not None:
            listener.close()
        for conn in list(self._connections):
            conn.close()
        if listener is not None:
            await listener.wait_closed()
        for conn in list(self._connections):
            await conn.wait_closed()


def _public_key_line(key: asyncssh.SSHKey) -> str:
    """`ssh-ed25519 AAAA...` without the comment, as known_hosts wants it."""
    return " ".join(key.export_public_key("openssh").decode().split()[:2])


@dataclass(frozen=True)
class FleetPaths:
    client_key: Path
    known_hosts: Path
    ssh_config: Path


class SshNodeFleet:
    """Several `SshNodeSim`s sharing one client key, plus known_hosts and ssh_config files.

    known_hosts keys each node as `[127.0.0.1]:port` (how OpenSSH and asyncssh look up
    non-22 ports); ssh_config maps each node name to its port, so
    `ssh -F <ssh_config> master1.kube.local` works.
    """

    def __init__(
        self,
        states: Iterable[SimNodeState],
        directory: str | Path,
        *,
        cluster: SimCluster | None = None,
        line_delay: float = 0.0,
        install_delay: float = 0.0,
        reboot_delay: float = 0.5,
    ) -> None:
        self.directory = Path(directory)
        self.cluster: SimCluster = cluster if cluster is not None else InMemoryCluster()
        self.client_key = asyncssh.generate_private_key("ssh-ed25519", comment="homelab-tui-sim")
        self.nodes: dict[str, SshNodeSim] = {
            state.name: SshNodeSim(
                state,
                cluster=self.cluster,
                client_keys=[self.client_key],
                line_delay=line_delay,
                install_delay=install_delay,
                reboot_delay=reboot_delay,
            )
            for state in states
        }
        self.paths = FleetPaths(
            client_key=self.directory / "id_ed25519",
            known_hosts=self.directory / "known_hosts",
            ssh_config=self.directory / "ssh_config",
        )

    def __getitem__(self, name: str) -> SshNodeSim:
        return self.nodes[name]

    async def start(self) -> FleetPaths:
        self.directory.mkdir(parents=True, exist_ok=True)
        await asyncio.gather(*(node.start() for node in self.nodes.values()))
        self.write_files()
        return self.paths

    async def stop(self) -> None:
        await asyncio.gather(*(node.stop() for node in self.nodes.values()))

    def write_files(self) -> None:
        """(Re)write the client key (0600), its .pub, known_hosts and ssh_config."""
        atomic_write(self.paths.client_key, self.client_key.export_private_key("openssh"), backup=False)
        atomic_write(
            self.paths.client_key.with_suffix(".pub"), self.client_key.export_public_key("openssh"), mode=0o644, backup=False
        )
        atomic_write(self.paths.known_hosts, self.known_hosts_text(), backup=False)
        atomic_write(self.paths.ssh_config, self.ssh_config_text(), backup=False)

    def known_hosts_text(self) -> str:
        return "".join(
            f"[127.0.0.1]:{node.port} {_public_key_line(node.host_public_key)}\n" for node in self.nodes.values()
        )

    def ssh_config_text(self) -> str:
        blocks = []
        for name, node in self.nodes.items():
            blocks.append(
                f"Host {name}\n"
                f"    HostName 127.0.0.1\n"
                f"    Port {node.port}\n"
                f"    User {node.state.user}\n"
                f"    IdentityFile {self.paths.client_key}\n"
                f"    IdentitiesOnly yes\n"
                f"    UserKnownHostsFile {self.paths.known_hosts}\n"
                f"    StrictHostKeyChecking yes\n"
            )
        return "\n".join(blocks)
