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
    chosen = _field("policy", lambda: triage.load_policy(policy)) if policy else _field(
        "method", lambda: outcomes.policies(settings()).policy_for(method, day))
    # Only the policy's known error codes are error results; any other word is refused, never a repeat.
    measurement = _field("value", lambda: triage.Measurement.parse(value, method,
                                                                   chosen.error_results.known_codes))
    facts = _field("flags", lambda: triage.ReferralFacts.from_names(f.strip() for f in flags.split(",")))
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
    patients = colonoscopy.ranked_list(engine(), actor=command_line_principal("scientist"), settings=settings())
    rows = [asdict(p) | {"flags": ";".join(p.flags), "date_of_birth": p.date_of_birth.isoformat()}
            for p in patients]
    if as_json:
        typer.echo(json.dumps(rows, default=str))
        return
    writer = SafeCsvWriter(sys.stdout, lineterminator="\n")
    columns = list(rows[0]) if rows else ["rank"]
    writer.writerow(columns)
    writer.writerows([row[c] for c in columns] for row in rows)


@app.command("mark")
def mark(
    referral_id: int,
    state: Annotated[str, typer.Option(help="booked, seen, declined, did_not_attend or not_suitable")],
    booked_for: Annotated[str | None, typer.Option("--date", help="The colonoscopy date, YYYY-MM-DD (booked)")] = None,
    note: Annotated[str | None, typer.Option(help="Why (required for declined and not_suitable)")] = None,
) -> None:
    """Record the booking team's step for a patient on the colonoscopy list (audited)."""
    day = _field("date", lambda: date.fromisoformat(booked_for)) if booked_for else None
    actor = command_line_principal("scientist")
    on_list = colonoscopy.record_list_state(engine(), referral_id, state, actor=actor, booked_for=day, note=note)
    place = colonoscopy.place_on_list(engine(), referral_id, actor=actor) if on_list else None
    words = colonoscopy.LIST_STATE_WORDS[state]
    typer.echo(f"referral {referral_id}: {words}" + (f"; now rank {place.rank}" if place else ""))
