"""Parsers for the template's plain cells: bounded text, email addresses (syntax checked by
email-validator, no DNS look-up), whole numbers and amounts."""

from __future__ import annotations

import re
from collections.abc import Callable
from decimal import Decimal, InvalidOperation

from email_validator import EmailNotValidError, validate_email

from connector.leads.imports.text import Invalid


def text(limit: int) -> Callable[[str], str]:
    """A parser refusing text longer than `limit` characters."""
    def parse(value: str) -> str:
        if len(value) > limit:
            raise Invalid(f"is longer than {limit} characters")
        return value
    return parse


def parse_email(value: str) -> str:
    """The address as written, when its syntax is valid; Invalid naming what is wrong otherwise."""
    try:
        validate_email(value, check_deliverability=False)
    except EmailNotValidError as exc:
        raise Invalid(f"is not a valid email address ({exc})") from None
    return value


def parse_whole_number(value: str) -> int:
    """A count such as '1,200' (0 to 2**31-1)."""
    cleaned = value.replace(",", "").replace(" ", "")
    try:
        number = Decimal(cleaned)
    except InvalidOperation:
        raise Invalid("is not a whole number") from None
    if not number.is_finite() or number != number.to_integral_value() or number < 0 or number >= 2**31:
        raise Invalid("is not a whole number from 0 to 2147483647")
    return int(number)


def parse_amount(value: str) -> Decimal:
    """A money amount such as '$1,250,000.50', to the cent."""
    cleaned = re.sub(r"[\s,$€£¥]", "", value)
    try:
        amount = Decimal(cleaned)
    except InvalidOperation:
        raise Invalid("is not an amount") from None
    if not amount.is_finite() or amount < 0 or amount >= Decimal(10) ** 16:
        raise Invalid("is not an amount from 0 to 9999999999999999.99")
    return amount.quantize(Decimal("0.01"))
