"""The engine's hands: one executor per target (executors/ssh.py, executors/kube.py) does what a
step's action says to its SSH host or the Kubernetes API. A front end builds them once, with
`build_executors`, hands them to the flow (which reads facts through the same SSH sessions) and
to `flows.apply_staged`, and closes them when done."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from ..clients.ssh import SudoPasswordHook
from ..config import Config
from ..plans import Target
from .common import StepError
from .kube import KubeExecutor, NodeWatch
from .ssh import SshExecutor, TrustHook

__all__ = ["Executors", "KubeExecutor", "NodeWatch", "SshExecutor", "StepError", "TrustHook", "build_executors"]


@dataclass
class Executors:
    ssh: SshExecutor
    kube: KubeExecutor

    @property
    def by_target(self) -> Mapping[Target, object]:
        """What `engine.apply_plan` takes: the executor of each target."""
        return {Target.SSH: self.ssh, Target.KUBE: self.kube}

    async def close(self) -> None:
        await self.ssh.close()


def build_executors(config: Config, *, sudo_password: SudoPasswordHook | None = None,
                    trust_host_key: TrustHook | None = None) -> Executors:
    """The executors of every target, for one wizard run. `sudo_password` is asked a host's sudo
    password (once per host); `trust_host_key` is shown an unknown host key and says whether to
    trust it."""
    return Executors(SshExecutor(config, sudo_password=sudo_password, trust_host_key=trust_host_key),
                     KubeExecutor(config))
