"""HTTP routes: the tenant's token and discovery endpoints, the Web API under `/api/data/v9.2/`
(`$batch` included), the shared `/__emulator/*` control endpoints, and `/__emulator/records`."""

from __future__ import annotations

import asyncio
from typing import Any
from urllib.parse import parse_qsl

from fastapi import FastAPI, Request, Response
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool

from ..core.control import control_router
from ..core.faults import DroppedResponse
from .emulator import DynamicsEmulator, Result
from .errors import DataverseError

_METHODS = ["GET", "POST", "PATCH", "DELETE"]


def _base(request: Request) -> str:
    return str(request.base_url).rstrip("/")


async def _respond(result: Result) -> Response:
    if result.reset:
        return DroppedResponse()
    if result.delay_seconds:
        await asyncio.sleep(result.delay_seconds)
    if result.dropped:
        return DroppedResponse()
    if result.raw is not None:
        return Response(result.raw, result.status, result.headers, media_type=result.media_type if result.raw else None)
    return JSONResponse(result.body, result.status, result.headers, media_type=result.media_type)


def create_app(emulator: DynamicsEmulator) -> FastAPI:
    """The ASGI app serving `emulator`."""
    app = FastAPI(title="UPM Dataverse emulator", docs_url=None, redoc_url=None, openapi_url=None)

    @app.post("/{tenant}/oauth2/v2.0/token")
    async def token(tenant: str, request: Request) -> Response:
        form = dict(parse_qsl((await request.body()).decode("utf-8"), keep_blank_values=True))
        status, body = await run_in_threadpool(emulator.token, tenant, form)
        return JSONResponse(body, status, {"Cache-Control": "no-store, no-cache"})

    @app.get("/{tenant}/v2.0/.well-known/openid-configuration")
    async def discovery(tenant: str, request: Request) -> Response:
        if tenant != emulator.authority.tenant_id:
            return JSONResponse({"error": "invalid_tenant", "error_description": f"AADSTS90002: Tenant '{tenant}' not found."}, 400)
        return JSONResponse(emulator.authority.discovery(_base(request)))

    @app.api_route("/api/data/v9.2/{path:path}", methods=_METHODS)
    async def web_api(path: str, request: Request) -> Response:
        raw = await request.body()
        headers = {k.lower(): v for k, v in request.headers.items()}
        result = await run_in_threadpool(emulator.api, request.headers.get("authorization"), request.method, path,
                                         dict(request.query_params), headers, raw, _base(request))
        return await _respond(result)

    app.include_router(control_router(
        emulator,
        answer=lambda body, status: JSONResponse(body, status),
        refuse=lambda message, unreadable: JSONResponse({"error": {"code": "0x80040216", "message": message}}, 400),
    ))

    @app.get("/__emulator/credentials")
    async def credentials(request: Request) -> Response:
        return JSONResponse(emulator.credentials(_base(request)))

    @app.get("/__emulator/records/{table}")
    async def records(table: str) -> Response:
        try:
            return JSONResponse({"value": emulator.records(table)})
        except KeyError as exc:
            return JSONResponse({"error": {"code": "0x80040217", "message": str(exc.args[0])}}, 404)

    @app.post("/__emulator/records/{table}")
    async def admin_upsert(table: str, request: Request) -> Response:
        body: Any = await request.json()
        try:
            return JSONResponse({"id": emulator.admin_upsert(table, body)})
        except KeyError as exc:
            return JSONResponse({"error": {"code": "0x80040217", "message": str(exc.args[0])}}, 404)
        except DataverseError as exc:
            return JSONResponse(exc.body(), exc.status)

    return app
