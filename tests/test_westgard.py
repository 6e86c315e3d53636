"""Westgard rules (domain brief §3: 1-3s, 2-2s, R-4s, 4-1s, 10x), table-driven."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from fit_lab.qc.westgard import QcTarget, evaluate


@pytest.mark.parametrize(
    ("z", "history", "run", "rules"),
    [
        (0.5, [], [], ()),
        (3.1, [], [], ("1-3s",)),
        (-3.1, [], [], ("1-3s",)),
        (3.0, [], [], ()),  # exactly 3 SD is not beyond 3 SD
        (2.5, [2.2], [], ("2-2s",)),
        (2.5, [-2.2], [], ()),
        (2.5, [], [2.1], ("2-2s",)),  # across levels in one run
        (2.5, [], [-2.5], ("R-4s",)),
        (1.5, [1.2, 1.1, 1.3], [], ("4-1s",)),
        (1.5, [1.2, -1.1, 1.3], [], ()),
        (0.4, [0.1] * 9, [], ("10x",)),
        (0.4, [0.1] * 8, [], ()),
    ],
    ids=["in-control", "1-3s-high", "1-3s-low", "exactly-3s", "2-2s-consecutive", "2-2s-opposite-sides",
         "2-2s-across-levels", "R-4s", "4-1s", "4-1s-broken", "10x", "only-9x"],
)
def test_westgard_rule_table(z, history, run, rules):
    assert evaluate(z, history, run).rules == rules


def test_a_single_value_beyond_2sd_is_only_a_warning():
    verdict = evaluate(2.4, [0.1], [])
    assert verdict.passed and verdict.warnings == ("1-2s",)


def test_z_score_uses_the_target():
    assert QcTarget(mean=20.0, sd=2.0).z(26.0) == 3.0


@given(st.floats(-2, 2), st.lists(st.floats(0.01, 2.0), max_size=12))
def test_values_within_2sd_after_a_history_alternating_sides_never_reject(z, sizes):
    alternating = [size if i % 2 else -size for i, size in enumerate(sizes)]
    assert evaluate(z, alternating, []).passed
