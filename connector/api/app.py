"""The FastAPI application the daemon serves: health probes (open) and the lead API (keyed)."""

from __future__ import annotations

from collections.abc import Callable

from fastapi import FastAPI
from fastapi.responses import JSONResponse

from connector import __version__
from connector.api.auth import Authenticator
from connector.api.leads import install_lead_errors, lead_router
from connector.config.settings import HttpSettings
from connector.leads.service import LeadService
from connector.store.database import Database


def create_app(db: Database, scheduler_running: Callable[[], bool], leads: LeadService,
               http: HttpSettings | None = None) -> FastAPI:
    """The daemon's HTTP API. `scheduler_running` reports the scheduler's state for /readyz;
    `http.api_keys` are the vendor callers of the lead API."""
    app = FastAPI(title="UPM Connector", version=__version__, docs_url=None, redoc_url=None)
    app.include_router(lead_router(leads, Authenticator(db, (http or HttpSettings()).api_keys)))
    install_lead_errors(app)

    @app.get("/healthz")
    def healthz() -> dict[str, str]:
        """The process is alive and serving HTTP."""
        return {"status": "ok", "version": __version__}

    @app.get("/readyz")
    def readyz() -> JSONResponse:
        """Ready to work: the database answers and the scheduler runs. 503 otherwise."""
        checks: dict[str, str] = {}
        try:
            db.ping()
            checks["database"] = "ok"
        except Exception as exc:  # report, never raise: this is a probe
            checks["database"] = f"error: {type(exc).__name__}"
        checks["scheduler"] = "ok" if scheduler_running() else "stopped"
        ready = all(value == "ok" for value in checks.values())
        return JSONResponse({"status": "ready" if ready else "not ready", "checks": checks}, status_code=200 if ready else 503)

    return app
