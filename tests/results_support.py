"""Shared set-up for result tests: kits received today, and messages as the analyser would send them."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select
from sqlmodel import Session

from analyser_drivers import (
    DEFAULT_DELIMITERS,
    Message,
    ReceivedMessage,
    TranscriptChunk,
    TubeResult,
    result_records,
)
from fit_lab.clock import fixed_clock
from fit_lab.db.models import Kit
from fit_lab.principal import Principal
from fit_lab.qc.targets import load_targets
from fit_lab.services import dispatch, intake, kits
from fit_lab.services.results import store_message
from tests.api_support import make_settings
from tests.conftest import LAB, NOW
from tests.helpers import referral_row

SETTINGS = make_settings(analyser_timezone="UTC")
TARGETS = load_targets()
SCIENTIST = Principal("sci", "scientist")
AT = NOW.replace(tzinfo=None)  # analysers send naive local time; the tests' analyser clock is UTC


def message(profile, tubes):
    records = result_records(profile, tubes, "SN-1", AT)
    return ReceivedMessage(Message(tuple(records), DEFAULT_DELIMITERS), b"",
                           (TranscriptChunk(NOW.timestamp(), "in", b"\x05frames"),))


def store(engine, profile, tubes):
    return store_message(engine, message(profile, tubes), profile=profile, port_url="loop://", settings=SETTINGS,
                         qc_targets=TARGETS, clock=fixed_clock(NOW))


@pytest.fixture
def received(reference_loaded):
    """Two kits received today."""
    week_ago = fixed_clock(NOW - timedelta(days=7))
    for i, nhs in enumerate(["9434765919", "9990000018"]):
        intake.create_referral(reference_loaded, referral_row(nhs_number=nhs, external_ref=f"R{i}",
                                                              referral_date="2026-10-01"), actor=LAB, clock=week_ago)
    dispatch.create_batch(reference_loaded, actor=LAB, clock=week_ago)
    with Session(reference_loaded) as session:
        ids = list(session.execute(select(Kit.specimen_id).order_by(Kit.id)).scalars())
    for specimen_id in ids:
        kits.receive_kit(reference_loaded, specimen_id, NOW.date(), actor=LAB, settings=SETTINGS,
                         clock=fixed_clock(NOW))
    return reference_loaded, ids


def tube(specimen_id, raw, seconds):
    return TubeResult(specimen_id, raw, AT + timedelta(seconds=seconds), lot="L1")


