"""The lead API (/api/v1): what the CRM's "Assign to Partner" button and the partners' inbox call.

Every route is a thin call into LeadService (the same actions as `upm-connector leads ...`); who
may call what:

| route | vendor key | partner user key |
|---|---|---|
| GET  /api/v1/leads/{lead} | any lead | a lead the user sees, else 404 |
| GET  /api/v1/leads/{lead}/partners | the ranked partner list, with reasons | 403 |
| POST /api/v1/leads/{lead}/assign | direct assignment (`to`, `reason`) | 403 |
| POST /api/v1/leads/{lead}/distribute | by the assignment rules | 403 |
| GET  /api/v1/inbox | 403 | the leads the user sees, newest first |
| POST /api/v1/leads/{lead}/accept, /claim, /reject | 403 | as the user, on a lead they see (claim: or were offered; 409 once taken) |

`{lead}` is the UPM id, or `CONNECTION:CRM_ID` (e.g. `vendor-salesforce:00Q5e00000AbCdE`): the
lead as a CRM knows it, found through the sync bindings. A lead a partner user does not see is
404 whether or not it exists. Refusals answer JSON `{"detail": ..., "error": ...}`: 404 not found,
403 not allowed, 409 the lead is not in a state for this (already claimed, window closed), 422 a
request that cannot be right.
"""

from __future__ import annotations

from dataclasses import asdict
from datetime import datetime
from typing import Any, Literal

from fastapi import APIRouter, Depends, FastAPI, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field
from sqlalchemy import select
from sqlalchemy.orm import Session

from connector.api.auth import Authenticator, Caller
from connector.leads import shark_tank
from connector.leads.aging import AgingRules, age_colour
from connector.leads.errors import (AlreadyClaimed, InvalidRule, InvalidTransition, LeadError, NotAllowed, NotFound,
                                    WindowClosed)
from connector.leads.service import LeadService
from connector.leads.visibility import access_of, visible_prospects
from connector.store.bindings import Binding
from connector.store.ids import as_id
from connector.store.partners import PartnerUser
from connector.store.records import Prospect

STATUS_OF_ERROR: dict[type[LeadError], int] = {
    NotFound: 404, NotAllowed: 403, InvalidTransition: 409, AlreadyClaimed: 409, WindowClosed: 409, InvalidRule: 422,
}
"""The largest id an integer key holds (a larger one is no lead, not a database error)."""
LEAD_FIELDS = ("id", "email", "first_name", "last_name", "title", "company_name", "country", "state", "industry",
               "segment", "lead_source", "product_interest", "status", "lead_score", "distribution_state", "partner_account_id",
               "assigned_user_id", "assigned_at", "accepted_at", "pool_until", "created_at", "updated_at")


class AssignRequest(BaseModel):
    to: str = Field(description="user:EMAIL, account:NAME or group:NAME (or :ID)")
    reason: str = Field(min_length=1, max_length=500)
    access_type: Literal["Read-Only", "Read-Write"] | None = None


class RejectRequest(BaseModel):
    reason: str = Field(min_length=1, max_length=500)


def _plain(value: Any) -> Any:
    return value.isoformat() if isinstance(value, datetime) else value


def lead_json(prospect: Prospect, colour: str | None, access: str | None = None) -> dict[str, Any]:
    out = {name: _plain(getattr(prospect, name)) for name in LEAD_FIELDS}
    out["age_colour"] = colour
    if access is not None:
        out["access_type"] = access
    return out


def lead_id(session: Session, ref: str) -> int:
    """A lead reference as its UPM id: digits, or CONNECTION:CRM_ID through the bindings."""
    if ref.isascii() and ref.isdigit():
        number = as_id(ref)
        if number is None:
            raise NotFound(f"no lead {ref}")
        return number
    connection, sep, crm_id = ref.partition(":")
    if sep and connection and crm_id:
        found = session.scalar(select(Binding.record_id).where(
            Binding.connection == connection, Binding.module == "prospect", Binding.crm_id == crm_id))
        if found is not None:
            return found
    raise NotFound(f"no lead {ref}")


def _vendor_only(caller: Caller) -> None:
    if caller.is_partner:
        raise NotAllowed("this route takes a vendor key")


def _partner_only(caller: Caller) -> int:
    if caller.user_id is None:
        raise NotAllowed("this route acts as a partner user: call it with the user's own key")
    return caller.user_id


