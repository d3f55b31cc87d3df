"""Who runs an object, as the pane actions' flows read it from its ownerReferences."""

from __future__ import annotations

from typing import Any


def controller_of(raw: dict[str, Any]) -> tuple[str, str]:
    """(kind, name) of the object's controller, as its ownerReferences say; ("", "") for none."""
    owners = (raw.get("metadata") or {}).get("ownerReferences") or []
    controller = next((owner for owner in owners if owner.get("controller")), None)
    return (controller["kind"], controller["name"]) if controller else ("", "")


def shown_controller(raw: dict[str, Any]) -> str:
    """"ReplicaSet web-5d9f", or "" when nothing controls the object."""
    return " ".join(controller_of(raw)).strip()
