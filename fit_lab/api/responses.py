"""OpenAPI declarations of the error responses a route can give."""

from __future__ import annotations

from typing import Any

from fit_lab.api.schemas import ErrorBody

_DESCRIPTIONS = {
    400: "Bad request",
    401: "Not logged in or token expired",
    403: "Role not allowed",
    404: "Not found (or another practice's record)",
    409: "Conflicts with the record's state",
    413: "Upload too large",
    422: "Input refused: each problem names the field and the reason",
    429: "Too many failed log-ins",
}


def errors(*codes: int) -> dict[int | str, dict[str, Any]]:
    return {code: {"model": ErrorBody, "description": _DESCRIPTIONS[code]} for code in codes}
