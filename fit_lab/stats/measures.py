"""The measures, worked out from one month's rows: pure pandas, no database and no disclosure control yet.

``raw_breakdown`` gives one row per group (and a ``Total`` row for everyone) with every measure of
``definitions.catalogue`` as an unrounded number; ``disclosure`` then decides what may be published.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

import numpy as np
import pandas as pd

from fit_lab.stats.definitions import Kind, Measure, threshold_name
from fit_lab.stats.load import StatsFrames
from fit_lab.stats.tables import TOTAL

RESERVED_BANDS = ("indeterminate", "no_valid_result")
ANY_VERSION = "*"  # band_edges key for a band name whatever the policy version
_DAY_S = 86_400.0


@dataclass(frozen=True)
class MonthContext:
    """What the measures need besides the rows: the month, the day they are worked out, and local settings."""

    start: datetime
    end: datetime
    as_of: datetime
    windows: tuple[int, ...]
    edges: tuple[float, ...]
    band_edges: dict[tuple[str, str], float]  # (policy version or ANY_VERSION, band name) → band's lower edge


def _key(frame: pd.DataFrame, by: str | None) -> pd.Series:
    return frame[by] if by else pd.Series(TOTAL, index=frame.index, dtype=object)


def _within(series: pd.Series, ctx: MonthContext) -> pd.Series:
    return (series >= ctx.start) & (series < ctx.end)


def _days(later: pd.Series, earlier: pd.Series) -> pd.Series:
    return (later - earlier).dt.total_seconds() / _DAY_S


def band_edge(outcomes: pd.DataFrame, ctx: MonthContext) -> pd.Series:
    """Each outcome's band's lower f-Hb edge under the policy version that decided it (NaN if none)."""
    if outcomes.empty:
        return pd.Series(dtype=float, index=outcomes.index)
    pairs = outcomes[["policy_version", "band"]].drop_duplicates()
    edge_of = {(v, b): ctx.band_edges.get((v, b), ctx.band_edges.get((ANY_VERSION, b), np.nan))
               for v, b in pairs.itertuples(index=False)}
    keys = pd.MultiIndex.from_frame(outcomes[["policy_version", "band"]])
    return pd.Series(pd.Series(edge_of, dtype=float).reindex(keys).to_numpy(), index=outcomes.index, dtype=float)


def valid_result(outcomes: pd.DataFrame) -> pd.Series:
    return outcomes["action"].isin(["reassure", "refer"]) & ~outcomes["band"].isin(RESERVED_BANDS)


@dataclass(frozen=True)
class Prepared:
    """A month's rows made ready once for every breakdown: a 0/1 column per count, and each turnaround's days."""

    frames: StatsFrames
    referral_flags: pd.DataFrame
    kit_flags: pd.DataFrame
    outcome_flags: pd.DataFrame
    intervals: dict[str, tuple[pd.DataFrame, pd.Series]]


def prepare(frames: StatsFrames, ctx: MonthContext) -> Prepared:
    k, o = frames.kits, frames.outcomes
    posted = _within(k["dispatched_at"], ctx)
    kit_flags = {"kits_dispatched": posted, "kits_returned": _within(k["received_at"], ctx),
                 "kits_rejected": _within(k["rejected_at"], ctx),
                 "kits_not_returned": _within(k["not_returned_at"], ctx),
                 "tests_analysed": _within(k["analysed_at"], ctx)}
    back_after = _days(k["received_at"], k["dispatched_at"])
    for days in ctx.windows:
        cohort = posted & (k["dispatched_at"] + timedelta(days=days) <= ctx.as_of)
        kit_flags[f"cohort_{days}d"] = cohort
        kit_flags[f"returned_{days}d"] = cohort & (back_after <= days)
    valid, edge = valid_result(o), band_edge(o, ctx)
    outcome_flags = {"results_valid": valid, "no_valid_result": o["action"] == "repeat",
                     "referred": o["action"] == "refer"}
    for threshold in ctx.edges:
        outcome_flags[f"positive_ge_{threshold_name(threshold)}"] = valid & (edge >= threshold)
    return Prepared(frames, pd.DataFrame({"referrals": np.ones(len(frames.referrals), dtype=int)},
                                         index=frames.referrals.index),
                    pd.DataFrame(kit_flags).astype(int), pd.DataFrame(outcome_flags).astype(int),
                    interval_days(frames, ctx))


def interval_days(frames: StatsFrames, ctx: MonthContext) -> dict[str, tuple[pd.DataFrame, pd.Series]]:
    """Each turnaround: (the rows it is measured on, their times in days)."""
    k, res, o = frames.kits, frames.results, frames.outcomes
    first_posted = k[_within(k["dispatched_at"], ctx) & k["replaces_kit_id"].isna()]
    returned = k[_within(k["received_at"], ctx) & k["dispatched_at"].notna()]
    lettered = o[o["letter_at"].notna() & o["released_at"].notna()]
    listed = o[o["action"] == "refer"]
    return {
        "referral_to_dispatch": (first_posted, _days(first_posted["dispatched_at"],
                                                     first_posted["referral_received_at"])),
        "dispatch_to_receipt": (returned, _days(returned["received_at"], returned["dispatched_at"])),
        "receipt_to_result": (res, _days(res["released_at"], res["kit_received_at"])),
        "result_to_letter": (lettered, _days(lettered["letter_at"], lettered["released_at"])),
        "referral_to_result": (res, _days(res["released_at"], res["referral_received_at"])),
        "referral_to_listed": (listed, _days(listed["created_at"], listed["referral_date"].dt.tz_localize("UTC"))),
    }


def _columns(prepared: Prepared, by: str | None) -> pd.DataFrame:
    f = prepared.frames
    parts = [prepared.referral_flags.groupby(_key(f.referrals, by)).sum(),
             prepared.kit_flags.groupby(_key(f.kits, by)).sum(),
             prepared.outcome_flags.groupby(_key(f.outcomes, by)).sum()]
    for name, (rows, days) in prepared.intervals.items():
        grouped = days.groupby(_key(rows, by))
        parts.append(pd.DataFrame({f"{name}_n": grouped.count(), f"{name}_median_days": grouped.median(),
                                   f"{name}_p90_days": grouped.quantile(0.9)}))
    return pd.concat(parts, axis=1)


def raw_breakdown(prepared: Prepared, measures: tuple[Measure, ...], by: str | None,
                  order: tuple[str, ...] | None) -> pd.DataFrame:
    """One row per group of ``by`` (in ``order``, or sorted), then the ``Total`` row; unrounded values."""
    frame = _columns(prepared, by)
    if by is not None:
        groups = list(order) if order else sorted(str(g) for g in frame.index)
        frame = frame.reindex([g for g in groups if g in frame.index or order is not None])
        frame = pd.concat([frame, raw_breakdown(prepared, measures, None, None)])
    else:
        frame = frame.reindex([TOTAL])
    for measure in measures:
        if measure.kind is Kind.COUNT:
            frame[measure.column] = frame.get(measure.column, pd.Series(dtype=float)).fillna(0).astype(int)
        elif measure.kind is Kind.RATE:
            num, den = frame[measure.numerator], frame[measure.denominator]
            frame[measure.column] = (100.0 * num / den.where(den > 0)).astype(float)
    frame.index.name = "group"
    return frame[[m.column for m in measures]]
