"""Driver and Sender over real serial lines (pty pairs, loop://), with faults injected on the line.

Every fault test checks the same promise: each message is stored exactly once, and a message whose
final frame was not acknowledged is never stored as complete.
"""

from __future__ import annotations

import socket
import threading
import time
from dataclasses import replace

import pytest

from analyser_drivers import (
    LinkSettings,
    ReconnectingTransport,
    Record,
    Sender,
    SerialTransport,
    TransferAborted,
    TransportError,
    components,
    encode_frame,
    frames_for_records,
)


def tube_message(specimen_id: str, value: str = "120") -> list[Record]:
    return [
        Record.of("H", "\\^&", "", "", components("OC-Sensor", "", "SN1")),
        Record.of("P", "1"),
        Record.of("O", "1", specimen_id),
        Record.of("R", "1", components("", "", "", "FOB"), value, "ng/mL", "", "", "", "F"),
        Record.of("L", "1", "N"),
    ]


def wait_until(condition, timeout_s: float = 5.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition() and time.monotonic() < deadline:
        time.sleep(0.002)
    assert condition()


def specimen_ids(running) -> list[str]:
    return [r.message.records[2].value(3) for r in running.stored]


class FaultyLine:
    """The analyser's line with faults: the n-th write corrupted / shortened / preceded by noise,
    the n-th ACK from the host swallowed or garbled into another byte. Counts are 0-based over the whole test."""

    def __init__(self, line, *, corrupt=(), drop_byte_at=None, noise_before=(), swallow_acks=(), garble_acks=()):
        self.line = line
        self.corrupt = set(corrupt)
        self.drop_byte_at = drop_byte_at or {}
        self.noise_before = set(noise_before)
        self.swallow_acks = set(swallow_acks)
        self.garble_acks = set(garble_acks)
        self.writes = 0
        self.acks = 0

    def write(self, data: bytes) -> None:
        n = self.writes
        self.writes += 1
        if n in self.noise_before:
            self.line.write(b"\x00\xff noise \r\n")
        if n in self.corrupt and len(data) > 4:
            data = data[:3] + bytes([data[3] ^ 0x01]) + data[4:]
        if n in self.drop_byte_at:
            position = self.drop_byte_at[n] % len(data)
            data = data[:position] + data[position + 1 :]
        self.line.write(data)

    def read(self, max_bytes: int) -> bytes:
        data = self.line.read(max_bytes)
        out = bytearray()
        for byte in data:
            if byte == 0x06:
                n = self.acks
                self.acks += 1
                if n in self.swallow_acks:
                    continue
                if n in self.garble_acks:
                    byte ^= 0x80
            out.append(byte)
        return bytes(out)

    def close(self) -> None:
        self.line.close()


@pytest.fixture
def pty_link(make_pty, start_driver, fast_link):
    """A driver listening on a pty slave, and the analyser's end of the pair."""
    pair = make_pty()
    running = start_driver(pair.open_host(), settings=fast_link)
    return running, pair.analyser


def send(line, fast_link, specimen_ids_to_send, **sender_options):
    sender = Sender(line, time.monotonic, fast_link, **sender_options)
    for specimen_id in specimen_ids_to_send:
        sender.send_message(tube_message(specimen_id))


def send_as_an_analyser(line, fast_link, specimen_ids_to_send):
    """Like an analyser: a message whose frame went unanswered (E1381 6.5.2.3) is remembered and sent again."""
    sender = Sender(line, time.monotonic, fast_link)
    for specimen_id in specimen_ids_to_send:
        sender.deliver(tube_message(specimen_id), attempts=3)


def test_loop_url_carries_bytes_written_back_to_the_reader():
    line = SerialTransport("loop://")
    line.write(b"\x05hello")
    assert line.read(100) == b"\x05hello"
    line.close()


def test_driver_on_loop_url_delivers_a_message_written_into_the_loop(start_driver, fast_link):
    line = SerialTransport("loop://")
    running = start_driver(line, settings=fast_link)
    line.write(b"\x05" + b"".join(frames_for_records(tube_message("K1"))) + b"\x04")
    running.wait_for(1)
    assert specimen_ids(running) == ["K1"]


def test_unopenable_port_is_reported_in_the_lab_s_words():
    with pytest.raises(TransportError, match="cannot open analyser port"):
        SerialTransport("/dev/no-such-analyser")


def test_a_port_whose_other_end_went_away_is_a_lost_line_not_a_crash(make_pty):
    # pyserial lets termios.error (not an OSError) escape from flush() when the far end vanished between the write
    # and the drain; uncaught, it ended `fit-lab analyser listen` when an adapter was pulled as an ACK went out.
    pair = make_pty()
    host = pair.open_host()
    pair.analyser.close()
    with pytest.raises(TransportError, match="cannot write"):
        host.write(b"")  # nothing to write, so only the drain meets the hung-up line
    with pytest.raises(TransportError):
        host.read(16)
    host.close()


def test_a_run_of_messages_over_a_pty_arrives_once_each(pty_link, fast_link):
    running, analyser = pty_link
    wanted = [f"K{i:04d}" for i in range(30)]
    send(analyser, fast_link, wanted)
    running.wait_for(30)
    assert specimen_ids(running) == wanted


def test_transcript_holds_the_analyser_bytes_and_our_replies(pty_link, fast_link):
    running, analyser = pty_link
    send(analyser, fast_link, ["K1"])
    running.wait_for(1)
    transcript = running.stored[0].transcript
    incoming = b"".join(c.data for c in transcript if c.direction == "in")
    outgoing = b"".join(c.data for c in transcript if c.direction == "out")
    assert incoming.startswith(b"\x05") and b"O|1|K1" in incoming
    assert outgoing == b"\x06" * 5  # ENQ and four frames; the final frame's ACK follows the sink


@pytest.mark.parametrize("corrupted_write", [1, 3, 5])
def test_corrupted_frame_is_refused_and_its_resend_stored_once(pty_link, fast_link, corrupted_write):
    running, analyser = pty_link
    send(FaultyLine(analyser, corrupt=[corrupted_write]), fast_link, ["K1", "K2"])
    running.wait_for(2)
    assert specimen_ids(running) == ["K1", "K2"]
    assert "frame_rejected" in [n.kind for n in running.notices]


@pytest.mark.parametrize("position", [0, 1, 6, -5, -4, -2, -1])
def test_dropped_byte_anywhere_in_a_frame_loses_nothing(pty_link, fast_link, position):
    running, analyser = pty_link
    # A lost STX or ETX leaves the host waiting for the frame's end: the analyser's reply timer ends the transfer.
    send_as_an_analyser(FaultyLine(analyser, drop_byte_at={3: position}), fast_link, ["K1", "K2"])
    running.wait_for(2)
    assert specimen_ids(running) == ["K1", "K2"]


def test_noise_on_the_line_between_and_before_frames_is_ignored(pty_link, fast_link):
    running, analyser = pty_link
    send(FaultyLine(analyser, noise_before=[0, 2, 6, 7]), fast_link, ["K1", "K2"])
    running.wait_for(2)
    assert specimen_ids(running) == ["K1", "K2"]


@pytest.mark.parametrize("frame_size", [12, 20, 33, 64])
def test_records_split_into_etb_frames_are_stored_whole(pty_link, fast_link, frame_size):
    running, analyser = pty_link
    send(analyser, fast_link, ["K1", "K2"], max_frame_size=frame_size)
    running.wait_for(2)
    assert specimen_ids(running) == ["K1", "K2"]
    assert running.stored[0].message.records[3].value(4) == "120"


@pytest.mark.parametrize("garbled_ack", [2, 5])
def test_a_garbled_ack_causes_a_same_number_resend_that_is_not_duplicated(pty_link, fast_link, garbled_ack):
    running, analyser = pty_link
    # ACK 2 answers frame 2; ACK 5 answers the final frame, after the sink stored the message. Any byte but
    # ACK or EOT is a NAK to the sender (E1381 6.5.1.2), so it sends the same frame again.
    send(FaultyLine(analyser, garble_acks=[garbled_ack]), fast_link, ["K1", "K2"])
    running.wait_for(2)
    time.sleep(0.05)
    assert specimen_ids(running) == ["K1", "K2"]
    assert "duplicate_frame" in [n.kind for n in running.notices]


def test_a_lost_ack_mid_message_ends_the_transfer_and_the_message_sent_again_arrives_once(pty_link, fast_link):
    running, analyser = pty_link
    with pytest.raises(TransferAborted) as aborted:  # ACK 2 answers frame 2 and never arrives
        send(FaultyLine(analyser, swallow_acks=[2]), fast_link, ["K1"])
    assert aborted.value.reason == "timeout"
    time.sleep(0.05)
    assert specimen_ids(running) == []  # EOT mid-message: the host discards the incomplete message
    send(analyser, fast_link, ["K1"])
    running.wait_for(1)
    assert specimen_ids(running) == ["K1"]


def test_a_lost_final_ack_leaves_the_message_stored_and_its_resend_is_delivered_for_the_sink_to_recognise(
    pty_link, fast_link
):
    running, analyser = pty_link
    with pytest.raises(TransferAborted) as aborted:  # ACK 5 answers the final frame, sent after the sink stored it
        send(FaultyLine(analyser, swallow_acks=[5]), fast_link, ["K1"])
    assert aborted.value.reason == "timeout"
    running.wait_for(1)
    time.sleep(fast_link.timers.reply_s)  # the analyser's pause before it tries again
    send(analyser, fast_link, ["K1"])
    running.wait_for(2)
    # The link cannot know the first copy was kept; fit-lab's sink recognises the copy (tests/test_results.py).
    assert specimen_ids(running) == ["K1", "K1"]


def test_failing_sink_leaves_the_final_frame_unacked_until_a_resend_succeeds(make_pty, start_driver, fast_link):
    pair = make_pty()
    stored, calls = [], []

    def flaky_sink(received):
        calls.append(received)
        if len(calls) == 1:
            raise RuntimeError("database unavailable")
        stored.append(received)

    running = start_driver(pair.open_host(), sink=flaky_sink, settings=fast_link)
    send(pair.analyser, fast_link, ["K1"])
    assert len(calls) == 2 and len(stored) == 1
    assert "sink_error" in [n.kind for n in running.notices]


def test_sink_that_keeps_failing_makes_the_analyser_give_up_and_nothing_is_stored(make_pty, start_driver, fast_link):
    pair = make_pty()
    calls = []

    def broken_sink(received):
        calls.append(received)
        raise RuntimeError("disk full")

    start_driver(pair.open_host(), sink=broken_sink, settings=fast_link)
    with pytest.raises(TransferAborted) as aborted:
        send(pair.analyser, fast_link, ["K1"])
    assert aborted.value.reason == "rejected"
    assert len(calls) == fast_link.max_attempts


def test_analyser_falling_silent_mid_message_is_timed_out_then_resent_whole(pty_link, fast_link):
    running, analyser = pty_link
    frames = frames_for_records(tube_message("K1"))
    analyser.write(b"\x05" + b"".join(frames[:3]))
    running.wait_for_notice("receiver_timeout")
    send(analyser, fast_link, ["K1"])
    running.wait_for(1)
    assert specimen_ids(running) == ["K1"]
    assert [r.type for r in running.stored[0].message.records] == ["H", "P", "O", "R", "L"]


def test_silent_host_makes_the_sender_abort_after_six_attempts(make_pty, fast_link):
    pair = make_pty()
    host = pair.open_host()  # nobody answers on the host side
    settings = LinkSettings(timers=replace(fast_link.timers, reply_s=0.3))  # nothing to wait for: no host at all
    sender = Sender(pair.analyser, time.monotonic, settings)
    started = time.monotonic()
    with pytest.raises(TransferAborted) as aborted:
        sender.send_frames([encode_frame(1, b"L|1\r", final=True)])
    assert aborted.value.reason == "timeout" and time.monotonic() - started < 5
    host.close()


def test_unplugging_mid_message_loses_the_partial_and_the_resend_after_reconnect_is_stored_once(
    make_pty, start_driver, fast_link
):
    first, second = make_pty(), make_pty()
    lines = iter([first, second])

    def open_next_line():
        try:
            return next(lines).open_host()
        except StopIteration:
            raise TransportError("no more ports") from None

    transport = ReconnectingTransport(open_next_line, time.monotonic, time.sleep, retry_interval_s=0.02)
    running = start_driver(transport, settings=fast_link)
    frames = frames_for_records(tube_message("K1"))
    wait_until(lambda: transport.connected)  # pyserial empties the input buffer when it opens the port
    first.analyser.write(b"\x05" + b"".join(frames[:3]))
    wait_until(lambda: running.driver.receiver.has_partial_message)
    first.analyser.close()  # the USB adapter is pulled out
    running.wait_for_notice("line_lost")
    assert "line_lost" in [n.kind for n in running.notices]
    # The analyser's first bid may land while the new port is still opening (pyserial empties its input then),
    # and a loaded machine can stall the listener past the short test timers: like a real analyser, resend a
    # message whose transfer was abandoned. Storage must still be exactly once each.
    sender = Sender(second.analyser, time.monotonic, fast_link)
    for specimen_id in ["K1", "K2"]:
        for attempt in range(1, 6):
            try:
                sender.send_message(tube_message(specimen_id))
                break
            except TransferAborted:
                assert attempt < 5, f"{specimen_id} never acknowledged; driver notices: {running.notices}"
    running.wait_for(2)
    assert specimen_ids(running) == ["K1", "K2"]
    assert transport.opens == 2
    assert "incomplete_message_discarded" in [n.kind for n in running.notices]


def test_driver_listens_through_a_serial_device_server_socket_url(start_driver, fast_link):
    server = socket.create_server(("127.0.0.1", 0))
    port = server.getsockname()[1]
    replies = bytearray()

    def serial_device_server() -> None:
        connection, _ = server.accept()
        with connection:
            connection.settimeout(2)
            time.sleep(0.2)  # pyserial's socket:// discards whatever arrives while it is opening
            connection.sendall(b"\x05" + b"".join(frames_for_records(tube_message("K7"))) + b"\x04")
            while len(replies) < 6:
                chunk = connection.recv(16)
                if not chunk:
                    break
                replies.extend(chunk)

    thread = threading.Thread(target=serial_device_server, daemon=True)
    thread.start()
    running = start_driver(SerialTransport(f"socket://127.0.0.1:{port}"), settings=fast_link)
    running.wait_for(1)
    thread.join(timeout=5)
    server.close()
    assert specimen_ids(running) == ["K7"]
    assert bytes(replies) == b"\x06" * 6


def read_until(host, wanted: bytes, within_s: float = 5.0) -> bytes:
    got = b""
    deadline = time.monotonic() + within_s
    while wanted not in got:
        assert time.monotonic() < deadline, f"waited for {wanted!r}, got {got!r}"
        got += host.read(64)
    return got


def test_a_late_ack_left_in_the_line_is_not_taken_as_the_answer_to_the_next_enq(make_pty, fast_link):
    pair = make_pty()
    host = pair.open_host()  # a host answered by hand, byte by byte
    sender = Sender(pair.analyser, time.monotonic, fast_link)
    frame = encode_frame(1, b"L|1\r", final=True)
    aborted: list[TransferAborted] = []

    def first_try() -> None:
        try:
            sender.send_frames([frame])
        except TransferAborted as exc:
            aborted.append(exc)

    attempt = threading.Thread(target=first_try)
    attempt.start()
    read_until(host, b"\x05")
    host.write(b"\x06")
    read_until(host, frame)  # …and no reply until the analyser's reply timer has run out and it sent EOT
    read_until(host, b"\x04", within_s=fast_link.timers.reply_s + 5)
    attempt.join()
    assert [a.reason for a in aborted] == ["timeout"]
    host.write(b"\x06")  # the host's answer to the frame, late
    time.sleep(0.1)
    second = threading.Thread(target=sender.send_frames, args=([frame],))
    second.start()
    read_until(host, b"\x05")
    time.sleep(0.3)
    assert host.read(64) == b"", "the analyser sent its frame before the host answered its ENQ"
    host.write(b"\x06")
    read_until(host, frame)
    host.write(b"\x06")
    read_until(host, b"\x04")
    second.join(timeout=5)
    assert not second.is_alive()
    host.close()
