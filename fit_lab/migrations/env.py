"""Alembic environment: runs against the connection or URL handed in by ``fit_lab.db.migrate``."""

from __future__ import annotations

from alembic import context
from sqlmodel import SQLModel

import fit_lab.db.models  # noqa: F401 - registers the tables on SQLModel.metadata
from fit_lab.db.engine import make_engine

config = context.config
target_metadata = SQLModel.metadata


def run_migrations_online() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:
        context.configure(connection=connection, target_metadata=target_metadata, render_as_batch=True)
        with context.begin_transaction():
            context.run_migrations()
        return
    engine = make_engine(config.get_main_option("sqlalchemy.url") or "", check_durability=False)
    with engine.connect() as conn:
        context.configure(connection=conn, target_metadata=target_metadata, render_as_batch=True)
        with context.begin_transaction():
            context.run_migrations()
    engine.dispose()


if context.is_offline_mode():
    raise SystemExit("fit-lab migrations run online only: use `fit-lab db upgrade`.")
run_migrations_online()
