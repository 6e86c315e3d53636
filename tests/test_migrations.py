"""The migrations are the only source of the schema, and they build exactly what the models describe."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError
from sqlmodel import SQLModel

import fit_lab.db.models  # noqa: F401
from fit_lab.db.migrate import current_revision
from fit_lab.services import audit


def test_migrations_produce_exactly_the_models_schema(engine):
    with engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"compare_type": True, "compare_server_default": True})
        assert compare_metadata(context, SQLModel.metadata) == []
    assert current_revision(engine) is not None


def _one_audit_row(engine):
    with engine.begin() as conn:
        conn.execute(
            text("INSERT INTO audit_event (at, action, entity, outcome, detail) VALUES (:at, 'read', 'x', 'ok', '{}')"),
            {"at": datetime(2026, 1, 1, tzinfo=UTC)},
        )


@pytest.mark.parametrize("statement", ["UPDATE audit_event SET actor = 'someone else'", "DELETE FROM audit_event"])
def test_database_refuses_to_change_the_audit_trail(engine, statement):
    _one_audit_row(engine)
    with pytest.raises(DBAPIError, match="append-only"), engine.begin() as conn:
        conn.execute(text(statement))
    with engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM audit_event")).scalar_one() == 1


def test_audit_denial_is_written_even_though_the_request_failed(engine):
    audit.record_denial(engine, None, "unauthenticated", "route", None, detail={"path": "/x"})
    with engine.connect() as conn:
        assert conn.execute(text("SELECT outcome FROM audit_event")).scalar_one() == "unauthenticated"
