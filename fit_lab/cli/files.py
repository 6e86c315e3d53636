"""Reading a file named on the command line: a missing or unreadable file is a one-line refusal, not a traceback."""

from __future__ import annotations

from pathlib import Path

from fit_lab.errors import FieldProblem, ValidationError


def read_input_file(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except FileNotFoundError:
        reason = f"{path} does not exist"
    except IsADirectoryError:
        reason = f"{path} is a folder, not a file"
    except OSError as exc:
        reason = f"{path} cannot be read ({exc.strerror or type(exc).__name__})"
    raise ValidationError([FieldProblem("file", reason)])
