"""Errors raised by the triage library.

Every message is written for the lab scientist or clinical safety officer who will read it: it names the
policy file, band, rule or letter field at fault and says what is wrong, so it can be fixed without
reading the code.
"""

from __future__ import annotations


class TriageError(Exception):
    """Base class of every error the triage library raises."""


class PolicyError(TriageError):
    """A threshold policy cannot be used."""


class PolicyValidationError(PolicyError):
    """A policy file was refused at load: it is malformed, has a gap or overlap, or names an unknown rule.

    ``problems`` lists each problem found, one sentence each; ``str()`` joins them after the file name.
    """

    def __init__(self, source: str, problems: list[str]) -> None:
        self.source = source
        self.problems = list(problems)
        listed = "; ".join(self.problems)
        super().__init__(f"policy {source} refused: {listed}")


class PolicyConflictError(PolicyError):
    """Two policies in a set claim the same method from the same effective date."""


class NoPolicyForMethodError(PolicyError):
    """No policy in force covers the result's analyser method (thresholds are never pooled across methods)."""

    def __init__(self, method: str, message: str) -> None:
        self.method = method
        super().__init__(message)


class PolicyMethodMismatchError(PolicyError):
    """A result was handed to a policy that does not apply to its analyser method."""


class MeasurementError(TriageError):
    """A measurement or a set of referral facts is not a value the policy can decide on."""


class RankingError(TriageError):
    """The colonoscopy list was given an entry that does not belong on it."""


class ListOrderError(TriageError):
    """A colonoscopy list order cannot be used."""


class ListOrderValidationError(ListOrderError):
    """A list order file was refused at load: a priority without a target, a target of 0 days or beyond the
    Faster Diagnosis Standard, an unknown field.

    ``problems`` lists each problem found, one sentence each; ``str()`` joins them after the file name.
    """

    def __init__(self, source: str, problems: list[str]) -> None:
        self.source = source
        self.problems = list(problems)
        listed = "; ".join(self.problems)
        super().__init__(f"list order {source} refused: {listed}")


class LetterError(TriageError):
    """A letter cannot be produced."""


class LetterTemplateError(LetterError):
    """A letter template is missing or uses a placeholder the library does not fill."""


class LetterDataError(LetterError):
    """The data for a letter lacks a field that kind of letter must carry."""
