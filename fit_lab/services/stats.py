"""The alliance's monthly statistics as a use case: who may pull them, the month asked for, the audit line, and
the file in the format asked for."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path

from sqlalchemy.engine import Engine

from fit_lab.clock import Clock, system_clock
from fit_lab.db.engine import transaction
from fit_lab.errors import FieldProblem, Forbidden, ValidationError
from fit_lab.principal import Principal
from fit_lab.services import audit
from fit_lab.services.outcomes import policies
from fit_lab.settings import Settings
from fit_lab.stats import DisclosureRules, MonthlyStats, StatsConfig, WatchRules, monthly_statistics
from fit_lab.stats.charts import all_charts
from fit_lab.stats.definitions import threshold_name
from fit_lab.stats.export import to_csv, to_json, to_xlsx
from fit_lab.stats.measures import ANY_VERSION

STATS_ROLES = frozenset({"alliance", "admin"})
EARLIEST_YEAR = 2000  # the trend looks a year back; nothing older than this can exist
FORMATS = {
    "json": "application/json",
    "csv": "text/csv; charset=utf-8",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
}


@dataclass(frozen=True)
class StatsFile:
    content: bytes
    media_type: str
    filename: str


def stats_config(settings: Settings) -> StatsConfig:
    """Windows from the failsafe's days; thresholds from every band edge of the loaded triage policies."""
    loaded = policies(settings).policies
    band_edges = {(p.version, band.name): band.from_ug_per_g for p in loaded for band in p.bands}
    edges = tuple(sorted({edge for edge in band_edges.values() if edge > 0}))
    # Outcomes decided by a version no longer in the policy folder keep their band's name: use the edge the
    # loaded policies give that name, when they all agree on it.
    by_name: dict[str, set[float]] = {}
    for (_, name), edge in band_edges.items():
        by_name.setdefault(name, set()).add(edge)
    band_edges.update({(ANY_VERSION, name): found.pop() for name, found in by_name.items() if len(found) == 1})
    return StatsConfig(
        windows=(settings.reminder_after_days, settings.not_returned_after_days), edges=edges, band_edges=band_edges,
        disclosure=DisclosureRules(settings.stats_suppress_max, settings.stats_round_to),
        watch=WatchRules(settings.inequality_margin_pp, settings.inequality_margin_days))


def watch_note(settings: Settings) -> str:
    return (f"Inequality watch: an IMD quintile or ethnic group is flagged when its kit return rate is more than "
            f"{settings.inequality_margin_pp:g} percentage points below everyone's and the top of its 95% Wilson "
            f"interval is still below everyone's rate, or when its median days from referral to result exceed "
            f"everyone's by more than {settings.inequality_margin_days:g} and the bottom of its 95% interval is "
            "still above everyone's median. Unknown ethnicity or deprivation is reported but not compared.")


def parse_month(text: str) -> date:
    try:
        month = datetime.strptime(text, "%Y-%m").date()
    except ValueError:
        raise ValidationError([FieldProblem("month", f"'{text}' is not a month written as YYYY-MM")]) from None
    if month.year < EARLIEST_YEAR:
        raise ValidationError([FieldProblem("month", f"{text} is before {EARLIEST_YEAR}: fit-lab holds no such month")])
    return month


def monthly(engine: Engine, month: date, *, actor: Principal, settings: Settings,
            clock: Clock = system_clock) -> MonthlyStats:
    """The month's published statistics; only the alliance and administrators, and never a month to come."""
    if actor.role not in STATS_ROLES:
        raise Forbidden("The monthly statistics are for the cancer alliance and administrators.")
    now = clock()
    if month > now.date().replace(day=1):
        raise ValidationError([FieldProblem("month", f"{month:%Y-%m} has not started yet")])
    stats = monthly_statistics(engine, month, stats_config(settings), as_of=now)
    with transaction(engine) as session:
        audit.record(session, actor, "read", "monthly_stats", f"{month:%Y-%m}", clock=clock,
                     detail={"flags": len(stats.flags)})
    return stats


def charts(stats: MonthlyStats, settings: Settings) -> dict[str, bytes]:
    edges = stats_config(settings).edges
    return all_charts(stats.tables, f"return_rate_{settings.not_returned_after_days}d",
                      f"positivity_ge_{threshold_name(edges[0])}")


def as_file(stats: MonthlyStats, fmt: str, settings: Settings) -> StatsFile:
    if fmt not in FORMATS:
        raise ValidationError([FieldProblem("format", f"must be one of {', '.join(FORMATS)}")])
    if fmt == "json":
        content = to_json(stats)
    elif fmt == "csv":
        content = to_csv(stats)
    else:
        content = to_xlsx(stats, charts(stats, settings), watch_note(settings))
    return StatsFile(content, FORMATS[fmt], f"fit-stats-{stats.month_label}.{fmt}")


def write_exports(stats: MonthlyStats, settings: Settings, folder: Path) -> list[Path]:
    """Every format and each chart as a PNG into ``folder`` (the demo's artefacts)."""
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    for fmt in FORMATS:
        made = as_file(stats, fmt, settings)
        (folder / made.filename).write_bytes(made.content)
        written.append(folder / made.filename)
    for name, png in charts(stats, settings).items():
        path = folder / f"chart-{name}-{stats.month_label}.png"
        path.write_bytes(png)
        written.append(path)
    return written
