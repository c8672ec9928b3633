"""`upm-connector run`: the scheduler and the HTTP server in one process, with a clean shutdown.

SIGTERM/SIGINT: stop taking new work, let running lanes finish their current batch, release the
leases, stop serving HTTP, exit 0.
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import socket
from collections.abc import Iterator
from typing import Any

import uvicorn

from connector.api.app import create_app
from connector.clock import Clock, SystemClock
from connector.daemon.references import check_references
from connector.config.settings import Settings
from connector.daemon.emulators import forget_previous_tokens, start_local_emulators
from connector.daemon.lease import LeaseStore
from connector.daemon.scheduler import LaneScheduler
from connector.daemon.sd_notify import SystemdNotifier
from connector.extras import MissingExtraError
from connector.heap import bulk_work_heap
from connector.logs import route_access_log
from connector.jobs import scheduled_jobs
from connector.runtime import Runtime
from connector.services.connections import ConnectionService
from connector.services.directory import DirectoryService
from connector.services.directory_seed import seed
from connector.services.crm_leads import CrmLeads
from connector.store.database import Database
from connector.store.migrate import current_revision, head_revision, upgrade

log = logging.getLogger(__name__)


class _Server(uvicorn.Server):
    """uvicorn, told to stop our scheduler first when a shutdown signal arrives.

    uvicorn re-raises the captured signal once it has shut down, which would kill the process
    before the scheduler finishes its batches: here the signal is handled, not re-raised.
    """

    def __init__(self, config: uvicorn.Config, on_exit: Any, on_started: Any):
        super().__init__(config)
        self._on_exit = on_exit
        self._on_started = on_started

    async def startup(self, sockets: Any = None) -> None:
        await super().startup(sockets)
        if self.started:
            self._on_started()

    def handle_exit(self, sig: int, frame: Any) -> None:
        self._on_exit(sig)
        super().handle_exit(sig, frame)

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        previous = {sig: signal.signal(sig, self.handle_exit) for sig in (signal.SIGINT, signal.SIGTERM)}
        try:
            yield
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)


def prepare_database(db: Database) -> None:
    """Migrate an empty database; refuse to run on one that is behind (run `db upgrade` explicitly)."""
    if db.is_empty():
        log.info("empty database: creating the schema")
        upgrade(db)
        return
    current, head = current_revision(db), head_revision(db)
    if current != head:
        raise RuntimeError(
            f"database schema is at revision {current}, this version needs {head}: run `upm-connector db upgrade`"
        )


def instance_id(settings: Settings) -> str:
    return settings.daemon.instance_id or f"{socket.gethostname()}:{os.getpid()}"


def port_taken(host: str, port: int) -> str | None:
    """Why the HTTP server could not listen on host:port (None when it can), checked by binding it
    the way uvicorn will (SO_REUSEADDR: a port in TIME_WAIT is free, one with a listener is not)."""
    if port == 0:
        return None
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError as exc:
            return exc.strerror or str(exc)
    return None


def run_daemon(settings: Settings, clock: Clock | None = None) -> int:
    """Run until signalled, as bulk work (`bulk_work_heap`). Returns the process exit code: 2 when
    the HTTP port is not free (checked before any emulator or lane starts) or an extra the config
    needs is missing."""
    if reason := port_taken(settings.http.host, settings.http.port):
        log.error("cannot listen on %s (http.bind): %s; stop what uses it or choose another port", settings.http.bind, reason)
        return 2
    try:
        with contextlib.ExitStack() as emulators:
            started = start_local_emulators(settings, emulators)
            with bulk_work_heap():
                return _serve(settings, clock or SystemClock(), started)
    except MissingExtraError as exc:
        log.error("cannot start: %s", exc)
        return 2


def _seed_directory(settings: Settings, runtime: Runtime) -> None:
    """Apply the config's `directory:` section (idempotent); a bad entry is logged, the rest applied."""
    report = seed(DirectoryService(runtime.db, runtime.leads), settings)
    for problem in report.problems:
        log.error("directory seed: %s", problem)
    if report.created:
        log.info("directory seeded from the config", extra={"seeded": report.created})


def _serve(settings: Settings, clock: Clock, emulators: list[str]) -> int:
    runtime = Runtime(settings, clock=clock)
    db = runtime.db
    prepare_database(db)
    forget_previous_tokens(settings, db, emulators)
    owner = instance_id(settings)
    leases = LeaseStore(db, owner, settings.daemon.lease_seconds, clock)
    scheduler = LaneScheduler(runtime, leases)
    for problem in check_references(settings):
        log.error("configuration problem, lane not started: %s", problem)
    leads = runtime.leads
    _seed_directory(settings, runtime)
    if settings.leads.rules:
        saved = leads.save_rules(settings.leads.rules)
        log.info("assignment rules from the config saved", extra={"rules": [rule.name for rule in saved]})
    for spec in scheduled_jobs(settings):
        scheduler.add(spec)
    scheduler.watch_connections(settings.daemon.connections_poll_seconds)
    scheduler.watch_replicas()
    scheduler.start()
    notifier = SystemdNotifier()
    if notifier.watchdog_seconds:
        scheduler.add_heartbeat(notifier.watchdog, settings.daemon.watchdog_seconds or notifier.watchdog_seconds / 2)
    log.info(
        "daemon started",
        extra={"instance": owner, "lanes": scheduler.lanes(), "http": settings.http.bind, "database": db.backend},
    )

    def on_signal(sig: int) -> None:
        log.info("signal %s received: finishing running batches, then exiting", sig)
        scheduler.shutdown_requested.set()
        notifier.stopping()

    crm_leads = CrmLeads(runtime)
    config = uvicorn.Config(
        create_app(db, lambda: scheduler.running and not scheduler.shutdown_requested.is_set(), leads, settings.http,
                   settings, clock, crm_lead=crm_leads.prospect_id, connections=ConnectionService(runtime)),
        host=settings.http.host,
        port=settings.http.port,
        log_config=None,
        access_log=True,
    )
    route_access_log()
    server = _Server(config, on_signal, lambda: notifier.ready(f"{len(scheduler.lanes())} lanes, HTTP on {settings.http.bind}"))
    try:
        server.run()
    finally:
        scheduler.stop()
        crm_leads.close()
        db.dispose()
    if not server.started:
        log.error("HTTP server could not start on %s", settings.http.bind)
        return 1
    log.info("daemon stopped")
    return 0
