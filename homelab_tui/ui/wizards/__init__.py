"""The TUI's side of the wizards: one screen for every wizard of the registry (flows.WIZARDS), with
its form made from the wizard's request."""

from .screen import PlanProgress, WizardScreen

__all__ = ["PlanProgress", "WizardScreen"]
