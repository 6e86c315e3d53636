"""Each accepted row of a referral file names the referral stored for it, and its audit row names the same one,
across chunks and whether its patient is new or already known (new rows are stored in bulk and found again by
their unique keys)."""

from __future__ import annotations

from sqlalchemy import select
from sqlmodel import Session

from fit_lab import synthetic
from fit_lab.db.models import AuditEvent, Patient, Practice, Referral
from fit_lab.services import intake
from tests.conftest import LAB
from tests.helpers import month_rows


def test_every_accepted_row_names_its_own_referral_and_patient(reference_loaded, known_postcodes, clock):
    engine = reference_loaded
    rows = month_rows(2000, known_postcodes, seed=7)  # more than two chunks of 900
    known = [dict(row, referral_date="2026-09-01", external_ref=f"EARLIER-{n}") for n, row in enumerate(rows[::3])]
    intake.import_csv(engine, synthetic.referrals_csv(known), filename="earlier.csv", source="csv_cli", actor=LAB,
                      clock=clock)
    report = intake.import_csv(engine, synthetic.referrals_csv(rows), filename="month.csv", source="csv_cli",
                               actor=LAB, clock=clock)
    accepted = {o.row: o.referral_id for o in report.outcomes if o.status == "accepted"}
    assert len(accepted) == 2000
    with Session(engine) as session:
        stored = {r.id: r for r in session.execute(
            select(Referral.id, Patient.nhs_number, Practice.ods_code, Referral.referral_date, Referral.external_ref)
            .join(Patient, Patient.id == Referral.patient_id).join(Practice, Practice.id == Referral.practice_id))}
        audited = set(session.execute(select(AuditEvent.entity_id).where(
            AuditEvent.entity == "referral", AuditEvent.action == "create")).scalars())
    for line, referral_id in accepted.items():
        row, referral = rows[line - 2], stored[referral_id]  # line 1 is the header
        assert (referral.nhs_number, referral.ods_code, referral.referral_date.isoformat(), referral.external_ref) \
            == (row["nhs_number"], row["practice_ods"], row["referral_date"], row["external_ref"] or None)
        assert str(referral_id) in audited
