"""The colonoscopy list has a life: booked (with a date), seen, declined, did not attend, not suitable.

Each step records who and when and is audited; a patient seen, declined or not suitable leaves the list, a patient
who did not attend stays on it to be booked again (issue 13).
"""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import date, timedelta
from pathlib import Path

import pytest
from pydantic import ValidationError as PydanticValidationError
from sqlalchemy import select
from sqlmodel import Session

import triage
from fit_lab.clock import fixed_clock
from fit_lab.db.models import AuditEvent, Referral
from fit_lab.errors import Forbidden, StateError, ValidationError
from fit_lab.principal import Principal
from fit_lab.services import colonoscopy, intake
from tests.api_support import build_world, make_settings
from tests.conftest import LAB, NOW
from tests.helpers import referral_row

SCIENTIST = Principal("sci", "scientist")
SETTINGS = make_settings()
BOOKED_FOR = NOW.date() + timedelta(days=6)


def _referred(engine, nhs="9990000018", ref="RF-1") -> int:
    """A patient on the list: a red-flag referral is referred at once (outcome "refer", priority 1)."""
    return intake.create_referral(engine, referral_row(nhs_number=nhs, external_ref=ref, rectal_mass="y"),
                                  actor=LAB, clock=fixed_clock(NOW), settings=SETTINGS).referral_id


def _on_list(engine) -> dict[int, colonoscopy.ListedPatient]:
    return {p.referral_id: p for p in colonoscopy.ranked_list(engine, actor=SCIENTIST, clock=fixed_clock(NOW))}


def _mark(engine, referral_id, state, **kwargs):
    return colonoscopy.record_list_state(engine, referral_id, state, actor=SCIENTIST, clock=fixed_clock(NOW),
                                         **kwargs)


def test_a_booking_is_shown_on_the_list_with_its_date_and_who_booked_it(reference_loaded):
    referral_id = _referred(reference_loaded)
    assert _mark(reference_loaded, referral_id, "booked", booked_for=BOOKED_FOR)
    place = colonoscopy.place_on_list(reference_loaded, referral_id, actor=SCIENTIST, clock=fixed_clock(NOW))
    assert place is not None and place.list_state == "booked" and place.booked_for == BOOKED_FOR
    with Session(reference_loaded) as session:
        referral = session.get(Referral, referral_id)
        (event,) = session.execute(select(AuditEvent).where(AuditEvent.action == "list_state")).scalars()
    assert (referral.list_state_by, referral.list_state_at) == (SCIENTIST.username, NOW)
    assert event.actor == SCIENTIST.username and event.detail == {
        "from": None, "to": "booked", "booked_for": BOOKED_FOR.isoformat()}


@pytest.mark.parametrize(("steps", "on_list"), [
    ([("booked", BOOKED_FOR, None), ("seen", None, None)], False),
    ([("declined", None, "patient prefers CT colonography")], False),
    ([("not_suitable", None, "frailty: GP and patient to decide on CT")], False),
    ([("booked", BOOKED_FOR, None), ("did_not_attend", None, None)], True),
    ([("booked", BOOKED_FOR, None), ("did_not_attend", None, None), ("booked", BOOKED_FOR, None)], True),
])
def test_seen_declined_or_not_suitable_leave_the_list_and_a_missed_appointment_does_not(reference_loaded, steps,
                                                                                     on_list):
    referral_id = _referred(reference_loaded)
    for state, booked_for, note in steps:
        _mark(reference_loaded, referral_id, state, booked_for=booked_for, note=note)
    assert (referral_id in _on_list(reference_loaded)) is on_list


def test_a_booking_needs_its_date_and_a_refusal_its_reason(reference_loaded):
    referral_id = _referred(reference_loaded)
    with pytest.raises(ValidationError, match="booked_for"):
        _mark(reference_loaded, referral_id, "booked")
    with pytest.raises(ValidationError, match="note"):
        _mark(reference_loaded, referral_id, "declined")
    with pytest.raises(ValidationError, match="state"):
        _mark(reference_loaded, referral_id, "cancelled")


def test_a_patient_who_has_been_seen_cannot_be_booked_again(reference_loaded):
    referral_id = _referred(reference_loaded)
    _mark(reference_loaded, referral_id, "booked", booked_for=BOOKED_FOR)
    _mark(reference_loaded, referral_id, "seen")
    with pytest.raises(StateError, match="seen"):
        _mark(reference_loaded, referral_id, "booked", booked_for=BOOKED_FOR)


