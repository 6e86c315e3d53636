"""Referral intake on a real database: nothing lost, nothing stored twice, nobody sent two kits."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from fit_lab import synthetic
from fit_lab.db.models import AuditEvent, IntakeRejection, Patient, Referral
from fit_lab.errors import ValidationError
from fit_lab.principal import Principal
from fit_lab.services import intake
from tests.conftest import LAB
from tests.helpers import PRACTICE_A, PRACTICE_B, month_rows, referral_row


def _count(engine, model, *where):
    with engine.connect() as conn:
        return conn.execute(select(func.count()).select_from(model).where(*where)).scalar_one()


def test_month_import_keeps_good_rows_and_reports_every_bad_row(reference_loaded, known_postcodes, clock):
    engine = reference_loaded
    rows = month_rows(1000, known_postcodes)
    spoiled = synthetic.spoil(rows, 0.02)
    report = intake.import_csv(engine, synthetic.referrals_csv(rows), filename="m.csv", source="csv_cli",
                               actor=LAB, clock=clock)
    assert report.rejected == len(spoiled) == 20
    assert report.accepted == 1000 - 20
    reported = {(p.row, p.field) for o in report.rejected_rows() for p in o.problems}
    assert reported == set(spoiled.items())
    assert _count(engine, Referral) == 980
    assert _count(engine, IntakeRejection) == 20


def test_second_import_of_the_same_file_stores_nothing(reference_loaded, known_postcodes, clock):
    data = synthetic.referrals_csv(month_rows(200, known_postcodes))
    first = intake.import_csv(reference_loaded, data, filename="a.csv", source="csv_cli", actor=LAB, clock=clock)
    second = intake.import_csv(reference_loaded, data, filename="a.csv", source="csv_cli", actor=LAB, clock=clock)
    assert first.accepted == 200
    assert (second.accepted, second.duplicates) == (0, 200)
    assert all(o.referral_id is not None for o in second.duplicate_rows())
    assert _count(reference_loaded, Referral) == 200
    assert _count(reference_loaded, Patient) == 200


def test_same_patient_practice_and_date_without_external_ref_is_a_duplicate(reference_loaded, clock):
    first = intake.create_referral(reference_loaded, referral_row(external_ref=""), actor=LAB, clock=clock)
    again = intake.create_referral(reference_loaded, referral_row(external_ref="OTHER"), actor=LAB, clock=clock)
    assert first.status == "accepted"
    assert again.status == "duplicate" and again.referral_id == first.referral_id
    assert "nothing stored" in (again.message or "")


def test_duplicate_rows_within_one_file_are_stored_once(reference_loaded, clock):
    data = synthetic.referrals_csv([referral_row(), referral_row()])
    report = intake.import_csv(reference_loaded, data, filename="d.csv", source="csv_cli", actor=LAB, clock=clock)
    assert (report.accepted, report.duplicates) == (1, 1)
    assert report.duplicate_rows()[0].row == 3


def test_patient_with_open_referral_is_held_not_sent_a_second_kit(reference_loaded, clock):
    first = intake.create_referral(reference_loaded, referral_row(), actor=LAB, clock=clock)
    later = intake.create_referral(
        reference_loaded, referral_row(external_ref="REF-2", referral_date="2026-11-01"), actor=LAB, clock=clock
    )
    assert first.on_hold is False
    assert later.status == "accepted" and later.on_hold is True
    with reference_loaded.connect() as conn:
        status, reason, related = conn.execute(
            select(Referral.status, Referral.hold_reason, Referral.related_referral_id).where(
                Referral.id == later.referral_id
            )
        ).one()
    assert status == "on_hold" and related == first.referral_id and "already has referral" in reason


def test_unknown_practice_is_refused_and_kept(reference_loaded, clock):
    try:
        intake.create_referral(reference_loaded, referral_row(practice_ods="A99999"), actor=LAB, clock=clock)
    except ValidationError as exc:
        assert [(p.field, "not a practice known" in p.reason) for p in exc.problems] == [("practice_ods", True)]
    else:
        raise AssertionError("an unknown practice was accepted")
    assert _count(reference_loaded, IntakeRejection) == 1
    assert _count(reference_loaded, Referral) == 0


def test_gp_can_refer_only_for_own_practice(reference_loaded, clock):
    with reference_loaded.connect() as conn:
        from fit_lab.db.models import Practice

        practice_a = conn.execute(select(Practice.id).where(Practice.ods_code == PRACTICE_A)).scalar_one()
    gp = Principal("gp-a", "gp", practice_id=practice_a)
    ok = intake.create_referral(reference_loaded, referral_row(), actor=gp, clock=clock)
    assert ok.status == "accepted"
    try:
        intake.create_referral(reference_loaded, referral_row(practice_ods=PRACTICE_B, external_ref="B1",
                                                              nhs_number="9990000018"), actor=gp, clock=clock)
    except ValidationError as exc:
        assert exc.problems[0].field == "practice_ods"
    else:
        raise AssertionError("a GP referred for another practice")


def test_deprivation_is_derived_from_the_postcode_or_left_unknown(reference_loaded, known_postcodes, clock):
    known = known_postcodes[0]
    intake.create_referral(reference_loaded, referral_row(postcode=known), actor=LAB, clock=clock)
    intake.create_referral(
        reference_loaded,
        referral_row(nhs_number="9990000018", postcode="ZE3 9JZ", external_ref="REF-9"),
        actor=LAB,
        clock=clock,
    )
    with reference_loaded.connect() as conn:
        rows = dict(
            conn.execute(select(Patient.nhs_number, Patient.imd_decile)).all()
        )
        editions = set(conn.execute(select(Patient.imd_edition)).scalars())
    assert rows["9434765919"] in range(1, 11)
    assert rows["9990000018"] is None
    assert editions == {"IMD2019", None}


def test_every_created_referral_and_patient_is_audited(reference_loaded, known_postcodes, clock):
    data = synthetic.referrals_csv(month_rows(50, known_postcodes))
    intake.import_csv(reference_loaded, data, filename="a.csv", source="csv_cli", actor=LAB, clock=clock)
    assert _count(reference_loaded, AuditEvent, AuditEvent.entity == "referral", AuditEvent.action == "create") == 50
    assert _count(reference_loaded, AuditEvent, AuditEvent.entity == "patient", AuditEvent.action == "create") == 50


def test_changed_address_updates_the_patient_and_is_audited(reference_loaded, clock):
    intake.create_referral(reference_loaded, referral_row(), actor=LAB, clock=clock)
    with reference_loaded.begin() as conn:
        conn.execute(Referral.__table__.update().values(status="closed"))
    intake.create_referral(
        reference_loaded,
        referral_row(address_line1="2 New Street", external_ref="REF-2", referral_date="2026-11-01"),
        actor=LAB,
        clock=clock,
    )
    with reference_loaded.connect() as conn:
        assert conn.execute(select(Patient.address_line1)).scalar_one() == "2 New Street"
    assert _count(reference_loaded, AuditEvent, AuditEvent.entity == "patient", AuditEvent.action == "update") == 1


def test_file_without_required_columns_is_refused_whole(reference_loaded, clock):
    try:
        intake.import_csv(reference_loaded, b"nhs_number,family_name\n9434765919,X\n", filename="x.csv",
                          source="csv_cli", actor=LAB, clock=clock)
    except ValidationError as exc:
        assert exc.problems[0].field == "header" and "given_name" in exc.problems[0].reason
    else:
        raise AssertionError("a file without the required columns was accepted")


def test_the_same_bad_row_sent_again_is_kept_once(reference_loaded, known_postcodes, clock):
    rows = month_rows(100, known_postcodes)
    synthetic.spoil(rows, 0.05)
    data = synthetic.referrals_csv(rows)
    intake.import_csv(reference_loaded, data, filename="a.csv", source="csv_cli", actor=LAB, clock=clock)
    again = intake.import_csv(reference_loaded, data, filename="a.csv", source="csv_cli", actor=LAB, clock=clock)
    assert again.rejected == 5
    assert all("already waiting for correction" in (o.message or "") for o in again.rejected_rows())
    assert _count(reference_loaded, IntakeRejection) == 5


def test_a_practice_reference_reused_for_a_different_patient_is_refused_not_called_a_duplicate(reference_loaded,
                                                                                               clock):
    first = intake.create_referral(reference_loaded, referral_row(external_ref="REF-7"), actor=LAB, clock=clock)
    try:
        intake.create_referral(reference_loaded, referral_row(nhs_number="9990000018", family_name="Other",
                                                              external_ref="REF-7"), actor=LAB, clock=clock)
    except ValidationError as exc:
        assert [p.field for p in exc.problems] == ["external_ref"]
        assert f"referral {first.referral_id} of a different patient" in exc.problems[0].reason
    else:
        raise AssertionError("a second patient's referral was dropped as a duplicate")
    with reference_loaded.connect() as conn:
        kept = conn.execute(select(IntakeRejection.raw, IntakeRejection.problems)).one()
    assert kept.raw["nhs_number"] == "9990000018" and kept.problems[0]["field"] == "external_ref"
    assert _count(reference_loaded, Referral) == 1


def test_a_reference_used_twice_in_one_file_for_two_patients_refuses_the_second_row(reference_loaded, clock):
    data = synthetic.referrals_csv([referral_row(external_ref="X-1"),
                                    referral_row(nhs_number="9990000018", external_ref="X-1")])
    report = intake.import_csv(reference_loaded, data, filename="x.csv", source="csv_cli", actor=LAB, clock=clock)
    assert (report.accepted, report.duplicates, report.rejected) == (1, 0, 1)
    (refused,) = report.rejected_rows()
    assert refused.row == 3 and refused.problems[0].field == "external_ref"
    assert "earlier row of this file" in refused.problems[0].reason
    assert _count(reference_loaded, IntakeRejection) == 1


def test_the_same_reference_for_the_same_patient_is_still_a_duplicate(reference_loaded, clock):
    first = intake.create_referral(reference_loaded, referral_row(external_ref="REF-8"), actor=LAB, clock=clock)
    again = intake.create_referral(reference_loaded, referral_row(external_ref="REF-8", referral_date="2026-10-29"),
                                   actor=LAB, clock=clock)
    assert again.status == "duplicate" and again.referral_id == first.referral_id


def test_keeping_a_refused_row_is_audited_with_its_practice(reference_loaded, clock):
    """A refused row holds a patient's identifiers: storing it is a create like any other (issue 3, audit)."""
    with pytest.raises(ValidationError):
        intake.create_referral(reference_loaded, referral_row(nhs_number="9434765918"), actor=LAB, clock=clock)
    with reference_loaded.connect() as conn:
        from fit_lab.db.models import Practice

        practice_a = conn.execute(select(Practice.id).where(Practice.ods_code == PRACTICE_A)).scalar_one()
        kept = conn.execute(select(IntakeRejection.id)).scalar_one()
        event = conn.execute(select(AuditEvent).where(AuditEvent.entity == "intake_rejection")).one()
    assert (event.action, event.actor, event.entity_id, event.practice_id) == ("create", LAB.username, str(kept),
                                                                               practice_a)
