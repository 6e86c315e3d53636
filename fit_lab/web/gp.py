"""Pages for GPs: their own practice's results (positives first to the eye), letters and acknowledgement.

Everything shown comes through ``gp_view``, which scopes every read to the GP's practice and audits it; another
practice's letter answers as not found, exactly as the API does.
"""

from __future__ import annotations

from datetime import date
from typing import Annotated

from fastapi import APIRouter, Depends, Form, Path, Query, Request
from starlette.responses import RedirectResponse, Response

from fit_lab.api.deps import EngineDep, SettingsDep
from fit_lab.errors import FieldProblem, ValidationError
from fit_lab.services import gp_view
from fit_lab.services.outcomes import policies
from fit_lab.web.pages import PageRoute, Visit, file_response, render, visit_for

router = APIRouter(route_class=PageRoute, include_in_schema=False)
Gp = Annotated[Visit, Depends(visit_for("gp"))]
LetterId = Annotated[int, Path(ge=1, le=2**31 - 1)]
PAGE_SIZE = 50


def _date(field: str, raw: str) -> date | None:
    if not raw.strip():
        return None
    try:
        return date.fromisoformat(raw.strip())
    except ValueError:
        raise ValidationError([FieldProblem(field, "is not a date (day, month, year)")]) from None


@router.get("/gp")
def results(request: Request, visit: Gp, engine: EngineDep, settings: SettingsDep,
            band: Annotated[str, Query(max_length=40)] = "", since: Annotated[str, Query(max_length=10)] = "",
            until: Annotated[str, Query(max_length=10)] = "", page: Annotated[int, Query(ge=1, le=100_000)] = 1,
            acknowledged: Annotated[int | None, Query(ge=1)] = None) -> Response:
    bands = sorted({(b.name, b.label) for p in policies(settings).policies for b in p.bands})
    total, rows = gp_view.list_outcomes(engine, actor=visit.principal, band=band or None,
                                        since=_date("since", since), until=_date("until", until),
                                        limit=PAGE_SIZE, offset=(page - 1) * PAGE_SIZE)
    return render(request, "gp_results.html", {
        "visit": visit, "rows": rows, "total": total, "page": page, "pages": max(1, -(-total // PAGE_SIZE)),
        "bands": bands, "filters": {"band": band, "since": since, "until": until}, "acknowledged": acknowledged})


LETTER_KINDS = {"reassurance": "Reassurance (FIT negative)", "positive": "Positive: refer",
                "no_valid_result": "No valid result: repeat kit", "amended": "AMENDED result",
                "kit_rejected": "Kit rejected: new kit sent",
                "rejected_closed": "Kit rejected: no new kit, request closed",
                "not_returned": "Kit not returned: safety-net",
                "red_flag": "RED FLAG: refer now, no FIT"}


@router.get("/gp/letters")
def letters(request: Request, visit: Gp, engine: EngineDep, kind: Annotated[str, Query(max_length=20)] = "",
            since: Annotated[str, Query(max_length=10)] = "", until: Annotated[str, Query(max_length=10)] = "",
            page: Annotated[int, Query(ge=1, le=100_000)] = 1,
            acknowledged: Annotated[int | None, Query(ge=1)] = None) -> Response:
    """Every letter to the practice, including kits rejected and kits not returned (no result: safety-net)."""
    total, rows = gp_view.list_letters(engine, actor=visit.principal, kind=kind or None,
                                       since=_date("since", since), until=_date("until", until), limit=PAGE_SIZE,
                                       offset=(page - 1) * PAGE_SIZE)
    return render(request, "gp_letters.html", {
        "visit": visit, "rows": rows, "total": total, "page": page, "pages": max(1, -(-total // PAGE_SIZE)),
        "kinds": LETTER_KINDS, "filters": {"kind": kind, "since": since, "until": until},
        "acknowledged": acknowledged})


@router.get("/gp/letters/{letter_id}.pdf")
def letter(letter_id: LetterId, visit: Gp, engine: EngineDep) -> Response:
    return file_response(gp_view.letter_pdf(engine, letter_id, actor=visit.principal), "application/pdf")


@router.post("/gp/letters/{letter_id}/acknowledge")
def acknowledge(letter_id: LetterId, visit: Gp, engine: EngineDep, csrf: Annotated[str, Form()] = "",
                back: Annotated[str, Form(max_length=300)] = "/gp") -> Response:
    visit.check(csrf)
    gp_view.acknowledge(engine, letter_id, actor=visit.principal)
    target = back if back.startswith("/gp") and "//" not in back else "/gp"
    joiner = "&" if "?" in target else "?"
    return RedirectResponse(f"{target}{joiner}acknowledged={letter_id}", status_code=303)
