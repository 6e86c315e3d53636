"""What every page shares: templates, the page route class, and who is looking (the visit).

Each audience has its own pages: lab staff (reception, dashboard), GPs (their practice's results and letters),
and the cancer alliance (statistics). A visit is admitted by role; anyone else is sent to log in or shown a 403
page, and the refusal is audited as the API's are.
"""

from __future__ import annotations

import hmac
from collections.abc import Callable, Coroutine
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import Any

from fastapi import Request
from fastapi.routing import APIRoute
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates
from starlette.responses import RedirectResponse, Response

from fit_lab.api.deps import EngineDep, SettingsDep
from fit_lab.api.errors import audit_refusal
from fit_lab.errors import FitLabError, Forbidden, NotAuthenticated
from fit_lab.principal import Principal
from fit_lab.services import audit, dashboard, users
from fit_lab.settings import Settings
from fit_lab.web import session as web_session
from fit_lab.web.session import SESSION_COOKIE

HERE = Path(__file__).resolve().parent
STAFF_ROLES = frozenset({"lab", "scientist", "admin"})
# (path, label) of each audience's pages, the first being where they land after logging in.
NAVIGATION: dict[str, tuple[tuple[str, str], ...]] = {
    "lab": (("/reception", "Reception"), ("/dashboard", "Dashboard")),
    "scientist": (("/reception", "Reception"), ("/dashboard", "Dashboard")),
    "admin": (("/reception", "Reception"), ("/dashboard", "Dashboard"), ("/stats", "Statistics")),
    "gp": (("/gp", "Results"), ("/gp/letters", "Letters")),
    "alliance": (("/stats", "Statistics"),),
}
PAGE_PREFIXES = ("/reception", "/dashboard", "/gp", "/stats")
_SECURITY_HEADERS = {
    # Patient data must not stay in a shared PC's cache, nor be framed by another site; charts are inline PNGs.
    "Cache-Control": "no-store",
    "Content-Security-Policy": "default-src 'self'; img-src 'self' data:; script-src 'none'; object-src 'none'; "
                               "base-uri 'none'; form-action 'self'; frame-ancestors 'none'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
}


def home_for(role: str) -> str:
    return NAVIGATION.get(role, (("/login", ""),))[0][0]


def _nhs_number(value: str) -> str:
    digits = "".join(ch for ch in str(value) if ch.isdigit())
    return f"{digits[:3]} {digits[3:6]} {digits[6:]}" if len(digits) == 10 else str(value)


def _day(value: date | datetime | None) -> str:
    if value is None:
        return ""
    if isinstance(value, datetime):
        value = value.astimezone(dashboard.LAB_TIMEZONE).date()
    return value.strftime("%d-%b-%Y")  # the NHS display format for dates: 14-Mar-1958


def when(value: datetime | None) -> str:
    return "" if value is None else value.astimezone(dashboard.LAB_TIMEZONE).strftime("%d-%b-%Y %H:%M")


templates = Jinja2Templates(directory=HERE / "templates")
templates.env.filters.update(nhs_number=_nhs_number, day=_day, when=when)
static_files = StaticFiles(directory=HERE / "static")


class PageRefused(Exception):
    """Stop a page and answer with ``response`` instead (a redirect to log-in, a 403 page)."""

    def __init__(self, response: Response) -> None:
        super().__init__("page refused")
        self.response = response


def render(request: Request, name: str, context: dict[str, Any], status_code: int = 200,
           headers: dict[str, str] | None = None) -> Response:
    settings: Settings = request.app.state.settings
    base = {"lab_name": settings.lab_name, "visit": None}
    return templates.TemplateResponse(request, name, {**base, **context}, status_code=status_code,
                                      headers={**_SECURITY_HEADERS, **(headers or {})})


def file_response(content: bytes, media_type: str, filename: str | None = None) -> Response:
    headers = dict(_SECURITY_HEADERS)
    if filename:
        headers["Content-Disposition"] = f'attachment; filename="{filename}"'
    return Response(content, media_type=media_type, headers=headers)


class PageRoute(APIRoute):
    """A page answers with HTML whatever happens: refusals become their page, fit-lab errors an error page."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def page_handler(request: Request) -> Response:
            try:
                return await handler(request)
            except PageRefused as refused:
                return refused.response
            except FitLabError as exc:
                audit_refusal(request, exc)
                visit = getattr(request.state, "visit", None)
                return render(request, "error.html", {"message": exc.message, "visit": visit}, exc.status_code)

        return page_handler


@dataclass(frozen=True)
class Visit:
    """A logged-in user on a page, with the CSRF token their forms must carry."""

    principal: Principal
    csrf: str
    nav: tuple[tuple[str, str], ...] = field(default=())

    def check(self, submitted: str) -> None:
        if not hmac.compare_digest(submitted.encode(), self.csrf.encode()):
            raise Forbidden("This form has expired or did not come from this page. Reload the page and try again.")


def _login_redirect(request: Request) -> RedirectResponse:
    path = request.url.path if request.method == "GET" else next(
        (p for p in PAGE_PREFIXES if request.url.path.startswith(p)), "")
    return RedirectResponse(f"/login?next={path}" if path else "/login", status_code=303)


def visit_for(*roles: str) -> Callable[..., Visit]:
    """A dependency admitting a logged-in user with one of ``roles``."""
    admitted = frozenset(roles)

    def visit(request: Request, engine: EngineDep, settings: SettingsDep) -> Visit:
        token = request.cookies.get(SESSION_COOKIE, "")
        detail = {"method": request.method, "path": request.url.path}
        try:
            if not token:
                raise NotAuthenticated()
            principal = users.principal_from_token(engine, token, secret_key=settings.secret_key)
        except NotAuthenticated:
            # Audited as the API audits a request without a valid token: no session, or an expired or forged one.
            audit.record_denial(engine, None, "unauthenticated", "route", None,
                                detail={**detail, "session": "expired or invalid" if token else "none"})
            raise PageRefused(_login_redirect(request)) from None
        found = Visit(principal, web_session.csrf_token(settings, token), NAVIGATION.get(principal.role, ()))
        request.state.visit, request.state.principal = found, principal
        if principal.role not in admitted:
            audit.record_denial(engine, principal, "denied", "route", None, detail=detail)
            raise PageRefused(render(request, "forbidden.html", {"visit": found}, 403))
        return found

    return visit
