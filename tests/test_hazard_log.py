"""The hazard log's claims are checked: every hazard names a test, and every test it names exists."""

from __future__ import annotations

import re

from tests.conftest import REPO

LOG = REPO / "docs" / "safety" / "hazard-log.md"
# `tests/path.py::test_name`, or `::test_name` meaning the file named just before it in the same cell.
REFERENCE = re.compile(r"`(tests/[\w/]+\.py)?(?:::(\w+))?`")


def _rows() -> list[list[str]]:
    rows = []
    for line in LOG.read_text(encoding="utf-8").splitlines():
        if re.match(r"^\| H\d+ \|", line):
            rows.append([cell.strip() for cell in line.strip("|").split("|")])
    return rows


def test_every_hazard_has_a_unique_id_and_names_a_test():
    rows = _rows()
    ids = [row[0] for row in rows]
    assert len(ids) == len(set(ids)), "hazard ids repeat"
    assert ids == [f"H{i:02d}" for i in range(1, len(ids) + 1)], "hazard ids are not H01, H02, ... in order"
    for row in rows:
        assert len(row) == 6, f"{row[0]}: expected 6 columns"
        assert "tests/" in row[4], f"{row[0]} names no test: a hazard without a test is unfinished work"


def test_every_test_the_log_names_exists():
    missing = []
    for row in _rows():
        current = None
        for path, name in REFERENCE.findall(row[4]):
            current = path or current
            if current is None:
                continue
            source = (REPO / current)
            if not source.exists():
                missing.append(f"{row[0]}: {current}")
                continue
            if name and not re.search(rf"^(async )?def {name}\b", source.read_text(encoding="utf-8"), re.M):
                missing.append(f"{row[0]}: {current}::{name}")
    assert not missing, "the hazard log names tests that do not exist:\n" + "\n".join(missing)
