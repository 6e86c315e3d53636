"""The colonoscopy list: referred patients in the order they should be offered colonoscopy.

Earliest due date first. Each referred patient is due for a colonoscopy offer on

    due date = referral date + target days for their priority

where the priority is the one triage gave the outcome (the band's, raised where a clinical flag raises it, e.g. a
rectal mass) and the target days come from the list order file (``triage/list_orders/default.yaml``, a versioned
LOCAL CHOICE: by default P1 7 days, P2 14, P3 21, P4 and less urgent 28). The list is sorted by:

1. due date: earliest first. Waiting counts: a patient waiting longer moves up day by day, and a FIT-negative
   patient referred on an override (iron-deficiency anaemia, clinical concern) is due on the same terms as a
   positive of the same priority;
2. priority: more urgent first (1 before 9), among patients due on the same day;
3. band: higher f-Hb band first (separates patients an override lifted into a priority from those whose band
   earned it);
4. f-Hb: higher first (a censored "<" value or a missing one lowest);
5. comparator: ">" before "=" for the same figure (a ">400" above a plain 400);
6. clinical flags: more flags first;
7. referral date: earlier first;
8. the order the caller gave (Python's sort is stable), so equal entries never swap between runs.

Consequences a booking team should know:
- Nobody is overtaken indefinitely: a patient referred more than (largest target - smallest target) days after
  another (21 days with the default targets) is always due later, so never ranks above them.
- A more urgent patient referred later can rank below a less urgent one who is due sooner: e.g. a P1 referred today
  (due in 7 days) comes after a P3 referred 15 days ago (due in 6). With the capacity to work the list in order,
  each is offered within their own target; without it, the most overdue are offered first.

Each entry carries ``days_waited`` (from the referral date to ``as_of``), ``due_date``, ``fds_breach_date``
(referral date + the Faster Diagnosis Standard's 28 days, domain brief §8; ``fds_breached`` once ``as_of`` reaches
it) and a ``reason`` in plain words, e.g. for f-Hb 10 referred on 31 Aug 2026 and listed on 23 Nov 2026:
"rank 1: due 21 Sep 2026 (priority 3: offer within 21 days of referral), waited 84 days, FDS breached 28 Sep 2026;
then band 'positive', f-Hb =10, clinical flags: none (policy default-hm-jackarc-1.1, list order
default-list-order-1.0)".
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, timedelta
from typing import NamedTuple

from triage.errors import RankingError
from triage.list_order import ListOrder, load_default_list_order
from triage.outcome import Action, TriageOutcome

_COMPARATOR_ORDER = {">": 2, "=": 1, "<": 0}


@dataclass(frozen=True, slots=True)
class ColonoscopyCandidate:
    """One referred patient awaiting colonoscopy; ``referral_id`` is the caller's, passed through."""

    referral_id: str
    outcome: TriageOutcome
    referral_date: date


class RankedCandidate(NamedTuple):
    """One place on the list. A tuple rather than a frozen dataclass: lists of 100,000 are built at once.

    ``due_date``, ``fds_breach_date`` and ``reason`` are worked out on demand from the list order, for the same
    reason.
    """

    rank: int  # 1 = first to be offered colonoscopy
    candidate: ColonoscopyCandidate
    days_waited: int  # from the referral date to the ranking's as_of date
    list_order: ListOrder

    @property
    def target_days(self) -> int:
        """Days from referral within which this patient's priority should be offered colonoscopy."""
        return self.list_order.target_days(self.candidate.outcome.priority)

    @property
    def due_date(self) -> date:
        """The referral date plus the list order's target days for the patient's priority: the list's sort key."""
        return self.candidate.referral_date + timedelta(days=self.target_days)

    @property
    def fds_breach_date(self) -> date:
        """The referral date plus the Faster Diagnosis Standard's days (28, domain brief §8)."""
        return self.candidate.referral_date + timedelta(days=self.list_order.fds_days)

    @property
    def fds_breached(self) -> bool:
        """True once the ranking's as_of date has reached the Faster Diagnosis Standard's breach date."""
        return self.days_waited >= self.list_order.fds_days

    @property
    def reason(self) -> str:
        """Why this patient is at this rank, step by step."""
        outcome = self.candidate.outcome
        fhb = (
            "no f-Hb value"
            if outcome.fhb_ug_per_g is None
            else f"f-Hb {outcome.comparator or ''}{outcome.fhb_ug_per_g:g}"
        )
        flags = ", ".join(sorted(flag.value for flag in outcome.flags)) or "none"
        fds = "FDS breached" if self.fds_breached else "FDS breach on"
        return (
            f"rank {self.rank}: due {_day(self.due_date)} (priority {outcome.priority}: offer within "
            f"{self.target_days} days of referral), waited {self.days_waited} days, {fds} "
            f"{_day(self.fds_breach_date)}; then band '{outcome.band}', {fhb}, clinical flags: {flags} "
            f"(policy {outcome.policy_version}, list order {self.list_order.version})"
        )


