"""From records to frames for sending: one record per frame run, frame numbers continuing 1..7,0,1…"""

from __future__ import annotations

from collections.abc import Sequence

from analyser_drivers.frames import encode_frame, split_into_frames
from analyser_drivers.records import DEFAULT_DELIMITERS, Delimiters, Record, encode_message
from analyser_drivers.settings import E1381_MAX_FRAME


def frames_for_records(
    records: Sequence[Record],
    delimiters: Delimiters = DEFAULT_DELIMITERS,
    *,
    max_frame_size: int = E1381_MAX_FRAME,
    whole_message_in_one_frame: bool = False,
) -> list[bytes]:
    """The frames of one message, ready for `LinkSender.start`.

    Compliant form (E1381 6.3.1.1): every record starts a new frame; a long record is split into ETB
    frames. `whole_message_in_one_frame=True` reproduces instruments that send H…L in one frame.
    """
    texts = encode_message(records, delimiters)
    if whole_message_in_one_frame:
        return [encode_frame(1, b"".join(texts), final=True)]
    frames: list[bytes] = []
    for text in texts:
        frames.extend(split_into_frames(text, len(frames) + 1, max_frame_size))
    return frames
