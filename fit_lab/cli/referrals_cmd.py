"""`fit-lab referrals …`: bulk intake, and settling what intake could not (held referrals, refused rows)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer

from fit_lab.cli.context import engine, settings
from fit_lab.cli.files import read_input_file
from fit_lab.principal import command_line_principal
from fit_lab.services import intake, referrals

app = typer.Typer(no_args_is_help=True, help="Referral intake.")


@app.command("import")
def import_file(
    file: Path, as_json: Annotated[bool, typer.Option("--json", help="Print one JSON document")] = False
) -> None:
    """Bulk intake; prints accepted / duplicate / rejected counts and every rejected row.

    Rows are numbered by their line in the file: the header is line 1, and blank lines count.
    """
    data = read_input_file(file)
    report = intake.import_csv(engine(), data, filename=file.name, source="csv_cli",
                               actor=command_line_principal("lab"), settings=settings())
    summary: dict[str, Any] = {
        "import_batch_id": report.import_batch_id, "rows": report.rows, "accepted": report.accepted,
        "duplicates": report.duplicates, "rejected": report.rejected, "on_hold": report.on_hold,
        "red_flags": report.red_flags,
        "row_numbering": intake.ROW_NUMBERING,
        "rejected_rows": [o.as_dict() for o in report.rejected_rows()],
    }
    if as_json:
        typer.echo(json.dumps(summary, default=str))
        return
    typer.echo(f"{report.rows} rows: {report.accepted} accepted, {report.duplicates} duplicate (nothing stored), "
               f"{report.rejected} rejected, {report.on_hold} on hold (kit already in flight), "
               f"{report.red_flags} red flags (referred now, no kit sent)")
    if report.rejected:
        typer.echo(f"rejected rows ({intake.ROW_NUMBERING}):")
    for outcome in report.rejected_rows():
        for problem in outcome.problems:
            typer.echo(f"  row {problem.row} (line {problem.row} of the file): {problem.field}: {problem.reason}")


@app.command("release-hold")
def release_hold(
    referral_id: int,
    decision: Annotated[str, typer.Option(help="queue (send a kit) or close (no kit for this referral)")],
    reason: Annotated[str, typer.Option(help="Why, for the audit trail")],
) -> None:
    """Decide a referral on hold: queue it for a kit, or close it."""
    released = referrals.release_hold(engine(), referral_id, decision=decision, reason=reason,
                                      actor=command_line_principal("lab"))
    typer.echo(released.message)


@app.command("resolve-rejection")
def resolve_rejection(
    rejection_id: int,
    resolution: Annotated[str, typer.Option(help="What was done (e.g. 'corrected NHS number, resubmitted')")],
) -> None:
    """Mark a refused referral row as dealt with, saying how."""
    row = referrals.resolve_rejection(engine(), rejection_id, resolution=resolution,
                                      actor=command_line_principal("lab"))
    typer.echo(f"intake rejection {row.id} resolved by {row.resolved_by}: {row.resolution}")
