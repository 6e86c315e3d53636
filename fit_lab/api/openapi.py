"""Make the published OpenAPI document say what the API really answers.

FastAPI documents request-validation errors with its own shape (loc/msg/type); fit-lab answers every error as
{"detail": [{"field", "reason"}]} (see fit_lab.api.errors), so the generated document is corrected to match.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi

from fit_lab.api.routes.results import VALUE_NUMBER_TEXT

_ERROR_SCHEMA = {"$ref": "#/components/schemas/ErrorBody"}


def _amend_error_codes(schemas: dict[str, Any], error_codes: Sequence[str]) -> None:
    """An amended value's text is a number, a censored value, or one of the error codes the policies know (the
    model accepts any token and the service names the known ones; the schema lists them)."""
    value = schemas.get("AmendIn", {}).get("properties", {}).get("value", {})
    for option in value.get("anyOf", []):
        if option.get("type") == "string" and "pattern" in option:
            option["pattern"] = VALUE_NUMBER_TEXT
            option["description"] = 'A censored value ("<10", ">400") or a number as text'
    if error_codes and "anyOf" in value:
        value["anyOf"].append({"type": "string", "enum": list(error_codes),
                               "description": "An error code the lab's triage policies know"})


def install(app: FastAPI, *, error_codes: Sequence[str] = ()) -> None:
    def openapi() -> dict[str, Any]:
        if app.openapi_schema:
            return app.openapi_schema
        doc = get_openapi(title=app.title, version=app.version, description=app.description, routes=app.routes)
        schemas = doc.setdefault("components", {}).setdefault("schemas", {})
        schemas.pop("HTTPValidationError", None)
        schemas.pop("ValidationError", None)
        _amend_error_codes(schemas, error_codes)
        for path_item in doc.get("paths", {}).values():
            for operation in path_item.values():
                responses = operation.get("responses", {})
                if "422" in responses:
                    responses["422"] = {
                        "description": "Input refused: each problem names the field and the reason",
                        "content": {"application/json": {"schema": _ERROR_SCHEMA}},
                    }
        app.openapi_schema = doc
        return doc

    app.openapi = openapi  # type: ignore[method-assign]
