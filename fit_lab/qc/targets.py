"""QC targets per analyser profile and level, from the lab's YAML file."""

from __future__ import annotations

from pathlib import Path

import yaml

from fit_lab.errors import ConfigurationError
from fit_lab.qc.westgard import QcTarget

DEFAULT_FILE = Path(__file__).resolve().parent.parent / "qc_targets.yaml"


def load_targets(path: Path | None = None) -> dict[tuple[str, str], QcTarget]:
    source = path or DEFAULT_FILE
    try:
        document = yaml.safe_load(source.read_text())
        out = {}
        for profile, levels in document["targets"].items():
            for level, target in levels.items():
                mean, sd = float(target["mean"]), float(target["sd"])
                if sd <= 0:
                    raise ValueError(f"{profile}/{level}: sd must be positive")
                out[(profile, level)] = QcTarget(mean, sd)
        return out
    except (OSError, KeyError, TypeError, ValueError, yaml.YAMLError) as exc:
        raise ConfigurationError(f"QC targets file {source} is not usable: {exc}") from exc
