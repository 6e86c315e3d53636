"""A site's policies, one or more per analyser method, and the choice of the one that applies to a result."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date
from importlib import resources
from pathlib import Path

from triage.decide import refer_without_fit, triage
from triage.errors import NoPolicyForMethodError, PolicyConflictError, PolicyError
from triage.measurement import Measurement, ReferralFacts
from triage.outcome import TriageOutcome
from triage.policy import ThresholdPolicy, load_policy, parse_policy


class PolicySet:
    """Several policies keyed by method and effective date.

    For a result of method M analysed on day D the policy used is the one for M with the latest
    ``effective_from`` on or before D. A later version therefore takes over from its effective date, and
    results analysed before it keep the version that was in force.
    """

    def __init__(self, policies: Iterable[ThresholdPolicy]) -> None:
        self._policies: tuple[ThresholdPolicy, ...] = tuple(policies)
        claimed: dict[tuple[str, date], str] = {}
        versions: set[str] = set()
        for policy in self._policies:
            if policy.version in versions:
                raise PolicyConflictError(f"policy version '{policy.version}' is loaded twice")
            versions.add(policy.version)
            for method in policy.methods:
                key = (method.strip().casefold(), policy.effective_from)
                if key in claimed:
                    raise PolicyConflictError(
                        f"policies {claimed[key]} and {policy.version} both cover method '{method}' from "
                        f"{policy.effective_from.isoformat()}; give one a different effective date"
                    )
                claimed[key] = policy.version

    @property
    def policies(self) -> tuple[ThresholdPolicy, ...]:
        return self._policies

    @property
    def methods(self) -> tuple[str, ...]:
        seen: dict[str, str] = {}
        for policy in self._policies:
            for method in policy.methods:
                seen.setdefault(method.strip().casefold(), method)
        return tuple(sorted(seen.values(), key=str.casefold))

    def policy_for(self, method: str, on: date) -> ThresholdPolicy:
        """The policy in force for ``method`` on day ``on``; ``NoPolicyForMethodError`` if there is none."""
        candidates = [p for p in self._policies if p.applies_to(method)]
        if not candidates:
            covered = ", ".join(self.methods) or "none"
            raise NoPolicyForMethodError(
                method,
                f"no triage policy covers analyser method '{method}' (policies cover: {covered}); "
                "a result is never triaged with another method's thresholds",
            )
        in_force = [p for p in candidates if p.effective_from <= on]
        if not in_force:
            first = min(p.effective_from for p in candidates)
            raise NoPolicyForMethodError(
                method,
                f"no triage policy for method '{method}' was in force on {on.isoformat()}; "
                f"the earliest starts {first.isoformat()}",
            )
        return max(in_force, key=lambda p: p.effective_from)

    def in_force(self, on: date) -> tuple[ThresholdPolicy, ...]:
        """Each method's policy in force on ``on`` (once each, in version order)."""
        chosen: dict[str, ThresholdPolicy] = {}
        for method in self.methods:
            try:
                policy = self.policy_for(method, on)
            except NoPolicyForMethodError:
                continue
            chosen[policy.version] = policy
        return tuple(chosen[version] for version in sorted(chosen))

    def refer_without_fit(self, facts: ReferralFacts, on: date) -> TriageOutcome | None:
        """The red-flag outcome for a referral received on ``on``, if any policy in force says it must not wait.

        At intake the analyser method is not known yet, so the referral is referred without a FIT when the
        policy of any method in force says so (the safe direction).
        """
        for policy in self.in_force(on):
            outcome = refer_without_fit(facts, policy)
            if outcome is not None:
                return outcome
        return None

    def triage(self, measurement: Measurement, facts: ReferralFacts, on: date) -> TriageOutcome:
        """Triage with the policy for the measurement's method in force on ``on`` (the analysis date)."""
        return triage(measurement, facts, self.policy_for(measurement.method, on))

    @classmethod
    def load_directory(cls, directory: str | Path) -> PolicySet:
        """Load every ``*.yaml`` / ``*.yml`` policy file in a directory (each validated)."""
        folder = Path(directory)
        files = sorted([*folder.glob("*.yaml"), *folder.glob("*.yml")])
        if not files:
            raise PolicyError(f"no policy files (*.yaml) found in {folder}")
        return cls(load_policy(file) for file in files)


def load_default_policies() -> PolicySet:
    """The policies shipped with fit-lab (``triage/policies/``): NICE DG56 threshold, example local bands."""
    folder = resources.files("triage").joinpath("policies")
    policies = [
        parse_policy(entry.read_text(encoding="utf-8"), source=f"triage/policies/{entry.name}")
        for entry in sorted(folder.iterdir(), key=lambda e: e.name)
        if entry.name.endswith((".yaml", ".yml"))
    ]
    return PolicySet(policies)
