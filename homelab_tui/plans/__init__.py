"""Plans: what a wizard will do, as data. Builders in this package are pure functions of
(answers, facts) → Plan; `engine.py` applies a Plan. No I/O and no textual here.

A Step names its target (an SSH host, the Kubernetes API, the router, DNS, or this machine), an
exact `rendering` a person could run by hand (a shell command, YAML, a RouterOS console line),
a description, and the `action` the engine performs. A step whose state already matches has a
`noop_reason` and is skipped. A step may carry an `undo`, which the engine runs in reverse order
when a later step fails.

Secrets never appear in a plan. A step that needs one (a join token) refers to it by name as
`{secret:NAME}`; an earlier `CaptureSecret` step reads it at apply time, and the engine fills it
in at the last moment and masks it in every output line, event and audit record.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from enum import Enum


class Target(str, Enum):
    SSH = "ssh"
    KUBE = "kube"
    ROUTER = "router"
    DNS = "dns"
    LOCAL = "local"


SECRET_REF = re.compile(r"\{secret:([a-z0-9_-]+)\}")


def secret_ref(name: str) -> str:
    """The placeholder a step's command uses for a secret captured at apply time."""
    return f"{{secret:{name}}}"


def secret_variable(name: str) -> str:
    """The shell variable a secret is kept in by hand: k3s-token → K3S_TOKEN."""
    return name.upper().replace("-", "_")


def secret_placeholder(name: str) -> str:
    """How a secret reference reads in a rendering or an export: `${K3S_TOKEN}`, so the exported
    script says where the value has to come from."""
    return "${" + secret_variable(name) + "}"


# -- actions: what the engine does for a step --------------------------------------------------


@dataclass(frozen=True)
class Run:
    """A shell command on the step's SSH host; `sudo` runs it as root."""

    command: str
    sudo: bool = False


@dataclass(frozen=True)
class CaptureSecret:
    """Run a command on the host and keep its (stripped) output as secret `name`."""

    command: str
    name: str
    sudo: bool = True


@dataclass(frozen=True)
class Upload:
    """Copy a local file to the host over SFTP."""

    local_path: str
    remote_path: str
    mode: int = 0o755


@dataclass(frozen=True)
class Reboot:
    """Reboot the host and wait until SSH answers again."""

    timeout: float = 300.0


@dataclass(frozen=True)
class WaitNodeReady:
    """Wait until the Kubernetes node `node` is Ready."""

    node: str
    timeout: float = 300.0


@dataclass(frozen=True)
class FetchKubeconfig:
    """Read the cluster's admin kubeconfig from the host (with sudo), point its server at
    `server_host` (the port stays; k3s and kubeadm write 127.0.0.1), name its cluster, user and
    context `name`, and merge it into the local `kubeconfig`."""

    remote_path: str
    server_host: str
    name: str
    kubeconfig: str


Action = Run | CaptureSecret | Upload | Reboot | WaitNodeReady | FetchKubeconfig


@dataclass(frozen=True)
class Step:
    target: Target
    host: str  # the config node name for SSH steps; "" for the others
    description: str
    rendering: str
    action: Action
    noop_reason: str = ""
    undo: Action | None = None
    undo_rendering: str = ""

    @property
    def is_noop(self) -> bool:
        return bool(self.noop_reason)

    def secret_names(self) -> set[str]:
        return set(SECRET_REF.findall(self.rendering))


@dataclass(frozen=True)
class Plan:
    title: str
    steps: tuple[Step, ...] = field(default_factory=tuple)

    def __iter__(self) -> Iterator[Step]:
        return iter(self.steps)

    @property
    def changes(self) -> tuple[Step, ...]:
        """The steps that will do something."""
        return tuple(step for step in self.steps if not step.is_noop)

    @property
    def is_noop(self) -> bool:
        return not self.changes


class PlanError(ValueError):
    """The answers cannot make a plan: `field` names the answer, the message says why."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


def shown(text: str) -> str:
    """A rendering with secret references as `${NAME}` placeholders."""
    return SECRET_REF.sub(lambda match: secret_placeholder(match[1]), text)
