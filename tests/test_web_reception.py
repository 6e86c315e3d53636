"""The reception page in a real browser (issue 6, done-when 2), and the pages' log-in, role and CSRF checks.

The browser test starts the real app with uvicorn on 127.0.0.1 over a migrated SQLite database, then drives
Debian's Chromium headless through Playwright the way a bench works: the scanner types the ID and presses Enter.
Set FIT_LAB_UPDATE_SCREENSHOTS=1 to rewrite docs/images/reception-{accepted,refused}.png from the run.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select
from sqlalchemy.engine import Engine
from sqlmodel import Session

import labels
from fit_lab import synthetic
from fit_lab.api.app import create_app
from fit_lab.clock import fixed_clock, system_clock
from fit_lab.db.models import AuditEvent, Kit, Patient, Referral
from fit_lab.services import dashboard, dispatch, intake, kits, users
from fit_lab.web.session import SESSION_COOKIE
from tests.api_support import PASSWORD, build_world, make_settings
from tests.browser_support import chromium_or_skip, launch, served
from tests.conftest import ADMIN, LAB, REFERENCE_DIR, REPO

# The browser needs one engine only; the service rules under the page are tested on both in test_reception.py.
SQLITE_ONLY = pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)

SCREENSHOTS = REPO / "docs" / "images"
BENCH_USER = "bench.lab"


@dataclass
class Tube:
    specimen_id: str
    name: str
    nhs_number: str
    date_of_birth: date


@dataclass
class LabWorld:
    base_url: str
    engine: Engine
    tubes: list[Tube]
    voided: str
    now: datetime


def _seed(engine: Engine, now: datetime) -> tuple[list[Tube], str]:
    """23 referrals; 22 kits posted five days ago, and one more in a batch that was then cancelled (voided)."""
    rows = synthetic.referral_rows(
        23, practice_codes=[f"Y9{i:04d}" for i in range(1, 7)],
        postcodes=synthetic.known_postcodes(REFERENCE_DIR / "synthetic_postcode_lsoa.csv"),
        start=now.date() - timedelta(days=12), days=3, seed=6,
    )
    for row in rows:
        intake.create_referral(engine, row, actor=ADMIN, clock=fixed_clock(now - timedelta(days=6)))
    posted = fixed_clock(now - timedelta(days=5))
    dispatch.create_batch(engine, actor=ADMIN, limit=22, clock=posted)
    spare = dispatch.create_batch(engine, actor=ADMIN, limit=1, clock=posted)
    assert spare.batch_id is not None
    dispatch.cancel_batch(engine, spare.batch_id, reason="labels printed on the wrong stock", actor=ADMIN,
                          clock=posted)
    users.add_user(engine, BENCH_USER, "lab", PASSWORD, practice_ods=None, actor=ADMIN)
    with Session(engine) as session:
        found = session.execute(
            select(Kit.specimen_id, Kit.state, Patient.given_name, Patient.family_name, Patient.nhs_number,
                   Patient.date_of_birth)
            .join(Referral, Referral.id == Kit.referral_id).join(Patient, Patient.id == Referral.patient_id)
            .order_by(Kit.id)
        ).all()
    tubes = [Tube(r.specimen_id, f"{r.given_name} {r.family_name}", r.nhs_number, r.date_of_birth)
             for r in found if r.state == "dispatched"]
    (voided,) = [r.specimen_id for r in found if r.state == "cancelled"]
    assert len(tubes) == 22
    return tubes, voided


@pytest.fixture
def lab(reference_loaded: Engine) -> Iterator[LabWorld]:
    """The real app served by uvicorn on a free port of 127.0.0.1, over the seeded database."""
    now = system_clock()
    tubes, voided = _seed(reference_loaded, now)
    with served(create_app(make_settings(), reference_loaded)) as base_url:
        yield LabWorld(base_url, reference_loaded, tubes, voided, now)


def _spaced(nhs_number: str) -> str:
    return f"{nhs_number[:3]} {nhs_number[3:6]} {nhs_number[6:]}"


def _kit(engine: Engine, specimen_id: str) -> Kit:
    with Session(engine) as session:
        return session.execute(select(Kit).where(Kit.specimen_id == specimen_id)).scalar_one()


def _screenshot(page, name: str, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    target = SCREENSHOTS if os.environ.get("FIT_LAB_UPDATE_SCREENSHOTS") == "1" else tmp_path
    page.screenshot(path=str(target / f"reception-{name}.png"))


@SQLITE_ONLY
def test_a_tray_scanned_at_the_bench_shows_who_each_tube_is_and_refuses_what_it_must(lab, tmp_path):
    chromium_or_skip()
    from playwright.sync_api import expect, sync_playwright

    engine, tubes = lab.engine, lab.tubes
    collected = lab.now.date() - timedelta(days=2)
    later_collected = lab.now.date() - timedelta(days=1)
    unknown = labels.specimen_id_from_serial(999_999)
    # 20 scans: 17 tubes of the tray, one scanned twice, one the lab never sent, one from a voided batch.
    scans = [t.specimen_id for t in tubes[:17]]
    scans.insert(6, tubes[3].specimen_id)
    scans.insert(11, unknown)
    scans.insert(15, lab.voided)
    assert len(scans) == 20

    with sync_playwright() as pw:
        browser = launch(pw)
        page = browser.new_page(viewport={"width": 1280, "height": 720})
        page.goto(f"{lab.base_url}/reception")
        expect(page).to_have_url(re.compile(r"/login\?next=/reception$"))
        expect(page).to_have_title("Log in – fit-lab")
        page.get_by_label("User name").fill(BENCH_USER)
        page.get_by_label("Password").fill(PASSWORD)
        with page.expect_navigation():
            page.keyboard.press("Enter")
        expect(page).to_have_url(f"{lab.base_url}/reception")

        scan_box, date_box = page.locator("#specimen_id"), page.get_by_label("Collection date", exact=True)
        heading, panel = page.locator("#result-heading"), page.locator("#result")
        by_id = {t.specimen_id: t for t in tubes}
        seen, dates = set(), {}
        for n, specimen_id in enumerate(scans):
            expect(scan_box).to_be_focused()
            expect(scan_box).to_have_value("")
            if n == 0:
                date_box.fill(collected.isoformat())
            elif n == 10:
                date_box.fill(later_collected.isoformat())
            else:  # the date typed for the previous tube stays for the next one
                expect(date_box).to_have_value((collected if n < 10 else later_collected).isoformat())
            scan_box.focus()
            dates.setdefault(specimen_id, collected if n < 10 else later_collected)
            page.keyboard.type(specimen_id)
            with page.expect_navigation():
                page.keyboard.press("Enter")

            tube = by_id.get(specimen_id)
            if specimen_id == unknown:
                expect(heading).to_have_text("REFUSED")
                expect(panel).to_have_attribute("role", "alert")
                expect(panel).to_contain_text(f"No kit {unknown} was found")
                expect(page.locator("#result-nhs")).to_have_count(0)
            elif specimen_id == lab.voided:
                expect(heading).to_have_text("REFUSED")
                expect(panel).to_have_attribute("role", "alert")
                expect(panel).to_contain_text("VOIDED")
                expect(page.locator("#result-nhs")).to_have_count(0)
                _screenshot(page, "refused", tmp_path)
            elif specimen_id in seen:
                expect(heading).to_have_text("ALREADY RECEIVED")
                expect(panel).to_contain_text(f"Already received {_local(lab.now)}")
                expect(panel).to_contain_text(f"by {BENCH_USER}. Nothing changed.")
                expect(page.locator("#result-nhs")).to_have_text(_spaced(tube.nhs_number))
            else:
                assert tube is not None
                expect(heading).to_have_text("RECEIVED")
                expect(panel).to_have_attribute("role", "status")
                expect(page.locator("#result-name")).to_have_text(tube.name)
                expect(page.locator("#result-dob")).to_have_text(tube.date_of_birth.strftime("%d-%b-%Y"))
                expect(page.locator("#result-nhs")).to_have_text(_spaced(tube.nhs_number))
                expect(page.locator("#result-specimen")).to_have_text(specimen_id)
                seen.add(specimen_id)
                if n == 2:
                    _screenshot(page, "accepted", tmp_path)
        expect(scan_box).to_be_focused()
        _expect_tray(page, received=17, refused=2, rejected=0)

        leaked = tubes[5]
        page.locator("#reject_specimen_id").fill(leaked.specimen_id)
        page.get_by_label("Reason", exact=True).select_option("leaked_damaged")
        page.get_by_label("Note").fill("cap cracked in transit")
        with page.expect_navigation():
            page.get_by_role("button", name="Reject kit").click()
        expect(heading).to_have_text("REJECTED")
        expect(panel).to_have_attribute("role", "alert")
        expect(panel).to_contain_text("the sample leaked or the tube was damaged in the post")
        expect(page.locator("#result-nhs")).to_have_text(_spaced(leaked.nhs_number))
        expect(scan_box).to_be_focused()
        _expect_tray(page, received=16, refused=2, rejected=1)

        page.get_by_role("link", name="Dashboard").click()
        expect(page).to_have_title("Dashboard – fit-lab")
        # Overdue: the referral whose kit was voided with its batch has waited six days for another (the failsafe's
        # rules, every kind of lateness).
        expected_tiles = {"awaiting_dispatch": 2, "in_the_post": 5, "received_today": 17, "awaiting_analysis": 16,
                          "held_by_qc": 0, "unmatched_results": 0, "red_flags": 0, "overdue": 1}
        for name, count in expected_tiles.items():
            expect(page.locator(f"#tile-{name} .tile__count")).to_have_text(str(count))
        page.locator("#tile-awaiting_analysis").click()
        expect(page.locator("h1")).to_have_text("Awaiting analysis")
        expect(page.locator("tbody tr")).to_have_count(16)
        browser.close()

    _expect_database(engine, tubes, lab.voided, dates)


def _local(at: datetime) -> str:
    from fit_lab.services.dashboard import LAB_TIMEZONE

    return at.astimezone(LAB_TIMEZONE).strftime("%d-%b-%Y")


def _expect_tray(page, *, received: int, refused: int, rejected: int) -> None:  # type: ignore[no-untyped-def]
    from playwright.sync_api import expect

    for name, count in (("received", received), ("refused", refused), ("rejected", rejected)):
        expect(page.locator(f"#tray-{name}")).to_have_text(str(count))


def _expect_database(engine: Engine, tubes: list[Tube], voided: str, dates: dict[str, date]) -> None:
    for n, tube in enumerate(tubes):
        kit = _kit(engine, tube.specimen_id)
        if n == 5:
            assert (kit.state, kit.reject_reason, kit.reject_note) == ("rejected", "leaked_damaged",
                                                                        "cap cracked in transit")
        elif n < 17:
            assert (kit.state, kit.received_by) == ("received", BENCH_USER)
            assert kit.collection_date == dates[tube.specimen_id]
        else:
            assert kit.state == "dispatched"
    assert _kit(engine, voided).state == "cancelled"
    with Session(engine) as session:
        def count(*where) -> int:  # type: ignore[no-untyped-def]
            return session.execute(select(func.count()).select_from(AuditEvent).where(*where)).scalar_one()

        by_bench = AuditEvent.actor == BENCH_USER
        assert count(by_bench, AuditEvent.action == "login", AuditEvent.outcome == "ok") == 1
        received = session.execute(select(AuditEvent.detail).where(
            by_bench, AuditEvent.action == "transition", AuditEvent.entity == "kit")).scalars().all()
        assert sorted(d["to"] for d in received) == ["received"] * 17 + ["rejected"]
        assert [d.get("why") for d in received if d["to"] == "rejected"] == ["leaked_damaged"]
        second_scans = session.execute(select(AuditEvent.detail).where(
            by_bench, AuditEvent.action == "read", AuditEvent.entity == "kit")).scalars().all()
        assert second_scans == [{"second_scan": True}]
        assert count(by_bench, AuditEvent.action == "read", AuditEvent.entity == "dashboard_list",
                      AuditEvent.entity_id == "awaiting_analysis") == 1
        replacement = session.execute(select(Kit).where(Kit.replaces_kit_id.is_not(None))).scalar_one()
        assert replacement.state == "allocated"


# -- the pages' gatekeeping, without a browser ---------------------------------------------------------------------


def _csrf(html: str) -> str:
    found = re.search(r'name="csrf" value="([^"]+)"', html)
    assert found, "the page has no CSRF field"
    return found.group(1)


@pytest.fixture
def world(reference_loaded):
    return build_world(reference_loaded)


@pytest.mark.parametrize("path", ["/reception", "/dashboard", "/dashboard/list/overdue"])
def test_a_visitor_without_a_session_is_sent_to_log_in(world, path):
    answer = world.client.get(path, follow_redirects=False)
    assert answer.status_code == 303 and answer.headers["location"] == f"/login?next={path}"


def test_log_in_sets_an_http_only_strict_cookie_and_returns_to_the_page_asked_for(world):
    page = world.client.get("/login?next=/dashboard")
    answer = world.client.post("/login", data={"username": "lab", "password": PASSWORD, "csrf": _csrf(page.text),
                                               "next_page": "/dashboard"}, follow_redirects=False)
    assert answer.status_code == 303 and answer.headers["location"] == "/dashboard"
    cookie = next(c for c in answer.headers.get_list("set-cookie") if c.startswith(f"{SESSION_COOKIE}="))
    assert "HttpOnly" in cookie and "SameSite=strict" in cookie and "Secure" not in cookie


def test_a_wrong_password_is_said_on_the_page_and_audited(world):
    page = world.client.get("/login")
    answer = world.client.post("/login", data={"username": "lab", "password": "not it at all",
                                               "csrf": _csrf(page.text)})
    assert answer.status_code == 401 and "Wrong user name or password." in answer.text
    assert 'role="alert"' in answer.text
    with Session(world.engine) as session:
        failed = session.execute(select(AuditEvent.outcome, AuditEvent.detail).where(
            AuditEvent.action == "login")).all()
    assert [(outcome, detail["username"]) for outcome, detail in failed] == [("failed", "lab")]


def test_log_in_after_an_offsite_link_lands_on_the_users_own_first_page(world):
    page = world.client.get("/login?next=https://evil.example/")
    assert 'name="next_page" value=""' in page.text
    answer = world.client.post("/login", data={"username": "lab", "password": PASSWORD, "csrf": _csrf(page.text),
                                               "next_page": "https://evil.example/"}, follow_redirects=False)
    assert answer.headers["location"] == "/reception"


def test_a_log_in_form_without_its_own_token_is_refused(world):
    answer = world.client.post("/login", data={"username": "lab", "password": PASSWORD, "csrf": "forged"})
    assert answer.status_code == 400 and SESSION_COOKIE not in answer.headers.get("set-cookie", "")


def test_a_gp_gets_the_not_allowed_page_and_the_attempt_is_audited(world):
    world.client.cookies.set(SESSION_COOKIE, world.tokens["gp_a"])
    answer = world.client.get("/reception")
    assert answer.status_code == 403 and "Not allowed" in answer.text
    with Session(world.engine) as session:
        denied = session.execute(select(AuditEvent).where(AuditEvent.outcome == "denied")).scalar_one()
    assert denied.actor == "gp_a" and denied.detail["path"] == "/reception"


def test_a_scan_without_the_sessions_csrf_token_changes_nothing(world):
    world.client.cookies.set(SESSION_COOKIE, world.tokens["lab"])
    answer = world.client.post("/reception/scan", data={"specimen_id": labels.specimen_id_from_serial(1),
                                                        "collection_date": "2026-11-01", "csrf": "forged"})
    assert answer.status_code == 403 and "This form has expired" in answer.text


def test_an_empty_date_box_is_a_question_not_a_rejection(world):
    world.client.cookies.set(SESSION_COOKIE, world.tokens["lab"])
    page = world.client.get("/reception")
    dispatch.create_batch(world.engine, actor=ADMIN)
    specimen_id = session_kit_ids(world.engine)[0]
    answer = world.client.post("/reception/scan", data={"specimen_id": specimen_id, "collection_date": "",
                                                        "csrf": _csrf(page.text)})
    assert answer.status_code == 422 and "COLLECTION DATE NEEDED" in answer.text
    assert re.search(r'id="collection_date"[^>]*autofocus', answer.text), "the next keystrokes go to the date"
    assert _kit(world.engine, specimen_id).state == "dispatched"


def session_kit_ids(engine: Engine) -> list[str]:
    with Session(engine) as session:
        return list(session.execute(select(Kit.specimen_id).order_by(Kit.id)).scalars())


def test_an_unknown_dashboard_list_is_a_404_page_not_a_500(world):
    world.client.cookies.set(SESSION_COOKIE, world.tokens["scientist"])
    answer = world.client.get("/dashboard/list/everything")
    assert answer.status_code == 404 and "No dashboard list everything was found." in answer.text


# -- the dashboard's counts, on both engines ------------------------------------------------------------------------


def test_each_dashboard_count_is_the_length_of_its_list(reference_loaded):
    engine, now = reference_loaded, system_clock()
    tubes, _voided = _seed(engine, now)
    settings = make_settings()
    three_days_ago = fixed_clock(now - timedelta(days=3))
    for tube in tubes[:4]:  # received three days ago and still not analysed: overdue (target 2 days)
        kits.receive_kit(engine, tube.specimen_id, now.date() - timedelta(days=4), actor=LAB, settings=settings,
                         clock=three_days_ago)
    for tube in tubes[4:9]:
        kits.receive_kit(engine, tube.specimen_id, now.date() - timedelta(days=1), actor=LAB, settings=settings)
    kits.reject_kit(engine, tubes[9].specimen_id, "unlabelled", actor=LAB, settings=settings)

    counts = {t.name: t.count for t in dashboard.tiles(engine, settings=settings)}
    # Overdue: the four kits not analysed within two days, and the referral whose kit was voided six days ago and
    # still waits for another; alerts: the same four kits (not analysed).
    assert counts == {"awaiting_dispatch": 2, "in_the_post": 12, "received_today": 6, "awaiting_analysis": 9,
                      "held_by_qc": 0, "unmatched_results": 0, "red_flags": 0, "alerts": 4, "overdue": 5}
    for name, count in counts.items():
        listed = dashboard.tile_list(engine, name, actor=LAB, settings=settings, limit=100)
        assert len(listed.rows) == listed.tile.count == count, name
    overdue = dashboard.tile_list(engine, "overdue", actor=LAB, settings=settings, limit=100)
    assert {r.specimen_id for r in overdue.rows} == {t.specimen_id for t in tubes[:4]} | {None}
    assert {r.state for r in overdue.rows} == {"received", "awaiting_kit"}
    assert len(dashboard.tile_list(engine, "overdue", actor=LAB, settings=settings, limit=2).rows) == 2
    waiting = dashboard.tile_list(engine, "awaiting_dispatch", actor=LAB, settings=settings, limit=10).rows
    assert {(r.state, r.note) for r in waiting} == {("awaiting_kit", None), ("allocated", "replacement kit")}
