"""The documented colonoscopy list order holds for every list, not just the examples (issue 13, Hypothesis).

The order (triage/ranking.py): due date = referral date + target days for the priority, earliest first; then
priority, band, f-Hb, comparator, flags, referral date, the caller's order. Lists are drawn with any priority 1-9,
any band and f-Hb, and any valid list order (targets rising with priority, none beyond the Faster Diagnosis
Standard, domain brief §8).
"""

from __future__ import annotations

import dataclasses
import itertools
from datetime import date, timedelta
from importlib import resources
from typing import Any

import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

import triage
from triage import ClinicalFlag, ColonoscopyCandidate, ListOrder, Measurement, ReferralFacts, rank_for_colonoscopy

AS_OF = date(2026, 11, 23)
_BASE = triage.triage(
    Measurement("HM-JACKarc", "=", 50.0), ReferralFacts(), triage.load_default_policies().policy_for(
        "HM-JACKarc", AS_OF)
)
_SHIPPED: dict[str, Any] = yaml.safe_load(
    resources.files("triage").joinpath("list_orders/default.yaml").read_text(encoding="utf-8")
)


@st.composite
def list_orders(draw: st.DrawFn) -> ListOrder:
    """Any valid list order: targets for priorities 1-9 rising (or equal), all within the FDS days."""
    fds_days = draw(st.integers(min_value=1, max_value=60))
    targets = sorted(draw(st.lists(st.integers(min_value=1, max_value=fds_days), min_size=9, max_size=9)))
    document = {**_SHIPPED, "version": "drawn"}
    document["faster_diagnosis_standard"] = {**_SHIPPED["faster_diagnosis_standard"], "days": fds_days}
    document["target_days_by_priority"] = {
        **_SHIPPED["target_days_by_priority"], "days": {p: t for p, t in zip(range(1, 10), targets, strict=True)}}
    return triage.parse_list_order(yaml.safe_dump(document))


candidate = st.builds(
    lambda priority, band_rank, fhb, comparator, flags, waited: (priority, band_rank, fhb, comparator, flags, waited),
    st.integers(min_value=1, max_value=9),
    st.integers(min_value=-1, max_value=3),
    st.none() | st.sampled_from([4.0, 10.0, 50.0, 99.9, 150.0, 200.0, 400.0, 1200.0]),
    st.sampled_from(["<", "=", ">"]),
    st.frozensets(st.sampled_from(list(ClinicalFlag)), max_size=3),
    st.integers(min_value=0, max_value=120),
)


def _candidates(specs: list[tuple[Any, ...]]) -> list[ColonoscopyCandidate]:
    made = []
    for index, (priority, band_rank, fhb, comparator, flags, waited) in enumerate(specs):
        outcome = dataclasses.replace(
            _BASE, priority=priority, band_rank=band_rank, fhb_ug_per_g=fhb,
            comparator=None if fhb is None else comparator, flags=flags,
        )
        made.append(ColonoscopyCandidate(f"r{index}", outcome, AS_OF - timedelta(days=waited)))
    return made


def _documented_key(entry: triage.RankedCandidate) -> tuple[Any, ...]:
    """The order exactly as the docstring states it, written independently of the implementation."""
    o = entry.candidate.outcome
    fhb = -1.0 if o.fhb_ug_per_g is None or o.comparator == "<" else o.fhb_ug_per_g
    comparator = {">": 2, "=": 1, "<": 0}[o.comparator or "<"]
    return (entry.due_date, o.priority, -o.band_rank, -fhb, -comparator, -len(o.flags), entry.candidate.referral_date)


lists = st.lists(candidate, max_size=60)


@settings(max_examples=200, deadline=None)
@given(specs=lists, order=list_orders())
def test_the_list_is_sorted_by_due_date_then_the_documented_tie_breaks(
    specs: list[tuple[Any, ...]], order: ListOrder
) -> None:
    candidates = _candidates(specs)
    ranked = rank_for_colonoscopy(candidates, AS_OF, order)
    given_at = {id(c): i for i, c in enumerate(candidates)}
    for entry in ranked:
        referral = entry.candidate.referral_date
        assert entry.due_date == referral + timedelta(days=order.target_days(entry.candidate.outcome.priority))
        assert entry.fds_breach_date == referral + timedelta(days=order.fds_days)
        assert entry.days_waited == (AS_OF - referral).days
    for before, after in itertools.pairwise(ranked):
        assert before.due_date <= after.due_date
        assert _documented_key(before) <= _documented_key(after)
        if _documented_key(before) == _documented_key(after):  # the caller's order decides, stably
            assert given_at[id(before.candidate)] < given_at[id(after.candidate)]


@settings(max_examples=200, deadline=None)
@given(specs=lists, order=list_orders())
def test_nobody_is_overtaken_by_a_patient_referred_more_than_the_target_spread_later(
    specs: list[tuple[Any, ...]], order: ListOrder
) -> None:
    # Issue 13: never let a patient be overtaken indefinitely. Whatever their priorities, a patient referred more
    # than (largest target - smallest target) days after another can never rank above them.
    ranked = rank_for_colonoscopy(_candidates(specs), AS_OF, order)
    spread = timedelta(days=order.largest_overtake_days)
    for above, below in itertools.combinations(ranked, 2):
        assert not above.candidate.referral_date > below.candidate.referral_date + spread, (above.reason, below.reason)


@settings(max_examples=100, deadline=None)
@given(specs=lists, order=list_orders(), data=st.data())
def test_the_ranking_is_a_deterministic_permutation_of_the_candidates(
    specs: list[tuple[Any, ...]], order: ListOrder, data: st.DataObject
) -> None:
    candidates = _candidates(specs)
    ranked = rank_for_colonoscopy(candidates, AS_OF, order)
    assert [entry.rank for entry in ranked] == list(range(1, len(candidates) + 1))
    assert sorted(id(entry.candidate) for entry in ranked) == sorted(id(c) for c in candidates)
    assert rank_for_colonoscopy(candidates, AS_OF, order) == ranked  # same input, same list
    shuffled = data.draw(st.permutations(candidates))
    again = rank_for_colonoscopy(shuffled, AS_OF, order)
    assert [_documented_key(e) for e in again] == [_documented_key(e) for e in ranked]  # only exact ties may move
