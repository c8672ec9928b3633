"""`POST /composite`: up to 25 subrequests (at most 5 of them sObject Collections or queries) run in order as
ONE API call, with `@{referenceId.path}` references to earlier results and optional allOrNone."""

from __future__ import annotations

import json
import re
from contextlib import nullcontext
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl

from .errors import ApiError
from .restapi import RestRequest, RestResponse, Route

if TYPE_CHECKING:
    from .emulator import SalesforceEmulator

MAX_SUBREQUESTS = 25
MAX_COLLECTIONS_OR_QUERIES = 5
_HEAVY = frozenset({"collections", "query", "queryMore"})
_ALLOWED = frozenset({"sobject", "query", "queryMore", "collections", "describe", "getUpdated", "getDeleted", "limits"})
_SUB_URL = re.compile(r"/services/data/v(\d+\.\d+)/([^?]*)(?:\?(.*))?")
_REFERENCE = re.compile(r"@\{([A-Za-z0-9_]+)\.([^}]+)\}")
_REFERENCE_ID = re.compile(r"[A-Za-z0-9_]+")
_HALTED = [
    {
        "errorCode": "PROCESSING_HALTED",
        "message": "The transaction was rolled back since another operation in the same transaction failed.",
    }
]


class _UnresolvedReference(Exception):
    pass


def _lookup(results: dict[str, Any], reference_id: str, path: str) -> Any:
    if reference_id not in results:
        raise _UnresolvedReference(f"{reference_id}.{path}")
    value = results[reference_id]
    for part in re.findall(r"[^.\[\]]+|\[\d+\]", path):
        try:
            value = value[int(part[1:-1])] if part.startswith("[") else value[part]
        except (KeyError, IndexError, TypeError):
            raise _UnresolvedReference(f"{reference_id}.{path}") from None
    return value


def _substitute(value: Any, results: dict[str, Any]) -> Any:
    """`value` with every `@{ref.path}` replaced (a whole-string reference keeps the referenced type)."""
    if isinstance(value, dict):
        return {key: _substitute(item, results) for key, item in value.items()}
    if isinstance(value, list):
        return [_substitute(item, results) for item in value]
    if not isinstance(value, str):
        return value
    whole = _REFERENCE.fullmatch(value)
    if whole:
        return _lookup(results, whole.group(1), whole.group(2))
    return _REFERENCE.sub(lambda match: str(_lookup(results, match.group(1), match.group(2))), value)


def _entry(body: Any, headers: dict[str, str], status: int, reference_id: str) -> dict[str, Any]:
    return {"body": body, "httpHeaders": headers, "httpStatusCode": status, "referenceId": reference_id}


def _resolve(emu: SalesforceEmulator, sub: dict[str, Any]) -> tuple[Route, re.Match[str]] | ApiError:
    match = _SUB_URL.fullmatch(str(sub["url"]))
    if match is None:
        return ApiError.not_found()
    try:
        route, route_match = emu.router.resolve(str(sub["method"]).upper(), match.group(2).strip("/"))
    except ApiError as exc:
        return exc
    if route.category not in _ALLOWED:
        return ApiError.bad_request("INVALID_API_INPUT", f"{sub['url']} is not supported in a composite request")
    return route, route_match


def _validated(body: Any) -> list[dict[str, Any]]:
    subs = body.get("compositeRequest") if isinstance(body, dict) else None
    if not isinstance(subs, list) or not subs:
        raise ApiError.bad_request("JSON_PARSER_ERROR", "compositeRequest must be a non-empty array of subrequests")
    seen: set[str] = set()
    for sub in subs:
        keys = ("method", "url", "referenceId")
        if not isinstance(sub, dict) or not all(isinstance(sub.get(key), str) for key in keys):
            raise ApiError.bad_request("JSON_PARSER_ERROR", "Each subrequest needs method, url and referenceId")
        reference_id = sub["referenceId"]
        if not _REFERENCE_ID.fullmatch(reference_id) or reference_id in seen:
            raise ApiError.bad_request("INVALID_API_INPUT", f"Invalid or duplicate referenceId: {reference_id}")
        seen.add(reference_id)
    if len(subs) > MAX_SUBREQUESTS:
        raise ApiError.bad_request(
            "LIMIT_EXCEEDED", f"A composite request can contain at most {MAX_SUBREQUESTS} subrequests: got {len(subs)}"
        )
    return subs


def composite(emu: SalesforceEmulator, req: RestRequest, m: re.Match[str]) -> RestResponse:
    """POST composite: run the subrequests; ONE API call whatever their number."""
    body = req.json()
    subs = _validated(body)
    resolved = [_resolve(emu, sub) for sub in subs]
    heavy = sum(1 for item in resolved if not isinstance(item, ApiError) and item[0].category in _HEAVY)
    if heavy > MAX_COLLECTIONS_OR_QUERIES:
        raise ApiError.bad_request(
            "LIMIT_EXCEEDED",
            f"A composite request can contain at most {MAX_COLLECTIONS_OR_QUERIES} sObject Collections or query "
            f"subrequests: got {heavy}",
        )
    all_or_none = body.get("allOrNone") is True
    results: dict[str, Any] = {}
    entries: list[dict[str, Any]] = []
    failed_at: int | None = None
    with emu.store.atomic() if all_or_none else nullcontext() as savepoint:
        for position, (sub, target) in enumerate(zip(subs, resolved)):
            reference_id = sub["referenceId"]
            if failed_at is not None:
                entries.append(_entry(_HALTED, {}, 400, reference_id))
                continue
            response = _run_subrequest(emu, req, sub, target, results)
            entries.append(_entry(response.body, response.headers, response.status, reference_id))
            if response.status < 400:
                results[reference_id] = response.body
            elif savepoint is not None:
                savepoint.rollback()
                failed_at = position
    if failed_at is not None:
        for position in range(failed_at):
            entries[position] = _entry(_HALTED, {}, 400, entries[position]["referenceId"])
    return RestResponse(body={"compositeResponse": entries})


def _run_subrequest(
    emu: SalesforceEmulator,
    req: RestRequest,
    sub: dict[str, Any],
    target: tuple[Route, re.Match[str]] | ApiError,
    results: dict[str, Any],
) -> RestResponse:
    try:
        url = _substitute(sub["url"], results)
        payload = _substitute(sub.get("body"), results)
    except _UnresolvedReference as exc:
        return RestResponse(
            400,
            [{"errorCode": "PROCESSING_HALTED", "message": f"Invalid reference specified. No value for {exc} found."}],
        )
    if isinstance(target, ApiError):
        return RestResponse(target.status, target.body)
    match = _SUB_URL.fullmatch(url)
    if match is None:
        return RestResponse(404, ApiError.not_found().body)
    try:
        route, route_match = emu.router.resolve(str(sub["method"]).upper(), match.group(2).strip("/"))
        headers = {str(k).lower(): str(v) for k, v in (sub.get("httpHeaders") or {}).items()}
        sub_request = RestRequest(
            method=str(sub["method"]).upper(),
            path=match.group(2).strip("/"),
            version=match.group(1),
            params=dict(parse_qsl(match.group(3) or "", keep_blank_values=True)),
            headers=headers,
            body=json.dumps(payload).encode() if payload is not None else b"",
            user_id=req.user_id,
        )
        response = route.handler(emu, sub_request, route_match)
    except ApiError as exc:
        return RestResponse(exc.status, exc.body)
    headers_out = {"Location": response.headers["Location"]} if "Location" in response.headers else {}
    return RestResponse(response.status, response.body, headers_out)
