"""Request dependencies: the engine, the settings, the caller, and each route's declaration of who may call it."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated

from fastapi import Depends, Query, Request
from fastapi.security import OAuth2PasswordBearer
from sqlalchemy.engine import Engine

from fit_lab.clock import Clock, system_clock
from fit_lab.errors import Forbidden, NotAuthenticated
from fit_lab.principal import Principal
from fit_lab.services import users
from fit_lab.settings import Settings

oauth2_scheme = OAuth2PasswordBearer(tokenUrl="/api/v1/auth/token", auto_error=False)


def get_engine(request: Request) -> Engine:
    return request.app.state.engine  # type: ignore[no-any-return]


def get_settings(request: Request) -> Settings:
    return request.app.state.settings  # type: ignore[no-any-return]


def get_clock(request: Request) -> Clock:
    """The service's clock (the system's, or the one a test served the app with)."""
    return getattr(request.app.state, "clock", system_clock)  # type: ignore[no-any-return]


EngineDep = Annotated[Engine, Depends(get_engine)]
SettingsDep = Annotated[Settings, Depends(get_settings)]
ClockDep = Annotated[Clock, Depends(get_clock)]


def current_principal(
    request: Request,
    engine: EngineDep,
    settings: SettingsDep,
    token: Annotated[str | None, Depends(oauth2_scheme)],
) -> Principal:
    if not token:
        raise NotAuthenticated()
    principal = users.principal_from_token(engine, token, secret_key=settings.secret_key)
    request.state.principal = principal
    return principal


def require(*roles: str) -> Callable[..., Principal]:
    """Declare the roles a route admits; anyone else gets 403 (and the attempt is audited)."""
    allowed = frozenset(roles)

    def dependency(principal: Annotated[Principal, Depends(current_principal)]) -> Principal:
        if principal.role not in allowed:
            raise Forbidden(f"The {principal.role} role may not do this.")
        return principal

    return dependency


def page_limit(request: Request, limit: Annotated[int, Query(ge=1, le=100_000)] = 50) -> int:
    """The page size asked for, capped at the server's maximum."""
    settings: Settings = request.app.state.settings
    return min(limit, settings.max_page_size)
