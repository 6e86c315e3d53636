"""A statistics table before and after disclosure control.

Kept apart from the measures so that disclosure control and the exports use it without pandas arithmetic.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from fit_lab.stats.definitions import Measure

TOTAL = "Total"
SUPPRESSED = "*"


@dataclass(frozen=True)
class Table:
    """One table of aggregate rows with unrounded numbers.

    ``frame`` is indexed by the group label; its ``TOTAL`` row, when ``has_total``, is the sum of the others for
    every count. ``labels`` are further label columns (a practice's PCN).
    """

    name: str
    title: str
    group_title: str
    frame: pd.DataFrame
    measures: tuple[Measure, ...]
    has_total: bool = True
    labels: dict[str, tuple[str, pd.Series]] = field(default_factory=dict)  # column → (title, value per row)


@dataclass(frozen=True)
class Published:
    """A table as it leaves fit-lab: counts rounded or ``SUPPRESSED``, rates and days to one decimal.

    ``rows`` hold plain values (str, int, float or None for "not applicable"), first the group, then each label
    column, then each measure, in ``columns`` order; ``titles`` gives each column's heading.
    """

    name: str
    title: str
    columns: tuple[str, ...]
    titles: dict[str, str]
    rows: tuple[tuple[Any, ...], ...]
    measures: tuple[Measure, ...]

    def frame(self) -> pd.DataFrame:
        return pd.DataFrame(list(self.rows), columns=list(self.columns))

    def as_dict(self) -> dict[str, Any]:
        return {"name": self.name, "title": self.title, "columns": list(self.columns), "titles": self.titles,
                "rows": [list(row) for row in self.rows]}
