"""Values between the CRM's wire types and the datastore's column types."""

from __future__ import annotations

import functools
from datetime import date, datetime, timezone
from decimal import Decimal, InvalidOperation
from typing import Any

from sqlalchemy import Column


class CoercionError(ValueError):
    """A value that cannot become the column's type."""


@functools.cache
def python_type(column: Column[Any]) -> type:
    try:
        return column.type.python_type
    except NotImplementedError:
        return object


def to_column(column: Column[Any], value: Any) -> Any:
    """A CRM value (often a string) as the column's Python type; None stays None."""
    if value is None or (isinstance(value, str) and value == "" and python_type(column) is not str):
        return None
    target = python_type(column)
    try:
        if target is bool:
            if isinstance(value, str):
                if value.lower() not in ("true", "false", "1", "0", "yes", "no"):
                    raise ValueError(value)
                return value.lower() in ("true", "1", "yes")
            return bool(value)
        if target is int:
            if isinstance(value, str) and "." in value:
                as_decimal = Decimal(value)
                if as_decimal != as_decimal.to_integral_value():
                    raise ValueError(value)
                return int(as_decimal)
            return int(value)
        if target is Decimal:
            return Decimal(str(value))
        if target is datetime:
            if isinstance(value, datetime):
                parsed = value
            elif isinstance(value, (int, float)) or (isinstance(value, str) and value.isdigit()):
                parsed = datetime.fromtimestamp(int(value) / 1000, timezone.utc)  # epoch milliseconds
            else:
                parsed = datetime.fromisoformat(str(value).replace("Z", "+00:00").replace("+0000", "+00:00"))
            return parsed if parsed.tzinfo else parsed.replace(tzinfo=timezone.utc)
        if target is date:
            return value if isinstance(value, date) else date.fromisoformat(str(value)[:10])
        if target is str:
            return str(value)
        return value
    except (ValueError, TypeError, InvalidOperation, OverflowError):
        raise CoercionError(f"{value!r} is not a valid {target.__name__}") from None


def to_wire(value: Any) -> Any:
    """A datastore value as JSON the CRM clients send: dates ISO, decimals as numbers."""
    if isinstance(value, datetime):
        return value.astimezone(timezone.utc).isoformat().replace("+00:00", "Z")
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return float(value) if value == value.quantize(Decimal("0.01")) else str(value)
    return value
