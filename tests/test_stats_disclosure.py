"""Disclosure control (domain brief §7) and done-when 2 of the statistics issue: every alliance output (CSV, XLSX
cells, JSON, the page) carries no identifier and no count below the threshold, not even through a total.
"""

from __future__ import annotations

import io
import json
import random
import re
from datetime import UTC, datetime, timedelta

import openpyxl
import pandas as pd
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlmodel import Session

from fit_lab.api.app import create_app
from fit_lab.db.models import AuditEvent, Practice, Referral
from fit_lab.services import users
from fit_lab.stats.definitions import Kind, Measure
from fit_lab.stats.disclosure import DisclosureRules, publish, suppressed_cells
from fit_lab.stats.tables import SUPPRESSED, TOTAL, Table
from fit_lab.web.session import SESSION_COOKIE
from tests.api_support import PASSWORD, make_settings
from tests.conftest import ADMIN
from tests.stats_support import Cohort, Planter

RULES = DisclosureRules()  # 1-7 suppressed, rounded to 5 (NHS Digital practice)
COUNT = Measure("n", "Count", Kind.COUNT, "a count")
OTHER = Measure("m", "Other count", Kind.COUNT, "another count")
RATE = Measure("rate", "Rate (%)", Kind.RATE, "m / n", numerator="m", denominator="n")
DAYS = Measure("median", "Median (days)", Kind.DAYS, "median days", n="m")


def table(name: str, rows: dict[str, tuple[float, ...]], measures=(COUNT,), total: bool = True) -> Table:
    # Rates are worked out from their counts when published: the raw table holds counts and times only.
    frame = pd.DataFrame.from_dict(rows, orient="index", columns=[m.column for m in measures if m.kind != Kind.RATE])
    if total:
        frame.loc[TOTAL] = frame.sum(numeric_only=True)
    return Table(name, name, "Group", frame, tuple(measures), has_total=total)


def published(tables: list[Table], relations=()):
    return publish({t.name: t for t in tables}, list(relations), RULES)


def values(out, name, column="n"):
    t = out[name]
    return {row[0]: row[t.columns.index(column)] for row in t.rows}


# -- the rules, one at a time -----------------------------------------------------------------------------------------


def test_counts_of_one_to_seven_are_suppressed_and_the_others_rounded_to_five():
    out = published([table("t", {"a": (0,), "b": (1,), "c": (7,), "d": (8,), "e": (12,), "f": (13,), "g": (1000,)},
                           total=False)])
    assert values(out, "t") == {"a": 0, "b": SUPPRESSED, "c": SUPPRESSED, "d": 10, "e": 10, "f": 15, "g": 1000}


def test_a_total_that_would_reveal_one_suppressed_cell_gets_a_second_cell_suppressed():
    out = published([table("t", {"a": (3,), "b": (40,), "c": (25,), "d": (0,)})])
    # Total 68 − 40 − 25 would give a = 3: the smallest non-zero other cell goes too.
    assert values(out, "t") == {"a": SUPPRESSED, "b": 40, "c": SUPPRESSED, "d": 0, TOTAL: 70}


def test_when_every_other_cell_is_zero_the_total_itself_is_suppressed():
    out = published([table("t", {"a": (5,), "b": (0,), "c": (0,)})])
    assert values(out, "t") == {"a": SUPPRESSED, "b": 0, "c": 0, TOTAL: SUPPRESSED}


def test_two_suppressed_cells_need_nothing_more():
    out = published([table("t", {"a": (3,), "b": (4,), "c": (30,)})])
    assert values(out, "t") == {"a": SUPPRESSED, "b": SUPPRESSED, "c": 30, TOTAL: 35}


def test_a_practice_is_protected_against_its_pcns_row_in_the_other_table():
    practices = table("by_practice", {"P1": (6,), "P2": (30,), "P3": (20,), "P4": (20,)})
    pcns = table("by_pcn", {"U1": (36,), "U2": (40,)})
    in_pcn = {"U1": ["P1", "P2"], "U2": ["P3", "P4"]}
    relations = [(("by_pcn", pcn, "n"), [("by_practice", p, "n") for p in members]) for pcn, members in in_pcn.items()]
    out = published([practices, pcns], relations)
    # U1 (36) − P2 (30) would give P1 = 6: P2 is suppressed as well; the practices' Total then hides nothing more.
    assert values(out, "by_practice") == {"P1": SUPPRESSED, "P2": SUPPRESSED, "P3": 20, "P4": 20, TOTAL: 75}
    assert values(out, "by_pcn") == {"U1": 35, "U2": 40, TOTAL: 75}


