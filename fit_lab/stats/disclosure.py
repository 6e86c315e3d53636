"""Disclosure control for everything the alliance receives (domain brief §7, NHS Digital practice).

1. Primary: a count from 1 to ``max_small`` is suppressed.
2. Secondary: wherever published cells add up to a published total (the rows of a table and its Total row; the
   practices of a PCN and that PCN's row in the PCN table), no such sum may hold exactly one suppressed cell, or
   the total minus the others would give it away: the smallest other non-zero cell is suppressed too (or the
   total, when every other cell is zero), until no sum has exactly one.
3. Counts that are published are rounded to the nearest ``round_to``.
4. A rate is suppressed when its numerator or denominator is, or when their difference is from 1 to
   ``max_small`` (95% of 40 would tell that 2 did not return); a median or percentile is suppressed when the
   number it summarises is. Rates and times come from unrounded numbers, to one decimal place.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pandas as pd

from fit_lab.stats.definitions import Kind
from fit_lab.stats.tables import SUPPRESSED, TOTAL, Published, Table


@dataclass(frozen=True)
class DisclosureRules:
    max_small: int = 7
    round_to: int = 5


Cell = tuple[str, str, str]  # (table, row, column)


def _is_small(value: float, rules: DisclosureRules) -> bool:
    return 1 <= value <= rules.max_small


Relation = tuple[Cell, list[Cell]]  # a total cell and the cells that add up to it


def table_totals(table: Table) -> list[Relation]:
    """Each count column's Total row is the sum of the table's other rows."""
    if not table.has_total:
        return []
    rows = [str(r) for r in table.frame.index if r != TOTAL]
    return [((table.name, TOTAL, c), [(table.name, r, c) for r in rows])
            for c in (m.column for m in table.measures if m.kind is Kind.COUNT)]


def suppressed_cells(tables: dict[str, Table], relations: list[Relation], rules: DisclosureRules) -> set[Cell]:
    """Primary and secondary suppression over all the tables published together.

    ``relations`` are every sum a reader could difference: each table's Total row, and the links between tables
    (a PCN's row is the sum of its practices; the summary's figure is each breakdown's Total).
    """
    value: dict[Cell, float] = {}
    for t in tables.values():
        counts = [m.column for m in t.measures if m.kind is Kind.COUNT]
        for (row, column), v in t.frame[counts].stack().items():
            value[(t.name, str(row), str(column))] = float(v)
    hidden = {cell for cell, v in value.items() if _is_small(v, rules)}
    # The finer sums (a PCN's practices) first: a cell hidden for them often settles the table's Total too.
    relations = relations + [r for t in tables.values() for r in table_totals(t)]
    changed = True
    while changed:
        changed = False
        for total, parts in relations:
            if len(hidden.intersection([total, *parts])) != 1:
                continue
            others = sorted((value[p], p) for p in parts if p not in hidden and value[p] > 0)
            hidden.add(others[0][1] if others else total)
            changed = True
    return hidden


def _hidden_mask(table: Table, hidden: list[tuple[str, str]]) -> pd.DataFrame:
    """True where a count of ``table`` is suppressed; ``hidden`` lists its (row, column) cells."""
    mask = pd.DataFrame(False, index=[str(r) for r in table.frame.index],
                        columns=[m.column for m in table.measures if m.kind is Kind.COUNT])
    if hidden:
        rows, columns = zip(*hidden, strict=True)
        values = mask.to_numpy().copy()
        values[mask.index.get_indexer(rows), mask.columns.get_indexer(columns)] = True
        mask = pd.DataFrame(values, index=mask.index, columns=mask.columns)
    return mask


def _published_frame(table: Table, hidden: list[tuple[str, str]], rules: DisclosureRules) -> pd.DataFrame:
    """Every measure of ``table`` as published: whole columns at a time."""
    raw = table.frame.copy()
    raw.index = [str(r) for r in raw.index]
    mask = _hidden_mask(table, hidden)
    out = pd.DataFrame(index=raw.index)
    for measure in table.measures:
        column = measure.column
        if measure.kind is Kind.COUNT:
            rounded = (raw[column].astype(float) / rules.round_to).round().astype(int) * rules.round_to
            out[column] = rounded.astype(object).where(~mask[column], SUPPRESSED)
        elif measure.kind is Kind.RATE:
            assert measure.numerator and measure.denominator
            num, den = raw[measure.numerator].astype(float), raw[measure.denominator].astype(float)
            left_out = den - num
            few_left_out = (left_out >= 1) & (left_out <= rules.max_small)
            hide = mask[measure.numerator] | mask[measure.denominator] | few_left_out
            rate = (100.0 * num / den.where(den > 0)).round(1).astype(object)
            out[column] = rate.where(den > 0, None).where(~hide | (den == 0), SUPPRESSED)
        else:
            assert measure.n is not None
            n, value = raw[measure.n].astype(float), raw[column].astype(float)
            hide = mask[measure.n] | ((n >= 1) & (n <= rules.max_small))
            shown = value.round(1).astype(object).where((n > 0) & value.notna(), None)
            out[column] = shown.where(~hide | (n == 0) | value.isna(), SUPPRESSED)
    return out


def publish(tables: dict[str, Table], relations: list[Relation], rules: DisclosureRules) -> dict[str, Published]:
    """Every table as it may leave fit-lab."""
    hidden_by_table: dict[str, list[tuple[str, str]]] = {}
    for name, row, column in suppressed_cells(tables, relations, rules):
        hidden_by_table.setdefault(name, []).append((row, column))
    out: dict[str, Published] = {}
    for table in tables.values():
        label_columns = list(table.labels)
        columns = ("group", *label_columns, *(m.column for m in table.measures))
        titles = {"group": table.group_title, **{c: title for c, (title, _) in table.labels.items()},
                  **{m.column: m.title for m in table.measures}}
        values = _published_frame(table, hidden_by_table.get(table.name, []), rules)
        labels = [[str(table.labels[c][1].get(row, "")) for c in label_columns] for row in table.frame.index]
        rows = tuple((str(row), *label, *values_row)
                     for row, label, values_row in zip(table.frame.index, labels, values.itertuples(index=False),
                                                       strict=True))
        out[table.name] = Published(table.name, table.title, columns, titles, tuple(_plain(r) for r in rows),
                                    table.measures)
    return out


def _plain(row: tuple[Any, ...]) -> tuple[Any, ...]:
    """numpy scalars as Python values, so every export writes them the same way."""
    return tuple(v.item() if hasattr(v, "item") else v for v in row)
