"""Audit rows recorded inside ``audit.batched`` are the rows ``audit.record`` writes, written once when the block
ends, in the same transaction; an error inside writes none of them."""

from __future__ import annotations

import pytest
from sqlalchemy import event, select
from sqlmodel import Session

from fit_lab.clock import fixed_clock
from fit_lab.db.engine import transaction
from fit_lab.db.models import AuditEvent
from fit_lab.principal import Principal
from fit_lab.services import audit
from tests.conftest import NOW

WHO = Principal("sci", "scientist")


def rows(engine):
    with Session(engine) as session:
        return [(e.at, e.actor, e.actor_role, e.action, e.entity, e.entity_id, e.practice_id, e.outcome, e.detail)
                for e in session.execute(select(AuditEvent).order_by(AuditEvent.id)).scalars()]


def record_three(session):
    audit.record(session, WHO, "create", "result", 7, detail={"status": "held"}, clock=fixed_clock(NOW))
    audit.record(session, WHO, "create", "triage_outcome", 8, practice_id=None, clock=fixed_clock(NOW))
    audit.record(session, None, "transition", "kit", "K1", detail={"from": "received", "to": "analysed"},
                 clock=fixed_clock(NOW))


def test_batched_rows_are_the_rows_record_writes(engine):
    with transaction(engine) as session:
        record_three(session)
    one_by_one = rows(engine)
    with transaction(engine) as session, audit.batched(session):
        record_three(session)
    assert rows(engine) == one_by_one + one_by_one


def test_batched_rows_go_out_in_one_statement_at_the_end_of_the_block(engine):
    inserts = []
    event.listen(engine, "before_cursor_execute",
                 lambda *args: inserts.append(args[2]) if args[2].startswith("INSERT INTO audit_event") else None)
    with transaction(engine) as session, audit.batched(session):
        record_three(session)
        session.flush()
        assert inserts == []
    assert len(inserts) == 1 and len(rows(engine)) == 3


def test_a_batch_that_fails_writes_nothing(engine):
    with pytest.raises(RuntimeError), transaction(engine) as session, audit.batched(session):
        record_three(session)
        raise RuntimeError("the message could not be stored")
    assert rows(engine) == []


def test_a_batch_inside_a_batch_writes_with_the_outer_one(engine):
    with transaction(engine) as session, audit.batched(session):
        with audit.batched(session):
            record_three(session)
        assert rows(engine) == []  # nothing written yet
        record_three(session)
    assert len(rows(engine)) == 6
