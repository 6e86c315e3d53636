"""One place that turns fit-lab errors into HTTP responses, and audits every refusal."""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import Match

from fit_lab.errors import FitLabError, NotFound, TooManyAttempts
from fit_lab.logs import get_logger
from fit_lab.services import audit

log = get_logger("fit_lab.api")
_AUDITED = {401: "unauthenticated", 403: "denied", 404: "not_found"}


def audit_refusal(request: Request, exc: FitLabError) -> None:
    """Every 401, 403 and 404 is written to the audit trail, for the API and the pages alike."""
    outcome = _AUDITED.get(exc.status_code)
    if outcome:
        entity, key = (exc.entity, exc.key) if isinstance(exc, NotFound) else ("route", None)
        audit.record_denial(
            request.app.state.engine,
            getattr(request.state, "principal", None),
            outcome,
            entity,
            key,
            detail={"method": request.method, "path": request.url.path},
        )


def install(app: FastAPI) -> None:
    @app.exception_handler(FitLabError)
    async def _fit_lab_error(request: Request, exc: FitLabError) -> JSONResponse:
        audit_refusal(request, exc)
        headers = {}
        if exc.status_code == 401:
            headers["WWW-Authenticate"] = "Bearer"
        if isinstance(exc, TooManyAttempts):
            headers["Retry-After"] = str(exc.retry_after_s)
        log.info("request_refused", status=exc.status_code, path=request.url.path, error=type(exc).__name__)
        return JSONResponse({"detail": exc.detail()}, status_code=exc.status_code, headers=headers)

    @app.exception_handler(StarletteHTTPException)
    async def _http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        headers = dict(exc.headers or {})
        if exc.status_code == 405:
            # Starlette lists only the methods of the one route it matched; list every method of the path.
            headers["Allow"] = ", ".join(sorted(_methods_for(request)))
        return JSONResponse({"detail": exc.detail}, status_code=exc.status_code, headers=headers)

    @app.exception_handler(RequestValidationError)
    async def _request_invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        problems = [
            {"field": ".".join(str(p) for p in err["loc"] if p not in ("body", "query", "path")) or "body",
             "reason": err["msg"]}
            for err in exc.errors()
        ]
        return JSONResponse({"detail": problems}, status_code=422)


def _methods_for(request: Request) -> set[str]:
    methods: set[str] = set()
    for route in request.app.router.routes:
        match, _ = route.matches({**request.scope, "method": "__none__"})
        if match != Match.NONE:
            methods |= set(getattr(route, "methods", None) or ())
    return methods - {"HEAD"} if "GET" not in methods else methods
