from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.security import OAuth2PasswordRequestForm

from fit_lab.api.deps import EngineDep, SettingsDep, current_principal
from fit_lab.api.responses import errors
from fit_lab.api.schemas import Me, TokenOut
from fit_lab.principal import Principal
from fit_lab.services import users

router = APIRouter(prefix="/auth", tags=["auth"])


@router.post("/token", response_model=TokenOut, responses=errors(400, 401, 422, 429))
def token(
    request: Request, form: Annotated[OAuth2PasswordRequestForm, Depends()], engine: EngineDep, settings: SettingsDep
) -> TokenOut:
    """OAuth2 password flow: a short-lived signed bearer token. Repeated failures are refused with 429."""
    issued = users.login(
        engine, form.username, form.password,
        client=request.client.host if request.client else "unknown",
        secret_key=settings.secret_key, token_minutes=settings.token_minutes,
        max_failures=settings.login_max_failures, window_s=settings.login_window_s,
        address_free_failures=settings.login_address_free_failures,
        address_max_delay_s=settings.login_address_max_delay_s,
    )
    return TokenOut(access_token=issued.access_token, expires_in=issued.expires_in_s, role=issued.role)


@router.get("/me", response_model=Me, responses=errors(401))
def me(principal: Annotated[Principal, Depends(current_principal)]) -> Me:
    return Me(username=principal.username, role=principal.role, practice_id=principal.practice_id)
