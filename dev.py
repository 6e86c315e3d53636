#!/usr/bin/env python3
"""Set-up and the two everyday commands, needing nothing but Python 3.11+.

    python3 dev.py run    # create .venv, install, simulate a whole month (fit-lab demo), serve it on :8000
    python3 dev.py test   # create .venv, install with test tools, run the whole test suite

The virtual environment is reinstalled only when pyproject.toml changes.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parent
VENV = ROOT / ".venv"
BIN = VENV / ("Scripts" if os.name == "nt" else "bin")


def _run(*args: str | Path, env: dict[str, str] | None = None) -> None:
    result = subprocess.run([str(a) for a in args], cwd=ROOT, env=env, check=False)  # noqa: S603
    if result.returncode != 0:
        sys.exit(result.returncode)


def setup(extras: str = "") -> None:
    if sys.version_info < (3, 11):  # noqa: UP036 - dev.py may be run by an older python3 first
        sys.exit("fit-lab needs Python 3.11 or newer")
    stamp = VENV / f".installed{extras.replace(',', '-')}"
    wanted = hashlib.sha256((ROOT / "pyproject.toml").read_bytes()).hexdigest()
    if stamp.exists() and stamp.read_text() == wanted:
        return
    if not (BIN / "python").exists():
        print("creating .venv ...", flush=True)
        venv.EnvBuilder(with_pip=True).create(VENV)
    _run(BIN / "python", "-m", "pip", "install", "--quiet", "--upgrade", "pip")
    target = f".[{extras}]" if extras else "."
    print(f"installing fit-lab{f'[{extras}]' if extras else ''} ...", flush=True)
    _run(BIN / "python", "-m", "pip", "install", "--quiet", "-e", target)
    stamp.write_text(wanted)


def run(args: list[str]) -> None:
    setup()
    _run(BIN / "fit-lab", "demo", "--serve", *args)


def test(args: list[str]) -> None:
    setup("test")
    workers = ["-n", os.environ.get("FIT_LAB_TEST_WORKERS", "2")]
    _run(BIN / "python", "-m", "pytest", *workers, *args)


def main() -> None:
    command, *rest = sys.argv[1:] or ["help"]
    if command == "run":
        run(rest)
    elif command == "test":
        test(rest)
    elif command == "setup":
        setup("test" if "--test" in rest else "")
    else:
        print(__doc__)
        sys.exit(0 if command == "help" else 2)


if __name__ == "__main__":
    main()
