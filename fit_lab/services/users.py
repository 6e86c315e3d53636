"""Users, passwords and log-in. Passwords are hashed with Argon2id (argon2-cffi)."""

from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass
from datetime import datetime, timedelta

import jwt
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import delete, func, select
from sqlalchemy.engine import Engine

from fit_lab.clock import Clock, system_clock
from fit_lab.codes import ROLES
from fit_lab.db.engine import transaction
from fit_lab.db.models import LoginFailure, Practice, User
from fit_lab.errors import Conflict, FieldProblem, FitLabError, NotAuthenticated, TooManyAttempts, ValidationError
from fit_lab.principal import Principal
from fit_lab.services import audit

_hasher = PasswordHasher()
# Verified against when the user does not exist, so a wrong name costs as long as a wrong password.
_DUMMY_HASH = _hasher.hash("not-a-real-password-0000")
MIN_PASSWORD_LENGTH = 12
TOKEN_ALGORITHM = "HS256"  # noqa: S105 - an algorithm name, not a secret


@dataclass(frozen=True)
class IssuedToken:
    access_token: str
    expires_in_s: int
    role: str


def add_user(
    engine: Engine,
    username: str,
    role: str,
    password: str,
    *,
    practice_ods: str | None,
    actor: Principal,
    clock: Clock = system_clock,
    password_hash: str | None = None,
) -> int:
    """Add a user; ``password_hash`` lets a caller that already hashed the password (bulk set-up) skip it."""
    problems = []
    if role not in ROLES:
        problems.append(FieldProblem("role", f"'{role}' is not one of {', '.join(sorted(ROLES))}"))
    if role == "gp" and not practice_ods:
        problems.append(FieldProblem("practice", "a GP user must be bound to one practice (--practice ODS)"))
    if role != "gp" and practice_ods:
        problems.append(FieldProblem("practice", "only GP users are bound to a practice"))
    if len(password) < MIN_PASSWORD_LENGTH:
        problems.append(FieldProblem("password", f"must be at least {MIN_PASSWORD_LENGTH} characters"))
    if not username.strip() or len(username) > 100:
        problems.append(FieldProblem("name", "must be 1-100 characters"))
    if problems:
        raise ValidationError(problems)
    with transaction(engine) as session:
        practice_id = None
        if practice_ods:
            practice_id = session.execute(
                select(Practice.id).where(Practice.ods_code == practice_ods.upper())
            ).scalar_one_or_none()
            if practice_id is None:
                raise ValidationError([FieldProblem("practice", f"no practice with ODS code {practice_ods}")])
        if session.execute(select(User.id).where(User.username == username)).first():
            raise Conflict(f"A user called {username} already exists.")
        user = User(
            username=username,
            role=role,
            practice_id=practice_id,
            password_hash=password_hash or _hasher.hash(password),
            created_at=clock(),
        )
        session.add(user)
        session.flush()
        audit.record(session, actor, "create", "user", user.id, detail={"role": role}, clock=clock)
        return int(user.id or 0)


