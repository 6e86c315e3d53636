"""Log-in protection (issue 14): every log-in outcome audited with its outcome and the user name tried; a user
name is locked after repeated failures, an address (a ward PC, a whole NAT) is only slowed, never locked; proxies
are believed only when configured; the service runs outside dev mode unless asked, and warns when asked."""

from __future__ import annotations

from datetime import timedelta

import pytest
import uvicorn
from sqlalchemy import create_engine, select
from sqlmodel import Session
from structlog.testing import capture_logs
from uvicorn.middleware.proxy_headers import ProxyHeadersMiddleware

from fit_lab.api.app import create_app, server_options
from fit_lab.clock import fixed_clock
from fit_lab.db.models import AuditEvent
from fit_lab.errors import NotAuthenticated, TooManyAttempts
from fit_lab.services import users
from fit_lab.settings import DEV_SECRET, Settings
from tests.api_support import PASSWORD, _password_hash, make_settings
from tests.conftest import ADMIN, NOW

SECRET = "test-secret-key-for-the-suite-0123456789"
LIMITS = {"max_failures": 5, "window_s": 900, "address_free_failures": 20, "address_max_delay_s": 30}
NAT = "198.51.100.7"


@pytest.fixture
def staff(engine):
    for n in range(6):
        users.add_user(engine, f"nurse{n}", "lab", PASSWORD, practice_ods=None, actor=ADMIN,
                       password_hash=_password_hash())
    return engine


def _login(engine, username, password, *, at, client=NAT):
    return users.login(engine, username, password, client=client, secret_key=SECRET, token_minutes=5,
                       clock=fixed_clock(at), **LIMITS)


def _login_events(engine):
    with Session(engine) as session:
        return list(session.execute(select(AuditEvent).where(AuditEvent.action == "login")
                                    .order_by(AuditEvent.id)).scalars())


def test_a_failed_log_in_is_audited_as_failed_with_the_user_name_tried(staff):
    with pytest.raises(NotAuthenticated):
        _login(staff, "nurse1", "wrong-password", at=NOW)
    [event] = _login_events(staff)
    assert (event.outcome, event.detail["username"], event.detail["client"]) == ("failed", "nurse1", NAT)


def test_a_log_in_refused_for_a_locked_name_is_audited_as_throttled_with_the_name(staff):
    for n in range(5):
        with pytest.raises(NotAuthenticated):
            _login(staff, "nurse1", "wrong-password", at=NOW + timedelta(seconds=n), client=f"192.0.2.{n}")
    with pytest.raises(TooManyAttempts):
        _login(staff, "nurse1", PASSWORD, at=NOW + timedelta(seconds=10), client="192.0.2.99")
    assert [(e.outcome, e.detail["username"]) for e in _login_events(staff)][-1] == ("throttled", "nurse1")


def test_a_user_name_tried_is_kept_with_control_characters_escaped_and_cut_to_100(staff):
    with pytest.raises(NotAuthenticated):
        _login(staff, "x\x1b[2J" + "y" * 200, "wrong-password", at=NOW)
    [event] = _login_events(staff)
    assert event.detail["username"].startswith("x\\x1b[2J") and "\x1b" not in event.detail["username"]
    assert len(event.detail["username"]) <= 100 + 3


def _fail_from_the_nat(engine, count):
    """``count`` failures from one address, spread over names so that no name reaches its own lock."""
    for n in range(count):
        with pytest.raises(NotAuthenticated):
            _login(engine, f"nurse{n % 5}", "wrong-password", at=NOW + timedelta(seconds=n * 40))
    return NOW + timedelta(seconds=(count - 1) * 40)


def test_an_address_past_its_free_failures_is_slowed_not_locked_out(staff):
    last = _fail_from_the_nat(staff, 20)
    with pytest.raises(TooManyAttempts) as slowed:
        _login(staff, "nurse5", PASSWORD, at=last)
    assert slowed.value.retry_after_s == 1  # the first slowed attempt waits a second, not the 15-minute window
    issued = _login(staff, "nurse5", PASSWORD, at=last + timedelta(seconds=1))
    assert issued.role == "lab"


def test_the_wait_for_a_slowed_address_doubles_with_each_failure_up_to_the_limit(staff):
    last = _fail_from_the_nat(staff, 20)
    waits = []
    for n in range(8):  # a new name each time: no name reaches its own lock
        with pytest.raises(TooManyAttempts) as slowed:
            _login(staff, f"guest{n}", "wrong-password", at=last)
        waits.append(slowed.value.retry_after_s)
        last += timedelta(seconds=slowed.value.retry_after_s)
        with pytest.raises(NotAuthenticated):  # allowed after the wait, and wrong again
            _login(staff, f"guest{n}", "wrong-password", at=last)
    assert waits == [1, 2, 4, 8, 16, 30, 30, 30]


def test_another_address_is_not_slowed_by_one_address_failing(staff):
    last = _fail_from_the_nat(staff, 25)
    assert _login(staff, "nurse5", PASSWORD, at=last, client="203.0.113.5").role == "lab"


def test_the_api_answers_a_slowed_address_with_429_and_retry_after(reference_loaded):
    from tests.api_support import build_world

    world = build_world(reference_loaded, login_address_free_failures=2, login_max_failures=50)
    for n in range(2):
        world.client.post("/api/v1/auth/token", data={"username": f"someone{n}", "password": "wrong-password"})
    answer = world.client.post("/api/v1/auth/token", data={"username": "lab", "password": PASSWORD})
    assert answer.status_code == 429 and 1 <= int(answer.headers["Retry-After"]) <= 30


def test_forwarded_for_is_believed_from_no_one_by_default():
    options = server_options(make_settings())
    config = uvicorn.Config(create_app(make_settings(), create_engine("sqlite://")), **options)  # type: ignore[arg-type]
    config.load()
    assert options == {"proxy_headers": False} and not isinstance(config.loaded_app, ProxyHeadersMiddleware)


def test_forwarded_for_is_believed_only_from_the_configured_proxies():
    settings = make_settings(trusted_proxies=["10.1.2.3"])
    config = uvicorn.Config(create_app(settings, create_engine("sqlite://")), **server_options(settings))  # type: ignore[arg-type]
    config.load()
    proxy = config.loaded_app
    while not isinstance(proxy, ProxyHeadersMiddleware):
        proxy = proxy.app
    assert "10.1.2.3" in str(proxy.trusted_hosts.trusted_hosts) and "127.0.0.1" not in str(
        proxy.trusted_hosts.trusted_hosts)


def test_the_service_is_outside_dev_mode_by_default_and_refuses_the_development_key(monkeypatch):
    monkeypatch.delenv("FIT_LAB_DEV_MODE", raising=False)
    monkeypatch.delenv("FIT_LAB_SECRET_KEY", raising=False)
    settings = Settings(_env_file=None)  # type: ignore[call-arg]
    assert settings.dev_mode is False and settings.secret_key == DEV_SECRET
    with pytest.raises(Exception, match="FIT_LAB_SECRET_KEY"):
        create_app(settings, create_engine("sqlite://"))


def test_dev_mode_asked_for_warns_at_every_start():
    settings = make_settings(dev_mode=True, secret_key=DEV_SECRET)
    with capture_logs() as logs:
        create_app(settings, create_engine("sqlite://"))
        create_app(settings, create_engine("sqlite://"))
    assert [e["event"] for e in logs if e["log_level"] == "warning"] == ["dev_mode_on", "dev_mode_on"]
