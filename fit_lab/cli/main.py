"""The `fit-lab` command. Commands are thin: parse, call one service, print.

Errors are turned into a one-line reason and a non-zero exit code here, in one place.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer

from fit_lab.cli import analyser as analyser_cmd
from fit_lab.cli import demo_cmd, referrals_cmd, stats_cmd, triage_cmd
from fit_lab.cli import dispatch as dispatch_cmd
from fit_lab.cli import failsafe as failsafe_cmd
from fit_lab.cli import kits as kits_cmd
from fit_lab.cli import seed as seed_cmd
from fit_lab.cli.context import engine, settings
from fit_lab.cli.files import read_input_file
from fit_lab.errors import ConfigurationError, FitLabError, ValidationError
from fit_lab.principal import command_line_principal

app = typer.Typer(no_args_is_help=True, add_completion=False, help="fit-lab: postal FIT laboratory workflow.")
db_app = typer.Typer(no_args_is_help=True, help="Database schema.")
users_app = typer.Typer(no_args_is_help=True, help="Users and roles.")
reference_app = typer.Typer(no_args_is_help=True, help="Reference data (deprivation).")
practices_app = typer.Typer(no_args_is_help=True, help="GP practices.")
app.add_typer(db_app, name="db")
app.add_typer(users_app, name="users")
app.add_typer(reference_app, name="reference")
app.add_typer(practices_app, name="practices")
app.add_typer(referrals_cmd.app, name="referrals")
app.command("seed")(seed_cmd.seed)
app.command("demo")(demo_cmd.demo)
app.add_typer(dispatch_cmd.app, name="dispatch")
app.add_typer(analyser_cmd.app, name="analyser")
app.add_typer(triage_cmd.app, name="triage")
app.add_typer(kits_cmd.app, name="kits")
app.add_typer(failsafe_cmd.app, name="failsafe")
app.add_typer(stats_cmd.app, name="stats")

EXIT_CODES = {ConfigurationError: 3, ValidationError: 2}


def main() -> None:
    try:
        app()
    except FitLabError as exc:
        typer.echo(f"fit-lab: {exc.message}", err=True)
        sys.exit(next((code for kind, code in EXIT_CODES.items() if isinstance(exc, kind)), 1))


@db_app.command("upgrade")
def db_upgrade() -> None:
    """Apply the Alembic migrations to the configured database."""
    from fit_lab.db.migrate import current_revision, upgrade

    eng = engine(check_durability=True)
    upgrade(eng)
    typer.echo(f"database at revision {current_revision(eng)}")


@users_app.command("add")
def users_add(
    name: str,
    role: Annotated[str, typer.Option(help="lab, scientist, gp, alliance or admin")],
    practice: Annotated[str | None, typer.Option(help="ODS code; required for gp")] = None,
    password_stdin: Annotated[bool, typer.Option("--password-stdin", help="Read the password from stdin")] = False,
) -> None:
    """Add a user. The password is read from standard input, never from the command line."""
    from fit_lab.services.users import add_user

    if not password_stdin:
        raise ValidationError([])  # pragma: no cover - typer prints usage first
    password = sys.stdin.readline().rstrip("\n")
    user_id = add_user(engine(), name, role, password, practice_ods=practice, actor=command_line_principal())
    typer.echo(f"user {name} ({role}) added with id {user_id}")


@reference_app.command("load-imd")
def load_imd(
    imd_file: Path,
    postcode_lookup_file: Path,
    edition: Annotated[str | None, typer.Option(help="e.g. IMD2019; default from the LSOA year")] = None,
) -> None:
    """Load the English IMD by LSOA and a postcode → LSOA lookup (ONS postcode directory columns)."""
    from fit_lab.services.reference import load_imd as load

    with typer.progressbar(length=0, label="postcodes", show_pos=True) as bar:
        result = load(engine(), imd_file, postcode_lookup_file, actor=command_line_principal(), edition=edition,
                      progress=bar.update)
    typer.echo(f"{result.edition}: {result.areas} LSOAs, {result.postcodes} postcodes "
               f"({result.postcodes_skipped} without an LSOA of {result.lsoa_year} skipped)")


@practices_app.command("import")
def practices_import(file: Path) -> None:
    """Import GP practices: ods_code,name,pcn_code,address,postcode."""
    from fit_lab.services.practices import import_practices

    result = import_practices(engine(), read_input_file(file), actor=command_line_principal())
    typer.echo(f"practices: {result.created} created, {result.updated} updated, {result.unchanged} unchanged")


@app.command("serve")
def serve(
    host: Annotated[str, typer.Option(help="Interface to listen on")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="TCP port")] = 8000,
    dev: Annotated[bool, typer.Option("--dev", help="Development mode: accept the published development key "
                                      "(warned at every start; never with patient data)")] = False,
) -> None:
    """Run the web service (API and pages), outside development mode unless --dev or FIT_LAB_DEV_MODE=true."""
    import uvicorn

    from fit_lab.api.app import create_app, server_options

    chosen = settings().model_copy(update={"dev_mode": True}) if dev else settings()
    uvicorn.run(create_app(chosen, engine()), host=host, port=port, log_level="info", **server_options(chosen))  # type: ignore[arg-type]
