"""The engine's hands: what each Step action does to an SSH host or the Kubernetes API.

One SSH session per host, opened on first use and shared by the steps (and the concurrent join
plans) that target it. Host keys are checked strictly; an unknown one fails the step unless the
caller's `trust_host_key` hook agrees (after showing the fingerprint).
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Awaitable, Callable

from .clients.kube import KubeClient
from .clients.ssh import HostKeyUnknown, SshSession, SudoPasswordHook, SudoPasswords
from .config import Config
from .connect import kube_client, ssh_target
from .kubeconfig import merge_into_file
from .models import EventType, KubeEvent, KubeObject
from .plans import Action, CaptureSecret, FetchKubeconfig, Reboot, Run, Step, Upload, WaitNodeReady

TrustHook = Callable[[HostKeyUnknown], Awaitable[bool]]  # shown the fingerprint: trust it?
OUTPUT_TAIL = 5  # lines of a failed command's output quoted in the error


class StepError(Exception):
    """A step did not do what it should; the message says what happened."""


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
                try:
                    await session.connect()
                except HostKeyUnknown as unknown:
                    if self.trust_host_key is None or not await self.trust_host_key(unknown):
                        raise
                    unknown.trust()
                    await session.connect()
                self._sessions[host] = session
            return self._sessions[host]

    async def close(self) -> None:
        await asyncio.gather(*(session.close() for session in self._sessions.values()), return_exceptions=True)
        self._sessions.clear()

    async def execute(self, step: Step, action: Action, context, output: Callable[[str], None]) -> None:
        session = await self.session(step.host)
        if isinstance(action, Run):
            stream = session.stream(action.command, sudo=action.sudo)
            tail: deque[str] = deque(maxlen=OUTPUT_TAIL)
            async for line in stream:
                output(line)
                tail.append(line)
            if stream.exit_status != 0:
                raise StepError(f"exit status {stream.exit_status}" + (": " + " / ".join(tail) if tail else ""))
        elif isinstance(action, CaptureSecret):
            result = await session.run(action.command, sudo=action.sudo)
            if not result.ok or not result.stdout.strip():
                raise StepError(f"exit status {result.exit_status}; nothing read")  # never quote a secret's output
            context.secrets[action.name] = result.stdout.strip()
        elif isinstance(action, Upload):
            await session.upload(action.local_path, action.remote_path, mode=action.mode)
            output(f"copied {action.local_path} to {action.remote_path}")
        elif isinstance(action, Reboot):
            output("rebooting; waiting for SSH to come back")
            await session.reboot(timeout=action.timeout)
            output("SSH is back")
        elif isinstance(action, FetchKubeconfig):
            fetched = await session.read_file(action.remote_path, sudo=True)
            replaced = merge_into_file(action.kubeconfig, fetched, action.name, action.server_host)
            output(f"merged into {action.kubeconfig} as {action.name}"
                   + (f" (replaced {', '.join(replaced)})" if replaced else ""))
        else:
            raise StepError(f"an SSH step cannot {type(action).__name__}")


class KubeExecutor:
    """Steps against the API of the cluster the config names (its kubeconfig and context, or the
    context named after the cluster, which bootstrap merges). The waits that run at the same time
    (one per node of a join) share one connection and one Node watch."""

    def __init__(self, config: Config) -> None:
        self.config = config
        self._nodes = NodeWatch(lambda: kube_client(
            self.config, retry_cap=2.0))

    async def execute(self, step: Step, action: Action, context, output: Callable[[str], None]) -> None:
        if not isinstance(action, WaitNodeReady):
            raise StepError(f"a Kubernetes step cannot {type(action).__name__}")
        try:
            await asyncio.wait_for(self._nodes.until_ready(action.node, output), action.timeout)
        except TimeoutError:
            raise StepError(f"{action.node} was not Ready within {action.timeout:g} s") from None


class NodeWatch:
    """One Node watch (a listing first, then changes) for every wait on it at a time: the first
    waiter opens a client and starts the watch, the last one to leave stops it and closes the
    client. Ten nodes joined at once thus cost the API one connection, one listing and one watch,
    not ten. A waiter that arrives while the watch runs starts from the nodes as last seen, as a
    watch of its own would start from a listing; a failed watch fails the waiters it had, and the
    next waiter starts afresh."""

    def __init__(self, client: Callable[[], KubeClient]) -> None:
        self._client = client
        self._task: asyncio.Task[None] | None = None
        self._queues: set[asyncio.Queue[KubeEvent | Exception]] = set()
        self._nodes: dict[str, KubeObject] | None = None  # by name, once listed

    async def until_ready(self, node: str, output: Callable[[str], None]) -> None:
        """Return once `node` is Ready; say each state it goes through."""
        queue: asyncio.Queue[KubeEvent | Exception] = asyncio.Queue()
        if self._nodes is not None:
            queue.put_nowait(KubeEvent("Node", EventType.RELISTED, None, "", tuple(self._nodes.values())))
        self._queues.add(queue)
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(self._watch())
        try:
            last = ""
            while True:
                event = await queue.get()
                if isinstance(event, Exception):
                    raise event
                objects = event.objects if event.type is EventType.RELISTED else (event.obj,)
                for obj in objects:
                    if obj is not None and obj.name == node:
                        state = "deleted" if event.type is EventType.DELETED else obj.status
                        if state != last:
                            output(f"{node}: {state}")
                            last = state
                        if state.split(",")[0] == "Ready":
                            return
                if not last:
                    last = "not registered yet"
                    output(f"{node}: {last}")
        finally:
            self._queues.discard(queue)
            if not self._queues and self._task is not None:
                task, self._task, self._nodes = self._task, None, None
                task.cancel()
                await asyncio.gather(task, return_exceptions=True)  # the client is closed

    async def _watch(self) -> None:
        try:
            async with self._client() as client:
                async for event in client.watch("Node", keep_raw=False):
                    if event.type is EventType.RELISTED:
                        self._nodes = {obj.name: obj for obj in event.objects}
                    elif self._nodes is not None and event.obj is not None:
                        if event.type is EventType.DELETED:
                            self._nodes.pop(event.obj.name, None)
                        else:
                            self._nodes[event.obj.name] = event.obj
                    for queue in self._queues:
                        queue.put_nowait(event)
        except Exception as exc:  # noqa: BLE001 - each waiter fails with it
            if self._task is asyncio.current_task():
                self._task, self._nodes = None, None
            for queue in self._queues:
                queue.put_nowait(exc)
