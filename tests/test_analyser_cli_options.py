"""`fit-lab analyser listen` serial options and `fit-lab analyser simulate` link faults, run as the lab runs them."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import termios
import threading
import time

import pytest

from analyser_drivers import OC_SENSOR, Driver
from fit_lab.cli.analyser import Parity, serial_settings
from tests.analyser_drivers.conftest import PtyMasterLine


def fit_lab(*args, cwd, **popen):
    env = {**os.environ, "FIT_LAB_DATABASE_URL": f"sqlite:///{cwd}/fit-lab.db"}
    return subprocess.Popen([sys.executable, "-m", "fit_lab.cli", "analyser", *args], cwd=cwd, env=env, **popen)


@pytest.fixture
def pty_pair():
    master, slave = os.openpty()
    yield master, slave, os.ttyname(slave)
    os.close(slave)
    os.close(master)


def listening_log(args, tmp_path, timeout_s=20.0):
    """Start `listen`, wait for its start-up log line, return (process, log text)."""
    log = tmp_path / "listener.log"
    with open(log, "w") as stderr:
        process = fit_lab("listen", *args, cwd=tmp_path, stdout=subprocess.DEVNULL, stderr=stderr)
    deadline = time.monotonic() + timeout_s
    while "analyser_listening" not in log.read_text():
        assert process.poll() is None, f"listen exited: {log.read_text()}"
        assert time.monotonic() < deadline, "listen did not start"
        time.sleep(0.05)
    return process, log.read_text()


def line_attributes(slave, baud, timeout_s=10.0):
    """The pty's termios attributes once the listener has set its speed (it opens the port on its first read)."""
    deadline = time.monotonic() + timeout_s
    while (attributes := termios.tcgetattr(slave))[4] != baud and time.monotonic() < deadline:
        time.sleep(0.02)
    return attributes


def stop(process):
    process.send_signal(signal.SIGTERM)
    process.wait(timeout=20)


def test_listen_opens_the_port_with_the_baud_parity_data_bits_and_stop_bits_given(pty_pair, tmp_path):
    _, slave, path = pty_pair
    process, log = listening_log(["--port", path, "--profile", "oc-sensor", "--baud", "19200", "--parity", "e",
                                  "--bytesize", "7", "--stopbits", "2"], tmp_path)
    try:
        attributes = line_attributes(slave, termios.B19200)
    finally:
        stop(process)
    # A pseudo-terminal keeps 8 bits and no parity whatever it is asked, so those two are read from the log.
    assert attributes[4] == termios.B19200 and attributes[2] & termios.CSTOPB
    assert "baud=19200" in log and "bytesize=7" in log and "parity=E" in log and "stopbits=2" in log


def test_listen_without_options_uses_the_profile_s_9600_8n1(pty_pair, tmp_path):
    _, slave, path = pty_pair
    process, log = listening_log(["--port", path, "--profile", "oc-sensor"], tmp_path)
    try:
        attributes = line_attributes(slave, termios.B9600)
    finally:
        stop(process)
    assert attributes[4] == termios.B9600 and not attributes[2] & termios.CSTOPB
    assert "baud=9600" in log and "bytesize=8" in log and "parity=N" in log and "stopbits=1" in log


@pytest.mark.parametrize(
    ("option", "value", "words"),
    [("--stopbits", "3", "3 is not 1, 1.5 or 2"), ("--parity", "X", "--parity"), ("--bytesize", "9", "--bytesize"),
     ("--baud", "0", "--baud")],
)
def test_listen_refuses_serial_settings_no_port_has(tmp_path, option, value, words):
    process = fit_lab("listen", "--port", "loop://", "--profile", "oc-sensor", option, value, cwd=tmp_path,
                      stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    out, err = process.communicate(timeout=30)
    assert process.returncode == 2 and words in out + err


def test_command_line_serial_options_override_only_what_they_name():
    line = serial_settings(OC_SENSOR, 4800, None, None, 1.5)
    assert (line.baudrate, line.bytesize, line.parity, line.stopbits) == (4800, 8, "N", 1.5)
    line = serial_settings(OC_SENSOR, None, Parity.O, 7, None)
    assert (line.baudrate, line.bytesize, line.parity, line.stopbits) == (9600, 7, "O", 1)


def test_simulate_sends_a_frame_with_a_bad_checksum_that_the_host_refuses_and_gets_again(pty_pair, tmp_path):
    master, _, path = pty_pair
    delivered, notices = [], []
    host = Driver(PtyMasterLine(master), delivered.append, time.monotonic, OC_SENSOR.link, on_notice=notices.append)
    done = threading.Event()
    thread = threading.Thread(target=host.run, args=(done.is_set,), daemon=True)
    thread.start()
    try:
        process = fit_lab("simulate", "--port", path, "--profile", "oc-sensor", "--specimens", "K0001,K0002",
                          "--values", "100,200", "--no-qc", "--bad-checksum-frame", "2", "--bad-checksum-frame", "10",
                          "--noise-between-messages", cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                          text=True)
        out, err = process.communicate(timeout=60)
    finally:
        done.set()
        thread.join(timeout=5)
    assert process.returncode == 0, err
    assert "sent 2 results" in out
    assert [m.message.records[2].value(3) for m in delivered] == ["K0001", "K0002"]
    assert [n.detail for n in notices if n.kind == "frame_rejected"] == ["checksum does not match"] * 2
    assert b"noise on the line" in b"".join(c.data for c in delivered[1].transcript)
