"""Done-when 1 of the statistics issue: every measure of a planted month whose answers are known by construction.

Each cohort is a multiple of 5 and at least 10 patients, so disclosure control (counts of 1-7 suppressed, others
rounded to 5) leaves every planted figure as it is and the published value is the answer worked out by hand below.
Month: September 2026, worked out on 15 November 2026 (every return window has closed).
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest

from fit_lab.clock import fixed_clock
from fit_lab.principal import Principal
from fit_lab.services import stats
from tests.api_support import make_settings
from tests.stats_support import Cohort, Planter

SEPT = date(2026, 9, 1)
AS_OF = datetime(2026, 11, 15, 12, tzinfo=UTC)
REFERRED = datetime(2026, 9, 3, 9, tzinfo=UTC)  # posted 25 h later, on 4 September 10:00
ALLIANCE = Principal("alliance-1", "alliance")
SETTINGS = make_settings()


@pytest.fixture
def planted(engine):
    planter = Planter(engine, {"Y00001": "U00001", "Y00002": "U00001", "Y00003": "U00002"})
    cohorts = {
        # 20 White women, IMD decile 1, 65: back in 5 days, negative (4 µg/g).
        "s1": Cohort(20, "Y00001", REFERRED, imd_decile=1, age=65, back_after_post=timedelta(days=5)),
        # 10 Asian men, decile 9, 45: back in 9 days, positive 50 µg/g (priority P3).
        "s2": Cohort(10, "Y00001", REFERRED, sex="M", ethnicity="H", imd_decile=9, age=45,
                     back_after_post=timedelta(days=9), band="positive", fhb=50),
        # 10 Black women, decile 5, 75: never returned (closed in October, so not in September's count).
        "s3": Cohort(10, "Y00002", REFERRED, ethnicity="N", imd_decile=5, age=75),
        # 10 White men referred in August, decile 3, 55: closed as not returned on 8 September.
        "s4": Cohort(10, "Y00002", datetime(2026, 8, 10, 9, tzinfo=UTC), sex="M", imd_decile=3, age=55,
                     not_returned_after_post=timedelta(days=28)),
        # 10 women of unstated ethnicity, deprivation unknown, 85: leaked (day 3), replacement posted 2 days later,
        # back 5 days after that, 150 µg/g (priority P2).
        "s5": Cohort(10, "Y00003", REFERRED, ethnicity="Z", imd_decile=None, age=85,
                     back_after_post=timedelta(days=3), rejected="leaked_damaged",
                     replacement_back_after=timedelta(days=5), band="high", fhb=150),
        # 15 White men, decile 10, 30: back after 20 days, "<4" (censored, negative).
        "s6": Cohort(15, "Y00003", REFERRED, sex="M", imd_decile=10, age=30, back_after_post=timedelta(days=20),
                     comparator="<", fhb=4),
    }
    for cohort in cohorts.values():
        planter.plant(cohort)
    return stats.monthly(engine, SEPT, actor=ALLIANCE, settings=SETTINGS, clock=fixed_clock(AS_OF))


def row(table, group="Total"):
    found = [r for r in table.rows if r[0] == group]
    assert len(found) == 1, f"{table.name}: no single row {group!r}"
    return dict(zip(table.columns, found[0], strict=True))


EXPECTED_TOTAL = {
    "referrals": 65,  # s1 20 + s2 10 + s3 10 + s5 10 + s6 15 (s4 came in August)
    "kits_dispatched": 75,  # the 65 first kits and s5's 10 replacements
    "kits_returned": 65,  # s1 20, s2 10, s5 10 + 10 replacements, s6 15
    "kits_rejected": 10,
    "kits_not_returned": 10,  # s4
    "tests_analysed": 55,  # s1, s2, s5's replacements, s6
    "results_valid": 55,
    "no_valid_result": 0,
    "referred": 20,  # s2 and s5
    "positive_ge_10": 20, "positive_ge_100": 10, "positive_ge_400": 0,
    "cohort_14d": 75, "returned_14d": 50,  # all but s3 (never) and s6 (20 days)
    "cohort_28d": 75, "returned_28d": 65,
    "return_rate_14d": 66.7, "return_rate_28d": 86.7,  # 50/75, 65/75
    "rejection_rate": 15.4,  # 10/65
    "positivity_ge_10": 36.4, "positivity_ge_100": 18.2, "positivity_ge_400": 0.0,  # 20/55, 10/55, 0/55
    "referral_to_dispatch_n": 65, "referral_to_dispatch_median_days": 1.0, "referral_to_dispatch_p90_days": 1.0,
    # 65 returns: 10 after 3 days, 30 after 5, 10 after 9, 15 after 20 → median 5, 90th percentile 20.
    "dispatch_to_receipt_n": 65, "dispatch_to_receipt_median_days": 5.0, "dispatch_to_receipt_p90_days": 20.0,
    "receipt_to_result_n": 55, "receipt_to_result_median_days": 1.1, "receipt_to_result_p90_days": 1.1,  # 26 h
    "result_to_letter_n": 55, "result_to_letter_median_days": 0.0, "result_to_letter_p90_days": 0.0,
    # referral → result: s1 7.1 d (20), s2 11.1 (10), s5 12.1 (10), s6 22.1 (15).
    "referral_to_result_n": 55, "referral_to_result_median_days": 11.1, "referral_to_result_p90_days": 22.1,
    # referral date (3 Sept 00:00) → listed: s2 on 14 Sept 12:00 (11.5 d), s5 on 15 Sept 12:00 (12.5 d).
    "referral_to_listed_n": 20, "referral_to_listed_median_days": 12.0, "referral_to_listed_p90_days": 12.5,
}


def test_every_measure_of_the_month_is_the_planted_answer(planted):
    assert {k: v for k, v in row(planted.tables["summary"]).items() if k != "group"} == EXPECTED_TOTAL
    for name in ("by_practice", "by_pcn", "by_age_band", "by_sex", "by_ethnic_group", "by_imd_quintile"):
        assert row(planted.tables[name]) == {"group": "Total", **({"pcn": ""} if name == "by_practice" else {}),
                                             **EXPECTED_TOTAL}, name


def test_breakdowns_put_each_cohort_in_its_groups(planted):
    imd = planted.tables["by_imd_quintile"]
    assert row(imd, "1 (most deprived)")["referrals"] == 20  # s1: decile 1
    assert row(imd, "2")["kits_not_returned"] == 10  # s4: decile 3
    assert row(imd, "3")["referrals"] == 10 and row(imd, "3")["return_rate_28d"] == 0.0  # s3 never returned
    assert row(imd, "5 (least deprived)")["referrals"] == 25  # s2 (decile 9) and s6 (decile 10)
    assert row(imd, "Unknown")["kits_dispatched"] == 20 and row(imd, "Unknown")["rejection_rate"] == 50.0
    assert row(imd, "4")["referrals"] == 0  # every quintile is listed, even when empty
    ethnic = planted.tables["by_ethnic_group"]
    assert row(ethnic, "White")["referrals"] == 35
    assert row(ethnic, "Asian or Asian British")["positivity_ge_10"] == 100.0
    assert row(ethnic, "Black or Black British")["returned_28d"] == 0
    assert row(ethnic, "Not stated or not known")["positive_ge_100"] == 10
    sexes = planted.tables["by_sex"]
    assert (row(sexes, "Female")["referrals"], row(sexes, "Male")["referrals"]) == (40, 25)
    ages = planted.tables["by_age_band"]
    assert [row(ages, band)["referrals"] for band in ("18-39", "40-49", "50-59", "60-69", "70-79", "80+")] == [
        15, 10, 0, 20, 10, 10]
    practices = planted.tables["by_practice"]
    assert (row(practices, "Y00001")["referrals"], row(practices, "Y00001")["pcn"]) == (30, "U00001")
    assert row(practices, "Y00003")["dispatch_to_receipt_median_days"] == 5.0  # 10 × 3, 10 × 5, 15 × 20 days
    pcns = planted.tables["by_pcn"]
    assert (row(pcns, "U00001")["referrals"], row(pcns, "U00002")["referrals"]) == (40, 25)


def test_rejections_bands_distribution_and_colonoscopy_list(planted):
    assert row(planted.tables["rejections"], "Leaked or damaged")["kits_rejected"] == 10
    assert row(planted.tables["rejections"], "Too old")["kits_rejected"] == 0
    bands = planted.tables["results_by_band"]
    assert [r[1] for r in bands.rows] == [35, 10, 10, 0, 0, 55]
    assert [r[0] for r in bands.rows][:4] == ["Below 10 µg/g", "10 to below 100 µg/g", "100 to below 400 µg/g",
                                              "400 µg/g and above"]
    fhb = planted.tables["fhb_distribution"]
    assert row(fhb, "Below the measuring range (<)")["results"] == 15  # s6: "<4"
    assert row(fhb, "4 to below 10")["results"] == 20 and row(fhb, "50 to below 100")["results"] == 10
    assert row(fhb, "100 to below 200")["results"] == 10 and row(fhb, "Total")["results"] == 55
    colonoscopy = planted.tables["colonoscopy"]
    assert (row(colonoscopy, "P2")["referred"], row(colonoscopy, "P3")["referred"]) == (10, 10)
    assert row(colonoscopy, "P2")["referral_to_listed_median_days"] == 12.5


def test_the_trend_has_twelve_months_ending_with_the_month_and_agrees_with_it(planted):
    trend = planted.tables["trend"]
    assert [r[0] for r in trend.rows] == [f"{y}-{m:02d}" for y, m in [(2025, 10), (2025, 11), (2025, 12)] + [
        (2026, m) for m in range(1, 10)]]
    august, september = row(trend, "2026-08"), row(trend, "2026-09")
    assert (august["referrals"], august["kits_dispatched"]) == (10, 10)
    for column in ("referrals", "kits_dispatched", "kits_returned", "tests_analysed", "results_valid",
                   "positive_ge_10", "positivity_ge_10"):
        assert september[column] == EXPECTED_TOTAL[column], column


def test_return_rates_count_only_kits_whose_window_has_closed(engine):
    planter = Planter(engine, {"Y00001": "U00001"})
    planter.plant(Cohort(10, "Y00001", datetime(2026, 9, 1, 9, tzinfo=UTC), back_after_post=timedelta(days=2)))
    planter.plant(Cohort(10, "Y00001", datetime(2026, 9, 25, 9, tzinfo=UTC)))  # posted 26 Sept, still out
    early = stats.monthly(engine, SEPT, actor=ALLIANCE, settings=SETTINGS,
                          clock=fixed_clock(datetime(2026, 10, 12, tzinfo=UTC)))
    summary = row(early.tables["summary"])
    # On 12 October the 26 September kits are 16 days out: in the 14-day cohort, not yet in the 28-day one.
    assert (summary["cohort_14d"], summary["returned_14d"], summary["return_rate_14d"]) == (20, 10, 50.0)
    assert (summary["cohort_28d"], summary["return_rate_28d"]) == (10, 100.0)


def test_a_month_that_has_not_started_is_refused(engine):
    from fit_lab.errors import ValidationError

    with pytest.raises(ValidationError, match="month"):
        stats.monthly(engine, date(2026, 12, 1), actor=ALLIANCE, settings=SETTINGS, clock=fixed_clock(AS_OF))
