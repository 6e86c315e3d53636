"""Benchmark and proof: ninety days at a lab's volume with planted trouble, and every referral's ending.

    .venv/bin/python bench/bench_quarter.py [--tests-per-month 7000] [--engines sqlite,postgresql]
                                            [--postgres URL] [--out DIR]

Runs ``fit_lab.demo.quarter.simulate_quarter`` on a fresh database per engine (see its docstring for the trouble
planted), then prints the endings (outcome, safety-net letter, closed by a person, open alert, fell through), the
commonest paths, the open alerts by kind, the colonoscopy list's states, red-flag referrals and kits posted to
them, and the wall time. Writes every referral's path to ``pathways-<engine>.csv`` in ``--out``. Exits non-zero
when a referral fell through or a red-flag referral was posted a kit.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from datetime import date
from pathlib import Path

from scratch import scratch_database  # bench/scratch.py: the script's own folder is on sys.path

from fit_lab.demo.quarter import QuarterReport, simulate_quarter
from fit_lab.logs import configure
from fit_lab.settings import Settings

START = date(2026, 6, 1)


def run(engine_name: str, tests_per_month: int, postgres: str, out: Path) -> QuarterReport:
    with tempfile.TemporaryDirectory() as tmp, scratch_database(engine_name, Path(tmp), postgres, "quarter") as (
            url, engine):
        settings = Settings(database_url=url, data_dir=Path(tmp), analyser_timezone="UTC", failsafe_schedule=False)

        def progress(done: int, total: int) -> None:
            if done % 10 == 0 or done == total:
                print(f"  {engine_name}: day {done}/{total}", file=sys.stderr, flush=True)

        report = simulate_quarter(engine, settings, tests_per_month=tests_per_month, start=START, progress=progress)
        report.write_csv(out / f"pathways-{engine_name}.csv")
        return report


def show(engine_name: str, report: QuarterReport) -> None:
    print(f"== {engine_name}: {report.referrals:,} referrals over 90 days (+ follow-up) in {report.seconds:.0f} s")
    print("endings:      " + ", ".join(f"{k} {v:,}" for k, v in report.endings.most_common()))
    print(f"fell through: {len(report.fell_through)}   red flags: {report.red_flags:,}, "
          f"kits posted to them: {report.red_flag_kits}   tubes tested unscanned: {report.unscanned:,}")
    print("open alerts:  " + (", ".join(f"{k} {v:,}" for k, v in report.alerts.most_common()) or "none"))
    print("list states:  " + ", ".join(f"{k} {v:,}" for k, v in report.list_states.most_common()))
    print("commonest paths:")
    for path, count in report.paths.most_common(8):
        print(f"  {count:>7,}  {path}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tests-per-month", type=int, default=7000)
    parser.add_argument("--engines", default="sqlite,postgresql")
    parser.add_argument("--postgres", default=os.environ.get("FIT_LAB_TEST_POSTGRES_URL", ""))
    parser.add_argument("--out", type=Path, default=Path("out"))
    args = parser.parse_args()
    configure(stream=open(os.devnull, "w"))  # noqa: SIM115 - for the life of this process
    args.out.mkdir(parents=True, exist_ok=True)
    failed = False
    for engine_name in args.engines.split(","):
        if engine_name == "postgresql" and not args.postgres:
            print("postgresql: skipped (give --postgres URL or set FIT_LAB_TEST_POSTGRES_URL)")
            continue
        report = run(engine_name, args.tests_per_month, args.postgres, args.out)
        show(engine_name, report)
        failed = failed or not report.passed
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
