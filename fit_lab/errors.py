"""The application's error types.

Every error carries a message a lab scientist can act on. The API maps them to HTTP status codes in one
handler (``fit_lab.api.errors``) and the CLI to exit codes in one place (``fit_lab.cli.main``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


class FitLabError(Exception):
    """Base of every error fit-lab raises on purpose."""

    status_code = 400

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    def detail(self) -> Any:
        return self.message


class ConfigurationError(FitLabError):
    """Settings are missing or unsafe; the service refuses to start."""

    status_code = 500


@dataclass(frozen=True)
class FieldProblem:
    """One reason one field of one input was refused."""

    field: str
    reason: str
    row: int | None = None

    def as_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"field": self.field, "reason": self.reason}
        if self.row is not None:
            out["row"] = self.row
        return out


class ValidationError(FitLabError):
    """Input that cannot be accepted; names each field and the reason."""

    status_code = 422

    def __init__(self, problems: list[FieldProblem]) -> None:
        self.problems = problems
        super().__init__("; ".join(f"{p.field}: {p.reason}" for p in problems))

    def detail(self) -> Any:
        return [p.as_dict() for p in self.problems]


class NotAuthenticated(FitLabError):
    status_code = 401

    def __init__(self, message: str = "You are not logged in, or your session has expired.") -> None:
        super().__init__(message)


class Forbidden(FitLabError):
    status_code = 403

    def __init__(self, message: str = "Your role does not allow this.") -> None:
        super().__init__(message)


class NotFound(FitLabError):
    """A record does not exist, or exists outside the caller's practice (we do not say which)."""

    status_code = 404

    def __init__(self, entity: str, key: object) -> None:
        self.entity = entity
        self.key = key
        super().__init__(f"No {entity.replace('_', ' ')} {key} was found.")


class Conflict(FitLabError):
    status_code = 409


class StateError(Conflict):
    """An action that the record's current state does not allow."""


class TooManyAttempts(FitLabError):
    status_code = 429

    def __init__(self, retry_after_s: int) -> None:
        self.retry_after_s = retry_after_s
        super().__init__(f"Too many failed log-ins. Try again in {retry_after_s} seconds.")


class PayloadTooLarge(FitLabError):
    status_code = 413

    def __init__(self, limit_bytes: int) -> None:
        super().__init__(f"The upload is larger than the limit of {limit_bytes // 1024} KiB; split the file.")
