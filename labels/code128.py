"""Code128 symbols as bar geometry, from python-barcode's encoding, plus the print figures we hold them to.

The figures, and why:
- Module (narrowest bar) ``MODULE_MM`` = 0.254 mm (10 mil). Reception's hand-held scanners read 10 mil
  at ordinary working distance, and analyser manuals ask for a narrow bar of at least about 0.13-0.19 mm,
  so 10 mil leaves margin for toner spread and a label wrapped round a tube. 0.254 mm is exactly 6 dots at
  600 dpi and 3 at 300 dpi, so laser printers draw every bar the same width.
  On thermal printers the module is the smallest whole number of dots not under ``MIN_MODULE_MM`` (0.25 mm):
  2 dots at 203 dpi (0.250 mm), 3 dots at 300 dpi (0.254 mm).
- Bar height ``BAR_HEIGHT_MM`` = 12 mm: analyser manuals ask for at least 10 mm so a tube that sits slightly
  crooked in the rack still presents a full scan line; well over ISO/IEC 15417's 15 % of symbol length.
- Quiet zones ``QUIET_ZONE_MM`` = 5 mm each side: ISO/IEC 15417 needs at least 10 modules (2.54 mm); analyser
  manuals ask for 5 mm clear, which we keep (about 20 modules). Layouts keep the zone clear of all print.
- Symbol length for a specimen ID: 112 modules (start B, F, code C, five digit pairs, check, stop) = 28.4 mm,
  38.4 mm with quiet zones: under the 45 mm a tube label can present to an analyser reader.
"""

from __future__ import annotations

import math

from barcode.codex import Code128

from .errors import LayoutError

MODULE_MM = 0.254
MIN_MODULE_MM = 0.25
MIN_QUIET_ZONE_MODULES = 10
QUIET_ZONE_MM = 5.0
BAR_HEIGHT_MM = 12.0

# ``>`` starts a ZPL invocation code, ``^``/``~`` start ZPL commands; specimen IDs never hold them.
_ZPL_RESERVED = frozenset(">^~")

# Code128 values that switch subset, keyed by the subset they are read in.
_CODE_A, _CODE_B, _CODE_C = "A", "B", "C"
_START = {103: _CODE_A, 104: _CODE_B, 105: _CODE_C}
_SWITCH = {
    _CODE_A: {99: _CODE_C, 100: _CODE_B},
    _CODE_B: {99: _CODE_C, 101: _CODE_A},
    _CODE_C: {100: _CODE_B, 101: _CODE_A},
}


def symbol_values(data: str) -> list[int]:
    """Code128 symbol values python-barcode chooses for ``data``: start, data, subset switches; no check."""
    return list(Code128(data).encoded)


def module_pattern(data: str) -> str:
    """The symbol as modules, ``1`` dark and ``0`` light, with check and stop, without quiet zones."""
    (pattern,) = Code128(data).build()
    return str(pattern)


def bar_runs(data: str) -> list[tuple[int, int]]:
    """Dark bars as (first module, width in modules), left to right: what the renderers draw as rectangles."""
    runs: list[tuple[int, int]] = []
    start = -1
    pattern = module_pattern(data)
    for index, module in enumerate(pattern):
        if module == "1" and start < 0:
            start = index
        elif module == "0" and start >= 0:
            runs.append((start, index - start))
            start = -1
    if start >= 0:
        runs.append((start, len(pattern) - start))
    return runs


def symbol_width_modules(data: str) -> int:
    """Width of the symbol in modules, excluding quiet zones."""
    return len(module_pattern(data))


def thermal_module_dots(dpi: int) -> int:
    """Smallest whole number of printer dots whose width is at least ``MIN_MODULE_MM`` at ``dpi``."""
    dots_per_mm = dpi / 25.4
    # A hair of tolerance: 2 dots at 203 dpi is 0.2502 mm, which must count as meeting 0.25 mm.
    return max(1, math.ceil(MIN_MODULE_MM * dots_per_mm - 1e-6))


def quiet_zone_mm(module_mm: float) -> float:
    """The clear space each side of a symbol printed with ``module_mm`` modules."""
    return max(QUIET_ZONE_MM, MIN_QUIET_ZONE_MODULES * module_mm)


def subset_c_invocation(data: str) -> str:
    """``data`` as Zebra ^BC field data in mode N with explicit subset invocations, so a thermal printer
    draws the very symbols python-barcode chose for the PDF (Zebra's own automatic mode may switch subsets
    elsewhere).

    ``>:`` starts subset B, ``>;`` subset C, ``>9`` subset A; ``>5``/``>6``/``>7`` switch to C/B/A.
    """
    values = symbol_values(data)
    subset = _START[values[0]]
    out = [{_CODE_A: ">9", _CODE_B: ">:", _CODE_C: ">;"}[subset]]
    for value in values[1:]:
        switch_to = _SWITCH[subset].get(value)
        if switch_to is not None:
            out.append({_CODE_A: ">7", _CODE_B: ">6", _CODE_C: ">5"}[switch_to])
            subset = switch_to
        elif subset == _CODE_C:
            out.append(f"{value:02d}")
        elif (0 <= value <= 63 or (subset == _CODE_B and value <= 94)) and chr(value + 32) not in _ZPL_RESERVED:
            out.append(chr(value + 32))
        else:
            raise LayoutError(f"barcode data {data!r} holds characters the label renderers do not encode")
    return "".join(out)
