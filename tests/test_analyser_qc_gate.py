"""The QC gate as a pure decision (domain brief §3: "patient results after a failed QC and before the next passing
QC are held for a scientist"); a run passes only when every level passes."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from fit_lab.qc.gate import QcPoint, hold_reason

T0 = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)
LEVELS = ("negative", "low", "high")
DAY = timedelta(hours=24)


def run(start_s: int, *, run_id: int, failed: str | None = None, levels=LEVELS) -> list[QcPoint]:
    """One run, a level a second, in the analyser's order; ``failed`` breaks 1-3s."""
    return [QcPoint(level, T0 + timedelta(seconds=start_s + i), level != failed, ("1-3s",) if level == failed else (),
                    sequence=start_s * 10 + i, run=run_id)
            for i, level in enumerate(levels)]


def at(seconds: int) -> datetime:
    return T0 + timedelta(seconds=seconds)


@pytest.mark.parametrize(
    ("points", "result_s", "held"),
    [
        (run(0, run_id=1), 10, None),
        # The reviewer's case: low fails, high passes a second later; the latest row alone looked fine.
        (run(0, run_id=1, failed="low"), 10, "QC failed before this result (low: 1-3s) and high, low, negative have"),
        (run(0, run_id=1, failed="high"), 10, "QC failed before this result (high: 1-3s)"),
        (run(0, run_id=1, failed="low") + run(20, run_id=2), 30, None),
        (run(0, run_id=1, failed="low") + run(20, run_id=2), 15, "QC failed"),  # between the runs
        (run(0, run_id=1, failed="low") + run(20, run_id=2, levels=("low",)), 30, "high, negative have not passed"),
        # A second run that fails again keeps the hold, whatever passed before it.
        (run(0, run_id=1) + run(20, run_id=2, failed="negative"), 30, "negative: 1-3s"),
        ([], 10, "no QC has been run"),
        (run(0, run_id=1, levels=("low", "high")), 10, "no negative QC in the 24 h"),
    ],
    ids=["all-pass", "low-fails-high-passes-after", "last-level-fails", "later-full-run-clears",
         "result-between-runs", "rerun-of-failed-level-only", "second-run-fails", "no-qc", "level-missing"],
)
def test_qc_gate_table(points, result_s, held):
    reason = hold_reason(points, LEVELS, at(result_s), DAY)
    assert (reason is None) if held is None else (held in (reason or ""))


def test_qc_older_than_the_maximum_age_holds_the_result():
    assert "more than 24 h" in hold_reason(run(0, run_id=1), LEVELS, T0 + timedelta(hours=25), DAY)


def test_qc_measured_after_the_result_does_not_count_for_it():
    assert hold_reason(run(100, run_id=1), LEVELS, at(10), DAY).startswith("no QC has been run")


def test_without_targets_the_levels_seen_recently_must_all_pass_in_a_later_run():
    points = run(0, run_id=1, failed="low") + run(20, run_id=2, levels=("high",))
    assert "low, negative have not passed" in hold_reason(points, (), at(30), DAY)
    assert hold_reason(points + run(40, run_id=3, levels=("negative", "low")), (), at(50), DAY) is None


def test_levels_sent_one_message_each_still_need_the_failed_level_to_pass_again():
    # No run grouping from the analyser: later levels of the failed run count, the failed level itself never does.
    points = [QcPoint(p.level, p.measured_at, p.passed, p.rules, p.sequence, run=None)
              for p in run(0, run_id=1, failed="negative")]
    assert "negative has not passed" in hold_reason(points, LEVELS, at(10), DAY)
