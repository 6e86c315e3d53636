"""Hypothesis: any record set survives encode → frame → link → decode; arbitrary bytes never crash."""

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from analyser_drivers import (
    Delimiters,
    FrameScanner,
    LinkReceiver,
    LinkSettings,
    ManualClock,
    MessagesReady,
    Notice,
    Record,
    decode_message,
    decode_record,
    encode_record,
    frames_for_records,
    replay,
)

# Any latin-1 character, control characters included (CR, LF, STX, ETX, ENQ, EOT, ETB, NUL, DEL…): the encoder
# escapes delimiters and control characters alike, so no frame it builds is refused by a receiver.
TEXT = st.text(alphabet=st.characters(min_codepoint=0x00, max_codepoint=0xFF), max_size=12)
CONTROL_HEAVY_TEXT = st.text(alphabet=st.sampled_from([chr(c) for c in range(0x20)] + ["\x7f", "a", "|", "&"]),
                             min_size=1, max_size=12)
FIELD = st.lists(st.lists(TEXT, min_size=1, max_size=3).map(tuple), min_size=1, max_size=3).map(tuple)
BODY_TYPES = st.sampled_from("POCMRQ")


@st.composite
def messages(draw):
    header_fields = draw(st.lists(FIELD, max_size=6))
    header = Record(((("H",),), (("\\^&",),), *header_fields))
    body = [
        Record((((kind,),), *draw(st.lists(FIELD, min_size=1, max_size=8))))
        for kind in draw(st.lists(BODY_TYPES, max_size=8))
    ]
    return [header, *body, Record(((("L",),), (("1",),), (("N",),)))]


@given(FIELD, st.lists(FIELD, max_size=10))
def test_any_record_round_trips_through_the_codec(first, rest):
    record = Record(((("R",),), first, *rest))
    assert decode_record(encode_record(record)) == record


@given(st.permutations("|\\^&!@#$"))
def test_records_round_trip_with_any_declared_delimiters(chars):
    d = Delimiters(field=chars[0], repeat=chars[1], component=chars[2], escape=chars[3])
    record = Record.of("R", "1", "a|b\\c^d&e!f@g#h$i")
    assert decode_record(encode_record(record, d), d) == record


@settings(max_examples=150, suppress_health_check=[HealthCheck.too_slow])
@given(messages(), st.sampled_from([30, 64, 247]), st.integers(min_value=1, max_value=50))
def test_any_message_survives_framing_and_the_receiving_link_layer(records, frame_size, chunk):
    frames = frames_for_records(records, max_frame_size=frame_size)
    stream = b"\x05" + b"".join(frames) + b"\x04"
    receiver = LinkReceiver(LinkSettings(), ManualClock())
    delivered = []
    for i in range(0, len(stream), chunk):
        outputs = receiver.feed(stream[i : i + chunk])
        while any(isinstance(o, MessagesReady) for o in outputs):
            for o in outputs:
                if isinstance(o, MessagesReady):
                    delivered.extend(o.messages)
            outputs = receiver.commit()
    assert len(delivered) == 1
    assert list(delivered[0].records) == records


@settings(max_examples=150)
@given(st.lists(CONTROL_HEAVY_TEXT, min_size=1, max_size=6))
def test_fields_full_of_control_characters_are_never_refused_by_the_receiver(texts):
    records = [Record.of("H", "\\^&"), Record.of("C", "1", "I", *texts), Record.of("L", "1", "N")]
    receiver = LinkReceiver(LinkSettings(), ManualClock())
    outputs = receiver.feed(b"\x05" + b"".join(frames_for_records(records, max_frame_size=30)) + b"\x04")
    assert not any(isinstance(o, Notice) and o.kind == "frame_rejected" for o in outputs)
    (ready,) = [o for o in outputs if isinstance(o, MessagesReady)]
    assert list(ready.messages[0].records) == records


@settings(max_examples=100)
@given(messages())
def test_replay_of_a_clean_capture_decodes_the_message_and_finds_no_problems(records):
    stream = b"\x05" + b"".join(frames_for_records(records)) + b"\x04"
    result = replay(stream)
    assert result.problems == ()
    assert [list(m.records) for m in result.messages] == [records]


@given(st.binary(max_size=600))
def test_arbitrary_bytes_never_crash_the_scanner_receiver_or_replay(data):
    FrameScanner().feed(data)
    receiver = LinkReceiver(LinkSettings(), ManualClock())
    outputs = receiver.feed(data)
    for _ in range(10):
        if not any(isinstance(o, MessagesReady) for o in outputs):
            break
        outputs = receiver.reject()
    receiver.poll()
    replay(data)
    decode_message(data)


@given(
    st.lists(
        st.sampled_from(
            [
                b"\x02",
                b"\x03",
                b"\x04",
                b"\x05",
                b"\x06",
                b"\x15",
                b"\x17",
                b"\r",
                b"\n",
                b"1",
                b"H|\\^&",
                b"L|1",
                b"A0",
                b"|",
                b"^",
            ]
        ),
        max_size=80,
    )
)
def test_streams_made_of_protocol_pieces_never_crash_the_link_layer(pieces):
    data = b"".join(pieces)
    receiver = LinkReceiver(LinkSettings(frame_numbers=False, checksums=False), ManualClock())
    outputs = receiver.feed(data)
    if any(isinstance(o, MessagesReady) for o in outputs):
        receiver.commit()
    replay(data)
