"""Text at the boundary (issue 14): names and free text are NFC-normalised; control characters are refused naming
the field, on every route that takes text and in every referral CSV column, on both engines (PostgreSQL cannot
store a NUL, so before this a NUL answered 500 there)."""

from __future__ import annotations

import re
import unicodedata

import pytest
from sqlalchemy import select
from sqlmodel import Session

from fit_lab import synthetic
from fit_lab.db.models import Patient
from fit_lab.errors import ValidationError
from fit_lab.intake.validate import CSV_COLUMNS, OPTIONAL_COLUMNS
from fit_lab.services import dispatch, intake, referrals
from fit_lab.web.session import SESSION_COOKIE, csrf_token
from tests.api_support import build_world
from tests.conftest import LAB
from tests.helpers import referral_row

DECOMPOSED = "Rene\u0301e"  # e + COMBINING ACUTE ACCENT, as copy-paste often gives
COMPOSED = "Ren\u00e9e"


@pytest.fixture
def world(reference_loaded):
    return build_world(reference_loaded)


def test_a_decomposed_name_is_stored_composed(reference_loaded, clock):
    intake.create_referral(reference_loaded, referral_row(given_name=DECOMPOSED), actor=LAB, clock=clock)
    with Session(reference_loaded) as session:
        stored = session.execute(select(Patient.given_name)).scalar_one()
    assert stored == COMPOSED and unicodedata.is_normalized("NFC", stored)


def test_a_decomposed_name_is_posted_not_held_at_dispatch(reference_loaded, clock):
    intake.create_referral(reference_loaded, referral_row(family_name="Nguye\u0302\u0303n"), actor=LAB, clock=clock)
    batch = dispatch.create_batch(reference_loaded, actor=LAB, clock=clock)
    assert batch.held == [] and batch.kit_count == 1


def test_the_api_stores_a_decomposed_name_composed(world):
    row = referral_row(nhs_number="9990000026", external_ref="NFC-1", given_name=DECOMPOSED)
    body = {**row, "symptoms": row["symptoms"].split(";"), "iron_deficiency_anaemia": False,
            "abdominal_mass": False, "rectal_mass": False, "clinical_concern": False}
    made = world.client.post("/api/v1/referrals", json=body, headers=world.auth("lab")).json()
    seen = world.client.get(f"/api/v1/referrals/{made['referral_id']}", headers=world.auth("lab")).json()
    assert seen["patient"]["given_name"] == COMPOSED


# Every route body that carries text, with the field that takes it: (role, method, path, body, field).
TEXT_FIELDS = [
    ("lab", "POST", "/api/v1/referrals/1/release-hold", {"decision": "close"}, "reason"),
    ("lab", "POST", "/api/v1/intake-rejections/1/resolve", {}, "resolution"),
    ("lab", "POST", "/api/v1/kits/F0000000013/reject", {"reason": "other"}, "note"),
    ("lab", "POST", "/api/v1/dispatch-batches/1/cancel", {}, "reason"),
    ("lab", "POST", "/api/v1/demographics-changes/1/reconcile", {"decision": "keep_record"}, "reason"),
    ("scientist", "POST", "/api/v1/results/1/discard", {}, "reason"),
    ("scientist", "POST", "/api/v1/results/1/amend", {"value": 57}, "reason"),
    ("scientist", "POST", "/api/v1/results/1/link", {}, "specimen_id"),
    *[("lab", "POST", "/api/v1/referrals", "referral", name) for name in (
        "nhs_number", "family_name", "given_name", "address_line1", "address_line2", "town", "postcode",
        "ethnicity_code", "practice_ods", "requester", "external_ref")],
]


@pytest.mark.parametrize("control", ["\x00", "\x1b", "\x85", "\n"], ids=["nul", "escape", "c1-next-line", "newline"])
@pytest.mark.parametrize(("role", "method", "path", "body", "field"), TEXT_FIELDS,
                         ids=[f"{t[2]}:{t[4]}" for t in TEXT_FIELDS])
def test_a_control_character_in_any_text_field_is_refused_naming_the_field(world, role, method, path, body, field,
                                                                            control):
    if body == "referral":
        row = referral_row(nhs_number="9990000026", external_ref="CTRL-1")
        body = {**row, "symptoms": row["symptoms"].split(";"), "iron_deficiency_anaemia": False,
                "abdominal_mass": False, "rectal_mass": False, "clinical_concern": False}
    sent = {**body, field: f"A{control}"}  # two characters: within every field's length
    answer = world.client.request(method, path, json=sent, headers=world.auth(role))
    assert answer.status_code == 422, answer.text
    assert [p["field"] for p in answer.json()["detail"]] == [field]
    assert "control character" in answer.json()["detail"][0]["reason"]


def test_the_schema_says_a_reason_needs_a_visible_character_and_no_control_characters(world):
    schema = world.client.get("/openapi.json").json()["components"]["schemas"]["HoldDecision"]["properties"]
    pattern = re.compile(schema["reason"]["pattern"])
    assert pattern.search("duplicate of 301") and not pattern.search("\u3000 \u00a0")
    assert not pattern.search("dup\x00licate") and not pattern.search("\x01")
    answer = world.client.post("/api/v1/referrals/1/release-hold", headers=world.auth("lab"),
                               json={"decision": "close", "reason": "\u3000 \u00a0"})
    assert answer.status_code == 422 and answer.json()["detail"][0]["field"] == "reason"


@pytest.mark.parametrize("column", [*CSV_COLUMNS, *OPTIONAL_COLUMNS])
def test_a_nul_in_any_csv_column_is_refused_naming_the_column(reference_loaded, clock, column):
    row = referral_row(**{column: "y\x00" if column in ("rectal_mass", "clinical_concern") else "A\x00B"})
    report = intake.import_csv(reference_loaded, synthetic.referrals_csv([row]), filename="c.csv",
                               source="csv_cli", actor=LAB, clock=clock)
    [refused] = report.rejected_rows()
    assert [(p.field, "control characters" in p.reason) for p in refused.problems] == [(column, True)]


def test_a_nul_in_a_release_hold_reason_from_the_command_line_is_refused(reference_loaded, clock):
    with pytest.raises(ValidationError, match="reason: contains control characters"):
        referrals.release_hold(reference_loaded, 1, decision="close", reason="dup\x00licate", actor=LAB, clock=clock)


def test_a_nul_in_a_reception_page_note_is_refused_naming_the_field(world):
    token = world.tokens["lab"]
    csrf = csrf_token(world.client.app.state.settings, token)
    answer = world.client.post("/reception/reject", headers={"Cookie": f"{SESSION_COOKIE}={token}"},
                               data={"csrf": csrf, "specimen_id": "F0000000013", "reason": "other",
                                     "note": "leak\x00ed"})
    assert answer.status_code == 422
    assert "note" in answer.text and "control character" in answer.text
