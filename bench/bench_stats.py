"""Benchmark: one month's alliance statistics over a database holding a year at national volume.

    .venv/bin/python bench/bench_stats.py [--tests-per-month 125000] [--practices 6500] [--postgres URL]
                                          [--keep-sqlite PATH]

Writes a synthetic year (12 months x 125,000 tests = 1.5 million, see bench/national_year.py) into a migrated
database, then times ``services.stats.monthly`` for the last month (every table, disclosure control, the
inequality watch, a 12-month trend) and each export. Target: under 10 s on SQLite and on PostgreSQL.
PostgreSQL is measured when --postgres (or FIT_LAB_TEST_POSTGRES_URL) names a database the user may create
databases beside; a scratch database is created and dropped. --keep-sqlite reuses (or keeps) the SQLite file.
"""

from __future__ import annotations

import argparse
import os
import resource
import sys
import tempfile
import time
import uuid
from datetime import UTC, date, datetime
from pathlib import Path

from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

sys.path.insert(0, str(Path(__file__).resolve().parent))
from national_year import Year, write_year

from fit_lab.clock import fixed_clock
from fit_lab.db.engine import make_engine
from fit_lab.db.migrate import upgrade
from fit_lab.principal import Principal
from fit_lab.services import stats
from fit_lab.settings import Settings

MONTHS = tuple(date(2025 + (m > 12), (m - 1) % 12 + 1, 1) for m in range(11, 23))  # Nov 2025 .. Oct 2026
AS_OF = datetime(2026, 11, 20, 9, tzinfo=UTC)
ALLIANCE = Principal("bench-alliance", "alliance")


def measure(label: str, url: str, year: Year, *, fresh: bool, charts: Path | None = None) -> None:
    engine = make_engine(url)
    if fresh:
        upgrade(engine)
        started = time.perf_counter()
        rows = write_year(engine, year, progress=lambda line: print(f"{label:<10} {line}", flush=True))
        print(f"{label:<10} wrote {rows:,} rows in {time.perf_counter() - started:.0f} s")
    settings = Settings(database_url=url)
    month = year.months[-1]
    for attempt in ("first", "second"):
        started = time.perf_counter()
        result = stats.monthly(engine, month, actor=ALLIANCE, settings=settings, clock=fixed_clock(AS_OF))
        elapsed = time.perf_counter() - started
        summary = dict(zip(result.tables["summary"].columns, result.tables["summary"].rows[0], strict=True))
        print(f"{label:<10} {month:%Y-%m} statistics ({attempt} run): {elapsed:6.2f} s  referrals "
              f"{summary['referrals']:,}  tests analysed {summary['tests_analysed']:,}  practices "
              f"{len(result.tables['by_practice'].rows) - 1:,}  flags {len(result.flags)}  target < 10 s: "
              f"{'ok' if elapsed < 10 else 'MISSED'}", flush=True)
    for fmt in ("json", "csv", "xlsx"):
        started = time.perf_counter()
        made = stats.as_file(result, fmt, settings)
        print(f"{label:<10} export {fmt:<4} {time.perf_counter() - started:6.2f} s  {len(made.content):>10,} bytes")
    if charts:
        charts.mkdir(parents=True, exist_ok=True)
        for name, png in stats.charts(result, settings).items():
            (charts / f"stats-{name}.png").write_bytes(png)
        print(f"{label:<10} charts written to {charts}")
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"{label:<10} peak memory {peak:,.0f} MB")
    engine.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tests-per-month", type=int, default=125_000)
    parser.add_argument("--practices", type=int, default=6_500)
    parser.add_argument("--postgres", default=os.environ.get("FIT_LAB_TEST_POSTGRES_URL", ""))
    parser.add_argument("--keep-sqlite", type=Path, default=None)
    parser.add_argument("--keep-postgres", default=None, metavar="DATABASE",
                        help="reuse (or create and keep) this PostgreSQL database instead of a scratch one")
    parser.add_argument("--charts", type=Path, default=None, help="write the month's charts (SQLite run) here")
    args = parser.parse_args()
    year = Year(args.practices, args.tests_per_month, MONTHS)
    print(f"a year of {12 * args.tests_per_month:,} tests from {args.practices:,} practices; statistics for "
          f"{MONTHS[-1]:%Y-%m} as of {AS_OF:%Y-%m-%d}")
    if args.keep_sqlite:
        fresh = not args.keep_sqlite.exists()
        measure("sqlite", f"sqlite:///{args.keep_sqlite}", year, fresh=fresh, charts=args.charts)
    else:
        with tempfile.TemporaryDirectory() as tmp:
            measure("sqlite", f"sqlite:///{tmp}/bench.db", year, fresh=True, charts=args.charts)
    if not args.postgres:
        print("postgresql: skipped (no --postgres URL)")
        return
    admin = create_engine(args.postgres, isolation_level="AUTOCOMMIT")
    name = args.keep_postgres or f"fitlab_bench_{uuid.uuid4().hex[:8]}"
    with admin.connect() as conn:
        exists = conn.execute(text("SELECT 1 FROM pg_database WHERE datname = :name"), {"name": name}).first()
        if not exists:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        measure("postgresql", make_url(args.postgres).set(database=name).render_as_string(hide_password=False),
                year, fresh=not exists)
    finally:
        if not args.keep_postgres:
            with admin.connect() as conn:
                conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


if __name__ == "__main__":
    main()
