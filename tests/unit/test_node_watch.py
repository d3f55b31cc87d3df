"""The Ready waits' shared Node watch: one client and one watch for the waits that overlap, each
waiter told its node's states as a watch of its own would tell them, failures to every waiter."""

from __future__ import annotations

import asyncio

import pytest

from homelab_tui.executors import NodeWatch
from homelab_tui.models import EventType, KubeEvent, Node


def node(name: str, status: str) -> Node:
    return Node(name=name, ready=status == "Ready", unschedulable=False, roles=(), kubelet_version="v1.30.4+k3s1",
                internal_ip="", arch="arm64", os_image="", cpu="4", memory="8Gi", created="")


class FakeClient:
    """A watch whose events the test feeds through `events`; counts opens and closes."""

    def __init__(self, fake: FakeApi) -> None:
        self.fake = fake

    async def __aenter__(self) -> FakeClient:
        self.fake.opened += 1
        if self.fake.fail_open is not None:
            raise self.fake.fail_open
        return self

    async def __aexit__(self, *exc: object) -> None:
        self.fake.closed += 1

    async def watch(self, kind: str, keep_raw: bool = True):
        assert kind == "Node" and not keep_raw
        yield KubeEvent("Node", EventType.RELISTED, None, "1", tuple(self.fake.listed))
        while True:
            event = await self.fake.events.get()
            if isinstance(event, Exception):
                raise event
            yield event


class FakeApi:
    def __init__(self, *listed: Node) -> None:
        self.listed = list(listed)
        self.events: asyncio.Queue[KubeEvent | Exception] = asyncio.Queue()
        self.opened = self.closed = 0
        self.fail_open: Exception | None = None

    def client(self) -> FakeClient:
        return FakeClient(self)

    def modified(self, obj: Node) -> None:
        self.events.put_nowait(KubeEvent("Node", EventType.MODIFIED, obj, "2"))


async def settle() -> None:
    for _ in range(10):
        await asyncio.sleep(0)


async def test_overlapping_waits_share_one_client_and_each_hears_its_own_node():
    api = FakeApi(node("a", "NotReady"))
    watch = NodeWatch(api.client)
    said: dict[str, list[str]] = {"a": [], "b": []}
    first = asyncio.create_task(watch.until_ready("a", said["a"].append))
    await settle()
    second = asyncio.create_task(watch.until_ready("b", said["b"].append))  # joins the running watch
    await settle()
    api.events.put_nowait(KubeEvent("Node", EventType.ADDED, node("b", "NotReady"), "2"))
    api.modified(node("a", "Ready"))
    await asyncio.wait_for(first, 1)
    assert not second.done()
    api.modified(node("b", "Ready"))
    await asyncio.wait_for(second, 1)
    assert said == {"a": ["a: NotReady", "a: Ready"], "b": ["b: not registered yet", "b: NotReady", "b: Ready"]}
    assert (api.opened, api.closed) == (1, 1)  # closed once the last waiter left


async def test_a_node_ready_already_returns_at_once_and_a_later_wait_opens_again():
    api = FakeApi(node("a", "Ready"))
    watch = NodeWatch(api.client)
    said: list[str] = []
    await asyncio.wait_for(watch.until_ready("a", said.append), 1)
    await asyncio.wait_for(watch.until_ready("a", said.append), 1)
    assert said == ["a: Ready", "a: Ready"]
    assert (api.opened, api.closed) == (2, 2)


async def test_a_failed_watch_fails_every_waiter_and_the_next_wait_starts_afresh():
    api = FakeApi()
    watch = NodeWatch(api.client)
    waits = [asyncio.create_task(watch.until_ready(name, lambda _line: None)) for name in ("a", "b")]
    await settle()
    api.events.put_nowait(PermissionError("forbidden"))
    for wait in waits:
        with pytest.raises(PermissionError):
            await asyncio.wait_for(wait, 1)
    api.listed = [node("a", "Ready")]
    await asyncio.wait_for(watch.until_ready("a", lambda _line: None), 1)
    assert (api.opened, api.closed) == (2, 2)


async def test_a_client_that_cannot_open_fails_the_wait():
    api = FakeApi()
    api.fail_open = FileNotFoundError("no kubeconfig")
    with pytest.raises(FileNotFoundError):
        await asyncio.wait_for(NodeWatch(api.client).until_ready("a", lambda _line: None), 1)


async def test_a_cancelled_last_wait_stops_the_watch():
    api = FakeApi(node("a", "NotReady"))
    watch = NodeWatch(api.client)
    with pytest.raises(TimeoutError):
        await asyncio.wait_for(watch.until_ready("a", lambda _line: None), 0.05)
    assert (api.opened, api.closed) == (1, 1)
