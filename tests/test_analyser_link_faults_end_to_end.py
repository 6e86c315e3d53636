"""Link faults end to end: fit-lab's own listener (``services.analyser.listen`` with ``results.store_message`` as its
sink) on a real pseudo-terminal and a real database, the analyser on the other end of the pty.

Every test checks the same promise (issue 5, done-when 2): no result is lost, none is duplicated, and a message
whose final frame was not acknowledged is not stored, not even its journal.
"""

from __future__ import annotations

import os
import threading
import time
from contextlib import contextmanager
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select, text
from sqlmodel import Session

from analyser_drivers import (
    HM_JACKARC,
    NOISE,
    OC_SENSOR,
    LinkFaults,
    LinkSettings,
    Sender,
    TransferAborted,
    TransportError,
    TubeResult,
    frames_for_records,
    result_records,
)
from fit_lab.db.models import AnalyserSession, Result
from fit_lab.services import analyser
from fit_lab.services import results as results_service
from tests.analyser_drivers.conftest import FAST_TIMERS, PtyMasterLine
from tests.api_support import make_settings
from tests.test_analyser_end_to_end import received_kits

SETTINGS = make_settings(analyser_timezone="UTC")
# The analyser's reply timer, shortened so a lost frame is given up quickly, but long enough that a commit on a
# loaded CI machine is never taken for silence (that made the analyser resend what was already stored).
ANALYSER_LINK = LinkSettings(timers=replace(FAST_TIMERS, reply_s=1.5))
NAK = 0x15


@contextmanager
def listening(engine, port_path, profile=OC_SENSOR):
    """fit-lab's listener in a thread, as ``fit-lab analyser listen`` runs it; reopens a lost port every 50 ms."""
    stop = threading.Event()
    stored: list = []
    thread = threading.Thread(target=analyser.listen, args=(engine, port_path, profile, SETTINGS), daemon=True,
                              kwargs={"should_stop": stop.is_set, "on_stored": stored.append,
                                      "reconnect_interval_s": 0.05})
    thread.start()
    try:
        yield stored
    finally:
        stop.set()
        thread.join(timeout=10)


@pytest.fixture
def pty_pair():
    master, slave = os.openpty()
    line = PtyMasterLine(master)
    yield line, os.ttyname(slave)
    line.close()
    os.close(slave)


def tubes_for(ids, start=0):
    at = datetime.now(UTC).replace(tzinfo=None, microsecond=0)
    return [TubeResult(s, f"{50 + 10 * i}", at + timedelta(seconds=start + i + 1), lot="L1") for i, s in enumerate(ids)]


def message_for(tube):
    return result_records(OC_SENSOR, [tube], "SN-FAULT", tube.measured_at)


def send_until_acknowledged(line, messages, deadline_s=60.0):
    """An analyser resends each message until the host acknowledges it (a pty has no carrier to wait for)."""
    sender = Sender(line, time.monotonic, ANALYSER_LINK)
    deadline = time.monotonic() + deadline_s
    for records in messages:
        while True:
            try:
                sender.send_message(records)
                break
            except (TransferAborted, TransportError):
                assert time.monotonic() < deadline, "the listener never acknowledged the message"
                time.sleep(0.05)


def stored(engine):
    with Session(engine) as session:
        results = list(session.execute(select(Result.specimen_id)).scalars())
        journals = session.execute(select(func.count()).select_from(AnalyserSession)).scalar_one()
    return results, journals


def assert_each_stored_once(engine, ids, reports, qc_messages=0):
    """Each result stored once, one journal per message the listener acknowledged. An ACK that reaches the analyser
    after its reply timer ran out makes it send the message again (E1381 6.5.2.3); that copy is journaled too but must
    be recognised as a duplicate and store nothing."""
    results, journals = stored(engine)
    assert sorted(results) == sorted(ids)
    assert journals == len(reports)
    assert sum(r.stored for r in reports) == len(ids)
    assert sum(1 for r in reports if r.qc_stored) == qc_messages
    resends = [r for r in reports if not (r.stored or r.qc_stored)]
    assert all(r.duplicates for r in resends), resends
    assert len(reports) - len(resends) == len(ids) + qc_messages


