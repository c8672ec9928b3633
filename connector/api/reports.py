"""The reports over HTTP: `GET /api/v1/reports/{name}` (JSON) and the page `GET /reports/{name}`
(HTML with a server-rendered chart). Both take the keyed caller of the lead API
(`Authorization: Bearer KEY`): a vendor key sees every partner's figures, a partner user's key its
own account's and its children's only. Query parameters: `from`, `to` (ISO 8601), `group`, `tier`,
`region`, `partner`, `currency`. An unknown report is 404; a bad filter 422 naming it."""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

from fastapi import APIRouter, Depends, Query
from fastapi.responses import HTMLResponse, JSONResponse

from connector.api.auth import Authenticator, Caller
from connector.clock import Clock
from connector.reports.base import Env, Filters, Report, ReportError
from connector.reports.registry import REPORTS, run_report
from connector.store.database import Database


class BadFilter(Exception):
    """A query parameter that cannot be right: the API answers 422 naming it."""

    def __init__(self, field: str, value: str, detail: str):
        super().__init__(detail)
        self.field, self.value, self.detail = field, value, detail


def _moment(field: str, value: str | None) -> datetime | None:
    if value is None:
        return None
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise BadFilter(field, value, f"{field} {value!r} is not an ISO 8601 date or time") from None
    return moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)


def report_router(db: Database, authenticate: Authenticator, sla_days: dict[str, int], clock: Clock) -> APIRouter:
    router = APIRouter()

    def compute(name: str, caller: Caller, params: dict[str, Any]) -> Report | JSONResponse:
        if name not in REPORTS:
            return JSONResponse({"detail": f"no report {name!r}; reports: {', '.join(REPORTS)}",
                                 "error": "not_found"}, status_code=404)
        try:
            filters = Filters(_moment("from", params["from"]), _moment("to", params["to"]), params["group"],
                              params["tier"], params["region"], params["partner"], params["currency"],
                              caller.user_id)
            return run_report(db, name, filters, Env(sla_days, clock.now()))
        except BadFilter as exc:
            return JSONResponse({"error": "invalid", "detail": [
                {"field": exc.field, "value": exc.value, "message": exc.detail}]}, status_code=422)
        except ReportError as exc:  # the filters together cannot be right (a currency no record has, ...)
            return JSONResponse({"error": "invalid", "detail": [
                {"field": "filters", "value": None, "message": str(exc)}]}, status_code=422)

    def params(from_: str | None = Query(None, alias="from"), to: str | None = None, group: str | None = None,
               tier: str | None = None, region: str | None = None, partner: int | None = None,
               currency: str = "USD") -> dict[str, Any]:
        return {"from": from_, "to": to, "group": group, "tier": tier, "region": region, "partner": partner,
                "currency": currency}

    @router.get("/api/v1/reports/{name}")
    def report_json(name: str, caller: Caller = Depends(authenticate),
                    query: dict[str, Any] = Depends(params)) -> Any:
        """One report as JSON: columns, rows, summary."""
        from connector.reports.output import as_json  # with openpyxl: imported when served

        result = compute(name, caller, query)
        return result if isinstance(result, JSONResponse) else as_json(result)

    @router.get("/reports/{name}", response_class=HTMLResponse)
    def report_page(name: str, caller: Caller = Depends(authenticate),
                    query: dict[str, Any] = Depends(params)) -> Any:
        """One report as an HTML page with its chart."""
        from connector.reports.page import render_page  # with pygal: imported when served

        result = compute(name, caller, query)
        if isinstance(result, JSONResponse):
            return result
        return HTMLResponse(render_page(result, _shown_filters(query)))

    return router


def _shown_filters(query: dict[str, Any]) -> Filters:
    """The filters as the page states them (already validated by `compute`)."""
    return Filters(_moment("from", query["from"]), _moment("to", query["to"]), query["group"], query["tier"],
                   query["region"], query["partner"], query["currency"])
