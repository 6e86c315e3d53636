"""`fit-lab analyser listen|simulate|replay`."""

from __future__ import annotations

import enum
import json
import signal
import threading
from dataclasses import replace
from pathlib import Path
from typing import Annotated

import typer

from analyser_drivers import NOISE, InstrumentProfile, LinkFaults, SerialSettings, TransferAborted, get_profile
from analyser_drivers import replay as decode_capture
from analyser_drivers.errors import UnknownProfile
from fit_lab.cli.context import engine, settings
from fit_lab.errors import FieldProblem, FitLabError, ValidationError
from fit_lab.services import analyser

app = typer.Typer(no_args_is_help=True, help="The FIT analyser's serial link (ASTM E1381/E1394).")
PortOpt = Annotated[str, typer.Option("--port", help="pyserial URL: /dev/ttyUSB0, socket://host:port, loop://")]
ProfileOpt = Annotated[str, typer.Option("--profile", help="oc-sensor or hm-jackarc")]


def _profile(name: str):  # type: ignore[no-untyped-def]
    try:
        return get_profile(name)
    except UnknownProfile as exc:
        raise ValidationError([FieldProblem("profile", str(exc))]) from None


class Parity(enum.StrEnum):
    N = "N"
    E = "E"
    O = "O"  # noqa: E741 - the letter pyserial and every analyser manual use
    M = "M"
    S = "S"


STOPBITS = (1.0, 1.5, 2.0)


def serial_settings(instrument: InstrumentProfile, baud: int | None, parity: Parity | None, bytesize: int | None,
                    stopbits: float | None) -> SerialSettings:
    """The profile's RS-232 settings (9600 8N1 unless it says otherwise), with what the command line overrides."""
    if stopbits is not None and stopbits not in STOPBITS:
        raise ValidationError([FieldProblem("--stopbits", f"{stopbits:g} is not 1, 1.5 or 2")])
    base = instrument.serial
    return replace(base, baudrate=baud if baud is not None else base.baudrate,
                   parity=parity.value if parity is not None else base.parity,
                   bytesize=bytesize if bytesize is not None else base.bytesize,  # type: ignore[arg-type]
                   stopbits=stopbits if stopbits is not None else base.stopbits)


@app.command("listen")
def listen(
    port: PortOpt, profile: ProfileOpt,
    baud: Annotated[int | None, typer.Option("--baud", min=50, max=921_600,
                                             help="Baud rate (default: the profile's, 9600)")] = None,
    parity: Annotated[Parity | None, typer.Option("--parity", case_sensitive=False,
                                                  help="None, Even, Odd, Mark or Space (default: N)")] = None,
    bytesize: Annotated[int | None, typer.Option("--bytesize", min=5, max=8, help="Data bits (default: 8)")] = None,
    stopbits: Annotated[float | None, typer.Option("--stopbits", help="1, 1.5 or 2 (default: 1)")] = None,
) -> None:
    """Receive results until stopped (Ctrl-C / SIGTERM); each is committed before the analyser is acknowledged."""
    instrument = _profile(profile)
    line = serial_settings(instrument, baud, parity, bytesize, stopbits)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    try:
        analyser.listen(engine(), port, instrument, settings(), should_stop=stop.is_set, serial=line)
    except KeyboardInterrupt:
        stop.set()


@app.command("simulate")
def simulate(
    port: PortOpt, profile: ProfileOpt,
    specimens: Annotated[str, typer.Option(help="Comma-separated specimen IDs")],
    values: Annotated[str | None, typer.Option(help="Comma-separated raw values in the analyser's unit")] = None,
    qc: Annotated[bool, typer.Option(help="Send a QC run first")] = True,
    fail_qc: Annotated[str | None, typer.Option(help="Send this QC level 4 SD high (a QC failure)")] = None,
    per_message: Annotated[int, typer.Option(help="Tubes per ASTM message")] = 1,
    seed: Annotated[int, typer.Option(help="Seed for generated values")] = 1,
    bad_checksum_frame: Annotated[list[int] | None, typer.Option(
        "--bad-checksum-frame", min=1,
        help="Send frame N of the run (1, 2, … counting every message) with a wrong checksum the first time; "
             "repeat the option for more frames")] = None,
    noise: Annotated[bool, typer.Option("--noise-between-messages", help="Put noise on the line between messages")
                     ] = False,
    one_frame: Annotated[bool, typer.Option("--whole-message-in-one-frame",
                                            help="Send each message H…L in a single frame")] = False,
) -> None:
    """Act as the analyser: send a run of results over the serial link (with link faults on request)."""
    ids = [s.strip() for s in specimens.split(",") if s.strip()]
    raw = [v.strip() for v in values.split(",")] if values else None
    if raw is not None and len(raw) != len(ids):
        raise ValidationError([FieldProblem("values", f"{len(raw)} values for {len(ids)} specimens")])
    faults = LinkFaults(frozenset(bad_checksum_frame or ()), NOISE if noise else b"", one_frame)
    try:
        tubes = analyser.simulate(port, _profile(profile), ids, settings(), values=raw, with_qc=qc,
                                  fail_qc_level=fail_qc, per_message=per_message, seed=seed, faults=faults)
    except TransferAborted as exc:
        raise FitLabError(f"the listener did not accept a message ({exc.reason}): {exc}") from None
    typer.echo(f"sent {len(tubes)} results" + (" after a QC run" if qc else ""))


@app.command("replay")
def replay(
    file: Path,
    profile: Annotated[str | None, typer.Option(help="Also interpret results with this profile")] = None,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Decode only; store nothing")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON document")] = False,
) -> None:
    """Decode a captured byte stream (link layer and records; measurements with a profile)."""
    if not dry_run:
        raise ValidationError([FieldProblem("--dry-run", "replay into the database is not offered: use --dry-run")])
    result = decode_capture(file.read_bytes(), _profile(profile) if profile else None)
    document = result.to_json()
    if as_json:
        typer.echo(json.dumps(document, default=str))
        return
    typer.echo(f"{len(result.messages)} messages, {len(result.problems)} problems")
    for problem in result.problems:
        typer.echo(f"  offset {problem.offset}: {problem.kind}: {problem.detail}")