class DamagingLine:
    """The analyser's line, damaging one transmission of chosen frames: ``drop`` maps a frame's number in the run
    (1, 2, …, retransmissions not counted) to the position of the byte lost on its first transmission."""

    def __init__(self, line, drop):
        self.line, self.drop = line, dict(drop)
        self.frames, self.last = 0, b""

    def write(self, data):
        if data[:1] == b"\x02" and data != self.last:
            self.frames += 1
            self.last = data
            position = self.drop.pop(self.frames, None)
            if position is not None:
                position %= len(data)
                data = data[:position] + data[position + 1:]
        elif data[:1] != b"\x02":
            self.last = b""
        self.line.write(data)

    def read(self, max_bytes):
        return self.line.read(max_bytes)

    def close(self):
        self.line.close()


def test_frames_with_a_corrupted_checksum_are_refused_and_each_result_is_stored_once(
    reference_loaded, known_postcodes, pty_pair
):
    engine = reference_loaded
    ids = received_kits(engine, known_postcodes, 4)
    line, host_path = pty_pair
    faults = LinkFaults(bad_checksum_frames=frozenset({2, 5, 9, 13, 20}))  # H, L, R, O… of different messages
    with listening(engine, host_path) as reports:
        time.sleep(0.5)  # pyserial empties the port's input when it opens it
        analyser.simulate(line, OC_SENSOR, ids, SETTINGS, values=["250"] * 4, faults=faults,
                          measured_at=datetime.now(UTC).replace(tzinfo=None, microsecond=0))
        time.sleep(0.2)
    assert_each_stored_once(engine, ids, reports, qc_messages=1)  # QC + four tubes, one journal each
    with Session(engine) as session:
        replies = b"".join(j.raw_bytes for j in session.execute(select(AnalyserSession)).scalars())
    assert replies.count(bytes([NAK])) == 5  # each damaged frame refused once, its intact copy accepted


@pytest.mark.parametrize("position", [0, 1, 5, -5, -4, -2, -1], ids=["STX", "frame-number", "text", "ETX",
                                                                     "checksum", "CR", "LF"])
def test_a_byte_dropped_anywhere_in_a_frame_loses_and_duplicates_nothing(
    reference_loaded, known_postcodes, pty_pair, position
):
    engine = reference_loaded
    ids = received_kits(engine, known_postcodes, 2)
    line, host_path = pty_pair
    tubes = tubes_for(ids)
    with listening(engine, host_path) as reports:
        time.sleep(0.5)
        # Frame 4 is the first message's R record, frame 10 the second message's L (its final frame).
        send_until_acknowledged(DamagingLine(line, {4: position, 10: position}), [message_for(t) for t in tubes])
        time.sleep(0.2)
    assert_each_stored_once(engine, ids, reports)


def acknowledged(line, chunk):
    """Write ``chunk`` and wait for the host's ACK (an ENQ is repeated: the port may have been flushed on opening)."""
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        line.write(chunk)
        repeat_at = time.monotonic() + 0.5
        while time.monotonic() < repeat_at:
            if line.read(16) == b"\x06":
                return
        if chunk != b"\x05":
            break
    raise AssertionError("the listener did not acknowledge")


def test_a_port_closed_mid_message_stores_nothing_of_it_and_the_resend_after_reconnecting_is_stored_once(
    reference_loaded, known_postcodes, tmp_path
):
    engine = reference_loaded
    ids = received_kits(engine, known_postcodes, 2)
    tubes = tubes_for(ids)
    first_master, first_slave = os.openpty()
    second_master, second_slave = os.openpty()
    port = tmp_path / "ttyANALYSER"  # what a udev rule gives a USB serial adapter
    port.symlink_to(os.ttyname(first_slave))
    first, second = PtyMasterLine(first_master), PtyMasterLine(second_master)
    try:
        with listening(engine, str(port)) as reports:
            time.sleep(0.5)
            frames = frames_for_records(message_for(tubes[0]))
            for chunk in [b"\x05", *frames[:3]]:  # ENQ, H, P, O: each acknowledged, the message not yet complete
                acknowledged(first, chunk)
            first.close()  # the USB adapter is pulled out mid-message
            os.close(first_slave)
            port.unlink()
            port.symlink_to(os.ttyname(second_slave))  # …and plugged back in
            assert stored(engine) == ([], 0)
            send_until_acknowledged(second, [message_for(t) for t in tubes])
            time.sleep(0.2)
    finally:
        second.close()
        os.close(second_slave)
    assert_each_stored_once(engine, ids, reports)


