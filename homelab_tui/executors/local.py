"""Steps on this machine: the local kubeconfig, when the cluster it names is gone."""

from __future__ import annotations

from collections.abc import Callable

from ..clients.kubeconfig import remove_from_file
from ..plans import Step
from ..plans.actions import Action, RemoveKubeconfigEntries
from .common import StepError


class LocalExecutor:
    async def execute(self, step: Step, action: Action, context, output: Callable[[str], None]) -> None:
        if not isinstance(action, RemoveKubeconfigEntries):
            raise StepError(f"a local step cannot {type(action).__name__}")
        try:
            removed = remove_from_file(action.kubeconfig, action.name)
        except OSError as error:
            raise StepError(f"cannot rewrite {action.kubeconfig}: {error.strerror or error}") from None
        output(f"removed {', '.join(removed)} from {action.kubeconfig} (the previous file is kept as .bak)"
               if removed else f"{action.kubeconfig} has nothing named {action.name}")
