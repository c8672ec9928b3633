"""What every page shares: the templates, the security headers (framing only by the configured CRM
origins), the session cookie and the CSRF check of every form."""

from __future__ import annotations

import hmac
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any

from fastapi import HTTPException, Path as PathParam, Request
from fastapi.responses import HTMLResponse, Response
from jinja2 import Environment, FileSystemLoader, select_autoescape

from connector.store.ids import MAX_ID
from connector.auth.signatures import SignatureVerifier
from connector.auth.web_sessions import PageSession, WebSessions
from connector.clock import Clock
from connector.config.settings import NotificationSettings, PagesSettings
from connector.leads.service import LeadService

LeadId = Annotated[int, PathParam(ge=1, le=MAX_ID)]
"""A lead id in a page's path (out of range: 422, never a database error)."""
COOKIE = "upm_session"
PRE_COOKIE = "upm_presession"
"""Before sign-in: the CSRF token of the sign-in form (double-submit)."""
HERE = Path(__file__).parent
TEMPLATES = Environment(loader=FileSystemLoader(HERE / "templates"), autoescape=select_autoescape(["html"]),
                        trim_blocks=True, lstrip_blocks=True)


@dataclass
class Pages:
    """What the pages work with. `crm_lead(connection, crm_id)` is the prospect id of a CRM lead,
    fetched from the CRM when not synced yet (connector.services.crm_leads)."""

    settings: PagesSettings
    notifications: NotificationSettings
    leads: LeadService
    sessions: WebSessions
    verifier: SignatureVerifier
    crm_lead: Callable[[str, str], int]
    clock: Clock

    def render(self, name: str, status: int = 200, **context: Any) -> HTMLResponse:
        return HTMLResponse(TEMPLATES.get_template(name).render(**context), status_code=status)

    def set_session(self, response: Response, token: str) -> None:
        response.set_cookie(COOKIE, token, max_age=int(self.settings.session_seconds), httponly=True,
                            secure=self.settings.secure_cookies, samesite="lax", path="/pages")

    def form_token(self, request: Request) -> str:
        """The CSRF token of a form shown before sign-in: the browser's pre-session cookie, or a new one."""
        return request.cookies.get(PRE_COOKIE) or secrets.token_urlsafe(32)

    def with_form_token(self, response: Response, token: str) -> Response:
        response.set_cookie(PRE_COOKIE, token, max_age=3600, httponly=True, secure=self.settings.secure_cookies,
                            samesite="strict", path="/pages")
        return response

    def check_form_token(self, request: Request, sent: str | None) -> None:
        """A form shown before sign-in: its token must be the pre-session cookie's (double submit)."""
        check_csrf(request.cookies.get(PRE_COOKIE) or "", sent)

    def session(self, request: Request, kind: str) -> PageSession:
        """The request's session of this kind, else 401 (the page says how to get one)."""
        found = self.sessions.find(request.cookies.get(COOKIE), self.clock.now())
        if found is None or found.kind != kind:
            raise PageRefused(401, "Your session has ended or was never opened. "
                              + ("Open the page again from the CRM." if kind == "vendor" else "Sign in again."))
        return found


class PageRefused(HTTPException):
    """A page answered with a short HTML explanation instead of the page."""


def check_csrf(expected: str, sent: str | None) -> None:
    """Every form carries the session's CSRF token; a form without it (or with another) is refused."""
    if not sent or not hmac.compare_digest(expected.encode(), sent.encode()):
        raise PageRefused(403, "This form is out of date or did not come from this site: reload the page and try again.")


def security_headers(settings: PagesSettings) -> dict[str, str]:
    """Headers of every page: framed only by the configured CRM origins, no sniffing, no referrer."""
    ancestors = " ".join(settings.frame_origins) or "'none'"
    return {
        "Content-Security-Policy": f"default-src 'self'; style-src 'self'; script-src 'none'; form-action 'self'; "
                                   f"frame-ancestors {ancestors}",
        "X-Content-Type-Options": "nosniff",
        "Referrer-Policy": "no-referrer",
        "Cache-Control": "no-store",
    }
