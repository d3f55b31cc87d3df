"""Release (`x` on a NAT pane row of ours): drop our marker from a rule, so it becomes the user's
and homelab-tui never touches it again. Its comment keeps what it was, without the marker's
bracket (`released from homelab-tui: default/nginx tcp/80 dstnat 2`), so nothing reads it as
ours; the repair plan knows it by that comment and never makes the item again, and unexpose
leaves it. Pure."""

from __future__ import annotations

from dataclasses import dataclass

from . import Plan, PlanError, Step, Target
from .actions import RouterSet
from .routeros import MARKER_PREFIX, console_find, parse_marker, render_console

RELEASED_PREFIX = "released from homelab-tui: "


@dataclass(frozen=True)
class ReleaseAnswers:
    menu: str  # e.g. /ip/firewall/nat
    comment: str  # the rule's comment: our marker


@dataclass(frozen=True)
class ReleaseFacts:
    count: int = 1  # items of `menu` carrying the marker now


def released_comment(marker: str) -> str:
    return RELEASED_PREFIX + marker.removeprefix(MARKER_PREFIX).removesuffix("]")


def released_marker(comment: str) -> str:
    """The marker a released rule carried ("" when the comment is no released one of ours)."""
    return f"{MARKER_PREFIX}{comment.removeprefix(RELEASED_PREFIX)}]" if comment.startswith(RELEASED_PREFIX) else ""


def release_plan(answers: ReleaseAnswers, facts: ReleaseFacts) -> Plan:
    marker = parse_marker(answers.comment)
    if marker is None or str(marker) != answers.comment or not marker.role:
        raise PlanError("rule", f"not a rule of homelab-tui's (its comment has no marker {MARKER_PREFIX}...]): "
                                "it is yours already")
    if facts.count != 1:
        raise PlanError("rule", f"{facts.count} items carry {answers.comment}" if facts.count else
                                f"no item carries {answers.comment} any more")
    released = released_comment(answers.comment)
    return Plan(f"Release {answers.comment}", (Step(
        Target.ROUTER, "", f"Release {answers.comment}: its comment becomes “{released}”, the rule is yours and "
                           "homelab-tui never touches it again",
        render_console("set", answers.menu, {"comment": released}, target=console_find(comment=answers.comment)),
        RouterSet(answers.menu, answers.comment, (("comment", released),)),
        undo=RouterSet(answers.menu, released, (("comment", answers.comment),)),
        undo_rendering=render_console("set", answers.menu, {"comment": answers.comment},
                                      target=console_find(comment=released))),),
        (f"{marker.service} {marker.protocol}/{marker.port} keeps going without it: a repair never makes it again, "
         "and unexpose leaves it",))
