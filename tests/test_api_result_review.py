"""A scientist deals with a sample that was too old when measured, through the API (domain brief §4)."""

from __future__ import annotations

from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlmodel import Session

from analyser_drivers import OC_SENSOR
from fit_lab.api.app import create_app
from fit_lab.db.models import Kit, Result, User
from fit_lab.principal import Principal
from fit_lab.services import users
from tests.api_support import PASSWORD, _password_hash
from tests.conftest import ADMIN
from tests.results_support import SETTINGS, store, tube
from tests.test_results import old_sample  # noqa: F401 - the fixture: a kit received with a 17-day-old sample

SECRET = "test-secret-key-for-the-suite-0123456789"


def _client(engine, role: str) -> TestClient:
    client = TestClient(create_app(SETTINGS.model_copy(update={"secret_key": SECRET}), engine))
    name = f"api-{role}"
    with Session(engine) as session:
        known = session.execute(select(User.id).where(User.username == name)).scalar_one_or_none()
    user_id = known or users.add_user(engine, name, role, PASSWORD, practice_ods=None, actor=ADMIN,
                                      password_hash=_password_hash())
    token = users.issue_token(Principal(name, role, None, user_id), secret_key=SECRET, token_minutes=5).access_token
    client.headers["Authorization"] = f"Bearer {token}"
    return client


def test_a_scientist_rejects_a_too_old_sample_through_the_api_and_a_new_kit_is_sent(old_sample):  # noqa: F811
    engine, specimen_id = old_sample
    store(engine, OC_SENSOR, [tube(specimen_id, "250", 5)])
    with Session(engine) as session:
        held = session.execute(select(Result).where(Result.specimen_id == specimen_id)).scalar_one()
    assert held.status == "held" and held.held_reason.startswith("sample too old")
    assert _client(engine, "lab").post(f"/api/v1/results/{held.id}/reject-too-old").status_code == 403
    answer = _client(engine, "scientist").post(f"/api/v1/results/{held.id}/reject-too-old")
    assert answer.status_code == 200 and answer.json()["status"] == "discarded"
    again = _client(engine, "scientist").post(f"/api/v1/results/{held.id}/reject-too-old")
    assert again.status_code == 409
    with Session(engine) as session:
        kit = session.execute(select(Kit).where(Kit.specimen_id == specimen_id)).scalar_one()
        replacement = session.execute(select(Kit).where(Kit.replaces_kit_id == kit.id)).scalar_one()
    assert (kit.state, kit.reject_reason, replacement.state) == ("rejected", "too_old", "allocated")
