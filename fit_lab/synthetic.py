"""Synthetic practices, deprivation reference data, patients and referrals, for tests, benchmarks and demos.

Only synthetic identities: NHS numbers from the 999 test range, names drawn from short lists of common
names, LSOA codes from E019xxxxx (outside the real range). The distributions are plausible for symptomatic FIT
in England (older patients, slightly more women, ethnicity close to the 2011 census), not exact.
"""

from __future__ import annotations

import csv
import io
import random
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path

import nhs_number

from fit_lab.intake.validate import CSV_COLUMNS

GIVEN_F = ["Olivia", "Amelia", "Margaret", "Susan", "Patricia", "Aisha", "Fatima", "Priya", "Grace", "Joan",
           "Helen", "Sarah", "Mei", "Chloe", "Irene", "Nadia", "Ruth", "Zainab", "Carol", "Anne"]
GIVEN_M = ["Oliver", "George", "David", "John", "Peter", "Mohammed", "Arjun", "Kwame", "Brian", "Stephen",
           "Michael", "Tariq", "Wei", "James", "Robert", "Ian", "Paul", "Imran", "Keith", "Colin"]
FAMILY = ["Smith", "Jones", "Taylor", "Brown", "Williams", "Wilson", "Johnson", "Davies", "Patel", "Khan",
          "Robinson", "Wright", "Thompson", "Evans", "Walker", "White", "Roberts", "Green", "Hall", "Ahmed",
          "Begum", "Hussain", "Okafor", "Mensah", "Chen", "Nowak", "Murphy", "Kelly", "Hughes", "Edwards"]
STREETS = ["Mill Lane", "Church Street", "Station Road", "Victoria Road", "Park Avenue", "High Street",
           "Manor Close", "Queens Road", "Oak Drive", "Chapel Row"]
TOWNS = ["Leeds", "Bradford", "Halifax", "Wakefield", "Huddersfield", "Harrogate", "York", "Keighley"]
OUTWARD = ["LS1", "LS6", "LS9", "LS11", "LS17", "BD3", "BD5", "BD9", "HX1", "HX3", "WF1", "WF10", "HD1",
           "HD8", "HG1", "YO10", "YO24", "BD21"]
ETHNICITY_WEIGHTS = {"A": 74.0, "B": 1.0, "C": 5.5, "D": 0.8, "E": 0.3, "F": 0.6, "G": 0.5, "H": 2.8,
                     "J": 2.7, "K": 1.0, "L": 1.5, "M": 1.0, "N": 1.8, "P": 0.5, "R": 0.7, "S": 1.3,
                     "Z": 3.0, "99": 1.0}
SYMPTOM_WEIGHTS = {"change_in_bowel_habit": 45, "rectal_bleeding": 30, "abdominal_pain": 30, "weight_loss": 12,
                   "anaemia": 8, "tenesmus": 3, "anal_mass": 0.3, "anal_ulceration": 0.2, "other": 5}
PRACTICE_KINDS = ["Medical Centre", "Surgery", "Health Centre"]
_INWARD_LETTERS = "ABDEFGHJLNPQRSTUWXYZ"


@dataclass(frozen=True)
class SyntheticPractice:
    ods_code: str
    name: str
    pcn_code: str
    address: str
    postcode: str


def synthetic_nhs_numbers(rng: random.Random) -> Iterator[str]:
    """Unique valid NHS numbers from the 999 test range, in a random order."""
    seen: set[str] = set()
    while True:
        stem = f"999{rng.randrange(1_000_000):06d}"
        check = nhs_number.calculate_checksum(stem)
        if check == 10 or stem in seen:
            continue
        seen.add(stem)
        yield f"{stem}{check}"


def practices(count: int = 40, seed: int = 1) -> list[SyntheticPractice]:
    rng = random.Random(seed)
    out = []
    for i in range(count):
        town = TOWNS[i % len(TOWNS)]
        out.append(
            SyntheticPractice(
                ods_code=f"Y9{i + 1:04d}",
                name=f"{rng.choice(STREETS).split()[0]} {rng.choice(PRACTICE_KINDS)}, {town}",
                pcn_code=f"U9{i // 5 + 1:04d}",
                address=f"{rng.randint(1, 200)} {rng.choice(STREETS)}, {town}",
                postcode=_postcode(rng),
            )
        )
    return out


def practices_csv(items: list[SyntheticPractice]) -> bytes:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(["ods_code", "name", "pcn_code", "address", "postcode"])
    for p in items:
        writer.writerow([p.ods_code, p.name, p.pcn_code, p.address, p.postcode])
    return buffer.getvalue().encode()


def _postcode(rng: random.Random) -> str:
    return f"{rng.choice(OUTWARD)} {rng.randint(1, 9)}{rng.choice(_INWARD_LETTERS)}{rng.choice(_INWARD_LETTERS)}"


