"""Code lists from the NHS data standards and the domain brief (../shared/domain/fit-domain.md §6, §9).

These are reference data, not clinical thresholds: clinical rules live in the triage policy files.
"""

from __future__ import annotations

# NHS Data Dictionary ethnic category (2001 census classification) → the five high-level groups.
ETHNIC_CATEGORIES: dict[str, tuple[str, str]] = {
    "A": ("White", "British"),
    "B": ("White", "Irish"),
    "C": ("White", "Any other White background"),
    "D": ("Mixed", "White and Black Caribbean"),
    "E": ("Mixed", "White and Black African"),
    "F": ("Mixed", "White and Asian"),
    "G": ("Mixed", "Any other mixed background"),
    "H": ("Asian or Asian British", "Indian"),
    "J": ("Asian or Asian British", "Pakistani"),
    "K": ("Asian or Asian British", "Bangladeshi"),
    "L": ("Asian or Asian British", "Any other Asian background"),
    "M": ("Black or Black British", "Caribbean"),
    "N": ("Black or Black British", "African"),
    "P": ("Black or Black British", "Any other Black background"),
    "R": ("Other ethnic groups", "Chinese"),
    "S": ("Other ethnic groups", "Any other ethnic group"),
    "Z": ("Not stated or not known", "Not stated"),
    "99": ("Not stated or not known", "Not known"),
}

SYMPTOM_CODES: frozenset[str] = frozenset(
    {
        "change_in_bowel_habit",
        "rectal_bleeding",
        "abdominal_pain",
        "weight_loss",
        "anaemia",
        "anal_mass",
        "anal_ulceration",
        "tenesmus",
        "other",
    }
)

SEX_CODES: dict[str, str] = {"F": "Female", "M": "Male", "I": "Indeterminate", "U": "Not known"}

ROLES: frozenset[str] = frozenset({"lab", "scientist", "gp", "alliance", "admin"})


def ethnic_group(code: str | None) -> str:
    if code is None or code not in ETHNIC_CATEGORIES:
        return "Not stated or not known"
    return ETHNIC_CATEGORIES[code][0]
