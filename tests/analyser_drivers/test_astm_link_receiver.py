"""The receiving link layer (E1381 / LIS1-A) as a state machine, driven byte by byte with a manual clock."""

import pytest

from analyser_drivers import (
    LinkReceiver,
    LinkSettings,
    ManualClock,
    MessagesReady,
    Notice,
    ReceiverState,
    Send,
    encode_frame,
)

ENQ, EOT, ACK, NAK = b"\x05", b"\x04", b"\x06", b"\x15"
RECORDS = [b"H|\\^&|||OC-Sensor\r", b"P|1\r", b"O|1|K123\r", b"R|1|^^^FOB|120|ng/mL\r", b"L|1|N\r"]


def frames(records=RECORDS, first=1):
    return [encode_frame(first + i, text, final=True) for i, text in enumerate(records)]


def sent(outputs):
    return b"".join(o.data for o in outputs if isinstance(o, Send))


def ready(outputs):
    return [o for o in outputs if isinstance(o, MessagesReady)]


def notices(outputs):
    return [o.kind for o in outputs if isinstance(o, Notice)]


@pytest.fixture
def clock():
    return ManualClock()


@pytest.fixture
def receiver(clock):
    return LinkReceiver(LinkSettings(), clock)


def deliver_all(receiver, data):
    """Feed data, committing every message; returns (replies, messages)."""
    replies, messages = b"", []
    outputs = receiver.feed(data)
    while True:
        replies += sent(outputs)
        batch = ready(outputs)
        if not batch:
            return replies, messages
        messages.extend(batch[0].messages)
        outputs = receiver.commit()


def test_enq_is_answered_with_ack(receiver):
    assert sent(receiver.feed(ENQ)) == ACK
    assert receiver.state is ReceiverState.RECEIVING


def test_busy_receiver_answers_enq_with_nak(receiver):
    receiver.busy = True
    assert sent(receiver.feed(ENQ)) == NAK
    assert receiver.state is ReceiverState.IDLE


def test_each_intermediate_frame_is_acked_and_the_final_waits_for_the_sink(receiver):
    receiver.feed(ENQ)
    for frame in frames()[:-1]:
        assert sent(receiver.feed(frame)) == ACK
    outputs = receiver.feed(frames()[-1])
    assert sent(outputs) == b""
    (batch,) = ready(outputs)
    assert [r.type for r in batch.messages[0].records] == ["H", "P", "O", "R", "L"]
    assert receiver.state is ReceiverState.AWAITING_COMMIT
    assert sent(receiver.commit()) == ACK


def test_sink_failure_naks_the_final_frame_and_its_resend_is_delivered_again(receiver):
    receiver.feed(ENQ + b"".join(frames()[:-1]))
    assert ready(receiver.feed(frames()[-1]))
    assert sent(receiver.reject()) == NAK
    outputs = receiver.feed(frames()[-1])
    assert len(ready(outputs)) == 1


def test_bytes_arriving_before_the_commit_are_processed_after_it(receiver):
    outputs = receiver.feed(ENQ + b"".join(frames()) + EOT + ENQ)
    assert len(ready(outputs)) == 1
    assert sent(receiver.commit()) == ACK + ACK  # final frame, then the next session's ENQ
    assert receiver.state is ReceiverState.RECEIVING


def test_same_number_retransmission_is_acked_once_and_not_duplicated(receiver):
    receiver.feed(ENQ)
    first = frames()
    receiver.feed(first[0] + first[1])
    outputs = receiver.feed(first[1])  # our ACK was lost; the analyser resends frame 2
    assert sent(outputs) == ACK and "duplicate_frame" in notices(outputs)
    _, messages = deliver_all(receiver, b"".join(first[2:]))
    assert [r.type for r in messages[0].records] == ["H", "P", "O", "R", "L"]


def test_retransmitted_final_frame_after_commit_is_not_delivered_twice(receiver):
    _replies, messages = deliver_all(receiver, ENQ + b"".join(frames()))
    assert len(messages) == 1
    outputs = receiver.feed(frames()[-1])
    assert sent(outputs) == ACK and not ready(outputs)


def test_frame_out_of_sequence_is_refused(receiver):
    receiver.feed(ENQ)
    outputs = receiver.feed(encode_frame(3, b"P|1\r", final=True))
    assert sent(outputs) == NAK and "frame_out_of_sequence" in notices(outputs)


def test_bad_checksum_is_refused_and_the_good_resend_accepted(receiver):
    receiver.feed(ENQ)
    good = frames()[0]
    bad = good[:-4] + (b"00" if good[-4:-2] != b"00" else b"11") + b"\r\n"
    assert sent(receiver.feed(bad)) == NAK
    assert sent(receiver.feed(good)) == ACK


