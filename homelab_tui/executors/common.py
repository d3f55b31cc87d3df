"""What every executor shares."""

from __future__ import annotations


class StepError(Exception):
    """A step did not do what it should; the message says what happened."""
