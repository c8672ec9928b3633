"""Salesforce's error shapes: whole-response errors (`[{message, errorCode}]`) and per-record errors."""

from __future__ import annotations

from typing import Any

JSON_CONTENT_TYPE = "application/json;charset=UTF-8"


class ApiError(Exception):
    """An error answered as a whole HTTP response: status, JSON body and extra headers."""

    def __init__(self, status: int, body: Any, headers: dict[str, str] | None = None) -> None:
        super().__init__(str(body))
        self.status = status
        self.body = body
        self.headers = headers or {}

    @classmethod
    def of(cls, status: int, error_code: str, message: str, fields: list[str] | None = None) -> ApiError:
        """The usual `[{"message", "errorCode"(, "fields")}]` body."""
        item: dict[str, Any] = {"message": message, "errorCode": error_code}
        if fields is not None:
            item["fields"] = fields
        return cls(status, [item])

    @classmethod
    def not_found(cls, message: str = "The requested resource does not exist") -> ApiError:
        """404 NOT_FOUND."""
        return cls.of(404, "NOT_FOUND", message)

    @classmethod
    def bad_request(cls, error_code: str, message: str) -> ApiError:
        """400 with the given errorCode."""
        return cls.of(400, error_code, message)


class RecordError(Exception):
    """Why one record could not be saved: a Salesforce statusCode, a message and the fields at fault."""

    def __init__(
        self, status_code: str, message: str, fields: list[str] | None = None, *, show_fields: bool = True
    ) -> None:
        super().__init__(f"{status_code}: {message}")
        self.status_code = status_code
        self.message = message
        self.fields = list(fields or [])
        self._show_fields = show_fields

    def item(self) -> dict[str, Any]:
        """The entry of a result's `errors` list (sObject Collections, composite)."""
        return {"statusCode": self.status_code, "message": self.message, "fields": self.fields}

    def body(self) -> list[dict[str, Any]]:
        """The body of a single-record REST call that failed (no `fields` when the error names none, as for
        INVALID_FIELD in sf_error_invalid_field.json)."""
        item: dict[str, Any] = {"message": self.message, "errorCode": self.status_code}
        if self._show_fields:
            item["fields"] = self.fields
        return [item]

    def bulk_text(self) -> str:
        """The `sf__Error` column of Bulk API 2.0 failed results, e.g. `REQUIRED_FIELD_MISSING:...:LastName --`."""
        fields = f"{','.join(self.fields)} " if self.fields else ""
        return f"{self.status_code}:{self.message}:{fields}--"


ROLLED_BACK = RecordError(
    "ALL_OR_NONE_OPERATION_ROLLED_BACK",
    "Record rolled back because not all records were valid and the request was using AllOrNone header",
)
