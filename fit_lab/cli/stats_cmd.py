"""`fit-lab stats monthly`: the cancer alliance's monthly statistics to a file."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from fit_lab.cli.context import engine, settings
from fit_lab.principal import command_line_principal
from fit_lab.services import stats

app = typer.Typer(no_args_is_help=True, help="Statistics for the cancer alliance.")


@app.command("monthly")
def monthly(
    month: Annotated[str, typer.Option(help="The month, YYYY-MM")],
    out: Annotated[Path, typer.Option(help="File to write")],
    format: Annotated[str, typer.Option("--format", help="csv, xlsx or json")] = "xlsx",
) -> None:
    """Write one month's statistics (suppressed, rounded, no identifiers) and print the inequality flags."""
    config = settings()
    result = stats.monthly(engine(), stats.parse_month(month), actor=command_line_principal("admin"),
                           settings=config)
    made = stats.as_file(result, format, config)
    out.write_bytes(made.content)
    typer.echo(f"statistics for {result.month_label} written to {out} ({len(made.content):,} bytes)")
    typer.echo(f"{len(result.flags)} inequality flag(s)" + (":" if result.flags else ""))
    for flag in result.flags:
        typer.echo(f"  FLAG {flag.message}")
