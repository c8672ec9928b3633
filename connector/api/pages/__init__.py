"""Server-rendered pages (Jinja2 templates, no JavaScript): the Assign to Partner page a CRM opens
by a signed link (assign.py) and the partner's sign-in and Lead Inbox (inbox.py); web.py holds
what they share (sessions, CSRF, security headers)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse, Response
from fastapi.staticfiles import StaticFiles

from connector.api.pages.assign import assign_router
from connector.api.pages.inbox import inbox_router
from connector.api.pages.web import HERE, TEMPLATES, Pages, PageRefused, security_headers


def install_pages(app: FastAPI, pages: Pages) -> None:
    """Serve the pages under /pages with their security headers."""
    app.include_router(assign_router(pages))
    app.include_router(inbox_router(pages))
    app.mount("/pages/static", StaticFiles(directory=HERE / "static"), name="pages-static")
    headers = security_headers(pages.settings)

    @app.middleware("http")
    async def page_headers(request: Request, call_next: Callable[[Request], Awaitable[Response]]) -> Response:
        response = await call_next(request)
        if request.url.path.startswith("/pages"):
            response.headers.update(headers)
        return response

    async def refused(_request: Request, exc: Exception) -> Response:
        assert isinstance(exc, PageRefused)
        body = TEMPLATES.get_template("message.html").render(title="Not possible", message=exc.detail)
        return HTMLResponse(body, status_code=exc.status_code)

    app.add_exception_handler(PageRefused, refused)
