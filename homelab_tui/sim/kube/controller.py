"""The controller of the simulated cluster, one asyncio task that reconciles after every change
and at the times its parts ask for (a back-off ending, a progress deadline): it does what
kube-controller-manager, the scheduler, the kubelets, k3s ServiceLB and MetalLB would. The parts
live beside it: `workloads` (Deployments, ReplicaSets, DaemonSets, garbage collection), `pods`
(scheduler and kubelets), `networking` (Endpoints, EndpointSlices, load balancers, Ingress
addresses), `events` and `logs`. Each pass advances every object by at most one stage.

`time_scale` multiplies every duration the sim waits out (back-offs, a crashing container's run,
progress deadlines): tests make it small."""

from __future__ import annotations

import asyncio
import heapq
import ipaddress
import logging
import math

from .events import EventRecorder
from .networking import Networking
from .objects import timestamp
from .pods import Pods
from .resources import JsonObject
from .store import LogKey, Store
from .verbs import Verbs
from .workloads import Workloads

log = logging.getLogger(__name__)
Network = ipaddress.IPv4Network | ipaddress.IPv6Network


def node_conditions(ready: bool) -> list[JsonObject]:
    """The conditions a kubelet reports: no pressure, and Ready or not."""
    now = timestamp()
    conditions = [{"type": t, "status": "False", "reason": f"KubeletHas{r}", "message": m,
                   "lastHeartbeatTime": now, "lastTransitionTime": now}
                  for t, r, m in (("MemoryPressure", "SufficientMemory", "kubelet has sufficient memory available"),
                                  ("DiskPressure", "NoDiskPressure", "kubelet has no disk pressure"),
                                  ("PIDPressure", "SufficientPID", "kubelet has sufficient PID available"))]
    conditions.append({"type": "Ready", "status": "True" if ready else "False",
                       "reason": "KubeletReady" if ready else "KubeletNotReady",
                       "message": "kubelet is posting ready status" if ready else "container runtime network "
                       "not ready: NetworkReady=false reason:NetworkPluginNotReady",
                       "lastHeartbeatTime": now, "lastTransitionTime": now})
    return conditions


class Controller:
    """Reconciles the store after each change, `delay` seconds later (0: at once)."""

    def __init__(self, store: Store, verbs: Verbs, pod_cidr: Network, delay: float, time_scale: float = 1.0) -> None:
        self._store = store
        self.delay = delay
        self.events = EventRecorder(store)
        self.pods = Pods(store, self.events, pod_cidr, self._clock, self.wake_at)
        self.workloads = Workloads(store, verbs, self.events, self._clock, self.wake_at)
        self.networking = Networking(store, verbs)
        self.time_scale = time_scale
        self._wakes: list[float] = []
        self._task: asyncio.Task[None] | None = None

    @property
    def time_scale(self) -> float:
        return self.pods.time_scale

    @time_scale.setter
    def time_scale(self, scale: float) -> None:
        self.pods.time_scale = self.workloads.time_scale = scale

    @staticmethod
    def _clock() -> float:
        try:
            return asyncio.get_running_loop().time()
        except RuntimeError:  # reconciled from plain code (seeding) with no loop running
            return 0.0

    def wake_at(self, when: float) -> None:
        """Ask for a pass at loop time `when` (a back-off ends, a deadline passes)."""
        if math.isfinite(when) and when not in self._wakes:
            heapq.heappush(self._wakes, when)

    def start(self) -> None:
        self._store.changed = asyncio.Event()
        self._task = asyncio.create_task(self._run(), name="kube-sim-controller")
        self._store.changed.set()

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
            self._task = None

    async def _run(self) -> None:
        """Reconcile after every change and at each time asked for."""
        loop = asyncio.get_running_loop()
        while True:
            timeout = None
            if self._wakes:
                timeout = max(0.0, self._wakes[0] - loop.time())
            try:  # asyncio.timeout, not wait_for: 3.11's wait_for can swallow the stop's cancellation
                async with asyncio.timeout(timeout):
                    await self._store.changed.wait()
            except TimeoutError:
                pass
            self._store.changed.clear()
            while self._wakes and self._wakes[0] <= loop.time():
                heapq.heappop(self._wakes)
            await asyncio.sleep(self.delay)
            try:
                self.reconcile()
            except Exception:  # a bug in one pass must not stop the controller for good
                log.exception("kube sim controller pass failed")

    def reconcile(self) -> None:
        self.pods.reconcile()  # first: a deleted pod is gone before its replacement is made
        self.workloads.reconcile()
        self.networking.reconcile()

    # -- what KubeApiSim steers and seeds with ------------------------------------------------

    def set_pod_cidr(self, pod_cidr: Network) -> None:
        """Give nodes pod subnets from `pod_cidr` from now on (the cluster was installed with it)."""
        self.pods.set_pod_cidr(pod_cidr)

    def node_subnet(self, node_name: str) -> Network:
        return self.pods.node_subnet(node_name)

    def used_pod_ips(self) -> set[str]:
        return self.pods.used_pod_ips()

    def bind_pod(self, pod: JsonObject, node: JsonObject, used_ips: set[str], now: str) -> JsonObject:
        return self.pods.bind_pod(pod, node, used_ips, now)

    def start_pod(self, pod: JsonObject, now: str) -> JsonObject:
        return self.pods.start_pod(pod, now)

    def write_logs(self, key: LogKey, label: str, per_second: float, seconds: float | None) -> asyncio.Task[int]:
        return self.pods.write_logs(key, label, per_second, seconds)
