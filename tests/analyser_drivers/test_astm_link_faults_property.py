"""Hypothesis: with up to five faults per message (lost, corrupted or shortened transmissions in either
direction) sender and receiver state machines lose nothing and never deliver a partial message.

A message is delivered twice only in the case the protocol cannot rule out: the receiver committed the
final frame, every confirmation of it was lost, and the analyser gave up and sent the whole message
again. The sink's idempotency (same instrument, specimen, measurement time) absorbs that repeat.
"""

from hypothesis import given, settings
from hypothesis import strategies as st

from analyser_drivers import (
    LinkReceiver,
    LinkSender,
    LinkSettings,
    ManualClock,
    MessagesReady,
    Record,
    Send,
    frames_for_records,
)

LOSE, FLIP, SHORTEN = 1, 2, 3


def sent(outputs) -> bytes:
    return b"".join(o.data for o in outputs if isinstance(o, Send))


class Line:
    """Applies the drawn fault to the n-th transmission (either direction)."""

    def __init__(self, faults: dict[int, tuple[int, int]]) -> None:
        self.faults = faults
        self.count = 0

    def carry(self, data: bytes) -> bytes:
        if not data:
            return data
        kind, where = self.faults.get(self.count, (0, 0))
        self.count += 1
        position = where % len(data)
        if kind == LOSE:
            return b""
        if kind == FLIP:
            return data[:position] + bytes([data[position] ^ 0x5A]) + data[position + 1 :]
        if kind == SHORTEN:
            return data[:position] + data[position + 1 :]
        return data


def message(specimen_id: str) -> list[Record]:
    return [
        Record.of("H", "\\^&"),
        Record.of("O", "1", specimen_id),
        Record.of("R", "1", "x" * 40),
        Record.of("L", "1"),
    ]


FAULTS = st.dictionaries(
    st.integers(min_value=0, max_value=30),
    st.tuples(st.sampled_from([LOSE, FLIP, SHORTEN]), st.integers(min_value=0, max_value=200)),
    max_size=5,
)


def collapse_repeats(items: list[str]) -> list[str]:
    return [item for i, item in enumerate(items) if i == 0 or items[i - 1] != item]


@settings(max_examples=200, deadline=None)
@given(st.lists(FAULTS, min_size=3, max_size=3), st.sampled_from([20, 64, 247]))
def test_every_message_arrives_whole_and_in_order_despite_faults(faults_per_message, frame_size):
    clock = ManualClock()
    link = LinkSettings()
    receiver = LinkReceiver(link, clock)
    delivered: list[str] = []
    aborted_after_delivery = 0
    wanted = ["K1", "K2", "K3"]
    for specimen_id, faults in zip(wanted, faults_per_message, strict=True):
        line = Line(faults)
        for _attempt in range(7):  # the analyser resends an aborted message; five faults abort five times at most
            delivered_before = len(delivered)
            sender = LinkSender(link, clock)
            frames = frames_for_records(message(specimen_id), max_frame_size=frame_size)
            to_receiver = sent(sender.start(frames))
            while not sender.finished:
                outputs = receiver.feed(line.carry(to_receiver))
                while True:
                    ready = [o for o in outputs if isinstance(o, MessagesReady)]
                    if not ready:
                        break
                    for m in ready[0].messages:
                        assert m.complete and m.records[2].value(3) == "x" * 40
                        delivered.append(m.records[1].value(3))
                    outputs = [o for o in outputs if not isinstance(o, MessagesReady)] + receiver.commit()
                reply = line.carry(sent(outputs))
                produced = sender.feed(reply) if reply else []
                if not sent(produced) and not sender.finished:
                    clock.advance(16)
                    receiver.poll()
                    produced += sender.poll()
                to_receiver = sent(produced)
            receiver.feed(line.carry(to_receiver))
            if sender.state.value == "done":
                break
            aborted_after_delivery += len(delivered) > delivered_before
            clock.advance(16)
            receiver.poll()
        assert sender.state.value == "done"
    assert collapse_repeats(delivered) == wanted
    assert len(delivered) - len(wanted) <= aborted_after_delivery
