"""Network latency for an emulator: every HTTP request answered `ms` milliseconds later (an ASGI
wrapper; the wait is asynchronous, so concurrent requests wait side by side, as over a real link)."""

from __future__ import annotations

import asyncio
from typing import Any


def with_latency(app: Any, ms: float) -> Any:
    """`app` with `ms` added before each HTTP request is handled (0: `app` itself)."""
    if ms <= 0:
        return app
    seconds = ms / 1000

    async def delayed(scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "http":
            await asyncio.sleep(seconds)
        await app(scope, receive, send)

    return delayed
