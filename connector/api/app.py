"""The FastAPI application the daemon serves."""

from __future__ import annotations

from collections.abc import Callable

from fastapi import FastAPI
from fastapi.responses import JSONResponse

from connector import __version__
from connector.store.database import Database


def create_app(db: Database, scheduler_running: Callable[[], bool]) -> FastAPI:
    """The daemon's HTTP API. `scheduler_running` reports the scheduler's state for /readyz."""
    app = FastAPI(title="UPM Connector", version=__version__, docs_url=None, redoc_url=None)

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
