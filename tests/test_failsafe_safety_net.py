"""The failsafe's safety net beyond kits in the post (issue 13): results waiting unmatched, and letters that carry
no result being chased until the practice acknowledges them. Letters say what actually happened.

Domain brief §4 (kits not returned, rejected kits) and §8 (failsafe: no result is no reassurance).
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select
from sqlmodel import Session

from fit_lab.clock import fixed_clock
from fit_lab.db.models import Kit, Letter, Referral
from fit_lab.principal import Principal
from fit_lab.services import dispatch, gp_view, intake, kits, letters, result_review
from fit_lab.services.failsafe import open_alerts, run_failsafe
from tests.api_support import make_settings
from tests.conftest import LAB, NOW
from tests.helpers import referral_row
from tests.test_failsafe import SCIENTIST, _analyse, at
from tests.test_outcomes import pdf_text

SETTINGS = make_settings(analyser_timezone="UTC")
TODAY = NOW.date()


def _day(days_ago: int):
    return TODAY - timedelta(days=days_ago)


def _posted(engine, days_ago: int, nhs="9990000018", ref="R1") -> Kit:
    intake.create_referral(engine, referral_row(nhs_number=nhs, external_ref=ref,
                                                referral_date=_day(days_ago + 1).isoformat()),
                           actor=LAB, clock=fixed_clock(at(_day(days_ago + 1))), settings=SETTINGS)
    dispatch.create_batch(engine, actor=LAB, clock=fixed_clock(at(_day(days_ago))))
    with Session(engine) as session:
        return session.execute(select(Kit).order_by(Kit.id.desc())).scalars().first()


def _kinds(alerts) -> dict[str, str]:
    return {a.specimen_id: a.kind for a in alerts}


# --- results that match no received kit ------------------------------------------------------------------------


def test_a_kit_an_unmatched_result_names_is_never_reminded_or_closed_as_not_returned(reference_loaded):
    engine = reference_loaded
    kit = _posted(engine, 30)
    # The tube came back and was tested, but nobody scanned it in: the analyser's result cannot be matched.
    _analyse(engine, [kit.specimen_id], at(_day(3)), raw="20")
    report = run_failsafe(engine, today=TODAY, actor=LAB, settings=SETTINGS, clock=fixed_clock(NOW))
    assert report.reminded == [] and report.not_returned == []
    with Session(engine) as session:
        assert session.get(Kit, kit.id).state == "dispatched"
        assert session.execute(select(Letter).where(Letter.kind == "not_returned")).first() is None
    assert _kinds(report.alerts)[kit.specimen_id] == "unmatched_kit_in_post"


def test_an_unmatched_result_whose_value_would_refer_alerts_at_once(reference_loaded):
    alerts = _unmatched_alerts(reference_loaded, raw="800", hours_ago=1)  # 160 µg/g on OC-Sensor
    assert list(alerts.values()) == ["unmatched_would_refer"]


@pytest.mark.parametrize(("hours_ago", "expected"), [(1, []), (25, ["unmatched_result"])])
def test_an_unmatched_negative_result_alerts_once_it_has_waited_too_long(reference_loaded, hours_ago, expected):
    assert list(_unmatched_alerts(reference_loaded, raw="20", hours_ago=hours_ago).values()) == expected


def _unmatched_alerts(engine, *, raw: str, hours_ago: int) -> dict[str, str]:
    stored_at = NOW - timedelta(hours=hours_ago)
    _analyse(engine, ["F0000999990"], stored_at, raw=raw)  # a well-formed ID that no kit has (misread barcode)
    return _kinds(open_alerts(engine, settings=SETTINGS, clock=fixed_clock(NOW)))


def test_the_unmatched_alert_goes_once_the_result_is_linked(reference_loaded):
    engine = reference_loaded
    kit = _posted(engine, 5)
    _analyse(engine, [kit.specimen_id], at(_day(1)), raw="800")
    assert _kinds(open_alerts(engine, settings=SETTINGS, clock=fixed_clock(NOW)))[kit.specimen_id] == \
        "unmatched_would_refer"
    kits.receive_kit(engine, kit.specimen_id, _day(3), actor=LAB, settings=SETTINGS, clock=fixed_clock(NOW))
    (result,) = result_review.list_results(engine, "unmatched", actor=SCIENTIST)[1]
    result_review.link_result(engine, result.id, kit.specimen_id, actor=SCIENTIST, settings=SETTINGS,
                              clock=fixed_clock(NOW))
    assert kit.specimen_id not in _kinds(open_alerts(engine, settings=SETTINGS, clock=fixed_clock(NOW)))


# --- letters with no result are chased like positive ones --------------------------------------------------------


def test_a_not_returned_letter_nobody_acknowledges_is_chased(reference_loaded):
    engine = reference_loaded
    kit = _posted(engine, 40)
    run_failsafe(engine, today=_day(10), actor=LAB, settings=SETTINGS, clock=fixed_clock(at(_day(10))))
    kinds = _kinds(open_alerts(engine, settings=SETTINGS, clock=fixed_clock(NOW)))
    assert kinds[kit.specimen_id] == "no_result_not_acknowledged"
    with Session(engine) as session:
        letter = session.execute(select(Letter).where(Letter.kind == "not_returned")).scalar_one()
    gp_view.acknowledge(engine, letter.id, actor=_gp(engine, letter))
    assert kit.specimen_id not in _kinds(open_alerts(engine, settings=SETTINGS, clock=fixed_clock(NOW)))


@pytest.mark.parametrize("replacement_kits", [True, False])
def test_a_rejected_kit_letter_nobody_acknowledges_is_chased(reference_loaded, replacement_kits):
    engine = reference_loaded
    settings = make_settings(analyser_timezone="UTC", replacement_kits=replacement_kits)
    kit = _posted(engine, 20)
    kits.reject_kit(engine, kit.specimen_id, "leaked_damaged", actor=LAB, settings=settings,
                    clock=fixed_clock(at(_day(10))))
    alerts = [a for a in open_alerts(engine, settings=settings, clock=fixed_clock(NOW)) if a.kit_id == kit.id]
    assert [a.kind for a in alerts] == ["no_result_not_acknowledged"]


def _gp(engine, letter):
    return Principal("gp-test", "gp", practice_id=letter.practice_id)


# --- the rejected-kit letter says what actually happened ----------------------------------------------------------


@pytest.mark.parametrize(("replacement_kits", "says", "never_says"), [
    (True, "A replacement kit is being posted to the patient", "has NOT sent a replacement kit"),
    (False, "has NOT sent a replacement kit, and this request is now closed", "replacement kit is being posted"),
])
def test_the_rejected_kit_letter_follows_the_replacement_setting(reference_loaded, replacement_kits, says,
                                                                never_says):
    engine = reference_loaded
    settings = make_settings(analyser_timezone="UTC", replacement_kits=replacement_kits)
    kit = _posted(engine, 5)
    kits.reject_kit(engine, kit.specimen_id, "leaked_damaged", actor=LAB, settings=settings, clock=fixed_clock(NOW))
    with Session(engine) as session:
        letter = session.execute(select(Letter).where(Letter.kit_id == kit.id)).scalar_one()
        referral = session.get(Referral, kit.referral_id)
        new_kits = session.execute(select(Kit).where(Kit.replaces_kit_id == kit.id)).scalars().all()
    text = " ".join(pdf_text(letters.letter_pdf(letter)).split())
    assert says in text and never_says not in text
    assert len(new_kits) == (1 if replacement_kits else 0)
    assert referral.status == ("in_progress" if replacement_kits else "closed")


@pytest.mark.parametrize("replacement_kits", [True, False])
def test_a_kit_closed_as_not_returned_that_comes_back_unusable_reopens_its_referral(reference_loaded,
                                                                                   replacement_kits):
    """Found by the quarter's simulation: the rejection of a late kit left its referral closed while a replacement
    went out, so the replacement's result had nowhere to go."""
    engine = reference_loaded
    settings = make_settings(analyser_timezone="UTC", replacement_kits=replacement_kits)
    kit = _posted(engine, 35)
    run_failsafe(engine, today=_day(5), actor=LAB, settings=settings, clock=fixed_clock(at(_day(5))))
    kits.reject_kit(engine, kit.specimen_id, "leaked_damaged", actor=LAB, settings=settings, clock=fixed_clock(NOW))
    with Session(engine) as session:
        referral = session.get(Referral, kit.referral_id)
        replacement = session.execute(select(Kit).where(Kit.replaces_kit_id == kit.id)).scalar_one_or_none()
    if not replacement_kits:
        assert referral.status == "closed" and replacement is None
        return
    assert referral.status == "in_progress" and replacement is not None
    dispatch.create_batch(engine, actor=LAB, clock=fixed_clock(NOW))
    kits.receive_kit(engine, replacement.specimen_id, TODAY, actor=LAB, settings=settings, clock=fixed_clock(NOW))
    _analyse(engine, [replacement.specimen_id], NOW + timedelta(hours=1))
    with Session(engine) as session:
        assert session.get(Referral, kit.referral_id).status == "resulted"
