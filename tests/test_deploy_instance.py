"""The Dagster instance files: the local one (dagster.yaml) and the production one
(deploy/dagster.postgres.yaml, on a real Postgres: the README says to copy it and set the
DAGSTER_PG_* variables, and that must be all it takes)."""

from __future__ import annotations

import shutil
from pathlib import Path
from urllib.parse import urlsplit

import pytest

ROOT = Path(__file__).resolve().parents[1]
LOCAL_CONFIG = ROOT / "dagster.yaml"
DEPLOY_CONFIG = ROOT / "deploy" / "dagster.postgres.yaml"


def _instance(config: Path, home: Path, monkeypatch):
    import dagster as dg

    home.mkdir()
    shutil.copy(config, home / "dagster.yaml")
    monkeypatch.setenv("DAGSTER_HOME", str(home))
    return dg.DagsterInstance.get()


def _assert_shared_policies(instance) -> None:
    # one writing step at a time on the warehouse (DESIGN.md)
    assert instance.get_concurrency_config().pool_config.default_pool_limit == 1
    # a run whose worker died is run again from its unfinished steps; one that failed on a step is not
    assert instance.run_monitoring_enabled
    # ...whose warehouse slot is given back (a retry waited for it for good otherwise)
    assert instance.run_monitoring_settings["free_slots_after_run_end_seconds"] == 30
    # ...looked for every 15 s: at Dagster's default (120 s) a killed run's slot came back after 95-155 s
    assert instance.run_monitoring_settings["poll_interval_seconds"] == 15
    assert instance.run_retries_enabled and instance.run_retries_max_retries == 2
    assert not instance.run_retries_retry_on_asset_or_op_failure
    # ticks do not pile up for good (two sensors tick every 30 s, the Webex poll every 5 min); runs:
    # assets/run_history.py
    from dagster._core.definitions.run_request import InstigatorType
    from dagster._core.scheduler.instigation import TickStatus

    sensor_ticks = instance.get_tick_retention_settings(InstigatorType.SENSOR)
    assert sensor_ticks == {TickStatus.SKIPPED: 1, TickStatus.SUCCESS: 7, TickStatus.FAILURE: 30,
                            TickStatus.STARTED: 30}
    assert set(instance.get_tick_retention_settings(InstigatorType.SCHEDULE).values()) == {90}
    _assert_loader_messages_reach_the_event_log(instance)


def _assert_loader_messages_reach_the_event_log(instance) -> None:
    """A warning of the loaders' modules (logging.getLogger("pipelines.…")) is an event of the run
    the UI shows, not only a line of its captured output (independent audit)."""
    import logging

    import dagster as dg

    @dg.asset
    def warns() -> None:
        logging.getLogger("pipelines.asterisk.log_streams").warning("queue_log is not read: a test says so")

    result = dg.materialize([warns], instance=instance)
    messages = [e.message for e in instance.all_logs(result.run_id) if e.user_message]
    assert any("queue_log is not read: a test says so" in m for m in messages)


def test_the_local_instance(tmp_path, monkeypatch):
    with _instance(LOCAL_CONFIG, tmp_path / "dagster_home", monkeypatch) as instance:
        assert type(instance.run_storage).__name__ == "SqliteRunStorage"
        _assert_shared_policies(instance)


@pytest.mark.postgres
def test_the_production_instance_runs_on_a_postgres_at_any_port(postgres_url, tmp_path, monkeypatch):
    url = urlsplit(postgres_url)
    assert url.port != 5432  # the test server's port: the file once had 5432 written in it
    for name, value in {"HOST": url.hostname, "PORT": str(url.port), "USER": url.username,
                        "PASSWORD": url.password, "DB": url.path.lstrip("/")}.items():
        monkeypatch.setenv(f"DAGSTER_PG_{name}", value)
    with _instance(DEPLOY_CONFIG, tmp_path / "dagster_home", monkeypatch) as instance:
        assert type(instance.run_storage).__name__ == "PostgresRunStorage"
        assert instance.get_runs() == []  # its tables were created in that database
        _assert_shared_policies(instance)


def _closed_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.postgres
def test_switchboard_reads_the_instance_file_with_the_dotenv_as_dagster_does(
        postgres_url, make_settings, tmp_path, capsys):
    """A deployment keeps DAGSTER_PG_PASSWORD in .env beside its settings: the daemon and the
    webserver read it there, and `switchboard settings` and `materialize` now do too (materialize
    stopped with a traceback from DagsterInstance.from_config; independent audit). One still
    unset is a one-line error naming it and the file, exit 2."""
    import os

    from switchboard import cli

    home = tmp_path / "dagster_home"
    home.mkdir()
    shutil.copy(DEPLOY_CONFIG, home / "dagster.yaml")
    make_settings(DAGSTER_HOME=str(home))  # (and the working folder is tmp_path, where .env is)
    url = urlsplit(postgres_url)
    dotenv = [f"DAGSTER_PG_HOST={url.hostname}", f"DAGSTER_PG_PORT={url.port}", f"DAGSTER_PG_USER={url.username}",
              f"DAGSTER_PG_DB={url.path.lstrip('/')}"]
    (tmp_path / ".env").write_text("\n".join(dotenv) + "\n")
    assert cli.main(["settings"]) == 2
    error = capsys.readouterr().err
    assert "DAGSTER_PG_PASSWORD" in error and str(home / "dagster.yaml") in error
    assert len(error.strip().splitlines()) == 1 and len(error) < 300  # not Dagster's config dump
    # a Postgres that does not answer: one line too (after Dagster's retries), not a traceback
    (tmp_path / ".env").write_text("\n".join([*dotenv, "DAGSTER_PG_PASSWORD=x"]).replace(
        f"DAGSTER_PG_PORT={url.port}", f"DAGSTER_PG_PORT={_closed_port()}") + "\n")
    assert cli.main(["settings"]) == 2
    assert "cannot reach its Postgres" in capsys.readouterr().err

    (tmp_path / ".env").write_text("\n".join([*dotenv, f"DAGSTER_PG_PASSWORD={url.password}"]) + "\n")
    assert cli.main(["settings"]) == 0
    assert "settings OK" in capsys.readouterr().out
    assert not [name for name in os.environ if name.startswith("DAGSTER_PG_")]  # put back as they were