def login(
    engine: Engine,
    username: str,
    password: str,
    *,
    client: str,
    secret_key: str,
    token_minutes: int,
    max_failures: int,
    window_s: int,
    address_free_failures: int = 20,
    address_max_delay_s: int = 30,
    clock: Clock = system_clock,
) -> IssuedToken:
    """Check a user name and password. A name with ``max_failures`` failures in the window is locked (429) for the
    rest of the window; an address (one ward PC, or a whole NAT) is never locked, only slowed: past
    ``address_free_failures`` failures each attempt must wait after the last failure, twice as long per failure,
    up to ``address_max_delay_s``, so a colleague on the same address still logs in after a short wait.
    Every outcome is audited with the user name tried (shown safely: control characters escaped, cut to 100).
    """
    now = clock()
    since = now - timedelta(seconds=window_s)
    # Keys are digests: a user name typed at the log-in box is untrusted text (any length, any bytes).
    keys = (f"user:{_digest(username)}", f"client:{_digest(client)}")
    tried = {"username": _shown(username), "client": _shown(client)}
    refusal: FitLabError | None = None
    with transaction(engine) as session:
        failures = {
            key: session.execute(
                select(func.count(), func.max(LoginFailure.at)).where(LoginFailure.key == key,
                                                                     LoginFailure.at >= since)
            ).one()
            for key in keys
        }
        wait_s = _address_wait_s(failures[keys[1]][0], failures[keys[1]][1], now, address_free_failures,
                                 address_max_delay_s)
        if failures[keys[0]][0] >= max_failures or wait_s > 0:
            audit.record(session, None, "login", "user", None, outcome="throttled",
                         detail={**tried, "reason": "user name locked" if not wait_s else "address slowed"},
                         clock=clock)
            refusal = TooManyAttempts(wait_s or window_s)
        else:
            plausible = 0 < len(username) <= 100 and "\x00" not in username
            user = (session.execute(select(User).where(User.username == username)).scalar_one_or_none()
                    if plausible else None)
            if not _password_matches(user.password_hash if user else None, password) or user is None:
                for key in keys:
                    session.add(LoginFailure(key=key, at=now))
                audit.record(session, None, "login", "user", user.id if user else None, outcome="failed",
                             detail=tried, clock=clock)
                refusal = NotAuthenticated("Wrong user name or password.")
            elif not user.active:
                audit.record(session, None, "login", "user", user.id, outcome="disabled", detail=tried, clock=clock)
                refusal = NotAuthenticated("This account is disabled.")
            else:
                session.execute(delete(LoginFailure).where(LoginFailure.key == keys[0]))
                principal = Principal(user.username, user.role, user.practice_id, user.id)
                audit.record(session, principal, "login", "user", user.id, clock=clock)
    # Raised only once the transaction has committed: raised inside it, the refusal would roll back its own audit
    # row (and the failure counted), as a 429 once did.
    if refusal is not None:
        raise refusal
    return issue_token(principal, secret_key=secret_key, token_minutes=token_minutes, clock=clock)


def issue_token(
    principal: Principal, *, secret_key: str, token_minutes: int, clock: Clock = system_clock
) -> IssuedToken:
    """A signed bearer token for a user who has proved who they are."""
    now = clock()
    payload = {
        "sub": str(principal.user_id),
        "role": principal.role,
        "practice_id": principal.practice_id,
        "iat": int(now.timestamp()),
        "exp": int((now + timedelta(minutes=token_minutes)).timestamp()),
    }
    token = jwt.encode(payload, secret_key, algorithm=TOKEN_ALGORITHM)
    return IssuedToken(token, token_minutes * 60, principal.role)


def _address_wait_s(failures: int, last: datetime | None, now: datetime, free: int, max_delay_s: int) -> int:
    """Seconds an address must still wait before its next attempt (0: go ahead)."""
    if failures < free or last is None:
        return 0
    delay = min(max_delay_s, 2 ** min(failures - free, 20))
    waited = (now - last).total_seconds()
    return max(0, math.ceil(delay - waited))


def _shown(text: str) -> str:
    """Untrusted text as it may be kept in the audit trail: control characters escaped, at most 100 characters."""
    return "".join(ch if ch.isprintable() else f"\\x{ord(ch):02x}" for ch in text[:100])


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()[:40]


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def _password_matches(password_hash: str | None, password: str) -> bool:
    try:
        return _hasher.verify(password_hash or _DUMMY_HASH, password) and password_hash is not None
    except (VerificationError, InvalidHashError):
        return False


def principal_from_token(engine: Engine, token: str, *, secret_key: str) -> Principal:
    """Check the signature and expiry, then the user as it is now (a disabled user's token stops working)."""
    try:
        claims = jwt.decode(token, secret_key, algorithms=[TOKEN_ALGORITHM], options={"require": ["exp", "sub"]})
        user_id = int(claims["sub"])
    except (jwt.PyJWTError, ValueError, KeyError):
        raise NotAuthenticated() from None
    with transaction(engine) as session:
        user = session.get(User, user_id)
        if user is None or not user.active:
            raise NotAuthenticated()
        return Principal(user.username, user.role, user.practice_id, user.id)
