"""Settings and engine for a command, built once per process."""

from __future__ import annotations

from functools import lru_cache

from sqlalchemy.engine import Engine

from fit_lab.db.engine import make_engine
from fit_lab.logs import configure
from fit_lab.settings import Settings, load_settings
from fit_lab.startup import check_startup


@lru_cache(maxsize=1)
def settings() -> Settings:
    """The settings, checked at start-up (every file and name they point at loads), or a ConfigurationError."""
    configure()
    loaded = load_settings()
    check_startup(loaded)
    return loaded


@lru_cache(maxsize=2)
def engine(check_durability: bool = True) -> Engine:
    return make_engine(settings().database_url, check_durability=check_durability)
