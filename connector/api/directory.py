"""The directory API (/api/v1): partner accounts, partner users, partner groups and named accounts
for vendor admins, through connector.services.directory.

| route | vendor key | partner user key |
|---|---|---|
| GET, POST /api/v1/partners; GET, PATCH /api/v1/partners/{ref}; POST .../{ref}/deactivate | yes | an admin: GET of its own account and its children; else 403 |
| GET, POST /api/v1/users; GET, PATCH /api/v1/users/{ref}; POST .../{ref}/deactivate | yes | an admin: GET of its account's (and children's) users; else 403 |
| GET, POST /api/v1/groups; GET, PATCH, DELETE /api/v1/groups/{ref} | yes | 403 |
| GET, POST /api/v1/named-accounts; GET, PATCH /api/v1/named-accounts/{ref}; POST .../{ref}/deactivate | yes | 403 |

`{ref}` is the id, or the name (partners, groups, named accounts) or email (users). A bad body is
422 naming the field and value; an unknown `{ref}` (or one a partner admin does not see) is 404;
removing a group a rule still targets is 409. Deactivating answers each lead pulled back and
where it went.
"""

# No `from __future__ import annotations`: the generated routes' annotations name the table's models.

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

from fastapi import APIRouter, Depends, FastAPI, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from sqlalchemy import select

from connector.api.auth import Authenticator, Caller
from connector.services.directory import (Deactivation, DirectoryError, DirectoryService, GroupChanges, GroupSpec,
                                          GroupView, InUse, InvalidField, NamedAccountChanges, NamedAccountSpec,
                                          NamedAccountView, PartnerChanges, PartnerSpec, PartnerView, UnknownRecord,
                                          UserChanges, UserSpec, UserView)
from connector.store.partners import PartnerAccount, PartnerUser


class Forbidden(DirectoryError):
    """This route takes a vendor key (or a partner admin's, for reading its own account)."""


def _vendor(caller: Caller) -> None:
    if caller.is_partner:
        raise Forbidden("this route takes a vendor key")


@dataclass(frozen=True)
class _Resource:
    """One directory resource: GET, POST /api/v1/{path}; GET, PATCH /api/v1/{path}/{ref}; and its
    closing route (POST .../{ref}/deactivate or DELETE .../{ref}), served by the DirectoryService
    methods {many}, {one}, add_{one}, edit_{one} and {close}_{one}. Route names (the OpenAPI
    operation ids) are list_{plural}, add_{singular}, get_{singular}, edit_{singular}, {close}_{singular}."""

    path: str
    plural: str
    singular: str
    many: str
    one: str
    view: type[BaseModel]
    spec: type[BaseModel]
    changes: type[BaseModel]
    close: Literal["deactivate", "remove"]
    closed: type[BaseModel]
    """What the closing route answers."""
    admin_field: str | None = None
    """The view's field holding the partner a partner admin must see for a GET; None: vendor only."""
    label: str = ""
    """How a 404 names the record (for routes partner admins read)."""
    by_partner: bool = False
    """The list takes ?partner= (a partner's id or name)."""
    close_reason: bool = False
    """The closing call takes the reason, "deactivated by CALLER"."""


_RESOURCES = (
    _Resource("partners", "partners", "partner", "partners", "partner", PartnerView, PartnerSpec, PartnerChanges,
              "deactivate", Deactivation, admin_field="id", label="partner", close_reason=True),
    _Resource("users", "users", "user", "users", "user", UserView, UserSpec, UserChanges, "deactivate", Deactivation,
              admin_field="partner_id", label="partner user", by_partner=True, close_reason=True),
    _Resource("groups", "groups", "group", "groups", "group", GroupView, GroupSpec, GroupChanges, "remove", GroupView),
    _Resource("named-accounts", "named", "named", "named_accounts", "named_account", NamedAccountView,
              NamedAccountSpec, NamedAccountChanges, "deactivate", NamedAccountView),
)


