"""One month's statistics for the cancer alliance: every table, with disclosure control, and the inequality watch.

``monthly_statistics`` reads the month (one query per table), works out every measure, publishes the tables
through disclosure control and runs the inequality watch. Nothing it returns holds a patient identifier.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import date, datetime

import pandas as pd
from sqlalchemy.engine import Engine

from fit_lab.stats import groups
from fit_lab.stats.definitions import DISCLOSURE_NOTE, MONTH_NOTE, Kind, Measure, catalogue, threshold_name
from fit_lab.stats.disclosure import DisclosureRules, Relation, publish
from fit_lab.stats.inequality import Flag, WatchRules, return_rate_flags, time_to_result_flags
from fit_lab.stats.load import StatsFrames, TrendFrames, load_month, load_trend, month_bounds, months_back
from fit_lab.stats.measures import MonthContext, Prepared, band_edge, prepare, raw_breakdown, valid_result
from fit_lab.stats.tables import TOTAL, Published, Table

REJECTION_TITLES = {
    "unlabelled": "Unlabelled or label unreadable", "no_collection_date": "No collection date",
    "invalid_collection_date": "Impossible collection date", "label_mismatch": "Label does not match the request",
    "leaked_damaged": "Leaked or damaged", "insufficient_sample": "Insufficient sample",
    "excess_sample": "Overfilled", "too_old": "Too old", "wrong_device": "Wrong device", "other": "Other",
}
TREND_COLUMNS = ("referrals", "kits_dispatched", "kits_returned", "tests_analysed", "results_valid")


@dataclass(frozen=True)
class StatsConfig:
    """Local choices: return windows (days), f-Hb thresholds with each policy band's edge, disclosure, watch."""

    windows: tuple[int, ...]
    edges: tuple[float, ...]
    band_edges: dict[tuple[str, str], float]
    disclosure: DisclosureRules = field(default_factory=DisclosureRules)
    watch: WatchRules = field(default_factory=WatchRules)
    trend_months: int = 12


@dataclass(frozen=True)
class MonthlyStats:
    month: date
    as_of: datetime
    tables: dict[str, Published]
    flags: list[Flag]
    measures: tuple[Measure, ...]
    notes: tuple[str, ...]

    @property
    def month_label(self) -> str:
        return f"{self.month:%Y-%m}"


def _practice_pcn(frames: StatsFrames) -> pd.Series:
    pairs = pd.concat([f[["by_practice", "by_pcn"]] for f in (frames.referrals, frames.kits, frames.results,
                                                               frames.outcomes)])
    return pairs.drop_duplicates("by_practice").set_index("by_practice")["by_pcn"]


def _breakdowns(prepared: Prepared, measures: tuple[Measure, ...]) -> dict[str, Table]:
    frames = prepared.frames
    tables = {}
    for name, (title, _, order) in groups.BREAKDOWNS.items():
        raw = raw_breakdown(prepared, measures, name, order)
        labels = {"pcn": ("Primary care network", _practice_pcn(frames))} if name == "by_practice" else {}
        tables[name] = Table(name, f"By {title.lower()}", title, raw, measures, labels=labels)
    tables["summary"] = Table("summary", "The month at a glance", "", raw_breakdown(prepared, measures, None, None),
                              measures, has_total=False)
    return tables


def _count(column: str, title: str, definition: str) -> Measure:
    return Measure(column, title, Kind.COUNT, definition)


def _rejections(frames: StatsFrames, ctx: MonthContext) -> Table:
    k = frames.kits
    rejected = k[(k["rejected_at"] >= ctx.start) & (k["rejected_at"] < ctx.end)]
    counts = rejected["reject_reason"].value_counts()
    frame = pd.DataFrame({"kits_rejected": [int(counts.get(code, 0)) for code in REJECTION_TITLES]},
                         index=list(REJECTION_TITLES.values()))
    frame.loc[TOTAL] = [len(rejected)]
    measure = _count("kits_rejected", "Kits rejected", "kits rejected at reception in the month, by reason")
    return Table("rejections", "Kits rejected at reception, by reason", "Reason", frame, (measure,))


