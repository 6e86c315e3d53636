"""Which label goes where: kits placed on sheets of a label stock, as data the renderer and tests both use."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from .errors import LabelDataError, LayoutError
from .layout import LabelKind
from .stock import LabelStock

DEFAULT_KIT_KINDS: tuple[LabelKind, ...] = (LabelKind.TUBE, LabelKind.ADDRESS)


@dataclass(frozen=True)
class PlacedLabel:
    """One label on one page: ``x_mm``/``y_mm`` are its top-left corner from the page's top-left."""

    page: int
    slot: int
    kind: LabelKind
    kit_index: int
    specimen_id: str
    x_mm: float
    y_mm: float
    width_mm: float
    height_mm: float


def kits_per_sheet(stock: LabelStock, kinds: Sequence[LabelKind]) -> int:
    """How many kits fit one sheet. A kit's labels never straddle sheets: packers peel one kit at a time."""
    if not kinds:
        raise LayoutError("a kit needs at least one label")
    per_sheet = stock.labels_per_sheet // len(kinds)
    if per_sheet == 0:
        raise LayoutError(f"stock {stock.name} has {stock.labels_per_sheet} labels; a kit needs {len(kinds)}")
    return per_sheet


def plan_kit_sheets(
    specimen_ids: Sequence[str], stock: LabelStock, kinds: Sequence[LabelKind] = DEFAULT_KIT_KINDS
) -> list[PlacedLabel]:
    """Place each kit's labels in consecutive slots, in the order given, filling sheets row by row.

    On a two-column stock with a tube and an address label per kit, each row is one kit: tube left,
    address right.
    """
    if len(set(specimen_ids)) != len(specimen_ids):
        raise LabelDataError("the batch lists a specimen ID twice; every kit must have its own ID")
    per_sheet = kits_per_sheet(stock, kinds)
    placed: list[PlacedLabel] = []
    for kit_index, specimen_id in enumerate(specimen_ids):
        page, position = divmod(kit_index, per_sheet)
        for offset, kind in enumerate(kinds):
            slot = position * len(kinds) + offset
            x_mm, y_mm = stock.slot_origin_mm(slot)
            placed.append(
                PlacedLabel(
                    page,
                    slot,
                    kind,
                    kit_index,
                    specimen_id,
                    x_mm,
                    y_mm,
                    stock.label_width_mm,
                    stock.label_height_mm,
                )
            )
    return placed
