"""Make the published OpenAPI document say what the API really answers.

FastAPI documents request-validation errors with its own shape (loc/msg/type); fit-lab answers every error as
{"detail": [{"field", "reason"}]} (see fit_lab.api.errors), so the generated document is corrected to match.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi

_ERROR_SCHEMA = {"$ref": "#/components/schemas/ErrorBody"}


def install(app: FastAPI) -> None:
    def openapi() -> dict[str, Any]:
        if app.openapi_schema:
            return app.openapi_schema
        doc = get_openapi(title=app.title, version=app.version, description=app.description, routes=app.routes)
        schemas = doc.setdefault("components", {}).setdefault("schemas", {})
        schemas.pop("HTTPValidationError", None)
        schemas.pop("ValidationError", None)
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
