"""How patients and the post behave in the simulated month (published figures, domain brief §4)."""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import date, timedelta

# Non-return is about 2.2 times higher in the most deprived quintile than in the least (§4); ~10% overall.
NON_RETURN_BY_QUINTILE = {1: 0.15, 2: 0.115, 3: 0.095, 4: 0.08, 5: 0.068, None: 0.10}
REJECTION_SHARE = 0.03  # a large lab rejected about 4% of returned kits (§4); the demo uses 3%
REJECTION_REASONS = ["leaked_damaged", "insufficient_sample", "unlabelled", "label_mismatch", "excess_sample"]


@dataclass(frozen=True)
class ReturnPlan:
    returns: bool
    collected_on: date | None  # what the patient writes on the tube
    arrives_on: date | None
    rejected_for: str | None


def plan_return(rng: random.Random, dispatched_on: date, imd_decile: int | None) -> ReturnPlan:
    quintile = (imd_decile + 1) // 2 if imd_decile else None
    if rng.random() < NON_RETURN_BY_QUINTILE[quintile]:
        return ReturnPlan(False, None, None, None)
    # Delivery (1-2 days), then the patient takes the sample after a few days, then 1-3 days in the post back.
    waited = int(rng.lognormvariate(1.1, 0.7))
    collected = dispatched_on + timedelta(days=1 + rng.randint(0, 1) + waited)
    arrives = collected + timedelta(days=rng.randint(1, 3))
    rejected = rng.choice(REJECTION_REASONS) if rng.random() < REJECTION_SHARE else None
    if rng.random() < 0.01:  # some patients forget to write the date
        return ReturnPlan(True, None, arrives, None)
    return ReturnPlan(True, collected, arrives, rejected)


def raw_value_for(rng: random.Random, factor: float) -> str:
    """An f-Hb value in the analyser's own unit: most below the reporting limit, ~11% at or over 10 µg/g."""
    ug_per_g = rng.lognormvariate(0.3, 1.6)
    return f"{ug_per_g / factor:.1f}"