def test_secondary_suppression_spreads_until_no_sum_has_exactly_one_hidden_cell():
    first = table("t", {"a": (2,), "b": (9,), "c": (50,)})
    summary = table("summary", {TOTAL: (61,)}, total=False)
    hidden = suppressed_cells({"t": first, "summary": summary},
                              [(("summary", TOTAL, "n"), [("t", TOTAL, "n")])], RULES)
    assert hidden == {("t", "a", "n"), ("t", "b", "n")}


def test_rates_are_suppressed_with_their_counts_and_when_few_are_left_out():
    rows = {"small_num": (40, 5), "small_den": (6, 6), "few_missing": (40, 37), "fine": (40, 20), "none": (0, 0)}
    out = published([table("t", rows, measures=(COUNT, OTHER, RATE), total=False)])
    assert values(out, "t", "rate") == {"small_num": SUPPRESSED, "small_den": SUPPRESSED,
                                        "few_missing": SUPPRESSED,  # 37 of 40: would tell that 3 did not
                                        "fine": 50.0, "none": None}


def test_a_median_over_a_suppressed_count_is_suppressed():
    rows = {"few": (40, 5, 3.25), "many": (40, 20, 4.04), "none": (40, 0, float("nan"))}
    out = published([table("t", rows, measures=(COUNT, OTHER, DAYS), total=False)])
    assert values(out, "t", "median") == {"few": SUPPRESSED, "many": 4.0, "none": None}


# -- done-when 2: every output of a realistic month, scanned ----------------------------------------------------------

ETHNICITIES = ["A", "A", "A", "B", "C", "D", "H", "J", "K", "M", "N", "R", "S", "Z", "99"]


@pytest.fixture
def month_of_small_groups(engine):
    """About 600 patients in cohorts of 1 to 12 across 24 practices in 6 PCNs: many small cells on purpose."""
    practices = {f"Y8{i:04d}": f"U8{i // 4:04d}" for i in range(24)}
    planter = Planter(engine, practices)
    rng = random.Random(20260901)
    fates = [dict(back_after_post=timedelta(days=4)), dict(back_after_post=timedelta(days=16)), dict(),
             dict(back_after_post=timedelta(days=3), rejected="too_old", replacement_back_after=timedelta(days=4)),
             dict(back_after_post=timedelta(days=6), band="positive", fhb=35.0),
             dict(back_after_post=timedelta(days=5), band="highest", fhb=480.0),
             dict(back_after_post=timedelta(days=7), band="negative", comparator="<", fhb=7.0)]
    for _ in range(90):
        referred = datetime(2026, 9, rng.randint(1, 28), rng.randint(8, 17), tzinfo=UTC)
        planter.plant(Cohort(rng.randint(1, 12), rng.choice(list(practices)), referred, sex=rng.choice("FFMMIU"),
                             ethnicity=rng.choice(ETHNICITIES), imd_decile=rng.choice([None, *range(1, 11)]),
                             age=rng.randint(18, 95), **rng.choice(fates)))
    return engine, planter


def _identifiers(planter: Planter) -> list[str]:
    found = []
    for p in planter.planted:
        nhs, born = str(p["nhs_number"]), p["date_of_birth"]
        found += [nhs, f"{nhs[:3]} {nhs[3:6]} {nhs[6:]}", f"{p['given_name']} {p['family_name']}",
                  str(p["postcode"]), born.isoformat(), born.strftime("%d-%b-%Y"), str(p["address_line1"])]
    return found


def _alliance_client(engine) -> TestClient:
    users.add_user(engine, "alliance.one", "alliance", PASSWORD, practice_ods=None, actor=ADMIN)
    client = TestClient(create_app(make_settings(), engine))
    token = client.post("/api/v1/auth/token", data={"username": "alliance.one", "password": PASSWORD}).json()
    client.headers["Authorization"] = f"Bearer {token['access_token']}"
    client.cookies.set(SESSION_COOKIE, token["access_token"])
    return client


def _count_columns(document) -> dict[str, set[str]]:
    return {name: {m["column"] for m in document["measures"] if m["kind"] == "count"} & set(t["columns"])
            | ({"kits_rejected"} if name == "rejections" else set())
            | ({"outcomes"} if name == "results_by_band" else set())
            | ({"results"} if name == "fhb_distribution" else set())
            for name, t in document["tables"].items()}


def _assert_no_small_count(value) -> None:
    assert value == SUPPRESSED or value == 0 or (isinstance(value, int) and value >= 8 and value % 5 == 0), value


