"""Errors raised by the labels library.

Messages are written for the lab staff who print and scan kits: they name the specimen ID, field or label
stock at fault and say what is wrong, so the problem can be fixed without reading the code.
"""

from __future__ import annotations


class LabelsError(Exception):
    """Base class of every error the labels library raises."""


class InvalidSpecimenIdError(LabelsError, ValueError):
    """A string is not a well-formed specimen ID (wrong shape or failed check character).

    Raised for mistyped or misread IDs; ``value`` is what was given, ``reason`` says why it was refused.
    """

    def __init__(self, value: str, reason: str) -> None:
        self.value = value
        self.reason = reason
        super().__init__(f"specimen ID {value!r} refused: {reason}")


class SerialOutOfRangeError(LabelsError, ValueError):
    """A serial number handed to the specimen ID formatter does not fit the fixed-length format."""


class LabelDataError(LabelsError, ValueError):
    """The data for one kit's labels or letter is missing a field or holds a value that cannot be printed."""


class LabelStockError(LabelsError):
    """A label stock definition is unknown or malformed."""


class LayoutError(LabelsError):
    """Content does not fit the chosen label stock (e.g. barcode plus quiet zones wider than the label).

    Printing anyway would produce a label that does not scan or a marking below the legal size, so we refuse.
    """
