"""Abuse limits: page size caps, upload size limit (413), throttled log-ins (429)."""

from __future__ import annotations

import pytest
from sqlalchemy import select, update
from sqlmodel import Session

from fit_lab import synthetic
from fit_lab.db.models import AuditEvent, User
from tests.api_support import PASSWORD, build_world
from tests.helpers import month_rows


@pytest.fixture
def world(reference_loaded):
    return build_world(reference_loaded, max_page_size=25, max_upload_bytes=64 * 1024, login_max_failures=3)


def test_list_page_size_is_capped(world, known_postcodes):
    data = synthetic.referrals_csv(month_rows(60, known_postcodes))
    world.client.post("/api/v1/referrals/import", files={"file": ("m.csv", data, "text/csv")},
                      headers=world.auth("lab"))
    response = world.client.get("/api/v1/referrals?limit=1000", headers=world.auth("lab"))
    assert response.status_code == 200
    assert response.json()["limit"] == 25 and len(response.json()["items"]) == 25
    assert response.json()["total"] == 62


def test_csv_upload_imports_and_reports(world, known_postcodes):
    rows = month_rows(100, known_postcodes)
    synthetic.spoil(rows, 0.05)
    response = world.client.post("/api/v1/referrals/import", files={"file": ("m.csv", synthetic.referrals_csv(rows),
                                 "text/csv")}, headers=world.auth("lab"))
    assert response.status_code == 200
    body = response.json()
    assert (body["accepted"], body["rejected"]) == (95, 5)
    assert all(r["problems"][0]["field"] and r["row"] for r in body["rejected_rows"])


def test_upload_over_the_limit_gets_413(world):
    big = b"x" * (200 * 1024)
    response = world.client.post("/api/v1/referrals/import", files={"file": ("big.csv", big, "text/csv")},
                                 headers=world.auth("lab"))
    assert response.status_code == 413


def test_repeated_failed_logins_are_refused_with_429(world):
    for _ in range(3):
        bad = world.client.post("/api/v1/auth/token", data={"username": "lab", "password": "wrong-password-x"})
        assert bad.status_code == 401
    refused = world.client.post("/api/v1/auth/token", data={"username": "lab", "password": PASSWORD})
    assert refused.status_code == 429
    assert int(refused.headers["retry-after"]) > 0


@pytest.mark.parametrize("username", ["nul\x00byte", "x" * 5000, ""])
def test_a_hostile_user_name_is_a_failed_login_not_a_server_error(world, username):
    response = world.client.post("/api/v1/auth/token", data={"username": username, "password": "whatever-long"})
    assert response.status_code in (401, 422)


def test_an_upload_named_with_control_characters_is_imported(world, known_postcodes):
    data = synthetic.referrals_csv(month_rows(3, known_postcodes))
    response = world.client.post("/api/v1/referrals/import", files={"file": ("a\x00b\x1b.csv", data, "text/csv")},
                                 headers=world.auth("lab"))
    assert response.status_code == 200 and response.json()["accepted"] == 3


def test_a_throttled_log_in_is_in_the_audit_trail(world):
    for _ in range(3):
        world.client.post("/api/v1/auth/token", data={"username": "lab", "password": "wrong-password-x"})
    refused = world.client.post("/api/v1/auth/token", data={"username": "lab", "password": PASSWORD})
    assert refused.status_code == 429
    with Session(world.engine) as session:
        outcomes = [e.outcome for e in session.execute(
            select(AuditEvent).where(AuditEvent.action == "login").order_by(AuditEvent.id)).scalars()]
    assert outcomes == ["failed", "failed", "failed", "throttled"]


def test_a_disabled_account_is_refused_and_the_attempt_audited(world):
    with world.engine.begin() as conn:
        conn.execute(update(User).where(User.username == "lab").values(active=False))
    refused = world.client.post("/api/v1/auth/token", data={"username": "lab", "password": PASSWORD})
    assert refused.status_code == 401 and "disabled" in refused.json()["detail"]
    with Session(world.engine) as session:
        (event,) = session.execute(select(AuditEvent).where(AuditEvent.action == "login")).scalars()
    assert (event.outcome, event.detail["username"]) == ("disabled", "lab")


def _chunked_multipart(size: int):
    """A multipart upload sent in chunks with no Content-Length (Transfer-Encoding: chunked)."""
    yield b'--X\r\nContent-Disposition: form-data; name="file"; filename="big.csv"\r\nContent-Type: text/csv\r\n\r\n'
    for _ in range(size // 8192):
        yield b"x" * 8192
    yield b"\r\n--X--\r\n"


def test_a_chunked_upload_over_the_limit_gets_413(world):
    response = world.client.post("/api/v1/referrals/import", content=_chunked_multipart(400 * 1024),
                                 headers={**world.auth("lab"), "Content-Type": "multipart/form-data; boundary=X"})
    assert response.status_code == 413 and "limit" in response.json()["detail"]


def test_a_chunked_json_body_over_the_limit_gets_413(world):
    def chunks():
        yield b'{"reason": "'
        for _ in range(200):
            yield b"x" * 1024
        yield b'"}'
    response = world.client.post("/api/v1/referrals/1/release-hold", content=chunks(),
                                 headers={**world.auth("lab"), "Content-Type": "application/json"})
    assert response.status_code == 413


def test_a_batch_limit_of_true_is_refused_not_read_as_one(world):
    response = world.client.post("/api/v1/dispatch-batches", json={"limit": True}, headers=world.auth("lab"))
    assert response.status_code == 422 and response.json()["detail"][0]["field"] == "limit"


def test_the_schema_says_a_kit_rejected_as_other_needs_a_note(world):
    schema = world.client.get("/openapi.json").json()["components"]["schemas"]["RejectIn"]
    assert schema["if"]["properties"]["reason"] == {"const": "other"} and schema["then"]["required"] == ["note"]
    refused = world.client.post("/api/v1/kits/F0000000013/reject", json={"reason": "other"}, headers=world.auth("lab"))
    assert refused.status_code == 422 and refused.json()["detail"][0]["field"] == "note"
