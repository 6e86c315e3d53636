"""Shared fixtures: a freshly migrated real database per test, on SQLite and on PostgreSQL.

PostgreSQL tests need FIT_LAB_TEST_POSTGRES_URL (a database on a server where the user may CREATE DATABASE).
Without it they skip with a reason, except under CI=true, where a missing PostgreSQL is a failure.
"""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import Iterator
from datetime import UTC, date, datetime
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import Engine, make_url

from fit_lab import synthetic
from fit_lab.clock import fixed_clock
from fit_lab.db.engine import make_engine
from fit_lab.db.migrate import upgrade
from fit_lab.principal import Principal
from fit_lab.services import practices, reference

PG_URL = os.environ.get("FIT_LAB_TEST_POSTGRES_URL", "")
IN_CI = os.environ.get("CI", "").lower() == "true"
REPO = Path(__file__).resolve().parent.parent
REFERENCE_DIR = REPO / "fit_lab" / "reference_data"
NOW = datetime(2026, 11, 2, 9, 30, tzinfo=UTC)
TODAY = date(2026, 11, 2)
ADMIN = Principal("test-admin", "admin")
LAB = Principal("test-lab", "lab")


def _worker() -> str:
    return os.environ.get("PYTEST_XDIST_WORKER", "main")


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("template") / "template.db"
    engine = make_engine(f"sqlite:///{path}")
    upgrade(engine)
    engine.dispose()
    return path


@pytest.fixture(scope="session")
def postgres_template() -> Iterator[str]:
    if not PG_URL:
        message = "PostgreSQL not configured: set FIT_LAB_TEST_POSTGRES_URL to run the PostgreSQL tests"
        if IN_CI:
            pytest.fail(f"{message} (CI=true requires it)")
        pytest.skip(message)
    admin = create_engine(PG_URL, isolation_level="AUTOCOMMIT")
    name = f"fitlab_tpl_{_worker()}_{uuid.uuid4().hex[:8]}"
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    url = make_url(PG_URL).set(database=name).render_as_string(hide_password=False)
    engine = make_engine(url)
    upgrade(engine)
    engine.dispose()
    yield name
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


def _postgres_copy(template: str) -> tuple[str, str]:
    admin = create_engine(PG_URL, isolation_level="AUTOCOMMIT")
    name = f"fitlab_t_{_worker()}_{uuid.uuid4().hex[:10]}"
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}" TEMPLATE "{template}"'))
    admin.dispose()
    return name, make_url(PG_URL).set(database=name).render_as_string(hide_password=False)


def _postgres_drop(name: str) -> None:
    admin = create_engine(PG_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def db_url(request: pytest.FixtureRequest, tmp_path: Path, sqlite_template: Path) -> Iterator[str]:
    """The URL of a freshly migrated, empty database: each test runs once per engine."""
    if request.param == "sqlite":
        path = tmp_path / "fit-lab.db"
        shutil.copy(sqlite_template, path)
        yield f"sqlite:///{path}"
        return
    template = request.getfixturevalue("postgres_template")
    name, url = _postgres_copy(template)
    yield url
    _postgres_drop(name)


@pytest.fixture
def engine(db_url: str) -> Iterator[Engine]:
    eng = make_engine(db_url)
    yield eng
    eng.dispose()


@pytest.fixture
def clock():  # type: ignore[no-untyped-def]
    return fixed_clock(NOW)


@pytest.fixture
def reference_loaded(engine: Engine) -> Engine:
    """Practices Y90001..Y90006 and the shipped synthetic deprivation lookup."""
    practices.import_practices(engine, synthetic.practices_csv(synthetic.practices(6)), actor=ADMIN)
    reference.load_imd(engine, REFERENCE_DIR / "synthetic_imd2019.csv",
                       REFERENCE_DIR / "synthetic_postcode_lsoa.csv", actor=ADMIN)
    return engine


from tests.results_support import received  # noqa: E402, F401 - a fixture shared by the result tests


@pytest.fixture(scope="session")
def known_postcodes() -> list[str]:
    return synthetic.known_postcodes(REFERENCE_DIR / "synthetic_postcode_lsoa.csv")


def pytest_terminal_summary(terminalreporter, exitstatus, config):  # type: ignore[no-untyped-def]
    """Say how many tests ran on each engine, so a CI log shows PostgreSQL really ran."""
    counts: dict[str, dict[str, int]] = {}
    for outcome in ("passed", "failed", "error", "skipped"):
        for report in terminalreporter.stats.get(outcome, []):
            nodeid = getattr(report, "nodeid", "")
            engine = "postgresql" if "[postgresql" in nodeid else "sqlite" if "[sqlite" in nodeid else None
            if engine and (outcome != "passed" or getattr(report, "when", "call") == "call"):
                counts.setdefault(engine, {}).setdefault(outcome, 0)
                counts[engine][outcome] += 1
    terminalreporter.write_sep("=", "tests per database engine")
    for engine in ("sqlite", "postgresql"):
        found = counts.get(engine, {})
        terminalreporter.write_line(f"{engine:<11} " + (", ".join(f"{n} {o}" for o, n in sorted(found.items()))
                                                         or "none ran"))
