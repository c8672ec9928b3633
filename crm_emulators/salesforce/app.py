"""The emulator's HTTP face (FastAPI): the data API gateway (auth, faults, usage), OAuth endpoints, the
disabled Bulk API 1.0, and the `/__emulator/*` control endpoints (no auth, not counted)."""

from __future__ import annotations

import asyncio
import base64
import binascii
import logging
import uuid
from typing import Any
from urllib.parse import parse_qsl

from fastapi import FastAPI, Request
from fastapi.responses import RedirectResponse, Response
from starlette.exceptions import HTTPException as StarletteHTTPException

from crm_emulators.core.control import control_router
from crm_emulators.core.faults import DroppedResponse

from .auth import OAuthError
from .emulator import SalesforceEmulator
from .errors import JSON_CONTENT_TYPE, ApiError, RecordError
from .faults import UNAVAILABLE_BODY
from .restapi import VERSION, RestRequest, RestResponse

log = logging.getLogger(__name__)

SUPPORTED_VERSIONS = ("52.0", "55.0", "57.0", "58.0", "59.0", "60.0", "61.0", "62.0", "63.0", "64.0", "65.0")
_DATA_METHODS = ["GET", "POST", "PATCH", "PUT", "DELETE"]


def _json(body: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    return Response(RestResponse(status, body).content(), status, headers, media_type=JSON_CONTENT_TYPE)


def _basic_credentials(header: str | None) -> tuple[str, str] | None:
    scheme, _, encoded = (header or "").partition(" ")
    if scheme.lower() != "basic":
        return None
    try:
        client_id, _, secret = base64.b64decode(encoded).decode().partition(":")
    except (binascii.Error, UnicodeDecodeError):
        return None
    return client_id, secret


def create_app(emulator: SalesforceEmulator) -> FastAPI:
    """The ASGI app serving `emulator`."""
    app = FastAPI(title="UPM Salesforce emulator", docs_url=None, redoc_url=None, openapi_url=None)

    @app.exception_handler(ApiError)
    async def api_error(request: Request, exc: ApiError) -> Response:
        return _json(exc.body, exc.status, exc.headers)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> Response:
        if exc.status_code == 405:
            return _json(
                [{"message": f"HTTP Method '{request.method}' not allowed", "errorCode": "METHOD_NOT_ALLOWED"}], 405
            )
        return _json(ApiError.not_found().body, exc.status_code)

    @app.exception_handler(Exception)
    async def unexpected(request: Request, exc: Exception) -> Response:
        error_id = str(uuid.uuid4().int)[:10]
        log.exception("emulator error %s on %s %s", error_id, request.method, request.url.path)
        message = f"An unexpected error occurred. Please include this ErrorId if you contact support: {error_id}"
        return _json([{"message": message, "errorCode": "UNKNOWN_EXCEPTION"}], 500)

    # ---- data API ---------------------------------------------------------------------------------------------

    @app.get("/services/data")
    @app.get("/services/data/")
    async def versions() -> Response:
        return _json(
            [{"label": f"v{v}", "url": f"/services/data/v{v}", "version": v} for v in SUPPORTED_VERSIONS]
        )

    @app.api_route("/services/data/{version}/{path:path}", methods=_DATA_METHODS)
    async def data_api(request: Request, version: str, path: str) -> Response:
        version_match = VERSION.fullmatch(version)
        if version_match is None:
            raise ApiError.not_found()
        user_id = emulator.authenticate(request.headers.get("authorization"))
        route, match = emulator.router.resolve(request.method, path.strip("/"))
        fault = emulator.take_request_fault(route.category)
        if fault is not None and fault.kind == "unavailable":
            return _json(UNAVAILABLE_BODY, 503)
        if fault is not None and fault.kind == "status":
            return _json(fault.body, fault.status, fault.headers)
        if fault is not None and fault.kind == "reset":
            return DroppedResponse()
        if fault is not None and fault.kind == "timeout":
            await asyncio.sleep(fault.delay_seconds)
        rest_request = RestRequest(
            method=request.method,
            path=path.strip("/"),
            version=version_match.group(1),
            params=dict(request.query_params),
            headers={key.lower(): value for key, value in request.headers.items()},
            body=await request.body(),
            user_id=user_id,
        )
        response = emulator.call(route, match, rest_request)
        if fault is not None and fault.kind == "drop":
            return DroppedResponse()
        return Response(response.content(), response.status, response.headers, media_type=response.media_type)

    @app.api_route("/services/async/{path:path}", methods=_DATA_METHODS)
    async def bulk_v1(request: Request, path: str) -> Response:
        if "json" in request.headers.get("content-type", ""):
            return _json({"exceptionCode": "FeatureNotEnabled", "exceptionMessage": "Async API not enabled"}, 400)
        xml = (
            '<?xml version="1.0" encoding="UTF-8"?><error xmlns="http://www.force.com/2009/06/asyncapi/dataload">'
            "<exceptionCode>FeatureNotEnabled</exceptionCode><exceptionMessage>Async API not enabled"
            "</exceptionMessage></error>"
        )
        return Response(xml, 400, media_type="application/xml")

    # ---- OAuth ------------------------------------------------------------------------------------------------

    @app.post("/services/oauth2/token")
    async def token(request: Request) -> Response:
        form = dict(parse_qsl((await request.body()).decode("utf-8"), keep_blank_values=True))
        with emulator.lock:
            emulator.other_requests["token"] += 1
            try:
                body = emulator.oauth.token(form, _basic_credentials(request.headers.get("authorization")),
                                            emulator.instance_url)
            except OAuthError as exc:
                return _json(exc.body, exc.status)
        return _json(body)

    @app.get("/services/oauth2/authorize")
    async def authorize(request: Request) -> Response:
        with emulator.lock:
            emulator.other_requests["authorize"] += 1
            try:
                location = emulator.oauth.authorize(dict(request.query_params), emulator.integration_user_id)
            except OAuthError as exc:
                return _json(exc.body, exc.status)
        return RedirectResponse(location, status_code=302)

    # ---- control ----------------------------------------------------------------------------------------------

    async def control_json(request: Request) -> dict[str, Any]:
        body = await request.body()
        if not body:
            return {}
        try:
            payload = await request.json()
        except ValueError:
            raise ApiError.bad_request("JSON_PARSER_ERROR", "The request body must be JSON") from None
        if not isinstance(payload, dict):
            raise ApiError.bad_request("JSON_PARSER_ERROR", "The request body must be a JSON object")
        return payload

    def refuse(message: str, unreadable: bool) -> Response:
        code = "JSON_PARSER_ERROR" if unreadable else "INVALID_INPUT"
        return _json([{"message": message, "errorCode": code}], 400)

    app.include_router(control_router(emulator, answer=lambda body, status: _json(body, status), refuse=refuse))

    @app.post("/__emulator/delete-log/purge")
    async def purge(request: Request) -> Response:
        payload = await control_json(request)
        try:
            emulator.purge_delete_log(payload.get("object"))
        except KeyError as exc:
            raise ApiError.not_found(str(exc.args[0])) from None
        return Response(status_code=204)

    @app.get("/__emulator/records/{object_name}")
    async def list_records(object_name: str, include_deleted: bool = False) -> Response:
        try:
            return _json(emulator.records(object_name, include_deleted))
        except KeyError as exc:
            raise ApiError.not_found(str(exc.args[0])) from None

    @app.post("/__emulator/records/{object_name}")
    async def admin_upsert(object_name: str, request: Request) -> Response:
        try:
            payload = await request.json()
        except ValueError:
            raise ApiError.bad_request("JSON_PARSER_ERROR", "The request body must be JSON") from None
        rows = payload if isinstance(payload, list) else [payload]
        if not all(isinstance(row, dict) for row in rows):
            raise ApiError.bad_request("JSON_PARSER_ERROR", "Send a record object or a list of record objects")
        try:
            ids = [emulator.admin_upsert(object_name, row) for row in rows]
        except KeyError as exc:
            raise ApiError.not_found(str(exc.args[0])) from None
        except RecordError as exc:
            raise ApiError(400, exc.body()) from None
        return _json({"ids": ids})

    @app.delete("/__emulator/records/{object_name}/{record_id}")
    async def admin_delete(object_name: str, record_id: str) -> Response:
        try:
            emulator.admin_delete(object_name, record_id)
        except KeyError as exc:
            raise ApiError.not_found(str(exc.args[0])) from None
        except RecordError as exc:
            raise ApiError(400, exc.body()) from None
        return Response(status_code=204)

    return app
