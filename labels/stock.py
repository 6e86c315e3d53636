"""Label stocks as data: a new stock is a new JSON file in ``labels/stocks/``, not new code."""

from __future__ import annotations

import json
from dataclasses import dataclass
from importlib import resources
from typing import Any

from .errors import LabelStockError

# Printers place a sheet to within about half a millimetre; a stock that claims labels overhanging the page
# is a typing slip in its file, so we refuse it at load rather than print off the edge.
_FIT_TOLERANCE_MM = 0.5


@dataclass(frozen=True)
class LabelStock:
    """One label stock: page and label size, grid, and the first label's top-left corner, in millimetres.

    Slots are numbered row by row from the top left, the order a person peels them in.
    """

    name: str
    description: str
    page_width_mm: float
    page_height_mm: float
    label_width_mm: float
    label_height_mm: float
    columns: int
    rows: int
    left_margin_mm: float
    top_margin_mm: float
    horizontal_pitch_mm: float
    vertical_pitch_mm: float

    def __post_init__(self) -> None:
        if self.columns < 1 or self.rows < 1:
            raise LabelStockError(f"stock {self.name}: needs at least one column and one row")
        if self.horizontal_pitch_mm < self.label_width_mm or self.vertical_pitch_mm < self.label_height_mm:
            raise LabelStockError(f"stock {self.name}: pitch is smaller than the label, labels would overlap")
        right = self.left_margin_mm + (self.columns - 1) * self.horizontal_pitch_mm + self.label_width_mm
        bottom = self.top_margin_mm + (self.rows - 1) * self.vertical_pitch_mm + self.label_height_mm
        if right > self.page_width_mm + _FIT_TOLERANCE_MM or bottom > self.page_height_mm + _FIT_TOLERANCE_MM:
            raise LabelStockError(f"stock {self.name}: labels run off the page ({right:.1f} x {bottom:.1f} mm)")

    @property
    def labels_per_sheet(self) -> int:
        return self.columns * self.rows

    def slot_origin_mm(self, slot: int) -> tuple[float, float]:
        """Top-left corner (x, y from the page's top-left) of label ``slot`` (0-based, row by row)."""
        if not 0 <= slot < self.labels_per_sheet:
            raise LabelStockError(f"stock {self.name}: slot {slot} does not exist")
        row, column = divmod(slot, self.columns)
        return (
            self.left_margin_mm + column * self.horizontal_pitch_mm,
            self.top_margin_mm + row * self.vertical_pitch_mm,
        )

    @classmethod
    def from_mapping(cls, data: dict[str, Any]) -> LabelStock:
        """Build a stock from a parsed JSON object, refusing missing or mistyped fields."""
        try:
            return cls(
                name=str(data["name"]),
                description=str(data.get("description", "")),
                page_width_mm=float(data["page_width_mm"]),
                page_height_mm=float(data["page_height_mm"]),
                label_width_mm=float(data["label_width_mm"]),
                label_height_mm=float(data["label_height_mm"]),
                columns=int(data["columns"]),
                rows=int(data["rows"]),
                left_margin_mm=float(data["left_margin_mm"]),
                top_margin_mm=float(data["top_margin_mm"]),
                horizontal_pitch_mm=float(data["horizontal_pitch_mm"]),
                vertical_pitch_mm=float(data["vertical_pitch_mm"]),
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise LabelStockError(f"stock definition {data.get('name', '?')!r} is malformed: {exc}") from exc


def available_stocks() -> tuple[str, ...]:
    """Names of the stocks shipped with the library."""
    folder = resources.files("labels").joinpath("stocks")
    return tuple(sorted(p.name.removesuffix(".json") for p in folder.iterdir() if p.name.endswith(".json")))


def load_stock(name: str) -> LabelStock:
    """The shipped stock called ``name`` (see ``available_stocks()``)."""
    if name not in available_stocks():
        raise LabelStockError(f"unknown label stock {name!r}; known: {', '.join(available_stocks())}")
    raw = resources.files("labels").joinpath("stocks", f"{name}.json").read_text(encoding="utf-8")
    data = json.loads(raw)
    if not isinstance(data, dict):
        raise LabelStockError(f"stock {name}: file must hold one JSON object")
    return LabelStock.from_mapping(data)


DEFAULT_KIT_STOCK = "avery-l7163"
DEFAULT_RETURN_STOCK = "avery-l7169"
