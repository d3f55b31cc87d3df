"""The Pods pane: `kubectl get pods -A -o wide`, or one namespace's."""

from __future__ import annotations

from datetime import datetime
from functools import partial

from textual.binding import Binding

from ...config import Config
from ...flows.owners import controller_of, workload_of
from .. import rows
from ..logs import containers_of, open_logs, pod_sources
from .base import KubePane, RowSource

# k9s's shell (internal/view/exec.go): bash where the image has it, else sh.
SHELL_FALLBACK = "command -v bash >/dev/null && exec bash || exec sh"


def shell_argv(config: Config, namespace: str, pod: str, container: str | None) -> list[str]:
    """`kubectl exec -it` into the pod through the config's kubeconfig and context (never the
    kubeconfig's current context, which may be another cluster)."""
    argv = ["kubectl", "exec", "-it", "-n", namespace, pod, *(["-c", container] if container else []),
            "--context", config.cluster.kube_context]
    if (kubeconfig := config.resolve_path(config.cluster.kubeconfig)) is not None:
        argv += ["--kubeconfig", str(kubeconfig)]
    return [*argv, "--", "sh", "-c", SHELL_FALLBACK]


class PodsPane(KubePane):
    NAME, KEY, TITLE = "pods", "2", "Pods"
    COMMANDS = ("pod", "po")  # `:` aliases, as in k9s
    COLUMNS = rows.POD_COLUMNS
    DEFAULT_SORT = ("NAMESPACE", "NAME")
    SOURCE = "Pod"
    NAMESPACED = True
    BINDINGS = [  # this pane's own keys, k9s's: see panes/base.py
        Binding("l", "logs", "Logs", id="pod_logs", tooltip="Follow the pod's log from its last 100 lines"),
        Binding("p", "previous_logs", "Previous", id="pod_previous_logs",
                tooltip="The log of its previous container (why it crashed)"),
        Binding("s", "shell", "Shell", id="pod_shell", tooltip="kubectl exec a shell in it (bash, else sh)"),
        # k9s's shift+j, but J opens the join wizard here: o, for owner
        Binding("o", "owner", "Owner", id="pod_owner", tooltip="Jump to the Deployment that owns it"),
        Binding("ctrl+k", "kill", "Kill", id="pod_kill", tooltip="Kill it at once, grace period 0 (asked twice)"),
        Binding("r", "restart", "Restart", id="pod_restart",
                tooltip="Rollout restart of the Deployment (StatefulSet, DaemonSet) that runs it"),
    ]

    def row_source(self, now: datetime | None) -> RowSource:
        pods, styled = self.state.kube.of("Pod"), self.styler()
        return pods, lambda key: styled(rows.pod_row(pods[key], now)) if key in pods else None

    def action_kill(self) -> None:
        if (key := self.cursor_key()) is not None:
            self.app.run_worker(self._kill(key), group="kill", exclusive=True, exit_on_error=False,
                                description="kill a pod")

    async def _kill(self, key: str) -> None:
        """Asked twice: its name typed first (k9s kills at once, which users asked to guard), then
        its plan, as every change is."""
        from ...flows.kill import plan_kill
        from ..modals import TypeToConfirmScreen

        namespace, _, name = key.rpartition("/")
        warning = ("Grace period 0: the pod is removed at once, without waiting for its containers to stop; "
                   "whatever they were doing is cut off.")
        if await self.app.push_screen_wait(TypeToConfirmScreen(f"Kill Pod {key}", warning, name, "Kill")):
            self.app.apply_change(partial(plan_kill, namespace=namespace, name=name), "Kill")

    def action_restart(self) -> None:
        from ...flows.restart import plan_restart

        if (key := self.cursor_key()) is not None:
            namespace, _, name = key.rpartition("/")
            self.app.apply_change(partial(plan_restart, kind="Pod", namespace=namespace, name=name), "Restart")

    def _on_pod(self, work, description: str) -> None:
        """Run `work(key, raw pod)` in a worker on the pod under the cursor, read live first."""
        if (key := self.cursor_key()) is None:
            return

        async def run() -> None:
            if (raw := await self.live_object(key)) is not None:
                await work(key, raw)

        self.app.run_worker(run(), group="pod-action", exclusive=True, exit_on_error=False, description=description)

    def action_logs(self) -> None:
        self._on_pod(lambda key, raw: self._open_logs(key, raw, previous=False), "follow the pod's log")

    def action_previous_logs(self) -> None:
        self._on_pod(lambda key, raw: self._open_logs(key, raw, previous=True), "read the pod's previous log")

    async def _open_logs(self, key: str, raw: dict, *, previous: bool) -> None:
        namespace, _, name = key.rpartition("/")
        open_logs(self.app, f"{key}{' (previous)' if previous else ''}",
                  pod_sources(namespace, name, containers_of(raw)), previous=previous)

    def action_shell(self) -> None:
        self._on_pod(self._shell, "open a shell in the pod")

    async def _shell(self, key: str, raw: dict) -> None:
        from ..modals import PickScreen

        namespace, _, name = key.rpartition("/")
        containers = containers_of(raw)
        container = containers[0] if len(containers) == 1 else None
        if len(containers) > 1:
            container = await self.app.push_screen_wait(PickScreen(f"Shell in which container of {name}?", containers))
            if container is None:
                return
        self.app.run_in_terminal(shell_argv(self.app.config, namespace, name, container), f"open a shell in {key}")

    def action_owner(self) -> None:
        self._on_pod(self._jump_to_owner, "find the pod's owner")

    async def _jump_to_owner(self, key: str, raw: dict) -> None:
        """The pod's controller: a ReplicaSet's Deployment (or a Deployment itself), shown in the
        Deployments pane with the cursor on it; any other owner is named."""
        namespace = key.rpartition("/")[0]
        controller, replica_set = controller_of(raw)
        kind, name = await workload_of(self.kube, namespace, raw)
        if controller == "ReplicaSet" and not kind:
            self.app.notify(f"Pod {key} belongs to ReplicaSet {namespace}/{replica_set}, which no "
                            "Deployment owns", severity="warning")
            return
        if not kind:
            self.app.notify(f"Pod {key} has no owner", severity="warning")
        elif kind != "Deployment":
            self.app.notify(f"Pod {key} is owned by {kind} {namespace}/{name}: no pane shows it", severity="warning")
        else:
            self.app.jump_to("deployments", f"{namespace}/{name}")
