"""replay() over real transcripts from other instruments in <repo>/../shared/astm-samples (read in place).

Record counts were established by reading each file (see its README): one record per CR-terminated
record text inside frames.
"""

from pathlib import Path

import pytest

from analyser_drivers import replay
from analyser_drivers.frames import FrameEvent, FrameScanner
from analyser_drivers.replay import detokenise

SAMPLES = Path(__file__).resolve().parents[2].parent / "shared" / "astm-samples"


def sample(name: str) -> bytes:
    path = SAMPLES / name
    if not path.is_file():
        pytest.skip(f"real transcript {name} not available at {SAMPLES} (shared samples folder absent)")
    return path.read_bytes()


def kinds(result) -> set[str]:
    return {p.kind for p in result.problems}


def test_cobas_c111_etb_after_every_record_decodes_to_seven_records():
    result = replay(sample("senaite__senaite.astm__src_senaite_astm_tests_data_cobas_c111.txt"))
    (message,) = result.messages
    assert [r.type for r in message.records] == ["H", "P", "O", "R", "C", "M", "L"]
    assert message.records[3].value(4) == "40.13"
    assert "bad_checksum" not in kinds(result)
    assert {"etb_at_record_end", "missing_cr", "frame_without_enq"} <= kinds(result)


def test_pentra_xlr_frame_numbers_wrap_and_all_28_records_decode():
    result = replay(sample("senaite__senaite.astm__src_senaite_astm_tests_data_pentra_xlr.txt"))
    (message,) = result.messages
    assert len(message.records) == 28 and message.complete
    assert "unexpected_frame_number" not in kinds(result)
    assert "bad_checksum" not in kinds(result)
    assert message.records[4].field(4)[0][0] == "Alarm_WBC"


def test_afinion_single_frame_message_decodes_to_five_records():
    result = replay(sample("senaite__senaite.astm__src_senaite_astm_tests_data_abbott_afinion2.txt"))
    (message,) = result.messages
    assert [r.type for r in message.records] == ["H", "P", "O", "R", "L"]
    assert message.records[3].value(4) == "5.9"
    assert "several_records_in_one_frame" in kinds(result)


def test_maglumi_log_without_frame_numbers_or_checksums_decodes_every_record():
    data = sample("PrasoonPratham__astmio__example_astm_Acquired_malglumi_logs.txt")
    result = replay(data)
    assert len(result.messages) == data.count(b"[STX]") == 26
    assert sum(len(m.records) for m in result.messages) == data.count(b"[CR]") == 166
    assert all(m.records[0].value(5) == "Maglumi User" for m in result.messages)
    assert {"tokenised_log", "missing_frame_number", "missing_checksum", "several_records_in_one_frame"} <= kinds(
        result
    )


def test_access2_log_split_over_many_reads_yields_every_frame_and_names_the_damaged_ones():
    data = sample("PrasoonPratham__astmio__example_astm_Acquired_access2_logs.txt")
    result = replay(data)
    raw, _ = detokenise(data)
    scanner = FrameScanner()
    frames = [e for e in [*scanner.feed(raw), *scanner.finish()] if isinstance(e, FrameEvent)]
    # The log's lines are out of order in places, so some frames cannot be reassembled intact.
    assert len(frames) == data.count(b"[STX]") == 63
    assert sum(1 for f in frames if f.checksum_ok) == 51
    assert len(result.messages) >= data.count(b"[ENQ]")
    assert {"tokenised_log", "bad_checksum"} <= kinds(result)
    for problem in result.problems:
        if problem.kind == "bad_checksum":
            assert data[problem.offset : problem.offset + 5] == b"[STX]"
    # Every session closed by EOT still yields a message ending in its L record.
    assert sum(1 for m in result.messages if m.complete) == data.count(b"[EOT]") == 11