def refuse_results(engine):
    """Make the database refuse every result: SQLite aborts the insert, PostgreSQL fails the commit itself."""
    with engine.begin() as conn:
        if engine.dialect.name == "sqlite":
            conn.execute(text("CREATE TRIGGER refuse_results BEFORE INSERT ON result "
                              "BEGIN SELECT RAISE(ABORT, 'simulated disk failure'); END"))
        else:
            conn.execute(text("CREATE FUNCTION refuse_commit() RETURNS trigger LANGUAGE plpgsql AS "
                              "$$ BEGIN RAISE EXCEPTION 'simulated disk failure at commit'; END $$"))
            conn.execute(text("CREATE CONSTRAINT TRIGGER refuse_results AFTER INSERT ON result "
                              "DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION refuse_commit()"))


def accept_results(engine):
    with engine.begin() as conn:
        conn.execute(text("DROP TRIGGER refuse_results" + ("" if engine.dialect.name == "sqlite" else " ON result")))


class CountingNaks:
    """The analyser's line, calling ``on_nak(n)`` as the n-th NAK arrives (before the analyser reacts to it)."""

    def __init__(self, line, on_nak):
        self.line, self.on_nak, self.naks = line, on_nak, 0

    def write(self, data):
        self.line.write(data)

    def read(self, max_bytes):
        data = self.line.read(max_bytes)
        for _ in range(data.count(bytes([NAK]))):
            self.naks += 1
            self.on_nak(self.naks)
        return data

    def close(self):
        self.line.close()


def test_a_database_that_refuses_the_commit_gets_the_final_frame_refused_until_it_recovers(
    reference_loaded, known_postcodes, pty_pair
):
    engine = reference_loaded
    ids = received_kits(engine, known_postcodes, 2)
    line, host_path = pty_pair
    tubes = tubes_for(ids)
    refuse_results(engine)
    seen_while_failing = []

    def on_nak(n):
        seen_while_failing.append(stored(engine))
        if n == 2:
            accept_results(engine)  # the disk is replaced after two refusals; the analyser's third try lands

    with listening(engine, host_path) as reports:
        time.sleep(0.5)
        send_until_acknowledged(CountingNaks(line, on_nak), [message_for(t) for t in tubes])
        time.sleep(0.2)
    assert seen_while_failing == [([], 0), ([], 0)]  # nothing of the unacknowledged message, not even its journal
    assert_each_stored_once(engine, ids, reports)


def test_a_database_down_for_longer_than_the_analyser_retries_loses_nothing_once_it_is_back(
    reference_loaded, known_postcodes, pty_pair
):
    engine = reference_loaded
    ids = received_kits(engine, known_postcodes, 1)
    line, host_path = pty_pair
    (tube,) = tubes_for(ids)
    refuse_results(engine)
    with listening(engine, host_path) as reports:
        time.sleep(0.5)
        with pytest.raises(TransferAborted) as aborted:
            Sender(line, time.monotonic, ANALYSER_LINK).send_message(message_for(tube))
        assert aborted.value.reason == "rejected"  # six refusals of the final frame (E1381 6.5.1.2)
        assert stored(engine) == ([], 0)
        accept_results(engine)
        send_until_acknowledged(line, [message_for(tube)])  # the analyser's next attempt
        time.sleep(0.2)
    assert_each_stored_once(engine, ids, reports)


