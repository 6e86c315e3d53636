"""Pages for lab staff: reception (the scanning bench) and the lab dashboard.

Plain HTML forms, no script: a keyboard-wedge scanner types the specimen ID into the focused input and presses
Enter. Each route parses the form, calls one service and renders; refusals are shown on the page, never as a 500.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Form, Request
from starlette.responses import RedirectResponse, Response

from fit_lab.api.deps import ClockDep, EngineDep, SettingsDep
from fit_lab.errors import FieldProblem, FitLabError, NotFound, StateError, ValidationError
from fit_lab.services import dashboard, kits
from fit_lab.settings import Settings
from fit_lab.text import Line
from fit_lab.web import session as web_session
from fit_lab.web.pages import STAFF_ROLES, PageRoute, Visit, render, visit_for, when
from fit_lab.web.session import TRAY_COOKIE, Tray

router = APIRouter(route_class=PageRoute, include_in_schema=False)
Staff = Annotated[Visit, Depends(visit_for(*STAFF_ROLES))]
FormText = Annotated[Line, Form()]  # no control characters (a field-named 422), NFC
# Capitalised GP-letter wording, so the bench and the letter name a reason the same way.
REASON_LABELS = {code: words[0].upper() + words[1:] for code, words in kits.REJECTION_REASONS.items()}


# -- reception ----------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Panel:
    """What the bench sees after a scan: ``kind`` picks the colour, ``heading`` says it in words too."""

    kind: str  # accepted | already | rejected | refused | check
    heading: str
    message: str
    kit: kits.KitAtBench | None = None
    status_code: int = 200
    focus: str = "specimen_id"  # the input the next keystrokes go to


def _panel_for_kit(kit: kits.KitAtBench) -> Panel:
    if kit.already:
        return Panel("already", "ALREADY RECEIVED",
                     f"Already received {when(kit.received_at)} by {kit.received_by}. Nothing changed.", kit)
    if kit.state == "rejected":
        reason = kits.REJECTION_REASONS.get(kit.reject_reason or "", kit.reject_reason or "")
        replacement = (f" Replacement kit {kit.replacement_specimen_id} joins the next dispatch batch."
                       if kit.replacement_specimen_id else " No replacement kit will be sent.")
        return Panel("rejected", "REJECTED", f"Rejected: {reason}. Put the tube aside.{replacement} "
                     "The GP will be told.", kit)
    return Panel("accepted", "RECEIVED", "Check the name, date of birth and NHS number against the tube.", kit)


def _panel_for_error(exc: FitLabError, heading: str, focus: str = "specimen_id") -> Panel:
    if isinstance(exc, ValidationError):
        message = " ".join(p.reason[0].upper() + p.reason[1:] + "." for p in exc.problems)
    else:
        message = exc.message + (" Put the tube aside for a scientist." if isinstance(exc, NotFound) else "")
    return Panel("refused", heading, message, status_code=exc.status_code, focus=focus)


def _reception(request: Request, visit: Visit, tray: Tray, panel: Panel | None = None,
               reject: dict[str, str] | None = None) -> Response:
    settings: Settings = request.app.state.settings
    last_id = panel.kit.specimen_id if panel and panel.kit else ""
    context = {"visit": visit, "tray": tray, "panel": panel, "reasons": REASON_LABELS,
               "today": datetime.now(dashboard.LAB_TIMEZONE).date().isoformat(),
               "reject": reject or {"specimen_id": last_id, "reason": "", "note": ""}}
    response = render(request, "reception.html", context, panel.status_code if panel else 200)
    web_session.save_tray(response, settings, tray)
    return response


def _tray(request: Request, settings: Settings) -> Tray:
    return web_session.load_tray(settings, request.cookies.get(TRAY_COOKIE))


@router.get("/reception")
def reception(request: Request, visit: Staff, settings: SettingsDep) -> Response:
    return _reception(request, visit, _tray(request, settings))


def _collection_date(raw: str, no_date_on_tube: str) -> date | None:
    """The date as typed; none only when the person says the tube has none (an empty box is a slip, not a fact)."""
    if no_date_on_tube:
        return None
    if not raw.strip():
        raise ValidationError([FieldProblem(
            "collection_date", "enter the date written on the tube, or tick 'No collection date on the tube'")])
    try:
        return date.fromisoformat(raw.strip())
    except ValueError:
        raise ValidationError([FieldProblem("collection_date", "is not a date (day, month, year)")]) from None


@router.post("/reception/scan")
def scan(request: Request, visit: Staff, engine: EngineDep, settings: SettingsDep, specimen_id: FormText = "",
         collection_date: FormText = "", no_date_on_tube: FormText = "", csrf: FormText = "") -> Response:
    visit.check(csrf)
    tray = _tray(request, settings).with_date(collection_date.strip())
    try:
        collected = _collection_date(collection_date, no_date_on_tube)
    except ValidationError as exc:  # nothing happened to any kit: not counted
        return _reception(request, visit, tray, _panel_for_error(exc, "NOT RECEIVED: COLLECTION DATE NEEDED",
                                                                        focus="collection_date"))
    try:
        kit = kits.receive_kit(engine, specimen_id, collected, actor=visit.principal, settings=settings)
    except (NotFound, StateError) as exc:
        return _reception(request, visit, tray.after_refusal(), _panel_for_error(exc, "REFUSED"))
    except ValidationError as exc:  # a misread: the tube is scanned again, so it is not counted as refused
        return _reception(request, visit, tray, _panel_for_error(exc, "REFUSED: ID NOT READ"))
    if kit.state == "rejected":
        tray = tray.after_rejection(kit.specimen_id)
    elif not kit.already:
        tray = tray.after_receipt(kit.specimen_id)
    return _reception(request, visit, tray, _panel_for_kit(kit))


@router.post("/reception/reject")
def reject(request: Request, visit: Staff, engine: EngineDep, settings: SettingsDep, specimen_id: FormText = "",
           reason: FormText = "", note: FormText = "", csrf: FormText = "") -> Response:
    visit.check(csrf)
    tray = _tray(request, settings)
    try:
        kit = kits.reject_kit(engine, specimen_id, reason, note, actor=visit.principal, settings=settings)
    except FitLabError as exc:
        form = {"specimen_id": specimen_id, "reason": reason, "note": note}
        return _reception(request, visit, tray, _panel_for_error(exc, "NOT REJECTED"), reject=form)
    return _reception(request, visit, tray.after_rejection(kit.specimen_id), _panel_for_kit(kit))


@router.post("/reception/tray")
def new_tray(visit: Staff, settings: SettingsDep, csrf: FormText = "") -> Response:
    visit.check(csrf)
    response = RedirectResponse("/reception", status_code=303)
    web_session.save_tray(response, settings, Tray())
    return response


# -- dashboard ----------------------------------------------------------------------------------------------------


@router.get("/dashboard")
def lab_dashboard(request: Request, visit: Staff, engine: EngineDep, settings: SettingsDep,
                  clock: ClockDep) -> Response:
    tiles = dashboard.tiles(engine, settings=settings, clock=clock)
    return render(request, "dashboard.html", {"visit": visit, "tiles": tiles,
                                              "failsafe": dashboard.failsafe_status(engine)})


@router.get("/dashboard/list/{name}")
def dashboard_list(request: Request, name: str, visit: Staff, engine: EngineDep, settings: SettingsDep,
                   clock: ClockDep) -> Response:
    found = dashboard.tile_list(engine, name, actor=visit.principal, settings=settings, limit=settings.max_page_size,
                                clock=clock)
    return render(request, "dashboard_list.html", {"visit": visit, "found": found})