def reference_files(
    directory: Path, *, areas: int = 400, postcodes_per_area: int = 12, seed: int = 7
) -> tuple[Path, Path]:
    """Write a small IMD 2019-style LSOA file and an ONS-style postcode lookup; return their paths."""
    rng = random.Random(seed)
    directory.mkdir(parents=True, exist_ok=True)
    imd_path, pc_path = directory / "synthetic_imd2019.csv", directory / "synthetic_postcode_lsoa.csv"
    used: set[str] = set()
    with imd_path.open("w", newline="") as imd, pc_path.open("w", newline="") as pcs:
        imd_writer, pc_writer = csv.writer(imd, lineterminator="\n"), csv.writer(pcs, lineterminator="\n")
        imd_writer.writerow(["LSOA code (2011)", "LSOA name (2011)", "Index of Multiple Deprivation (IMD) Rank",
                             "Index of Multiple Deprivation (IMD) Decile"])
        pc_writer.writerow(["pcds", "lsoa11", "lsoa21"])
        for i in range(areas):
            lsoa = f"E019{i + 1:05d}"
            decile = i % 10 + 1
            imd_writer.writerow([lsoa, f"Synthetic {i + 1:03d}", decile * 3000 - rng.randint(0, 2999), decile])
            for _ in range(postcodes_per_area):
                code = _postcode(rng)
                while code in used:
                    code = _postcode(rng)
                used.add(code)
                pc_writer.writerow([code, lsoa, f"E019{i + 1:05d}"])
    return imd_path, pc_path


def known_postcodes(pc_path: Path) -> list[str]:
    with pc_path.open(newline="") as handle:
        return [row["pcds"] for row in csv.DictReader(handle)]


def referral_rows(
    count: int,
    *,
    practice_codes: list[str],
    postcodes: list[str],
    start: date,
    days: int = 28,
    seed: int = 42,
    unknown_postcode_share: float = 0.02,
) -> list[dict[str, str]]:
    rng = random.Random(seed)
    numbers = synthetic_nhs_numbers(rng)
    ethnic_codes, ethnic_weights = list(ETHNICITY_WEIGHTS), list(ETHNICITY_WEIGHTS.values())
    symptom_codes, symptom_weights = list(SYMPTOM_WEIGHTS), list(SYMPTOM_WEIGHTS.values())
    rows = []
    for i in range(count):
        referral_date = start + timedelta(days=rng.randrange(days))
        age = min(99, max(18, int(rng.gauss(64, 14))))
        born = referral_date - timedelta(days=age * 365 + rng.randrange(365))
        sex = rng.choices(["F", "M", "U"], weights=[52, 47, 1])[0]
        given = rng.choice(GIVEN_F if sex == "F" else GIVEN_M)
        symptoms = sorted(set(rng.choices(symptom_codes, weights=symptom_weights, k=rng.choice([1, 1, 2, 2, 3]))))
        postcode = _postcode(rng) if rng.random() < unknown_postcode_share else rng.choice(postcodes)
        rows.append(
            {
                "nhs_number": next(numbers),
                "family_name": rng.choice(FAMILY),
                "given_name": given,
                "date_of_birth": born.isoformat(),
                "sex": sex,
                "address_line1": f"{rng.randint(1, 250)} {rng.choice(STREETS)}",
                "address_line2": "",
                "town": rng.choice(TOWNS),
                "postcode": postcode,
                "ethnicity_code": rng.choices(ethnic_codes, weights=ethnic_weights)[0],
                "practice_ods": rng.choice(practice_codes),
                "requester": f"Dr {rng.choice(FAMILY)}",
                "referral_date": referral_date.isoformat(),
                "symptoms": ";".join(symptoms),
                "haemoglobin_g_per_l": f"{rng.gauss(132, 16):.0f}" if rng.random() < 0.6 else "",
                "ferritin_ug_per_l": f"{max(2.0, rng.lognormvariate(4.3, 0.8)):.0f}" if rng.random() < 0.5 else "",
                "iron_deficiency_anaemia": "y" if rng.random() < 0.05 else "n",
                "abdominal_mass": "y" if rng.random() < 0.01 else "n",
                "rectal_mass": "y" if rng.random() < 0.005 else "n",
                "external_ref": f"EXT-{seed}-{i + 1:07d}",
                "clinical_concern": "y" if rng.random() < 0.03 else "n",
            }
        )
    return rows


# Each spoils one field in a way a real feed does; the key is the field the report must name.
CORRUPTIONS: dict[str, tuple[str, str]] = {
    "bad_check_digit": ("nhs_number", "9990000001"),
    "identical_digits": ("nhs_number", "4444444444"),
    "future_dob": ("date_of_birth", "2099-01-01"),
    "unknown_practice": ("practice_ods", "X99999"),
    "unknown_ethnicity": ("ethnicity_code", "Q"),
    "bad_postcode": ("postcode", "NOT A PC"),
    "text_haemoglobin": ("haemoglobin_g_per_l", "low"),
    "unknown_symptom": ("symptoms", "headache"),
}


def spoil(rows: list[dict[str, str]], share: float, *, seed: int = 3) -> dict[int, str]:
    """Spoil a share of rows in place; returns {CSV row number: field that is now wrong}."""
    rng = random.Random(seed)
    kinds = list(CORRUPTIONS)
    chosen = rng.sample(range(len(rows)), k=round(len(rows) * share))
    spoiled = {}
    for n, index in enumerate(sorted(chosen)):
        field_name, value = CORRUPTIONS[kinds[n % len(kinds)]]
        rows[index][field_name] = value
        spoiled[index + 2] = field_name
    return spoiled


def referrals_csv(rows: list[dict[str, str]]) -> bytes:
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=[*CSV_COLUMNS, "clinical_concern"], lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return buffer.getvalue().encode()
