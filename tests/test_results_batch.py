"""A message's tubes stored in phases (``results.MessageBatch``) leave exactly the rows that storing them one by one
left: the same results, kits, outcomes, letters, referrals, QC, journal and audit rows (audit rows compared as a
set: batching writes them in a different order). Each case runs the same messages on two copies of one database,
batched on one, tube by tube (tests/results_reference.py) on the other."""

from __future__ import annotations

import json
import shutil
from dataclasses import replace
from datetime import timedelta

import pytest
from sqlalchemy import event, select
from sqlalchemy.engine import make_url
from sqlmodel import Session, SQLModel

import labels
from analyser_drivers import OC_SENSOR, ReceivedMessage, TranscriptChunk, decode_message
from fit_lab import synthetic
from fit_lab.clock import fixed_clock
from fit_lab.db.engine import make_engine
from fit_lab.db.models import Kit
from fit_lab.services import dispatch, intake, kits
from fit_lab.services.analyser import qc_tubes
from fit_lab.services.results import store_message
from tests.conftest import LAB, NOW, _postgres_copy, _postgres_drop
from tests.helpers import month_rows
from tests.results_reference import store_message_tube_by_tube
from tests.results_support import AT, SETTINGS, TARGETS, message, tube

KITS = 8  # received today, except the last: dispatched, never received


@pytest.fixture
def twins(reference_loaded, db_url, known_postcodes):
    """(batched engine, tube-by-tube engine, received specimen IDs, a kit not received, a kit received too old)."""
    engine = reference_loaded
    rows = month_rows(KITS + 1, known_postcodes, seed=5)
    for row in rows:
        row["referral_date"] = "2026-09-20"
    intake.import_csv(engine, synthetic.referrals_csv(rows), filename="r.csv", source="csv_cli", actor=LAB,
                      clock=fixed_clock(NOW - timedelta(days=30)))
    dispatch.create_batch(engine, actor=LAB, clock=fixed_clock(NOW - timedelta(days=30)))
    with Session(engine) as session:
        ids = list(session.execute(select(Kit.specimen_id).order_by(Kit.id)).scalars())
    for specimen_id in ids[:KITS - 1]:
        kits.receive_kit(engine, specimen_id, NOW.date(), actor=LAB, settings=SETTINGS, clock=fixed_clock(NOW))
    # Fine at reception 5 days ago (12 days old); 17 days old today, past the OC-Sensor's 15 days.
    kits.receive_kit(engine, ids[KITS], NOW.date() - timedelta(days=17), actor=LAB, settings=SETTINGS,
                     clock=fixed_clock(NOW - timedelta(days=5)))
    engine.dispose()
    url = make_url(db_url)
    if url.get_backend_name() == "sqlite":
        copy = url.database.replace(".db", "-twin.db")
        shutil.copy(url.database, copy)
        twin_url, drop = url.set(database=copy).render_as_string(hide_password=False), None
    else:
        drop, twin_url = _postgres_copy(url.database)
    twin = make_engine(twin_url)
    yield engine, twin, ids[:KITS - 1], ids[KITS - 1], ids[KITS]
    twin.dispose()
    if drop:
        _postgres_drop(drop)


def dump(engine):
    """Every row of every table; audit rows without their ids, as a sorted list."""
    def plain(value):
        return json.dumps(value, sort_keys=True, default=str) if isinstance(value, dict | list) else value

    tables = {}
    with engine.connect() as conn:
        for table in SQLModel.metadata.sorted_tables:
            rows = [tuple(plain(v) for v in row) for row in conn.execute(select(table))]
            if table.name == "audit_event":
                rows = sorted((row[1:] for row in rows), key=repr)
            tables[table.name] = sorted(rows, key=repr)
    return tables


def assert_same_rows(batched, by_tube, messages):
    for received in messages:
        kwargs = {"profile": OC_SENSOR, "port_url": "loop://", "settings": SETTINGS, "qc_targets": TARGETS,
                  "clock": fixed_clock(NOW)}
        assert store_message(batched, received, **kwargs) == store_message_tube_by_tube(by_tube, received, **kwargs)
    got, expected = dump(batched), dump(by_tube)
    for name in expected:
        assert got[name] == expected[name], name


def qc_run(start, fail_level=None):
    return [replace(t, measured_at=start + timedelta(seconds=i))
            for i, t in enumerate(qc_tubes(OC_SENSOR, TARGETS, start, fail_level=fail_level))]


def test_a_mixed_message_stores_what_tube_by_tube_storing_stored(twins):
    batched, by_tube, ids, not_received, too_old = twins
    unknown = labels.specimen_id_from_serial(424_242)
    mixed = [
        tube(ids[0], "40", 5),  # negative: released, reassurance letter
        tube(ids[1], "750", 6),  # positive: released, positive letter
        tube(ids[0], "40", 5),  # the same tube twice in one message: a duplicate
        tube(ids[2], "E01", 7),  # no valid result: a repeat kit
        tube(unknown, "100", 8),  # a valid ID no kit has
        tube("F00000X0013", "100", 9),  # not a fit-lab ID
        tube(ids[3], "<=50", 10),  # an inclusive bound waits for a re-test
        tube("", "400", 11),  # no specimen ID
        tube(too_old, "250", 12),  # held: sample too old, kit stays received
        tube(ids[0], "300", 13),  # a second result for a kit this message already reported
        tube(too_old, "260", 14),  # a second result for the kit held as too old: matched again, held again
        tube(not_received, "100", 15),  # a kit never received
        tube(ids[4], "20", 16),  # already stored by an earlier message: a duplicate
        tube(ids[5], "1500", 17),  # above the range: released in the highest band
    ]
    assert_same_rows(batched, by_tube, [message(OC_SENSOR, qc_run(AT)), message(OC_SENSOR, [tube(ids[4], "20", 16)]),
                                        message(OC_SENSOR, mixed)])


