"""The groups the alliance's tables are broken down by, worked out from the rows the statistics read.

Each function takes a frame of referral attributes (``sex``, ``date_of_birth``, ``referral_date``,
``ethnicity_code``, ``imd_decile``, ``practice``, ``pcn``) and returns one label per row. The date of birth is used
here to work out the age band and goes no further.
"""

from __future__ import annotations

import pandas as pd

from fit_lab.codes import ETHNIC_CATEGORIES, SEX_CODES

NOT_STATED = "Not stated or not known"
UNKNOWN = "Unknown"
# Age on the referral date (referrals are for adults, domain brief §9).
AGE_BANDS: tuple[tuple[int, int | None, str], ...] = (
    (18, 40, "18-39"), (40, 50, "40-49"), (50, 60, "50-59"), (60, 70, "60-69"), (70, 80, "70-79"), (80, None, "80+"),
)
ETHNIC_GROUP_ORDER = ("White", "Mixed", "Asian or Asian British", "Black or Black British", "Other ethnic groups",
                      NOT_STATED)
# IMD deciles (1 = most deprived) → quintiles; the statistics name the ends so nobody reads them backwards.
IMD_QUINTILES = ("1 (most deprived)", "2", "3", "4", "5 (least deprived)")
SEX_ORDER = tuple(SEX_CODES.values())


def age_band(frame: pd.DataFrame) -> pd.Series:
    born, on = frame["date_of_birth"], frame["referral_date"]
    years = on.dt.year - born.dt.year - ((on.dt.month < born.dt.month) |
                                         ((on.dt.month == born.dt.month) & (on.dt.day < born.dt.day))).astype(int)
    labels = pd.Series(UNKNOWN, index=frame.index, dtype=object)
    for low, high, label in AGE_BANDS:
        inside = years >= low if high is None else (years >= low) & (years < high)
        labels[inside] = label
    return labels


def ethnic_group(frame: pd.DataFrame) -> pd.Series:
    groups = {code: group for code, (group, _) in ETHNIC_CATEGORIES.items()}
    return frame["ethnicity_code"].map(groups).fillna(NOT_STATED)


def imd_quintile(frame: pd.DataFrame) -> pd.Series:
    decile = pd.to_numeric(frame["imd_decile"], errors="coerce")
    quintile = ((decile + 1) // 2).astype("Int64")
    return quintile.map(lambda q: UNKNOWN if pd.isna(q) else IMD_QUINTILES[int(q) - 1]).astype(object)


def sex(frame: pd.DataFrame) -> pd.Series:
    return frame["sex"].map(SEX_CODES).fillna(SEX_CODES["U"])


def practice(frame: pd.DataFrame) -> pd.Series:
    return frame["practice"].astype(object)


def pcn(frame: pd.DataFrame) -> pd.Series:
    return frame["pcn"].fillna(UNKNOWN).astype(object)


# name → (title, labeller, fixed order of the groups or None to sort them)
BREAKDOWNS = {
    "by_practice": ("GP practice", practice, None),
    "by_pcn": ("Primary care network", pcn, None),
    "by_age_band": ("Age band", age_band, (*(label for _, _, label in AGE_BANDS), UNKNOWN)),
    "by_sex": ("Sex", sex, SEX_ORDER),
    "by_ethnic_group": ("Ethnic group", ethnic_group, ETHNIC_GROUP_ORDER),
    "by_imd_quintile": ("IMD quintile", imd_quintile, (*IMD_QUINTILES, UNKNOWN)),
}
# Groups the inequality watch compares with everyone (the unknowns are reported, not compared).
WATCHED = {"by_ethnic_group": NOT_STATED, "by_imd_quintile": UNKNOWN}


def attach_groups(frame: pd.DataFrame) -> pd.DataFrame:
    """``frame`` with one column per breakdown, and without the date of birth."""
    out = frame.copy()
    for name, (_, labeller, _) in BREAKDOWNS.items():
        out[name] = labeller(frame) if len(frame) else pd.Series(dtype=object)
    return out.drop(columns=["date_of_birth"])
