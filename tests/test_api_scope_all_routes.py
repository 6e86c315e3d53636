"""Every route of the app, found from the app itself, has its access decided here, and each decision is checked.

The routes come from ``app.routes`` (API, pages, documentation, static files), so a route added later is in these
tests the moment it exists: until ``ACCESS`` says who may call it, every test below fails for it. For each route
that carries patient data (issue 3, done-when 4):
- without a log-in it is refused (401; a page sends the visitor to log in), and the attempt is audited;
- an alliance user (aggregates only) gets 403, audited;
- a GP of practice A gets 404 for practice B's record (a route with an id), sees only practice A's rows (a list),
  cannot create for practice B, or gets 403 where GPs are not admitted, each attempt audited;
- a successful read is audited.
"""

from __future__ import annotations

import random
import shutil
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from itertools import islice
from typing import Any

import fastapi.routing
import pytest
from sqlalchemy import create_engine, func, select
from sqlalchemy.engine import Engine
from sqlmodel import Session
from starlette.routing import Mount

from analyser_drivers import OC_SENSOR
from fit_lab import synthetic
from fit_lab.api.app import create_app
from fit_lab.clock import fixed_clock
from fit_lab.db.engine import make_engine
from fit_lab.db.models import AuditEvent, DemographicsChange, IntakeRejection, Kit, Letter, Referral, Result
from fit_lab.errors import ValidationError
from fit_lab.services import dispatch, intake, kits, practices, reference
from fit_lab.services.analyser import qc_tubes
from fit_lab.web.session import SESSION_COOKIE, csrf_token
from tests.api_support import ApiWorld, build_world, make_settings, practice_id
from tests.conftest import ADMIN, LAB, NOW, REFERENCE_DIR, _postgres_copy, _postgres_drop
from tests.helpers import PRACTICE_A, PRACTICE_B, referral_row
from tests.results_support import AT, SETTINGS, TARGETS, store, tube

STAFF = ("lab", "scientist", "admin")
ALL_ROLES = ("lab", "scientist", "admin", "gp", "alliance")
MONTH = f"{NOW:%Y-%m}"


@dataclass(frozen=True)
class Access:
    """Who may call a route, and what it shows.

    ``kind``: public (no data), signed_in (no patient data: counts, aggregates, one's own account) or patient.
    ``scope`` (patient data): record (an id: another practice's answers 404), list (a GP sees own practice's rows),
    create (a GP creates for own practice only) or staff (GPs are not admitted: 403).
    ``url`` is filled from one practice's records (``{referral}``, ``{letter}``, ...), ``body`` names a request body.
    """

    kind: str
    roles: tuple[str, ...] = ()
    scope: str = ""
    url: str = ""
    body: str | None = None
    page: bool = False
    why: str = ""


def public(why: str) -> Access:
    return Access("public", why=why)


def signed_in(url: str, *roles: str, page: bool = False, body: str | None = None, why: str = "") -> Access:
    return Access("signed_in", roles or ALL_ROLES, url=url, page=page, body=body, why=why)


def patient(scope: str, url: str, *roles: str, body: str | None = None, page: bool = False) -> Access:
    assert (scope == "staff") == ("gp" not in roles), "a route admitting GPs must say how it scopes them"
    return Access("patient", roles, scope, url, body, page)


