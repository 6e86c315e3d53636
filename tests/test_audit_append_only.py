"""The audit trail is append-only against every write path the engines offer (issue 14): not only UPDATE and
DELETE but SQLite's INSERT OR REPLACE, REPLACE INTO and UPSERT, and PostgreSQL's UPSERT and TRUNCATE."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

AT = datetime(2026, 1, 1, tzinfo=UTC)
OVERWRITE = {
    "insert-or-replace": "INSERT OR REPLACE INTO audit_event (id, at, action, entity, outcome, detail) "
                         "VALUES (:id, :at, 'read', 'forged', 'ok', '{}')",
    "replace-into": "REPLACE INTO audit_event (id, at, action, entity, outcome, detail) "
                    "VALUES (:id, :at, 'read', 'forged', 'ok', '{}')",
    "upsert": "INSERT INTO audit_event (id, at, action, entity, outcome, detail) "
              "VALUES (:id, :at, 'read', 'forged', 'ok', '{}') ON CONFLICT (id) DO UPDATE SET entity = 'forged'",
}
SQLITE_ONLY = {"insert-or-replace", "replace-into"}


def _one_audit_row(engine) -> int:
    with engine.begin() as conn:
        conn.execute(text("INSERT INTO audit_event (at, action, entity, outcome, detail) "
                          "VALUES (:at, 'read', 'x', 'ok', '{}')"), {"at": AT})
        return int(conn.execute(text("SELECT max(id) FROM audit_event")).scalar_one())


@pytest.mark.parametrize("how", list(OVERWRITE))
def test_an_audit_row_cannot_be_overwritten_by_an_insert(engine, how):
    if how in SQLITE_ONLY and engine.dialect.name != "sqlite":
        pytest.skip("SQLite syntax (PostgreSQL has no REPLACE)")
    row_id = _one_audit_row(engine)
    with pytest.raises(DBAPIError, match="append-only"), engine.begin() as conn:
        conn.execute(text(OVERWRITE[how]), {"id": row_id, "at": AT})
    with engine.connect() as conn:
        assert conn.execute(text("SELECT entity FROM audit_event")).scalars().all() == ["x"]


def test_truncating_the_audit_trail_is_refused_on_postgresql(engine):
    if engine.dialect.name != "postgresql":
        pytest.skip("TRUNCATE is PostgreSQL's (SQLite's DELETE without WHERE is refused by its DELETE trigger)")
    _one_audit_row(engine)
    with pytest.raises(DBAPIError, match="append-only"), engine.begin() as conn:
        conn.execute(text("TRUNCATE audit_event"))
    with engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM audit_event")).scalar_one() == 1


def test_a_new_audit_row_with_a_fresh_id_is_still_written(engine):
    row_id = _one_audit_row(engine)
    with engine.begin() as conn:
        conn.execute(text("INSERT INTO audit_event (id, at, action, entity, outcome, detail) "
                          "VALUES (:id, :at, 'read', 'y', 'ok', '{}')"), {"id": row_id + 1, "at": AT})
    with engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM audit_event")).scalar_one() == 2
