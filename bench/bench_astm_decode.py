"""Decode throughput of the analyser link layer + record codec + profile, on one core.

Prints decoded results/s and how many times faster than a 9,600 baud line (960 bytes/s at 8N1) that is.
Run: .venv/bin/python bench/bench_astm_decode.py [--tubes N] [--chunk BYTES]
"""

from __future__ import annotations

import argparse
import time
from datetime import datetime, timedelta

from analyser_drivers import (
    OC_SENSOR,
    LinkReceiver,
    ManualClock,
    MessagesReady,
    TubeResult,
    frames_for_records,
    measurements_from_message,
    result_records,
)

LINE_BYTES_PER_S = 9600 / 10  # start + 8 data + stop bits per byte


def build_stream(tubes: int) -> bytes:
    start = datetime(2025, 1, 1, 8, 0, 0)
    parts = []
    for i in range(tubes):
        at = start + timedelta(seconds=40 * i)
        records = result_records(OC_SENSOR, [TubeResult(f"K{i:07d}", str(20 + i % 900), at)], "SN1", at)
        parts.append(b"\x05" + b"".join(frames_for_records(records)) + b"\x04")
    return b"".join(parts)


def decode(stream: bytes, chunk: int) -> int:
    receiver = LinkReceiver(OC_SENSOR.link, ManualClock())
    results = 0
    for i in range(0, len(stream), chunk):
        outputs = receiver.feed(stream[i : i + chunk])
        while outputs:
            ready = [o for o in outputs if isinstance(o, MessagesReady)]
            if not ready:
                break
            for message in ready[0].messages:
                results += len(measurements_from_message(OC_SENSOR, message))
            outputs = receiver.commit()
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--tubes", type=int, default=5000)
    parser.add_argument("--chunk", type=int, default=64, help="bytes per simulated read()")
    args = parser.parse_args()
    stream = build_stream(args.tubes)
    best = float("inf")
    for _ in range(3):
        started = time.perf_counter()
        results = decode(stream, args.chunk)
        best = min(best, time.perf_counter() - started)
    assert results == args.tubes, (results, args.tubes)
    bytes_per_s = len(stream) / best
    print(f"decoded results/s: {results / best:,.0f}")
    print(f"bytes/s: {bytes_per_s:,.0f} ({bytes_per_s / LINE_BYTES_PER_S:,.0f}x a 9,600 baud line; target >= 100x)")
    print(f"stream: {len(stream):,} bytes, {results} results, {len(stream) / results:.0f} bytes/result")


if __name__ == "__main__":
    main()
