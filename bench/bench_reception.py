"""Benchmark: receive latency through the API under concurrent scanners, on SQLite and PostgreSQL.

    .venv/bin/python bench/bench_reception.py [--kits 600] [--scanners 20] [--pace-ms 1000] [--postgres URL]

Seeds a temporary database through the services (practices, reference data, referrals, one dispatch batch,
a lab user), starts `fit-lab serve` on 127.0.0.1 in a subprocess, logs in with POST /api/v1/auth/token and
has ``--scanners`` threads (each its own keep-alive HTTP connection, like a bench PC) POST
/api/v1/kits/{specimen_id}/receive, each kit once, until every kit is received. Prints p50/p95/p99.
Target: p99 under 50 ms.

Each scanner starts a scan every ``--pace-ms`` (default one a second, offsets staggered): faster than a person
who reads the name, date of birth and NHS number off the screen against the tube, so 20 scanners are 20 scans
a second. ``--pace-ms 0`` scans back to back instead, which measures saturation: latency is then queueing
(Little's law: scanners / throughput), not the cost of one receive.

PostgreSQL is measured when --postgres (or FIT_LAB_TEST_POSTGRES_URL) names a database the user may create
databases beside; a scratch database is created and dropped.
"""

from __future__ import annotations

import argparse
import os
import queue
import secrets
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
from sqlalchemy import create_engine, select, text
from sqlalchemy.engine import make_url
from sqlmodel import col

from fit_lab import synthetic
from fit_lab.clock import fixed_clock
from fit_lab.db.engine import make_engine
from fit_lab.db.migrate import upgrade
from fit_lab.db.models import Kit
from fit_lab.principal import Principal
from fit_lab.services import dispatch, intake, practices, reference, users

REFERENCE = Path(__file__).resolve().parent.parent / "fit_lab" / "reference_data"
ACTOR = Principal("bench", "admin")
USERNAME, PASSWORD = "bench-lab", "bench password for the scanners"
TARGET_P99_MS = 50.0
WARM_UP_SCANS = 2  # per scanner, before timing starts


