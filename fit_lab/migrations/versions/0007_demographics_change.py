"""Demographics a referral sent that differ from the lab's record of the patient, kept beside it (both versions)
for a lab person to reconcile: a referral from one practice never changes what another practice sees.

Revision ID: 0007
Revises: 0006
"""

from __future__ import annotations

import sqlalchemy as sa
import sqlmodel
from alembic import op

from fit_lab.db.types import UTCDateTime

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "demographics_change",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("patient_id", sa.Integer(), sa.ForeignKey("patient.id"), nullable=False),
        sa.Column("referral_id", sa.Integer(), sa.ForeignKey("referral.id"), nullable=True),
        sa.Column("practice_id", sa.Integer(), sa.ForeignKey("practice.id"), nullable=False),
        sa.Column("previous", sa.JSON(), nullable=False),
        sa.Column("sent", sa.JSON(), nullable=False),
        sa.Column("status", sqlmodel.sql.sqltypes.AutoString(length=10), nullable=False),
        sa.Column("created_at", UTCDateTime(timezone=True), nullable=False),
        sa.Column("created_by", sqlmodel.sql.sqltypes.AutoString(length=100), nullable=False),
        sa.Column("decided_at", UTCDateTime(timezone=True), nullable=True),
        sa.Column("decided_by", sqlmodel.sql.sqltypes.AutoString(length=100), nullable=True),
        sa.Column("decision_reason", sqlmodel.sql.sqltypes.AutoString(length=400), nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_demographics_change_patient_id", "demographics_change", ["patient_id"])
    op.create_index("ix_demographics_change_referral_id", "demographics_change", ["referral_id"])
    op.create_index("ix_demographics_change_status", "demographics_change", ["status"])


def downgrade() -> None:
    op.drop_table("demographics_change")