API = "/api/v1"
READERS = ("lab", "scientist", "admin", "gp")
VIEWERS = ("gp", "scientist", "admin")
ACCESS: dict[tuple[str, str], Access] = {
    # ---- no data at all ----
    ("GET", "/openapi.json"): public("the API's description"),
    ("GET", "/docs"): public("the API's description"),
    ("GET", "/docs/oauth2-redirect"): public("the API's description"),
    ("GET", "/redoc"): public("the API's description"),
    ("MOUNT", "/static"): public("stylesheets"),
    ("GET", f"{API}/health"): public("liveness"),
    ("POST", f"{API}/auth/token"): public("log-in; failures are throttled and audited (tests/test_api_limits.py)"),
    ("GET", "/"): public("redirects to log-in or the user's first page"),
    ("GET", "/login"): public("log-in page"),
    ("POST", "/login"): public("log-in form; CSRF and throttling in tests/test_web_reception.py"),
    # ---- signed in, no patient data ----
    ("GET", f"{API}/auth/me"): signed_in(f"{API}/auth/me", why="one's own account"),
    ("GET", f"{API}/stats/monthly"): signed_in(f"{API}/stats/monthly?month={MONTH}", "alliance", "admin",
                                                why="aggregates, suppressed, no identifiers"),
    ("POST", "/logout"): signed_in("/logout", page=True, body="csrf", why="ends one's own session"),
    ("GET", "/reception"): signed_in("/reception", *STAFF, page=True, why="the tray's counts only"),
    ("POST", "/reception/tray"): signed_in("/reception/tray", *STAFF, page=True, body="csrf",
                                           why="starts a new tray count"),
    ("GET", "/dashboard"): signed_in("/dashboard", *STAFF, page=True, why="counts only"),
    ("GET", "/stats"): signed_in(f"/stats?month={MONTH}", "alliance", "admin", page=True, why="aggregates"),
    ("GET", "/stats/monthly.{fmt}"): signed_in(f"/stats/monthly.csv?month={MONTH}", "alliance", "admin", page=True,
                                               why="aggregates"),
    # ---- referrals ----
    ("POST", f"{API}/referrals"): patient("create", f"{API}/referrals", "lab", "admin", "gp", body="referral"),
    ("POST", f"{API}/referrals/import"): patient("create", f"{API}/referrals/import", "lab", "admin", "gp",
                                                 body="referral_csv"),
    ("GET", f"{API}/referrals/{{referral_id:int}}"): patient("record", f"{API}/referrals/{{referral}}", *READERS),
    ("GET", f"{API}/referrals"): patient("list", f"{API}/referrals", *READERS),
    ("GET", f"{API}/intake-rejections"): patient("staff", f"{API}/intake-rejections", "lab", "admin"),
    ("POST", f"{API}/referrals/{{referral_id:int}}/release-hold"): patient(
        "staff", f"{API}/referrals/{{held_referral}}/release-hold", "lab", "admin", body="hold"),
    ("POST", f"{API}/intake-rejections/{{rejection_id:int}}/resolve"): patient(
        "staff", f"{API}/intake-rejections/{{rejection}}/resolve", "lab", "admin", body="resolution"),
    ("GET", f"{API}/demographics-changes"): patient("staff", f"{API}/demographics-changes?status=applied",
                                                               "lab", "admin"),
    ("POST", f"{API}/demographics-changes/{{change_id:int}}/reconcile"): patient(
        "staff", f"{API}/demographics-changes/{{demographics_change}}/reconcile", "lab", "admin", body="reconcile"),
    # ---- dispatch ----
    ("POST", f"{API}/dispatch-batches"): patient("staff", f"{API}/dispatch-batches", "lab", "admin", body="empty"),
    **{("GET", f"{API}/dispatch-batches/{{batch_id}}/{name}"): patient(
        "staff", f"{API}/dispatch-batches/{{batch}}/{name}", "lab", "admin")
       for name in ("labels.pdf", "labels.zpl", "letters.pdf", "manifest.csv")},
    ("POST", f"{API}/dispatch-batches/{{batch_id}}/cancel"): patient(
        "staff", f"{API}/dispatch-batches/{{batch}}/cancel", "lab", "admin", body="reason"),
    # ---- reception ----
    ("POST", f"{API}/kits/{{specimen_id}}/receive"): patient("staff", f"{API}/kits/{{specimen}}/receive", *STAFF,
                                                             body="empty"),
    ("POST", f"{API}/kits/{{specimen_id}}/reject"): patient("staff", f"{API}/kits/{{specimen}}/reject", *STAFF,
                                                            body="reject"),
    ("POST", "/reception/scan"): patient("staff", "/reception/scan", *STAFF, body="scan", page=True),
    ("POST", "/reception/reject"): patient("staff", "/reception/reject", *STAFF, body="scan_reject", page=True),
    ("GET", "/dashboard/list/{name}"): patient("staff", "/dashboard/list/held_by_qc", *STAFF, page=True),
    # ---- results ----
    ("GET", f"{API}/results/unmatched"): patient("staff", f"{API}/results/unmatched", "scientist", "admin"),
    ("GET", f"{API}/results/held"): patient("staff", f"{API}/results/held", "scientist", "admin"),
    ("POST", f"{API}/results/{{result_id}}/link"): patient(
        "staff", f"{API}/results/{{unmatched_result}}/link", "scientist", "admin", body="link"),
    ("POST", f"{API}/results/{{result_id}}/discard"): patient(
        "staff", f"{API}/results/{{unmatched_result}}/discard", "scientist", "admin", body="reason"),
    ("POST", f"{API}/results/{{result_id}}/release"): patient(
        "staff", f"{API}/results/{{held_result}}/release", "scientist", "admin"),
    ("POST", f"{API}/results/{{result_id}}/reject-too-old"): patient(
        "staff", f"{API}/results/{{held_result}}/reject-too-old", "scientist", "admin"),
    ("POST", f"{API}/results/{{result_id}}/amend"): patient(
        "staff", f"{API}/results/{{result}}/amend", "scientist", "admin", body="amend"),
    # ---- outcomes, letters, colonoscopy list, FHIR ----
    ("GET", f"{API}/outcomes"): patient("list", f"{API}/outcomes", *VIEWERS),
    ("GET", f"{API}/outcomes/{{referral_id}}"): patient("record", f"{API}/outcomes/{{referral}}", *VIEWERS),
    ("GET", f"{API}/letters"): patient("list", f"{API}/letters", *VIEWERS),
    ("GET", f"{API}/letters/{{letter_id}}.pdf"): patient("record", f"{API}/letters/{{letter}}.pdf", *VIEWERS),
    ("POST", f"{API}/letters/{{letter_id}}/acknowledge"): patient("record", f"{API}/letters/{{letter}}/acknowledge",
                                                                  "gp"),
    ("GET", f"{API}/triage/colonoscopy-list"): patient("staff", f"{API}/triage/colonoscopy-list", "scientist",
                                                       "admin"),
    ("POST", f"{API}/triage/colonoscopy-list/{{referral_id}}/state"): patient(
        "staff", f"{API}/triage/colonoscopy-list/{{referral}}/state", "scientist", "admin", body="list_state"),
    ("GET", f"{API}/fhir/DiagnosticReport/{{result_id}}"): patient(
        "record", f"{API}/fhir/DiagnosticReport/{{result}}", *VIEWERS),
    # ---- GP pages ----
    ("GET", "/gp"): patient("list", "/gp", "gp", page=True),
    ("GET", "/gp/letters"): patient("list", "/gp/letters", "gp", page=True),
    ("GET", "/gp/letters/{letter_id}.pdf"): patient("record", "/gp/letters/{letter}.pdf", "gp", page=True),
    ("POST", "/gp/letters/{letter_id}/acknowledge"): patient("record", "/gp/letters/{letter}/acknowledge", "gp",
                                                             page=True, body="csrf"),
}


