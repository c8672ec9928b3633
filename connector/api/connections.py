"""The partner connections API (/api/v1/connections): partners' own CRMs held in the datastore,
through connector.services.connections.

| route | vendor key | partner admin's key | other partner user |
|---|---|---|---|
| GET, POST /api/v1/connections | every partner's | its own partner's (POST: `partner` must be it) | 403 |
| GET, PATCH, DELETE /api/v1/connections/{name}; POST .../{name}/enable, .../disable | yes | its own partner's; others' 404 | 403 |

A bad body is 422 naming the field and value; an unknown name (or another partner's) is 404. A
running daemon starts, changes or stops the lane within `daemon.connections_poll_seconds`.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends

from connector.api.auth import Authenticator, Caller
from connector.api.directory import Forbidden
from connector.api.records import ErrorOut, InvalidOut
from connector.services.connections import ConnectionEdit, ConnectionService, ConnectionSpec, ConnectionView
from connector.services.directory import InvalidField
from connector.store.partners import PartnerAccount, PartnerUser


ERRORS: dict[int | str, dict[str, Any]] = {
    401: {"model": ErrorOut, "description": "no key, or a key that is not known"},
    403: {"model": ErrorOut, "description": "a partner user who is not an admin"},
    404: {"model": ErrorOut, "description": "no such connection (or another partner's)"},
    422: {"model": InvalidOut, "description": "a field's value cannot be right"},
}


def connections_router(service: ConnectionService, authenticate: Authenticator) -> APIRouter:
    """The partner connection routes over one ConnectionService."""
    router = APIRouter(prefix="/api/v1", tags=["connections"], responses=ERRORS)

    def own(caller: Caller) -> set[int] | None:
        """None for a vendor; a partner admin's own account; Forbidden for other partner users."""
        if not caller.is_partner:
            return None
        with service.db.session() as s:
            user = s.get(PartnerUser, caller.user_id)
            if user is None or user.role != "admin":
                raise Forbidden("this route takes a vendor key or a partner admin's key")
            return {user.account_id}

    @router.get("/connections", response_model=list[ConnectionView])
    def list_connections(caller: Caller = Depends(authenticate)) -> list[ConnectionView]:
        return service.connections(own(caller))

    @router.post("/connections", response_model=ConnectionView, status_code=201)
    def add_connection(body: ConnectionSpec, caller: Caller = Depends(authenticate)) -> ConnectionView:
        scope = own(caller)
        if scope is not None:
            with service.db.session() as s:
                account = s.get(PartnerAccount, next(iter(scope)))
                mine = account is not None and body.partner in (account.id, str(account.id), account.name)
            if not mine:
                raise InvalidField("partner", body.partner, "is not your partner account")
        return service.add(body)

    @router.get("/connections/{name}", response_model=ConnectionView)
    def get_connection(name: str, caller: Caller = Depends(authenticate)) -> ConnectionView:
        return service.connection(name, own(caller))

    @router.patch("/connections/{name}", response_model=ConnectionView)
    def edit_connection(name: str, body: ConnectionEdit, caller: Caller = Depends(authenticate)) -> ConnectionView:
        """Change the fields given (profile, schedule, instance_url, auth, options, enabled)."""
        return service.edit(name, body, own(caller))

    @router.delete("/connections/{name}", response_model=ConnectionView)
    def remove_connection(name: str, caller: Caller = Depends(authenticate)) -> ConnectionView:
        return service.remove(name, own(caller))

    @router.post("/connections/{name}/enable", response_model=ConnectionView)
    def enable_connection(name: str, caller: Caller = Depends(authenticate)) -> ConnectionView:
        return service.set_enabled(name, True, own(caller))

    @router.post("/connections/{name}/disable", response_model=ConnectionView)
    def disable_connection(name: str, caller: Caller = Depends(authenticate)) -> ConnectionView:
        return service.set_enabled(name, False, own(caller))

    return router
