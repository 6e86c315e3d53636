"""Engines and sessions for SQLite (embedded default) and PostgreSQL (production)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import event, text
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.engine.url import make_url
from sqlmodel import Session, create_engine

from fit_lab.errors import ConfigurationError


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    # WAL + synchronous=FULL: a commit that returned survives power loss (NORMAL does not in WAL mode).
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=FULL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=10000")
    cursor.close()


READ_ONLY = "fit_lab_read_only"
"""Execution option of a connection that only reads (see ``read_only``)."""


def _sqlite_begin(conn: Any) -> None:
    if conn.get_execution_options().get(READ_ONLY):
        # A plain BEGIN reads a WAL snapshot without the write lock, so a long report does not hold up reception.
        conn.exec_driver_sql("BEGIN")
        return
    # BEGIN IMMEDIATE takes the write lock at the start, so two writers queue instead of one failing
    # half-way with "database is locked" after it has read stale data.
    conn.exec_driver_sql("BEGIN IMMEDIATE")


def read_only(engine: Engine) -> Connection:
    """A connection for reading only: on SQLite it does not take the write lock (writing through it is a bug)."""
    return engine.connect().execution_options(**{READ_ONLY: True})


def make_engine(url: str, *, check_durability: bool = True) -> Engine:
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 30})
        event.listen(engine, "connect", _sqlite_pragmas)

        @event.listens_for(engine, "connect")
        def _no_pysqlite_autobegin(dbapi_connection: Any, _record: Any) -> None:
            dbapi_connection.isolation_level = None  # let SQLAlchemy's begin event issue BEGIN itself

        event.listen(engine, "begin", _sqlite_begin)
        return engine
    if parsed.get_backend_name() == "postgresql":
        engine = create_engine(url, pool_pre_ping=True, pool_size=5, max_overflow=10)
        if check_durability:
            check_postgres_durability(engine)
        return engine
    raise ConfigurationError(f"Unsupported database URL {parsed.render_as_string(hide_password=True)}")


def check_postgres_durability(engine: Engine) -> None:
    """Refuse a PostgreSQL server that could lose a committed result on a crash."""
    try:
        with engine.connect() as conn:
            fsync = conn.execute(text("SHOW fsync")).scalar_one()
            sync_commit = conn.execute(text("SHOW synchronous_commit")).scalar_one()
    except Exception as exc:
        raise ConfigurationError(f"Cannot connect to the database: {exc.__class__.__name__}: {exc}") from exc
    if str(fsync).lower() != "on":
        raise ConfigurationError("PostgreSQL has fsync=off: committed results could be lost. Turn fsync on.")
    if str(sync_commit).lower() == "off":
        raise ConfigurationError(
            "PostgreSQL has synchronous_commit=off: a result could be acknowledged and then lost. Turn it on."
        )


@contextmanager
def transaction(engine: Engine) -> Iterator[Session]:
    """One unit of work: commit on success, roll back on any error."""
    with Session(engine, expire_on_commit=False) as session:
        try:
            yield session
            session.commit()
        except BaseException:
            session.rollback()
            raise
