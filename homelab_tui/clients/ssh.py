"""Async SSH client for the nodes (asyncssh): commands, streamed output, sudo, SFTP uploads.

Host keys are always verified against known_hosts. A failed verification is reported as
`HostKeyUnknown` (no key on file for that host: the UI may offer to trust it with
`append_known_host`) or `HostKeyChanged` (a different key is on file: never trusted silently).

sudo: a session first probes `sudo -n true`. If sudo wants a password, the `sudo_password`
hook is asked once per host; the answer is kept in memory only and fed to `sudo -S -p ''`
on stdin, so it never appears in a command line, a result, a log line or an exception.
"""

from __future__ import annotations

import asyncio
import errno
import logging
import os
import re
import shlex
import socket
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import asyncssh

from homelab_tui.files import atomic_write
from homelab_tui.models import CommandResult

log = logging.getLogger(__name__)

DEFAULT_KNOWN_HOSTS = "~/.ssh/known_hosts"
DEFAULT_SSH_CONFIG = "~/.ssh/config"

SudoPasswordHook = Callable[[str], Awaitable[str | None]]


# --- errors -------------------------------------------------------------------------------


class SshError(Exception):
    """Base class: something went wrong talking to `host`."""

    def __init__(self, host: str, message: str) -> None:
        super().__init__(f"{host}: {message}")
        self.host = host


class HostKeyUnknown(SshError):
    """known_hosts has no key for this host; `key` is the one it presented."""

    def __init__(self, host: str, fingerprint: str, *, key: asyncssh.SSHKey, known_hosts: str, lookup_host: str, port: int) -> None:
        super().__init__(host, f"host key is not known (fingerprint {fingerprint}); verify it before trusting it")
        self.fingerprint = fingerprint
        self.key = key
        self.known_hosts = known_hosts
        self.lookup_host = lookup_host  # the name known_hosts is searched for (after ~/.ssh/config)
        self.port = port

    def trust(self) -> None:
        """Add the presented key to known_hosts (after the user confirmed the fingerprint)."""
        append_known_host(self.known_hosts, self.lookup_host, self.port, self.key)


TrustHook = Callable[[HostKeyUnknown], Awaitable[bool]]  # shown a new host key's fingerprint: trust it?


class HostKeyChanged(SshError):
    """The host presented a different key from the one in known_hosts: possible man-in-the-middle."""

    def __init__(self, host: str, old_fingerprint: str, new_fingerprint: str) -> None:
        super().__init__(
            host,
            f"REMOTE HOST IDENTIFICATION HAS CHANGED: known_hosts has {old_fingerprint}, "
            f"the host presented {new_fingerprint}",
        )
        self.old_fingerprint = old_fingerprint
        self.new_fingerprint = new_fingerprint


class SshAuthFailed(SshError):
    pass


class SshTimeout(SshError):
    pass


class SshRefused(SshError):
    pass


class SshDisconnected(SshError):
    pass


class SudoPasswordRequired(SshError):
    def __init__(self, host: str) -> None:
        super().__init__(host, "sudo needs a password and none was given")


class SudoPasswordRejected(SshError):
    def __init__(self, host: str) -> None:
        super().__init__(host, "sudo rejected the password")


class SshCommandFailed(SshError):
    def __init__(self, result: CommandResult) -> None:
        detail = (result.stderr or result.stdout).strip().splitlines()[-3:]
        super().__init__(result.host, f"`{result.command}` exited {result.exit_status}: {' | '.join(detail)}")
        self.result = result


# --- targets and known_hosts ----------------------------------------------------------------


@dataclass(frozen=True)
class SshTarget:
    """Where and how to log in. `None` fields fall back to ~/.ssh/config, then OpenSSH defaults."""

    host: str
    port: int | None = None  # None: ssh_config's Port, else 22
    user: str | None = None
    identity_file: str | None = None
    known_hosts: str = DEFAULT_KNOWN_HOSTS
    use_agent: bool = True
    config_path: str | None = DEFAULT_SSH_CONFIG  # None: ignore ssh_config
    connect_timeout: float = 10.0
    name: str | None = None  # label for results and the sudo password cache; defaults to host[:port]

    @property
    def label(self) -> str:
        if self.name:
            return self.name
        return self.host if self.port in (None, 22) else f"{self.host}:{self.port}"


