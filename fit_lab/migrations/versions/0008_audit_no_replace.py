"""audit_event stays append-only against every write path: on SQLite, ``INSERT OR REPLACE``, ``REPLACE INTO`` and
an UPSERT on the key would overwrite a row (REPLACE deletes the old row without firing the DELETE trigger unless
recursive_triggers is on), so an insert that names an existing row's id is refused. PostgreSQL already refuses
UPDATE (an UPSERT's DO UPDATE fires it), DELETE and TRUNCATE with the triggers of 0001.

Revision ID: 0008
Revises: 0007
"""

from __future__ import annotations

from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        op.execute(
            "CREATE TRIGGER audit_event_no_replace BEFORE INSERT ON audit_event "
            "WHEN NEW.id IS NOT NULL AND EXISTS (SELECT 1 FROM audit_event WHERE id = NEW.id) "
            "BEGIN SELECT RAISE(ABORT, 'audit_event is append-only: REPLACE refused'); END"
        )


def downgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        op.execute("DROP TRIGGER IF EXISTS audit_event_no_replace")
