"""The FastAPI application the daemon serves: health probes (open), the lead API and the records API
(keyed), and their OpenAPI description (`/openapi.json`, browsable at `/docs`)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fastapi import FastAPI
from fastapi.responses import JSONResponse

from connector import __version__
from connector.api.auth import Authenticator
from connector.api.connections import connections_router
from connector.api.directory import directory_router, install_directory_errors
from connector.api.leads import install_lead_errors, lead_id, lead_router
from connector.api.metrics import install_metrics
from connector.api.pages import install_pages
from connector.api.pages.web import Pages
from connector.api.records import FieldError, InvalidOut, install_record_errors, records_router
from connector.api.reports import report_router
from connector.auth.signatures import verifier
from connector.auth.web_sessions import WebSessions
from connector.clock import Clock, SystemClock
from connector.config.settings import HttpSettings, Settings
from connector.leads.service import LeadService
from connector.runtime import Runtime
from connector.services.connections import ConnectionService
from connector.services.directory import DirectoryService
from connector.services.records import RecordService
from connector.store.database import Database
from connector.sync.lane_state import lane_states


def create_app(db: Database, scheduler_running: Callable[[], bool], leads: LeadService,
               http: HttpSettings | None = None, settings: Settings | None = None,
               clock: Clock | None = None, crm_lead: Callable[[str, str], int] | None = None,
               connections: ConnectionService | None = None) -> FastAPI:
    """The daemon's HTTP API. `scheduler_running` reports the scheduler's state for /readyz;
    `http.api_keys` are the vendor callers of the lead API; `settings` name the lanes that /readyz
    and /metrics report (and `daemon.ready_unless`) and configure the pages; `crm_lead(connection,
    crm_id)` finds a CRM lead for the pages, fetching it when not synced yet (default: synced leads only);
    `connections`: the stored partner connections (the daemon's, so its outbox learns of them at once)."""
    settings = settings or Settings()
    clock = clock or SystemClock()
    app = FastAPI(title="UPM Connector", version=__version__, docs_url="/docs", redoc_url=None,
                  openapi_url="/openapi.json")
    install_metrics(app, settings, db, clock)
    authenticate = Authenticator(db, (http or HttpSettings()).api_keys)
    app.include_router(lead_router(leads, authenticate))
    app.include_router(report_router(db, authenticate, settings.leads.segment_sla_days, clock))
    install_lead_errors(app)
    app.include_router(directory_router(DirectoryService(db, leads), authenticate))
    install_directory_errors(app)
    app.include_router(connections_router(connections or ConnectionService(Runtime(settings, db=db, clock=clock)),
                                          authenticate))
    app.include_router(records_router(RecordService(db, leads, clock), authenticate))
    install_record_errors(app)
    install_pages(app, Pages(
        settings.pages, settings.notifications, leads,
        WebSessions(db, settings.pages.session_seconds, settings.pages.sign_in_link_seconds),
        verifier(db, settings.pages.signing, settings.pages.signature_window_seconds),
        crm_lead or (lambda connection, crm_id: synced_lead(db, connection, crm_id)), clock))

    _one_shape_for_422(app)

    @app.get("/healthz")
    def healthz() -> dict[str, str]:
        """The process is alive and serving HTTP."""
        return {"status": "ok", "version": __version__}

    @app.get("/readyz")
    def readyz() -> JSONResponse:
        """Ready to work: the database answers, the scheduler runs, and no lane is in a state
        `daemon.ready_unless` names. 503 otherwise, with the reasons."""
        checks: dict[str, str] = {}
        reasons: list[str] = []
        try:
            db.ping()
            checks["database"] = "ok"
        except Exception as exc:  # report, never raise: this is a probe
            checks["database"] = f"error: {type(exc).__name__}"
            reasons.append(f"the database does not answer ({type(exc).__name__})")
        checks["scheduler"] = "ok" if scheduler_running() else "stopped"
        if checks["scheduler"] != "ok":
            reasons.append("the scheduler is not running")
        lanes: dict[str, str] = {}
        if checks["database"] == "ok":
            for lane in lane_states(settings, db, clock.now()):
                lanes[lane.lane] = lane.state.value
                if lane.state.value in settings.daemon.ready_unless:
                    reasons.append(f"lane {lane.lane} is {lane.state.value}: {lane.reason}")
        ready = not reasons
        body = {"status": "ready" if ready else "not ready", "checks": checks, "lanes": lanes, "reasons": reasons}
        return JSONResponse(body, status_code=200 if ready else 503)

    return app


def synced_lead(db: Database, connection: str, crm_id: str) -> int:
    """A CRM lead the connector has synced (NotFound otherwise)."""
    with db.session() as session:
        return lead_id(session, f"{connection}:{crm_id}")


def _one_shape_for_422(app: FastAPI) -> None:
    """Every 422 the app gives has the records API's shape (`InvalidOut`: each field, its value and
    why), so the OpenAPI description says so for every route, not FastAPI's default body."""
    build = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            schema = build()
            schemas = schema.setdefault("components", {}).setdefault("schemas", {})
            for model in (FieldError, InvalidOut):
                described = model.model_json_schema(ref_template="#/components/schemas/{model}")
                described.pop("$defs", None)
                schemas[model.__name__] = described
            schemas["HTTPValidationError"] = {"$ref": "#/components/schemas/InvalidOut"}
            schemas.pop("ValidationError", None)
            app.openapi_schema = schema
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
