"""The inequality watch: groups whose kit return or time to result is worse than everyone's.

A group is flagged when its return rate is more than ``margin_pp`` percentage points below the whole
population's *and* the top of its 95% Wilson interval is still below the population's rate; or when its median
time from referral to result is more than ``margin_days`` longer *and* the bottom of the 95% interval of its
median (order statistics) is still longer than the population's median. The interval keeps small groups that
differ by chance from being flagged; the margin keeps large groups with trivial differences from being flagged.
Groups whose ethnicity or deprivation is unknown are shown in the tables but not compared.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import pandas as pd

Z_95 = 1.959963984540054


@dataclass(frozen=True)
class WatchRules:
    margin_pp: float = 5.0
    margin_days: float = 3.0
    min_group: int = 8  # below this a group is never compared (its counts are suppressed anyway)


@dataclass(frozen=True)
class Flag:
    breakdown: str  # e.g. "IMD quintile"
    group: str
    measure: str  # e.g. "Return rate within 28 days (%)"
    group_value: float
    population_value: float
    difference: float  # how much worse, in the measure's unit
    interval: tuple[float, float]  # the group's 95% interval
    unit: str  # "percentage points" | "days"
    message: str

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def wilson_interval(successes: int, total: int) -> tuple[float, float]:
    """95% Wilson score interval for a proportion, as percentages."""
    if total <= 0:
        return (math.nan, math.nan)
    p = successes / total
    centre = (p + Z_95 ** 2 / (2 * total)) / (1 + Z_95 ** 2 / total)
    half = Z_95 * math.sqrt(p * (1 - p) / total + Z_95 ** 2 / (4 * total ** 2)) / (1 + Z_95 ** 2 / total)
    return (100 * max(0.0, centre - half), 100 * min(1.0, centre + half))


def median_interval(values: np.ndarray) -> tuple[float, float]:
    """Distribution-free 95% interval for a median: the order statistics either side of n/2 ± 1.96·√n/2."""
    ordered = np.sort(values)
    n = len(ordered)
    if n == 0:
        return (math.nan, math.nan)
    half = Z_95 * math.sqrt(n) / 2
    low, high = max(0, math.floor(n / 2 - half)), min(n - 1, math.ceil(n / 2 + half))
    return (float(ordered[low]), float(ordered[high]))


def return_rate_flags(breakdown: str, raw: pd.DataFrame, watched: list[str], days: int,
                      rules: WatchRules) -> list[Flag]:
    """Flags on the return rate within ``days`` of posting; ``raw`` is the unrounded breakdown with its Total."""
    cohort, returned = f"cohort_{days}d", f"returned_{days}d"
    everyone = raw.loc["Total"]
    if everyone[cohort] == 0:
        return []
    population = float(100.0 * everyone[returned] / everyone[cohort])
    flags = []
    for group in watched:
        n, k = int(raw.at[group, cohort]), int(raw.at[group, returned])
        if n < rules.min_group:
            continue
        rate = 100.0 * k / n
        low, high = wilson_interval(k, n)
        if population - rate > rules.margin_pp and high < population:
            measure = f"Return rate within {days} days (%)"
            flags.append(Flag(breakdown, group, measure, round(rate, 1), round(population, 1),
                              round(population - rate, 1), (round(low, 1), round(high, 1)), "percentage points",
                              f"{breakdown} {group}: {rate:.1f}% of kits returned within {days} days against "
                              f"{population:.1f}% for everyone ({population - rate:.1f} points lower; 95% "
                              f"interval {low:.1f}-{high:.1f}%)."))
    return flags


def time_to_result_flags(breakdown: str, times: pd.Series, groups: pd.Series, watched: list[str],
                         rules: WatchRules) -> list[Flag]:
    """Flags on the median days from referral to result; ``times`` per result, ``groups`` its group."""
    if times.empty:
        return []
    population = float(times.median())
    flags = []
    for group in watched:
        mine = times[groups == group].to_numpy(dtype=float)
        if len(mine) < rules.min_group:
            continue
        median = float(np.median(mine))
        low, high = median_interval(mine)
        if median - population > rules.margin_days and low > population:
            flags.append(Flag(breakdown, group, "Referral to result: median (days)", round(median, 1),
                              round(population, 1), round(median - population, 1), (round(low, 1), round(high, 1)),
                              "days",
                              f"{breakdown} {group}: median {median:.1f} days from referral to result against "
                              f"{population:.1f} for everyone ({median - population:.1f} days longer; 95% interval "
                              f"{low:.1f}-{high:.1f})."))
    return flags
