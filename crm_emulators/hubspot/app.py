"""HTTP routes of the HubSpot emulator: HubSpot's own paths plus the `/__emulator/*` control endpoints."""

from __future__ import annotations

import asyncio
import json
from typing import Any, Callable
from urllib.parse import parse_qsl

from fastapi import FastAPI, Request, Response
from fastapi.responses import JSONResponse, RedirectResponse
from starlette.concurrency import run_in_threadpool

from crm_emulators.core.control import control_router
from crm_emulators.core.faults import DroppedResponse

from .crm import CrmApi
from .emulator import CallResult, HubSpotEmulator
from .errors import HubSpotError, error

OBJECT_BATCH_OPERATIONS = ("read", "create", "update", "upsert", "archive")


class HubSpotJSON(JSONResponse):
    """JSON with the content type HubSpot sends."""

    media_type = "application/json;charset=utf-8"


def _json(raw: bytes) -> Any:
    """A request body as JSON, or HubSpot's 400 for unreadable input."""
    try:
        return json.loads(raw or b"{}")
    except json.JSONDecodeError as exc:
        raise error(400, f"Invalid input JSON on line {exc.lineno}, column {exc.colno}: {exc.msg}") from None


def _object(raw: bytes) -> dict[str, Any]:
    body = _json(raw)
    if not isinstance(body, dict):
        raise error(400, "Invalid input JSON on line 1, column 1: expected an object")
    return body


def _multi(request: Request, name: str) -> list[str]:
    """A list query parameter sent repeated (`?p=a&p=b`) or comma-separated (`?p=a,b`)."""
    return [part for value in request.query_params.getlist(name) for part in value.split(",") if part]


def _flag(request: Request, name: str) -> bool:
    return request.query_params.get(name, "false").lower() == "true"


def _int(request: Request, name: str, default: int) -> int:
    raw = request.query_params.get(name)
    if raw is None:
        return default
    try:
        return int(raw)
    except ValueError:
        raise error(400, f"{name} must be an integer", "VALIDATION_ERROR") from None


async def _respond(result: CallResult) -> Response:
    if result.delay_seconds:
        await asyncio.sleep(result.delay_seconds)
    if result.dropped:
        return DroppedResponse()
    headers = dict(result.headers)
    if isinstance(result.body, dict) and "correlationId" in result.body:
        headers["X-HubSpot-Correlation-Id"] = str(result.body["correlationId"])
    if result.body is None:
        return Response(status_code=result.status, headers=headers)
    return HubSpotJSON(result.body, status_code=result.status, headers=headers)