def _band_rows(edges: tuple[float, ...]) -> list[tuple[str, float, float | None]]:
    bounds = [0.0, *edges]
    rows = []
    for i, low in enumerate(bounds):
        high = bounds[i + 1] if i + 1 < len(bounds) else None
        label = f"Below {high:g} µg/g" if low == 0 else (
            f"{low:g} to below {high:g} µg/g" if high is not None else f"{low:g} µg/g and above")
        rows.append((label, low, high))
    return rows


def _results_by_band(frames: StatsFrames, ctx: MonthContext) -> Table:
    o = frames.outcomes
    valid, edge = valid_result(o), band_edge(o, ctx)
    values = []
    labels = []
    for label, low, high in _band_rows(ctx.edges):
        inside = valid & (edge >= low) & (edge < high if high is not None else True)
        labels.append(label)
        values.append(int(inside.sum()))
    labels.append("Indeterminate or no valid result")
    values.append(int((~valid).sum()))
    frame = pd.DataFrame({"outcomes": values}, index=labels)
    frame.loc[TOTAL] = [len(o)]
    measure = _count("outcomes", "Outcomes", "current triage outcomes decided in the month, by the band of the "
                                             "f-Hb result under the policy that decided them")
    return Table("results_by_band", "Results by f-Hb band", "Band", frame, (measure,))


FHB_BINS = (0, 2, 4, 10, 20, 50, 100, 200, 400)


def _fhb_distribution(frames: StatsFrames) -> Table:
    o = frames.outcomes
    value, comparator = o["fhb_ug_per_g"], o["comparator"]
    rows: list[tuple[str, int]] = [("Below the measuring range (<)", int((comparator == "<").sum()))]
    exact = value[(comparator == "=") & value.notna()]
    for i, low in enumerate(FHB_BINS):
        high = FHB_BINS[i + 1] if i + 1 < len(FHB_BINS) else None
        inside = (exact >= low) & (exact < high) if high is not None else exact >= low
        label = f"{low:g} to below {high:g}" if high is not None else f"{low:g} and above"
        rows.append((label, int(inside.sum())))
    rows.append(("Above the measuring range (>)", int((comparator == ">").sum())))
    frame = pd.DataFrame({"results": [n for _, n in rows]}, index=[label for label, _ in rows])
    frame.loc[TOTAL] = [int(frame["results"].sum())]
    measure = _count("results", "Results", "current outcomes decided in the month with an f-Hb value, by value "
                                           "(µg Hb/g faeces; censored values in their own rows)")
    return Table("fhb_distribution", "Distribution of f-Hb (µg Hb/g)", "f-Hb (µg/g)", frame, (measure,))


def _colonoscopy(prepared: Prepared, measures: tuple[Measure, ...]) -> Table:
    listed, days = prepared.intervals["referral_to_listed"]
    key = listed["priority_key"].fillna("none")
    grouped = days.groupby(key)
    frame = pd.DataFrame({"referred": key.value_counts(), "referral_to_listed_n": grouped.count(),
                          "referral_to_listed_median_days": grouped.median(),
                          "referral_to_listed_p90_days": grouped.quantile(0.9)}).sort_index()
    frame.loc[TOTAL] = [len(listed), days.count(), days.median() if len(days) else float("nan"),
                        days.quantile(0.9) if len(days) else float("nan")]
    frame = frame.fillna({"referred": 0, "referral_to_listed_n": 0})
    chosen = tuple(m for m in measures if m.column in frame.columns)
    frame = frame[[m.column for m in chosen]]
    return Table("colonoscopy", "Colonoscopy list: patients referred in the month, by priority", "Priority",
                 frame, chosen)


def _trend(trend: TrendFrames, ctx: MonthContext, month: date, months: int,
           measures: tuple[Measure, ...]) -> Table:
    labels = [f"{months_back(month, back):%Y-%m}" for back in range(months - 1, -1, -1)]
    frame = trend.counts.reindex(labels).fillna(0).astype(int)
    o = trend.outcomes
    valid = valid_result(o)
    frame["results_valid"] = o[valid].groupby("month")["n"].sum()
    edge = band_edge(o, ctx)
    for threshold in ctx.edges:
        frame[f"positive_ge_{threshold_name(threshold)}"] = o[valid & (edge >= threshold)].groupby("month")["n"].sum()
    chosen = tuple(m for m in measures if m.column in (*TREND_COLUMNS, *(f"positive_ge_{threshold_name(e)}"
                                                                         for e in ctx.edges), *(
        f"positivity_ge_{threshold_name(e)}" for e in ctx.edges)))
    for m in chosen:
        if m.kind is Kind.COUNT:
            frame[m.column] = pd.to_numeric(frame[m.column]).fillna(0).astype(int)
    for m in chosen:
        if m.kind is Kind.RATE:
            den = frame[m.denominator]
            frame[m.column] = 100.0 * frame[m.numerator] / den.where(den > 0)
    return Table("trend", f"The {months} months to {month:%B %Y}", "Month", frame[[m.column for m in chosen]],
                 chosen, has_total=False)


