"""The kit's life, in one place (../shared/design/architecture.md).

requested → allocated → dispatched → received → analysed → resulted → reported;
received → rejected (a replacement is a new kit on the same referral);
dispatched → reminded → not_returned (the GP is told); any live state → cancelled (with a reason).
"""

from __future__ import annotations

from fit_lab.errors import StateError

STATES = ("requested", "allocated", "dispatched", "reminded", "received", "analysed", "resulted", "reported",
          "rejected", "not_returned", "cancelled")
TERMINAL = frozenset({"reported", "rejected", "not_returned", "cancelled"})
# A kit in one of these is out with the patient or in the lab: the patient must not be sent another.
IN_FLIGHT = frozenset({"requested", "allocated", "dispatched", "reminded", "received", "analysed", "resulted"})
# The states a kit may be created in: allocated (a replacement or repeat waiting for a batch), or dispatched (made
# and posted in one dispatch batch).
INITIAL = frozenset({"allocated", "dispatched"})
# Out with the patient: the failsafe reminds and then closes these.
WITH_PATIENT = frozenset({"dispatched", "reminded"})
# Not yet scanned in at reception: an analyser result for such a kit waits unmatched.
NOT_YET_RECEIVED = frozenset({"allocated", "dispatched", "reminded", "not_returned"})
# Reception may receive a kit in these (a kit closed as not returned still counts when it comes back).
RECEIVABLE = frozenset({"dispatched", "reminded", "not_returned"})
# Still out with the patient or not yet posted: cancelling a batch voids these.
VOIDABLE = frozenset({"allocated", "dispatched", "reminded"})
# The sample has been tested: reception must not test it again.
TESTED = frozenset({"analysed", "resulted", "reported"})

_ALLOWED: dict[str, frozenset[str]] = {
    "requested": frozenset({"allocated", "cancelled"}),
    "allocated": frozenset({"dispatched", "cancelled"}),
    "dispatched": frozenset({"received", "reminded", "cancelled"}),
    "reminded": frozenset({"received", "not_returned", "cancelled"}),
    "received": frozenset({"analysed", "rejected", "cancelled"}),
    "analysed": frozenset({"resulted", "cancelled"}),
    "resulted": frozenset({"reported"}),
    "reported": frozenset(),
    "rejected": frozenset(),
    "not_returned": frozenset({"received"}),  # a late kit still counts: the GP is told it arrived after all
    "cancelled": frozenset(),
}

_WORDS = {
    "cancelled": "was voided",
    "rejected": "was rejected at reception",
    "reported": "has already been reported",
    "not_returned": "was closed as not returned",
}


def check_initial(specimen_id: str, state: str) -> None:
    if state not in INITIAL:
        raise StateError(f"Kit {specimen_id} cannot start as {state}.")


def check_transition(specimen_id: str, current: str, target: str) -> None:
    """Raise StateError, in words a person at the bench understands, unless ``current → target`` is allowed."""
    if current not in _ALLOWED:
        raise StateError(f"Kit {specimen_id} is in an unknown state '{current}'.")
    if target not in _ALLOWED[current]:
        how = _WORDS.get(current, f"is {current}")
        raise StateError(f"Kit {specimen_id} {how}; it cannot become {target}.")
