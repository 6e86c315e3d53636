"""Kit dispatch on a real database: oldest first, unique IDs even under concurrency, reprint, cancel."""

from __future__ import annotations

import csv
import io
import re
import threading
import time

import pypdfium2
import pytest
import zxingcpp
from sqlalchemy import event, func, select

import labels
from fit_lab import spreadsheet, synthetic
from fit_lab.clock import system_clock
from fit_lab.db.models import AuditEvent, DispatchBatch, Kit, Referral
from fit_lab.errors import StateError, ValidationError
from fit_lab.services import dispatch, intake, kits
from tests.api_support import build_world, make_settings
from tests.conftest import LAB, NOW, TODAY
from tests.helpers import month_rows, referral_row

SETTINGS = make_settings()


@pytest.fixture
def queued(reference_loaded, known_postcodes, clock):
    data = synthetic.referrals_csv(month_rows(40, known_postcodes))
    intake.import_csv(reference_loaded, data, filename="q.csv", source="csv_cli", actor=LAB, clock=clock)
    return reference_loaded


def _scalar(engine, query):
    with engine.connect() as conn:
        return conn.execute(query).scalar_one()


def test_batch_takes_the_oldest_referrals_first(queued, clock):
    with queued.connect() as conn:
        oldest = conn.execute(select(Referral.id).order_by(Referral.received_at, Referral.id).limit(10)).scalars().all()
    result = dispatch.create_batch(queued, actor=LAB, limit=10, clock=clock)
    with queued.connect() as conn:
        in_batch = conn.execute(select(Kit.referral_id).where(Kit.dispatch_batch_id == result.batch_id)).scalars().all()
    assert sorted(in_batch) == sorted(oldest)
    assert _scalar(queued, select(func.count()).select_from(Referral).where(Referral.status == "awaiting_kit")) == 30


def test_every_kit_is_audited_and_the_labels_scan_as_their_ids(queued, clock):
    result = dispatch.create_batch(queued, actor=LAB, clock=clock)
    files = dispatch.batch_files(queued, result.batch_id, actor=LAB, settings=make_settings())
    with queued.connect() as conn:
        ids = set(conn.execute(select(Kit.specimen_id)).scalars())
    pdf = pypdfium2.PdfDocument(files.labels)
    decoded = set()
    for page in pdf:
        image = page.render(scale=200 / 72).to_pil()
        decoded |= {b.text for b in zxingcpp.read_barcodes(image)}
    assert decoded == ids and len(ids) == 40
    manifest = list(csv.DictReader(io.StringIO(files.manifest_csv.decode())))
    assert {row["specimen_id"] for row in manifest} == ids
    audited = _scalar(queued, select(func.count()).select_from(AuditEvent).where(AuditEvent.entity == "kit"))
    assert audited == 40


def test_reprint_gives_the_same_ids_and_is_audited(queued, clock):
    result = dispatch.create_batch(queued, actor=LAB, clock=clock)
    first = dispatch.batch_files(queued, result.batch_id, actor=LAB, settings=make_settings())
    again = dispatch.batch_files(queued, result.batch_id, actor=LAB, settings=make_settings(), reprint=True)
    assert first.manifest_csv == again.manifest_csv
    assert _scalar(queued, select(DispatchBatch.reprint_count)) == 1
    assert _scalar(queued, select(func.count()).select_from(AuditEvent).where(AuditEvent.action == "reprint")) == 1


def test_cancel_voids_the_kits_and_returns_referrals_to_the_queue(queued, clock):
    result = dispatch.create_batch(queued, actor=LAB, limit=5, clock=clock)
    cancelled = dispatch.cancel_batch(queued, result.batch_id, reason="printer jammed", actor=LAB, clock=clock)
    assert (cancelled.kits_voided, cancelled.not_voided) == (5, [])
    states = _scalar(queued, select(func.count()).select_from(Kit).where(Kit.state == "cancelled"))
    assert states == 5
    assert _scalar(queued, select(func.count()).select_from(Referral).where(Referral.status == "awaiting_kit")) == 40
    with pytest.raises(StateError, match="already cancelled"):
        dispatch.cancel_batch(queued, result.batch_id, reason="again", actor=LAB, clock=clock)
    again = dispatch.create_batch(queued, actor=LAB, limit=5, clock=clock)
    assert again.kit_count == 5


