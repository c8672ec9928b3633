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

from __future__ import annotations

from fastapi import APIRouter, Depends, FastAPI, Request
from fastapi.responses import JSONResponse
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

    # -- partners -----------------------------------------------------------------------------------

    @router.get("/partners", response_model=list[PartnerView])
    def list_partners(caller: Caller = Depends(authenticate)) -> list[PartnerView]:
        scope = admin_scope(caller)
        return [p for p in service.partners() if scope is None or p.id in scope]

    @router.post("/partners", response_model=PartnerView, status_code=201)
    def add_partner(body: PartnerSpec, caller: Caller = Depends(authenticate)) -> PartnerView:
        _vendor(caller)
        return service.add_partner(body)

    @router.get("/partners/{ref}", response_model=PartnerView)
    def get_partner(ref: str, caller: Caller = Depends(authenticate)) -> PartnerView:
        scope = admin_scope(caller)
        found = service.partner(ref)
        if scope is not None and found.id not in scope:
            raise UnknownRecord(f"no partner '{ref}'")
        return found

    @router.patch("/partners/{ref}", response_model=PartnerView)
    def edit_partner(ref: str, body: PartnerChanges, caller: Caller = Depends(authenticate)) -> PartnerView:
        _vendor(caller)
        return service.edit_partner(ref, body)

    @router.post("/partners/{ref}/deactivate", response_model=Deactivation)
    def deactivate_partner(ref: str, caller: Caller = Depends(authenticate)) -> Deactivation:
        _vendor(caller)
        return service.deactivate_partner(ref, f"deactivated by {caller.name}")

    # -- users ----------------------------------------------------------------------------------------

    @router.get("/users", response_model=list[UserView])
    def list_users(partner: str | None = None, caller: Caller = Depends(authenticate)) -> list[UserView]:
        scope = admin_scope(caller)
        return [u for u in service.users(partner) if scope is None or u.partner_id in scope]

    @router.post("/users", response_model=UserView, status_code=201)
    def add_user(body: UserSpec, caller: Caller = Depends(authenticate)) -> UserView:
        _vendor(caller)
        return service.add_user(body)

    @router.get("/users/{ref}", response_model=UserView)
    def get_user(ref: str, caller: Caller = Depends(authenticate)) -> UserView:
        scope = admin_scope(caller)
        found = service.user(ref)
        if scope is not None and found.partner_id not in scope:
            raise UnknownRecord(f"no partner user '{ref}'")
        return found

    @router.patch("/users/{ref}", response_model=UserView)
    def edit_user(ref: str, body: UserChanges, caller: Caller = Depends(authenticate)) -> UserView:
        _vendor(caller)
        return service.edit_user(ref, body)

    @router.post("/users/{ref}/deactivate", response_model=Deactivation)
    def deactivate_user(ref: str, caller: Caller = Depends(authenticate)) -> Deactivation:
        _vendor(caller)
        return service.deactivate_user(ref, f"deactivated by {caller.name}")

    # -- groups ---------------------------------------------------------------------------------------

    @router.get("/groups", response_model=list[GroupView])
    def list_groups(caller: Caller = Depends(authenticate)) -> list[GroupView]:
        _vendor(caller)
        return service.groups()

    @router.post("/groups", response_model=GroupView, status_code=201)
    def add_group(body: GroupSpec, caller: Caller = Depends(authenticate)) -> GroupView:
        _vendor(caller)
        return service.add_group(body)

    @router.get("/groups/{ref}", response_model=GroupView)
    def get_group(ref: str, caller: Caller = Depends(authenticate)) -> GroupView:
        _vendor(caller)
        return service.group(ref)

    @router.patch("/groups/{ref}", response_model=GroupView)
    def edit_group(ref: str, body: GroupChanges, caller: Caller = Depends(authenticate)) -> GroupView:
        _vendor(caller)
        return service.edit_group(ref, body)

    @router.delete("/groups/{ref}", response_model=GroupView)
    def remove_group(ref: str, caller: Caller = Depends(authenticate)) -> GroupView:
        _vendor(caller)
        return service.remove_group(ref)

    # -- named accounts -------------------------------------------------------------------------------

    @router.get("/named-accounts", response_model=list[NamedAccountView])
    def list_named(caller: Caller = Depends(authenticate)) -> list[NamedAccountView]:
        _vendor(caller)
        return service.named_accounts()

    @router.post("/named-accounts", response_model=NamedAccountView, status_code=201)
    def add_named(body: NamedAccountSpec, caller: Caller = Depends(authenticate)) -> NamedAccountView:
        _vendor(caller)
        return service.add_named_account(body)

    @router.get("/named-accounts/{ref}", response_model=NamedAccountView)
    def get_named(ref: str, caller: Caller = Depends(authenticate)) -> NamedAccountView:
        _vendor(caller)
        return service.named_account(ref)

    @router.patch("/named-accounts/{ref}", response_model=NamedAccountView)
    def edit_named(ref: str, body: NamedAccountChanges, caller: Caller = Depends(authenticate)) -> NamedAccountView:
        _vendor(caller)
        return service.edit_named_account(ref, body)

    @router.post("/named-accounts/{ref}/deactivate", response_model=NamedAccountView)
    def deactivate_named(ref: str, caller: Caller = Depends(authenticate)) -> NamedAccountView:
        _vendor(caller)
        return service.deactivate_named_account(ref)

    return router


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
