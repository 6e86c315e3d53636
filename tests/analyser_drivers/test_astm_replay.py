"""replay(): decode a capture offline and name each place where it breaks the standard.

Our own fixtures reproduce each quirk seen in real instruments' output (domain/astm-notes.md §3).
"""

import json
from datetime import datetime

from analyser_drivers import OC_SENSOR, FitMeasurement, encode_frame, frames_for_records, replay
from analyser_drivers.emulate import TubeResult, result_records

ENQ, EOT, ACK, NAK = b"\x05", b"\x04", b"\x06", b"\x15"
RECORDS = [b"H|\\^&|||Demo\r", b"P|1\r", b"O|1|K1\r", b"R|1|^^^FOB|120|ng/mL\r", b"L|1|N\r"]


def compliant(records=RECORDS):
    return [encode_frame(i + 1, r, final=True) for i, r in enumerate(records)]


def kinds(result):
    return [p.kind for p in result.problems]


def test_clean_two_way_capture_decodes_with_no_problems():
    frames = compliant()
    capture = ENQ + ACK + b"".join(f + ACK for f in frames) + EOT
    result = replay(capture)
    assert kinds(result) == []
    assert [r.type for r in result.messages[0].records] == ["H", "P", "O", "R", "L"]


def test_instrument_side_only_capture_is_decoded_and_the_missing_session_noted():
    result = replay(b"".join(compliant()))
    assert kinds(result) == ["frame_without_enq"]
    assert len(result.messages[0].records) == 5


def test_bad_checksum_is_named_at_its_offset_and_the_resend_replaces_it():
    frames = compliant()
    bad = frames[3].replace(b"120", b"121")
    capture = ENQ + b"".join(frames[:3]) + bad + NAK + frames[3] + frames[4] + EOT
    result = replay(capture)
    problem = next(p for p in result.problems if p.kind == "bad_checksum")
    assert problem.offset == capture.index(bad)
    assert result.messages[0].records[3].value(4) == "120"
    assert "retransmission" in kinds(result)


def test_identical_retransmission_is_counted_once():
    frames = compliant()
    result = replay(ENQ + b"".join(frames[:2]) + frames[1] + b"".join(frames[2:]) + EOT)
    assert len(result.messages[0].records) == 5


def test_whole_message_in_one_frame_is_named():
    result = replay(ENQ + encode_frame(1, b"".join(RECORDS), final=True) + EOT)
    assert "several_records_in_one_frame" in kinds(result)
    assert len(result.messages[0].records) == 5


def test_etb_after_every_record_is_named():
    frames = [encode_frame(i + 1, r, final=r.startswith(b"L")) for i, r in enumerate(RECORDS)]
    result = replay(ENQ + b"".join(frames) + EOT)
    assert kinds(result).count("etb_at_record_end") == 4
    assert len(result.messages[0].records) == 5


def test_frames_without_numbers_or_checksums_are_named():
    result = replay(ENQ + b"\x02" + b"".join(RECORDS) + b"\x03" + EOT)
    assert {"missing_frame_number", "missing_checksum"} <= set(kinds(result))
    assert len(result.messages[0].records) == 5


def test_frames_over_247_characters_are_named():
    long_record = b"C|1|I|" + b"x" * 300 + b"\r"
    result = replay(ENQ + b"".join(compliant([RECORDS[0], long_record, RECORDS[-1]])) + EOT)
    assert "frame_over_247" in kinds(result)


def test_frames_joined_by_bare_lf_are_named():
    capture = b"\n".join(f[:-2] for f in compliant())
    result = replay(capture)
    assert "missing_cr" in kinds(result) and len(result.messages[0].records) == 5


def test_message_cut_off_by_eot_is_returned_incomplete_and_named():
    result = replay(ENQ + b"".join(compliant()[:3]) + EOT)
    assert "message_without_terminator" in kinds(result)
    assert not result.messages[0].complete


def test_noise_and_empty_sessions_are_named():
    result = replay(b"garbage" + ENQ + EOT + ENQ + b"".join(compliant()) + EOT)
    assert {"noise", "empty_session"} <= set(kinds(result))
    assert len(result.messages) == 1


def test_frame_numbers_out_of_order_are_named():
    frames = compliant()
    result = replay(ENQ + frames[0] + frames[2] + EOT)
    assert "unexpected_frame_number" in kinds(result)