def app_routes(app: Any) -> list[tuple[str, str]]:
    """(method, path) of every route the app answers, HEAD aside; a mounted app is ("MOUNT", path)."""
    # FastAPI 0.16x keeps included routers whole in app.routes and flattens them with iter_route_contexts;
    # earlier versions list every route in app.routes itself.
    flatten = getattr(fastapi.routing, "iter_route_contexts", None)
    found = []
    for context in (flatten(app.routes) if flatten else app.routes):
        if isinstance(getattr(context, "original_route", context), Mount):
            found.append(("MOUNT", context.path))
            continue
        found.extend((method, context.path) for method in sorted((context.methods or set()) - {"HEAD"}))
    return found


ROUTES = app_routes(create_app(make_settings(), create_engine("sqlite://")))


def _routes(*kinds: str, where: Any = None) -> list[Any]:
    """Routes of these kinds, plus every route not yet classified (so that each test fails for it)."""
    chosen = []
    for route in ROUTES:
        rule = ACCESS.get(route)
        if rule is None or (rule.kind in kinds and (where is None or where(route, rule))):
            chosen.append(pytest.param(route, id=f"{route[0]} {route[1]}"))
    return chosen


def _rule(route: tuple[str, str]) -> Access:
    rule = ACCESS.get(route)
    if rule is None:
        pytest.fail(f"{route[0]} {route[1]} has no access decision: add it to ACCESS in {__name__} (public, "
                    "signed_in or patient, with the roles it admits and how it scopes a GP)")
    return rule


