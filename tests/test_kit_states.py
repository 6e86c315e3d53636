"""The kit state table (architecture.md): every legal move allowed, every other refused with a clear message."""

from __future__ import annotations

import itertools

import pytest

from fit_lab.errors import StateError
from fit_lab.kit_states import STATES, check_transition

LEGAL = {
    ("requested", "allocated"), ("requested", "cancelled"),
    ("allocated", "dispatched"), ("allocated", "cancelled"),
    ("dispatched", "received"), ("dispatched", "reminded"), ("dispatched", "cancelled"),
    ("reminded", "received"), ("reminded", "not_returned"), ("reminded", "cancelled"),
    ("received", "analysed"), ("received", "rejected"), ("received", "cancelled"),
    ("analysed", "resulted"), ("analysed", "cancelled"),
    ("resulted", "reported"),
    ("not_returned", "received"),
}


@pytest.mark.parametrize(("current", "target"), sorted(LEGAL))
def test_legal_transition_is_allowed(current, target):
    check_transition("F0000000013", current, target)


@pytest.mark.parametrize(
    ("current", "target"), [p for p in itertools.product(STATES, STATES) if p not in LEGAL]
)
def test_every_other_transition_is_refused_naming_the_kit(current, target):
    with pytest.raises(StateError, match="F0000000013"):
        check_transition("F0000000013", current, target)


def test_voided_kit_is_refused_in_plain_words():
    with pytest.raises(StateError, match="was voided"):
        check_transition("F0000000013", "cancelled", "received")
