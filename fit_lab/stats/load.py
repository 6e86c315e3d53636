"""Read what the monthly statistics need: one query per table, straight into pandas.

Each event (a referral received, a kit dispatched / returned / rejected / closed / analysed, a result released, an
outcome decided) is selected by the month it happened in, through an index on its time, with the group
attributes of its patient joined in. No patient identifier (NHS number, name, address, postcode) is ever read;
the date of birth is read to work out the age band and dropped in ``groups.attach_groups``.
Times are UTC: a month is ``[first day 00:00 UTC, first day of next month 00:00 UTC)``.
"""

from __future__ import annotations

import re
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, date, datetime

import pandas as pd
from sqlalchemy import text
from sqlalchemy.engine import Connection, Engine

from fit_lab.db.engine import read_only
from fit_lab.stats.groups import attach_groups


@dataclass(frozen=True)
class StatsFrames:
    """The rows behind one month's statistics (each already carrying its patient's groups)."""

    referrals: pd.DataFrame
    kits: pd.DataFrame
    results: pd.DataFrame
    outcomes: pd.DataFrame


@dataclass(frozen=True)
class TrendFrames:
    """Counts per month (``YYYY-MM``) for the 12-month trend, counted by the database."""

    counts: pd.DataFrame  # index month; referrals, kits_dispatched, kits_returned, tests_analysed
    outcomes: pd.DataFrame  # month, policy_version, band, action, n


# @ts(column) and @day(column) are read as numbers (seconds / days since 1970, see _numeric_times): building a
# Python datetime per value is most of the cost of reading a month at national volume.
_ATTRS = """p.sex, @day(p.date_of_birth) AS date_of_birth, p.ethnicity_code, p.imd_decile, pr.ods_code AS practice,
       pr.pcn_code AS pcn, @day(r.referral_date) AS referral_date, @ts(r.received_at) AS referral_received_at"""
_JOIN_PATIENT = """JOIN patient p ON p.id = r.patient_id JOIN practice pr ON pr.id = r.practice_id"""

_REFERRALS = """
SELECT r.id AS referral_id, {attrs}
FROM referral r {join}
WHERE r.received_at >= :start AND r.received_at < :end
"""
_KITS = """
SELECT k.id AS kit_id, k.referral_id, k.replaces_kit_id, @ts(k.dispatched_at) AS dispatched_at,
       @ts(k.received_at) AS received_at, @ts(k.rejected_at) AS rejected_at, k.reject_reason,
       @ts(k.not_returned_at) AS not_returned_at, @ts(k.analysed_at) AS analysed_at, {attrs}
FROM kit k JOIN referral r ON r.id = k.referral_id {join}
WHERE (k.dispatched_at >= :start AND k.dispatched_at < :end)
   OR (k.received_at >= :start AND k.received_at < :end)
   OR (k.rejected_at >= :start AND k.rejected_at < :end)
   OR (k.not_returned_at >= :start AND k.not_returned_at < :end)
   OR (k.analysed_at >= :start AND k.analysed_at < :end)
"""
# The first release of each tested kit; an amendment is a correction of it, not another test.
_RESULTS = """
SELECT res.id AS result_id, res.kit_id, @ts(res.released_at) AS released_at, @ts(k.received_at) AS kit_received_at,
       {attrs}
FROM result res JOIN kit k ON k.id = res.kit_id JOIN referral r ON r.id = k.referral_id {join}
WHERE res.released_at >= :start AND res.released_at < :end AND res.amends_result_id IS NULL
"""
# Current outcomes decided in the month: an amended result counts as amended, in the month of the amendment.
_OUTCOMES = """
SELECT o.id AS outcome_id, o.action, o.band, o.priority_key, o.policy_version, @ts(o.created_at) AS created_at,
       @ts(res.released_at) AS released_at,
       (SELECT @ts(MIN(l.created_at)) FROM letter l WHERE l.outcome_id = o.id) AS letter_at,
       res.comparator, res.fhb_ug_per_g, {attrs}
FROM triage_outcome o JOIN referral r ON r.id = o.referral_id {join}
LEFT JOIN result res ON res.id = o.result_id
WHERE o.is_current = :true AND o.created_at >= :start AND o.created_at < :end
"""
# The trend counts each month by a range on the event's time index (no per-row function, no grouping of the year).
_TREND_COUNTS = {
    "referrals": "SELECT COUNT(*) FROM referral WHERE received_at >= :start AND received_at < :end",
    "kits_dispatched": "SELECT COUNT(*) FROM kit WHERE dispatched_at >= :start AND dispatched_at < :end",
    "kits_returned": "SELECT COUNT(*) FROM kit WHERE received_at >= :start AND received_at < :end",
    "tests_analysed": "SELECT COUNT(*) FROM kit WHERE analysed_at >= :start AND analysed_at < :end",
}
_TREND_OUTCOMES = """
SELECT policy_version, band, action, COUNT(*) AS n FROM triage_outcome
WHERE created_at >= :start AND created_at < :end AND is_current = :true GROUP BY policy_version, band, action
"""

