"""A fresh, migrated database for one benchmark run: a SQLite file in a folder, or a scratch PostgreSQL database
created for the run and dropped after it."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy import create_engine, text
from sqlalchemy.engine import Engine, make_url

from fit_lab.db.engine import make_engine
from fit_lab.db.migrate import upgrade


@contextmanager
def scratch_database(engine_name: str, folder: Path, postgres: str, name: str) -> Iterator[tuple[str, Engine]]:
    """Yields (url, engine) of a migrated, empty database; ``postgres`` is a server URL where databases may be made."""
    scratch = None
    if engine_name == "sqlite":
        url = f"sqlite:///{folder}/{name}.db"
    else:
        scratch = f"fitlab_{name}_{uuid.uuid4().hex[:8]}"
        with create_engine(postgres, isolation_level="AUTOCOMMIT").connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{scratch}"'))
        url = make_url(postgres).set(database=scratch).render_as_string(hide_password=False)
    engine = make_engine(url)
    try:
        upgrade(engine)
        yield url, engine
    finally:
        engine.dispose()
        if scratch:
            with create_engine(postgres, isolation_level="AUTOCOMMIT").connect() as conn:
                conn.execute(text(f'DROP DATABASE IF EXISTS "{scratch}" WITH (FORCE)'))
