from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Query
from fastapi.responses import Response

from fit_lab.api.deps import EngineDep, SettingsDep, require
from fit_lab.api.responses import errors
from fit_lab.principal import Principal
from fit_lab.services import stats

router = APIRouter(prefix="/stats", tags=["statistics"])
Alliance = Annotated[Principal, Depends(require("alliance", "admin"))]
_MEDIA = {200: {"content": {media: {} for media in stats.FORMATS.values()}}}


@router.get("/monthly", response_class=Response, responses={**_MEDIA, **errors(401, 403, 422)})
def monthly(
    engine: EngineDep, settings: SettingsDep, actor: Alliance,
    month: Annotated[str, Query(pattern=r"^20\d{2}-(0[1-9]|1[0-2])$", description="YYYY-MM, a month that has begun",
                                examples=["2026-10"])],
    format: Annotated[Literal["json", "csv", "xlsx"], Query(description="json, csv or xlsx")] = "json",
) -> Response:
    """The cancer alliance's monthly statistics: suppressed, rounded and free of identifiers, with the month's
    inequality flags first."""
    made = stats.as_file(stats.monthly(engine, stats.parse_month(month), actor=actor, settings=settings), format,
                         settings)
    return Response(made.content, media_type=made.media_type,
                    headers={"Content-Disposition": f'attachment; filename="{made.filename}"'})