def test_frame_numbers_wrap_from_seven_to_zero(receiver):
    records = [b"H|\\^&\r"] + [b"R|%d|^^^FOB|1\r" % i for i in range(1, 10)] + [b"L|1\r"]
    all_frames = frames(records)
    assert [f[1:2] for f in all_frames][6:9] == [b"7", b"0", b"1"]
    _, messages = deliver_all(receiver, ENQ + b"".join(all_frames))
    assert len(messages[0].records) == 11


@pytest.mark.parametrize("split_at", range(1, 30))
def test_record_split_over_etb_frames_at_any_position_is_reassembled(receiver, split_at):
    record = b"R|1|^^^FOB|120|ng/mL||N||F\r"
    head, tail = record[:split_at], record[split_at:]
    data = ENQ + encode_frame(1, b"H|\\^&\r", final=True) + encode_frame(2, head, final=not tail)
    number = 3
    if tail:
        data += encode_frame(3, tail, final=True)
        number = 4
    data += encode_frame(number, b"L|1\r", final=True)
    _, messages = deliver_all(receiver, data)
    assert messages[0].records[1].value(4) == "120"


def test_incomplete_message_is_discarded_when_eot_comes_before_l(receiver):
    _replies, messages = deliver_all(receiver, ENQ + b"".join(frames()[:-1]))
    outputs = receiver.feed(EOT)
    assert not messages and "incomplete_message_discarded" in notices(outputs)
    assert receiver.state is ReceiverState.IDLE


def test_empty_session_is_harmless(receiver):
    assert deliver_all(receiver, ENQ + EOT) == (ACK, [])
    assert receiver.state is ReceiverState.IDLE


def test_noise_between_messages_is_ignored(receiver):
    replies, messages = deliver_all(receiver, b"\x00\xffgarbage\r\n" + ENQ + b"".join(frames()) + EOT + b"zz")
    assert len(messages) == 1 and replies == ACK * 6


def test_receiver_gives_up_after_thirty_seconds_of_silence(receiver, clock):
    receiver.feed(ENQ + b"".join(frames()[:2]))
    clock.advance(29.9)
    assert receiver.poll() == []
    clock.advance(0.2)
    assert "receiver_timeout" in notices(receiver.poll())
    assert receiver.state is ReceiverState.IDLE and not receiver.has_partial_message


def test_frames_without_enq_are_ignored(receiver):
    outputs = receiver.feed(b"".join(frames()))
    assert sent(outputs) == b"" and not ready(outputs)


def test_frame_over_the_configured_limit_is_refused(clock):
    receiver = LinkReceiver(LinkSettings(max_frame_size=247), clock)
    receiver.feed(ENQ)
    assert sent(receiver.feed(encode_frame(1, b"H|\\^&|" + b"x" * 300 + b"\r", final=True))) == NAK


def test_whole_message_in_one_frame_is_accepted_when_the_profile_allows_it(clock):
    receiver = LinkReceiver(LinkSettings(max_frame_size=247, accept_oversize_frames=True), clock)
    big = b"".join(RECORDS) + b"C|1|I|" + b"x" * 300 + b"\r"
    big = big.replace(b"L|1|N\r", b"") + b"L|1|N\r"
    _, messages = deliver_all(receiver, ENQ + encode_frame(1, big, final=True))
    assert [r.type for r in messages[0].records] == ["H", "P", "O", "R", "C", "L"]


def test_instrument_without_frame_numbers_or_checksums_is_understood_when_tolerated(clock):
    receiver = LinkReceiver(LinkSettings(frame_numbers=False, checksums=False), clock)
    replies, messages = deliver_all(receiver, ENQ + b"\x02" + b"".join(RECORDS) + b"\x03" + EOT)
    assert len(messages) == 1 and replies == ACK + ACK


def test_strict_receiver_refuses_frames_without_numbers_or_checksums(receiver):
    receiver.feed(ENQ)
    assert sent(receiver.feed(b"\x02" + b"".join(RECORDS) + b"\x03\r\n")) == NAK


def test_two_messages_in_one_session_are_delivered_separately(receiver):
    second = [b"H|\\^&\r", b"P|1\r", b"O|1|K999\r", b"R|1|^^^FOB|5\r", b"L|1|N\r"]
    _, messages = deliver_all(receiver, ENQ + b"".join(frames() + frames(second, first=6)))
    assert [m.records[2].value(3) for m in messages] == ["K123", "K999"]


def test_line_loss_discards_the_partial_message(receiver):
    receiver.feed(ENQ + b"".join(frames()[:3]))
    assert "incomplete_message_discarded" in notices(receiver.disconnect())
    _, messages = deliver_all(receiver, ENQ + b"".join(frames()))
    assert len(messages) == 1 and len(messages[0].records) == 5
