"""Every patient-data route checks role and practice scope, and every attempt is audited."""

from __future__ import annotations

import pytest
from sqlalchemy import select
from sqlmodel import Session

from fit_lab.db.models import AuditEvent
from tests.api_support import build_world
from tests.helpers import PRACTICE_B, referral_row

# Routes that show or change one referral's patient data; later capabilities add theirs here.
REFERRAL_ROUTES = [("GET", "/api/v1/referrals/{id}")]
# Every route that touches patient data at all, with a body where one is needed.
PATIENT_DATA_ROUTES = [
    ("GET", "/api/v1/referrals/{id}", None),
    ("GET", "/api/v1/referrals", None),
    ("POST", "/api/v1/referrals", "json"),
    ("POST", "/api/v1/referrals/import", "file"),
    ("GET", "/api/v1/intake-rejections", None),
    ("POST", "/api/v1/dispatch-batches", "empty"),
    ("GET", "/api/v1/dispatch-batches/{id}/labels.pdf", None),
    ("GET", "/api/v1/dispatch-batches/{id}/labels.zpl", None),
    ("GET", "/api/v1/dispatch-batches/{id}/letters.pdf", None),
    ("GET", "/api/v1/dispatch-batches/{id}/manifest.csv", None),
    ("POST", "/api/v1/dispatch-batches/{id}/cancel", "reason"),
    ("POST", "/api/v1/kits/F0000000013/receive", "empty"),
    ("POST", "/api/v1/kits/F0000000013/reject", "reject"),
    ("GET", "/api/v1/results/unmatched", None),
    ("GET", "/api/v1/results/held", None),
    ("POST", "/api/v1/results/{id}/link", "link"),
    ("POST", "/api/v1/results/{id}/discard", "reason"),
    ("POST", "/api/v1/results/{id}/release", None),
    ("POST", "/api/v1/results/{id}/amend", "amend"),
    ("GET", "/api/v1/letters", None),
]
# Staff-only routes: a GP may not call them at all.
STAFF_ONLY = ("dispatch", "rejections", "kits", "results")
LAB_ONLY_ROUTES = [r for r in PATIENT_DATA_ROUTES if any(k in r[1] for k in STAFF_ONLY)]


@pytest.fixture
def world(reference_loaded):
    return build_world(reference_loaded)


def _call(world, method, path, body, headers):
    kwargs = {"headers": headers}
    if body == "json":
        row = referral_row(external_ref="NEW-1", nhs_number="9990000026")
        kwargs["json"] = {**row, "symptoms": row["symptoms"].split(";"), "iron_deficiency_anaemia": False,
                          "abdominal_mass": False, "rectal_mass": False, "clinical_concern": False}
    elif body == "empty":
        kwargs["json"] = {}
    elif body == "reason":
        kwargs["json"] = {"reason": "test"}
    elif body == "reject":
        kwargs["json"] = {"reason": "leaked_damaged"}
    elif body == "amend":
        kwargs["json"] = {"value": 57, "reason": "test"}
    elif body == "link":
        kwargs["json"] = {"specimen_id": "F0000000013"}
    elif body == "file":
        kwargs["files"] = {"file": ("r.csv", b"nhs_number\n", "text/csv")}
    return world.client.request(method, path.format(id=world.referral_b), **kwargs)


def _audit(world, **where):
    query = select(AuditEvent)
    for key, value in where.items():
        query = query.where(getattr(AuditEvent, key) == value)
    with Session(world.engine) as session:
        return session.execute(query).scalars().all()


@pytest.mark.parametrize(("method", "path"), REFERRAL_ROUTES)
def test_gp_of_practice_a_gets_404_for_a_referral_of_practice_b(world, method, path):
    response = world.client.request(method, path.format(id=world.referral_b), headers=world.auth("gp_a"))
    assert response.status_code == 404
    assert _audit(world, actor="gp_a", outcome="not_found", entity_id=str(world.referral_b))


def test_gp_sees_own_practice_referral_and_the_read_is_audited(world):
    response = world.client.get(f"/api/v1/referrals/{world.referral_a}", headers=world.auth("gp_a"))
    assert response.status_code == 200
    assert response.json()["patient"]["nhs_number"] == "9434765919"
    assert _audit(world, actor="gp_a", action="read", entity="referral", entity_id=str(world.referral_a))


def test_gp_list_holds_only_own_practice(world):
    response = world.client.get("/api/v1/referrals", headers=world.auth("gp_a"))
    assert response.status_code == 200
    assert {item["id"] for item in response.json()["items"]} == {world.referral_a}