_TIMESTAMPS = {
    "referrals": ("referral_received_at",),
    "kits": ("dispatched_at", "received_at", "rejected_at", "not_returned_at", "analysed_at",
             "referral_received_at"),
    "results": ("released_at", "kit_received_at", "referral_received_at"),
    "outcomes": ("created_at", "released_at", "letter_at", "referral_received_at"),
}
_DATES = ("referral_date", "date_of_birth")


def month_bounds(month: date) -> tuple[datetime, datetime]:
    start = datetime(month.year, month.month, 1, tzinfo=UTC)
    end = datetime(month.year + (month.month == 12), month.month % 12 + 1, 1, tzinfo=UTC)
    return start, end


def months_back(month: date, count: int) -> date:
    index = month.year * 12 + month.month - 1 - count
    return date(index // 12, index % 12 + 1, 1)


def _bind(moment: datetime, dialect: str) -> object:
    # SQLite compares the stored text 'YYYY-MM-DD HH:MM:SS.ffffff' (UTC): bind the same shape so ranges work.
    if dialect == "sqlite":
        return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S.%f")
    return moment


_TIME = re.compile(r"@(ts|day)\(([^()]*(?:\([^()]*\))?)\)")


def _numeric_times(sql: str, dialect: str) -> str:
    """@ts(x): seconds since 1970 UTC as a float; @day(x): days since 1970 as an integer."""
    if dialect == "postgresql":
        forms = {"ts": "CAST(EXTRACT(EPOCH FROM {0}) AS DOUBLE PRECISION)", "day": "({0} - DATE '1970-01-01')"}
    else:  # stored as ISO text; julianday() reads it in C
        forms = {"ts": "((julianday({0}) - 2440587.5) * 86400.0)",
                 "day": "CAST(julianday({0}) - 2440587.5 AS INTEGER)"}
    return _TIME.sub(lambda m: forms[m.group(1)].format(m.group(2)), sql)


def _without_jit(conn: Connection) -> None:
    # PostgreSQL's JIT compiles these month-sized plans for longer (over a second) than they take to run.
    if conn.dialect.name == "postgresql":
        conn.execute(text("SET LOCAL jit = off"))


def _read(conn: Connection, sql: str, params: dict[str, object]) -> pd.DataFrame:
    return pd.read_sql(text(_numeric_times(sql, conn.dialect.name)), conn, params=params)


def _typed(name: str, frame: pd.DataFrame) -> pd.DataFrame:
    for column in _TIMESTAMPS[name]:
        frame[column] = pd.to_datetime(pd.to_numeric(frame[column]), unit="s", utc=True).dt.round("ms")
    for column in _DATES:
        frame[column] = pd.to_datetime(pd.to_numeric(frame[column]), unit="D")
    frame["imd_decile"] = pd.to_numeric(frame["imd_decile"]).astype("Int64")
    return attach_groups(frame)


def load_month(engine: Engine, month: date) -> StatsFrames:
    """Every event of ``month`` the statistics count, one query per table."""
    dialect = engine.dialect.name
    start, end = month_bounds(month)
    params: dict[str, object] = {"start": _bind(start, dialect), "end": _bind(end, dialect), "true": True}
    parts = {"attrs": _ATTRS, "join": _JOIN_PATIENT}
    queries = {"referrals": _REFERRALS, "kits": _KITS, "results": _RESULTS, "outcomes": _OUTCOMES}

    def read_one(name: str) -> pd.DataFrame:
        with read_only(engine) as conn:
            _without_jit(conn)
            return _typed(name, _read(conn, queries[name].format(**parts), params))

    # PostgreSQL: each table on its own connection, side by side; the server works on one while Python converts
    # another (the four queries wait on the server for most of their time). SQLite works inside this process, its
    # rows built while holding the interpreter, so threads only take turns: one after another is faster there
    # (measured over a national year: 5.8 s one by one, 7.0 s two at a time, 8.9 s four at a time). Each table is
    # read in its own snapshot (read committed; SQLite without an explicit transaction).
    workers = 1 if dialect == "sqlite" else len(queries)
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="stats-read") as pool:
        typed = dict(zip(queries, pool.map(read_one, queries), strict=True))
    typed["outcomes"]["fhb_ug_per_g"] = pd.to_numeric(typed["outcomes"]["fhb_ug_per_g"])
    return StatsFrames(**typed)


def load_trend(engine: Engine, month: date, months: int = 12) -> TrendFrames:
    """Monthly counts for the ``months`` months ending with ``month``, counted by the database month by month."""
    dialect = engine.dialect.name
    counts: list[dict[str, object]] = []
    outcomes: list[pd.DataFrame] = []
    with read_only(engine) as conn:
        for back in range(months - 1, -1, -1):
            first = months_back(month, back)
            start, end = month_bounds(first)
            params: dict[str, object] = {"start": _bind(start, dialect), "end": _bind(end, dialect), "true": True}
            label = f"{first:%Y-%m}"
            counts.append({"month": label, **{name: conn.execute(text(sql), params).scalar_one()
                                              for name, sql in _TREND_COUNTS.items()}})
            found = _read(conn, _TREND_OUTCOMES, params)
            found["month"] = label
            outcomes.append(found)
    return TrendFrames(counts=pd.DataFrame(counts).set_index("month"), outcomes=pd.concat(outcomes))