def _day(day: date) -> str:
    return f"{day.day} {day:%b %Y}"  # "9 Nov 2026": no leading zero, as on a letter


def rank_for_colonoscopy(
    candidates: Iterable[ColonoscopyCandidate], as_of: date, list_order: ListOrder | None = None
) -> list[RankedCandidate]:
    """Rank referred patients for colonoscopy, earliest due date first (see the module docstring).

    ``as_of`` is today's date, used only for days waited and whether the Faster Diagnosis Standard is breached.
    ``list_order`` defaults to the shipped file (``triage/list_orders/default.yaml``). Raises ``RankingError``
    for an outcome that is not a referral: such a patient must not be on the list, and silently dropping them
    would hide an upstream mistake.
    """
    order = list_order if list_order is not None else load_default_list_order()
    items = list(candidates)
    targets = order.target_days_by_priority.days
    # The documented key, as three numbers per patient rather than one tuple: ints and floats are not tracked by
    # the garbage collector, so 100,000 patients sort in a fraction of the time (bench/bench_ranking.py). Python's
    # sort is stable, so sorting by the last key first and the first key last gives the documented order, and
    # exact ties keep the caller's order.
    first_key: list[int] = []  # due date, then priority (1-9), then band (higher first)
    fhb_key: list[float] = []  # f-Hb, higher first; a "<" or missing value lowest
    last_key: list[int] = []  # comparator (">" first), then more flags first, then earlier referral first
    referred_on: list[int] = []
    for item in items:
        outcome = item.outcome
        if outcome.action is not Action.REFER:
            raise RankingError(
                f"referral {item.referral_id} has outcome '{outcome.action.value}', not 'refer'; "
                "only referred patients belong on the colonoscopy list"
            )
        referred = item.referral_date.toordinal()
        comparator = outcome.comparator
        fhb = -1.0 if outcome.fhb_ug_per_g is None or comparator == "<" else outcome.fhb_ug_per_g
        first_key.append(
            ((referred + targets[outcome.priority]) * _PRIORITY_SPAN + outcome.priority) * _BAND_SPAN
            + (_BAND_SPAN - 2 - outcome.band_rank)
        )
        fhb_key.append(-fhb)
        last_key.append(
            ((2 - _COMPARATOR_ORDER.get(comparator or "<", 0)) * _FLAG_SPAN + _FLAG_SPAN - 1 - len(outcome.flags))
            * _ORDINAL_SPAN
            + referred
        )
        referred_on.append(referred)
    positions = list(range(len(items)))
    positions.sort(key=last_key.__getitem__)
    positions.sort(key=fhb_key.__getitem__)
    positions.sort(key=first_key.__getitem__)
    today = as_of.toordinal()
    return [
        RankedCandidate(rank, items[index], today - referred_on[index], order)
        for rank, index in enumerate(positions, start=1)
    ]


# Room for each part of a packed key: priorities run 1-9; a band rank from -1 (no band) upwards; at most one of
# each clinical flag; a date's ordinal is below 2**22 (31 Dec 9999 is 3,652,059).
_PRIORITY_SPAN = 16
_BAND_SPAN = 1 << 16
_FLAG_SPAN = 1 << 8
_ORDINAL_SPAN = 1 << 22