def test_only_a_referred_patient_can_be_booked(reference_loaded):
    waiting = intake.create_referral(reference_loaded, referral_row(), actor=LAB, clock=fixed_clock(NOW),
                                     settings=SETTINGS).referral_id
    with pytest.raises(StateError, match="not on the colonoscopy list"):
        _mark(reference_loaded, waiting, "booked", booked_for=BOOKED_FOR)


def test_the_booking_team_role_is_required(reference_loaded):
    referral_id = _referred(reference_loaded)
    with pytest.raises(Forbidden):
        colonoscopy.record_list_state(reference_loaded, referral_id, "seen", actor=LAB)


def test_the_api_records_a_step_for_the_scientist_and_refuses_lab_and_gp(reference_loaded):
    engine = reference_loaded
    world = build_world(engine)
    referral_id = _referred(engine, nhs="9990000026", ref="RF-API")
    url = f"/api/v1/triage/colonoscopy-list/{referral_id}/state"
    body = {"state": "booked", "booked_for": BOOKED_FOR.isoformat()}
    assert world.client.post(url, json=body, headers=world.auth("lab")).status_code == 403
    assert world.client.post(url, json=body, headers=world.auth("gp_a")).status_code == 403
    done = world.client.post(url, json=body, headers=world.auth("scientist"))
    assert done.status_code == 200 and done.json()["on_list"] and done.json()["place"]["list_state"] == "booked"
    left = world.client.post(url, json={"state": "seen"}, headers=world.auth("scientist"))
    assert left.json() == {"referral_id": referral_id, "state": "seen", "on_list": False, "place": None}
    refused = world.client.post(url, json={"state": "booked"}, headers=world.auth("scientist"))
    assert refused.status_code == 422 and "booked_for" in refused.text


def test_the_command_line_marks_a_patient_seen(db_url, reference_loaded, tmp_path):
    referral_id = _referred(reference_loaded)
    env = {**os.environ, "FIT_LAB_DATABASE_URL": db_url}
    booked = subprocess.run([sys.executable, "-m", "fit_lab.cli", "triage", "mark", str(referral_id), "--state",
                             "booked", "--date", (date.today() + timedelta(days=3)).isoformat()],
                            cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120, check=False)
    assert booked.returncode == 0, booked.stderr
    assert "booked for colonoscopy" in booked.stdout
    bad = subprocess.run([sys.executable, "-m", "fit_lab.cli", "triage", "mark", str(referral_id), "--state",
                          "declined"], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120,
                         check=False)
    assert bad.returncode == 2 and "note" in bad.stderr


def test_the_labs_own_list_order_file_orders_the_list(reference_loaded, tmp_path):
    """The targets are the lab's choice (a versioned file named by FIT_LAB_LIST_ORDER_FILE), not the shipped one."""
    shipped = (Path(triage.__file__).parent / "list_orders" / "default.yaml").read_text(encoding="utf-8")
    local = tmp_path / "list-order.yaml"
    local.write_text(shipped.replace("version: default-list-order-1.0", "version: local-list-order-1.0"),
                     encoding="utf-8")
    red = _referred(reference_loaded)
    listed = colonoscopy.ranked_list(reference_loaded, actor=SCIENTIST, clock=fixed_clock(NOW),
                                     settings=make_settings(list_order_file=local))
    assert [p.referral_id for p in listed] == [red] and "local-list-order-1.0" in listed[0].reason


def test_a_list_order_file_that_would_leave_a_priority_unlisted_stops_the_service_at_start(tmp_path):
    broken = tmp_path / "list-order.yaml"
    broken.write_text("version: x\n", encoding="utf-8")
    with pytest.raises(PydanticValidationError, match="list_order_file"):
        make_settings(list_order_file=broken)


def test_a_note_with_a_control_character_is_refused_naming_the_field(reference_loaded):
    referral_id = _referred(reference_loaded)
    with pytest.raises(ValidationError, match="note"):
        _mark(reference_loaded, referral_id, "declined", note="patient\x00declined")
    assert referral_id in _on_list(reference_loaded)


def test_the_api_refuses_a_note_with_a_control_character(reference_loaded):
    world = build_world(reference_loaded)
    referral_id = _referred(reference_loaded, nhs="9990000026", ref="RF-NUL")
    answer = world.client.post(f"/api/v1/triage/colonoscopy-list/{referral_id}/state",
                               json={"state": "declined", "note": "no\x00thanks"}, headers=world.auth("scientist"))
    assert answer.status_code == 422 and "note" in answer.text
