"""Frames: checksums (ETB included), building frames, and scanning a byte stream however it is chunked."""

from analyser_drivers import FrameScanner, checksum, encode_frame, split_into_frames
from analyser_drivers.frames import BrokenFrameEvent, ControlEvent, FrameEvent, NoiseEvent, QuirkEvent

# Frame 1 of the cobas c111 capture in ../shared/astm-samples: text ends CR ETB, checksum C6.
COBAS_STYLE_ETB_FRAME = (
    b"\x021H|\\^&|||SENAITE^Roche^c111^4.2.2.1730^1^13147|||||host|RSUPL^REAL|P|1|20230803131713\r\x17C6\r\n"
)


def scan_all(data: bytes, chunk: int | None = None) -> list[object]:
    scanner = FrameScanner()
    if chunk is None:
        return [*scanner.feed(data), *scanner.finish()]
    events: list[object] = []
    for i in range(0, len(data), chunk):
        events.extend(scanner.feed(data[i : i + chunk]))
    return [*events, *scanner.finish()]


def test_checksum_of_final_frame_includes_etx():
    assert checksum(b"5L|1|F\r", 0x03) == b"00"


def test_checksum_of_intermediate_frame_includes_etb_not_etx():
    body = COBAS_STYLE_ETB_FRAME[1:-5]
    assert checksum(body, 0x17) == b"C6"
    assert checksum(body, 0x03) != b"C6"


def test_scanner_accepts_etb_frame_with_etb_checksum():
    (frame,) = scan_all(COBAS_STYLE_ETB_FRAME)
    assert isinstance(frame, FrameEvent)
    assert frame.checksum_ok is True and frame.final is False and frame.number == 1


def test_encoded_frame_has_stx_number_text_terminator_checksum_crlf():
    assert encode_frame(9, b"L|1|N\r", final=True) == b"\x021L|1|N\r\x03" + checksum(b"1L|1|N\r", 3) + b"\r\n"


def test_long_record_is_split_into_etb_frames_within_the_frame_limit():
    text = b"R|1|" + b"x" * 600 + b"\r"
    frames = split_into_frames(text, 7, 247)
    assert all(len(f) <= 247 for f in frames)
    assert [f[1:2] for f in frames] == [b"7", b"0", b"1"]
    assert [f[-5] for f in frames] == [0x17, 0x17, 0x03]


def test_one_frame_split_across_single_byte_reads_is_found_once():
    data = encode_frame(1, b"H|\\^&\r", final=True)
    frames = [e for e in scan_all(data, chunk=1) if isinstance(e, FrameEvent)]
    assert len(frames) == 1 and frames[0].checksum_ok


def test_many_frames_in_one_read_are_all_found_in_order():
    data = b"".join(encode_frame(i, b"P|%d\r" % i, final=True) for i in range(1, 9))
    frames = [e for e in scan_all(data) if isinstance(e, FrameEvent)]
    assert [f.number for f in frames] == [1, 2, 3, 4, 5, 6, 7, 0]


def test_control_characters_and_noise_between_frames_are_reported_separately():
    events = scan_all(b"\x05junk" + encode_frame(1, b"L|1\r", final=True) + b"\x04")
    assert isinstance(events[0], ControlEvent) and events[0].byte == 0x05
    assert isinstance(events[1], NoiseEvent) and events[1].data == b"junk"
    assert isinstance(events[2], FrameEvent)
    assert isinstance(events[3], ControlEvent) and events[3].byte == 0x04


def test_frame_without_number_or_checksum_is_still_found():
    events = scan_all(b"\x02H|\\^&\rL|1|N\r\x03\x04")
    frame = events[0]
    assert isinstance(frame, FrameEvent)
    assert frame.number is None and frame.checksum_ok is None
    assert frame.text == b"H|\\^&\rL|1|N\r"
    assert any(isinstance(e, ControlEvent) and e.byte == 0x04 for e in events)


def test_wrong_checksum_is_flagged():
    data = bytearray(encode_frame(1, b"L|1\r", final=True))
    data[-4] = ord("0") if data[-4] != ord("0") else ord("1")
    (frame, *_) = scan_all(bytes(data))
    assert isinstance(frame, FrameEvent) and frame.checksum_ok is False


def test_frame_cut_short_by_a_new_stx_is_reported_broken_and_the_next_frame_survives():
    good = encode_frame(1, b"L|1\r", final=True)
    events = scan_all(b"\x021H|partial" + good)
    assert isinstance(events[0], BrokenFrameEvent) and events[0].reason == "truncated"
    assert isinstance(events[1], FrameEvent) and events[1].checksum_ok


def test_frame_followed_by_lf_only_is_a_quirk_not_an_error():
    events = scan_all(encode_frame(1, b"L|1\r", final=True)[:-2] + b"\n")
    assert isinstance(events[0], FrameEvent) and events[0].checksum_ok
    assert isinstance(events[1], QuirkEvent) and events[1].kind == "missing_cr"


def test_runaway_frame_is_dropped_at_the_hard_limit():
    scanner = FrameScanner(hard_frame_limit=100)
    events = scanner.feed(b"\x021" + b"x" * 500)
    assert any(isinstance(e, BrokenFrameEvent) and e.reason == "overflow" for e in events)
