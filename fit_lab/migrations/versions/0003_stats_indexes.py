"""Indexes for the monthly statistics: each event is selected by the month it happened in, so one month of a
year at national volume is read without scanning the year.

Revision ID: 0003
Revises: 0002
"""

from __future__ import annotations

from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

INDEXES = (
    ("referral", "ix_referral_received_at", "received_at"),
    ("kit", "ix_kit_dispatched_at", "dispatched_at"),
    ("kit", "ix_kit_received_at", "received_at"),
    ("kit", "ix_kit_rejected_at", "rejected_at"),
    ("kit", "ix_kit_not_returned_at", "not_returned_at"),
    ("kit", "ix_kit_analysed_at", "analysed_at"),
    ("result", "ix_result_released_at", "released_at"),
    ("triage_outcome", "ix_outcome_created_at", ["created_at", "is_current", "policy_version", "band", "action"]),
    ("letter", "ix_letter_outcome_id", "outcome_id"),
)


def upgrade() -> None:
    for table, name, columns in INDEXES:
        op.create_index(name, table, [columns] if isinstance(columns, str) else columns, unique=False)


def downgrade() -> None:
    for table, name, _ in reversed(INDEXES):
        op.drop_index(name, table_name=table)
