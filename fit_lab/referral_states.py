"""The referral's life, in one place (the kit's is in ``fit_lab.kit_states``).

    awaiting_kit ──► in_progress ──► resulted
         │  ▲            │  ▲  └──► closed (kit not returned, or rejected with no replacement: GP told)
         ▼  │            ▼  │            └──► in_progress (a late kit came back after all)
        on_hold ───────► closed (a person closed it from hold)
    red_flag: referred at once on the suspected-cancer pathway; no kit is ever posted (NICE DG56 1.1).

A referral is created ``awaiting_kit``, ``on_hold`` (a person must decide, e.g. a kit already in flight) or
``red_flag`` (a do-not-wait clinical flag of the active policy). Every change goes through
``fit_lab.services.lifecycle``, which checks this table and writes the audit event.
"""

from __future__ import annotations

from fit_lab.errors import StateError

STATES = ("awaiting_kit", "on_hold", "in_progress", "resulted", "closed", "red_flag")
# The states a referral may be created in.
INITIAL = frozenset({"awaiting_kit", "on_hold", "red_flag"})
# The patient's referral is still being worked: a new referral for them is held for a person.
OPEN = frozenset({"awaiting_kit", "in_progress", "on_hold"})
# The referral has ended in an outcome a person can see: a result letter, a no-result letter, or a red-flag letter.
ENDED = frozenset({"resulted", "closed", "red_flag"})
# A referral whose kit has gone out: not yet a result.
KIT_SENT = frozenset({"in_progress"})
# A kit is wanted or out for the referral: another referral for the patient waits for a person.
LIVE = frozenset({"awaiting_kit", "in_progress"})

_ALLOWED: dict[str, frozenset[str]] = {
    "awaiting_kit": frozenset({"in_progress", "on_hold", "closed"}),
    "on_hold": frozenset({"awaiting_kit", "closed"}),
    # in_progress → in_progress: a repeat kit (no valid result) keeps the referral open under a new kit.
    "in_progress": frozenset({"in_progress", "resulted", "closed", "awaiting_kit", "on_hold"}),
    # resulted → in_progress: an amended result that now needs a repeat kit; resulted → resulted: amended again.
    "resulted": frozenset({"resulted", "in_progress"}),
    "closed": frozenset({"in_progress"}),  # a kit closed as not returned came back after all
    "red_flag": frozenset(),
}

_WORDS = {
    "closed": "is closed",
    "red_flag": "was referred at once on the suspected-cancer pathway (red flag)",
    "resulted": "already has its result",
}


def check_referral_transition(referral_id: int | None, current: str, target: str) -> None:
    """Raise StateError, in words a person understands, unless ``current → target`` is allowed."""
    if current not in _ALLOWED:
        raise StateError(f"Referral {referral_id} is in an unknown state '{current}'.")
    if target not in _ALLOWED[current]:
        how = _WORDS.get(current, f"is {current.replace('_', ' ')}")
        raise StateError(f"Referral {referral_id} {how}; it cannot become {target.replace('_', ' ')}.")


def check_initial(target: str) -> None:
    if target not in INITIAL:
        raise StateError(f"A referral cannot start as {target.replace('_', ' ')}.")


# The colonoscopy list (a referred patient's next steps, recorded by the booking team). None: waiting to be booked.
LIST_STATES = ("booked", "seen", "declined", "did_not_attend", "not_suitable")
# A patient in one of these has left the list.
OFF_LIST = frozenset({"seen", "declined", "not_suitable"})
_LIST_ALLOWED: dict[str | None, frozenset[str]] = {
    None: frozenset({"booked", "declined", "not_suitable"}),
    "booked": frozenset({"booked", "seen", "declined", "did_not_attend", "not_suitable"}),  # booked again: moved
    "did_not_attend": frozenset({"booked", "declined", "not_suitable"}),
    "seen": frozenset(),
    "declined": frozenset(),
    "not_suitable": frozenset(),
}


def check_list_transition(referral_id: int | None, current: str | None, target: str) -> None:
    """Raise StateError unless the colonoscopy list allows ``current → target`` for this patient."""
    if target not in LIST_STATES:
        raise StateError(f"'{target}' is not a colonoscopy list state (one of {', '.join(LIST_STATES)}).")
    if target not in _LIST_ALLOWED.get(current, frozenset()):
        now = "waiting to be booked" if current is None else current.replace("_", " ")
        raise StateError(f"Referral {referral_id} is {now} on the colonoscopy list; it cannot become "
                         f"{target.replace('_', ' ')}.")
