"""The API errors of the simulated server, each with the Status body the real API server sends
for it: NotFound, AlreadyExists, Conflict, BadRequest, and Invalid with one cause per field."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from .resources import JsonObject, ResourceType


class KubeApiError(Exception):
    """An API error; `status` is the Status body the HTTP layer sends."""

    def __init__(self, code: int, reason: str, message: str, details: JsonObject | None = None):
        super().__init__(message)
        self.code = code
        self.reason = reason
        self.message = message
        self.details = details

    @property
    def status(self) -> JsonObject:
        return status_body(self.code, self.reason, self.message, self.details)


def status_body(code: int, reason: str, message: str, details: JsonObject | None = None) -> JsonObject:
    body: JsonObject = {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
                        "message": message}
    if reason:  # an error that is no Status in the real server has no reason
        body["reason"] = reason
    if details:
        body["details"] = details
    body["code"] = code
    return body


def resource_details(rt: ResourceType, name: str) -> JsonObject:
    details: JsonObject = {"name": name}
    if rt.group:
        details["group"] = rt.group
    details["kind"] = rt.plural
    return details


def not_found(rt: ResourceType, name: str) -> KubeApiError:
    return KubeApiError(404, "NotFound", f'{rt.group_resource} "{name}" not found',
                        resource_details(rt, name))


def already_exists(rt: ResourceType, name: str) -> KubeApiError:
    return KubeApiError(409, "AlreadyExists", f'{rt.group_resource} "{name}" already exists',
                        resource_details(rt, name))


def conflict(rt: ResourceType, name: str) -> KubeApiError:
    return KubeApiError(
        409, "Conflict",
        f'Operation cannot be fulfilled on {rt.group_resource} "{name}": the object has been '
        "modified; please apply your changes to the latest version and try again",
        resource_details(rt, name))


def bad_request(message: str) -> KubeApiError:
    return KubeApiError(400, "BadRequest", message)


@dataclass(frozen=True, slots=True)
class FieldError:
    """One cause of a 422 Invalid, e.g. FieldError("spec.ports[0].nodePort", "Invalid value: 1: ...")."""

    field: str
    detail: str

    @property
    def reason(self) -> str:
        for prefix, reason in (("Invalid value", "FieldValueInvalid"), ("Required", "FieldValueRequired"),
                               ("Forbidden", "FieldValueForbidden"), ("Unsupported", "FieldValueNotSupported"),
                               ("Duplicate", "FieldValueDuplicate")):
            if self.detail.startswith(prefix):
                return reason
        return "FieldValueInvalid"


def invalid(rt: ResourceType, name: str, errors: Sequence[FieldError]) -> KubeApiError:
    texts = [f"{e.field}: {e.detail}" for e in errors]
    summary = texts[0] if len(texts) == 1 else "[" + ", ".join(texts) + "]"
    details: JsonObject = {"name": name}
    if rt.group:
        details["group"] = rt.group
    details["kind"] = rt.kind
    details["causes"] = [{"reason": e.reason, "message": e.detail, "field": e.field} for e in errors]
    return KubeApiError(422, "Invalid", f'{rt.qualified_kind} "{name}" is invalid: {summary}', details)


def invalid_options(kind: str, errors: Sequence[FieldError]) -> KubeApiError:
    """422 for bad request options (kind PatchOptions, CreateOptions, ... in meta.k8s.io)."""
    texts = [f"{e.field}: {e.detail}" for e in errors]
    summary = texts[0] if len(texts) == 1 else "[" + ", ".join(texts) + "]"
    details = {"group": "meta.k8s.io", "kind": kind,
               "causes": [{"reason": e.reason, "message": e.detail, "field": e.field} for e in errors]}
    return KubeApiError(422, "Invalid", f'{kind}.meta.k8s.io "" is invalid: {summary}', details)
