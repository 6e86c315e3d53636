"""Serial-monitor logs that write control characters as `[STX]`-style text tokens, turned back into bytes."""

from __future__ import annotations

import re

from analyser_drivers.control import ACK, CR, ENQ, EOT, ETB, ETX, LF, NAK, STX

__all__ = ["detokenise", "looks_tokenised"]

_TOKEN = re.compile(rb"\[(STX|ETX|ETB|EOT|ENQ|ACK|NAK|CR|LF)\]")
_TOKEN_BYTES = {b"STX": STX, b"ETX": ETX, b"ETB": ETB, b"EOT": EOT, b"ENQ": ENQ,
                b"ACK": ACK, b"NAK": NAK, b"CR": CR, b"LF": LF}  # fmt: skip


def looks_tokenised(data: bytes) -> bool:
    """True for a serial-monitor log that writes control characters as `[STX]`, `[ETX]`, … tokens."""
    return bytes([STX]) not in data and bytes([ENQ]) not in data and (b"[STX]" in data or b"[ENQ]" in data)


def detokenise(data: bytes) -> tuple[bytes, list[int]]:
    """Turn a tokenised log back into bytes, with each output byte's offset in the log.

    Each log line is one read; line breaks are the logger's, not the line's, so they are dropped. Lines
    starting with "-" (after spaces) are the host's replies as such loggers print them, and are skipped.
    """
    out = bytearray()
    offsets: list[int] = []
    position = 0
    for line in data.split(b"\n"):
        start = position
        position += len(line) + 1
        if line.lstrip().startswith(b"-"):
            continue
        i = 0
        for match in _TOKEN.finditer(line):
            for j in range(i, match.start()):
                out.append(line[j])
                offsets.append(start + j)
            out.append(_TOKEN_BYTES[match.group(1)])
            offsets.append(start + match.start())
            i = match.end()
        for j in range(i, len(line)):
            out.append(line[j])
            offsets.append(start + j)
    return bytes(out), offsets
