"""The TUI's side of the wizards: one screen for every wizard of the registry (flows.WIZARDS), its
form made from the wizard's request, and the modals a wizard asks in."""

from .modals import AskScreen, SudoPasswordScreen, TrustHostKeyScreen
from .screen import PlanProgress, WizardScreen, plan_text

__all__ = ["AskScreen", "PlanProgress", "SudoPasswordScreen", "TrustHostKeyScreen", "WizardScreen", "plan_text"]
