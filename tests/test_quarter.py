"""Ninety days with planted trouble: every referral ends visibly, no red flag is posted a kit (issue 13, Done-when 2).

Small numbers here; ``bench/bench_quarter.py`` runs 7,000 referrals a month.
"""

from __future__ import annotations

from datetime import date

import pytest

from fit_lab.demo.quarter import Trouble, simulate_quarter
from tests.api_support import make_settings

SETTINGS = make_settings(analyser_timezone="UTC")


@pytest.mark.slow
def test_ninety_days_of_trouble_leave_nobody_without_a_visible_ending(engine, tmp_path):
    # Trouble at rates high enough that a small quarter meets every kind of it.
    trouble = Trouble(no_replacement_share=0.3, silent_share=0.2, red_flag_share=0.05, unscanned_share=0.05,
                      rejected_share=0.1)
    report = simulate_quarter(engine, SETTINGS, tests_per_month=150, start=date(2026, 6, 1), trouble=trouble)
    report.write_csv(tmp_path / "pathways.csv")
    assert report.referrals > 400
    assert report.fell_through == [], report.fell_through[:20]
    assert report.red_flags > 0 and report.red_flag_kits == 0
    assert report.unscanned > 0 and report.alerts["unmatched_kit_in_post"] > 0  # not found: still alerting
    assert report.alerts["positive_not_acknowledged"] + report.alerts["no_result_not_acknowledged"] > 0
    assert report.list_states["seen"] > 0 and report.list_states["declined"] + report.list_states["not_suitable"] > 0
    assert report.endings["safety-net letter"] > 0 and report.endings["outcome"] > 0
    lines = (tmp_path / "pathways.csv").read_text().splitlines()
    assert len(lines) == report.referrals + 1 and lines[0] == "referral_id,path,ending,detail"
