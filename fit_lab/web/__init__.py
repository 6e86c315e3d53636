"""Server-rendered pages: log-in; reception and dashboard for lab staff; results and letters for GPs; statistics
for the cancer alliance. The API stays under /api/v1."""

from __future__ import annotations

from fastapi import APIRouter

from fit_lab.web import gp, login, reception, stats
from fit_lab.web.pages import static_files

router = APIRouter()
for module in (login, reception, gp, stats):
    router.include_router(module.router)

__all__ = ["router", "static_files"]
