"""Bulk inserts that give back the new rows' ids."""

from __future__ import annotations

from typing import Any

from sqlalchemy import insert, select, tuple_
from sqlmodel import Session

PARAMETERS_PER_STATEMENT = 900  # SQLite limits the bound parameters of one statement


def insert_then_find(session: Session, table: Any, rows: list[dict[str, Any]], key: tuple[str, ...]) -> list[int]:
    """Insert the rows and return their new ids in the rows' order, found again by ``key``, unique among them
    and in the table (a row whose key is already taken fails the insert, as it would have anyway).

    A plain executemany of one prepared statement per chunk, then the ids read back: a multi-row
    INSERT ... RETURNING of a national day's rows costs more to build and parse than the rows cost to store.
    """
    ids: list[int] = []
    columns = [getattr(table, name) for name in key]
    per_query = PARAMETERS_PER_STATEMENT // len(key)
    for start in range(0, len(rows), PARAMETERS_PER_STATEMENT):
        chunk = rows[start:start + PARAMETERS_PER_STATEMENT]
        session.execute(insert(table.__table__), chunk)
        wanted = [tuple(row[name] for name in key) for row in chunk]
        found: dict[tuple[Any, ...], int] = {}
        for first in range(0, len(wanted), per_query):
            found.update((tuple(row[1:]), row[0]) for row in session.execute(
                select(table.id, *columns).where(tuple_(*columns).in_(wanted[first:first + per_query]))))
        ids.extend(found[k] for k in wanted)
    return ids
