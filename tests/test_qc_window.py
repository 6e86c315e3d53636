"""The QC loaded once for a span of results (``qc_window``) says, for every result in the span, exactly what the
per-result queries (``qc_gate``) say: the same hold reason, word for word, or the same release."""

from __future__ import annotations

import random
from datetime import timedelta

import pytest
from sqlmodel import Session

from fit_lab.db.models import AnalyserSession, QcResult
from fit_lab.qc.history import qc_gate, qc_window
from fit_lab.qc.window import QcWindow
from tests.conftest import NOW
from tests.results_support import SETTINGS

LEVELS = ("negative", "low", "high")
MAX_AGE = timedelta(hours=SETTINGS.qc_max_age_hours)


def add_qc(session, instrument, *points):
    """points: (seconds after NOW, level, passed, run); each run is one journaled message."""
    journals = {}
    for seconds, level, passed, run in points:
        if run not in journals:
            journal = AnalyserSession(instrument=instrument, profile="oc-sensor", port_url="loop://", started_at=NOW)
            session.add(journal)
            session.flush()
            journals[run] = journal.id
        session.add(QcResult(analyser_session_id=journals[run], instrument=instrument, method="FOB",
                             material_id=f"M-{level}", level=level, value=1.0, unit="ug/g",
                             measured_at=NOW + timedelta(seconds=seconds), stored_at=NOW, passed=passed,
                             rules_violated=[] if passed else ["1-3s"]))
    session.flush()


def run(at_s, fail=None):
    return [(at_s + i, level, level != fail, at_s) for i, level in enumerate(LEVELS)]


def assert_same(session, instrument, result_seconds):
    times = [NOW + timedelta(seconds=s) for s in result_seconds]
    window = qc_window(session, instrument, min(times), max(times), MAX_AGE)
    for at in times:
        expected = qc_gate(session, instrument, at, SETTINGS, LEVELS)
        assert window.hold_reason(at, LEVELS, MAX_AGE) == expected, (instrument, at)


HOUR = 3600
CASES = {
    "no QC at all": ([], [10, 20]),
    "all passed before": (run(0), [10, 20]),
    "a failure between the two tubes' times": (run(0) + run(15, fail="low"), [10, 20, 15, 16, 17]),
    "a failure, then a passing run between the tubes": (run(0, fail="high") + run(30), [10, 31, 32, 40]),
    "QC older than the maximum age": (run(-30 * HOUR), [0, 10]),
    "QC ageing out inside the span": (run(-24 * HOUR + 5), [0, 5, 6, 10]),
    "an old failure never cleared": (run(-50 * HOUR, fail="low") + run(-HOUR, fail=None)[:2], [0, 60]),
    "an old failure cleared long ago": (run(-50 * HOUR, fail="low") + run(-49 * HOUR) + run(-HOUR), [0, 60]),
    "a level missing from the recent run": (run(-HOUR)[:2], [0]),
    "QC at exactly a tube's time": (run(0, fail="negative") + run(10), [10, 11, 12, 13]),
    "QC only after the tubes": (run(100), [10, 20]),
}


@pytest.mark.parametrize("case", CASES)
def test_one_load_gives_what_the_per_result_queries_give(engine, case):
    points, seconds = CASES[case]
    with Session(engine) as session:
        add_qc(session, "SN-CASE", *points)
        add_qc(session, "SN-OTHER", *run(5, fail="high"))  # another analyser's failure counts for nothing here
        assert_same(session, "SN-CASE", seconds)


def test_random_histories_agree(engine):
    rng = random.Random(20261102)
    with Session(engine) as session:
        for scenario in range(40):
            instrument = f"SN-{scenario}"
            points = []
            for _ in range(rng.randint(0, 6)):
                start = rng.randint(-60 * HOUR, 2 * HOUR)
                levels = run(start, fail=rng.choice([None, None, *LEVELS]))
                points += rng.sample(levels, rng.randint(1, 3))
            add_qc(session, instrument, *points)
            first = rng.randint(-2 * HOUR, 2 * HOUR)
            assert_same(session, instrument, [first + rng.randint(0, 3 * HOUR) for _ in range(8)] + [first])


def test_a_window_refuses_a_time_outside_its_span():
    window = QcWindow(NOW, NOW + timedelta(seconds=5), NOW - MAX_AGE, [], False)
    with pytest.raises(ValueError):
        window.hold_reason(NOW + timedelta(seconds=6), LEVELS, MAX_AGE)
