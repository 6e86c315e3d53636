"""Ranking 100,000 referred outcomes for colonoscopy (target: under 1 s).

    .venv/bin/python bench/bench_ranking.py [--count 100000]
"""

from __future__ import annotations

import argparse
import random
import time
from datetime import date, timedelta

import triage


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--count", type=int, default=100_000)
    args = parser.parse_args()
    rng = random.Random(5)
    policy = triage.load_default_policies()
    today = date(2026, 11, 23)
    flags = list(triage.ClinicalFlag)
    candidates = []
    for i in range(args.count):
        value = round(10 + rng.lognormvariate(3.5, 1.2), 1)
        facts = triage.ReferralFacts(frozenset(rng.sample(flags, k=rng.choice([0, 0, 0, 1]))))
        outcome = policy.triage(triage.Measurement("HM-JACKarc", "=", min(value, 400.0)), facts, today)
        candidates.append(triage.ColonoscopyCandidate(str(i), outcome, today - timedelta(days=rng.randrange(60))))
    started = time.perf_counter()
    ranked = triage.rank_for_colonoscopy(candidates, today)
    elapsed = time.perf_counter() - started
    print(f"ranked {len(ranked):,} referred outcomes in {elapsed:.3f} s ({len(ranked) / elapsed:,.0f}/s)")


if __name__ == "__main__":
    main()