# ---- the world: two practices, each with referrals, a held referral, a refused row, results and letters ---------

@dataclass
class World:
    api: ApiWorld
    engine: Engine
    records: dict[str, dict[str, Any]] = field(default_factory=dict)
    practice: dict[str, int] = field(default_factory=dict)
    nhs_numbers: dict[str, set[str]] = field(default_factory=dict)
    fresh: Iterator[str] = field(default_factory=lambda: islice(synthetic.synthetic_nhs_numbers(random.Random(99)),
                                                                 10_000))


def _new_nhs(world: World) -> str:
    used = set().union(*world.nhs_numbers.values())
    return next(n for n in world.fresh if n not in used)


def _populate(engine: Engine) -> World:
    practices.import_practices(engine, synthetic.practices_csv(synthetic.practices(6)), actor=ADMIN)
    reference.load_imd(engine, REFERENCE_DIR / "synthetic_imd2019.csv", REFERENCE_DIR / "synthetic_postcode_lsoa.csv",
                       actor=ADMIN)
    api = build_world(engine)  # users; referral_a (practice A, 9434765919) and referral_b (B, 9990000018)
    world = World(api, engine, practice={"A": practice_id(engine, PRACTICE_A), "B": practice_id(engine, PRACTICE_B)},
                  nhs_numbers={"A": {"9434765919"}, "B": {"9990000018"}})
    week_ago = fixed_clock(NOW - timedelta(days=7))
    extra: dict[str, list[int]] = {"A": [], "B": []}
    for side, ods in (("A", PRACTICE_A), ("B", PRACTICE_B)):
        for n in range(2):
            nhs = _new_nhs(world)
            world.nhs_numbers[side].add(nhs)
            made = intake.create_referral(engine, referral_row(nhs_number=nhs, practice_ods=ods,
                                                               external_ref=f"{side}-X{n}", referral_date="2026-10-01"),
                                          actor=LAB, clock=week_ago)
            extra[side].append(made.referral_id or 0)
    batch = dispatch.create_batch(engine, actor=LAB, clock=week_ago).batch_id
    with Session(engine) as session:
        kit_of = dict(session.execute(select(Kit.referral_id, Kit.specimen_id)).all())
    for specimen_id in kit_of.values():
        kits.receive_kit(engine, specimen_id, NOW.date(), actor=LAB, settings=SETTINGS, clock=fixed_clock(NOW))
    released = {api.referral_a: "750", api.referral_b: "1000", extra["A"][0]: "40", extra["B"][0]: "100"}
    store(engine, OC_SENSOR, qc_tubes(OC_SENSOR, TARGETS, AT))
    store(engine, OC_SENSOR, [tube(kit_of[r], v, i + 1) for i, (r, v) in enumerate(released.items())])
    store(engine, OC_SENSOR, qc_tubes(OC_SENSOR, TARGETS, AT + timedelta(minutes=5), fail_level="high"))
    store(engine, OC_SENSOR, [tube(kit_of[extra["B"][1]], "500", 400), tube("F0000999990", "90", 401)])
    for side, ods in (("A", PRACTICE_A), ("B", PRACTICE_B)):
        nhs = _new_nhs(world)
        world.nhs_numbers[side].add(nhs)
        for n in range(2):  # the second referral for the patient is held, and corrects the address (audited)
            intake.create_referral(engine, referral_row(nhs_number=nhs, practice_ods=ods, external_ref=f"{side}-H{n}",
                                                        referral_date=f"2026-10-1{n}", address_line1=f"{n} Mill Lane"),
                                   actor=LAB)
        with pytest.raises(ValidationError):
            intake.create_referral(engine, referral_row(nhs_number="9434765918", practice_ods=ods,
                                                        external_ref=f"{side}-BAD"), actor=LAB)
    with Session(engine) as session:
        for side in ("A", "B"):
            referral = api.referral_a if side == "A" else api.referral_b
            pid = world.practice[side]
            world.records[side] = {
                "referral": referral,
                "letter": session.execute(select(Letter.id).where(Letter.referral_id == referral)).scalar_one(),
                "result": session.execute(select(Result.id).join(Kit, Kit.id == Result.kit_id)
                                          .where(Kit.referral_id == referral)).scalar_one(),
                "held_referral": session.execute(select(Referral.id).where(
                    Referral.practice_id == pid, Referral.status == "on_hold")).scalar_one(),
                "rejection": session.execute(select(IntakeRejection.id).where(
                    IntakeRejection.practice_ods == (PRACTICE_A if side == "A" else PRACTICE_B))).scalar_one(),
                "demographics_change": session.execute(select(DemographicsChange.id).where(
                    DemographicsChange.practice_id == pid)).scalar_one(),
                "batch": batch,
                "specimen": kit_of[extra[side][1]],
                "held_result": session.execute(select(Result.id).where(Result.status == "held")).scalar_one(),
                "unmatched_result": session.execute(select(Result.id).where(Result.status == "unmatched")).scalar_one(),
            }
    return world


