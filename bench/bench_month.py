"""Benchmark: a whole month of the pathway, every stage through the real services, at several volumes.

    .venv/bin/python bench/bench_month.py [--sizes 2000,7000,25000] [--engines sqlite,postgresql]
                                          [--postgres URL] [--no-labels]

Each run is the demo's month (``fit_lab.demo.month.simulate_month``) headless on a fresh database: referrals as
daily CSV imports, daily dispatch batches with label PDFs, postal returns, reception at two bench PCs, two
analysers over real pseudo-terminals with the emulator (QC, one failing QC run held and released), triage and
letters, GP acknowledgements, the failsafe every day, then the month's alliance statistics and the demo's
cross-checks. The bench PCs, the label printer and the analysers' listeners are worker processes, as they are
separate computers in a lab. Each size runs in its own process so its peak memory is its own. Prints time per
stage, tests/s, peak memory, and the fitted exponent of time against volume (1.0 = linear). Targets: 125,000
tests in under 15 minutes on PostgreSQL, cost growing no worse than linearly.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import resource
import subprocess
import sys
import tempfile
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

MONTH = date(2026, 9, 1)


def one_run(engine_name: str, tests: int, postgres: str, labels: bool) -> dict[str, object]:
    from scratch import scratch_database  # bench/scratch.py: the script's own folder is on sys.path

    from fit_lab.clock import fixed_clock
    from fit_lab.demo.checks import cross_check
    from fit_lab.demo.month import ADMIN, simulate_month
    from fit_lab.logs import configure
    from fit_lab.services import stats
    from fit_lab.settings import Settings

    with tempfile.TemporaryDirectory() as tmp:
        configure(stream=open(os.devnull, "w"))  # noqa: SIM115 - for the life of this process
        with scratch_database(engine_name, Path(tmp), postgres, "month") as (url, engine):
            settings = Settings(database_url=url, data_dir=Path(tmp))
            started = time.perf_counter()
            run = simulate_month(engine, settings, tests=tests, month_start=MONTH, out_dir=Path(tmp),
                                 write_labels=labels)
            simulated = time.perf_counter() - started
            clock = fixed_clock(datetime.combine(run.last_day, datetime.min.time(), UTC) + timedelta(hours=19))
            before = time.perf_counter()
            result = stats.monthly(engine, MONTH, actor=ADMIN, settings=settings, clock=clock)
            stages = {**run.stage_seconds, "statistics": time.perf_counter() - before}
            checks = cross_check(engine, result, MONTH)
    total = simulated + stages["statistics"]
    # The lab's other computers (bench PCs, label printer, analyser listeners) are worker processes: the peak is
    # the largest of this process and any one of them.
    peak_kb = max(resource.getrusage(who).ru_maxrss for who in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN))
    return {"engine": engine_name, "tests": tests, "seconds": total, "stages": stages, "peak_mb": peak_kb / 1024,
            "checks": "passed" if checks.passed else "; ".join(checks.problems)}


def _exponent(points: list[tuple[int, float]]) -> float | None:
    """Least-squares slope of log(time) on log(tests)."""
    if len(points) < 2:
        return None
    xs, ys = [math.log(n) for n, _ in points], [math.log(t) for _, t in points]
    mx, my = sum(xs) / len(xs), sum(ys) / len(ys)
    return sum((x - mx) * (y - my) for x, y in zip(xs, ys, strict=True)) / sum((x - mx) ** 2 for x in xs)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", default="2000,7000,25000")
    parser.add_argument("--engines", default="sqlite,postgresql")
    parser.add_argument("--postgres", default=os.environ.get("FIT_LAB_TEST_POSTGRES_URL", ""))
    parser.add_argument("--no-labels", action="store_true", help="skip writing the label PDFs")
    parser.add_argument("--one", nargs=2, metavar=("ENGINE", "TESTS"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one:
        print(json.dumps(one_run(args.one[0], int(args.one[1]), args.postgres, not args.no_labels)))
        return
    engines = [e for e in args.engines.split(",") if e != "postgresql" or args.postgres]
    if "postgresql" in args.engines and not args.postgres:
        print("postgresql: skipped (no --postgres URL)")
    print(f"month {MONTH:%Y-%m} (+ follow-up), sizes {args.sizes}, engines {', '.join(engines)}", flush=True)
    results: dict[str, list[tuple[int, float]]] = {}
    for engine_name in engines:
        for tests in (int(s) for s in args.sizes.split(",")):
            command = [sys.executable, __file__, "--one", engine_name, str(tests), "--postgres", args.postgres]
            if args.no_labels:
                command.append("--no-labels")
            done = subprocess.run(command, capture_output=True, text=True, check=False)
            if done.returncode != 0:
                print(f"{engine_name} {tests}: FAILED\n{done.stderr[-3000:]}", flush=True)
                continue
            row = json.loads(done.stdout.strip().splitlines()[-1])
            results.setdefault(engine_name, []).append((tests, float(row["seconds"])))
            stages = ", ".join(f"{k} {v:.0f}" for k, v in sorted(row["stages"].items(), key=lambda kv: -kv[1]))
            rate = tests / row["seconds"]
            print(f"{engine_name:<10} {tests:>7,} tests  {row['seconds']:7.0f} s  {rate:6.1f} tests/s  "
                  f"peak {row['peak_mb']:,.0f} MB  cross-checks {row['checks']}\n           stages (s): {stages}",
                  flush=True)
    print("\n| engine | tests | seconds | tests/s |\n|---|---|---|---|")
    for engine_name, points in results.items():
        for tests, seconds in points:
            print(f"| {engine_name} | {tests:,} | {seconds:,.0f} | {tests / seconds:,.1f} |")
    for engine_name, points in results.items():
        slope = _exponent(points)
        if slope is not None:
            print(f"{engine_name}: time grows as tests^{slope:.2f} (1.00 = linear)")


if __name__ == "__main__":
    main()
