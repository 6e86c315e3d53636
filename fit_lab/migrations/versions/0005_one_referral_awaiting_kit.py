"""One referral per patient waiting for a kit: a partial unique index on referral(patient_id) where the status is
awaiting_kit, so two intakes racing for one patient can never both queue a kit (the loser's insert fails and intake
retries it, ending "on hold" or "duplicate").

A database written before this revision may already hold such pairs (the race this closes): each patient's later
referrals waiting for a kit are put on hold for a person, with the reason, and audited, before the index is built.

Revision ID: 0005
Revises: 0004
"""

from __future__ import annotations

from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op

from fit_lab.db.types import UTCDateTime

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

INDEX = "uq_referral_patient_awaiting_kit"
WHERE = "status = 'awaiting_kit'"
_REFERRAL = sa.table("referral", sa.column("id", sa.Integer), sa.column("patient_id", sa.Integer),
                     sa.column("practice_id", sa.Integer), sa.column("status", sa.String),
                     sa.column("hold_reason", sa.String), sa.column("related_referral_id", sa.Integer))
_AUDIT = sa.table("audit_event", sa.column("at", UTCDateTime()), sa.column("actor", sa.String),
                  sa.column("actor_role", sa.String), sa.column("action", sa.String), sa.column("entity", sa.String),
                  sa.column("entity_id", sa.String), sa.column("practice_id", sa.Integer),
                  sa.column("outcome", sa.String), sa.column("detail", sa.JSON))


def _hold_second_referrals_waiting() -> None:
    bind = op.get_bind()
    waiting = bind.execute(sa.select(_REFERRAL.c.id, _REFERRAL.c.patient_id, _REFERRAL.c.practice_id)
                           .where(_REFERRAL.c.status == "awaiting_kit").order_by(_REFERRAL.c.id)).all()
    first_of: dict[int, int] = {}
    now = datetime.now(UTC)
    for referral_id, patient_id, practice_id in waiting:
        if patient_id not in first_of:
            first_of[patient_id] = referral_id
            continue
        reason = (f"patient already has referral {first_of[patient_id]} waiting for a kit (found when the database "
                  "was upgraded to refuse two)")
        bind.execute(sa.update(_REFERRAL).where(_REFERRAL.c.id == referral_id).values(
            status="on_hold", hold_reason=reason, related_referral_id=first_of[patient_id]))
        bind.execute(sa.insert(_AUDIT).values(
            at=now, actor="migration:0005", actor_role=None, action="update", entity="referral",
            entity_id=str(referral_id), practice_id=practice_id, outcome="ok", detail={"on_hold": reason}))


def upgrade() -> None:
    _hold_second_referrals_waiting()
    op.create_index(INDEX, "referral", ["patient_id"], unique=True, sqlite_where=sa.text(WHERE),
                    postgresql_where=sa.text(WHERE))


def downgrade() -> None:
    op.drop_index(INDEX, table_name="referral")
