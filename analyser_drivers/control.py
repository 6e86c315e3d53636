"""ASTM E1381 control characters (one byte each) and their names for logs and problem reports."""

from __future__ import annotations

STX = 0x02
ETX = 0x03
EOT = 0x04
ENQ = 0x05
ACK = 0x06
LF = 0x0A
CR = 0x0D
NAK = 0x15
ETB = 0x17

CONTROL_NAMES: dict[int, str] = {
    STX: "STX",
    ETX: "ETX",
    EOT: "EOT",
    ENQ: "ENQ",
    ACK: "ACK",
    LF: "LF",
    CR: "CR",
    NAK: "NAK",
    ETB: "ETB",
}

# E1381 6.6: characters a sender may not put in frame text (CR is the record terminator and allowed).
RESTRICTED_IN_TEXT: frozenset[int] = frozenset(
    {0x01, STX, ETX, EOT, ENQ, ACK, 0x10, NAK, 0x16, ETB, LF, 0x11, 0x12, 0x13, 0x14}
)
