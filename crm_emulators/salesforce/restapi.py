"""The REST data API's internal request/response types and route table.

Requests under `/services/data/vXX.X/` are routed here, both from HTTP and from `/composite` subrequests, so
that a subrequest runs exactly the code a direct call runs.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from .errors import JSON_CONTENT_TYPE, ApiError

if TYPE_CHECKING:
    from .emulator import SalesforceEmulator

VERSION = re.compile(r"v(\d+\.\d+)")


@dataclass
class RestRequest:
    """One call to the data API: `path` is relative to `/services/data/vXX.X/`, without slashes around it."""

    method: str
    path: str
    version: str
    params: Mapping[str, str]
    headers: Mapping[str, str]
    body: bytes
    user_id: str

    def json(self) -> Any:
        """The JSON body; 400 JSON_PARSER_ERROR when it is not JSON."""
        try:
            return json.loads(self.body or b"null")
        except ValueError as exc:
            raise ApiError.bad_request("JSON_PARSER_ERROR", f"Unexpected character: {exc}") from None

    @property
    def version_number(self) -> float:
        """The API version as a number (59.0)."""
        return float(self.version)


@dataclass
class RestResponse:
    """What a route answers: status, body (JSON-able, or text for CSV) and headers."""

    status: int = 200
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)
    media_type: str = JSON_CONTENT_TYPE

    def content(self) -> bytes:
        """The body as sent on the wire."""
        if self.body is None:
            return b""
        if isinstance(self.body, bytes):
            return self.body
        if isinstance(self.body, str):
            return self.body.encode("utf-8")
        return json.dumps(self.body, separators=(",", ":")).encode("utf-8")


Handler = Callable[["SalesforceEmulator", RestRequest, "re.Match[str]"], RestResponse]


@dataclass(frozen=True)
class Route:
    """A path pattern (full match), the methods it answers, its usage category and its handler."""

    methods: frozenset[str]
    pattern: re.Pattern[str]
    category: str
    handler: Handler


def route(methods: str, pattern: str, category: str, handler: Handler) -> Route:
    """`route("GET PATCH", r"sobjects/(?P<object>\\w+)", "sobject", handler)`."""
    return Route(frozenset(methods.split()), re.compile(pattern), category, handler)


class Router:
    """Finds the route of a (method, path); 404 NOT_FOUND or 405 METHOD_NOT_ALLOWED otherwise."""

    def __init__(self, routes: list[Route]) -> None:
        self.routes = routes

    def resolve(self, method: str, path: str) -> tuple[Route, re.Match[str]]:
        """The route for (method, path) and its match."""
        allowed: list[str] = []
        for candidate in self.routes:
            match = candidate.pattern.fullmatch(path)
            if match is None:
                continue
            if method in candidate.methods:
                return candidate, match
            allowed.extend(sorted(candidate.methods - set(allowed)))
        if allowed:
            raise ApiError.of(
                405, "METHOD_NOT_ALLOWED", f"HTTP Method '{method}' not allowed. Allowed are {','.join(allowed)}"
            )
        raise ApiError.not_found()


def sobject_url(version: str, object_name: str, record_id: str) -> str:
    """`/services/data/vXX.X/sobjects/Object/Id`, the `attributes.url` of a record."""
    return f"/services/data/v{version}/sobjects/{object_name}/{record_id}"
