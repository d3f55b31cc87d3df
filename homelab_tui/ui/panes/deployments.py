"""The Deployments pane: `kubectl get deploy -A`, shown alone (key 6 or `:deploy`)."""

from __future__ import annotations

from datetime import datetime
from functools import partial

from textual.binding import Binding

from .. import rows
from ..logs import deployment_logs
from .base import KubePane, RowSource


class DeploymentsPane(KubePane):
    NAME, KEY, TITLE = "deployments", "6", "Deployments"
    COMMANDS = ("deployment", "deploy", "dp")  # `:` aliases, as in k9s
    COLUMNS = rows.DEPLOYMENT_COLUMNS
    DEFAULT_SORT = ("NAMESPACE", "NAME")
    SOURCE = "Deployment"
    NAMESPACED = True
    BINDINGS = [Binding("l", "logs", "Logs", id="deployment_logs",
                        tooltip="Follow the logs of its pods, each line after its pod's name"),
                Binding("s", "scale", "Scale", id="deployment_scale", tooltip="Set its replicas (the scale subresource)"),
                Binding("r", "restart", "Restart", id="deployment_restart",
                        tooltip="Rollout restart: its pods replaced, as kubectl rollout restart does")]

    def row_source(self, now: datetime | None) -> RowSource:
        deployments, styled = self.state.kube.of("Deployment"), self.styler()
        return deployments, lambda key: styled(rows.deployment_row(deployments[key], now)) if key in deployments \
            else None

    def action_scale(self) -> None:
        if (key := self.cursor_key()) is not None:
            self.app.run_worker(self._scale(key), group="scale", exclusive=True, exit_on_error=False,
                                description="scale a deployment")

    async def _scale(self, key: str) -> None:
        """The dialog prefilled from the scale subresource, then the plan, as every change."""
        from ...flows.scale import plan_scale
        from ..modals import ScaleScreen

        namespace, _, name = key.rpartition("/")
        current = await self.kube.replicas(self.SOURCE, namespace, name)
        replicas = await self.app.push_screen_wait(ScaleScreen(f"{self.SOURCE} {key}", current))
        if replicas is not None:
            self.app.apply_change(partial(plan_scale, namespace=namespace, name=name, replicas=replicas), "Scale")

    def action_restart(self) -> None:
        from ...flows.restart import plan_restart

        if (key := self.cursor_key()) is not None:
            namespace, _, name = key.rpartition("/")
            self.app.apply_change(partial(plan_restart, kind=self.SOURCE, namespace=namespace, name=name), "Restart")

    def action_logs(self) -> None:
        if (key := self.cursor_key()) is not None and (deployment := self.state.kube.of("Deployment").get(key)):
            deployment_logs(self.app, deployment, self.state.kube.of("Pod").values())
