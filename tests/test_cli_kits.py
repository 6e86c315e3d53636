"""`fit-lab kits receive` through the real command against a real database (issue 13).

A forgotten `--collected` used to reject a good kit at once (reason no_collection_date) and queue a replacement
kit to the patient. The command now needs the date written on the tube or an explicit `--no-collection-date`
(domain brief §5: the patient writes the collection date on the tube; the lab needs it to check stability).
"""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from sqlalchemy import func, inspect, select, table
from sqlalchemy.engine import Engine
from sqlmodel import Session

from fit_lab.clock import fixed_clock
from fit_lab.db.models import Kit
from fit_lab.services import dispatch, intake
from tests.conftest import LAB, NOW
from tests.helpers import referral_row
from tests.test_cli_end_to_end import run


@pytest.fixture
def dispatched(reference_loaded: Engine) -> tuple[Engine, str]:
    """One kit posted to the patient and not yet back."""
    intake.create_referral(reference_loaded, referral_row(referral_date="2026-11-01"), actor=LAB,
                           clock=fixed_clock(NOW))
    dispatch.create_batch(reference_loaded, actor=LAB, clock=fixed_clock(NOW))
    with Session(reference_loaded) as session:
        specimen_id = session.execute(select(Kit.specimen_id)).scalar_one()
    return reference_loaded, specimen_id


def _rows_per_table(engine: Engine) -> dict[str, int]:
    names = inspect(engine).get_table_names()
    with engine.connect() as conn:
        return {name: conn.execute(select(func.count()).select_from(table(name))).scalar_one() for name in names}


def _kits(engine: Engine) -> list[tuple[str, str, str | None]]:
    with Session(engine) as session:
        return [(k.specimen_id, k.state, k.reject_reason) for k in session.execute(select(Kit).order_by(Kit.id))
                .scalars()]


@pytest.mark.parametrize(
    ("options", "which"),
    [([], "one is required"), (["--collected", "2026-11-20", "--no-collection-date"], "not both")],
    ids=["neither", "both"],
)
def test_receive_without_exactly_one_collection_date_option_is_refused_and_changes_nothing(
    dispatched: tuple[Engine, str], db_url: str, tmp_path, options: list[str], which: str
) -> None:
    engine, specimen_id = dispatched
    before = _rows_per_table(engine)
    done = run(["kits", "receive", specimen_id, *options], db_url, tmp_path, check=False)
    assert done.returncode == 2
    assert done.stdout == ""
    assert len(done.stderr.strip().splitlines()) == 1, done.stderr
    assert done.stderr.startswith("fit-lab: collected: give --collected YYYY-MM-DD")
    assert "--no-collection-date" in done.stderr and which in done.stderr and "nothing was changed" in done.stderr
    assert _kits(engine) == [(specimen_id, "dispatched", None)]
    assert _rows_per_table(engine) == before  # no audit event, no replacement kit, no letter


def test_receive_with_no_collection_date_rejects_the_kit_for_that_reason(
    dispatched: tuple[Engine, str], db_url: str, tmp_path
) -> None:
    engine, specimen_id = dispatched
    done = run(["kits", "receive", specimen_id, "--no-collection-date"], db_url, tmp_path)
    assert f"{specimen_id}: REJECTED" in done.stdout
    first, *replacements = _kits(engine)
    assert first == (specimen_id, "rejected", "no_collection_date")
    assert len(replacements) == 1 and "replacement kit" in done.stdout  # replacement kits are on by default


def test_receive_with_the_collection_date_receives_the_kit(
    dispatched: tuple[Engine, str], db_url: str, tmp_path
) -> None:
    engine, specimen_id = dispatched
    collected = date.today() - timedelta(days=1)  # the command runs on the real clock
    done = run(["kits", "receive", specimen_id, "--collected", collected.isoformat()], db_url, tmp_path)
    assert f"{specimen_id}: Received" in done.stdout
    assert _kits(engine) == [(specimen_id, "received", None)]
