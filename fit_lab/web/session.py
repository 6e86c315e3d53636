"""What the browser carries between pages: the session cookie, the CSRF token and the tray's running count.

The session cookie holds the signed bearer token the API issues (``users.login``), so a page and the API check a
caller the same way. The tray cookie is signed with the app's secret so a count cannot be edited in the browser;
it holds counts and specimen IDs only, never a patient identifier.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
from dataclasses import asdict, dataclass, field, replace
from typing import Any

from starlette.responses import Response

from fit_lab.settings import Settings

SESSION_COOKIE = "fitlab_session"
LOGIN_CSRF_COOKIE = "fitlab_login_csrf"
TRAY_COOKIE = "fitlab_tray"
# IDs received in this tray, so that rejecting one of them moves it from "received" to "rejected".
TRAY_REMEMBERS = 150
TRAY_MAX_AGE_S = 24 * 3600


def _sign(secret_key: str, purpose: str, value: str) -> str:
    return hmac.new(secret_key.encode(), f"{purpose}|{value}".encode(), hashlib.sha256).hexdigest()


def csrf_token(settings: Settings, session_token: str) -> str:
    """The per-session CSRF token: it changes with every log-in and cannot be made without the app's secret."""
    return _sign(settings.secret_key, "csrf", session_token)


def csrf_valid(settings: Settings, session_token: str, submitted: str) -> bool:
    return bool(submitted) and hmac.compare_digest(csrf_token(settings, session_token), submitted)


def new_login_nonce() -> str:
    """Before log-in there is no session to bind to: the form and a cookie carry the same random nonce."""
    return secrets.token_urlsafe(24)


def login_nonce_valid(cookie: str | None, submitted: str) -> bool:
    return bool(cookie) and bool(submitted) and hmac.compare_digest(cookie or "", submitted)


def _secure(settings: Settings) -> bool:
    # Off by default so the page works over plain http on a lab PC talking to localhost; on behind TLS.
    return bool(getattr(settings, "cookie_secure", False))


def set_cookie(response: Response, settings: Settings, name: str, value: str, max_age_s: int) -> None:
    response.set_cookie(name, value, max_age=max_age_s, path="/", httponly=True, samesite="strict",
                        secure=_secure(settings))


def clear_cookie(response: Response, settings: Settings, name: str) -> None:
    response.delete_cookie(name, path="/", httponly=True, samesite="strict", secure=_secure(settings))


@dataclass(frozen=True)
class Tray:
    """The running count for the tray on the bench; ``last_collection_date`` is the date input's default."""

    received: int = 0
    refused: int = 0
    rejected: int = 0
    last_collection_date: str = ""
    received_ids: tuple[str, ...] = field(default_factory=tuple)

    def after_receipt(self, specimen_id: str) -> Tray:
        ids = (*self.received_ids, specimen_id)[-TRAY_REMEMBERS:]
        return replace(self, received=self.received + 1, received_ids=ids)

    def after_refusal(self) -> Tray:
        return replace(self, refused=self.refused + 1)

    def after_rejection(self, specimen_id: str) -> Tray:
        if specimen_id in self.received_ids:
            ids = tuple(i for i in self.received_ids if i != specimen_id)
            return replace(self, received=max(self.received - 1, 0), rejected=self.rejected + 1, received_ids=ids)
        return replace(self, rejected=self.rejected + 1)

    def with_date(self, collection_date: str) -> Tray:
        return replace(self, last_collection_date=collection_date) if collection_date else self


def load_tray(settings: Settings, cookie: str | None) -> Tray:
    """The tray from its cookie; a missing, tampered or unreadable cookie starts a new tray."""
    if not cookie or "." not in cookie:
        return Tray()
    body, signature = cookie.rsplit(".", 1)
    if not hmac.compare_digest(_sign(settings.secret_key, "tray", body), signature):
        return Tray()
    try:
        data: dict[str, Any] = json.loads(base64.urlsafe_b64decode(body.encode()))
        return Tray(int(data["received"]), int(data["refused"]), int(data["rejected"]),
                    str(data["last_collection_date"]), tuple(str(i) for i in data["received_ids"]))
    except (ValueError, KeyError, TypeError):
        return Tray()


def save_tray(response: Response, settings: Settings, tray: Tray) -> None:
    body = base64.urlsafe_b64encode(json.dumps(asdict(tray), separators=(",", ":")).encode()).decode()
    set_cookie(response, settings, TRAY_COOKIE, f"{body}.{_sign(settings.secret_key, 'tray', body)}",
               TRAY_MAX_AGE_S)
