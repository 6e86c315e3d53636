"""The referral's whole life: colonoscopy list states on the referral, and the failsafe's run log (one scheduled
run a day across server processes).

Plain ADD/DROP COLUMN, not batch mode: rebuilding `referral` on SQLite would drop a table other rows refer to.

Revision ID: 0006
Revises: 0005
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import fit_lab.db.types

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("referral", sa.Column("list_state", sa.String(length=16), nullable=True))
    op.add_column("referral", sa.Column("list_booked_for", sa.Date(), nullable=True))
    op.add_column("referral", sa.Column("list_state_at", fit_lab.db.types.UTCDateTime(), nullable=True))
    op.add_column("referral", sa.Column("list_state_by", sa.String(length=100), nullable=True))
    op.add_column("referral", sa.Column("list_note", sa.String(length=400), nullable=True))
    op.create_table(
        "failsafe_run",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("daily_key", sa.Date(), nullable=True),
        sa.Column("trigger", sa.String(length=20), nullable=False),
        sa.Column("worker", sa.String(length=100), nullable=False),
        sa.Column("started_at", fit_lab.db.types.UTCDateTime(), nullable=False),
        sa.Column("finished_at", fit_lab.db.types.UTCDateTime(), nullable=False),
        sa.Column("summary", sa.JSON(), nullable=False),
        sa.UniqueConstraint("daily_key"),
    )
    op.create_index("ix_failsafe_run_day", "failsafe_run", ["day"])


def downgrade() -> None:
    op.drop_index("ix_failsafe_run_day", table_name="failsafe_run")
    op.drop_table("failsafe_run")
    for name in ("list_note", "list_state_by", "list_state_at", "list_booked_for", "list_state"):
        op.drop_column("referral", name)

