"""A message reads its kits once, at its start: a bench rejecting one of those kits meanwhile must not have its
rejection overwritten when the message's result for the kit is written. The message locks its kits (PostgreSQL;
SQLite lets one writer in at a time), so it waits for the bench and then sees the kit rejected."""

from __future__ import annotations

import threading
import time

import pytest
from sqlalchemy import select, text
from sqlmodel import Session

from analyser_drivers import OC_SENSOR
from fit_lab.db.models import Kit, Result
from fit_lab.services.analyser import qc_tubes
from tests.results_support import AT, TARGETS, store, tube


def test_a_kit_rejected_at_the_bench_while_its_result_arrives_stays_rejected(received):
    engine, ids = received
    if engine.dialect.name != "postgresql":
        pytest.skip("the row lock under test is PostgreSQL's; SQLite serialises writers at BEGIN IMMEDIATE")
    store(engine, OC_SENSOR, qc_tubes(OC_SENSOR, TARGETS, AT))
    with engine.connect() as bench:
        # The bench has the kit's row, as reception's rejection holds it (SELECT ... FOR UPDATE) until it commits.
        kit_id = bench.execute(text("SELECT id FROM kit WHERE specimen_id = :s FOR UPDATE"), {"s": ids[0]}).scalar()
        stored = []
        analyser = threading.Thread(target=lambda: stored.append(
            store(engine, OC_SENSOR, [tube(ids[0], "250", 5), tube(ids[1], "250", 6)])))
        analyser.start()
        time.sleep(1.0)
        assert analyser.is_alive(), "the message did not wait for the bench's lock on its kit"
        bench.execute(text("UPDATE kit SET state = 'rejected', version = version + 1 WHERE id = :k"), {"k": kit_id})
        bench.commit()
    analyser.join(timeout=30)
    assert stored and (stored[0].stored, stored[0].released, stored[0].unmatched) == (2, 1, 1)
    with Session(engine) as session:
        states = dict(session.execute(select(Kit.specimen_id, Kit.state)).all())
        waiting = session.execute(select(Result).where(Result.specimen_id == ids[0])).scalar_one()
    assert states[ids[0]] == "rejected" and states[ids[1]] == "reported"
    assert waiting.status == "unmatched" and waiting.unmatched_reason == "the kit is already rejected"
