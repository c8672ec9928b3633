"""The partner's pages: sign-in by an emailed one-time link, and the Lead Inbox.

Sign-in: the user gives their email; when it is an active, approved user of an active account a
one-time link is sent at once over SMTP (`notifications.smtp`); the answer is the same either way.
The link shows a button (a mail scanner fetching the link uses nothing up); pressing it uses the
link and opens a partner session. The inbox lists exactly what the lead API's inbox lists
(connector.leads.visibility) with their age colours, and accepts, rejects (with a reason), claims
from the shark tank and logs activities as the user.
"""

from __future__ import annotations

from datetime import datetime

from fastapi import APIRouter, Form, Request
from fastapi.responses import RedirectResponse, Response
from sqlalchemy import select

from connector.api.pages.assign import status_of
from connector.api.pages.web import LeadId, COOKIE, Pages, PageRefused, check_csrf
from connector.leads import shark_tank
from connector.leads.aging import AgingRules, age_colour
from connector.leads.delivery import send_now
from connector.leads.errors import LeadError, NotFound
from connector.leads.inbox import ACTIVITY_KINDS, user_by_email
from connector.leads.lifecycle import Outcome
from connector.leads.visibility import access_of, visible_prospects
from connector.store.partners import PartnerUser

PARTNER = "partner"
SENT = "If that address belongs to a partner user, a sign-in link is on its way to it. It works once, for a few minutes."


def inbox_router(pages: Pages) -> APIRouter:
    router = APIRouter(prefix="/pages", include_in_schema=False)
    leads = pages.leads

    @router.get("/sign-in")
    def sign_in_form(request: Request) -> Response:
        csrf = pages.form_token(request)
        return pages.with_form_token(pages.render("sign_in.html", csrf=csrf), csrf)

    @router.post("/sign-in")
    def send_link(request: Request, email: str = Form(""), csrf: str | None = Form(None)) -> Response:
        pages.check_form_token(request, csrf)
        now = pages.clock.now()
        with leads.db.session() as session:
            try:
                user = user_by_email(session, email)
                user_id = user.id if user.active and user.approved and user.account.active else None
                address = user.email
            except NotFound:
                user_id = None
        if user_id is not None:
            token = pages.sessions.issue_link(user_id, now)
            link = f"{pages.settings.base_url.rstrip('/')}/pages/sign-in/{token}"
            minutes = int(pages.settings.sign_in_link_seconds // 60)
            send_now(pages.notifications, address, "Your sign-in link to the Lead Inbox",
                     f"Sign in to your Lead Inbox: {link}\n\nThe link works once, within {minutes} minutes. "
                     "If you did not ask for it, ignore this message.", now)
        return pages.render("message.html", title="Check your email", message=SENT)

    @router.get("/sign-in/{token}")
    def confirm(token: str, request: Request) -> Response:
        user = pages.sessions.link_user(token, pages.clock.now())
        if user is None:
            raise PageRefused(410, "This sign-in link was used already or has expired: ask for a new one.")
        csrf = pages.form_token(request)
        return pages.with_form_token(pages.render("confirm.html", email=user.email, token=token, csrf=csrf), csrf)

    @router.post("/sign-in/{token}")
    def use_link(token: str, request: Request, csrf: str | None = Form(None)) -> Response:
        pages.check_form_token(request, csrf)
        user_id = pages.sessions.redeem(token, pages.clock.now())
        if user_id is None:
            raise PageRefused(410, "This sign-in link was used already or has expired: ask for a new one.")
        session_token, _ = pages.sessions.open(pages.clock.now(), user_id=user_id)
        response = RedirectResponse("/pages/inbox", status_code=303)
        pages.set_session(response, session_token)
        return response

    @router.post("/sign-out")
    def sign_out(request: Request, csrf: str | None = Form(None)) -> Response:
        session = pages.session(request, PARTNER)
        check_csrf(session.csrf, csrf)
        pages.sessions.end(request.cookies.get(COOKIE))
        response = RedirectResponse("/pages/sign-in", status_code=303)
        response.delete_cookie(COOKIE, path="/pages")
        return response

    def inbox_page(request: Request, *, outcome: Outcome | None = None, error: str | None = None,
                   done: str | None = None, status: int = 200) -> Response:
        session = pages.session(request, PARTNER)
        assert session.user_id is not None
        now = pages.clock.now()
        with leads.db.session() as s:
            user = s.get(PartnerUser, session.user_id)
            rules = AgingRules.load(s)
            rows = [(p, age_colour(p, rules, now), access_of(s, session.user_id, p.id))
                    for p in s.scalars(visible_prospects(s, session.user_id).limit(500))]
            return pages.render("inbox.html", status, user=user, rows=rows, csrf=session.csrf, outcome=outcome,
                                error=error, done=done, kinds=ACTIVITY_KINDS, day=_day)

    @router.get("/inbox")
    def inbox(request: Request) -> Response:
        return inbox_page(request)

    def act(request: Request, csrf: str | None, prospect_id: int, work: str, reason: str = "",
            kind: str = "", subject: str = "") -> Response:
        session = pages.session(request, PARTNER)
        check_csrf(session.csrf, csrf)
        user_id = session.user_id
        assert user_id is not None
        with leads.db.session() as s:
            user = s.get(PartnerUser, user_id)
            offered = user is not None and shark_tank.was_offered(s, prospect_id, user.account_id)
            if access_of(s, user_id, prospect_id) is None and not (work == "claim" and offered):
                return inbox_page(request, error=f"No lead {prospect_id} in your inbox.", status=404)
        try:
            if work == "accept":
                outcome = leads.accept(prospect_id, user_id)
            elif work == "claim":
                outcome = leads.claim(prospect_id, user_id)
            elif work == "reject":
                if not reason.strip():
                    return inbox_page(request, error="A reason is required to reject a lead.", status=422)
                outcome = leads.reject(prospect_id, user_id, reason.strip())
            else:
                leads.log_activity(prospect_id, user_id, kind, subject.strip() or None)
                return inbox_page(request, done=f"Logged a {kind} on lead {prospect_id}.")
        except LeadError as refused:
            return inbox_page(request, error=str(refused), status=status_of(refused))
        return inbox_page(request, outcome=outcome)

    @router.post("/inbox/{prospect_id}/accept")
    def accept(prospect_id: LeadId, request: Request, csrf: str | None = Form(None)) -> Response:
        return act(request, csrf, prospect_id, "accept")

    @router.post("/inbox/{prospect_id}/claim")
    def claim(prospect_id: LeadId, request: Request, csrf: str | None = Form(None)) -> Response:
        return act(request, csrf, prospect_id, "claim")

    @router.post("/inbox/{prospect_id}/reject")
    def reject(prospect_id: LeadId, request: Request, reason: str = Form(""), csrf: str | None = Form(None)) -> Response:
        return act(request, csrf, prospect_id, "reject", reason=reason)

    @router.post("/inbox/{prospect_id}/activity")
    def activity(prospect_id: LeadId, request: Request, kind: str = Form("note"), subject: str = Form(""),
                 csrf: str | None = Form(None)) -> Response:
        return act(request, csrf, prospect_id, "activity", kind=kind, subject=subject)

    return router


def _day(moment: datetime | None) -> str:
    return f"{moment:%m/%d/%Y}" if moment else ""
