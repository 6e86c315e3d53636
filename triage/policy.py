"""The threshold policy: a site's versioned, approved rules for turning an f-Hb result into a decision.

The policy lives in a human-readable YAML file (see ``triage/policies/``) so that the thresholds are in
one place, reviewed and signed off by the clinical safety officer, and every outcome can name the version it
was decided by. It is validated in full on load: a policy that could leave a value without a band, give it
two bands, or carry a rule this library does not understand is refused before it can decide anything.
"""

from __future__ import annotations

from datetime import date
from itertools import pairwise
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from triage.config_file import parse_model, read_file
from triage.errors import PolicyValidationError
from triage.measurement import ClinicalFlag

_SLUG = r"^[a-z][a-z0-9_]*$"
# Band names triage gives to results that fall in no band; a policy band may not take them.
INDETERMINATE_BAND = "indeterminate"
NO_VALID_RESULT_BAND = "no_valid_result"
# A referral with a do-not-wait flag is referred without a FIT: it has no result to place in a band.
NOT_TESTED_BAND = "not_tested"
RESERVED_BAND_NAMES = (INDETERMINATE_BAND, NO_VALID_RESULT_BAND, NOT_TESTED_BAND)
# Priority 1 is seen first. Nine levels keep the stored key a single sortable character.
MOST_URGENT_PRIORITY = 1
LEAST_URGENT_PRIORITY = 9
_Priority = Field(ge=MOST_URGENT_PRIORITY, le=LEAST_URGENT_PRIORITY)


class _Strict(BaseModel):
    # extra="forbid": an unknown key is most likely a rule the author expected to act: never ignore it.
    model_config = ConfigDict(extra="forbid", frozen=True)


class Source(_Strict):
    """A document the policy's rules come from (guideline, local decision record)."""

    id: str = Field(pattern=_SLUG, max_length=40)
    citation: str = Field(min_length=1)
    url: str | None = None


class Band(_Strict):
    """An f-Hb range: ``from_ug_per_g`` inclusive, ``below_ug_per_g`` exclusive (``None``: top band)."""

    name: str = Field(pattern=_SLUG, max_length=40)
    label: str = Field(min_length=1)
    from_ug_per_g: float = Field(ge=0)
    below_ug_per_g: float | None
    action: Literal["reassure", "refer"]
    priority: int = _Priority
    meaning: str = Field(min_length=1, description="what the result means, for the explanation and the letter")
    source: str

    def contains(self, value_ug_per_g: float) -> bool:
        return self.from_ug_per_g <= value_ug_per_g and (
            self.below_ug_per_g is None or value_ug_per_g < self.below_ug_per_g
        )

    @property
    def range_text(self) -> str:
        if self.below_ug_per_g is None:
            return f"{self.from_ug_per_g:g} µg/g and above"
        return f"{self.from_ug_per_g:g} to below {self.below_ug_per_g:g} µg/g"


class ClinicalOverride(_Strict):
    """A clinical flag that decides the action whatever the f-Hb."""

    flag: ClinicalFlag
    action: Literal["refer"]
    priority: int = _Priority
    do_not_wait_for_fit: bool
    reason: str = Field(min_length=1)
    source: str


class CensoredRule(_Strict):
    """What to do with a censored value that cannot be placed on one side of the referral threshold."""

    action: Literal["repeat", "refer"]
    priority: int = _Priority
    reason: str = Field(min_length=1)
    source: str


class ErrorResultRule(_Strict):
    """What to do when the analyser gave an error instead of a number."""

    action: Literal["repeat"]
    priority: int = _Priority
    reason: str = Field(min_length=1)
    source: str
    known_codes: dict[str, str] = Field(default_factory=dict, description="error code -> wording for letters")


class CensoredPlacementRule(_Strict):
    """Where a censored value goes when more than one band could hold it.

    ``highest_possible_band``: a ">x" value (above the analyser's upper range) whose possible values reach past a
    band edge above x is placed in the highest band it could belong to, never the band of its lower limit:
    the safe direction for the colonoscopy queue. It is the only placement this library knows, so a policy
    cannot choose the unsafe direction by accident.
    """

    placement: Literal["highest_possible_band"]
    reason: str = Field(min_length=1)
    source: str


class CensoredValueRules(_Strict):
    less_than_above_threshold: CensoredRule
    greater_than_below_threshold: CensoredRule
    greater_than_spanning_bands: CensoredPlacementRule


class ThresholdPolicy(_Strict):
    """One approved version of a site's triage rules for the analyser methods it lists."""

    version: str = Field(min_length=1, max_length=40)
    title: str = Field(min_length=1)
    effective_from: date
    approved_by: str = Field(min_length=1)
    approved_on: date | None = None
    methods: tuple[str, ...] = Field(min_length=1)
    unit: Literal["ug/g"]
    notes: str = ""
    sources: tuple[Source, ...] = Field(min_length=1)
    bands: tuple[Band, ...] = Field(min_length=2)
    clinical_overrides: tuple[ClinicalOverride, ...]
    censored_values: CensoredValueRules
    error_results: ErrorResultRule

    @model_validator(mode="after")
    def _check_consistency(self) -> ThresholdPolicy:
        problems = _band_problems(self.bands) + _override_problems(self) + _reference_problems(self)
        if len({m.strip().casefold() for m in self.methods}) != len(self.methods):
            problems.append("a method is listed twice in 'methods'")
        if problems:
            raise ValueError("\n".join(problems))
        return self

    # -- questions triage asks -------------------------------------------------------------------------------

    @property
    def referral_threshold_ug_per_g(self) -> float:
        """The lowest f-Hb that is referred: the lower edge of the first 'refer' band (10 in the default)."""
        return self.bands[1].from_ug_per_g

    def band_index_for(self, value_ug_per_g: float) -> int:
        """Index in ``bands`` of the band holding a value (validation guarantees exactly one)."""
        for index, band in enumerate(self.bands):
            if band.contains(value_ug_per_g):
                return index
        raise AssertionError(f"validated policy {self.version} has no band for {value_ug_per_g}")

    def highest_band_index_above(self, value_ug_per_g: float) -> int:
        """Index of the highest band holding any value above ``value_ug_per_g`` (the top band is unbounded)."""
        return max(
            index
            for index, band in enumerate(self.bands)
            if band.below_ug_per_g is None or band.below_ug_per_g > value_ug_per_g
        )

    def override_for(self, flag: ClinicalFlag) -> ClinicalOverride:
        for rule in self.clinical_overrides:
            if rule.flag is flag:
                return rule
        raise AssertionError(f"validated policy {self.version} has no rule for {flag.value}")

    def applies_to(self, method: str) -> bool:
        wanted = method.strip().casefold()
        return any(m.strip().casefold() == wanted for m in self.methods)


