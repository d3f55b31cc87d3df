"""The engine's hands: one executor per target (executors/ssh.py, kube.py, router.py, dns.py) does
what a step's action says to its SSH host, the Kubernetes API, the router or the DNS provider. A front end builds them once, with
`build_executors`, hands them to the flow (which reads facts through the same SSH sessions) and
to `flows.apply_staged`, and closes them when done."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from ..clients.ssh import SudoPasswordHook
from ..config import Config
from ..plans import Target
from .common import StepError
from .dns import DnsExecutor
from .kube import KubeExecutor, NodeWatch
from .local import LocalExecutor
from .router import RouterExecutor
from .ssh import SshExecutor, TrustHook

__all__ = ["DnsExecutor", "Executors", "KubeExecutor", "LocalExecutor", "NodeWatch", "RouterExecutor", "SshExecutor",
           "StepError", "TrustHook", "build_executors"]


@dataclass
class Executors:
    ssh: SshExecutor
    kube: KubeExecutor
    router: RouterExecutor
    dns: DnsExecutor
    local: LocalExecutor = field(default_factory=LocalExecutor)

    @property
    def by_target(self) -> Mapping[Target, object]:
        """What `engine.apply_plan` takes: the executor of each target."""
        return {Target.SSH: self.ssh, Target.KUBE: self.kube, Target.ROUTER: self.router, Target.DNS: self.dns,
                Target.LOCAL: self.local}

    async def close(self) -> None:
        await self.ssh.close()
        await self.router.close()
        await self.dns.close()


def build_executors(config: Config, *, sudo_password: SudoPasswordHook | None = None,
                    trust_host_key: TrustHook | None = None) -> Executors:
    """The executors of every target, for one wizard run. `sudo_password` is asked a host's sudo
    password (once per host); `trust_host_key` is shown an unknown host key and says whether to
    trust it."""
    router = RouterExecutor(config)

    async def ddns_name() -> str:
        return (await (await router.client()).cloud()).dns_name

    return Executors(SshExecutor(config, sudo_password=sudo_password, trust_host_key=trust_host_key),
                     KubeExecutor(config), router, DnsExecutor(config, ddns_name))
