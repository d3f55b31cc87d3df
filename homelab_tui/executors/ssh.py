"""SSH steps: one session per host, opened on first use and shared by the steps (and the
concurrent join plans) that target it. Host keys are checked strictly; an unknown one fails the
step unless the caller's `trust_host_key` hook agrees (after showing the fingerprint)."""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Awaitable, Callable

from ..clients.kubeconfig import merge_into_file
from ..clients.ssh import SshSession, SudoPasswordHook, SudoPasswords, TrustHook
from ..config import Config
from ..connect import ssh_target
from ..plans import Step
from ..plans.actions import Action, CaptureSecret, FetchKubeconfig, Reboot, Run, Upload
from .common import StepError

Output = Callable[[str], None]
OUTPUT_TAIL = 5  # lines of a failed command's output quoted in the error


class SshExecutor:
    def __init__(self, config: Config, *, sudo_password: SudoPasswordHook | None = None,
                 trust_host_key: TrustHook | None = None) -> None:
        self.config = config
        self.sudo = SudoPasswords(sudo_password)
        self.trust_host_key = trust_host_key
        self._sessions: dict[str, SshSession] = {}
        self._locks: dict[str, asyncio.Lock] = {}

    async def session(self, host: str) -> SshSession:
        async with self._locks.setdefault(host, asyncio.Lock()):
            if host not in self._sessions:
                session = SshSession(ssh_target(self.config, self.config.node(host)), sudo_password=self.sudo)
                await session.connect_trusting(self.trust_host_key)
                self._sessions[host] = session
            return self._sessions[host]

    async def close(self) -> None:
        await asyncio.gather(*(session.close() for session in self._sessions.values()), return_exceptions=True)
        self._sessions.clear()

    async def execute(self, step: Step, action: Action, context, output: Output) -> None:
        do = _ACTIONS.get(type(action))
        if do is None:
            raise StepError(f"an SSH step cannot {type(action).__name__}")
        await do(await self.session(step.host), action, context, output)


async def _run(session: SshSession, action: Run, context, output: Output) -> None:
    stream = session.stream(action.command, sudo=action.sudo)
    tail: deque[str] = deque(maxlen=OUTPUT_TAIL)
    async for line in stream:
        output(line)
        tail.append(line)
    if stream.exit_status != 0:
        raise StepError(f"exit status {stream.exit_status}" + (": " + " / ".join(tail) if tail else ""))


async def _capture_secret(session: SshSession, action: CaptureSecret, context, output: Output) -> None:
    result = await session.run(action.command, sudo=action.sudo)
    if not result.ok or not result.stdout.strip():
        raise StepError(f"exit status {result.exit_status}; nothing read")  # never quote a secret's output
    context.secrets[action.name] = result.stdout.strip()


async def _upload(session: SshSession, action: Upload, context, output: Output) -> None:
    await session.upload(action.local_path, action.remote_path, mode=action.mode)
    output(f"copied {action.local_path} to {action.remote_path}")


async def _reboot(session: SshSession, action: Reboot, context, output: Output) -> None:
    output("rebooting; waiting for SSH to come back")
    await session.reboot(timeout=action.timeout)
    output("SSH is back")


async def _fetch_kubeconfig(session: SshSession, action: FetchKubeconfig, context, output: Output) -> None:
    fetched = await session.read_file(action.remote_path, sudo=True)
    replaced = merge_into_file(action.kubeconfig, fetched, action.name, action.server_host)
    output(f"merged into {action.kubeconfig} as {action.name}" + (f" (replaced {', '.join(replaced)})" if replaced else ""))


_ACTIONS: dict[type, Callable[..., Awaitable[None]]] = {
    Run: _run, CaptureSecret: _capture_secret, Upload: _upload, Reboot: _reboot, FetchKubeconfig: _fetch_kubeconfig,
}