def lead_router(service: LeadService, authenticate: Authenticator) -> APIRouter:
    """The /api/v1 routes over one LeadService."""
    router = APIRouter(prefix="/api/v1")
    clock = service.clock

    def seen(session: Session, caller: Caller, ref: str) -> tuple[int, str | None]:
        """The lead's id and the caller's access to it (None for a vendor: every lead); NotFound
        when a partner user does not see it."""
        prospect_id = lead_id(session, ref)
        if caller.user_id is None:
            return prospect_id, None
        access = access_of(session, caller.user_id, prospect_id)
        if access is None:
            raise NotFound(f"no lead {ref}")
        return prospect_id, access

    @router.get("/leads/{ref}")
    def get_lead(ref: str, caller: Caller = Depends(authenticate)) -> dict[str, Any]:
        with service.db.session() as session:
            prospect_id, access = seen(session, caller, ref)
            prospect = session.get(Prospect, prospect_id)
            if prospect is None:
                raise NotFound(f"no lead {ref}")
            return lead_json(prospect, age_colour(prospect, AgingRules.load(session), clock.now()), access)

    @router.get("/leads/{ref}/partners")
    def partners(ref: str, caller: Caller = Depends(authenticate)) -> list[dict[str, Any]]:
        _vendor_only(caller)
        with service.db.session() as session:
            prospect_id = lead_id(session, ref)
        return [{"account_id": v.account_id, "name": v.name, "tier": v.tier, "eligible": v.eligible,
                 "checks": [asdict(c) for c in v.checks]} for v in service.partner_list(prospect_id)]

    @router.post("/leads/{ref}/assign")
    def assign(ref: str, body: AssignRequest, caller: Caller = Depends(authenticate)) -> dict[str, Any]:
        _vendor_only(caller)
        with service.db.session() as session:
            prospect_id = lead_id(session, ref)
        return asdict(service.assign(prospect_id, body.to, reason=body.reason, access_type=body.access_type,
                                      actor=f"api:{caller.name}"))

    @router.post("/leads/{ref}/distribute")
    def distribute(ref: str, caller: Caller = Depends(authenticate)) -> dict[str, Any]:
        _vendor_only(caller)
        with service.db.session() as session:
            prospect_id = lead_id(session, ref)
        return asdict(service.distribute(prospect_id, actor=f"api:{caller.name}"))

    @router.get("/inbox")
    def inbox(caller: Caller = Depends(authenticate), limit: int = 100) -> list[dict[str, Any]]:
        user_id = _partner_only(caller)
        now = clock.now()
        with service.db.session() as session:
            rules = AgingRules.load(session)
            found = session.scalars(visible_prospects(session, user_id).limit(max(1, min(limit, 500))))
            return [lead_json(p, age_colour(p, rules, now)) for p in found]

    def act(ref: str, caller: Caller) -> tuple[int, int]:
        user_id = _partner_only(caller)
        with service.db.session() as session:
            prospect_id, _access = seen(session, caller, ref)
        return prospect_id, user_id

    @router.post("/leads/{ref}/accept")
    def accept(ref: str, caller: Caller = Depends(authenticate)) -> dict[str, Any]:
        return asdict(service.accept(*act(ref, caller)))

    @router.post("/leads/{ref}/claim")
    def claim(ref: str, caller: Caller = Depends(authenticate)) -> dict[str, Any]:
        """A partner that was offered the lead and lost the race no longer sees it, but is told
        409 already claimed (by service.claim), not 404."""
        user_id = _partner_only(caller)
        with service.db.session() as session:
            prospect_id = lead_id(session, ref)
            user = session.get(PartnerUser, user_id)
            offered = user is not None and shark_tank.was_offered(session, prospect_id, user.account_id)
            if not offered and access_of(session, user_id, prospect_id) is None:
                raise NotFound(f"no lead {ref}")
        return asdict(service.claim(prospect_id, user_id))

    @router.post("/leads/{ref}/reject")
    def reject(ref: str, body: RejectRequest, caller: Caller = Depends(authenticate)) -> dict[str, Any]:
        prospect_id, user_id = act(ref, caller)
        return asdict(service.reject(prospect_id, user_id, body.reason))

    return router


def install_lead_errors(app: FastAPI) -> None:
    """A refused lead action answers its status code with the reason, never a 500."""

    async def refused(_request: Request, exc: Exception) -> JSONResponse:
        status = next((code for kind, code in STATUS_OF_ERROR.items() if isinstance(exc, kind)), 400)
        return JSONResponse({"detail": str(exc), "error": type(exc).__name__}, status_code=status)

    app.add_exception_handler(LeadError, refused)
