"""The analyser link as fit-lab runs it: a listener whose sink is ``results.store_message``, and an emulator."""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime, timedelta
from decimal import Decimal

from sqlalchemy.engine import Engine

from analyser_drivers import (
    Driver,
    FaultyLine,
    InstrumentProfile,
    LinkFaults,
    ReceivedMessage,
    ReconnectingTransport,
    Sender,
    SerialSettings,
    SerialTransport,
    Transport,
    TubeResult,
    result_records,
)
from fit_lab.logs import get_logger
from fit_lab.qc.targets import load_targets
from fit_lab.qc.westgard import QcTarget
from fit_lab.services.results import StoredMessage, store_message
from fit_lab.settings import Settings

log = get_logger("fit_lab.analyser")


def listen(
    engine: Engine, port_url: str, profile: InstrumentProfile, settings: Settings, *,
    should_stop: Callable[[], bool], serial: SerialSettings | None = None,
    on_stored: Callable[[StoredMessage], None] | None = None, reconnect_interval_s: float = 2.0,
) -> None:
    """Run until ``should_stop()``; each complete message is committed before its final frame is acknowledged.

    ``serial`` defaults to the profile's RS-232 settings. A port that goes away is reopened every
    ``reconnect_interval_s``; a message cut off by it is discarded and the analyser sends it again.
    """
    targets = load_targets(settings.qc_targets_file)

    def sink(received: ReceivedMessage) -> None:
        stored = store_message(engine, received, profile=profile, port_url=port_url, settings=settings,
                               qc_targets=targets)
        log.info("analyser_message_stored", session_id=stored.session_id, stored=stored.stored,
                 duplicates=stored.duplicates, unmatched=stored.unmatched, held=stored.held, qc=stored.qc_stored)
        if on_stored:
            on_stored(stored)

    line_settings = serial or profile.serial
    line = ReconnectingTransport(lambda: SerialTransport(port_url, line_settings), time.monotonic, time.sleep,
                                 retry_interval_s=reconnect_interval_s)
    driver = Driver(line, sink, time.monotonic, profile.link, timestamp=time.time,
                    on_notice=lambda n: log.warning("analyser_link_notice", kind=n.kind, detail=n.detail))
    log.info("analyser_listening", port=port_url, profile=profile.name, baud=line_settings.baudrate,
             bytesize=line_settings.bytesize, parity=line_settings.parity, stopbits=line_settings.stopbits)
    try:
        driver.run(should_stop)
    finally:
        line.close()


def simulated_raw_value(profile: InstrumentProfile, rng: random.Random) -> str:
    """A realistic FIT value in the analyser's own unit: most below the reporting limit, a tail of positives."""
    ug_per_g = rng.lognormvariate(0.8, 1.6)
    factor = profile.factor_for("") or Decimal(1)
    raw = Decimal(str(round(ug_per_g, 1))) / factor
    return f"{raw.quantize(Decimal('0.1'))}"


def qc_tubes(profile: InstrumentProfile, targets: Mapping[tuple[str, str], QcTarget], at: datetime,
             *, fail_level: str | None = None) -> list[TubeResult]:
    """One QC tube per level at its target mean (or 4 SD high for ``fail_level``), in the analyser's unit."""
    factor = profile.factor_for("") or Decimal(1)
    tubes = []
    for material in profile.qc_materials:
        target = targets.get((profile.name, material.level))
        if target is None:
            continue
        mean, sd = target.mean, target.sd
        value = mean + (4 * sd if material.level == fail_level else 0)
        raw = (Decimal(str(value)) / factor).quantize(Decimal("0.1"))
        tubes.append(TubeResult(f"{material.id_prefix}-1", str(raw), at, qc=True))
    return tubes


def simulate(
    port: str | Transport, profile: InstrumentProfile, specimens: Sequence[str], settings: Settings, *,
    values: Sequence[str] | None = None, with_qc: bool = True, fail_qc_level: str | None = None, seed: int = 1,
    per_message: int = 1, measured_at: datetime | None = None, instrument_serial: str = "SIM-0001",
    faults: LinkFaults | None = None, serial: SerialSettings | None = None,
) -> list[TubeResult]:
    """Send a run as an analyser would: QC first, then one message per ``per_message`` tubes.

    ``port`` is a pyserial URL (opened with ``serial``, by default the profile's settings), or an already open
    Transport (e.g. the analyser's end of a pseudo-terminal). ``faults`` puts link faults on the line (a damaged
    frame the listener must refuse and get again, noise between messages, a whole message in one frame); a
    message the listener never accepts raises ``TransferAborted``; one whose frame went unanswered is sent again.
    """
    rng = random.Random(seed)
    at = measured_at or datetime.now().replace(microsecond=0)  # analysers send local time
    targets = load_targets(settings.qc_targets_file)
    raw_values = list(values) if values else [simulated_raw_value(profile, rng) for _ in specimens]
    # One second apart, after the run's QC: results are unique by instrument + specimen + measurement time.
    tubes = [TubeResult(s, v, at + timedelta(seconds=i + 1), lot="L1")
             for i, (s, v) in enumerate(zip(specimens, raw_values, strict=True))]
    messages: list[list[TubeResult]] = []
    if with_qc:
        messages.append(qc_tubes(profile, targets, at, fail_level=fail_qc_level))
    messages += [tubes[i:i + per_message] for i in range(0, len(tubes), per_message)]
    faults = faults or LinkFaults()
    opened = SerialTransport(port, serial or profile.serial) if isinstance(port, str) else port
    line = FaultyLine(opened, faults.bad_checksum_frames)
    try:
        sender = Sender(line, time.monotonic, profile.link, max_frame_size=profile.link.max_frame_size,
                        on_notice=lambda n: log.warning("emulator_link_notice", kind=n.kind, detail=n.detail))
        for index, batch in enumerate(messages):
            if index and faults.noise_between_messages:
                line.write(faults.noise_between_messages)
            sender.deliver(result_records(profile, batch, instrument_serial, at),
                           whole_message_in_one_frame=faults.whole_message_in_one_frame)
    finally:
        if isinstance(port, str):  # a line handed in stays open for its owner
            opened.close()
    return tubes

