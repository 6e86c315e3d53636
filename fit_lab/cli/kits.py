"""`fit-lab kits receive|reject`: reception from the command line (the web page does the same)."""

from __future__ import annotations

from datetime import date
from typing import Annotated

import typer

from fit_lab.cli.context import engine, settings
from fit_lab.errors import FieldProblem, ValidationError
from fit_lab.principal import command_line_principal
from fit_lab.services import kits

app = typer.Typer(no_args_is_help=True, help="Reception of returned kits.")


def _show(result: kits.KitAtBench) -> None:
    typer.echo(f"{result.specimen_id}: {result.message}")
    typer.echo(f"  patient {result.patient_name}, born {result.date_of_birth:%d %b %Y}, "
               f"NHS {result.nhs_number[:3]} {result.nhs_number[3:6]} {result.nhs_number[6:]}")
    if result.replacement_specimen_id:
        typer.echo(f"  replacement kit {result.replacement_specimen_id} will go in the next dispatch batch")


@app.command("receive")
def receive(
    specimen_id: str,
    collected: Annotated[str | None, typer.Option(help="Collection date written on the tube, YYYY-MM-DD")] = None,
    no_collection_date: Annotated[bool, typer.Option(
        "--no-collection-date", help="The tube carries no collection date: the kit is rejected for that reason "
                                     "and a replacement queued")] = False,
) -> None:
    """Receive a returned kit; a missing, impossible or too-old collection date rejects it with that reason.

    One of ``--collected`` or ``--no-collection-date`` is required: a forgotten option must not reject a good
    kit and post the patient a replacement.
    """
    if no_collection_date == (collected is not None):
        which = "not both" if no_collection_date else "one is required"
        raise ValidationError([FieldProblem("collected", (
            f"give --collected YYYY-MM-DD (the date written on the tube) or --no-collection-date (the tube has "
            f"none: the kit is rejected and a replacement queued), {which}; nothing was changed"))])
    try:
        collection_date = None if collected is None else date.fromisoformat(collected)
    except ValueError:
        raise ValidationError([FieldProblem("collected", f"'{collected}' is not a date YYYY-MM-DD")]) from None
    _show(kits.receive_kit(engine(), specimen_id, collection_date, actor=command_line_principal("lab"),
                           settings=settings()))


@app.command("reject")
def reject(
    specimen_id: str,
    reason: Annotated[str, typer.Option(help=", ".join(kits.REJECTION_REASONS))],
    note: Annotated[str | None, typer.Option(help="Free text (required for 'other')")] = None,
) -> None:
    """Reject a returned kit with a reason code."""
    _show(kits.reject_kit(engine(), specimen_id, reason, note, actor=command_line_principal("lab"),
                          settings=settings()))
