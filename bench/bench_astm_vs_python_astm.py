"""fit-lab's ASTM decoder side by side with python-astm's codec, on the same stream, in one run; and the memory of
`fit-lab analyser replay` on a 100 MB capture.

Targets (issue 19): fit-lab's link layer + record codec decode at least as many records per CPU-second as
python-astm's codec (ratio >= 1.0), and replay's peak memory on a 100 MB capture stays under 150 MB.

The stream: 10,000 messages (ENQ … EOT each, one record per frame as E1381 6.3.1.1 asks, frame numbers wrapping
7 → 0), 1 to 6 tubes each (P, O, R, sometimes a C comment), seeded. python-astm is handed the stream already cut
into frames and only decodes them (`astm.codec.decode_message`: checksum + records); fit-lab is handed raw bytes
and does everything the live link does (scan for frames in reads of `--chunk` bytes, check checksums and frame
numbers, reply, assemble messages, decode records with the H record's delimiters and escapes). CPU time
(`time.process_time`), best of `--repeat` runs each, interleaved.

python-astm (PyPI `astm`, 0.5.0) is installed into this venv for the benchmark only, if missing: it is not a
dependency of fit-lab. It predates Python 3.10, so `collections.Iterable` is put back before it is imported.

Run: .venv/bin/python bench/bench_astm_vs_python_astm.py [--messages 10000] [--capture-mb 100]
"""

from __future__ import annotations

import argparse
import collections
import collections.abc
import importlib
import os
import random
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path
from types import ModuleType

from analyser_drivers import LinkReceiver, LinkSettings, ManualClock, MessagesReady, Replayer, encode_frame
from analyser_drivers.control import ENQ, EOT

PYTHON_ASTM = "astm==0.5.0"
REPO = Path(__file__).resolve().parent.parent


def python_astm_codec() -> ModuleType:
    """python-astm's codec module, installed first if needed (its setup.py imports the package, hence the shim)."""
    collections.Iterable = collections.abc.Iterable  # type: ignore[attr-defined]
    try:
        return importlib.import_module("astm.codec")
    except ImportError:
        pass
    shim = Path(tempfile.mkdtemp(prefix="astm-shim-"))
    (shim / "sitecustomize.py").write_text(
        "import collections, collections.abc\ncollections.Iterable = collections.abc.Iterable\n")
    env = {**os.environ, "PYTHONPATH": str(shim)}
    pip = [sys.executable, "-m", "pip", "install", "--quiet"]
    subprocess.run([*pip, "wheel", "setuptools"], check=True)
    # Without build isolation, so the shim above reaches its setup.py (pip's isolation replaces PYTHONPATH).
    subprocess.run([*pip, "--no-deps", "--no-build-isolation", PYTHON_ASTM], check=True, env=env)
    importlib.invalidate_caches()
    return importlib.import_module("astm.codec")


def build_messages(count: int, seed: int) -> list[list[bytes]]:
    """`count` messages, each a list of record texts (CR-terminated), as a FIT analyser would send them."""
    rng = random.Random(seed)
    start = datetime(2026, 11, 2, 8, 0, 0)
    messages = []
    serial = 0
    for index in range(count):
        at = start + timedelta(seconds=30 * index)
        stamp = at.strftime("%Y%m%d%H%M%S").encode()
        records = [b"H|\\^&|||OC-SENSOR io^SN-000417^v2.3.1|||||||P|LIS2-A2|" + stamp + b"\r"]
        for tube in range(1, rng.randint(1, 6) + 1):
            serial += 1
            value = b"%d" % rng.randint(0, 1200) if rng.random() > 0.1 else b"<50"
            records.append(b"P|%d||||^^||||||||||||||||||||||||||||\r" % tube)
            records.append(b"O|1|F%09d%d||^^^FOB|R|%s|||||N||||||||||||||F|||||\r" % (serial, serial % 10, stamp))
            records.append(b"R|1|^^^FOB^L2310^1|" + value + b"|ng/mL|0^1200|N||F||OPER1^OPER1|" + stamp + b"|"
                           + stamp + b"|OC-SENSOR io\r")
            if rng.random() < 0.15:
                records.append(b"C|1|I|Sample volume low&R&re-mixed^checked|G\r")
        records.append(b"L|1|N\r")
        messages.append(records)
    return messages


def build_stream(messages: list[list[bytes]]) -> tuple[bytes, list[bytes], int]:
    """The bytes on the line (ENQ, frames, EOT per message), the frames alone, and the number of records."""
    parts: list[bytes] = []
    frames: list[bytes] = []
    for records in messages:
        parts.append(bytes([ENQ]))
        for number, text in enumerate(records, start=1):
            frame = encode_frame(number, text, final=True)
            frames.append(frame)
            parts.append(frame)
        parts.append(bytes([EOT]))
    return b"".join(parts), frames, sum(len(m) for m in messages)