def _assert_no_sum_reveals_one_cell(document) -> None:
    counts = _count_columns(document)
    tables = {name: pd.DataFrame(t["rows"], columns=t["columns"]).set_index("group")
              for name, t in document["tables"].items()}
    summary = tables["summary"]
    for name, frame in tables.items():
        for column in counts[name]:
            if TOTAL in frame.index and name != "summary":
                hidden = int((frame[column] == SUPPRESSED).sum())
                assert hidden != 1, f"{name}.{column}: one suppressed cell and a published total"
                if column in summary.columns:  # the Total row and the summary are the same figure
                    assert (frame.at[TOTAL, column] == SUPPRESSED) == (summary.at[TOTAL, column] == SUPPRESSED)
    practices, pcns = tables["by_practice"], tables["by_pcn"]
    for pcn, members in practices.drop(index=TOTAL).groupby("pcn"):
        for column in counts["by_practice"]:
            cells = [*members[column], pcns.at[pcn, column]]
            assert sum(c == SUPPRESSED for c in cells) != 1, f"{pcn}.{column}: its practices give one cell away"


def test_no_output_holds_an_identifier_or_a_small_count_even_by_differencing(month_of_small_groups):
    engine, planter = month_of_small_groups
    client = _alliance_client(engine)
    document = client.get("/api/v1/stats/monthly", params={"month": "2026-09", "format": "json"}).json()
    csv_text = client.get("/api/v1/stats/monthly", params={"month": "2026-09", "format": "csv"}).text
    xlsx = client.get("/api/v1/stats/monthly", params={"month": "2026-09", "format": "xlsx"}).content
    page = client.get("/stats", params={"month": "2026-09"})
    assert page.status_code == 200
    book = openpyxl.load_workbook(io.BytesIO(xlsx))
    cells = [str(c.value) for sheet in book for row in sheet.iter_rows() for c in row if c.value is not None]
    outputs = {"json": json.dumps(document, ensure_ascii=False), "csv": csv_text, "xlsx": "\n".join(cells),
               "page": page.text}
    for identifier in _identifiers(planter):
        for kind, text in outputs.items():
            assert identifier not in text, f"{identifier!r} in the {kind} output"

    counts = _count_columns(document)
    for name, t in document["tables"].items():
        for row in t["rows"]:
            for column in counts[name]:
                _assert_no_small_count(row[t["columns"].index(column)])
    _assert_no_sum_reveals_one_cell(document)
    count_measures = {m["column"] for m in document["measures"] if m["kind"] == "count"} | {
        "kits_rejected", "outcomes", "results"}
    for record in pd.read_csv(io.StringIO(csv_text), dtype=str, keep_default_na=False).itertuples():
        if record.measure in count_measures:
            _assert_no_small_count(SUPPRESSED if record.value == SUPPRESSED else int(record.value))
    for sheet in book:
        if sheet.title in ("README", "Inequality watch", "Charts"):
            continue
        header = [c.value for c in sheet[2]]
        titles = {m["title"] for m in document["measures"] if m["kind"] == "count"} | {"Kits rejected", "Outcomes",
                                                                                       "Results"}
        for row in sheet.iter_rows(min_row=3, values_only=True):
            for title, value in zip(header, row, strict=False):
                if title in titles and value is not None:
                    _assert_no_small_count(value)
    page_counts = [int(n) for n in re.findall(r"<td>(\d+)</td>", page.text)]  # whole numbers: counts
    assert page_counts and all(n == 0 or n >= 8 for n in page_counts)

    # The true small cells are the ones hidden: referrals per practice, counted straight from the database.
    with Session(engine) as session:
        true = dict(session.execute(
            select(Practice.ods_code, func.count(Referral.id))
            .join(Referral, Referral.practice_id == Practice.id).group_by(Practice.ods_code)).all())
    shown = {row[0]: row[document["tables"]["by_practice"]["columns"].index("referrals")]
             for row in document["tables"]["by_practice"]["rows"]}
    assert any(1 <= n <= 7 for n in true.values())
    for ods, n in true.items():
        if 1 <= n <= 7:
            assert shown[ods] == SUPPRESSED, ods
        else:
            assert shown[ods] in (SUPPRESSED, 5 * round(n / 5)), ods
    with Session(engine) as session:
        pulls = session.execute(select(func.count()).select_from(AuditEvent).where(
            AuditEvent.entity == "monthly_stats", AuditEvent.actor == "alliance.one")).scalar_one()
    assert pulls == 4
