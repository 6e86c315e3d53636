"""The start-up check: every setting that names something to load is loaded once, before the service or a command
starts, so a mistyped path or name stops it at once with the variable named, not hours later in the middle of a
dispatch run or an analyser session.

Called by ``fit_lab.api.app.create_app`` and by the command line where it first reads the settings
(``fit_lab.cli.context.settings``).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from zoneinfo import ZoneInfo

import labels
import triage
from fit_lab.errors import ConfigurationError
from fit_lab.qc.targets import load_targets
from fit_lab.settings import Settings
from triage.errors import TriageError


def _policies(settings: Settings) -> None:
    folder = settings.policy_dir
    if folder is None:
        triage.load_default_policies()
        return
    if not Path(folder).is_dir():
        raise ConfigurationError(f"{folder} is not a folder of triage policy files")
    triage.PolicySet.load_directory(folder)


def _label_stock(settings: Settings) -> None:
    labels.load_stock(settings.label_stock)


def _time_zone(settings: Settings) -> None:
    try:
        ZoneInfo(settings.analyser_timezone)
    except (KeyError, ValueError, OSError):
        raise ConfigurationError(f"'{settings.analyser_timezone}' is not a time zone name (e.g. Europe/London, "
                                 "UTC)") from None


def _qc_targets(settings: Settings) -> None:
    load_targets(settings.qc_targets_file)


# Variable → what loading it means. A new setting that names a file or a name to look up belongs here.
CHECKS: dict[str, Callable[[Settings], None]] = {
    "FIT_LAB_POLICY_DIR": _policies,
    "FIT_LAB_LABEL_STOCK": _label_stock,
    "FIT_LAB_ANALYSER_TIMEZONE": _time_zone,
    "FIT_LAB_QC_TARGETS_FILE": _qc_targets,
}


def check_startup(settings: Settings) -> None:
    """Load the triage policies, the label stock, the analysers' time zone and the QC targets.

    Raises one ConfigurationError naming every variable that is wrong, and why.
    """
    problems = []
    for variable, check in CHECKS.items():
        try:
            check(settings)
        except (ConfigurationError, TriageError, labels.LabelsError) as exc:
            problems.append(f"{variable}: {exc}")
    if problems:
        raise ConfigurationError("Settings are wrong: " + "; ".join(problems))