def test_an_unprintable_name_holds_the_referral_for_a_person(reference_loaded, clock):
    intake.create_referral(reference_loaded, referral_row(given_name="\u674e\u534e"), actor=LAB, clock=clock)
    result = dispatch.create_batch(reference_loaded, actor=LAB, clock=clock)
    assert result.batch_id is None and len(result.held) == 1
    assert _scalar(reference_loaded, select(Referral.status)) == "on_hold"


def test_two_concurrent_dispatch_runs_never_share_a_referral_or_an_id(queued, clock):
    results, errors = [], []
    start_together = threading.Barrier(2)

    def run():
        start_together.wait()
        try:
            results.append(dispatch.create_batch(queued, actor=LAB, limit=25, clock=clock))
        except Exception as exc:  # collected and asserted below
            errors.append(exc)

    threads = [threading.Thread(target=run) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    assert sum(r.kit_count for r in results) == 40
    with queued.connect() as conn:
        kits = conn.execute(select(Kit.specimen_id, Kit.referral_id)).all()
    assert len({k.specimen_id for k in kits}) == len({k.referral_id for k in kits}) == 40


# ---- thermal printers at 300 dpi ---------------------------------------------------------------------------------

def _module_dots(zpl: str) -> set[int]:
    return {int(m) for m in re.findall(r"\^BY(\d+),", zpl)}


@pytest.mark.parametrize(("dpi", "dots"), [(203, 2), (300, 3)])
def test_zpl_bars_are_sized_for_the_printers_resolution(queued, clock, dpi, dots):
    """labels/code128.py: the module must be at least 0.25 mm for the scanners; 2 dots at 300 dpi would be 0.17."""
    batch = dispatch.create_batch(queued, actor=LAB, limit=3, label_format="zpl", clock=clock).batch_id
    zpl = dispatch.batch_file(queued, batch, "labels", actor=LAB, settings=make_settings(), zpl_dpi=dpi).decode()
    assert _module_dots(zpl) == {dots}
    assert dots * 25.4 / dpi >= labels.MIN_MODULE_MM
    stock = labels.load_stock(make_settings().label_stock)
    assert f"^PW{round(stock.label_width_mm * dpi / 25.4)}" in zpl
    assert zpl.count("^XA") == 6  # tube and address label per kit


def test_an_unknown_printer_resolution_is_refused(queued, clock):
    batch = dispatch.create_batch(queued, actor=LAB, limit=1, clock=clock).batch_id
    with pytest.raises(ValidationError, match="zpl_dpi"):
        dispatch.batch_file(queued, batch, "labels", actor=LAB, settings=make_settings(), label_format="zpl",
                            zpl_dpi=600)


def test_the_api_serves_300_dpi_zpl_and_refuses_other_resolutions(reference_loaded):
    world = build_world(reference_loaded)
    batch = world.client.post("/api/v1/dispatch-batches", json={}, headers=world.auth("lab")).json()["batch_id"]
    url = f"/api/v1/dispatch-batches/{batch}/labels.zpl"
    assert _module_dots(world.client.get(url, headers=world.auth("lab")).text) == {2}
    fine = world.client.get(url, params={"zpl_dpi": 300}, headers=world.auth("lab"))
    assert fine.status_code == 200 and _module_dots(fine.text) == {3}
    assert world.client.get(url, params={"zpl_dpi": 600}, headers=world.auth("lab")).status_code == 422


# ---- a cancelled batch is not printed again ---------------------------------------------------------------------

def test_a_cancelled_batch_cannot_be_reprinted_or_downloaded(queued, clock):
    batch = dispatch.create_batch(queued, actor=LAB, limit=3, clock=clock).batch_id
    dispatch.cancel_batch(queued, batch, reason="wrong stock", actor=LAB, clock=clock)
    with pytest.raises(StateError, match=r"was cancelled .*its kits are void"):
        dispatch.batch_files(queued, batch, actor=LAB, settings=make_settings(), reprint=True)
    for part in dispatch.PARTS:
        with pytest.raises(StateError, match="was cancelled"):
            dispatch.batch_file(queued, batch, part, actor=LAB, settings=make_settings())
    assert _scalar(queued, select(DispatchBatch.reprint_count)) == 0


def test_the_api_answers_409_for_a_cancelled_batchs_files(reference_loaded):
    world = build_world(reference_loaded)
    batch = world.client.post("/api/v1/dispatch-batches", json={}, headers=world.auth("lab")).json()["batch_id"]
    world.client.post(f"/api/v1/dispatch-batches/{batch}/cancel", json={"reason": "x"}, headers=world.auth("lab"))
    for name in ("labels.pdf", "labels.zpl", "letters.pdf", "manifest.csv"):
        answer = world.client.get(f"/api/v1/dispatch-batches/{batch}/{name}", headers=world.auth("lab"))
        assert answer.status_code == 409 and "was cancelled" in answer.json()["detail"]


# ---- cancelling while a kit is being received -------------------------------------------------------------------

class PausingClock:
    """Stops its caller the ``pause_on``-th time it is read, until ``release`` is set (once only)."""

    def __init__(self, pause_on: int) -> None:
        self.pause_on, self.calls = pause_on, 0
        self.paused, self.release = threading.Event(), threading.Event()

    def __call__(self):
        self.calls += 1
        if self.calls == self.pause_on:
            self.paused.set()
            assert self.release.wait(60)
        return NOW


def test_a_kit_received_while_its_batch_is_cancelled_stays_received(queued, clock):
    batch = dispatch.create_batch(queued, actor=LAB, limit=3, clock=clock).batch_id
    with queued.connect() as conn:
        first, *others = conn.execute(select(Kit.specimen_id).order_by(Kit.id)).scalars()
    # Reception stops inside its transaction right after it has read (and on PostgreSQL locked) the kit.
    reception_clock = PausingClock(pause_on=1)
    results: dict = {}

    def after_statement(conn, cursor, statement, *_):
        if threading.current_thread() is reception and "FROM kit JOIN referral" in statement:
            reception_clock()

    def receive():
        results["received"] = kits.receive_kit(queued, first, TODAY, actor=LAB, settings=SETTINGS, clock=clock)

    def cancel():
        results["cancelled"] = dispatch.cancel_batch(queued, batch, reason="wrong stock", actor=LAB, clock=clock)

    reception = threading.Thread(target=receive)
    event.listen(queued, "after_cursor_execute", after_statement)
    reception.start()
    assert reception_clock.paused.wait(60)
    cancelling = threading.Thread(target=cancel)
    cancelling.start()
    time.sleep(0.7)  # the cancel reaches the kit reception holds, and waits for it
    reception_clock.release.set()
    reception.join(60)
    cancelling.join(60)
    event.remove(queued, "after_cursor_execute", after_statement)

    assert results["received"].state == "received"
    with queued.connect() as conn:
        states = dict(conn.execute(select(Kit.specimen_id, Kit.state)).all())
        referral_of_first = conn.execute(select(Referral.status).join(Kit, Kit.referral_id == Referral.id)
                                         .where(Kit.specimen_id == first)).scalar_one()
    assert states[first] == "received" and referral_of_first == "in_progress"
    assert {states[o] for o in others} == {"cancelled"}
    cancelled = results["cancelled"]
    assert cancelled.kits_voided == 2
    assert [(k.specimen_id, k.state) for k in cancelled.not_voided] == [(first, "received")]
    assert "already been received" in cancelled.not_voided[0].reason


def test_cancelling_a_batch_whose_kits_all_came_back_is_refused(queued, clock):
    batch = dispatch.create_batch(queued, actor=LAB, limit=1, clock=clock).batch_id
    with queued.connect() as conn:
        (only,) = conn.execute(select(Kit.specimen_id)).scalars()
    kits.receive_kit(queued, only, TODAY, actor=LAB, settings=SETTINGS, clock=clock)
    with pytest.raises(StateError, match="none of its 1 kits can be voided"):
        dispatch.cancel_batch(queued, batch, reason="late", actor=LAB, clock=clock)


def test_the_api_names_the_kits_it_could_not_void(reference_loaded):
    world = build_world(reference_loaded)
    batch = world.client.post("/api/v1/dispatch-batches", json={}, headers=world.auth("lab")).json()["batch_id"]
    with reference_loaded.connect() as conn:
        first = conn.execute(select(Kit.specimen_id).order_by(Kit.id)).scalars().first()
    kits.receive_kit(reference_loaded, first, system_clock().date(), actor=LAB, settings=SETTINGS)
    answer = world.client.post(f"/api/v1/dispatch-batches/{batch}/cancel", json={"reason": "x"},
                               headers=world.auth("lab")).json()
    assert answer["kits_voided"] == 1
    assert [(k["specimen_id"], k["state"]) for k in answer["not_voided"]] == [(first, "received")]


# ---- downloads: audited as reprints, one file rendered, safe in a spreadsheet -----------------------------------

def test_every_api_download_is_audited_as_a_reprint_and_counted(reference_loaded):
    world = build_world(reference_loaded)
    batch = world.client.post("/api/v1/dispatch-batches", json={}, headers=world.auth("lab")).json()["batch_id"]
    names = ("labels.pdf", "labels.zpl", "letters.pdf", "manifest.csv")
    for name in names:
        assert world.client.get(f"/api/v1/dispatch-batches/{batch}/{name}", headers=world.auth("lab")).is_success
    assert _scalar(reference_loaded, select(DispatchBatch.reprint_count)) == len(names)
    with reference_loaded.connect() as conn:
        events = conn.execute(select(AuditEvent.actor, AuditEvent.detail).where(
            AuditEvent.entity == "dispatch_batch", AuditEvent.action == "reprint")).all()
    assert sorted(e.detail["files"][0] for e in events) == ["labels", "labels", "letters", "manifest"]
    assert {e.actor for e in events} == {"lab"}


def test_a_download_renders_only_the_file_asked_for(queued, clock, monkeypatch):
    batch = dispatch.create_batch(queued, actor=LAB, clock=clock).batch_id

    def not_asked_for(*args, **kwargs):
        raise AssertionError("rendered a file that was not asked for")

    for renderer in ("render_kit_sheets_pdf", "render_kit_labels_zpl", "render_instruction_letters_pdf",
                     "render_return_labels_pdf"):
        monkeypatch.setattr(labels, renderer, not_asked_for)
    manifest = dispatch.batch_file(queued, batch, "manifest", actor=LAB, settings=make_settings())
    assert len(manifest.decode().splitlines()) == 41


@pytest.mark.parametrize("name", ["=HYPERLINK(\"http://x\",\"y\")", "+44 7700", "-1+1", "@SUM(A1)"])
def test_a_manifest_cell_that_looks_like_a_formula_is_kept_as_text(reference_loaded, clock, name):
    intake.create_referral(reference_loaded, referral_row(given_name=name), actor=LAB, clock=clock)
    batch = dispatch.create_batch(reference_loaded, actor=LAB, clock=clock).batch_id
    manifest = dispatch.batch_file(reference_loaded, batch, "manifest", actor=LAB, settings=make_settings())
    (row,) = csv.DictReader(io.StringIO(manifest.decode()))
    assert row["name"] == f"'{name} Testwoman"
    assert spreadsheet.safe_cell("Alice Smith") == "Alice Smith"
