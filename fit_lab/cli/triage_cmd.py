"""`fit-lab triage check|list`: try the policy on one value; print the ranked colonoscopy list."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from dataclasses import asdict
from datetime import date
from pathlib import Path
from typing import Annotated, TypeVar

import typer

import triage
from fit_lab.cli.context import engine, settings
from fit_lab.errors import FieldProblem, ValidationError
from fit_lab.principal import command_line_principal
from fit_lab.services import colonoscopy, outcomes
from fit_lab.spreadsheet import SafeCsvWriter

app = typer.Typer(no_args_is_help=True, help="Triage policy and the colonoscopy list.")
T = TypeVar("T")


def _field(name: str, read: Callable[[], T]) -> T:
    """``read()``, with a refusal turned into a one-line reason naming the option (exit code 2)."""
    try:
        return read()
    except (triage.TriageError, ValueError) as exc:
        raise ValidationError([FieldProblem(f"--{name}", str(exc))]) from None


@app.command("check")
def check(
    value: Annotated[str, typer.Option(help="A number, a censored value (<10, >400) or an error code")],
    flags: Annotated[str, typer.Option(help="Comma-separated: ida, abdominal_mass, rectal_mass, anal_mass, "
                                            "anal_ulceration, clinical_concern")] = "",
    method: Annotated[str, typer.Option(help="The analyser method the policy applies to")] = "HM-JACKarc",
    policy: Annotated[Path | None, typer.Option(help="A policy file to try (default: the configured ones)")] = None,
    on: Annotated[str | None, typer.Option(help="Decide as on this date (YYYY-MM-DD; default today)")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON document")] = False,
) -> None:
    """What the policy decides for one result, storing nothing."""
    day = _field("on", lambda: date.fromisoformat(on) if on else date.today())
    measurement = _field("value", lambda: triage.Measurement.parse(value, method))
    facts = _field("flags", lambda: triage.ReferralFacts.from_names(f.strip() for f in flags.split(",")))
    chosen = _field("policy", lambda: triage.load_policy(policy)) if policy else _field(
        "method", lambda: outcomes.policies(settings()).policy_for(method, day))
    decision = _field("policy" if policy else "method", lambda: triage.triage(measurement, facts, chosen))
    if as_json:
        typer.echo(json.dumps(decision.to_dict()))
        return
    typer.echo(f"{decision.action.value.upper()}  band {decision.band_label}  priority {decision.priority_key}  "
               f"(policy {decision.policy_version})")
    typer.echo(decision.explanation)


@app.command("list")
def list_(
    as_json: Annotated[bool, typer.Option("--json", help="JSON instead of CSV")] = False,
) -> None:
    """The ranked colonoscopy list (CSV on stdout, or --json) for the endoscopy booking team."""
    patients = colonoscopy.ranked_list(engine(), actor=command_line_principal("scientist"))
    rows = [asdict(p) | {"flags": ";".join(p.flags), "date_of_birth": p.date_of_birth.isoformat()}
            for p in patients]
    if as_json:
        typer.echo(json.dumps(rows))
        return
    writer = SafeCsvWriter(sys.stdout, lineterminator="\n")
    columns = list(rows[0]) if rows else ["rank"]
    writer.writerow(columns)
    writer.writerows([row[c] for c in columns] for row in rows)