def known_hosts_entry(host: str, port: int | None) -> str:
    """The host field OpenSSH writes: `host` for port 22, `[host]:port` otherwise."""
    return host if port in (None, 22) else f"[{host}]:{port}"


def append_known_host(known_hosts_path: str | os.PathLike[str], host: str, port: int | None, key: asyncssh.SSHKey, *, replace: bool = False) -> Path:
    """Trust `key` for host:port by adding a line to known_hosts (atomic write, mode 0600).

    With `replace`, plain-text lines for exactly that host field are dropped first (hashed
    entries and other hosts are kept).
    """
    path = Path(known_hosts_path).expanduser()
    entry = known_hosts_entry(host, port)
    existing = path.read_text() if path.exists() else ""
    lines = existing.splitlines()
    if replace:
        lines = [line for line in lines if line.split(" ", 1)[0] != entry]
    key_text = " ".join(key.export_public_key("openssh").decode().split()[:2])
    line = f"{entry} {key_text}"
    if line not in lines:
        lines.append(line)
    return atomic_write(path, "\n".join(lines) + "\n", mode=0o600, backup=True)


def fingerprint(key: asyncssh.SSHKey) -> str:
    """OpenSSH's `SHA256:...` fingerprint, as `ssh-keygen -lf` prints it."""
    return key.get_fingerprint("sha256")


class _VerifyingClient(asyncssh.SSHClient):
    """Remembers the host key the server presented when known_hosts did not trust it."""

    def __init__(self) -> None:
        self.rejected: tuple[str, str, int, asyncssh.SSHKey] | None = None

    def validate_host_public_key(self, host: str, addr: str, port: int, key: asyncssh.SSHKey) -> bool:
        self.rejected = (host, addr, port, key)
        return False


# --- sudo passwords -------------------------------------------------------------------------


