"""HubSpot's error bodies, and the exception that carries one out of an emulated endpoint."""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from typing import Any

CATEGORY_STATUS = {
    "VALIDATION_ERROR": 400,
    "CONFLICT": 409,
    "OBJECT_NOT_FOUND": 404,
    "OBJECT_ALREADY_EXISTS": 409,
    "RATE_LIMITS": 429,
}


def correlation_id() -> str:
    """A fresh correlation id, as HubSpot puts in every error body."""
    return str(uuid.uuid4())


class HubSpotError(Exception):
    """An HTTP error response: status, JSON body and extra headers."""

    def __init__(self, status: int, body: dict[str, Any], headers: dict[str, str] | None = None) -> None:
        super().__init__(body.get("message", ""))
        self.status = status
        self.body = body
        self.headers = headers or {}


def error_body(message: str, category: str | None = None, **extra: Any) -> dict[str, Any]:
    """`{status: "error", message, correlationId, ..., category}` in HubSpot's key order."""
    body: dict[str, Any] = {"status": "error", "message": message, "correlationId": correlation_id()}
    body.update(extra)
    if category is not None:
        body["category"] = category
    return body


def error(status: int, message: str, category: str | None = None, **extra: Any) -> HubSpotError:
    """A `HubSpotError` with a standard body."""
    return HubSpotError(status, error_body(message, category, **extra))


def validation_error(message: str, **extra: Any) -> HubSpotError:
    """400 VALIDATION_ERROR."""
    return error(400, message, "VALIDATION_ERROR", **extra)


@dataclass(frozen=True)
class PropertyProblem:
    """One invalid property value, e.g. PROPERTY_DOESNT_EXIST for `missing`."""

    name: str
    code: str
    message: str


def _problem_list_text(problems: list[PropertyProblem], portal_id: int) -> str:
    items = [
        {
            "isValid": False,
            "message": p.message,
            "error": p.code,
            "name": p.name,
            "localizedErrorMessage": p.message,
            "portalId": portal_id,
        }
        for p in problems
    ]
    return "Property values were not valid: " + json.dumps(items, separators=(",", ":"))


def property_values_error(problems: list[PropertyProblem], portal_id: int) -> HubSpotError:
    """The 400 VALIDATION_ERROR of a rejected write (hs_error_400_validation.json)."""
    details = [{"message": p.message, "code": p.code, "context": {"propertyName": [p.name]}} for p in problems]
    return validation_error(_problem_list_text(problems, portal_id), errors=details)


def property_values_item(problems: list[PropertyProblem], portal_id: int, context: dict[str, list[str]]) -> dict[str, Any]:
    """One entry of a 207 batch response's `errors` for rejected values (hs_batch_create_207.json)."""
    return {
        "status": "error",
        "category": "VALIDATION_ERROR",
        "message": _problem_list_text(problems, portal_id),
        "context": context,
    }


def batch_item(category: str, message: str, context: dict[str, list[str]], sub_category: str | None = None) -> dict[str, Any]:
    """One entry of a 207 batch response's `errors`."""
    item: dict[str, Any] = {"status": "error", "category": category}
    if sub_category is not None:
        item["subCategory"] = sub_category
    item["message"] = message
    item["context"] = context
    return item


def batch_response(results: list[dict[str, Any]], errors: list[dict[str, Any]], completed: str) -> dict[str, Any]:
    """A batch endpoint's envelope; `numErrors` and `errors` only when some inputs failed (a 207)."""
    body: dict[str, Any] = {"status": "COMPLETE", "results": results}
    if errors:
        body["numErrors"] = len(errors)
        body["errors"] = errors
    body["startedAt"] = completed
    body["completedAt"] = completed
    return body


def from_batch_item(item: dict[str, Any]) -> HubSpotError:
    """Turn a per-record error into the whole-request error HubSpot returns when it cannot report per record."""
    status = CATEGORY_STATUS.get(item["category"], 400)
    return error(status, item["message"], item["category"])
