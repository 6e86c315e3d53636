"""Benchmark: import one month of referrals (7,000 rows, 2% bad) through the CLI's service, on SQLite and PostgreSQL.

    .venv/bin/python bench/bench_intake.py [--rows 7000] [--postgres URL]

Prints rows/s for the first import and for the re-import (all duplicates). Target: the month in under 10 s.
PostgreSQL is measured when --postgres (or FIT_LAB_TEST_POSTGRES_URL) names a database the user may create
databases beside.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
import uuid
from datetime import UTC, date, datetime
from pathlib import Path

from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from fit_lab import synthetic
from fit_lab.clock import fixed_clock
from fit_lab.db.engine import make_engine
from fit_lab.db.migrate import upgrade
from fit_lab.principal import Principal
from fit_lab.services import intake, practices, reference

REFERENCE = Path(__file__).resolve().parent.parent / "fit_lab" / "reference_data"
ACTOR = Principal("bench", "lab")


def _prepare(url: str) -> None:
    engine = make_engine(url)
    upgrade(engine)
    practices.import_practices(engine, synthetic.practices_csv(synthetic.practices(40)), actor=ACTOR)
    reference.load_imd(engine, REFERENCE / "synthetic_imd2019.csv", REFERENCE / "synthetic_postcode_lsoa.csv",
                       actor=ACTOR)
    engine.dispose()


def measure(label: str, url: str, rows: int) -> None:
    _prepare(url)
    engine = make_engine(url)
    data_rows = synthetic.referral_rows(
        rows, practice_codes=[p.ods_code for p in synthetic.practices(40)],
        postcodes=synthetic.known_postcodes(REFERENCE / "synthetic_postcode_lsoa.csv"), start=date(2026, 10, 1),
    )
    spoiled = synthetic.spoil(data_rows, 0.02)
    data = synthetic.referrals_csv(data_rows)
    clock = fixed_clock(datetime(2026, 11, 2, 9, 0, tzinfo=UTC))
    for attempt in ("first import", "re-import"):
        started = time.perf_counter()
        report = intake.import_csv(engine, data, filename="month.csv", source="csv_cli", actor=ACTOR, clock=clock)
        elapsed = time.perf_counter() - started
        print(f"{label:<10} {attempt:<12} {rows:>7} rows  {elapsed:6.2f} s  {rows / elapsed:8.0f} rows/s  "
              f"accepted={report.accepted} duplicates={report.duplicates} rejected={report.rejected} "
              f"(spoiled {len(spoiled)})")
    engine.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=7000)
    parser.add_argument("--postgres", default=os.environ.get("FIT_LAB_TEST_POSTGRES_URL", ""))
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        measure("sqlite", f"sqlite:///{tmp}/bench.db", args.rows)
    if not args.postgres:
        print("postgresql: skipped (no --postgres URL)")
        return
    admin = create_engine(args.postgres, isolation_level="AUTOCOMMIT")
    name = f"fitlab_bench_{uuid.uuid4().hex[:8]}"
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        measure("postgresql", make_url(args.postgres).set(database=name).render_as_string(hide_password=False),
                args.rows)
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


if __name__ == "__main__":
    main()
