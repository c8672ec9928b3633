"""The `/__emulator/*` control endpoints every emulator serves (no auth, never counted as API calls):

    GET  /__emulator/stats               what the emulator counted
    POST /__emulator/reset               back to the starting state (the body's options are the emulator's)
    GET  /__emulator/clock               the emulator's time
    POST /__emulator/clock               {"advance_seconds": N}: move it forward
    GET  /__emulator/faults              the armed faults
    POST /__emulator/faults              arm faults (each emulator's JSON form)
    DELETE /__emulator/faults            disarm them all

The answers' shapes stay each emulator's own (its `Controlled` methods return the bodies).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from typing import Any, Protocol

from fastapi import APIRouter, Request, Response
from starlette.concurrency import run_in_threadpool


class Controlled(Protocol):
    """What an emulator offers its control endpoints."""

    def stats(self) -> Any: ...

    def advance_clock(self, seconds: float) -> str:
        """Move the clock forward (0: just read it); the new time as the CRM writes it."""

    def control_reset(self, options: Mapping[str, Any]) -> Any:
        """Reset with the POSTed options; the answer's body."""

    def control_armed(self) -> Any:
        """The armed faults' answer body."""

    def control_faults(self, payload: Any) -> tuple[int, Any]:
        """Arm the POSTed fault(s): the answer's status and body. ValueError/TypeError: refused."""

    def clear_faults(self) -> None: ...


Answer = Callable[[Any, int], Response]
"""(body, status) -> the emulator's JSON response."""
Refuse = Callable[[str, bool], Response]
"""(message, body unreadable as JSON?) -> the emulator's 400."""


class _Unreadable(ValueError):
    pass


async def _payload(request: Request) -> Any:
    raw = await request.body()
    if not raw:
        return {}
    try:
        return json.loads(raw)
    except json.JSONDecodeError as exc:
        raise _Unreadable(f"invalid JSON: {exc.msg}") from None


def control_router(target: Controlled, answer: Answer, refuse: Refuse) -> APIRouter:
    """The control routes for `target`, answering in its CRM's JSON style."""
    router = APIRouter(prefix="/__emulator")

    @router.get("/stats")
    async def stats() -> Response:
        return answer(await run_in_threadpool(target.stats), 200)

    @router.post("/reset")
    async def reset(request: Request) -> Response:
        try:
            payload = await _payload(request)
        except _Unreadable as exc:
            return refuse(str(exc), True)
        if not isinstance(payload, dict):
            return refuse("The request body must be a JSON object", True)
        return answer(await run_in_threadpool(target.control_reset, payload), 200)

    @router.get("/clock")
    async def clock_now() -> Response:
        return answer({"now": target.advance_clock(0)}, 200)

    @router.post("/clock")
    async def clock_advance(request: Request) -> Response:
        try:
            payload = await _payload(request)
            if not isinstance(payload, dict):
                return refuse("The request body must be a JSON object", True)
            now = target.advance_clock(float(payload.get("advance_seconds", 0)))
        except _Unreadable as exc:
            return refuse(str(exc), True)
        except (TypeError, ValueError) as exc:
            return refuse(str(exc), False)
        return answer({"now": now}, 200)

    @router.get("/faults")
    async def faults() -> Response:
        return answer(target.control_armed(), 200)

    @router.post("/faults")
    async def add_faults(request: Request) -> Response:
        try:
            status, body = target.control_faults(await _payload(request))
        except _Unreadable as exc:
            return refuse(str(exc), True)
        except (TypeError, ValueError) as exc:
            return refuse(str(exc), False)
        return answer(body, status)

    @router.delete("/faults")
    async def clear_faults() -> Response:
        target.clear_faults()
        return Response(status_code=204)

    return router
