"""A dispatch batch's new kits are stored in bulk and their ids found again by specimen ID: each kit's audit row
names that kit with its own referral's practice, across IN-list chunks."""

from __future__ import annotations

from sqlalchemy import select
from sqlmodel import Session

from fit_lab import synthetic
from fit_lab.db.models import AuditEvent, Kit, Referral
from fit_lab.services import dispatch, intake
from tests.conftest import LAB
from tests.helpers import month_rows


def test_each_dispatched_kit_is_audited_with_its_own_referrals_practice(reference_loaded, known_postcodes, clock):
    engine = reference_loaded
    intake.import_csv(engine, synthetic.referrals_csv(month_rows(1900, known_postcodes, seed=3)), filename="q.csv",
                      source="csv_cli", actor=LAB, clock=clock)
    batch = dispatch.create_batch(engine, actor=LAB, clock=clock)
    with Session(engine) as session:
        practice_of = dict(session.execute(select(Kit.id, Referral.practice_id).join(
            Referral, Referral.id == Kit.referral_id).where(Kit.dispatch_batch_id == batch.batch_id)).all())
        audited = dict(session.execute(select(AuditEvent.entity_id, AuditEvent.practice_id).where(
            AuditEvent.entity == "kit", AuditEvent.action == "transition")).all())
    assert batch.kit_count == len(practice_of) == 1900
    assert audited == {str(kit_id): practice_id for kit_id, practice_id in practice_of.items()}
