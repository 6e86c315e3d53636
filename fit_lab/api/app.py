"""The FastAPI application: API under /api/v1, OpenAPI at /docs."""

from __future__ import annotations

from fastapi import APIRouter, FastAPI
from sqlalchemy.engine import Engine

from fit_lab.api import errors, openapi
from fit_lab.api.limits import BodySizeLimit
from fit_lab.api.routes import auth, dispatch, identity, kits, outcomes, referrals, results, stats
from fit_lab.db.engine import make_engine
from fit_lab.settings import Settings, get_settings
from fit_lab.startup import check_startup
from fit_lab.web import router as web_router
from fit_lab.web import static_files


def create_app(settings: Settings | None = None, engine: Engine | None = None) -> FastAPI:
    settings = settings or get_settings()
    check_startup(settings)
    engine = engine or make_engine(settings.database_url)
    app = FastAPI(
        title="fit-lab",
        version="0.1.0",
        description="Postal FIT testing: referral intake, kits, results, triage and statistics.",
        docs_url="/docs",
    )
    app.state.settings = settings
    app.state.engine = engine
    errors.install(app)
    api = APIRouter(prefix="/api/v1")
    api.include_router(auth.router)
    api.include_router(referrals.router)
    api.include_router(identity.router)
    api.include_router(dispatch.router)
    api.include_router(kits.router)
    api.include_router(results.router)
    api.include_router(outcomes.router)
    api.include_router(stats.router)

    @api.get("/health", tags=["service"])
    def health() -> dict[str, str]:
        return {"status": "ok"}

    app.include_router(api)
    app.include_router(web_router)
    app.mount("/static", static_files, name="static")
    openapi.install(app)
    app.add_middleware(BodySizeLimit, limit_bytes=settings.max_upload_bytes)
    return app
