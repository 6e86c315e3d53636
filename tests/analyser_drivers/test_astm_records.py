"""E1394 record codec: delimiters from H, escapes, repeats and components, latin-1 kept."""

import pytest

from analyser_drivers import (
    Delimiters,
    Record,
    RecordError,
    components,
    decode_message,
    decode_record,
    encode_message,
    encode_record,
)


def test_fields_are_numbered_as_in_the_standard():
    record = decode_record("R|1|^^^FOB|120|ng/mL||N||F")
    assert record.type == "R"
    assert record.value(4) == "120"
    assert record.value(3, component=4) == "FOB"
    assert record.value(40) == ""


def test_header_keeps_its_delimiter_declaration_as_field_two():
    header = decode_record("H|\\^&|||OC-Sensor^^SN1|||||||P|LIS2-A2|20250101120000")
    assert header.value(2) == "\\^&"
    assert header.value(5, component=3) == "SN1"
    assert header.value(14) == "20250101120000"


def test_custom_delimiters_declared_in_header_apply_to_the_following_records():
    message = decode_message(b"H!@#$!!!X\rR!1!#A#B@C!7\rL!1\r")
    assert message.delimiters == Delimiters(field="!", repeat="@", component="#", escape="$")
    result = message.records[1]
    assert result.field(3) == (("", "A", "B"), ("C",))
    assert result.value(4) == "7"


def test_escape_sequences_decode_to_the_delimiter_characters():
    record = decode_record("C|1|I|a&F&b&S&c&R&d&E&e&X0D&f|G")
    assert record.value(4) == "a|b^c\\d&e\rf"


def test_unknown_escape_is_kept_as_sent():
    assert decode_record("C|1|I|&H&bold&N&").value(4) == "&H&bold&N&"


def test_text_containing_delimiters_round_trips_through_escapes():
    record = Record.of("C", "1", "I", "pipe | caret ^ backslash \\ amp &")
    assert decode_record(encode_record(record)) == record


def test_repeats_and_components_round_trip():
    record = Record.of("O", "1", "S1", "", ((("", "", "", "FOB"), ("", "", "", "HB"))), components("a", "b"))
    assert decode_record(encode_record(record)) == record


def test_latin1_bytes_survive_decode_and_encode():
    raw = b"H|\\^&\rR|1|^^^IBIL-D|7|\xb5mol/L\rL|1\r"
    message = decode_message(raw)
    assert message.records[1].value(5) == "µmol/L"
    assert b"".join(encode_message(message.records, message.delimiters)) == raw


def test_json_form_uses_nested_lists_for_components_and_repeats():
    record = decode_record("O|1|S1||^^^A\\^^^B|R")
    assert record.to_json() == {
        "type": "O",
        "fields": ["O", "1", "S1", "", [["", "", "", "A"], ["", "", "", "B"]], "R"],
    }


@pytest.mark.parametrize("record_type", list("HPOCMRQL"))
def test_every_record_type_decodes(record_type):
    text = f"{record_type}|\\^&|x" if record_type == "H" else f"{record_type}|1|x^y"
    assert decode_record(text).type == record_type


def test_message_is_complete_only_with_its_terminator():
    assert decode_message(b"H|\\^&\rP|1\rL|1|N\r").complete
    assert not decode_message(b"H|\\^&\rP|1\r").complete


def test_delimiters_must_be_four_distinct_characters():
    with pytest.raises(RecordError):
        Delimiters(field="|", repeat="|", component="^", escape="&")


def test_header_with_unusable_delimiters_is_read_with_the_defaults():
    assert decode_record("H||||x").type == "H"


def test_control_characters_in_field_text_are_hex_escaped_so_no_frame_carries_a_forbidden_one():
    # E1381 6.6: a frame holding STX, ETX, EOT, ENQ, ACK, DLE, NAK, SYN, ETB, LF or DC1-DC4 in its text is
    # refused by the receiver, so an unescaped one would make the sender retry the same frame until it gives up.
    every_control = "".join(chr(c) for c in range(0x20)) + "\x7f"
    record = Record.of("C", "1", "I", f"tube{every_control}end")
    (text,) = encode_message([record])
    assert all(byte >= 0x20 and byte != 0x7F for byte in text[:-1]) and text.endswith(b"\r")
    assert b"&X02&" in text and b"&X0A&" in text and b"&X0D&" in text
    assert decode_message(text).records[0] == record


def test_control_characters_cannot_be_declared_as_delimiters():
    with pytest.raises(RecordError, match="printable"):
        Delimiters(field="\x02")


def test_text_latin1_cannot_carry_is_refused_before_it_reaches_the_line():
    with pytest.raises(RecordError, match="latin-1"):
        encode_message([Record.of("C", "1", "I", "f-Hb 10 µg/g ≥ threshold")])
