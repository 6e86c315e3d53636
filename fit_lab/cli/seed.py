"""`fit-lab seed`: demo practices, synthetic deprivation data, referrals and log-ins on the configured database."""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path
from typing import Annotated

import typer
from sqlalchemy import select

from fit_lab import synthetic
from fit_lab.cli.context import engine, settings
from fit_lab.db.engine import transaction
from fit_lab.db.models import Practice, User
from fit_lab.errors import ConfigurationError
from fit_lab.principal import command_line_principal
from fit_lab.services import intake, practices, reference, users

REFERENCE_DIR = Path(__file__).resolve().parent.parent / "reference_data"
DEMO_PASSWORD = "fit-lab-demo-password"  # noqa: S105 - printed for the demo; never use a seeded db for patients


def seed(
    referrals: Annotated[int, typer.Option(help="How many synthetic referrals to import")] = 300,
    practice_count: Annotated[int, typer.Option("--practices", help="How many synthetic practices")] = 40,
) -> None:
    """Fill an empty database with synthetic demo data and demo log-ins (does nothing if already seeded).

    Development only: the log-ins it makes share a published password, so it refuses unless FIT_LAB_DEV_MODE is true.
    """
    if not settings().dev_mode:
        raise ConfigurationError("fit-lab seed makes log-ins with a published password, so it runs only in "
                                 "development (FIT_LAB_DEV_MODE=true); this installation is not in development mode.")
    eng = engine()
    actor = command_line_principal()
    with transaction(eng) as session:
        if session.execute(select(Practice.id).limit(1)).first():
            typer.echo("database already has practices: not seeding again")
            _print_logins(session.execute(select(User.username, User.role)).all())
            return
    items = synthetic.practices(practice_count)
    practices.import_practices(eng, synthetic.practices_csv(items), actor=actor)
    imd, lookup = REFERENCE_DIR / "synthetic_imd2019.csv", REFERENCE_DIR / "synthetic_postcode_lsoa.csv"
    reference.load_imd(eng, imd, lookup, actor=actor)
    rows = synthetic.referral_rows(
        referrals, practice_codes=[p.ods_code for p in items], postcodes=synthetic.known_postcodes(lookup),
        start=date.today() - timedelta(days=28), days=28,
    )
    report = intake.import_csv(eng, synthetic.referrals_csv(rows), filename="demo.csv", source="csv_cli",
                               actor=actor, settings=settings())
    logins = [("lab1", "lab", None), ("scientist1", "scientist", None), ("admin1", "admin", None),
              ("alliance1", "alliance", None), (f"gp-{items[0].ods_code.lower()}", "gp", items[0].ods_code)]
    for name, role, ods in logins:
        users.add_user(eng, name, role, DEMO_PASSWORD, practice_ods=ods, actor=actor)
    typer.echo(f"seeded {len(items)} practices, {report.accepted} referrals")
    _print_logins([(n, r) for n, r, _ in logins])


def _print_logins(rows: list[tuple[str, str]] | list) -> None:  # type: ignore[type-arg]
    typer.echo(f"demo log-ins (password '{DEMO_PASSWORD}'):")
    for name, role in rows:
        typer.echo(f"  {name:<16} {role}")
