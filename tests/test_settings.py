"""Settings are checked at start-up; a database that could lose a committed result is refused."""

from __future__ import annotations

import os
import subprocess
import sys
import time

import pytest
from sqlalchemy import create_engine
from sqlalchemy.engine import make_url

from fit_lab.api.app import create_app
from fit_lab.db.engine import make_engine, read_only
from fit_lab.errors import ConfigurationError
from fit_lab.settings import DEV_SECRET, Settings, load_settings
from fit_lab.startup import check_startup
from tests.conftest import PG_URL


def test_wrong_settings_name_each_bad_variable(monkeypatch):
    monkeypatch.setenv("FIT_LAB_DATABASE_URL", "mysql://nope")
    monkeypatch.setenv("FIT_LAB_TOKEN_MINUTES", "0")
    with pytest.raises(ConfigurationError) as error:
        load_settings()
    assert "FIT_LAB_DATABASE_URL" in error.value.message and "FIT_LAB_TOKEN_MINUTES" in error.value.message


def test_development_secret_is_refused_by_the_service_outside_dev_mode(monkeypatch):
    monkeypatch.setenv("FIT_LAB_DEV_MODE", "false")
    monkeypatch.setenv("FIT_LAB_SECRET_KEY", DEV_SECRET)
    with pytest.raises(ConfigurationError, match="FIT_LAB_SECRET_KEY"):
        create_app(load_settings(), create_engine("sqlite://"))


def test_sqlite_runs_in_wal_mode_with_full_sync_and_foreign_keys(tmp_path):
    engine = make_engine(f"sqlite:///{tmp_path / 'x.db'}")
    with engine.connect() as conn:
        pragmas = {name: conn.exec_driver_sql(f"PRAGMA {name}").scalar() for name in
                   ("journal_mode", "synchronous", "foreign_keys")}
    assert pragmas == {"journal_mode": "wal", "synchronous": 2, "foreign_keys": 1}


@pytest.mark.postgres
def test_a_report_reading_sqlite_does_not_hold_up_a_writer_and_reads_one_snapshot(tmp_path):
    engine = make_engine(f"sqlite:///{tmp_path / 'x.db'}")
    with engine.begin() as conn:
        conn.exec_driver_sql("CREATE TABLE scan (n INTEGER)")
    with read_only(engine) as report:
        assert report.exec_driver_sql("SELECT count(*) FROM scan").scalar_one() == 0
        started = time.monotonic()
        with engine.begin() as bench:  # with the write lock held by the report this waits 10 s, then fails
            bench.exec_driver_sql("INSERT INTO scan VALUES (1)")
        assert time.monotonic() - started < 2
        assert report.exec_driver_sql("SELECT count(*) FROM scan").scalar_one() == 0  # still its snapshot
    with read_only(engine) as report:
        assert report.exec_driver_sql("SELECT count(*) FROM scan").scalar_one() == 1
    engine.dispose()


def test_postgres_with_synchronous_commit_off_is_refused():
    if not PG_URL:
        pytest.skip("PostgreSQL not configured: set FIT_LAB_TEST_POSTGRES_URL")
    url = make_url(PG_URL).update_query_dict({"options": "-c synchronous_commit=off"})
    with pytest.raises(ConfigurationError, match="synchronous_commit=off"):
        make_engine(url.render_as_string(hide_password=False))


@pytest.mark.postgres
def test_postgres_with_durable_settings_is_accepted():
    if not PG_URL:
        pytest.skip("PostgreSQL not configured: set FIT_LAB_TEST_POSTGRES_URL")
    make_engine(PG_URL).dispose()


def _settings(**overrides):
    return Settings(**{"secret_key": "test-secret-key-for-the-suite-0123456789", **overrides})


def test_start_up_check_names_every_bad_variable(tmp_path):
    bad = _settings(policy_dir=tmp_path / "no-such-folder", label_stock="avery-l9999",
                    analyser_timezone="Mars/Olympus_Mons", qc_targets_file=tmp_path / "no-targets.yaml")
    with pytest.raises(ConfigurationError) as refused:
        check_startup(bad)
    message = refused.value.message
    for variable in ("FIT_LAB_POLICY_DIR", "FIT_LAB_LABEL_STOCK", "FIT_LAB_ANALYSER_TIMEZONE",
                     "FIT_LAB_QC_TARGETS_FILE"):
        assert variable in message
    assert "avery-l9999" in message and "Mars/Olympus_Mons" in message


def test_start_up_check_passes_the_shipped_defaults():
    check_startup(_settings())


def test_a_policy_folder_holding_a_broken_policy_is_refused_naming_the_file(tmp_path):
    (tmp_path / "local.yaml").write_text("version: [unclosed\n")
    with pytest.raises(ConfigurationError, match=r"FIT_LAB_POLICY_DIR: .*local\.yaml"):
        check_startup(_settings(policy_dir=tmp_path))


def test_qc_targets_that_are_not_usable_are_refused(tmp_path):
    targets = tmp_path / "qc.yaml"
    targets.write_text("targets: {oc_sensor: {low: {mean: 10, sd: 0}}}\n")
    with pytest.raises(ConfigurationError, match=r"FIT_LAB_QC_TARGETS_FILE: .*sd must be positive"):
        check_startup(_settings(qc_targets_file=targets))


def test_the_app_does_not_start_with_a_bad_setting():
    with pytest.raises(ConfigurationError, match="FIT_LAB_ANALYSER_TIMEZONE"):
        create_app(_settings(analyser_timezone="Europe"), create_engine("sqlite://"))


def _cli(args, tmp_path, **env):
    environment = {**os.environ, "FIT_LAB_DATABASE_URL": f"sqlite:///{tmp_path / 'x.db'}", **env}
    return subprocess.run([sys.executable, "-m", "fit_lab.cli", *args], cwd=tmp_path, env=environment,
                          capture_output=True, text=True, timeout=120, check=False)


def test_a_command_does_not_start_with_a_bad_setting(tmp_path):
    result = _cli(["db", "upgrade"], tmp_path, FIT_LAB_LABEL_STOCK="no-such-stock")
    assert result.returncode == 3
    assert result.stderr.strip().startswith("fit-lab: Settings are wrong: FIT_LAB_LABEL_STOCK: unknown label stock")
    assert len(result.stderr.strip().splitlines()) == 1
    assert not (tmp_path / "x.db").exists()


def test_seed_refuses_outside_development_mode(tmp_path):
    """Seeding makes log-ins with a published password: never on a real installation."""
    result = _cli(["seed"], tmp_path, FIT_LAB_DEV_MODE="false",
                  FIT_LAB_SECRET_KEY="a-real-secret-for-this-installation-0123456789")
    assert result.returncode == 3 and "FIT_LAB_DEV_MODE=true" in result.stderr
    assert not (tmp_path / "x.db").exists()
