"""Monthly statistics for the cancer alliance: measures from the database with pandas, disclosure control, the
inequality watch, and exports (CSV, JSON, XLSX with charts). Nothing here returns a patient identifier."""

from fit_lab.stats.build import MonthlyStats, StatsConfig, monthly_statistics
from fit_lab.stats.disclosure import DisclosureRules
from fit_lab.stats.inequality import Flag, WatchRules
from fit_lab.stats.tables import SUPPRESSED, TOTAL, Published

__all__ = ["SUPPRESSED", "TOTAL", "DisclosureRules", "Flag", "MonthlyStats", "Published", "StatsConfig",
           "WatchRules", "monthly_statistics"]
