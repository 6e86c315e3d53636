"""Done-when 4 of the statistics issue: the inequality watch flags exclusion and not chance.

The domain brief (§4) reports non-return about 2.2 times higher in the most deprived quintile; the watch must make
such a gap visible at the top of the alliance's outputs, and must not cry wolf over a small group's noise.
"""

from __future__ import annotations

import io
from datetime import UTC, date, datetime, timedelta

import numpy as np
import openpyxl
import pandas as pd
import pytest

from fit_lab.principal import Principal
from fit_lab.services import stats
from fit_lab.stats.inequality import WatchRules, median_interval, time_to_result_flags, wilson_interval
from tests.api_support import make_settings
from tests.stats_support import Cohort, Planter

SEPT = date(2026, 9, 1)
REFERRED = datetime(2026, 9, 2, 9, tzinfo=UTC)
ALLIANCE = Principal("alliance-1", "alliance")
QUINTILE_DECILE = {"1 (most deprived)": 1, "2": 3, "3": 5, "4": 7, "5 (least deprived)": 9}


def plant_returns(planter: Planter, decile: int, kits: int, returned: int, ethnicity: str = "A") -> None:
    planter.plant(Cohort(returned, "Y00001", REFERRED, imd_decile=decile, ethnicity=ethnicity,
                         back_after_post=timedelta(days=6)))
    if kits > returned:
        planter.plant(Cohort(kits - returned, "Y00001", REFERRED, imd_decile=decile, ethnicity=ethnicity))


def watch(engine):
    return stats.monthly(engine, SEPT, actor=ALLIANCE, settings=make_settings())


def test_the_most_deprived_quintile_returning_15_points_fewer_kits_is_flagged(engine):
    planter = Planter(engine, {"Y00001": "U00001"})
    for quintile, decile in QUINTILE_DECILE.items():
        plant_returns(planter, decile, 160, 96 if quintile.startswith("1") else 120)  # 60% against 75%
    result = watch(engine)
    flagged = {(f.breakdown, f.group, f.measure) for f in result.flags}
    assert flagged == {("IMD quintile", "1 (most deprived)", "Return rate within 14 days (%)"),
                       ("IMD quintile", "1 (most deprived)", "Return rate within 28 days (%)")}
    flag = result.flags[0]
    assert (flag.group_value, flag.population_value, flag.difference) == (60.0, 72.0, 12.0)
    assert flag.interval[1] < flag.population_value and "1 (most deprived)" in flag.message


def test_equal_rates_and_small_groups_that_differ_by_chance_are_not_flagged(engine):
    planter = Planter(engine, {"Y00001": "U00001"})
    for decile in QUINTILE_DECILE.values():
        plant_returns(planter, decile, 120, 90)  # 75% everywhere
    plant_returns(planter, 5, 12, 7, ethnicity="M")  # Black Caribbean: 58%, but only 12 kits
    plant_returns(planter, 5, 10, 6, ethnicity="R")  # Chinese: 60% of 10
    plant_returns(planter, 9, 200, 143, ethnicity="H")  # Indian: 71.5%, inside the 5-point margin
    result = watch(engine)
    assert result.flags == []


def test_a_large_gap_in_a_small_group_waits_for_the_evidence(engine):
    planter = Planter(engine, {"Y00001": "U00001"})
    for decile in QUINTILE_DECILE.values():
        plant_returns(planter, decile, 100, 80)
    plant_returns(planter, 5, 9, 5, ethnicity="N")  # 56% against 79%: the interval still reaches 79%
    assert watch(engine).flags == []


def test_the_flags_are_at_the_top_of_the_workbook_and_of_the_page(engine):
    planter = Planter(engine, {"Y00001": "U00001"})
    for quintile, decile in QUINTILE_DECILE.items():
        plant_returns(planter, decile, 100, 55 if quintile.startswith("1") else 80)
    made = stats.as_file(watch(engine), "xlsx", make_settings())
    book = openpyxl.load_workbook(io.BytesIO(made.content))
    first = book.worksheets[0]
    assert first.title == "Inequality watch"
    messages = [row[9] for row in first.iter_rows(min_row=6, values_only=True) if row[9]]
    assert messages and all("1 (most deprived)" in m for m in messages)


@pytest.mark.parametrize(("successes", "total", "low", "high"), [(96, 160, 52.3, 67.2), (0, 10, 0.0, 27.8),
                                                                 (10, 10, 72.2, 100.0)])
def test_wilson_interval_matches_published_values(successes, total, low, high):
    # Reference values: Newcombe (1998) method 3, as given by R's binom::binom.wilson / statsmodels.
    found = wilson_interval(successes, total)
    assert found == pytest.approx((low, high), abs=0.1)


def test_median_interval_brackets_the_median():
    values = np.arange(1, 101, dtype=float)
    low, high = median_interval(values)
    assert low < np.median(values) < high and (low, high) == (41.0, 61.0)


def test_a_group_waiting_days_longer_for_its_result_is_flagged_and_one_with_noise_is_not():
    rng = np.random.default_rng(3)
    everyone = rng.normal(10, 2, 900)
    slow = rng.normal(16, 2, 100)  # six days longer
    noisy = np.array([14.0, 9.0, 20.0, 8.0, 11.0, 15.0, 9.5, 18.0, 7.0])  # small and spread out
    times = pd.Series(np.concatenate([everyone, slow, noisy]))
    groups = pd.Series(["White"] * 900 + ["Asian or Asian British"] * 100 + ["Mixed"] * 9)
    flags = time_to_result_flags("Ethnic group", times, groups, ["White", "Asian or Asian British", "Mixed"],
                                 WatchRules(margin_days=3.0))
    assert [(f.group, f.unit) for f in flags] == [("Asian or Asian British", "days")]