def test_gp_cannot_create_a_referral_for_another_practice(world):
    row = referral_row(practice_ods=PRACTICE_B, external_ref="X-9", nhs_number="9990000026")
    body = {**row, "symptoms": ["rectal_bleeding"], "iron_deficiency_anaemia": False, "abdominal_mass": False,
            "rectal_mass": False, "clinical_concern": False}
    response = world.client.post("/api/v1/referrals", json=body, headers=world.auth("gp_a"))
    assert response.status_code == 422
    assert response.json()["detail"][0]["field"] == "practice_ods"


@pytest.mark.parametrize(("method", "path", "body"), PATIENT_DATA_ROUTES)
def test_alliance_gets_403_on_every_patient_data_route(world, method, path, body):
    response = _call(world, method, path, body, world.auth("alliance"))
    assert response.status_code == 403
    assert _audit(world, actor="alliance", outcome="denied")


@pytest.mark.parametrize(("method", "path", "body"), PATIENT_DATA_ROUTES)
def test_unauthenticated_request_gets_401_and_is_audited(world, method, path, body):
    response = _call(world, method, path, body, {})
    assert response.status_code == 401
    assert response.headers["www-authenticate"] == "Bearer"
    events = _audit(world, outcome="unauthenticated")
    assert any(e.detail["path"] == path.format(id=world.referral_b) for e in events)


def test_forged_or_expired_token_gets_401(world):
    response = world.client.get("/api/v1/referrals", headers={"Authorization": "Bearer not.a.token"})
    assert response.status_code == 401


def test_lab_creates_a_referral_and_a_resubmission_says_duplicate(world):
    row = referral_row(external_ref="NEW-1", nhs_number="9990000026")
    body = {**row, "symptoms": ["rectal_bleeding"], "iron_deficiency_anaemia": False, "abdominal_mass": False,
            "rectal_mass": False, "clinical_concern": False, "haemoglobin_g_per_l": 128, "ferritin_ug_per_l": None}
    first = world.client.post("/api/v1/referrals", json=body, headers=world.auth("lab"))
    second = world.client.post("/api/v1/referrals", json=body, headers=world.auth("lab"))
    assert first.status_code == 201 and first.json()["status"] == "accepted"
    assert second.status_code == 201 and second.json()["status"] == "duplicate"
    assert second.json()["referral_id"] == first.json()["referral_id"]


def test_refused_referral_names_field_and_reason(world):
    row = referral_row(nhs_number="9434765918")
    body = {**row, "symptoms": ["rectal_bleeding"]}
    response = world.client.post("/api/v1/referrals", json=body, headers=world.auth("lab"))
    assert response.status_code == 422
    reason = "check digit is wrong (mistyped NHS number?)"
    assert response.json()["detail"] == [{"field": "nhs_number", "reason": reason}]


def test_login_through_the_api_gives_a_working_token(world):
    from tests.api_support import PASSWORD

    response = world.client.post("/api/v1/auth/token", data={"username": "gp_a", "password": PASSWORD})
    assert response.status_code == 200
    token = response.json()["access_token"]
    me = world.client.get("/api/v1/auth/me", headers={"Authorization": f"Bearer {token}"})
    assert me.json()["role"] == "gp" and me.json()["practice_id"] is not None
    assert _audit(world, actor="gp_a", action="login")


def test_wrong_password_gets_401_and_is_audited(world):
    response = world.client.post("/api/v1/auth/token", data={"username": "gp_a", "password": "not the password"})
    assert response.status_code == 401
    assert any(e.outcome == "failed" for e in _audit(world, action="login"))


@pytest.mark.parametrize(("method", "path", "body"), LAB_ONLY_ROUTES)
def test_gp_gets_403_on_lab_only_routes(world, method, path, body):
    response = _call(world, method, path, body, world.auth("gp_a"))
    assert response.status_code == 403
    assert _audit(world, actor="gp_a", outcome="denied")


def test_lab_dispatches_through_the_api_and_downloads_the_batch_files(world):
    created = world.client.post("/api/v1/dispatch-batches", json={"limit": 10}, headers=world.auth("lab"))
    assert created.status_code == 201 and created.json()["kit_count"] == 2
    batch = created.json()["batch_id"]
    manifest = world.client.get(f"/api/v1/dispatch-batches/{batch}/manifest.csv", headers=world.auth("lab"))
    assert manifest.status_code == 200 and manifest.text.startswith("specimen_id,nhs_number")
    pdf = world.client.get(f"/api/v1/dispatch-batches/{batch}/labels.pdf", headers=world.auth("lab"))
    assert pdf.content.startswith(b"%PDF")
    zpl = world.client.get(f"/api/v1/dispatch-batches/{batch}/labels.zpl", headers=world.auth("lab"))
    assert "^BC" in zpl.text
    cancelled = world.client.post(f"/api/v1/dispatch-batches/{batch}/cancel", json={"reason": "wrong stock"},
                                  headers=world.auth("lab"))
    assert cancelled.json() == {"batch_id": batch, "kits_voided": 2}
