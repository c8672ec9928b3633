"""The Assign to Partner page, opened from the CRM by a signed link for one lead.

`GET /pages/crm/{connection}/leads/{crm_id}` is what the Salesforce button or the HubSpot card
opens: the signature is checked (connector.auth.signatures; once only), the lead is found or
fetched from the CRM at once and created, and a short vendor session is opened for the CRM user,
who is sent on to `/pages/assign/{id}`. There: the lead, Partner Validation Criteria, "Generate
Partner List" (ranked, each partner's reasons), "Manually Assign Named Partner" with a required
reason, the shark tank, a group by round robin, "Notify Partner of New Assignment", then the
outcome and the lead's history.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Form, Request
from fastapi.responses import RedirectResponse, Response
from sqlalchemy import select

from connector.api.leads import STATUS_OF_ERROR
from connector.api.pages.web import LeadId, Pages, PageRefused, check_csrf
from connector.auth.signatures import SignatureRefused, SignedRequest
from connector.leads.errors import LeadError
from connector.leads.lifecycle import Outcome
from connector.store.partners import PartnerAccount, PartnerGroup

VENDOR = "vendor"


def assign_router(pages: Pages) -> APIRouter:
    router = APIRouter(prefix="/pages", include_in_schema=False)
    leads = pages.leads

    @router.get("/crm/{connection}/leads/{crm_id}")
    async def open_from_crm(connection: str, crm_id: str, request: Request) -> Response:
        url = pages.settings.base_url.rstrip("/") + request.url.path + (f"?{request.url.query}" if request.url.query else "")
        signed = SignedRequest(request.method, url, await request.body(), dict(request.headers))
        try:
            pages.verifier.verify(connection, signed, pages.clock.now())
        except SignatureRefused as refused:
            raise PageRefused(403, f"The link from the CRM was refused: {refused}.") from None
        try:
            prospect_id = pages.crm_lead(connection, crm_id)
        except LeadError as missing:
            raise PageRefused(404, f"No such lead: {missing}.") from None
        token, _ = pages.sessions.open(pages.clock.now(), connection=connection)
        response = RedirectResponse(f"/pages/assign/{prospect_id}", status_code=303)
        pages.set_session(response, token)
        return response

    def page(request: Request, prospect_id: int, *, partners: bool = False, outcome: Outcome | None = None,
             error: str | None = None, status: int = 200) -> Response:
        session = pages.session(request, VENDOR)
        try:
            details = leads.details(prospect_id)
        except LeadError:
            raise PageRefused(404, f"No lead {prospect_id}.") from None
        with leads.db.session() as s:
            accounts = list(s.scalars(select(PartnerAccount).where(PartnerAccount.active.is_(True))
                                      .order_by(PartnerAccount.name)))
            groups = list(s.scalars(select(PartnerGroup).order_by(PartnerGroup.name)))
            holder = s.get(PartnerAccount, details.prospect.partner_account_id) if details.prospect.partner_account_id else None
            context: dict[str, Any] = {
                "lead": details.prospect, "details": details, "csrf": session.csrf, "connection": session.connection,
                "accounts": [(a.id, a.name) for a in accounts], "groups": [g.name for g in groups],
                "holder": holder.name if holder else None, "outcome": outcome, "error": error,
                "verdicts": leads.partner_list(prospect_id) if partners else None,
            }
        return pages.render("assign.html", status, **context)

    @router.get("/assign/{prospect_id}")
    def show(prospect_id: LeadId, request: Request, partners: int = 0) -> Response:
        return page(request, prospect_id, partners=bool(partners))

    def act(request: Request, prospect_id: int, csrf: str | None, work: Any) -> Response:
        session = pages.session(request, VENDOR)
        check_csrf(session.csrf, csrf)
        try:
            outcome = work(f"crm:{session.connection}")
        except LeadError as refused:
            return page(request, prospect_id, partners=True, error=str(refused), status=status_of(refused))
        return page(request, prospect_id, outcome=outcome)

    @router.post("/assign/{prospect_id}/named")
    def named(prospect_id: LeadId, request: Request, account: str = Form(""), reason: str = Form(""),
              notify: str | None = Form(None), csrf: str | None = Form(None)) -> Response:
        if not (account.isascii() and account.isdigit() and len(account) < 10):
            return page(request, prospect_id, partners=True, error="Choose the partner to assign.", status=422)
        if not reason.strip():
            return page(request, prospect_id, partners=True, error="Manual Assignment Reason is required.", status=422)
        return act(request, prospect_id, csrf, lambda actor: leads.assign(
            prospect_id, f"account:{account}", reason=reason.strip(), actor=actor, notify=notify is not None))

    @router.post("/assign/{prospect_id}/group")
    def group(prospect_id: LeadId, request: Request, group: str = Form(""), how: str = Form("round_robin"),
              reason: str = Form(""), notify: str | None = Form(None), csrf: str | None = Form(None)) -> Response:
        if not group.strip() or how not in ("round_robin", "shark_tank"):
            return page(request, prospect_id, partners=True, error="Choose a group and how to give it the lead.", status=422)
        if not reason.strip():
            return page(request, prospect_id, partners=True, error="A reason is required.", status=422)
        place = leads.assign_round_robin if how == "round_robin" else leads.send_to_shark_tank
        return act(request, prospect_id, csrf, lambda actor: place(
            prospect_id, group.strip(), reason=reason.strip(), actor=actor, notify=notify is not None))

    return router



def status_of(error: LeadError) -> int:
    """The HTTP status of a refused action, as the lead API answers it."""
    return next((code for kind, code in STATUS_OF_ERROR.items() if isinstance(error, kind)), 400)