def directory_router(service: DirectoryService, authenticate: Authenticator) -> APIRouter:
    """The directory routes over one DirectoryService."""
    router = APIRouter(prefix="/api/v1", tags=["directory"])

    def admin_scope(caller: Caller) -> set[int] | None:
        """None for a vendor; for a partner admin the ids of its account and its descendants;
        Forbidden for any other partner user."""
        if not caller.is_partner:
            return None
        with service.db.session() as s:
            user = s.get(PartnerUser, caller.user_id)
            if user is None or user.role != "admin":
                raise Forbidden("this route takes a vendor key or a partner admin's key")
            scope, frontier = {user.account_id}, [user.account_id]
            while frontier:
                children = set(s.scalars(select(PartnerAccount.id).where(PartnerAccount.parent_id.in_(frontier))))
                frontier = list(children - scope)
                scope |= children
            return scope

    for resource in _RESOURCES:
        _resource_routes(router, service, authenticate, admin_scope, resource)
    return router


def _resource_routes(router: APIRouter, service: DirectoryService, authenticate: Authenticator,
                     admin_scope: Callable[[Caller], set[int] | None], r: _Resource) -> None:
    View, Spec, Changes = r.view, r.spec, r.changes
    many, one = getattr(service, r.many), getattr(service, r.one)
    add, edit, close = getattr(service, f"add_{r.one}"), getattr(service, f"edit_{r.one}"), getattr(service, f"{r.close}_{r.one}")

    def visible(caller: Caller) -> Callable[[Any], bool]:
        """Which records the caller may read (vendor only, unless partner admins read this one)."""
        if r.admin_field is None:
            _vendor(caller)
            return lambda _view: True
        scope = admin_scope(caller)
        return lambda view: scope is None or getattr(view, r.admin_field) in scope

    if r.by_partner:
        def listing(partner: str | None = None, caller: Caller = Depends(authenticate)) -> Any:
            shown = visible(caller)
            return [v for v in many(partner) if shown(v)]
    else:
        def listing(caller: Caller = Depends(authenticate)) -> Any:  # type: ignore[misc]
            shown = visible(caller)
            return [v for v in many() if shown(v)]

    def adding(body: Spec, caller: Caller = Depends(authenticate)) -> Any:  # type: ignore[valid-type]
        _vendor(caller)
        return add(body)

    def reading(ref: str, caller: Caller = Depends(authenticate)) -> Any:
        shown = visible(caller)
        found = one(ref)
        if not shown(found):
            raise UnknownRecord(f"no {r.label} '{ref}'")
        return found

    def editing(ref: str, body: Changes, caller: Caller = Depends(authenticate)) -> Any:  # type: ignore[valid-type]
        _vendor(caller)
        return edit(ref, body)

    def closing(ref: str, caller: Caller = Depends(authenticate)) -> Any:
        _vendor(caller)
        return close(ref, f"deactivated by {caller.name}") if r.close_reason else close(ref)

    base, item = f"/{r.path}", f"/{r.path}/{{ref}}"
    router.add_api_route(base, listing, methods=["GET"], response_model=list[View], name=f"list_{r.plural}")  # type: ignore[valid-type]
    router.add_api_route(base, adding, methods=["POST"], response_model=View, status_code=201, name=f"add_{r.singular}")
    router.add_api_route(item, reading, methods=["GET"], response_model=View, name=f"get_{r.singular}")
    router.add_api_route(item, editing, methods=["PATCH"], response_model=View, name=f"edit_{r.singular}")
    if r.close == "remove":
        router.add_api_route(item, closing, methods=["DELETE"], response_model=r.closed, name=f"remove_{r.singular}")
    else:
        router.add_api_route(f"{item}/deactivate", closing, methods=["POST"], response_model=r.closed,
                             name=f"deactivate_{r.singular}")


def install_directory_errors(app: FastAPI) -> None:
    """A refused directory call answers its status with the reason; a 422 names each field and value
    as the records API does (`{"error": "invalid", "detail": [{"field", "value", "message"}]}`)."""

    async def refused(_request: Request, exc: Exception) -> JSONResponse:
        body: dict[str, object] = {"detail": str(exc), "error": type(exc).__name__}
        if isinstance(exc, InvalidField):  # the records API's shape: each field, its value and why
            body = {"error": "invalid", "detail": [{"field": exc.field, "value": exc.value, "message": str(exc)}]}
        status = (422 if isinstance(exc, InvalidField) else 404 if isinstance(exc, UnknownRecord)
                  else 403 if isinstance(exc, Forbidden) else 409 if isinstance(exc, InUse) else 400)
        return JSONResponse(body, status_code=status)

    app.add_exception_handler(DirectoryError, refused)
