"""The sending link layer: ENQ bid, frames, retransmission, six-attempt abort, busy and contention timers."""

import pytest

from analyser_drivers import (
    LinkReceiver,
    LinkSender,
    LinkSettings,
    ManualClock,
    MessagesReady,
    Send,
    SenderState,
    TransferDone,
    TransferFailed,
    encode_frame,
)

ENQ, EOT, ACK, NAK = b"\x05", b"\x04", b"\x06", b"\x15"
FRAMES = [encode_frame(i + 1, t, final=True) for i, t in enumerate([b"H|\\^&\r", b"R|1|^^^FOB|10\r", b"L|1\r"])]


def sent(outputs):
    return b"".join(o.data for o in outputs if isinstance(o, Send))


@pytest.fixture
def clock():
    return ManualClock()


@pytest.fixture
def sender(clock):
    return LinkSender(LinkSettings(), clock)


def test_transfer_starts_with_enq_and_sends_frames_one_ack_at_a_time(sender):
    assert sent(sender.start(FRAMES)) == ENQ
    assert sent(sender.feed(ACK)) == FRAMES[0]
    assert sent(sender.feed(ACK)) == FRAMES[1]
    assert sent(sender.feed(ACK)) == FRAMES[2]
    outputs = sender.feed(ACK)
    assert sent(outputs) == EOT and any(isinstance(o, TransferDone) for o in outputs)


def test_nak_makes_the_same_frame_go_again(sender):
    sender.start(FRAMES)
    sender.feed(ACK)
    assert sent(sender.feed(NAK)) == FRAMES[0]


def test_any_character_other_than_ack_or_eot_counts_as_nak(sender):
    sender.start(FRAMES)
    sender.feed(ACK)
    assert sent(sender.feed(b"?")) == FRAMES[0]


def test_six_refusals_of_one_frame_abort_the_transfer_with_eot(sender):
    sender.start(FRAMES)
    sender.feed(ACK)
    for _ in range(5):
        assert sent(sender.feed(NAK)) == FRAMES[0]
    outputs = sender.feed(NAK)
    assert sent(outputs) == EOT
    (failure,) = [o for o in outputs if isinstance(o, TransferFailed)]
    assert failure.reason == "rejected" and sender.state is SenderState.FAILED


def test_a_frame_unanswered_for_fifteen_seconds_ends_the_transfer_with_eot(sender, clock):
    sender.start(FRAMES)
    sender.feed(ACK)
    clock.advance(14.9)
    assert sent(sender.poll()) == b""
    clock.advance(0.2)
    outputs = sender.poll()
    assert sent(outputs) == EOT  # E1381 6.5.2.3: termination phase, not a retransmission
    (failure,) = [o for o in outputs if isinstance(o, TransferFailed)]
    assert failure.reason == "timeout" and "frame 1" in failure.detail and sender.state is SenderState.FAILED


def test_busy_receiver_is_asked_again_after_ten_seconds(sender, clock):
    sender.start(FRAMES)
    assert sent(sender.feed(NAK)) == b""
    clock.advance(9.9)
    assert sent(sender.poll()) == b""
    clock.advance(0.2)
    assert sent(sender.poll()) == ENQ


def test_unanswered_enq_ends_the_bid_with_eot_and_bids_again(sender, clock):
    sender.start(FRAMES)
    clock.advance(15.1)
    assert sent(sender.poll()) == EOT
    assert sent(sender.poll()) == ENQ


def test_instrument_wins_contention_and_bids_again_after_one_second(sender, clock):
    sender.start(FRAMES)
    assert sent(sender.feed(ENQ)) == b""
    clock.advance(1.0)
    assert sent(sender.poll()) == ENQ


def test_computer_yields_on_contention(clock):
    computer = LinkSender(LinkSettings(), clock, role="computer")
    computer.start(FRAMES)
    outputs = computer.feed(ENQ)
    (failure,) = [o for o in outputs if isinstance(o, TransferFailed)]
    assert (failure.reason, failure.retry_after_s) == ("contention", 20.0)


def test_receiver_interrupt_counts_as_ack_and_is_remembered(sender):
    sender.start(FRAMES)
    sender.feed(ACK)
    assert sent(sender.feed(EOT)) == FRAMES[1]
    assert sender.interrupt_requested


def test_bid_is_abandoned_after_repeated_busy_replies(clock):
    sender = LinkSender(LinkSettings(), clock, max_enq_attempts=2)
    sender.start(FRAMES)
    sender.feed(NAK)
    clock.advance(10)
    sender.poll()
    sender.feed(NAK)
    clock.advance(10)
    outputs = sender.poll()
    assert [o.reason for o in outputs if isinstance(o, TransferFailed)] == ["timeout"]


def transfer(sender, receiver, clock, delivered, line=lambda frame, reply: reply):
    """One transfer between the two state machines; ``line(frame, reply)`` gives what reaches the sender as the
    reply to ``frame`` (None: nothing, the sender's reply timer runs out)."""
    to_receiver = sent(sender.start(FRAMES))
    while not sender.finished:
        outputs = receiver.feed(to_receiver)
        for batch in [o for o in outputs if isinstance(o, MessagesReady)]:
            delivered.extend(batch.messages)
            outputs += receiver.commit()
        reply = line(to_receiver, sent(outputs))
        if reply is None:
            clock.advance(15.1)
        to_receiver = sent(sender.feed(reply)) if reply else sent(sender.poll())
    receiver.feed(to_receiver)
    return sender.state


def test_sender_and_receiver_state_machines_complete_a_transfer_with_a_garbled_ack(clock):
    garbled = []

    def noisy(frame, reply):  # line noise turns the ACK of frame 2 into another byte: a NAK to the sender (6.5.1.2)
        if reply == ACK and frame == FRAMES[1] and not garbled:
            garbled.append(frame)
            return bytes([ACK[0] ^ 0x80])
        return reply

    delivered = []
    state = transfer(LinkSender(LinkSettings(), clock), LinkReceiver(LinkSettings(), clock), clock, delivered,
                     noisy)
    assert garbled and state is SenderState.DONE
    assert len(delivered) == 1 and [r.type for r in delivered[0].records] == ["H", "R", "L"]


def test_a_lost_ack_ends_the_transfer_and_the_resent_message_arrives_once_and_whole(clock):
    sender, receiver = LinkSender(LinkSettings(), clock), LinkReceiver(LinkSettings(), clock)
    delivered = []
    lost = []

    def losing_once(frame, reply):  # the ACK of frame 2 never arrives, once
        if frame == FRAMES[1] and not lost:
            lost.append(reply)
            return None
        return reply

    losing = transfer(sender, receiver, clock, delivered, losing_once)
    assert losing is SenderState.FAILED  # EOT mid-message: the receiver discards it
    assert delivered == []
    assert transfer(sender, receiver, clock, delivered) is SenderState.DONE  # the analyser sends the message again
    assert len(delivered) == 1 and [r.type for r in delivered[0].records] == ["H", "R", "L"]
