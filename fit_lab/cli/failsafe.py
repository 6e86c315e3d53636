"""`fit-lab failsafe run`: remind, close kits not returned (GP told), show alerts and everything overdue.

Output is for lab staff: it names referral IDs and specimen IDs, never a patient.
"""

from __future__ import annotations

from datetime import date
from typing import Annotated

import typer

from fit_lab.cli.context import engine, settings
from fit_lab.clock import system_clock
from fit_lab.errors import FieldProblem, ValidationError
from fit_lab.principal import command_line_principal
from fit_lab.services import failsafe

app = typer.Typer(no_args_is_help=True, help="The failsafe: reminders, kits not returned, alerts, overdue items.")


@app.command("run")
def run(
    today: Annotated[str | None, typer.Option(help="Decide as on this day, YYYY-MM-DD (default: today)")] = None,
) -> None:
    """Run the daily failsafe now; running it twice on one day changes nothing the second time."""
    try:
        day = date.fromisoformat(today) if today else system_clock().date()
    except ValueError:
        raise ValidationError([FieldProblem("today", f"'{today}' is not a date YYYY-MM-DD")]) from None
    report = failsafe.run_failsafe(engine(), today=day, actor=command_line_principal("lab"), settings=settings())
    typer.echo(f"failsafe for {report.today}: {len(report.reminded)} reminders, "
               f"{len(report.not_returned)} closed as not returned, {len(report.alerts)} alerts, "
               f"{len(report.overdue)} overdue")
    for kit in report.reminded:
        typer.echo(f"  reminder sent     kit {kit.specimen_id}  referral {kit.referral_id}  "
                   f"dispatched {kit.dispatched_on}")
    for kit in report.not_returned:
        closed = "referral closed" if kit.referral_closed else "referral kept open (another kit in flight)"
        typer.echo(f"  not returned      kit {kit.specimen_id}  referral {kit.referral_id}  GP told, {closed}")
    for alert in report.alerts:
        where = f"referral {alert.referral_id}" if alert.referral_id is not None else "no referral matched"
        typer.echo(f"  ALERT {alert.kind}  {where}: {alert.message}; "
                   f"due {alert.due}, {alert.days_late} days late")
    for item in report.overdue:
        specimen = f"  kit {item.specimen_id}" if item.specimen_id else ""
        typer.echo(f"  OVERDUE referral {item.referral_id}  {item.state}  {item.days_overdue} days overdue "
                   f"(due {item.due}){specimen}")
