"""The alliance's charts, drawn only from published (disclosure-controlled) tables, as PNG bytes.

A suppressed value is never drawn as a bar: its place is marked '*' so the reader sees that a value exists but
may not be shown.
"""

from __future__ import annotations

import io
from typing import Any

import matplotlib

matplotlib.use("Agg")  # no screen on a lab server

import matplotlib.pyplot as plt
from matplotlib.figure import Figure

from fit_lab.stats.tables import SUPPRESSED, TOTAL, Published

NHS_BLUE, DARK, GREY, WARM = "#005eb8", "#212b32", "#768692", "#ffb81c"
CHARTS = {
    "trend": "Monthly volume and positivity",
    "return_by_imd": "Kit return rate by IMD quintile",
    "return_by_ethnicity": "Kit return rate by ethnic group",
    "fhb_distribution": "Distribution of f-Hb",
}


def _png(fig: Figure) -> bytes:
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=110, bbox_inches="tight", metadata={"Software": None})
    plt.close(fig)
    return buffer.getvalue()


def _column(table: Published, column: str) -> list[Any]:
    index = table.columns.index(column)
    return [row[index] for row in table.rows]


def _number(value: Any) -> float | None:
    return float(value) if isinstance(value, int | float) else None


def trend_chart(trend: Published, positivity_column: str) -> bytes:
    months = _column(trend, "group")
    fig, axis = plt.subplots(figsize=(9, 4))
    width = 0.4
    for offset, (column, colour, label) in enumerate((("referrals", NHS_BLUE, "Referrals received"),
                                                      ("kits_returned", GREY, "Kits returned"))):
        values = [_number(v) for v in _column(trend, column)]
        xs = [i + (offset - 0.5) * width for i in range(len(months))]
        axis.bar(xs, [v or 0 for v in values], width=width, color=colour, label=label)
        for x, raw in zip(xs, _column(trend, column), strict=True):
            if raw == SUPPRESSED:
                axis.text(x, 0, "*", ha="center", va="bottom", color=DARK)
    axis.set_xticks(range(len(months)), months, rotation=45, ha="right")
    axis.set_ylabel("Count (rounded to 5)")
    right = axis.twinx()
    rates = [_number(v) for v in _column(trend, positivity_column)]
    right.plot(range(len(months)), [r if r is not None else float("nan") for r in rates], color=WARM, marker="o",
               linewidth=2, label=trend.titles[positivity_column])
    right.set_ylabel("Positivity (%)")
    right.set_ylim(0, max([r for r in rates if r is not None] + [10]) * 1.3)
    handles = axis.get_legend_handles_labels()[0] + right.get_legend_handles_labels()[0]
    axis.legend(handles, [h.get_label() for h in handles], loc="upper center", bbox_to_anchor=(0.5, -0.22), ncol=3,
                fontsize=8, frameon=False)
    axis.set_title(CHARTS["trend"], loc="left", color=DARK)
    return _png(fig)


def rate_by_group_chart(table: Published, rate_column: str, title: str) -> bytes:
    groups = _column(table, "group")
    values = _column(table, rate_column)
    shown = [(g, v) for g, v in zip(groups, values, strict=True) if g != TOTAL]
    everyone = _number(dict(zip(groups, values, strict=True)).get(TOTAL))
    fig, axis = plt.subplots(figsize=(8, 4))
    ys = range(len(shown))
    axis.barh(list(ys), [_number(v) or 0 for _, v in shown], color=NHS_BLUE)
    for y, (_, v) in zip(ys, shown, strict=True):
        text = "*" if v == SUPPRESSED else ("n/a" if v is None else f"{v:.1f}%")
        axis.text((_number(v) or 0) + 1, y, text, va="center", fontsize=8, color=DARK)
    if everyone is not None:
        axis.axvline(everyone, color=WARM, linewidth=2, label=f"Everyone: {everyone:.1f}%")
        axis.legend(loc="upper center", bbox_to_anchor=(0.5, -0.18), fontsize=8, frameon=False)
    axis.set_yticks(list(ys), [g for g, _ in shown])
    axis.invert_yaxis()
    axis.set_xlim(0, 110)
    axis.set_xlabel(table.titles[rate_column])
    axis.set_title(title, loc="left", color=DARK)
    return _png(fig)


def distribution_chart(table: Published) -> bytes:
    rows = [(g, v) for g, v in zip(_column(table, "group"), _column(table, "results"), strict=True) if g != TOTAL]
    fig, axis = plt.subplots(figsize=(9, 4))
    xs = range(len(rows))
    axis.bar(list(xs), [_number(v) or 0 for _, v in rows], color=NHS_BLUE)
    for x, (_, v) in zip(xs, rows, strict=True):
        axis.text(x, _number(v) or 0, "*" if v == SUPPRESSED else f"{v:,}", ha="center", va="bottom", fontsize=7,
                  color=DARK)
    axis.set_xticks(list(xs), [g for g, _ in rows], rotation=35, ha="right", fontsize=8)
    axis.set_ylabel("Results (rounded to 5)")
    axis.set_xlabel("f-Hb, µg Hb/g faeces")
    axis.set_title(CHARTS["fhb_distribution"], loc="left", color=DARK)
    return _png(fig)


def all_charts(tables: dict[str, Published], return_column: str, positivity_column: str) -> dict[str, bytes]:
    return {
        "trend": trend_chart(tables["trend"], positivity_column),
        "return_by_imd": rate_by_group_chart(tables["by_imd_quintile"], return_column, CHARTS["return_by_imd"]),
        "return_by_ethnicity": rate_by_group_chart(tables["by_ethnic_group"], return_column,
                                                   CHARTS["return_by_ethnicity"]),
        "fhb_distribution": distribution_chart(tables["fhb_distribution"]),
    }