def _seed(url: str, kits: int) -> list[str]:
    """A migrated database with ``kits`` kits dispatched three days ago; returns their specimen IDs."""
    engine = make_engine(url)
    upgrade(engine)
    practice_list = synthetic.practices(40)
    practices.import_practices(engine, synthetic.practices_csv(practice_list), actor=ACTOR)
    reference.load_imd(engine, REFERENCE / "synthetic_imd2019.csv", REFERENCE / "synthetic_postcode_lsoa.csv",
                       actor=ACTOR)
    posted = datetime.now(UTC) - timedelta(days=3)
    rows = synthetic.referral_rows(kits, practice_codes=[p.ods_code for p in practice_list],
                                   postcodes=synthetic.known_postcodes(REFERENCE / "synthetic_postcode_lsoa.csv"),
                                   start=posted.date() - timedelta(days=7), days=7)
    intake.import_csv(engine, synthetic.referrals_csv(rows), filename="bench.csv", source="csv_cli", actor=ACTOR,
                      clock=fixed_clock(posted - timedelta(hours=1)))
    dispatch.create_batch(engine, actor=ACTOR, clock=fixed_clock(posted))
    users.add_user(engine, USERNAME, "lab", PASSWORD, practice_ods=None, actor=ACTOR)
    with engine.connect() as conn:
        specimen_ids = list(conn.execute(select(col(Kit.specimen_id)).where(col(Kit.state) == "dispatched")).scalars())
    engine.dispose()
    return specimen_ids


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _start_server(url: str, workdir: Path) -> tuple[subprocess.Popen[bytes], str]:
    port = _free_port()
    env = {**os.environ, "FIT_LAB_DATABASE_URL": url, "FIT_LAB_SECRET_KEY": secrets.token_hex(32),
           "FIT_LAB_DEV_MODE": "false", "FIT_LAB_DATA_DIR": str(workdir)}
    log = (workdir / "server.log").open("wb")  # a file, not a pipe: an undrained pipe would stall the server
    server = subprocess.Popen([sys.executable, "-m", "fit_lab.cli", "serve", "--port", str(port)], cwd=workdir,
                              env=env, stdout=log, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise SystemExit(f"server exited: {(workdir / 'server.log').read_text()[-2000:]}")
        try:
            if httpx.get(f"{base}/api/v1/health", timeout=1).status_code == 200:
                return server, base
        except httpx.TransportError:
            time.sleep(0.1)
    server.terminate()
    raise SystemExit("server did not start within 30 s")


def _scan_all(base: str, token: str, specimen_ids: list[str], scanners: int,
              pace_s: float) -> tuple[list[float], int, float]:
    # Each scanner's first scans open its connections (HTTP, and the server's pool to the database): not timed.
    warm_up, measured = specimen_ids[:WARM_UP_SCANS * scanners], specimen_ids[WARM_UP_SCANS * scanners:]
    work: queue.SimpleQueue[str] = queue.SimpleQueue()
    for specimen_id in measured:
        work.put(specimen_id)
    latencies: list[float] = []
    failures = [0]
    lock = threading.Lock()
    collected = (datetime.now(UTC) - timedelta(days=1)).date().isoformat()
    start = threading.Barrier(scanners)

    def scanner(index: int) -> None:
        offset_s = pace_s * index / scanners
        mine: list[float] = []
        bad = 0
        with httpx.Client(base_url=base, headers={"Authorization": f"Bearer {token}"}, timeout=30) as client:
            for specimen_id in warm_up[index::scanners]:
                client.post(f"/api/v1/kits/{specimen_id}/receive", json={"collection_date": collected})
            start.wait()
            next_scan = time.perf_counter() + offset_s
            while True:
                time.sleep(max(0.0, next_scan - time.perf_counter()))
                next_scan += pace_s
                try:
                    specimen_id = work.get_nowait()
                except queue.Empty:
                    break
                began = time.perf_counter()
                response = client.post(f"/api/v1/kits/{specimen_id}/receive", json={"collection_date": collected})
                mine.append((time.perf_counter() - began) * 1000)
                bad += response.status_code != 200 or response.json()["state"] != "received"
        with lock:
            latencies.extend(mine)
            failures[0] += bad

    threads = [threading.Thread(target=scanner, args=(i,)) for i in range(scanners)]
    began = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return latencies, failures[0], time.perf_counter() - began


def measure(label: str, url: str, kits: int, scanners: int, pace_s: float) -> bool:
    specimen_ids = _seed(url, kits + WARM_UP_SCANS * scanners)
    with tempfile.TemporaryDirectory() as tmp:
        server, base = _start_server(url, Path(tmp))
        try:
            issued = httpx.post(f"{base}/api/v1/auth/token", data={"username": USERNAME, "password": PASSWORD})
            issued.raise_for_status()
            latencies, failures, elapsed = _scan_all(base, issued.json()["access_token"], specimen_ids, scanners,
                                                      pace_s)
        finally:
            server.terminate()
            server.wait(timeout=30)
    cuts = statistics.quantiles(latencies, n=100, method="inclusive")
    p50, p95, p99 = cuts[49], cuts[94], cuts[98]
    verdict = "ok" if p99 < TARGET_P99_MS and not failures else "MISSED"
    pace = f"one scan each per {pace_s * 1000:.0f} ms" if pace_s else "back to back"
    print(f"{label:<10} {len(latencies):>5} receives, {scanners} scanners {pace}, {elapsed:5.1f} s "
          f"({len(latencies) / elapsed:5.0f}/s)  p50 {p50:5.1f} ms  p95 {p95:5.1f} ms  p99 {p99:5.1f} ms  "
          f"max {max(latencies):6.1f} ms  failures {failures}  target p99 < {TARGET_P99_MS:.0f} ms: {verdict}")
    return verdict == "ok"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--kits", type=int, default=600, help="kits to receive (one request each)")
    parser.add_argument("--pace-ms", type=float, default=1000.0, help="each scanner's interval; 0: back to back")
    parser.add_argument("--scanners", type=int, default=20, help="concurrent scanners (threads)")
    parser.add_argument("--postgres", default=os.environ.get("FIT_LAB_TEST_POSTGRES_URL", ""))
    args = parser.parse_args()
    results = []
    with tempfile.TemporaryDirectory() as tmp:
        results.append(measure("sqlite", f"sqlite:///{tmp}/bench.db", args.kits, args.scanners, args.pace_ms / 1000))
    if not args.postgres:
        print("postgresql: skipped (no --postgres URL)")
    else:
        admin = create_engine(args.postgres, isolation_level="AUTOCOMMIT")
        name = f"fitlab_bench_{uuid.uuid4().hex[:8]}"
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
        try:
            url = make_url(args.postgres).set(database=name).render_as_string(hide_password=False)
            results.append(measure("postgresql", url, args.kits, args.scanners, args.pace_ms / 1000))
        finally:
            with admin.connect() as conn:
                conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
            admin.dispose()
    sys.exit(0 if all(results) else 1)


if __name__ == "__main__":
    main()