def test_the_emulator_s_link_faults_are_all_survived_by_the_listener(reference_loaded, known_postcodes, pty_pair):
    engine = reference_loaded
    ids = received_kits(engine, known_postcodes, 3)
    line, host_path = pty_pair
    faults = LinkFaults(bad_checksum_frames=frozenset({1, 3}), noise_between_messages=NOISE,
                        whole_message_in_one_frame=True)
    # HM-JACKarc's profile accepts a whole message in one frame; OC-Sensor's keeps E1381's 247-character limit.
    with listening(engine, host_path, HM_JACKARC) as reports:
        time.sleep(0.5)
        analyser.simulate(line, HM_JACKARC, ids, SETTINGS, values=["100", "200", "300"], faults=faults,
                          measured_at=datetime.now(UTC).replace(tzinfo=None, microsecond=0))
        time.sleep(0.2)
    assert_each_stored_once(engine, ids, reports, qc_messages=1)
    with Session(engine) as session:
        raw = b"".join(j.raw_bytes for j in session.execute(select(AnalyserSession).order_by(AnalyserSession.id))
                       .scalars())
    assert raw.count(NOISE) == 3 and raw.count(bytes([NAK])) == 2
    assert raw.count(b"\x02") == len(reports) + 2  # one frame per message (H…L), plus the two damaged copies


def slow_first_store(delay_s):
    """``results.store_message`` that waits ``delay_s`` after committing the first message, before the ACK."""
    calls = []

    def store(*args, **kwargs):
        stored_message = results_service.store_message(*args, **kwargs)
        calls.append(stored_message)
        if len(calls) == 1:
            time.sleep(delay_s)
        return stored_message

    return store

def test_an_ack_that_reaches_the_analyser_too_late_makes_it_resend_and_the_copy_stores_nothing(
    reference_loaded, known_postcodes, pty_pair, monkeypatch
):
    engine = reference_loaded
    ids = received_kits(engine, known_postcodes, 1)
    line, host_path = pty_pair
    (tube,) = tubes_for(ids)
    # Committed, then the ACK leaves after the analyser's reply timer ran out.
    monkeypatch.setattr(analyser, "store_message", slow_first_store(ANALYSER_LINK.timers.reply_s * 3))
    with listening(engine, host_path) as reports:
        time.sleep(0.5)
        with pytest.raises(TransferAborted):  # no reply to the final frame within the reply timer
            Sender(line, time.monotonic, ANALYSER_LINK).send_message(message_for(tube))
        time.sleep(ANALYSER_LINK.timers.reply_s * 3)  # the analyser's pause before it tries again; the late ACK lands
        assert line.read(16) == b"\x06"
        send_until_acknowledged(line, [message_for(tube)])
        time.sleep(0.2)
    assert len(reports) == 2 and reports[1].duplicates == 1  # the analyser's second copy, recognised
    assert_each_stored_once(engine, ids, reports)


def test_the_emulator_sends_a_message_again_after_a_reply_timeout_and_the_copy_stores_nothing(
    reference_loaded, known_postcodes, pty_pair, monkeypatch
):
    engine = reference_loaded
    ids = received_kits(engine, known_postcodes, 2)
    line, host_path = pty_pair
    # The first tube's ACK leaves after the emulator's reply timer ran out, before its pause to send again ends.
    monkeypatch.setattr(analyser, "store_message", slow_first_store(ANALYSER_LINK.timers.reply_s * 1.5))
    impatient = replace(OC_SENSOR, link=replace(OC_SENSOR.link, timers=ANALYSER_LINK.timers))
    with listening(engine, host_path) as reports:
        time.sleep(0.5)
        analyser.simulate(line, impatient, ids, SETTINGS, values=["250", "30"], with_qc=False,
                          measured_at=datetime.now(UTC).replace(tzinfo=None, microsecond=0))
        time.sleep(0.2)
    assert [r.duplicates for r in reports] == [0, 1, 0]  # the first tube, its copy, the second tube
    assert_each_stored_once(engine, ids, reports)
