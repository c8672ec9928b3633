"""Dataverse's error shape: `{"error": {"code": "0x...", "message": "..."}}` with the HTTP status."""

from __future__ import annotations

from typing import Any

NOT_FOUND = "0x80040217"
DUPLICATE_KEY = "0x80060892"
BAD_PROPERTY = "0x80060888"
VALIDATION = "0x80040265"
BAD_QUERY = "0x80060888"
UNAUTHORIZED = "0x80072560"
THROTTLED = "0x80072322"
SERVER = "0x80040216"
EXPIRED_VERSION_STAMP = "0x80044352"


class DataverseError(Exception):
    """An error answer of the Web API."""

    def __init__(self, status: int, code: str, message: str, headers: dict[str, str] | None = None):
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.headers = dict(headers or {})

    def body(self) -> dict[str, Any]:
        return {"error": {"code": self.code, "message": self.message}}


def not_found(table: str, record_id: str) -> DataverseError:
    return DataverseError(404, NOT_FOUND, f"{table} With Id = {record_id} Does Not Exist")


def bad_request(message: str, code: str = BAD_QUERY) -> DataverseError:
    return DataverseError(400, code, message)


STATUS_ERRORS: dict[int, tuple[str, str]] = {
    400: (VALIDATION, "The request is invalid."),
    401: (UNAUTHORIZED, "The access token is expired or invalid."),
    403: ("0x80040220", "Principal user is missing prvReadLead privilege."),
    404: (NOT_FOUND, "Resource not found for the segment."),
    429: (THROTTLED, "Number of requests exceeded the limit of 6000 over time window of 300 seconds."),
    500: (SERVER, "An unexpected error occurred."),
    502: (SERVER, "Bad Gateway"),
    503: ("0x80040216", "Service Unavailable"),
    504: ("0x80044151", "The operation timed out."),
}
"""The code and message Dataverse answers with for each status a fault can inject."""
