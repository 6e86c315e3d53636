"""`fit-lab analyser replay --dry-run --json` over real transcripts from other instruments (../shared/astm-samples).

They are read in place, never copied into the project; without the folder these tests skip.
"""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import datetime
from pathlib import Path

import pytest

from analyser_drivers import OC_SENSOR, TubeResult, frames_for_records, result_records

SAMPLES = Path(__file__).resolve().parent.parent.parent / "shared" / "astm-samples"
# file stem fragment → (messages, records in all, problem kinds the replay must name)
EXPECTED = {
    "cobas_c111": (1, 7, set()),
    "pentra_xlr": (1, 28, set()),
    "afinion2": (1, 5, set()),
    "malglumi": (26, 166, {"missing_frame_number"}),
    # A serial-monitor log whose lines are out of order in places. Read by hand: 12 ENQ … sessions (the last not
    # closed by EOT), 63 frames, one record per frame (nine H P O R L sessions, three H P O R C L). The damage
    # moves records: a CR LF inside session 1's O frame splits off "rum|||" (+1); session 4's P frame is empty
    # and its text lands outside any frame (-1); session 6's P frame lost its number, and the O frame after it,
    # whose text begins "1", is read as a resend of frame 1 and replaces it (-1); session 7's L frame carries
    # "L|" CR LF "1|F", so "1|F" starts a 13th message (+1); sessions 11 and 12 each have a frame split by a
    # CR LF (+2). So 13 messages and 63 + 2 = 65 records.
    "access2": (13, 65, {"tokenised_log", "bad_checksum", "invalid_record_type"}),
}
# The records of a type E1394 does not define, as the damaged access2 log yields them, in order (each a problem).
ACCESS2_INVALID_TYPES = ["V", "", "", "", "", "1", "E", "", "", "", ""]


def _sample(fragment: str) -> Path:
    if not SAMPLES.is_dir():
        pytest.skip(f"{SAMPLES} is absent (shared samples are beside the project in CI)")
    return next(p for p in SAMPLES.iterdir() if fragment in p.name)


@pytest.mark.parametrize("fragment", sorted(EXPECTED))
def test_replay_decodes_each_real_transcript(fragment, tmp_path):
    path = _sample(fragment)
    out = subprocess.run([sys.executable, "-m", "fit_lab.cli", "analyser", "replay", str(path), "--dry-run", "--json"],
                         capture_output=True, text=True, timeout=60, check=True, cwd=tmp_path)
    document = json.loads(out.stdout)
    messages, records, problems = EXPECTED[fragment]
    assert len(document["messages"]) == messages
    assert sum(len(m["records"]) for m in document["messages"]) == records
    if fragment != "access2":
        assert all(m["records"][0]["type"] == "H" and m["records"][-1]["type"] == "L" for m in document["messages"])
    assert problems <= {p["kind"] for p in document["problems"]}
    for p in document["problems"]:
        assert set(p) == {"offset", "kind", "detail"} and p["detail"]
        assert 0 <= p["offset"] <= path.stat().st_size


def test_replay_names_every_record_of_a_type_the_standard_does_not_define(tmp_path):
    path = _sample("access2")
    out = subprocess.run([sys.executable, "-m", "fit_lab.cli", "analyser", "replay", str(path), "--dry-run", "--json"],
                         capture_output=True, text=True, timeout=60, check=True, cwd=tmp_path)
    document = json.loads(out.stdout)
    invalid = [p for p in document["problems"] if p["kind"] == "invalid_record_type"]
    decoded = [r["type"] for m in document["messages"] for r in m["records"] if r["type"] not in "HPORCMQSL"
               or not r["type"]]
    assert decoded == ACCESS2_INVALID_TYPES and len(invalid) == len(ACCESS2_INVALID_TYPES)
    for problem, record_type in zip(invalid, ACCESS2_INVALID_TYPES, strict=True):
        assert f"has type {record_type!r}" in problem["detail"]
    log = path.read_bytes()
    assert all(log[p["offset"]:p["offset"] + 5] == b"[STX]" for p in invalid)  # each at the frame carrying it


def test_replay_with_a_profile_adds_measurements_in_ug_per_g(tmp_path):
    tubes = [TubeResult("F0000000013", "250", datetime(2026, 11, 2, 9, 0, 1), lot="L1")]
    frames = frames_for_records(result_records(OC_SENSOR, tubes, "SN-1", datetime(2026, 11, 2, 9, 0)))
    capture = tmp_path / "capture.bin"
    capture.write_bytes(b"\x05" + b"".join(frames) + b"\x04")
    out = subprocess.run([sys.executable, "-m", "fit_lab.cli", "analyser", "replay", str(capture), "--profile",
                          "oc-sensor", "--dry-run", "--json"], capture_output=True, text=True, timeout=60, check=True)
    document = json.loads(out.stdout)
    (measurement,) = document["messages"][0]["measurements"]
    assert measurement["specimen_id"] == "F0000000013" and measurement["value_ug_per_g"] == "50.0"
    assert document["problems"] == []
