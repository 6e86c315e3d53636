"""Properties that must hold for every value, not just the rows in the tables (Hypothesis)."""

from __future__ import annotations

import itertools
from datetime import date, timedelta
from typing import Any

import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

import triage
from triage import Action, ClinicalFlag, ColonoscopyCandidate, Measurement, ReferralFacts, rank_for_colonoscopy

METHOD = "HM-JACKarc"
TODAY = date(2025, 6, 30)
_ACTION_ORDER = {Action.REASSURE: 0, Action.REPEAT: 1, Action.REFER: 2}

fhb = st.floats(min_value=0, max_value=5000, allow_nan=False, allow_infinity=False)
flag_sets = st.frozensets(st.sampled_from(list(ClinicalFlag)), max_size=3)


@settings(max_examples=300, deadline=None)
@given(low=fhb, high=fhb, flags=flag_sets)
def test_a_higher_fhb_never_gives_a_lower_band_or_a_less_urgent_priority(
    default_policy: triage.ThresholdPolicy, low: float, high: float, flags: frozenset[ClinicalFlag]
) -> None:
    # §2: bands rise with f-Hb; a higher result must never be seen later.
    low, high = sorted((low, high))
    facts = ReferralFacts(flags=flags)
    a = triage.triage(Measurement(METHOD, "=", low), facts, default_policy)
    b = triage.triage(Measurement(METHOD, "=", high), facts, default_policy)
    assert a.band_rank <= b.band_rank
    assert a.priority >= b.priority
    assert _ACTION_ORDER[a.action] <= _ACTION_ORDER[b.action]


@settings(max_examples=200, deadline=None)
@given(value=fhb)
def test_a_plain_value_is_positive_exactly_from_the_threshold(
    default_policy: triage.ThresholdPolicy, value: float
) -> None:
    # §2: exactly 10.0 is positive (lower edge inclusive).
    outcome = triage.triage(Measurement(METHOD, "=", value), ReferralFacts(), default_policy)
    assert (outcome.action is Action.REFER) is (value >= 10)


@settings(max_examples=200, deadline=None)
@given(value=st.floats(min_value=0.01, max_value=5000, allow_nan=False))
def test_a_less_than_value_never_refers_without_a_flag(default_policy: triage.ThresholdPolicy, value: float) -> None:
    # §3: "<x" reassures when x is at or below the threshold, else it is indeterminate → repeat.
    outcome = triage.triage(Measurement(METHOD, "<", value), ReferralFacts(), default_policy)
    assert outcome.action is (Action.REASSURE if value <= 10 else Action.REPEAT)


@st.composite
def band_edges(draw: st.DrawFn) -> list[float]:
    edges = draw(st.lists(st.integers(min_value=1, max_value=2000), min_size=3, max_size=3, unique=True))
    return [float(e) for e in sorted(edges)]


@settings(max_examples=60, deadline=None)
@given(edges=band_edges(), low=fhb, high=fhb)
def test_monotonic_for_any_valid_band_boundaries(
    policy_document_factory: Any, edges: list[float], low: float, high: float
) -> None:
    document = policy_document_factory()
    starts = [0.0, *edges]
    for index, band in enumerate(document["bands"]):
        band["from_ug_per_g"] = starts[index]
        band["below_ug_per_g"] = starts[index + 1] if index + 1 < len(starts) else None
    policy = triage.parse_policy(yaml.safe_dump(document, allow_unicode=True))
    low, high = sorted((low, high))
    a = triage.triage(Measurement(METHOD, "=", low), ReferralFacts(), policy)
    b = triage.triage(Measurement(METHOD, "=", high), ReferralFacts(), policy)
    assert a.band_rank <= b.band_rank and a.priority >= b.priority


candidate_specs = st.lists(
    st.tuples(
        st.sampled_from(["10", "55", "55", "100", "250", "400", ">400", "<10"]),
        st.frozensets(st.sampled_from([ClinicalFlag.IDA, ClinicalFlag.CLINICAL_CONCERN]), max_size=2),
        st.integers(min_value=0, max_value=5),
    ),
    max_size=40,
)


def _candidates(
    policy: triage.ThresholdPolicy, specs: list[tuple[str, frozenset[ClinicalFlag], int]]
) -> list[ColonoscopyCandidate]:
    result = []
    for index, (value, flags, waited) in enumerate(specs):
        if value == "<10" and not flags:
            flags = frozenset({ClinicalFlag.IDA})  # only referred patients belong on the list
        outcome = triage.triage(Measurement.parse(value, METHOD), ReferralFacts(flags=flags), policy)
        result.append(ColonoscopyCandidate(f"r{index}", outcome, TODAY - timedelta(days=waited)))
    return result


@settings(max_examples=100, deadline=None)
@given(specs=candidate_specs, data=st.data())
def test_ranking_is_the_same_whatever_order_the_list_arrives_in_except_for_exact_ties(
    default_policy: triage.ThresholdPolicy, specs: list[tuple[str, frozenset[ClinicalFlag], int]], data: st.DataObject
) -> None:
    candidates = _candidates(default_policy, specs)
    shuffled = data.draw(st.permutations(candidates))
    first = rank_for_colonoscopy(candidates, as_of=TODAY)
    second = rank_for_colonoscopy(shuffled, as_of=TODAY)

    def described(entry: triage.RankedCandidate) -> tuple[object, ...]:
        o = entry.candidate.outcome
        return (o.priority, o.band_rank, o.fhb_ug_per_g, o.comparator, len(o.flags), entry.days_waited)

    assert [described(e) for e in first] == [described(e) for e in second]
    # Stable ties: entries that compare equal keep the order they were given in.
    for ranked, given_order in ((first, candidates), (second, shuffled)):
        index = {id(c): i for i, c in enumerate(given_order)}
        for before, after in itertools.pairwise(ranked):
            if described(before) == described(after):
                assert index[id(before.candidate)] < index[id(after.candidate)]


@settings(max_examples=50, deadline=None)
@given(specs=candidate_specs)
def test_ranking_a_ranked_list_changes_nothing(
    default_policy: triage.ThresholdPolicy, specs: list[tuple[str, frozenset[ClinicalFlag], int]]
) -> None:
    ranked = rank_for_colonoscopy(_candidates(default_policy, specs), as_of=TODAY)
    again = rank_for_colonoscopy([entry.candidate for entry in ranked], as_of=TODAY)
    assert again == ranked
