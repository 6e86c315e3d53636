"""Westgard multirules over internal QC (domain brief §3): pure decisions, no database.

A QC value becomes a z-score against the lab's target for that material (mean, SD). A run is rejected when a
rejection rule fires; 1-2s alone is only a warning. ``history`` is the same material's earlier z-scores, oldest
first; ``run`` is the other levels measured in the same run (their z-scores).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass


@dataclass(frozen=True)
class QcTarget:
    mean: float
    sd: float

    def z(self, value: float) -> float:
        return (value - self.mean) / self.sd


@dataclass(frozen=True)
class QcVerdict:
    passed: bool
    rules: tuple[str, ...]  # rejection rules that fired, e.g. ("1-3s",)
    warnings: tuple[str, ...]  # "1-2s"


def _same_side(values: Sequence[float], limit: float) -> bool:
    return all(v > limit for v in values) or all(v < -limit for v in values)


def evaluate(z: float, history: Sequence[float], run: Sequence[float] = ()) -> QcVerdict:
    rules: list[str] = []
    if abs(z) > 3:
        rules.append("1-3s")
    if abs(z) > 2 and (
        (history and _same_side([history[-1], z], 2)) or any(_same_side([other, z], 2) for other in run)
    ):
        rules.append("2-2s")
    if any((z > 2 and other < -2) or (z < -2 and other > 2) for other in run):
        rules.append("R-4s")
    last4 = [*history[-3:], z]
    if len(last4) == 4 and _same_side(last4, 1):
        rules.append("4-1s")
    last10 = [*history[-9:], z]
    if len(last10) == 10 and _same_side(last10, 0):
        rules.append("10x")
    warnings = ("1-2s",) if abs(z) > 2 and not rules else ()
    return QcVerdict(passed=not rules, rules=tuple(rules), warnings=warnings)