@pytest.fixture(scope="module", params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def world(request: pytest.FixtureRequest, sqlite_template, tmp_path_factory) -> Iterator[World]:
    """One populated database per engine for the whole module: every check below only reads, or is refused."""
    if request.param == "sqlite":
        path = tmp_path_factory.mktemp("scope") / "fit-lab.db"
        shutil.copy(sqlite_template, path)
        url, name = f"sqlite:///{path}", None
    else:
        name, url = _postgres_copy(request.getfixturevalue("postgres_template"))
    engine = make_engine(url)
    try:
        yield _populate(engine)
    finally:
        engine.dispose()
        if name:
            _postgres_drop(name)


# ---- calling a route ----------------------------------------------------------------------------------------------

def _body(world: World, kind: str | None, side: str, token: str | None) -> dict[str, Any]:
    ods = PRACTICE_A if side == "A" else PRACTICE_B
    if kind is None:
        return {}
    if kind in ("referral", "referral_csv"):
        row = referral_row(nhs_number=_new_nhs(world), practice_ods=ods, external_ref=f"SCOPE-{kind}")
        if kind == "referral_csv":
            return {"files": {"file": ("r.csv", synthetic.referrals_csv([row]), "text/csv")}}
        return {"json": {**row, "symptoms": row["symptoms"].split(";"), "iron_deficiency_anaemia": False,
                         "abdominal_mass": False, "rectal_mass": False, "clinical_concern": False}}
    csrf = csrf_token(world.api.client.app.state.settings, token) if token else ""
    specimen = world.records[side]["specimen"]
    return {
        "empty": {"json": {}},
        "hold": {"json": {"decision": "close", "reason": "scope test"}},
        "resolution": {"json": {"resolution": "scope test"}},
        "reconcile": {"json": {"decision": "keep_record", "reason": "scope test"}},
        "reason": {"json": {"reason": "scope test"}},
        "reject": {"json": {"reason": "leaked_damaged"}},
        "link": {"json": {"specimen_id": specimen}},
        "amend": {"json": {"value": 57, "reason": "transcription error"}},
        "list_state": {"json": {"state": "booked", "booked_for": f"{NOW + timedelta(days=7):%Y-%m-%d}"}},
        "csrf": {"data": {"csrf": csrf}},
        "scan": {"data": {"csrf": csrf, "specimen_id": specimen, "collection_date": f"{NOW:%Y-%m-%d}"}},
        "scan_reject": {"data": {"csrf": csrf, "specimen_id": specimen, "reason": "leaked_damaged"}},
    }[kind]


def _call(world: World, route: tuple[str, str], rule: Access, *, who: str | None, side: str):
    token = world.api.tokens[who] if who else None
    headers = {}
    if token:
        headers = {"Cookie": f"{SESSION_COOKIE}={token}"} if rule.page else {"Authorization": f"Bearer {token}"}
    url = rule.url.format(**world.records[side])
    return world.api.client.request(route[0], url, headers=headers, follow_redirects=False,
                                    **_body(world, rule.body, side, token))


def _newest_audit_id(world: World) -> int:
    with Session(world.engine) as session:
        return session.execute(select(func.coalesce(func.max(AuditEvent.id), 0))).scalar_one()


def _audited_since(world: World, since: int) -> list[AuditEvent]:
    with Session(world.engine) as session:
        return list(session.execute(select(AuditEvent).where(AuditEvent.id > since)).scalars())


def _shows_practice_b(world: World, text: str) -> bool:
    spaced = {f"{n[:3]} {n[3:6]} {n[6:]}" for n in world.nhs_numbers["B"]}
    return any(n in text for n in world.nhs_numbers["B"] | spaced)


# ---- the decisions ------------------------------------------------------------------------------------------------

def test_every_route_has_its_access_decided():
    undecided = [f"{m} {p}" for m, p in ROUTES if (m, p) not in ACCESS]
    gone = [f"{m} {p}" for m, p in ACCESS if (m, p) not in ROUTES]
    assert not undecided, f"routes without an access decision in ACCESS: {undecided}"
    assert not gone, f"ACCESS names routes the app no longer has: {gone}"


@pytest.mark.parametrize("route", _routes("signed_in", "patient"))
def test_without_a_log_in_the_route_is_refused_and_the_attempt_audited(world, route):
    rule = _rule(route)
    before = _newest_audit_id(world)
    response = _call(world, route, rule, who=None, side="B")
    if rule.page:
        assert response.status_code == 303 and response.headers["location"].startswith("/login")
    else:
        assert response.status_code == 401
    path = rule.url.format(**world.records["B"]).split("?")[0]
    assert any(e.outcome == "unauthenticated" and e.detail.get("path") == path
               for e in _audited_since(world, before))


def _refused_role(rule: Access) -> str | None:
    if "alliance" not in rule.roles:
        return "alliance"
    return None if "gp" in rule.roles else "gp_a"


@pytest.mark.parametrize("route", _routes("signed_in", "patient", where=lambda route, rule: _refused_role(rule)))
def test_a_role_the_route_does_not_admit_is_refused_and_audited(world, route):
    rule = _rule(route)
    who = _refused_role(rule)
    before = _newest_audit_id(world)
    response = _call(world, route, rule, who=who, side="B")
    assert response.status_code == 403
    assert not _shows_practice_b(world, response.text)
    assert any(e.outcome == "denied" and e.actor == who for e in _audited_since(world, before))


@pytest.mark.parametrize("route", _routes("patient"))
def test_a_gp_of_practice_a_never_reaches_practice_b(world, route):
    rule = _rule(route)
    before = _newest_audit_id(world)
    response = _call(world, route, rule, who="gp_a", side="B")
    events = _audited_since(world, before)
    if rule.scope == "staff":
        assert response.status_code == 403
        assert any(e.outcome == "denied" and e.actor == "gp_a" for e in events)
    elif rule.scope == "record":
        assert response.status_code == 404
        assert any(e.outcome == "not_found" and e.actor == "gp_a" for e in events)
    elif rule.scope == "create":
        assert response.status_code in (200, 422)
        assert "practice_ods" in response.text and "own practice" in response.text
        assert any(e.action == "create" and e.entity == "intake_rejection" and e.actor == "gp_a" for e in events)
        with Session(world.engine) as session:
            created = session.execute(select(func.count()).select_from(AuditEvent).where(
                AuditEvent.id > before, AuditEvent.entity == "referral", AuditEvent.action == "create")).scalar_one()
        assert created == 0
    else:
        assert rule.scope == "list"
        assert response.status_code == 200
        assert not _shows_practice_b(world, response.text)
        reads = [e for e in events if e.action == "read" and e.actor == "gp_a"]
        assert reads and all(e.practice_id in (None, world.practice["A"]) for e in reads)
        own = world.nhs_numbers["A"] | {f"{n[:3]} {n[3:6]} {n[6:]}" for n in world.nhs_numbers["A"]}
        assert any(n in response.text for n in own), "the list shows none of the GP's own patients"
    assert not _shows_practice_b(world, response.text)


def _reader(rule: Access) -> str:
    return "gp_a" if "gp" in rule.roles else next(r for r in ("lab", "scientist", "admin") if r in rule.roles)


@pytest.mark.parametrize("route", _routes("patient", where=lambda route, rule: route[0] == "GET"))
def test_a_successful_read_of_patient_data_is_audited(world, route):
    rule = _rule(route)
    who = _reader(rule)
    before = _newest_audit_id(world)
    response = _call(world, route, rule, who=who, side="A")
    assert response.status_code == 200, response.text[:300]
    assert any(e.actor == who and e.outcome == "ok" and e.action in ("read", "reprint")
               for e in _audited_since(world, before))
