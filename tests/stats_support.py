"""Planted pathway rows for the statistics tests: cohorts of identical patients with exact timelines.

Rows are written straight to the tables (the statistics read only the tables), so every answer is known by
construction: a cohort of N patients with the same timeline contributes N to each count and its own value to
each turnaround.
"""

from __future__ import annotations

import itertools
import random
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from fit_lab import synthetic
from fit_lab.db.models import Kit, Letter, Patient, Practice, Referral, Result, TriageOutcome

T0 = datetime(2026, 1, 1, tzinfo=UTC)
POLICY = "default-oc-sensor-1.0"  # an earlier version than the shipped file: edges come by band name
BAND_OF = {"negative": ("reassure", "P9"), "positive": ("refer", "P3"), "high": ("refer", "P2"),
           "highest": ("refer", "P1")}


@dataclass(frozen=True)
class Cohort:
    """``count`` patients referred at ``referred`` whose kit has the given fate (offsets from ``referred``)."""

    count: int
    practice: str
    referred: datetime
    sex: str = "F"
    ethnicity: str = "A"
    imd_decile: int | None = 5
    age: int = 60
    posted_after: timedelta | None = timedelta(hours=25)
    back_after_post: timedelta | None = None  # None: never returned
    rejected: str | None = None  # a reason code: rejected at receipt, a replacement posted
    replacement_post_after: timedelta = timedelta(days=2)  # after the rejection
    replacement_back_after: timedelta | None = None
    not_returned_after_post: timedelta | None = None
    analysed_after_back: timedelta = timedelta(days=1)
    released_after_analysed: timedelta = timedelta(hours=2)
    band: str | None = "negative"  # None: no result
    fhb: float | None = 4.0
    comparator: str = "="


class Planter:
    def __init__(self, engine: Engine, practices: dict[str, str | None]) -> None:
        """``practices``: ODS code → PCN code."""
        self.engine = engine
        self.nhs = synthetic.synthetic_nhs_numbers(random.Random(99))
        self.rng = random.Random(5)
        self.planted: list[dict[str, object]] = []  # each patient's identifiers, for tests that look for them
        self.serial = itertools.count(1)
        with Session(engine) as session:
            for ods, pcn in practices.items():
                session.add(Practice(ods_code=ods, name=f"Practice {ods}", pcn_code=pcn, created_at=T0))
            session.commit()
            self.practice_id = {p.ods_code: p.id for p in session.exec(select(Practice)).all()}

    def plant(self, cohort: Cohort) -> None:
        with Session(self.engine) as session:
            for _ in range(cohort.count):
                self._patient(session, cohort)
            session.commit()

    def _patient(self, session: Session, c: Cohort) -> None:
        born = date(c.referred.year - c.age, 1, 1) if c.referred.month > 1 or c.referred.day > 1 else date(
            c.referred.year - c.age - 1, 1, 1)
        given = self.rng.choice(synthetic.GIVEN_F if c.sex == "F" else synthetic.GIVEN_M)
        patient = Patient(nhs_number=next(self.nhs), family_name=self.rng.choice(synthetic.FAMILY), given_name=given,
                          date_of_birth=born, sex=c.sex, address_line1=f"{self.rng.randint(1, 99)} Mill Lane",
                          postcode=f"LS{self.rng.randint(1, 29)} {self.rng.randint(1, 9)}AB",
                          ethnicity_code=c.ethnicity,
                          imd_decile=c.imd_decile, imd_edition="IMD2019" if c.imd_decile else None,
                          practice_id=self.practice_id[c.practice], created_at=c.referred, updated_at=c.referred)
        session.add(patient)
        session.flush()
        self.planted.append({"nhs_number": patient.nhs_number, "given_name": patient.given_name,
                             "family_name": patient.family_name, "date_of_birth": patient.date_of_birth,
                             "postcode": patient.postcode, "address_line1": patient.address_line1})
        referral = Referral(practice_id=patient.practice_id, patient_id=patient.id, requester="Dr Planted",
                            referral_date=c.referred.date(), symptoms=["rectal_bleeding"], source="csv",
                            received_at=c.referred, created_by="planter", status="in_progress")
        session.add(referral)
        session.flush()
        if c.posted_after is None:
            referral.status = "awaiting_kit"
            return
        posted = c.referred + c.posted_after
        kit = self._kit(session, referral, posted)
        if c.not_returned_after_post is not None:
            kit.state, kit.not_returned_at = "not_returned", posted + c.not_returned_after_post
            kit.reminded_at = posted + timedelta(days=14)
            return
        if c.back_after_post is None:
            return
        back = posted + c.back_after_post
        kit.state, kit.received_at, kit.received_by, kit.collection_date = "received", back, "lab", back.date()
        if c.rejected:
            kit.state, kit.rejected_at, kit.reject_reason = "rejected", back, c.rejected
            kit = self._kit(session, referral, back + c.replacement_post_after, replaces=kit.id)
            if c.replacement_back_after is None:
                return
            back = kit.dispatched_at + c.replacement_back_after
            kit.state, kit.received_at, kit.received_by, kit.collection_date = "received", back, "lab", back.date()
        if c.band is None:
            return
        analysed = back + c.analysed_after_back
        released = analysed + c.released_after_analysed
        kit.state, kit.analysed_at = "reported", analysed
        result = Result(kit_id=kit.id, specimen_id=kit.specimen_id, instrument="SN-1", method="OC-Sensor",
                        comparator=c.comparator, fhb_ug_per_g=c.fhb, measured_at=analysed, stored_at=analysed,
                        status="released", released_at=released, released_by="auto")
        session.add(result)
        session.flush()
        action, priority = BAND_OF[c.band]
        outcome = TriageOutcome(referral_id=referral.id, result_id=result.id, action=action, band=c.band,
                                priority_key=priority, explanation="planted", policy_version=POLICY,
                                detail={"comparator": c.comparator, "fhb_ug_per_g": c.fhb}, created_at=released)
        session.add(outcome)
        session.flush()
        session.add(Letter(referral_id=referral.id, practice_id=referral.practice_id, kit_id=kit.id,
                           outcome_id=outcome.id, kind="positive" if action == "refer" else "reassurance",
                           policy_version=POLICY, created_at=released, content={}))
        referral.status = "resulted"

    def _kit(self, session: Session, referral: Referral, posted: datetime, replaces: int | None = None) -> Kit:
        kit = Kit(specimen_id=f"P{next(self.serial):09d}", referral_id=referral.id, replaces_kit_id=replaces,
                  state="dispatched", state_changed_at=posted, allocated_at=posted, dispatched_at=posted)
        session.add(kit)
        session.flush()
        return kit
