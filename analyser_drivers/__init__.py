"""ASTM analyser drivers for FIT analysers: serial transport, E1381 link layer, E1394 records, profiles.

Pure library: standard library + pyserial, no database, no globals; time comes from a clock the
caller passes. Typical wiring (listener)::

    transport = ReconnectingTransport(lambda: SerialTransport(url, SerialSettings(9600)), time.monotonic, time.sleep)
    driver = Driver(transport, sink, time.monotonic, OC_SENSOR.link, timestamp=time.time)
    driver.run(stop_event.is_set)

where `sink(received)` stores `received.message` (and `received.transcript`) and returns; the final
frame is acknowledged only after it returns. `measurements_from_message(OC_SENSOR, message)` turns a
message into `FitMeasurement` / `QcMeasurement` values.
"""

from analyser_drivers.clock import Clock, ManualClock
from analyser_drivers.driver import Driver, ReceivedMessage, Sink, TranscriptChunk
from analyser_drivers.emulate import TubeResult, result_records
from analyser_drivers.errors import (
    AnalyserDriverError,
    LinkError,
    ProfileError,
    RecordError,
    TransferAborted,
    TransportError,
    UnknownProfile,
)
from analyser_drivers.faults import NOISE, FaultyLine, LinkFaults, corrupt_checksum
from analyser_drivers.frames import FrameScanner, checksum, encode_frame, split_into_frames
from analyser_drivers.framing import frames_for_records
from analyser_drivers.interpret import measurements_from_message, parse_timestamp
from analyser_drivers.link_receiver import LinkReceiver, MessagesReady, Notice, ReceiverState, Send
from analyser_drivers.link_sender import LinkSender, SenderState, TransferDone, TransferFailed
from analyser_drivers.measurements import Comparator, FitMeasurement, Measurement, QcMeasurement, ResultProblem
from analyser_drivers.profiles import (
    HM_JACKARC,
    OC_SENSOR,
    PROFILES,
    FieldRef,
    InstrumentProfile,
    QcMaterial,
    get_profile,
)
from analyser_drivers.records import (
    DEFAULT_DELIMITERS,
    Delimiters,
    Message,
    Record,
    components,
    decode_message,
    decode_record,
    encode_message,
    encode_record,
    simple,
)
from analyser_drivers.replay import (
    Problem,
    ReplayResult,
    detokenise,
    looks_tokenised,
    measurement_to_json,
    replay,
)
from analyser_drivers.sender import Sender
from analyser_drivers.settings import E1381_MAX_FRAME, LIS1A_MAX_FRAME, LinkSettings, LinkTimers
from analyser_drivers.transport import ReconnectingTransport, SerialSettings, SerialTransport, Transport

__all__ = [
    "DEFAULT_DELIMITERS",
    "E1381_MAX_FRAME",
    "HM_JACKARC",
    "LIS1A_MAX_FRAME",
    "NOISE",
    "OC_SENSOR",
    "PROFILES",
    "AnalyserDriverError",
    "Clock",
    "Comparator",
    "Delimiters",
    "Driver",
    "FaultyLine",
    "FieldRef",
    "FitMeasurement",
    "FrameScanner",
    "InstrumentProfile",
    "LinkError",
    "LinkFaults",
    "LinkReceiver",
    "LinkSender",
    "LinkSettings",
    "LinkTimers",
    "ManualClock",
    "Measurement",
    "Message",
    "MessagesReady",
    "Notice",
    "Problem",
    "ProfileError",
    "QcMaterial",
    "QcMeasurement",
    "ReceivedMessage",
    "ReceiverState",
    "ReconnectingTransport",
    "Record",
    "RecordError",
    "ReplayResult",
    "ResultProblem",
    "Send",
    "Sender",
    "SenderState",
    "SerialSettings",
    "SerialTransport",
    "Sink",
    "TranscriptChunk",
    "TransferAborted",
    "TransferDone",
    "TransferFailed",
    "Transport",
    "TransportError",
    "TubeResult",
    "UnknownProfile",
    "checksum",
    "components",
    "corrupt_checksum",
    "decode_message",
    "decode_record",
    "detokenise",
    "encode_frame",
    "encode_message",
    "encode_record",
    "frames_for_records",
    "get_profile",
    "looks_tokenised",
    "measurement_to_json",
    "measurements_from_message",
    "parse_timestamp",
    "replay",
    "result_records",
    "simple",
    "split_into_frames",
]
