"""Log-in and log-out for every audience; after log-in each lands on the page asked for or their own first page."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Form, Query, Request
from starlette.responses import RedirectResponse, Response

from fit_lab.api.deps import EngineDep, SettingsDep
from fit_lab.errors import NotAuthenticated, TooManyAttempts
from fit_lab.services import users
from fit_lab.settings import Settings
from fit_lab.web import session as web_session
from fit_lab.web.pages import NAVIGATION, PAGE_PREFIXES, PageRoute, Visit, home_for, render, visit_for
from fit_lab.web.session import LOGIN_CSRF_COOKIE, SESSION_COOKIE

router = APIRouter(route_class=PageRoute, include_in_schema=False)
FormText = Annotated[str, Form()]
AnyUser = Annotated[Visit, Depends(visit_for(*NAVIGATION))]


def _safe_next(next_page: str) -> str:
    """Only our own pages: a crafted link must not send anyone to another site after log-in ("" = their home)."""
    return next_page if next_page.startswith(PAGE_PREFIXES) and "//" not in next_page else ""


def _login_page(request: Request, settings: Settings, *, next_page: str, username: str = "", error: str = "",
                status_code: int = 200) -> Response:
    nonce = web_session.new_login_nonce()
    response = render(request, "login.html", {"next_page": _safe_next(next_page), "username": username,
                                              "error": error, "csrf": nonce}, status_code)
    web_session.set_cookie(response, settings, LOGIN_CSRF_COOKIE, nonce, 3600)
    return response


@router.get("/")
def root() -> Response:
    return RedirectResponse("/login", status_code=303)


@router.get("/login")
def login_form(request: Request, settings: SettingsDep,
               next_page: Annotated[str, Query(alias="next")] = "") -> Response:
    return _login_page(request, settings, next_page=next_page)


@router.post("/login")
def login(request: Request, engine: EngineDep, settings: SettingsDep, username: FormText = "",
          password: FormText = "", csrf: FormText = "", next_page: FormText = "") -> Response:
    if not web_session.login_nonce_valid(request.cookies.get(LOGIN_CSRF_COOKIE), csrf):
        return _login_page(request, settings, next_page=next_page, username=username, status_code=400,
                           error="The log-in form had expired. Enter your user name and password again.")
    try:
        issued = users.login(engine, username, password, client=request.client.host if request.client else "unknown",
                             secret_key=settings.secret_key, token_minutes=settings.token_minutes,
                             max_failures=settings.login_max_failures, window_s=settings.login_window_s,
                             address_free_failures=settings.login_address_free_failures,
                             address_max_delay_s=settings.login_address_max_delay_s)
    except (NotAuthenticated, TooManyAttempts) as exc:
        return _login_page(request, settings, next_page=next_page, username=username, error=exc.message,
                           status_code=exc.status_code)
    wanted = _safe_next(next_page)
    allowed = any(wanted.startswith(path) for path, _ in NAVIGATION.get(issued.role, ()))
    response = RedirectResponse(wanted if wanted and allowed else home_for(issued.role), status_code=303)
    web_session.set_cookie(response, settings, SESSION_COOKIE, issued.access_token, issued.expires_in_s)
    web_session.clear_cookie(response, settings, LOGIN_CSRF_COOKIE)
    return response


@router.post("/logout")
def logout(visit: AnyUser, settings: SettingsDep, csrf: FormText = "") -> Response:
    visit.check(csrf)
    response = RedirectResponse("/login", status_code=303)
    web_session.clear_cookie(response, settings, SESSION_COOKIE)
    return response