def _band_problems(bands: tuple[Band, ...]) -> list[str]:
    problems: list[str] = []
    names = [b.name for b in bands]
    for name in sorted({n for n in names if names.count(n) > 1}):
        problems.append(f"band name '{name}' is used twice")
    for name in sorted(set(names) & set(RESERVED_BAND_NAMES)):
        problems.append(f"band name '{name}' is reserved for results that have no band; choose another name")
    if bands[0].from_ug_per_g != 0:
        problems.append(
            f"first band '{bands[0].name}' starts at {bands[0].from_ug_per_g:g}, not 0: "
            f"values from 0 to {bands[0].from_ug_per_g:g} would have no band"
        )
    for band in bands:
        if band.below_ug_per_g is not None and band.below_ug_per_g <= band.from_ug_per_g:
            problems.append(
                f"band '{band.name}' ends ({band.below_ug_per_g:g}) at or before it starts ({band.from_ug_per_g:g})"
            )
    for lower, upper in pairwise(bands):
        if lower.below_ug_per_g is None:
            problems.append(f"band '{lower.name}' has no upper limit but band '{upper.name}' follows it: they overlap")
        elif lower.below_ug_per_g < upper.from_ug_per_g:
            problems.append(
                f"gap between band '{lower.name}' and band '{upper.name}': "
                f"values from {lower.below_ug_per_g:g} to below {upper.from_ug_per_g:g} µg/g have no band"
            )
        elif lower.below_ug_per_g > upper.from_ug_per_g:
            problems.append(
                f"band '{lower.name}' (below {lower.below_ug_per_g:g}) overlaps band '{upper.name}' "
                f"(from {upper.from_ug_per_g:g}): values from {upper.from_ug_per_g:g} to below "
                f"{lower.below_ug_per_g:g} µg/g would have two bands"
            )
    if bands[-1].below_ug_per_g is not None:
        problems.append(
            f"last band '{bands[-1].name}' stops at {bands[-1].below_ug_per_g:g}: "
            "values at or above it would have no band (leave below_ug_per_g empty on the top band)"
        )
    # Censored values are decided against one referral threshold, so exactly the first band reassures.
    if bands[0].action != "reassure":
        problems.append(f"first band '{bands[0].name}' must reassure (it holds the lowest f-Hb)")
    for band in bands[1:]:
        if band.action != "refer":
            problems.append(
                f"band '{band.name}' reassures but lies above another band: only the lowest band may reassure"
            )
    for lower, upper in pairwise(bands):
        if upper.priority > lower.priority:
            problems.append(
                f"band '{upper.name}' has priority {upper.priority}, less urgent than the lower band "
                f"'{lower.name}' (priority {lower.priority}): a higher f-Hb must never be seen later"
            )
    return problems


def _override_problems(policy: ThresholdPolicy) -> list[str]:
    problems: list[str] = []
    seen = [rule.flag for rule in policy.clinical_overrides]
    for flag in ClinicalFlag:
        if seen.count(flag) > 1:
            problems.append(f"clinical flag '{flag.value}' has more than one rule")
        if flag not in seen:
            problems.append(f"clinical flag '{flag.value}' has no rule in clinical_overrides")
    return problems


def _reference_problems(policy: ThresholdPolicy) -> list[str]:
    known = {s.id for s in policy.sources}
    cited: list[tuple[str, str]] = [(f"band '{b.name}'", b.source) for b in policy.bands]
    cited += [(f"override '{r.flag.value}'", r.source) for r in policy.clinical_overrides]
    cited += [
        (
            "censored_values.less_than_above_threshold",
            policy.censored_values.less_than_above_threshold.source,
        ),
        (
            "censored_values.greater_than_below_threshold",
            policy.censored_values.greater_than_below_threshold.source,
        ),
        (
            "censored_values.greater_than_spanning_bands",
            policy.censored_values.greater_than_spanning_bands.source,
        ),
        ("error_results", policy.error_results.source),
    ]
    return [f"{where} cites unknown source '{ref}'" for where, ref in cited if ref not in known]


def parse_policy(text: str, source: str = "<text>") -> ThresholdPolicy:
    """Parse and validate a policy from YAML text; ``source`` names it in error messages."""
    return parse_model(text, source, ThresholdPolicy, PolicyValidationError, "policy")


def load_policy(path: str | Path) -> ThresholdPolicy:
    """Load and validate one policy file."""
    text, source = read_file(path, PolicyValidationError)
    return parse_policy(text, source=source)
