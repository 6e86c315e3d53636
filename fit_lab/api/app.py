"""The FastAPI application: API under /api/v1, OpenAPI at /docs, and the daily failsafe in the background."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import date

from fastapi import APIRouter, FastAPI
from sqlalchemy.engine import Engine

from fit_lab.api import errors, openapi
from fit_lab.api.limits import BodySizeLimit
from fit_lab.api.routes import auth, dispatch, identity, kits, outcomes, referrals, results, stats
from fit_lab.clock import Clock, system_clock
from fit_lab.db.engine import make_engine
from fit_lab.logs import get_logger
from fit_lab.services import outcomes as outcome_service
from fit_lab.services.failsafe import FailsafeReport
from fit_lab.services.scheduler import start_daily_failsafe
from fit_lab.settings import Settings, get_settings
from fit_lab.startup import check_startup
from fit_lab.web import router as web_router
from fit_lab.web import static_files

log = get_logger("fit_lab.api")


def create_app(settings: Settings | None = None, engine: Engine | None = None, *,
               clock: Clock = system_clock) -> FastAPI:
    """The web service. Outside dev mode unless asked: the development key is refused; in dev mode (asked for
    with FIT_LAB_DEV_MODE=true or ``fit-lab serve --dev``; the demo asks) a warning is logged at every start.
    While it is served (its lifespan), the daily failsafe runs in the background unless
    ``settings.failsafe_schedule`` is off; ``clock`` is the time it runs by (injected by tests)."""
    settings = settings or get_settings()
    check_startup(settings)
    settings.check_secret()
    if settings.dev_mode:
        log.warning("dev_mode_on", detail="development mode: tokens signed with the published development key are "
                    "accepted and fit-lab seed may run; never use this with real patient data")
    engine = engine or make_engine(settings.database_url)
    chosen: Settings = settings
    served_engine: Engine = engine

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        def checked(day: date, report: FailsafeReport | None) -> None:
            app.state.failsafe_checks.append((day, report is not None))  # (day, whether this process ran it)

        stop = start_daily_failsafe(served_engine, chosen, clock=clock, on_check=checked) \
            if chosen.failsafe_schedule else None
        try:
            yield
        finally:
            if stop is not None:
                stop()

    app = FastAPI(
        title="fit-lab",
        version="0.1.0",
        description="Postal FIT testing: referral intake, kits, results, triage and statistics.",
        docs_url="/docs",
        lifespan=lifespan,
    )
    app.state.settings = settings
    app.state.engine = engine
    app.state.clock = clock
    app.state.failsafe_checks = []
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
    codes = sorted({code for policy in outcome_service.policies(settings).policies
                    for code in policy.error_results.known_codes})
    openapi.install(app, error_codes=codes)
    app.add_middleware(BodySizeLimit, limit_bytes=settings.max_upload_bytes)
    return app


def server_options(settings: Settings) -> dict[str, object]:
    """uvicorn's options for ``fit-lab serve``: X-Forwarded-For is believed only from ``trusted_proxies`` (by
    default from nobody, not even 127.0.0.1 as uvicorn would), so an address cannot be forged to dodge the
    log-in throttle or to pin it on someone else."""
    if not settings.trusted_proxies:
        return {"proxy_headers": False}
    return {"proxy_headers": True, "forwarded_allow_ips": ",".join(settings.trusted_proxies)}
