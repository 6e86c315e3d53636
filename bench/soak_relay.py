"""A faulty serial line for the link soak: a process relaying bytes between two real pseudo-terminal pairs.

    python bench/soak_relay.py --seed 1 --fault-rate 0.3 --reply-timeout-s 0.5

It opens two pty pairs and prints one JSON line with their slave paths: `analyser` (give it to
`fit-lab analyser simulate --port`) and `host` (give it to `fit-lab analyser listen --port`). It then copies bytes
both ways and, with the seeded random generator, damages the line as real cables and instruments do:

- corrupt_byte: one byte of a frame (STX through checksum) changed to another printable character;
- drop_byte: one byte of a frame lost;
- duplicate_frame: a frame reaches the host twice, as when the analyser resends after a lost ACK (the host's
  answer to the second copy is the lost ACK's place in the conversation, so it is not passed on);
- delay_past_reply_timer: the line holds a frame, or the host's reply, for longer than the analyser's reply
  timer, then delivers it (a late ACK: E1381 6.5.2.3, hazard H67);
- cut_line: the line goes dead both ways for longer than the reply timer, starting part-way through a frame;
- garble_reply: the host's ACK or NAK arrives as another character (the analyser must read it as NAK);
- noise_between_messages: bytes with no meaning to the protocol after an EOT.

`--fault-rate` is the chance that a frame (and, separately, a reply) gets a fault. On SIGTERM it prints one JSON
line with the faults injected, by kind, and exits. The host side may go away at any time (the listener is killed
and restarted): bytes for it are then dropped, as on a line with nobody listening.
"""

from __future__ import annotations

import argparse
import errno
import fcntl
import json
import os
import random
import select
import signal
import time
import tty
from collections import Counter, deque
from dataclasses import dataclass, field

from analyser_drivers import NOISE
from analyser_drivers.control import ACK, EOT, LF, NAK, STX

FAULT_KINDS = ("corrupt_byte", "drop_byte", "duplicate_frame", "delay_past_reply_timer", "cut_line", "garble_reply",
               "noise_between_messages")
# Of a frame's faults, how often each kind (delays and cuts cost a reply timer each, so they are rarer).
FRAME_FAULT_WEIGHTS = {"corrupt_byte": 32, "drop_byte": 30, "duplicate_frame": 30, "delay_past_reply_timer": 4,
                       "cut_line": 4}
REPLY_FAULT_WEIGHTS = {"garble_reply": 95, "delay_past_reply_timer": 5}
GARBLE = b"?!xZ#0"  # printable: neither ACK nor EOT, so the analyser counts it as NAK (E1381 6.5.1.2)


def _pty() -> tuple[int, str]:
    master, slave = os.openpty()
    tty.setraw(slave)  # no echo, no line editing: the line carries bytes, not text
    path = os.ttyname(slave)
    os.close(slave)
    flags = fcntl.fcntl(master, fcntl.F_GETFL)
    fcntl.fcntl(master, fcntl.F_SETFL, flags | os.O_NONBLOCK)
    return master, path


@dataclass
class Direction:
    """Bytes waiting to go one way, each chunk with the time it may leave."""

    fd: int
    queue: deque[tuple[float, bytes]] = field(default_factory=deque)
    down_until: float = 0.0

    def put(self, data: bytes, at: float) -> None:
        if data:
            leave = max(at, self.queue[-1][0]) if self.queue else at
            self.queue.append((leave, data))

    def flush(self, now: float) -> None:
        while self.queue and self.queue[0][0] <= now:
            leave, data = self.queue[0]
            try:
                written = os.write(self.fd, data)
            except OSError as exc:
                if exc.errno not in (errno.EAGAIN, errno.EIO):
                    raise
                self.queue.clear()  # nobody on the other end, or it stopped reading: the bytes are lost
                return
            if written < len(data):
                self.queue[0] = (leave, data[written:])
                return
            self.queue.popleft()