def test_tokenised_serial_monitor_log_is_turned_back_into_bytes_with_offsets_into_the_log():
    log = b"[ENQ]\n - [ACK]\n[STX]\n1H|\\^&[CR][ETX]\n - [ACK]\nXX[CR][LF]\n[STX]2L|1|N[CR][ETX]0B[CR][LF]\n[EOT]\n"
    result = replay(log)
    assert kinds(result)[0] == "tokenised_log"
    bad = next(p for p in result.problems if p.kind == "bad_checksum")
    assert log[bad.offset : bad.offset + 5] == b"[STX]"
    assert [r.type for r in result.messages[0].records] == ["H", "L"]


def test_json_document_has_messages_with_typed_records_and_problems():
    result = replay(b"".join(compliant()))
    document = json.loads(json.dumps(result.to_json()))
    assert document["messages"][0]["records"][3] == {
        "type": "R",
        "fields": ["R", "1", ["", "", "", "FOB"], "120", "ng/mL"],
    }
    assert document["problems"][0] == {
        "offset": 0,
        "kind": "frame_without_enq",
        "detail": "frames arrive with no ENQ/EOT session around them",
    }


def test_with_a_profile_each_message_also_yields_measurements():
    at = datetime(2025, 1, 2, 3, 4, 5)
    records = result_records(OC_SENSOR, [TubeResult("K9", "250", at)], "SN1", at)
    result = replay(ENQ + b"".join(frames_for_records(records)) + EOT, OC_SENSOR)
    assert result.measurements is not None
    (measurement,) = result.measurements[0]
    assert isinstance(measurement, FitMeasurement) and measurement.specimen_id == "K9"


def test_json_document_with_a_profile_carries_exact_values_and_iso_times():
    at = datetime(2025, 1, 2, 3, 4, 5)
    records = result_records(OC_SENSOR, [TubeResult("K9", "<50", at)], "SN1", at)
    document = replay(ENQ + b"".join(frames_for_records(records)) + EOT, OC_SENSOR).to_json()
    (measurement,) = document["messages"][0]["measurements"]
    assert measurement["kind"] == "patient"
    assert (measurement["comparator"], measurement["value_ug_per_g"]) == ("<", "10.0")
    assert measurement["measured_at"] == "2025-01-02T03:04:05"
    json.dumps(document)


def test_records_of_a_type_e1394_does_not_define_are_each_named_with_their_type():
    # Fragments of a damaged log (the Access 2 capture has 'V125Ag^…', '|F', '1|F', 'ESS^…') must not pass silently.
    records = [RECORDS[0], b"V125Ag^3O|2\r", RECORDS[1], b"|F\r", b"1|F\r", b"ESS^5757\r", RECORDS[-1]]
    result = replay(ENQ + b"".join(compliant(records)) + EOT)
    invalid = [p for p in result.problems if p.kind == "invalid_record_type"]
    assert [p.detail.split("has type ")[1].split(",")[0] for p in invalid] == ["'V'", "''", "'1'", "'E'"]
    frames = compliant(records)
    assert invalid[0].offset == len(ENQ) + len(frames[0])  # the frame that carried the record
    assert len(result.messages[0].records) == 7


def test_a_refused_frame_replaced_by_its_retransmission_does_not_report_its_records_twice():
    # Frame 4's first copy was damaged into an invalid record and closed the message; its resend replaces it.
    frames = compliant([RECORDS[0], RECORDS[1], RECORDS[2], b"X|1\r" + RECORDS[4]])
    resend = encode_frame(4, RECORDS[3] + RECORDS[4], final=True)
    result = replay(ENQ + b"".join(frames) + resend + EOT)
    assert "invalid_record_type" not in kinds(result)
    assert [[r.type for r in m.records] for m in result.messages] == [["H", "P", "O", "R", "L"]]


def test_with_a_profile_a_result_without_a_specimen_id_is_a_problem_and_its_neighbours_are_measured():
    at = datetime(2025, 1, 2, 3, 4, 5)
    records = result_records(OC_SENSOR, [TubeResult("K9", "250", at), TubeResult("", "100", at)], "SN1", at)
    result = replay(ENQ + b"".join(frames_for_records(records)) + EOT, OC_SENSOR)
    good, unread = result.measurements[0]
    assert good.specimen_id == "K9" and unread.specimen_id == ""
    assert [p.kind for p in result.problems] == ["no_specimen_id"]
    document = json.loads(json.dumps(result.to_json()))
    assert document["messages"][0]["measurements"][1]["problems"][0]["kind"] == "no_specimen_id"
