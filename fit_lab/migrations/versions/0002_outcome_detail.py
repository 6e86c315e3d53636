"""Keep the whole triage decision with each outcome (ranking must not re-decide under a newer policy), and each
letter's content (its PDF is rendered from it on demand).

Revision ID: 0002
Revises: 0001
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("triage_outcome") as batch_op:
        batch_op.add_column(sa.Column("detail", sa.JSON(), nullable=False, server_default="{}"))
    with op.batch_alter_table("triage_outcome") as batch_op:
        batch_op.alter_column("detail", server_default=None)
    with op.batch_alter_table("letter") as batch_op:
        batch_op.add_column(sa.Column("content", sa.JSON(), nullable=False, server_default="{}"))
    with op.batch_alter_table("letter") as batch_op:
        batch_op.alter_column("content", server_default=None)


def downgrade() -> None:
    with op.batch_alter_table("letter") as batch_op:
        batch_op.drop_column("content")
    with op.batch_alter_table("triage_outcome") as batch_op:
        batch_op.drop_column("detail")
