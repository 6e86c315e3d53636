"""Builders shared by the tests (plain functions, no fixtures)."""

from __future__ import annotations

from datetime import date

from fit_lab import synthetic

PRACTICE_A = "Y90001"
PRACTICE_B = "Y90002"


def referral_row(**overrides: str) -> dict[str, str]:
    row = {
        "nhs_number": "9434765919",
        "family_name": "Testwoman",
        "given_name": "Alice",
        "date_of_birth": "1958-03-14",
        "sex": "F",
        "address_line1": "1 Mill Lane",
        "address_line2": "",
        "town": "Leeds",
        "postcode": "LS1 1AA",
        "ethnicity_code": "A",
        "practice_ods": PRACTICE_A,
        "requester": "Dr Jones",
        "referral_date": "2026-10-30",
        "symptoms": "rectal_bleeding;change_in_bowel_habit",
        "haemoglobin_g_per_l": "128",
        "ferritin_ug_per_l": "45",
        "iron_deficiency_anaemia": "n",
        "abdominal_mass": "n",
        "rectal_mass": "n",
        "external_ref": "REF-1",
        "clinical_concern": "n",
    }
    row.update(overrides)
    return row


RED_FLAG_SYMPTOMS = ("anal_mass", "anal_ulceration")


def month_rows(count: int, known_postcodes: list[str], *, seed: int = 42,
               red_flags: bool = False) -> list[dict[str, str]]:
    """A month of synthetic referrals. Without ``red_flags`` none has a do-not-wait flag, so every one is posted a
    kit (tests that count kits); a red-flag referral is never posted one (tests/test_red_flags.py)."""
    rows = synthetic.referral_rows(
        count,
        practice_codes=[f"Y9{i:04d}" for i in range(1, 7)],
        postcodes=known_postcodes,
        start=date(2026, 10, 1),
        days=28,
        seed=seed,
    )
    if not red_flags:
        for row in rows:
            row["rectal_mass"] = "n"
            row["symptoms"] = ";".join(s for s in row["symptoms"].split(";") if s not in RED_FLAG_SYMPTOMS) \
                or "change_in_bowel_habit"
    return rows
