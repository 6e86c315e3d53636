"""The cancer alliance's statistics page: the month's inequality flags first, the charts, the headline tables and
the downloads. Everything on it is published (suppressed, rounded, identifier-free) by ``services.stats``."""

from __future__ import annotations

import base64
from datetime import date, timedelta
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Path, Query, Request
from starlette.responses import Response

from fit_lab.api.deps import EngineDep, SettingsDep
from fit_lab.clock import system_clock
from fit_lab.services import stats
from fit_lab.stats.charts import CHARTS
from fit_lab.web.pages import PageRoute, Visit, file_response, render, visit_for

router = APIRouter(route_class=PageRoute, include_in_schema=False)
Alliance = Annotated[Visit, Depends(visit_for(*stats.STATS_ROLES))]
Month = Annotated[str, Query(max_length=7, description="YYYY-MM")]
SHOWN = ("summary", "by_imd_quintile", "by_ethnic_group", "by_age_band", "by_sex", "rejections", "results_by_band",
         "colonoscopy")


def _last_month() -> str:
    return f"{system_clock().date().replace(day=1) - timedelta(days=1):%Y-%m}"


@router.get("/stats")
def page(request: Request, visit: Alliance, engine: EngineDep, settings: SettingsDep, month: Month = "") -> Response:
    chosen = month or _last_month()
    result = stats.monthly(engine, stats.parse_month(chosen), actor=visit.principal, settings=settings)
    charts = {name: base64.b64encode(png).decode() for name, png in stats.charts(result, settings).items()}
    first = date.fromisoformat(f"{chosen}-01")
    previous = f"{first - timedelta(days=1):%Y-%m}"
    following = f"{(first + timedelta(days=32)).replace(day=1):%Y-%m}"
    return render(request, "stats.html", {
        "visit": visit, "stats": result, "charts": charts, "chart_titles": CHARTS, "month": chosen,
        "previous": previous, "following": following if following <= _last_month() else None,
        "tables": [result.tables[name] for name in SHOWN], "formats": tuple(stats.FORMATS),
        "watch_note": stats.watch_note(settings)})


@router.get("/stats/monthly.{fmt}")
def download(visit: Alliance, engine: EngineDep, settings: SettingsDep,
             fmt: Annotated[Literal["csv", "xlsx", "json"], Path()], month: Month = "") -> Response:
    result = stats.monthly(engine, stats.parse_month(month or _last_month()), actor=visit.principal,
                           settings=settings)
    made = stats.as_file(result, fmt, settings)
    return file_response(made.content, made.media_type, made.filename)
