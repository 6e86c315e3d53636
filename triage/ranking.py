"""The colonoscopy list: referred patients in the order they should be offered colonoscopy.

Order, most urgent first:
1. priority: the band's priority, raised where the policy lets a clinical flag raise it (e.g. a rectal mass);
   with the default policy this is the band order ≥400, 100–399.9, 10–99.9;
2. band: higher f-Hb band first (separates patients an override lifted into a priority from those whose band
   earned it);
3. f-Hb: higher first (a ">400" sorts above "=400", a censored or missing value lowest);
4. clinical flags: more flags first;
5. time already waited: earlier referral first;
6. the order the caller gave (Python's sort is stable), so equal entries never swap between runs.
Each step is written out in the entry's ``reason`` so the booking team can see why a patient is where
they are.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from typing import NamedTuple

from triage.errors import RankingError
from triage.outcome import Action, TriageOutcome

_COMPARATOR_ORDER = {">": 2, "=": 1, "<": 0}


@dataclass(frozen=True, slots=True)
class ColonoscopyCandidate:
    """One referred patient awaiting colonoscopy; ``referral_id`` is the caller's, passed through."""

    referral_id: str
    outcome: TriageOutcome
    referral_date: date


class RankedCandidate(NamedTuple):
    """One place on the list. A tuple rather than a frozen dataclass: lists of 100,000 are built at once."""

    rank: int  # 1 = first to be offered colonoscopy
    candidate: ColonoscopyCandidate
    days_waited: int

    @property
    def reason(self) -> str:
        """Why this patient is at this rank, step by step (built on demand: lists can be long)."""
        outcome = self.candidate.outcome
        fhb = (
            "no f-Hb value"
            if outcome.fhb_ug_per_g is None
            else f"f-Hb {outcome.comparator or ''}{outcome.fhb_ug_per_g:g}"
        )
        flags = ", ".join(sorted(flag.value for flag in outcome.flags)) or "none"
        return (
            f"rank {self.rank}: priority {outcome.priority}, band '{outcome.band}', {fhb}, "
            f"clinical flags: {flags}, waited {self.days_waited} days (policy {outcome.policy_version})"
        )


def _sort_key(candidate: ColonoscopyCandidate) -> tuple[int, int, float, int, int, int]:
    outcome = candidate.outcome
    fhb = -1.0 if outcome.fhb_ug_per_g is None or outcome.comparator == "<" else outcome.fhb_ug_per_g
    comparator = _COMPARATOR_ORDER.get(outcome.comparator or "<", 0)
    return (
        outcome.priority,
        -outcome.band_rank,
        -fhb,
        -comparator,
        -len(outcome.flags),
        candidate.referral_date.toordinal(),
    )


def rank_for_colonoscopy(candidates: Iterable[ColonoscopyCandidate], as_of: date) -> list[RankedCandidate]:
    """Rank referred patients for colonoscopy; ``as_of`` is today's date, used only for days waited.

    Raises ``RankingError`` for an outcome that is not a referral: such a patient must not be on the list, and
    silently dropping them would hide an upstream mistake.
    """
    items = list(candidates)
    for item in items:
        if item.outcome.action is not Action.REFER:
            raise RankingError(
                f"referral {item.referral_id} has outcome '{item.outcome.action.value}', not 'refer'; "
                "only referred patients belong on the colonoscopy list"
            )
    items.sort(key=_sort_key)
    return [
        RankedCandidate(rank=position, candidate=item, days_waited=(as_of - item.referral_date).days)
        for position, item in enumerate(items, start=1)
    ]
