"""The colonoscopy list order: a site's versioned, approved targets for offering colonoscopy, by triage priority.

Like a threshold policy, the list order lives in a human-readable YAML file (``triage/list_orders/default.yaml``)
with a version, an effective date, an approver and its sources, and is validated in full on load. It says, for each
priority 1 to 9, within how many days of referral the patient should be offered colonoscopy, and how many days the
Faster Diagnosis Standard allows (28, domain brief §8). ``triage.ranking`` orders the list by the due date these
give; a file that could leave a priority without a target, or promise an offer later than the standard, is refused.
"""

from __future__ import annotations

from datetime import date
from importlib import resources
from itertools import pairwise
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, model_validator

from triage.config_file import parse_model, read_file
from triage.errors import ListOrderValidationError
from triage.policy import LEAST_URGENT_PRIORITY, MOST_URGENT_PRIORITY, Source

PRIORITIES = tuple(range(MOST_URGENT_PRIORITY, LEAST_URGENT_PRIORITY + 1))
DEFAULT_LIST_ORDER_FILE = "list_orders/default.yaml"


class _Strict(BaseModel):
    # extra="forbid": an unknown key is most likely a rule the author expected to act: never ignore it.
    model_config = ConfigDict(extra="forbid", frozen=True)


class FasterDiagnosisStandard(_Strict):
    """Days from referral by which cancer should be diagnosed or ruled out (28, domain brief §8)."""

    days: int
    source: str


class TargetDays(_Strict):
    """Days from referral to colonoscopy offer, for each triage priority (a local choice)."""

    days: dict[int, int]
    source: str


class ListOrder(_Strict):
    """One approved version of a site's colonoscopy list order."""

    version: str = Field(min_length=1, max_length=40)
    title: str = Field(min_length=1)
    effective_from: date
    approved_by: str = Field(min_length=1)
    approved_on: date | None = None
    notes: str = ""
    sources: tuple[Source, ...] = Field(min_length=1)
    faster_diagnosis_standard: FasterDiagnosisStandard
    target_days_by_priority: TargetDays

    @model_validator(mode="after")
    def _check_consistency(self) -> ListOrder:
        problems = _target_problems(self) + _reference_problems(self)
        if problems:
            raise ValueError("\n".join(problems))
        return self

    @property
    def fds_days(self) -> int:
        """Days from referral to the Faster Diagnosis Standard's breach date."""
        return self.faster_diagnosis_standard.days

    def target_days(self, priority: int) -> int:
        """Days from referral within which a patient of ``priority`` should be offered colonoscopy."""
        return self.target_days_by_priority.days[priority]

    @property
    def largest_overtake_days(self) -> int:
        """How many days later a patient may be referred and still be listed above an earlier one.

        The largest target minus the smallest: a patient referred more than this many days after another is
        always due later, so is never ranked above them (nobody is overtaken indefinitely).
        """
        targets = self.target_days_by_priority.days.values()
        return max(targets) - min(targets)


def _target_problems(order: ListOrder) -> list[str]:
    problems: list[str] = []
    fds = order.faster_diagnosis_standard.days
    if fds <= 0:
        problems.append(f"faster_diagnosis_standard.days is {fds}: it must be a number of days above 0")
    targets = order.target_days_by_priority.days
    for priority in PRIORITIES:
        if priority not in targets:
            problems.append(
                f"priority {priority} has no target in target_days_by_priority: its patients could not be listed"
            )
    for priority in sorted(set(targets) - set(PRIORITIES)):
        problems.append(
            f"priority {priority} in target_days_by_priority is not a triage priority "
            f"({MOST_URGENT_PRIORITY} to {LEAST_URGENT_PRIORITY})"
        )
    for priority, days in sorted(targets.items()):
        if days <= 0:
            problems.append(f"priority {priority} has a target of {days} days: it must be above 0")
        elif fds > 0 and days > fds:
            problems.append(
                f"priority {priority} has a target of {days} days, beyond the {fds}-day Faster Diagnosis "
                "Standard: no patient may be promised an offer later than the standard"
            )
    listed = [(p, targets[p]) for p in PRIORITIES if p in targets]
    for (urgent, urgent_days), (later, later_days) in pairwise(listed):
        if urgent_days > later_days:
            problems.append(
                f"priority {urgent} has a target of {urgent_days} days, later than the less urgent priority "
                f"{later} ({later_days} days): a more urgent patient must never be due later"
            )
    return problems


def _reference_problems(order: ListOrder) -> list[str]:
    known = {s.id for s in order.sources}
    cited = [
        ("faster_diagnosis_standard", order.faster_diagnosis_standard.source),
        ("target_days_by_priority", order.target_days_by_priority.source),
    ]
    return [f"{where} cites unknown source '{ref}'" for where, ref in cited if ref not in known]


def parse_list_order(text: str, source: str = "<text>") -> ListOrder:
    """Parse and validate a list order from YAML text; ``source`` names it in error messages.

    Raises ``ListOrderValidationError`` listing every problem found.
    """
    return parse_model(text, source, ListOrder, ListOrderValidationError, "list order")


def load_list_order(path: str | Path) -> ListOrder:
    """Load and validate one list order file."""
    text, source = read_file(path, ListOrderValidationError)
    return parse_list_order(text, source=source)


def load_default_list_order() -> ListOrder:
    """The list order shipped with fit-lab (``triage/list_orders/default.yaml``): example local targets."""
    text = resources.files("triage").joinpath(DEFAULT_LIST_ORDER_FILE).read_text(encoding="utf-8")
    return parse_list_order(text, source=f"triage/{DEFAULT_LIST_ORDER_FILE}")