def test_a_qc_failure_mid_message_holds_only_the_tubes_after_it(twins):
    batched, by_tube, ids, _, _ = twins
    failing = [replace(t, measured_at=AT + timedelta(seconds=20)) for t in qc_run(AT, fail_level="high")]
    assert_same_rows(batched, by_tube, [
        message(OC_SENSOR, qc_run(AT)),
        message(OC_SENSOR, [tube(ids[0], "40", 10), *failing, tube(ids[1], "40", 30), tube(ids[2], "40", 15)]),
    ])


def test_a_stored_qc_failure_between_two_tubes_holds_the_later_one(twins):
    batched, by_tube, ids, _, _ = twins
    assert_same_rows(batched, by_tube, [
        message(OC_SENSOR, qc_run(AT)),
        message(OC_SENSOR, qc_run(AT + timedelta(seconds=20), fail_level="low")),
        message(OC_SENSOR, [tube(ids[0], "40", 10), tube(ids[1], "40", 30), tube(ids[2], "40", 19)]),
        message(OC_SENSOR, qc_run(AT + timedelta(seconds=40))),
        message(OC_SENSOR, [tube(ids[3], "40", 35), tube(ids[4], "40", 50)]),
    ])


def test_without_qc_or_with_qc_too_old_the_tubes_are_held_as_before(twins):
    batched, by_tube, ids, _, _ = twins
    assert_same_rows(batched, by_tube, [
        message(OC_SENSOR, [tube(ids[0], "40", 10)]),  # no QC at all
        message(OC_SENSOR, qc_run(AT - timedelta(hours=30))),
        message(OC_SENSOR, [tube(ids[1], "40", 10), tube(ids[2], "750", 11)]),  # QC older than 24 h
    ])


def untimed(records: str) -> ReceivedMessage:
    text = f"H|\\^&|||OC-Sensor^^SN-1\rP|1\r{records}L|1|N\r".encode()
    return ReceivedMessage(decode_message(text), text, (TranscriptChunk(NOW.timestamp(), "in", b"\x05"),))


def test_untimed_tubes_and_their_resends_are_stored_as_before(twins):
    batched, by_tube, ids, _, _ = twins
    records = (f"O|1|{ids[0]}|||||||||N\rR|1|^^^FOB^L1|250|ng/mL||||F\r"
               f"O|2|{ids[0]}|||||||||N\rR|1|^^^FOB^L1|250|ng/mL||||F\r"  # the same reading again: a resend
               f"O|3|{ids[1]}|||||||||N\rR|1|^^^FOB^L1|300|ng/mL||||F\r")
    assert_same_rows(batched, by_tube, [message(OC_SENSOR, qc_run(AT - timedelta(minutes=5))), untimed(records),
                                        untimed(records)])


def test_a_whole_run_sent_twice_is_stored_once(twins):
    batched, by_tube, ids, _, _ = twins
    run = message(OC_SENSOR, [tube(s, "40", 10 + i) for i, s in enumerate(ids)])
    assert_same_rows(batched, by_tube, [message(OC_SENSOR, qc_run(AT)), run, run])


def statements(engine, received):
    seen = []

    def count(conn, cursor, statement, *args):
        seen.append(statement)

    event.listen(engine, "before_cursor_execute", count)
    try:
        store_message(engine, received, profile=OC_SENSOR, port_url="loop://", settings=SETTINGS, qc_targets=TARGETS,
                      clock=fixed_clock(NOW))
    finally:
        event.remove(engine, "before_cursor_execute", count)
    if engine.dialect.name == "sqlite":
        # SQLite gives RETURNING rows in no set order, so SQLAlchemy inserts new ORM rows one statement each there
        # (in the process, no round trip); every other statement is counted.
        seen = [s for s in seen if not s.startswith(("INSERT INTO result ", "INSERT INTO triage_outcome ",
                                                     "INSERT INTO letter "))]
    return len(seen)


def test_the_statements_of_a_message_do_not_grow_with_its_tubes(twins):
    batched, _, ids, _, _ = twins
    store_message(batched, message(OC_SENSOR, qc_run(AT)), profile=OC_SENSOR, port_url="loop://", settings=SETTINGS,
                  qc_targets=TARGETS, clock=fixed_clock(NOW))
    two = statements(batched, message(OC_SENSOR, [tube(s, "40", 10 + i) for i, s in enumerate(ids[:2])]))
    six = statements(batched, message(OC_SENSOR, [tube(s, "40" if i % 2 else "750", 20 + i)
                                                  for i, s in enumerate(ids[2:])]))
    assert six == two  # one round of statements per phase, whatever the number of tubes