class _Secret:
    """A string that never shows itself in a repr or a traceback's locals."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    def reveal(self) -> str:
        return self._value

    def __repr__(self) -> str:
        return "<secret>"


class SudoPasswords:
    """Asks the hook at most once per host; remembers the answers in memory only."""

    def __init__(self, ask: SudoPasswordHook | None = None) -> None:
        self._ask = ask
        self._answers: dict[str, _Secret | None] = {}
        self._locks: dict[str, asyncio.Lock] = {}

    def __repr__(self) -> str:
        return f"SudoPasswords(hosts={sorted(self._answers)})"

    async def get(self, host: str) -> _Secret | None:
        async with self._locks.setdefault(host, asyncio.Lock()):
            if host not in self._answers:
                answer = await self._ask(host) if self._ask is not None else None
                self._answers[host] = _Secret(answer) if answer else None
            return self._answers[host]

    def forget(self, host: str) -> None:
        self._answers.pop(host, None)


# --- secrets in command lines ---------------------------------------------------------------

_SECRET_PATTERNS = (
    re.compile(r"(\bK3S_(?:AGENT_)?TOKEN=)('[^']*'|\"[^\"]*\"|\S+)"),
    re.compile(r"(--(?:agent-)?token[=\s]+|--certificate-key[=\s]+|\s-t\s+)('[^']*'|\"[^\"]*\"|\S+)"),
)


def redact(text: str, secrets: Iterable[str] = ()) -> str:
    """Mask join tokens (`K3S_TOKEN=`, `--token`) and any explicit secrets in a command line."""
    for pattern in _SECRET_PATTERNS:
        text = pattern.sub(r"\1***", text)
    for secret in secrets:
        if secret:
            text = text.replace(secret, "***")
    return text


# --- sessions -------------------------------------------------------------------------------


class CommandStream:
    """Lines of merged stdout/stderr as they arrive; `result` once the iteration is over.

        stream = session.stream("sudo k3s-install ...")
        async for line in stream:
            ...
        stream.result.exit_status
    """

    def __init__(self, session: SshSession, command: str, sudo: bool) -> None:
        self._session = session
        self._command = command
        self._sudo = sudo
        self._process: asyncssh.SSHClientProcess | None = None
        self._lines: list[str] = []
        self.exit_status: int | None = None
        self.result: CommandResult | None = None

    def __aiter__(self) -> AsyncIterator[str]:
        return self._iterate()

    async def _iterate(self) -> AsyncIterator[str]:
        wrapped, password = await self._session._prepare(self._command, self._sudo)
        try:
            process = await self._session._connection().create_process(wrapped, stderr=asyncssh.STDOUT)
        except (asyncssh.Error, OSError) as exc:
            raise self._session._lost(exc) from None
        self._process = process
        try:
            _feed(process, password)
            async for line in process.stdout:
                if not line:  # end of stream
                    break
                text = line.rstrip("\n")
                self._lines.append(text)
                yield text
            completed = await process.wait()
        except (asyncssh.Error, OSError) as exc:
            raise self._session._lost(exc) from None
        finally:
            process.close()
        if completed.exit_status is None:
            raise self._session._lost(ConnectionError("closed by the remote host"))
        self.exit_status = completed.exit_status
        self.result = self._session._result(self._command, self.exit_status, "\n".join(self._lines), "")
        self._session._check_sudo_failure(self.result, password)

    async def aclose(self) -> None:
        if self._process is not None:
            self._process.close()


class SshSession:
    """One SSH connection to one host; use `async with SshSession(target) as s:`."""

    def __init__(self, target: SshTarget, *, sudo_password: SudoPasswordHook | SudoPasswords | None = None) -> None:
        self.target = target
        self.sudo = sudo_password if isinstance(sudo_password, SudoPasswords) else SudoPasswords(sudo_password)
        self._conn: asyncssh.SSHClientConnection | None = None
        self._sudo_needs_password: bool | None = None

    def __repr__(self) -> str:
        return f"SshSession({self.target.label!r}, connected={self._conn is not None})"

    @property
    def host(self) -> str:
        return self.target.label

    async def connect_trusting(self, trust_new_key: TrustHook | None) -> bool:
        """Connect; a host key seen for the first time is trusted only when `trust_new_key`, shown
        its fingerprint, says so, and then the connection is made again (True: a key was trusted).
        A changed key is always refused."""
        try:
            await self.connect()
            return False
        except HostKeyUnknown as unknown:
            if trust_new_key is None or not await trust_new_key(unknown):
                raise
            unknown.trust()  # synchronous: sessions opened at once never interleave their known_hosts writes
            await self.connect()
            return True

    async def __aenter__(self) -> SshSession:
        await self.connect()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()

    # -- connection

    def _connect_options(self) -> dict[str, object]:
        t = self.target
        config_path = Path(t.config_path).expanduser() if t.config_path else None
        known_hosts = Path(t.known_hosts).expanduser()
        options: dict[str, object] = {
            # a missing file trusts nothing (never None: that would disable verification)
            "known_hosts": str(known_hosts) if known_hosts.exists() else asyncssh.import_known_hosts(""),
            "config": [str(config_path)] if config_path is not None and config_path.exists() else [],
            "connect_timeout": t.connect_timeout,
        }
        if t.port is not None:
            options["port"] = t.port
        if t.user is not None:
            options["username"] = t.user
        if t.identity_file is not None:
            options["client_keys"] = [str(Path(t.identity_file).expanduser())]
        if not t.use_agent:
            options["agent_path"] = None
        return options

    async def connect(self) -> None:
        label = self.target.label
        client = _VerifyingClient()
        known_hosts = str(Path(self.target.known_hosts).expanduser())
        address = f"{self.target.host}:{self.target.port or 22}"
        where = "" if label == address else f"{address}: "  # the label is host:port when the node has no name
        self._check_local_files()
        try:
            self._conn, _ = await asyncssh.create_connection(lambda: client, self.target.host, **self._connect_options())
        except asyncssh.HostKeyNotVerifiable as exc:
            if client.rejected is None:
                raise SshError(label, str(exc)) from None
            raise _host_key_error(label, known_hosts, *client.rejected) from None
        except asyncssh.PermissionDenied:
            raise SshAuthFailed(label, "authentication failed (publickey); check the user and identity file") from None
        except (asyncio.TimeoutError, TimeoutError):
            raise SshTimeout(label, f"{where}no answer within {self.target.connect_timeout:g}s (timed out)") from None
        except ConnectionRefusedError:
            raise SshRefused(label, f"{where}connection refused (is sshd running, is the port right?)") from None
        except asyncssh.DisconnectError as exc:
            raise SshDisconnected(label, f"{where}disconnected during login: {exc.reason}") from None
        except asyncssh.KeyImportError as exc:
            raise SshError(label, f"identity file {self.target.identity_file}: not a private key ({exc})") from None
        except OSError as exc:
            raise _connect_error(label, where, exc) from None
        log.debug("connected to %s", label)

    def _check_local_files(self) -> None:
        """The local files a connection reads, named when one cannot be used (asyncssh would say
        only `Is a directory` or `No such file or directory`)."""
        t = self.target
        for what, value in (("identity file", t.identity_file), ("ssh config", t.config_path),
                            ("known_hosts", t.known_hosts)):
            if value is None:
                continue
            path = Path(value).expanduser()
            if path.is_dir():
                raise SshError(t.label, f"{what} {path}: is a directory; expected a file")
            if what == "identity file" and not path.exists():
                raise SshError(t.label, f"{what} {path}: not found")

    async def close(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            conn.close()
            await conn.wait_closed()

    def _connection(self) -> asyncssh.SSHClientConnection:
        if self._conn is None:
            raise SshDisconnected(self.host, "not connected")
        return self._conn

    def _lost(self, exc: BaseException) -> SshError:
        conn, self._conn = self._conn, None
        if conn is not None:
            conn.abort()
        return SshDisconnected(self.host, f"connection lost: {exc}")

    # -- commands

    async def run(
        self, command: str, *, sudo: bool = False, check: bool = False, timeout: float | None = None, input: str | None = None
    ) -> CommandResult:
        """Run `command` (through `sh -c` under sudo) and collect its output."""
        wrapped, password = await self._prepare(command, sudo)
        try:
            process = await self._connection().create_process(wrapped)
            _feed(process, password, input or "")
            completed = await asyncio.wait_for(process.wait(), timeout)
        except (asyncio.TimeoutError, TimeoutError):
            process.close()
            raise SshTimeout(self.host, f"`{redact(command)}` did not finish within {timeout:g}s") from None
        except (asyncssh.Error, OSError) as exc:
            raise self._lost(exc) from None
        if completed.exit_status is None:  # the channel closed without a status: the connection dropped
            raise self._lost(ConnectionError("closed by the remote host"))
        result = self._result(command, completed.exit_status, str(completed.stdout or ""), str(completed.stderr or ""))
        self._check_sudo_failure(result, password)
        if check and not result.ok:
            raise SshCommandFailed(result)
        return result

    def stream(self, command: str, *, sudo: bool = False) -> CommandStream:
        """Iterate the merged output lines as they arrive; see `CommandStream`."""
        return CommandStream(self, command, sudo)

    async def read_file(self, path: str, *, sudo: bool = False) -> str:
        result = await self.run(f"cat -- {shlex.quote(path)}", sudo=sudo, check=True)
        return result.stdout

    async def upload(self, source: str | os.PathLike[str] | bytes, remote_path: str, *, mode: int = 0o755, sudo: bool = False) -> None:
        """Copy a local file (or bytes) to `remote_path` over SFTP; with `sudo`, via /tmp and `install`."""
        data = source if isinstance(source, bytes) else Path(source).read_bytes()
        target = f"/tmp/.homelab-tui-upload-{os.getpid()}-{time.monotonic_ns()}" if sudo else remote_path
        try:
            async with self._connection().start_sftp_client() as sftp:
                async with sftp.open(target, "wb", asyncssh.SFTPAttrs(permissions=mode)) as remote:
                    await remote.write(data)
                await sftp.chmod(target, mode)
        except asyncssh.SFTPError as exc:
            raise SshError(self.host, f"upload to {target} failed: {exc.reason}") from None
        except (asyncssh.Error, OSError) as exc:
            raise self._lost(exc) from None
        if sudo:
            quoted = shlex.quote(target)
            await self.run(f"install -m {mode:o} {quoted} {shlex.quote(remote_path)} && rm -f {quoted}", sudo=True, check=True)

    async def reboot(self, *, timeout: float = 300.0, poll_interval: float = 2.0) -> None:
        """`sudo reboot`, wait for the host to go down and come back with a new boot id, reconnect."""
        old_boot = (await self.run("cat /proc/sys/kernel/random/boot_id", check=True)).stdout.strip()
        conn = self._connection()
        wrapped, password = await self._prepare("reboot", True)
        try:
            process = await conn.create_process(wrapped)
            _feed(process, password)
            await asyncio.wait_for(conn.wait_closed(), timeout)
        except (asyncssh.Error, OSError):
            pass  # the connection dropping is the point
        except (asyncio.TimeoutError, TimeoutError):
            raise SshTimeout(self.host, f"did not go down within {timeout:g}s after `reboot`") from None
        self._conn = None
        deadline = time.monotonic() + timeout
        while True:
            try:
                await self.connect()
                new_boot = (await self.run("cat /proc/sys/kernel/random/boot_id", check=True)).stdout.strip()
                if new_boot != old_boot:
                    return
                await self.close()
            except (SshRefused, SshTimeout, SshDisconnected):
                pass
            if time.monotonic() > deadline:
                raise SshTimeout(self.host, f"did not come back within {timeout:g}s after `reboot`")
            await asyncio.sleep(poll_interval)

    # -- sudo

    async def _prepare(self, command: str, sudo: bool) -> tuple[str, _Secret | None]:
        """The command line to send, and the sudo password to feed on stdin (if any)."""
        if not sudo or self._connection().get_extra_info("username") == "root":
            return command, None
        script = shlex.quote(command)
        if self._sudo_needs_password is None:
            probe = await self._connection().run("sudo -n true", input="", check=False)
            self._sudo_needs_password = probe.exit_status != 0 and "password is required" in str(probe.stderr)
        if not self._sudo_needs_password:
            return f"sudo -n sh -c {script}", None
        password = await self.sudo.get(self.host)
        if password is None:
            raise SudoPasswordRequired(self.host)
        # -k: sudo ignores a cached login and always reads the password line, which therefore
        # never reaches the command's own stdin.
        return f"sudo -k -S -p '' sh -c {script}", password

    def _check_sudo_failure(self, result: CommandResult, password: _Secret | None) -> None:
        if password is not None and result.exit_status != 0 and (
            "incorrect password" in result.stderr + result.stdout or "Sorry, try again" in result.stderr + result.stdout
        ):
            self.sudo.forget(self.host)
            raise SudoPasswordRejected(self.host)

    def _result(self, command: str, status: int, stdout: str, stderr: str) -> CommandResult:
        return CommandResult(host=self.host, command=redact(command), exit_status=status, stdout=stdout, stderr=stderr)


def _feed(process: asyncssh.SSHClientProcess, password: _Secret | None, data: str = "") -> None:
    """Write the sudo password (if any), then `data`, then EOF to the command's stdin; a command
    that exited without reading is fine. The password is revealed only inside the write, so no
    frame (and no traceback with locals) ever holds it in clear."""
    try:
        if password is not None:
            process.stdin.write(password.reveal() + "\n")
        if data:
            process.stdin.write(data)
        process.stdin.write_eof()
    except BrokenPipeError:
        pass


_REFUSED = (errno.ECONNREFUSED,)
_UNREACHABLE = {errno.EHOSTUNREACH: "no route to host", errno.ENETUNREACH: "network is unreachable",
                errno.ETIMEDOUT: "timed out", errno.EHOSTDOWN: "host is down"}


def _connect_error(label: str, where: str, exc: OSError) -> SshError:
    """A failed connect with its reason: refused, timed out, no route, a name that does not resolve.
    Several addresses (localhost: ::1 and 127.0.0.1) come as one OSError naming each errno."""
    if isinstance(exc, socket.gaierror):
        return SshError(label, f"{where}cannot resolve the host name ({exc.strerror or exc})")
    codes = [exc.errno] if exc.errno else [int(code) for code in re.findall(r"\[Errno (\d+)\]", str(exc))]
    for code in codes:
        if code in _REFUSED:
            return SshRefused(label, f"{where}connection refused (is sshd running, is the port right?)")
        if code in _UNREACHABLE:
            kind = SshTimeout if code == errno.ETIMEDOUT else SshError
            return kind(label, f"{where}{_UNREACHABLE[code]}")
    reason = os.strerror(codes[0]) if codes else (exc.strerror or str(exc) or type(exc).__name__)
    return SshError(label, f"{where}{reason}")


def _host_key_error(label: str, known_hosts: str, host: str, addr: str, port: int, key: asyncssh.SSHKey) -> SshError:
    """Tell a missing known_hosts entry from a changed key, by what known_hosts holds for the host."""
    path = Path(known_hosts)
    trusted: Sequence[asyncssh.SSHKey] = ()
    if path.exists():
        trusted = asyncssh.match_known_hosts(asyncssh.read_known_hosts(str(path)), host, addr, port)[0]
    if trusted:
        return HostKeyChanged(label, fingerprint(trusted[0]), fingerprint(key))
    return HostKeyUnknown(label, fingerprint(key), key=key, known_hosts=known_hosts, lookup_host=host, port=port)