def _links(tables: dict[str, Table], month: date) -> list[Relation]:
    """Sums across tables: a PCN's practices; each Total row and the trend's month equal the summary's figures."""
    relations: list[Relation] = []
    practice = tables["by_practice"]
    pcn_of = practice.labels["pcn"][1]
    counts = [m.column for m in practice.measures if m.kind is Kind.COUNT]
    for pcn, members in pcn_of.groupby(pcn_of):
        rows = [str(p) for p in members.index if p in practice.frame.index]
        for column in counts:
            relations.append((("by_pcn", str(pcn), column), [("by_practice", r, column) for r in rows]))
    summary = tables["summary"]
    for name, table in tables.items():
        row = f"{month:%Y-%m}" if name == "trend" else TOTAL
        if name == "summary" or row not in table.frame.index:
            continue
        for m in table.measures:
            if m.kind is Kind.COUNT and m.column in summary.frame.columns:
                relations.append((("summary", TOTAL, m.column), [(name, row, m.column)]))
    return relations


def _flags(prepared: Prepared, ctx: MonthContext, raw: dict[str, Table], watch: WatchRules) -> list[Flag]:
    flags: list[Flag] = []
    rows, times = prepared.intervals["referral_to_result"]
    for name, unknown in groups.WATCHED.items():
        title = groups.BREAKDOWNS[name][0]
        frame = raw[name].frame
        watched = [str(g) for g in frame.index if g not in (TOTAL, unknown)]
        for days in ctx.windows:
            flags += return_rate_flags(title, frame, watched, days, watch)
        flags += time_to_result_flags(title, times, rows[name], watched, watch)
    return flags


def monthly_statistics(engine: Engine, month: date, config: StatsConfig, *, as_of: datetime) -> MonthlyStats:
    """Every alliance table for ``month`` as it may be published, and the month's inequality flags."""
    start, end = month_bounds(month)
    ctx = MonthContext(start, end, as_of, config.windows, config.edges, config.band_edges)
    # The trend's counts are the database's work: they run while this thread reads and prepares the month.
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="stats-trend") as pool:
        trend = pool.submit(load_trend, engine, month, config.trend_months)
        measures, prepared, tables = _month_tables(engine, month, config, ctx)
        tables["trend"] = _trend(trend.result(), ctx, month, config.trend_months, measures)
    order = ("summary", "trend", *groups.BREAKDOWNS, "rejections", "results_by_band", "fhb_distribution",
             "colonoscopy")
    tables = {name: tables[name] for name in order}
    published = publish(tables, _links(tables, month), config.disclosure)
    notes = (MONTH_NOTE, DISCLOSURE_NOTE.format(max_small=config.disclosure.max_small,
                                                round_to=config.disclosure.round_to),
             f"Figures as of {as_of:%Y-%m-%d %H:%M} UTC; return rates count only kits whose window has passed.")
    return MonthlyStats(month, as_of, published, _flags(prepared, ctx, tables, config.watch), measures, notes)


def _month_tables(engine: Engine, month: date, config: StatsConfig,
                  ctx: MonthContext) -> tuple[tuple[Measure, ...], Prepared, dict[str, Table]]:
    frames = load_month(engine, month)
    measures = catalogue(config.windows, config.edges)
    prepared = prepare(frames, ctx)
    tables = _breakdowns(prepared, measures)
    tables["rejections"] = _rejections(frames, ctx)
    tables["results_by_band"] = _results_by_band(frames, ctx)
    tables["fhb_distribution"] = _fhb_distribution(frames)
    tables["colonoscopy"] = _colonoscopy(prepared, measures)
    return measures, prepared, tables
