"""A synthetic year of the pathway at England's volume, written straight to the tables, for benchmarks only.

Each referral has a patient (a valid NHS number from the 999 test range, generated groups), a kit posted the next
day, and a fate drawn as the domain brief describes it: about 10% never returned (closed after 28 days), about 4%
of returns rejected with a replacement, the rest analysed the day after receipt and reported at once; f-Hb mostly
censored below the reporting limit, with a long tail of positives. The 999 range holds fewer than a million valid
numbers, so each patient is referred twice, six months apart. Rows go in with executemany on SQLite and COPY on
PostgreSQL, month by month, so a year of 1.5 million tests fits in memory.

The services are bypassed on purpose: this measures the statistics over a year of data, not the workflow.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

import numpy as np
from sqlalchemy import text
from sqlalchemy.engine import Engine

ETHNIC = np.array([*"ABCDEFGHJKLMNPRSZ", "99"])
ETHNIC_P = np.array([74.0, 1.0, 5.5, 0.8, 0.3, 0.6, 0.5, 2.8, 2.0, 0.8, 0.9, 1.0, 1.6, 0.4, 0.6, 1.0, 3.0, 3.2])
BANDS = (("negative", 0.0, "reassure", "P9"), ("positive", 10.0, "refer", "P3"), ("high", 100.0, "refer", "P2"),
         ("highest", 400.0, "refer", "P1"))
POLICY = "default-oc-sensor-1.1"
DAY_S = 86_400
NON_RETURN_BY_QUINTILE = np.array([1.0, 1.45, 1.15, 0.95, 0.8, 0.66])  # index 0: deprivation unknown
REPLACEMENT_IDS = 10_000_000  # kit ids of replacements start here; a referral's first kit has the referral's id


@dataclass(frozen=True)
class Year:
    practices: int
    tests_per_month: int
    months: tuple[date, ...]


def nhs_numbers(count: int) -> np.ndarray:
    """The first ``count`` valid NHS numbers 999xxxxxxC (modulus 11; a check digit of 10 is invalid)."""
    stems = np.arange(999_000_000, 999_000_000 + count * 11 // 10 + 20, dtype=np.int64)
    digits = np.stack([(stems // 10 ** (8 - i)) % 10 for i in range(9)], axis=1)
    check = (11 - (digits * np.arange(10, 1, -1)).sum(axis=1) % 11) % 11
    keep = check != 10
    found = (stems[keep] * 10 + check[keep])[:count]
    assert len(found) == count, "the 999 range has fewer valid NHS numbers than asked for"
    return found


def _iso(seconds: np.ndarray) -> list[str | None]:
    """Epoch seconds → the text SQLite stores for a UTC timestamp ('YYYY-MM-DD HH:MM:SS.ffffff'); NaN → None."""
    out: list[str | None] = [None] * len(seconds)
    known = ~np.isnan(seconds)
    stamps = np.datetime_as_string((seconds[known] * 1e6).astype("datetime64[us]"), unit="us")
    for index, stamp in zip(np.flatnonzero(known), stamps, strict=True):
        out[index] = stamp.replace("T", " ")
    return out


@dataclass(frozen=True)
class Patients:
    nhs: np.ndarray
    practice: np.ndarray
    sex: np.ndarray
    ethnic: np.ndarray
    decile: np.ndarray
    born_days: np.ndarray  # days since 1970

    @classmethod
    def draw(cls, count: int, practices: int, rng: np.random.Generator) -> Patients:
        decile = rng.integers(1, 11, count).astype(object)
        decile[rng.random(count) < 0.03] = None  # postcode not in the lookup: deprivation unknown
        return cls(nhs_numbers(count), rng.integers(1, practices + 1, count),
                   rng.choice(np.array(["F", "M", "I", "U"]), count, p=[0.53, 0.46, 0.005, 0.005]),
                   rng.choice(ETHNIC, count, p=ETHNIC_P / ETHNIC_P.sum()), decile,
                   rng.integers(-45 * 365, 37 * 365, count))  # born 1925 to 2006: adults in 2026


def _patient_rows(p: Patients, first_id: int, made: str) -> tuple[str, list[str], list[tuple[Any, ...]]]:
    born = p.born_days.astype("datetime64[D]").astype(str)
    rows = [(first_id + k, str(p.nhs[k]), "Synthetic", "Person", born[k], p.sex[k], "1 Test Street", "LS1 1AA",
             p.ethnic[k], p.decile[k], "IMD2019" if p.decile[k] is not None else None, int(p.practice[k]), made, made)
            for k in range(len(p.nhs))]
    return ("patient", ["id", "nhs_number", "family_name", "given_name", "date_of_birth", "sex", "address_line1",
                        "postcode", "ethnicity_code", "imd_decile", "imd_edition", "practice_id", "created_at",
                        "updated_at"], rows)


def _month_rows(year: Year, index: int, patients: Patients, rng: np.random.Generator
                ) -> Iterator[tuple[str, list[str], list[tuple[Any, ...]]]]:
    n, month = year.tests_per_month, year.months[index]
    start = datetime(month.year, month.month, 1, tzinfo=UTC).timestamp()
    following = datetime(month.year + (month.month == 12), month.month % 12 + 1, 1, tzinfo=UTC).timestamp()
    ids = np.arange(index * n + 1, index * n + n + 1)
    who = (index % 6) * n + np.arange(n)  # patient indexes: the same people again six months later
    practice = patients.practice[who]
    received = np.sort(rng.uniform(start, following, n))
    referral_date = (received // DAY_S).astype("datetime64[D]").astype(str)
    yield ("referral", ["id", "practice_id", "patient_id", "requester", "referral_date", "symptoms",
                        "iron_deficiency_anaemia", "abdominal_mass", "rectal_mass", "clinical_concern", "status",
                        "source", "received_at", "created_by"],
           [(int(i), int(p), int(w) + 1, "Dr Synthetic", r, '["rectal_bleeding"]', False, False, False, False,
             "resulted", "csv", m, "bench")
            for i, p, w, r, m in zip(ids, practice, who, referral_date, _iso(received), strict=True)])

    posted = received + rng.uniform(0.4, 1.6, n) * DAY_S
    # Non-return about 2.2 times higher in the most deprived quintile than the least (domain brief §4).
    decile = np.array([d if d is not None else 0 for d in patients.decile[who]])
    never_p = 0.10 * NON_RETURN_BY_QUINTILE[(decile + 1) // 2]
    fate = rng.random(n)
    never = fate < never_p
    rejected = ~never & (rng.random(n) < 0.04)
    back = np.where(never, np.nan, posted + rng.lognormal(np.log(6), 0.45, n) * DAY_S)
    replacement = REPLACEMENT_IDS + ids[rejected]
    replacement_posted = back[rejected] + DAY_S
    replacement_back = replacement_posted + rng.lognormal(np.log(5), 0.3, int(rejected.sum())) * DAY_S
    tested_kit, tested_back = ids.astype(np.int64).copy(), back.copy()
    tested_kit[rejected], tested_back[rejected] = replacement, replacement_back
    analysed = tested_back + DAY_S
    released = analysed + 2 * 3600
    state = np.where(never, "not_returned", np.where(rejected, "rejected", "reported"))
    not_returned = np.where(never, posted + 28 * DAY_S, np.nan)
    first_analysed = np.where(rejected | never, np.nan, analysed)
    kits = [(int(i), f"F{int(i):010d}", int(i), None, s, p, p, p, b, b if rj else None,
             "leaked_damaged" if rj else None, nr, a, 1)
            for i, s, p, b, nr, rj, a in zip(ids, state, _iso(posted), _iso(back), _iso(not_returned), rejected,
                                             _iso(first_analysed), strict=True)]
    kits += [(int(k), f"F{int(k):010d}", int(r), int(r), "reported", p, p, p, b, None, None, None, a, 1)
             for k, r, p, b, a in zip(replacement, ids[rejected], _iso(replacement_posted), _iso(replacement_back),
                                      _iso(analysed[rejected]), strict=True)]
    yield ("kit", ["id", "specimen_id", "referral_id", "replaces_kit_id", "state", "state_changed_at", "allocated_at",
                   "dispatched_at", "received_at", "rejected_at", "reject_reason", "not_returned_at", "analysed_at",
                   "version"], kits)

    tested = ~never
    censored = rng.random(n) < 0.72  # domain brief §3: about 72% of GP results carry "<"
    value = np.where(censored, rng.choice([2.0, 4.0, 7.0, 10.0], n), np.round(rng.lognormal(1.6, 1.5, n), 1))
    comparator = np.where(censored, "<", "=")
    band_index = np.searchsorted([b[1] for b in BANDS], np.where(censored, 0.0, value), side="right") - 1
    results, outcomes, letters = [], [], []
    for i, k, p, c, v, bi, a, rel in zip(ids[tested], tested_kit[tested], practice[tested], comparator[tested],
                                         value[tested], band_index[tested], _iso(analysed[tested]),
                                         _iso(released[tested]), strict=True):
        band, _, action, priority = BANDS[bi]
        results.append((int(i), int(k), f"F{int(k):010d}", "SIM-1", "OC-Sensor", c, float(v), a, a, "released", rel))
        outcomes.append((int(i), int(i), int(i), action, band, priority, "synthetic", POLICY, True, rel,
                         json.dumps({"comparator": c, "fhb_ug_per_g": float(v)})))
        letters.append((int(i), int(i), int(p), int(k), int(i), "positive" if action == "refer" else "reassurance",
                        POLICY, rel, b"", "{}"))
    yield ("result", ["id", "kit_id", "specimen_id", "instrument", "method", "comparator", "fhb_ug_per_g",
                      "measured_at", "stored_at", "status", "released_at"], results)
    yield ("triage_outcome", ["id", "referral_id", "result_id", "action", "band", "priority_key", "explanation",
                              "policy_version", "is_current", "created_at", "detail"], outcomes)
    yield ("letter", ["id", "referral_id", "practice_id", "kit_id", "outcome_id", "kind", "policy_version",
                      "created_at", "pdf", "content"], letters)


def write_year(engine: Engine, year: Year, *, seed: int = 2026,
               progress: Callable[[str], None] = print) -> int:
    """Write the year (practices, patients, then month by month); returns the number of rows written."""
    rng = np.random.default_rng(seed)
    made = "2024-01-01 00:00:00.000000"
    _write(engine, "practice", ["id", "ods_code", "name", "pcn_code", "created_at"],
           [(i, f"Y{i:05d}", f"Practice {i}", f"U{(i - 1) // 5 + 1:05d}", made) for i in range(1, year.practices + 1)])
    patients = Patients.draw(6 * year.tests_per_month, year.practices, rng)
    written = _write(engine, *_patient_rows(patients, 1, made))
    for index, month in enumerate(year.months):
        for table, columns, rows in _month_rows(year, index, patients, rng):
            written += _write(engine, table, columns, rows)
        progress(f"  {month:%Y-%m}: {year.tests_per_month:,} tests ({written:,} rows written)")
    with engine.begin() as conn:
        conn.execute(text("ANALYZE"))
    return written


def _write(engine: Engine, table: str, columns: list[str], rows: list[tuple[Any, ...]]) -> int:
    if engine.dialect.name == "postgresql":
        raw = engine.raw_connection()
        try:
            with raw.cursor() as cursor, cursor.copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN") as copy:
                for row in rows:
                    copy.write_row([_pg(v) for v in row])
            raw.commit()
        finally:
            raw.close()
    else:
        with engine.begin() as conn:
            statement = f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({', '.join('?' * len(columns))})"  # noqa: S608 - our own table names
            conn.exec_driver_sql(statement, rows)
    return len(rows)


def _pg(value: object) -> object:
    # COPY reads a timestamp as text: the SQLite form plus an explicit UTC offset.
    if isinstance(value, str) and len(value) == 26 and value[4] == "-" and value[10] == " ":
        return value + "+00"
    return value
