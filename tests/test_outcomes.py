"""Released results become outcomes and GP letters in the same transaction (domain brief §1-§3)."""

from __future__ import annotations

import pypdfium2
import pytest
from sqlalchemy import select, update
from sqlmodel import Session

from analyser_drivers import OC_SENSOR
from fit_lab.clock import fixed_clock
from fit_lab.db.models import AuditEvent, Kit, Letter, Referral, Result, TriageOutcome
from fit_lab.errors import StateError, ValidationError
from fit_lab.services import letters, outcomes, result_review
from fit_lab.services.analyser import qc_tubes
from tests.conftest import NOW
from tests.results_support import AT, SCIENTIST, SETTINGS, TARGETS, store, tube


def pdf_text(data: bytes) -> str:
    return "\n".join(page.get_textpage().get_text_range() for page in pypdfium2.PdfDocument(data))


def rows(engine, model):
    with Session(engine) as session:
        return list(session.execute(select(model).order_by(model.id)).scalars())


def run(engine, ids, raw_values):
    store(engine, OC_SENSOR, qc_tubes(OC_SENSOR, TARGETS, AT))
    store(engine, OC_SENSOR, [tube(s, v, i + 1) for i, (s, v) in enumerate(zip(ids, raw_values, strict=False))])


def test_a_negative_result_gives_a_reassurance_letter_naming_patient_value_and_policy(received):
    engine, ids = received
    run(engine, ids[:1], ["40"])  # 40 ng/mL × 0.2 = 8 µg/g: below 10 (§2)
    (outcome,) = rows(engine, TriageOutcome)
    (letter,) = rows(engine, Letter)
    assert (outcome.action, letter.kind, letter.outcome_id) == ("reassure", "reassurance", outcome.id)
    text = pdf_text(letters.letter_pdf(letter))
    for expected in ("Alice Testwoman", "943 476 5919", "8 µg Hb/g", outcome.policy_version, "safety"):
        assert expected.lower() in text.lower(), expected
    assert rows(engine, Kit)[0].state == "reported"


def test_a_positive_result_gives_a_positive_letter_with_band_and_priority(received):
    engine, ids = received
    run(engine, ids[:1], ["750"])  # 150 µg/g: the local 100-399.9 band, high priority (§2)
    (outcome,) = rows(engine, TriageOutcome)
    assert outcome.action == "refer" and outcome.priority_key == "P2"
    text = pdf_text(letters.letter_pdf(rows(engine, Letter)[0]))
    assert "150 µg Hb/g" in text and outcome.detail["band_label"] in text


def test_exactly_ten_is_positive(received):
    engine, ids = received
    run(engine, ids[:1], ["50"])  # 50 ng/mL × 0.2 = exactly 10 µg/g (§2: inclusive lower edge)
    assert rows(engine, TriageOutcome)[0].action == "refer"


def test_an_oc_sensor_result_above_its_range_is_placed_in_the_highest_band(received):
    engine, ids = received
    run(engine, ids[:1], ["1500"])  # above the top calibrator of 1,000 ng/mL: stored as ">200" µg/g (§3)
    (result,) = rows(engine, Result)
    assert (result.comparator, result.fhb_ug_per_g) == (">", 200.0)
    (outcome,) = rows(engine, TriageOutcome)
    # §3: triage on the comparator; ">200" may be ≥ 400, the highest band (§2), so it is placed there.
    assert (outcome.band, outcome.priority_key) == ("highest", "P1")
    assert "highest band it could belong to" in outcome.explanation


def test_an_error_result_asks_for_a_repeat_and_sends_a_new_kit(received):
    engine, ids = received
    run(engine, ids[:1], ["E01"])
    (outcome,) = rows(engine, TriageOutcome)
    assert outcome.action == "repeat" and rows(engine, Letter)[0].kind == "no_valid_result"
    assert [k.state for k in rows(engine, Kit)] == ["reported", "received", "allocated"]


def test_clinical_override_refers_a_negative_result(received):
    engine, ids = received
    with engine.begin() as conn:
        conn.execute(update(Referral).where(Referral.id == 1).values(iron_deficiency_anaemia=True))
    run(engine, ids[:1], ["<20"])  # "<4 µg/g", negative by f-Hb, but IDA refers whatever the f-Hb (§1)
    assert rows(engine, TriageOutcome)[0].action == "refer"


def test_reporting_the_same_result_again_changes_nothing(received):
    engine, ids = received
    run(engine, ids[:1], ["250"])
    with Session(engine) as session:
        result = session.execute(select(Result)).scalar_one()
        kit = session.get(Kit, result.kit_id)
        again = outcomes.report_result(session, result, kit, actor=SCIENTIST, settings=SETTINGS, now=NOW).id
        session.commit()
    assert again == rows(engine, TriageOutcome)[0].id
    assert len(rows(engine, TriageOutcome)) == len(rows(engine, Letter)) == 1


def test_amending_a_result_re_triages_and_issues_an_amended_letter_keeping_history(received):
    engine, ids = received
    run(engine, ids[:1], ["40"])
    result = rows(engine, Result)[0]
    new_id = result_review.amend_result(engine, result.id, "150", "transcription error", actor=SCIENTIST,
                                     settings=SETTINGS, clock=fixed_clock(NOW))
    history = rows(engine, TriageOutcome)
    assert [(o.action, o.is_current) for o in history] == [("reassure", False), ("refer", True)]
    first, amended = rows(engine, Letter)
    assert amended.kind == "amended" and amended.supersedes_letter_id == first.id and new_id == history[1].id
    text = pdf_text(letters.letter_pdf(amended))
    assert "AMENDED" in text and "transcription error" in text and "150 µg Hb/g" in text
    with Session(engine) as session:
        event = session.execute(select(AuditEvent).where(AuditEvent.action == "amend")).scalar_one()
    assert event.detail["before"]["fhb_ug_per_g"] == 8.0 and event.actor == "sci"


def test_amending_needs_a_reason_and_a_released_result(received):
    engine, ids = received
    run(engine, ids[:1], ["40"])
    result = rows(engine, Result)[0]
    with pytest.raises(ValidationError):
        result_review.amend_result(engine, result.id, "150", " ", actor=SCIENTIST, settings=SETTINGS)
    with pytest.raises(ValidationError):
        result_review.amend_result(engine, result.id, "lots", "typo", actor=SCIENTIST, settings=SETTINGS)
    with engine.begin() as conn:
        conn.execute(update(Result).values(status="held"))
    with pytest.raises(StateError):
        result_review.amend_result(engine, result.id, "150", "typo", actor=SCIENTIST, settings=SETTINGS)


def test_the_stored_decision_round_trips_so_ranking_never_re_decides(received):
    engine, ids = received
    run(engine, ids[:1], ["700"])
    outcome = rows(engine, TriageOutcome)[0]
    decision = outcomes.outcome_from_json(outcome.detail)
    assert outcomes.outcome_to_json(decision) == outcome.detail
    assert decision.policy_version == outcome.policy_version and decision.fhb_ug_per_g == 140.0