class Relay:
    def __init__(self, seed: int, fault_rate: float, reply_timeout_s: float) -> None:
        self.rng = random.Random(seed)
        self.fault_rate = fault_rate
        self.hold_s = reply_timeout_s * 1.6
        self.faults: Counter[str] = Counter()
        self.analyser_fd, self.analyser_path = _pty()
        self.host_fd, self.host_path = _pty()
        self.to_host = Direction(self.host_fd)
        self.to_analyser = Direction(self.analyser_fd)
        self.frame: bytearray | None = None
        self.cut_until = 0.0
        self.swallow_reply_in = 0  # after a duplicated frame: the 2nd reply from now is the duplicate's
        self.swallow_expires = 0.0

    def _pick(self, weights: dict[str, int]) -> str:
        return self.rng.choices(list(weights), weights=list(weights.values()))[0]

    def from_analyser(self, data: bytes, now: float) -> None:
        out = bytearray()
        for byte in data:
            if self.frame is not None:
                self.frame.append(byte)
                if byte == LF or len(self.frame) > 70_000:
                    self._send(self.to_host, bytes(out), now)
                    out.clear()
                    self._frame_done(bytes(self.frame), now)
                    self.frame = None
            elif byte == STX:
                self.frame = bytearray([byte])
            else:
                out.append(byte)
                if byte == EOT and now >= self.cut_until and self.rng.random() < self.fault_rate / 3:
                    self.faults["noise_between_messages"] += 1
                    out += NOISE
        self._send(self.to_host, bytes(out), now)

    def _frame_done(self, frame: bytes, now: float) -> None:
        if now < self.cut_until:
            return
        if self.rng.random() >= self.fault_rate or frame[-1] != LF:
            self.to_host.put(frame, now)
            return
        kind = self._pick(FRAME_FAULT_WEIGHTS)
        self.faults[kind] += 1
        body_end = max(2, len(frame) - 2)  # STX .. checksum; the CR LF after it is not checked by anyone
        position = self.rng.randrange(1, body_end)
        if kind == "corrupt_byte":
            choices = [c for c in range(0x20, 0x7F) if c != frame[position]]
            self.to_host.put(frame[:position] + bytes([self.rng.choice(choices)]) + frame[position + 1 :], now)
        elif kind == "drop_byte":
            self.to_host.put(frame[:position] + frame[position + 1 :], now)
        elif kind == "duplicate_frame":
            self.swallow_reply_in, self.swallow_expires = 2, now + 4 * self.hold_s
            self.to_host.put(frame + frame, now)
        elif kind == "delay_past_reply_timer":
            self.to_host.put(frame, now + self.hold_s)
        else:  # cut_line
            self.to_host.put(frame[:position], now)
            self.cut_until = now + self.hold_s
            self.to_analyser.queue.clear()

    def from_host(self, data: bytes, now: float) -> None:
        out = bytearray()
        for byte in data:
            if byte in (ACK, NAK, EOT) and self.swallow_reply_in:
                self.swallow_reply_in -= 1
                if now > self.swallow_expires:
                    self.swallow_reply_in = 0
                elif self.swallow_reply_in == 0:
                    continue
            if byte in (ACK, NAK) and now >= self.cut_until and self.rng.random() < self.fault_rate:
                kind = self._pick(REPLY_FAULT_WEIGHTS)
                self.faults[kind] += 1
                if kind == "garble_reply":
                    out.append(self.rng.choice(GARBLE))
                    continue
                self._send(self.to_analyser, bytes(out), now)
                out.clear()
                self.to_analyser.put(bytes([byte]), now + self.hold_s)
                continue
            out.append(byte)
        self._send(self.to_analyser, bytes(out), now)

    def _send(self, direction: Direction, data: bytes, now: float) -> None:
        if data and now >= self.cut_until:
            direction.put(data, now)

    def run(self, stop: list[bool]) -> None:
        sources = {self.analyser_fd: self.from_analyser, self.host_fd: self.from_host}
        down_until = {self.analyser_fd: 0.0, self.host_fd: 0.0}
        while not stop:
            now = time.monotonic()
            watch = [fd for fd in sources if down_until[fd] <= now]
            ready, _, _ = select.select(watch, [], [], 0.005)
            now = time.monotonic()
            for fd in ready:
                try:
                    data = os.read(fd, 65536)
                except OSError as exc:
                    if exc.errno not in (errno.EIO, errno.EAGAIN):
                        raise
                    down_until[fd] = now + 0.02  # nobody has the slave open (the listener is restarting)
                    continue
                sources[fd](data, now)
            self.to_host.flush(now)
            self.to_analyser.flush(now)
            # A frame whose end never came (the sender gave up part-way, or a cut): pass what there is.
            if self.frame is not None and not ready:
                self._send(self.to_host, bytes(self.frame), now)
                self.frame = None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--fault-rate", type=float, default=0.3)
    parser.add_argument("--reply-timeout-s", type=float, required=True, help="the analyser's reply timer")
    args = parser.parse_args()
    relay = Relay(args.seed, args.fault_rate, args.reply_timeout_s)
    stop: list[bool] = []
    signal.signal(signal.SIGTERM, lambda *_: stop.append(True))
    print(json.dumps({"analyser": relay.analyser_path, "host": relay.host_path}), flush=True)
    relay.run(stop)
    print(json.dumps({kind: relay.faults[kind] for kind in FAULT_KINDS}), flush=True)


if __name__ == "__main__":
    main()
