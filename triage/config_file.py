"""Loading a versioned YAML configuration file (a threshold policy, a list order) into a pydantic model.

One place for reading the file, parsing the YAML and turning pydantic's report into sentences a clinical scientist
can act on; each kind of file brings its model and its own refusal type (``source, problems``).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

import yaml
from pydantic import BaseModel, ValidationError

Model = TypeVar("Model", bound=BaseModel)
Refusal = Callable[[str, list[str]], Exception]


def parse_model(text: str, source: str, model: type[Model], refused: Refusal, what: str) -> Model:
    """Validate YAML ``text`` as ``model``; any problem raises ``refused(source, problems)``."""
    try:
        document = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise refused(source, [f"not valid YAML: {exc}"]) from exc
    if not isinstance(document, dict):
        raise refused(source, [f"the file must be a mapping of {what} fields"])
    try:
        return model.model_validate(document)
    except ValidationError as exc:
        raise refused(source, describe(exc)) from exc


def read_file(path: str | Path, refused: Refusal) -> tuple[str, str]:
    """The file's text and its name for messages; an unreadable file raises ``refused``."""
    file = Path(path)
    try:
        return file.read_text(encoding="utf-8"), str(file)
    except OSError as exc:
        raise refused(str(file), [f"cannot be read: {exc.strerror}"]) from exc


def describe(error: ValidationError) -> list[str]:
    """pydantic's errors as one sentence each, naming the field where there is one."""
    problems: list[str] = []
    for item in error.errors():
        where = "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in item["loc"]).lstrip(".")
        if item["type"] == "extra_forbidden":
            problems.append(f"unknown rule or field '{where}': this library does not know it, so it is refused")
        elif item["type"] == "value_error":
            problems.extend(str(item["msg"]).removeprefix("Value error, ").split("\n"))
        elif item["type"] == "missing":
            problems.append(f"'{where}' is required but missing")
        else:
            problems.append(f"'{where}': {item['msg']}" if where else str(item["msg"]))
    return problems