def decode_python_astm(codec: ModuleType, frames: list[bytes]) -> int:
    decode_message = codec.decode_message
    records = 0
    for frame in frames:
        _, decoded, _ = decode_message(frame, "latin-1")
        records += len(decoded)
    return records


def decode_fit_lab(stream: bytes, chunk: int) -> int:
    receiver = LinkReceiver(LinkSettings(), ManualClock())
    records = 0
    for i in range(0, len(stream), chunk):
        outputs = receiver.feed(stream[i : i + chunk])
        while outputs:
            ready = [o for o in outputs if isinstance(o, MessagesReady)]
            if not ready:
                break
            records += sum(len(m.records) for m in ready[0].messages)
            outputs = receiver.commit()
    return records


def replay_fit_lab(stream: bytes, chunk: int) -> int:
    replayer = Replayer()
    records = 0
    for i in range(0, len(stream), chunk):
        records += sum(len(item.message.records) for item in replayer.feed(stream[i : i + chunk]))
    records += sum(len(item.message.records) for item in replayer.finish())
    return records


def cpu_seconds(run: Callable[[], int], expected: int) -> float:
    started = time.process_time()
    records = run()
    spent = time.process_time() - started
    if records != expected:
        raise SystemExit(f"decoded {records} records, expected {expected}")
    return spent


def replay_peak_memory(stream: bytes, megabytes: int) -> tuple[int, float, float]:
    """Write a capture of about `megabytes` MB (the stream repeated) and run `fit-lab analyser replay` on it."""
    with tempfile.TemporaryDirectory() as folder:
        capture = Path(folder) / "capture.bin"
        with capture.open("wb") as out:
            while out.tell() < megabytes * 1_000_000:
                out.write(stream)
        size = capture.stat().st_size
        started = time.perf_counter()
        with open(os.devnull, "wb") as sink:
            done = subprocess.run([sys.executable, "-c", _REPLAY_AND_REPORT_PEAK, str(capture)], stdout=sink,
                                  stderr=subprocess.PIPE, text=True, cwd=REPO, check=False)
        if done.returncode != 0:
            raise SystemExit(f"fit-lab analyser replay failed:\n{done.stderr}")
        peak_kb = int(done.stderr.strip().splitlines()[-1].split()[1])
        return size, peak_kb / 1024, time.perf_counter() - started


# `fit-lab analyser replay CAPTURE --dry-run --json` exactly as the console script runs it, reporting its own peak
# (VmHWM of the process after exec: rusage of a child would include this benchmark's memory, shared before exec).
_REPLAY_AND_REPORT_PEAK = """
import atexit, sys
def report():
    with open("/proc/self/status") as status:
        print(next(line for line in status if line.startswith("VmHWM")), file=sys.stderr)
atexit.register(report)
sys.argv = ["fit-lab", "analyser", "replay", sys.argv[1], "--dry-run", "--json"]
from fit_lab.cli.main import main
main()
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--messages", type=int, default=10_000)
    parser.add_argument("--seed", type=int, default=19)
    parser.add_argument("--chunk", type=int, default=4096, help="bytes per read() handed to fit-lab's link")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--capture-mb", type=int, default=100, help="size of the replay capture (0: skip)")
    args = parser.parse_args()
    codec = python_astm_codec()
    stream, frames, records = build_stream(build_messages(args.messages, args.seed))
    print(f"stream: {args.messages:,} messages, {records:,} records, {len(stream) / 1e6:.1f} MB "
          f"(python-astm {sys.modules['astm'].__version__} from {Path(codec.__file__).parent})")
    runs: dict[str, list[float]] = {"python-astm codec": [], "fit-lab LinkReceiver": [], "fit-lab replay": []}
    for _ in range(args.repeat):  # interleaved, so a machine slowing down mid-run hits every decoder alike
        runs["python-astm codec"].append(cpu_seconds(lambda: decode_python_astm(codec, frames), records))
        runs["fit-lab LinkReceiver"].append(cpu_seconds(lambda: decode_fit_lab(stream, args.chunk), records))
        runs["fit-lab replay"].append(cpu_seconds(lambda: replay_fit_lab(stream, args.chunk), records))
    baseline = records / min(runs["python-astm codec"])
    for name, times in runs.items():
        rate = records / min(times)
        print(f"{name:22} {rate:>10,.0f} records/CPU-s  ratio to python-astm {rate / baseline:.2f}")
    ratio = records / min(runs["fit-lab LinkReceiver"]) / baseline
    print(f"ratio fit-lab (live link) / python-astm: {ratio:.2f} (target >= 1.0: {'met' if ratio >= 1 else 'MISSED'})")
    if args.capture_mb:
        size, peak_mb, seconds = replay_peak_memory(stream, args.capture_mb)
        verdict = "met" if peak_mb < 150 else "MISSED"
        print(f"fit-lab analyser replay --dry-run --json on a {size / 1e6:.0f} MB capture: peak memory "
              f"{peak_mb:.0f} MB in {seconds:.0f} s (target < 150 MB: {verdict})")


if __name__ == "__main__":
    main()
