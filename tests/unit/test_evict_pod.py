"""A drain's eviction step: a PodDisruptionBudget's refusal (429) is asked again, as kubectl drain
does, until the step's time is up; a pod already gone is said so; any other refusal fails the step
at once. (The sim has no budgets, so its client is a stand-in here.)"""

from __future__ import annotations

import pytest

from homelab_tui.clients.kube import KubeError
from homelab_tui.executors import kube as kube_executor
from homelab_tui.executors.common import StepError
from homelab_tui.plans import Step, Target
from homelab_tui.plans.actions import EvictPod

BUDGET = KubeError(429, "TooManyRequests", "Cannot evict pod as it would violate the pod's disruption budget.")


class Evictions:
    """A client whose evict answers, in turn, each of `answers` (an exception is raised)."""

    def __init__(self, *answers: bool | Exception) -> None:
        self.answers, self.asked = list(answers), 0

    async def __aenter__(self) -> Evictions:
        return self

    async def __aexit__(self, *exc: object) -> None:
        return None

    async def evict(self, namespace: str, pod: str) -> bool:
        self.asked += 1
        answer = self.answers.pop(0)
        if isinstance(answer, Exception):
            raise answer
        return answer


async def evict(monkeypatch, client: Evictions, timeout: float = 60.0) -> list[str]:
    monkeypatch.setattr(kube_executor, "kube_client", lambda config: client)
    monkeypatch.setattr(kube_executor, "EVICTION_RETRY_PAUSE", 0.0)
    action = EvictPod("default", "web-1", timeout=timeout)
    lines: list[str] = []
    await kube_executor.KubeExecutor(None).execute(Step(Target.KUBE, "", "evict", "evict", action), action, None,
                                                   lines.append)
    return lines


async def test_a_budgets_refusal_is_asked_again_until_the_pod_is_evicted(monkeypatch):
    client = Evictions(BUDGET, BUDGET, True)
    lines = await evict(monkeypatch, client)
    assert client.asked == 3
    assert lines == ["pod default/web-1: Cannot evict pod as it would violate the pod's disruption budget. "
                     "(trying again in 0 s)"] * 2 + ["pod default/web-1 evicted"]


async def test_a_budget_that_keeps_refusing_fails_the_step_when_its_time_is_up(monkeypatch):
    with pytest.raises(StepError, match="pod default/web-1 not evicted: Cannot evict pod as it would violate"):
        await evict(monkeypatch, Evictions(BUDGET), timeout=0.0)


async def test_a_pod_already_gone_is_said_so(monkeypatch):
    assert await evict(monkeypatch, Evictions(False)) == ["pod default/web-1 was already gone"]


async def test_another_refusal_fails_the_step_at_once(monkeypatch):
    client = Evictions(KubeError(403, "Forbidden", "pods \"web-1\" is forbidden"), True)
    with pytest.raises(StepError, match='not evicted: pods "web-1" is forbidden'):
        await evict(monkeypatch, client)
    assert client.asked == 1
