"""A response that never arrives: the headers go out promising a body, then the connection closes. The
client sees the connection broken mid-response (requests: ChunkedEncodingError; urllib3: ProtocolError),
as when a network drops an answer the CRM had already acted on."""

from __future__ import annotations

from starlette.responses import Response
from starlette.types import Receive, Scope, Send


class ResponseDropped(Exception):
    """Raised after the headers were sent, so that the server closes the connection."""


class DroppedResponse(Response):
    """Send the start of a 200 answer, then drop the connection."""

    def __init__(self) -> None:
        super().__init__(status_code=200)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await send({"type": "http.response.start", "status": 200,
                    "headers": [(b"content-type", b"application/json"), (b"content-length", b"4096")]})
        await send({"type": "http.response.body", "body": b"{", "more_body": True})
        raise ResponseDropped("response dropped by an injected fault")