def create_app(emulator: HubSpotEmulator) -> FastAPI:
    """The ASGI app serving one emulator."""
    app = FastAPI(title="HubSpot emulator", docs_url=None, redoc_url=None, openapi_url=None)

    @app.exception_handler(json.JSONDecodeError)
    async def unreadable_control_body(request: Request, exc: json.JSONDecodeError) -> Response:
        return JSONResponse({"error": f"invalid JSON: {exc.msg}"}, status_code=400)

    async def api(request: Request, category: str, operation: Callable[[CrmApi, bytes], tuple[int, Any]],
                  search: bool = False) -> Response:
        raw = await request.body()
        result = await run_in_threadpool(
            emulator.call,
            request.headers.get("authorization"),
            category,
            lambda crm: operation(crm, raw),
            method=request.method,
            path=request.url.path,
            search=search,
        )
        return await _respond(result)

    # ---- CRM objects

    @app.get("/crm/v3/owners")
    @app.get("/crm/v3/owners/")  # the client library's path
    async def list_owners(request: Request) -> Response:
        def op(crm: CrmApi, raw: bytes) -> tuple[int, Any]:
            email = (request.query_params.get("email") or "").lower()
            found = [o for o in crm.portal.owners if not email or o["email"].lower() == email]
            return 200, {"results": found[:_int(request, "limit", 100)]}
        return await api(request, "owners", op)

    @app.get("/crm/v3/objects/{object_type}")
    async def list_objects(object_type: str, request: Request) -> Response:
        def op(crm: CrmApi, raw: bytes) -> tuple[int, Any]:
            return 200, crm.list_page(object_type, _int(request, "limit", 10), request.query_params.get("after"),
                                 _multi(request, "properties"), _multi(request, "associations"), _flag(request, "archived"),
                                 str(request.base_url).rstrip("/"))
        return await api(request, "list", op)

    @app.post("/crm/v3/objects/{object_type}")
    async def create_object(object_type: str, request: Request) -> Response:
        return await api(request, "create", lambda crm, raw: (201, crm.create(object_type, _object(raw))))

    @app.post("/crm/v3/objects/{object_type}/search")
    async def search_objects(object_type: str, request: Request) -> Response:
        return await api(request, "search", lambda crm, raw: (200, crm.search(object_type, _object(raw))), search=True)

    @app.post("/crm/v3/objects/{object_type}/batch/{operation}")
    async def batch(object_type: str, operation: str, request: Request) -> Response:
        if operation not in OBJECT_BATCH_OPERATIONS:
            return HubSpotJSON(error(404, f"Unknown batch operation {operation}").body, status_code=404)

        def op(crm: CrmApi, raw: bytes) -> tuple[int, Any]:
            body = _object(raw)
            if operation == "read":
                return crm.batch_read(object_type, body, _flag(request, "archived"))
            if operation == "archive":
                crm.batch_archive(object_type, body)
                return 204, None
            return {"create": crm.batch_create, "update": crm.batch_update, "upsert": crm.batch_upsert}[operation](object_type, body)
        return await api(request, f"batch_{operation}", op)

    @app.get("/crm/v3/objects/{object_type}/{object_id}")
    async def get_object(object_type: str, object_id: str, request: Request) -> Response:
        def op(crm: CrmApi, raw: bytes) -> tuple[int, Any]:
            return 200, crm.get(object_type, object_id, _multi(request, "properties"), _multi(request, "associations"),
                                _flag(request, "archived"), request.query_params.get("idProperty"))
        return await api(request, "get", op)

    @app.patch("/crm/v3/objects/{object_type}/{object_id}")
    async def update_object(object_type: str, object_id: str, request: Request) -> Response:
        return await api(request, "update", lambda crm, raw: (
            200, crm.update(object_type, object_id, _object(raw), request.query_params.get("idProperty"))))

    @app.delete("/crm/v3/objects/{object_type}/{object_id}")
    async def archive_object(object_type: str, object_id: str, request: Request) -> Response:
        def op(crm: CrmApi, raw: bytes) -> tuple[int, Any]:
            crm.archive(object_type, object_id)
            return 204, None
        return await api(request, "archive", op)

    # ---- properties

    @app.get("/crm/v3/properties/{object_type}")
    async def list_properties(object_type: str, request: Request) -> Response:
        return await api(request, "properties", lambda crm, raw: (200, crm.list_properties(object_type)))

    @app.post("/crm/v3/properties/{object_type}")
    async def create_property(object_type: str, request: Request) -> Response:
        return await api(request, "properties", lambda crm, raw: (201, crm.create_property(object_type, _object(raw))))

    @app.get("/crm/v3/properties/{object_type}/{name}")
    async def get_property(object_type: str, name: str, request: Request) -> Response:
        return await api(request, "properties", lambda crm, raw: (200, crm.get_property(object_type, name)))

    # ---- associations v4

    @app.put("/crm/v4/objects/{from_type}/{from_id}/associations/default/{to_type}/{to_id}")
    async def associate_default(from_type: str, from_id: str, to_type: str, to_id: str, request: Request) -> Response:
        return await api(request, "associations", lambda crm, raw: (
            200, crm.associations.create_default(from_type, from_id, to_type, to_id)))

    @app.put("/crm/v4/objects/{from_type}/{from_id}/associations/{to_type}/{to_id}")
    async def associate(from_type: str, from_id: str, to_type: str, to_id: str, request: Request) -> Response:
        def op(crm: CrmApi, raw: bytes) -> tuple[int, Any]:
            specs = _json(raw)
            if not isinstance(specs, list):
                raise error(400, "Invalid input JSON on line 1, column 1: expected a list of association specs")
            return 201, crm.associations.create(from_type, from_id, to_type, to_id, specs)
        return await api(request, "associations", op)

    @app.delete("/crm/v4/objects/{from_type}/{from_id}/associations/{to_type}/{to_id}")
    async def dissociate(from_type: str, from_id: str, to_type: str, to_id: str, request: Request) -> Response:
        def op(crm: CrmApi, raw: bytes) -> tuple[int, Any]:
            crm.associations.archive(from_type, from_id, to_type, to_id)
            return 204, None
        return await api(request, "associations", op)

    @app.get("/crm/v4/objects/{from_type}/{from_id}/associations/{to_type}")
    async def associations_page(from_type: str, from_id: str, to_type: str, request: Request) -> Response:
        return await api(request, "associations", lambda crm, raw: (200, crm.associations.page(
            from_type, from_id, to_type, request.query_params.get("after"), min(_int(request, "limit", 500), 500))))

    @app.post("/crm/v4/associations/{from_type}/{to_type}/batch/{operation}")
    async def associations_batch(from_type: str, to_type: str, operation: str, request: Request) -> Response:
        def op(crm: CrmApi, raw: bytes) -> tuple[int, Any]:
            inputs = _object(raw).get("inputs") or []
            if operation == "create":
                return crm.associations.batch_create(from_type, to_type, inputs)
            if operation == "read":
                return crm.associations.batch_read(from_type, to_type, inputs)
            if operation == "archive":
                crm.associations.batch_archive(from_type, to_type, inputs)
                return 204, None
            raise error(404, f"Unknown batch operation {operation}")
        return await api(request, "associations", op)

    @app.post("/crm/v4/associations/{from_type}/{to_type}/batch/associate/default")
    async def associations_batch_default(from_type: str, to_type: str, request: Request) -> Response:
        return await api(request, "associations", lambda crm, raw: crm.associations.batch_create_default(
            from_type, to_type, _object(raw).get("inputs") or []))

    @app.post("/crm/v4/associations/{from_type}/{to_type}/batch/labels/archive")
    async def associations_batch_labels_archive(from_type: str, to_type: str, request: Request) -> Response:
        def op(crm: CrmApi, raw: bytes) -> tuple[int, Any]:
            crm.associations.batch_archive_labels(from_type, to_type, _object(raw).get("inputs") or [])
            return 204, None
        return await api(request, "associations", op)

    # ---- OAuth

    @app.post("/oauth/v1/token")
    async def token(request: Request) -> Response:
        form = dict(parse_qsl((await request.body()).decode("utf-8")))
        return await _respond(await run_in_threadpool(emulator.token, form))

    @app.get("/oauth/authorize")
    async def authorize(request: Request) -> Response:
        try:
            location = emulator.authorize(dict(request.query_params))
        except HubSpotError as exc:
            return HubSpotJSON(exc.body, status_code=exc.status)
        return RedirectResponse(location, status_code=302)

    @app.get("/oauth/v1/access-tokens/{token}")
    async def access_token_info(token: str) -> Response:
        return await _respond(emulator.access_token_info(token))

    # ---- control (no auth, not counted)

    app.include_router(control_router(
        emulator,
        answer=lambda body, status: JSONResponse(body, status_code=status),
        refuse=lambda message, unreadable: JSONResponse({"error": message}, status_code=400),
    ))

    @app.get("/__emulator/credentials")
    async def credentials(request: Request) -> Response:
        return JSONResponse(emulator.credentials(str(request.base_url).rstrip("/")))

    @app.get("/__emulator/records/{portal}/{object_type}")
    async def admin_records(portal: int, object_type: str) -> Response:
        return await _admin(lambda: {"results": emulator.records(portal, object_type)})

    @app.post("/__emulator/records/{portal}/{object_type}")
    async def admin_upsert(portal: int, object_type: str, request: Request) -> Response:
        body = await request.json()
        return await _admin(lambda: {"id": emulator.admin_upsert(portal, object_type, body.get("properties") or {}, body.get("id"))})

    @app.delete("/__emulator/records/{portal}/{object_type}/{record_id}")
    async def admin_archive(portal: int, object_type: str, record_id: str) -> Response:
        def archive() -> dict[str, Any]:
            emulator.admin_archive(portal, object_type, record_id)
            return {"archived": record_id}
        return await _admin(archive)

    return app


async def _admin(action: Callable[[], dict[str, Any]]) -> Response:
    try:
        return JSONResponse(await run_in_threadpool(action))
    except KeyError as exc:
        return JSONResponse({"error": str(exc.args[0])}, status_code=404)
    except (ValueError, HubSpotError) as exc:
        return JSONResponse({"error": str(exc)}, status_code=400)
