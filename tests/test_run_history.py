"""Dagster's run history is pruned to a window, never of what the UI and automation still read."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import dagster as dg
import pytest
from dagster._core.storage.runs.schema import RunsTable  # (to backdate a run: no public way)
from dagster._core.utils import make_new_run_id  # (no public helper for a run id)

from assets.run_history import PRUNE_JOB, prune_runs
from definitions import build_definitions


@dg.asset
def counted() -> int:
    return 1


@dg.asset_check(asset=counted)
def counted_is_positive() -> dg.AssetCheckResult:
    return dg.AssetCheckResult(passed=True)


@dg.asset(name="flaky")
def flaky_fails() -> int:
    raise RuntimeError("the source is down")


@dg.asset(name="flaky")
def flaky_works() -> int:
    return 2


def _run(instance: dg.DagsterInstance, *defs) -> str:
    result = dg.materialize(list(defs), instance=instance, raise_on_error=False)
    return result.run_id


def _shard(instance: dg.DagsterInstance, run_id: str) -> Path:
    return Path(instance.event_log_storage.path_for_shard(run_id))


def test_finished_runs_go_but_not_those_holding_latest_results():
    with dg.instance_for_test() as instance:
        checked = _run(instance, counted, counted_is_positive)  # the check's latest result
        superseded = _run(instance, counted)
        failed = _run(instance, flaky_fails)
        latest = _run(instance, counted)  # counted's latest materialization
        recovered = _run(instance, flaky_works)  # flaky's
        running = make_new_run_id()
        instance.add_run(dg.DagsterRun(job_name="__ASSET_JOB", run_id=running, status=dg.DagsterRunStatus.STARTED))
        backfilled_day = make_new_run_id()  # a Webex backfill day: the UI shows the job's days from its runs
        instance.add_run(dg.DagsterRun(job_name="webex_cdr_backfill", run_id=backfilled_day,
                                       status=dg.DagsterRunStatus.SUCCESS, tags={"dagster/partition": "2026-11-30"}))
        assert instance.get_run_by_id(failed).status == dg.DagsterRunStatus.FAILURE
        assert _shard(instance, superseded).exists()

        # a window ending before every run leaves them all
        before = prune_runs(instance, datetime.now(UTC) - timedelta(days=1))
        assert (before.deleted, before.kept_for_latest_events, before.kept_partition_runs) == (0, 0, 0)

        check_key = dg.AssetCheckKey(dg.AssetKey("counted"), "counted_is_positive")
        pruned = prune_runs(instance, datetime.now(UTC) + timedelta(seconds=1), [check_key])

        assert (pruned.deleted, pruned.kept_for_latest_events, pruned.kept_partition_runs) == (2, 3, 1)
        assert {r.run_id for r in instance.get_runs()} == {checked, latest, recovered, running, backfilled_day}
        history = instance.fetch_materializations(dg.AssetKey("counted"), limit=10).records
        assert {record.run_id for record in history} == {checked, latest}  # the index forgot the rest
        for gone in (superseded, failed):
            assert not _shard(instance, gone).exists()
            assert not (Path(instance.root_directory) / "storage" / gone).exists()
        assert instance.get_latest_materialization_event(dg.AssetKey("counted")).run_id == latest
        assert instance.get_latest_materialization_event(dg.AssetKey("flaky")).run_id == recovered
        executions = instance.event_log_storage.get_latest_asset_check_execution_by_key([check_key])
        assert executions[check_key].run_id == checked and executions[check_key].status.value == "SUCCEEDED"


def _backdate(instance: dg.DagsterInstance, run_id: str, days: int) -> None:
    with instance.run_storage.connect() as conn:
        conn.execute(RunsTable.update().where(RunsTable.c.run_id == run_id).values(
            create_timestamp=datetime.now(UTC).replace(tzinfo=None) - timedelta(days=days)))  # naive UTC


def test_the_daily_job_keeps_the_configured_days(make_settings):
    defs = build_definitions(make_settings(SWITCHBOARD_RUN_HISTORY_DAYS="3"))
    with dg.instance_for_test() as instance:
        old, recent, latest = (_run(instance, counted) for _ in range(3))
        _backdate(instance, old, days=4)
        _backdate(instance, recent, days=2)

        result = defs.get_job_def("prune_run_history").execute_in_process(instance=instance)

        assert result.success
        assert {r.run_id for r in instance.get_runs()} == {recent, latest, result.run_id}
        (output,) = [e for e in result.all_node_events if e.is_successful_output]
        assert output.event_specific_data.metadata["runs_deleted"].value == 1


def test_the_job_keeps_the_latest_result_of_every_check_of_the_definitions(make_settings):
    defs = build_definitions(make_settings())
    job = defs.get_job_def(PRUNE_JOB)
    assert job.metadata["checks_whose_latest_result_stays"].value == len(defs.resolve_asset_graph().asset_check_keys)


@pytest.mark.postgres
def test_pruning_on_the_production_instance(postgres_url, tmp_path, monkeypatch):
    """deploy/dagster.postgres.yaml on a real Postgres: runs and their events live in tables."""
    import shutil
    from urllib.parse import urlsplit

    url = urlsplit(postgres_url)
    for name, value in {"HOST": url.hostname, "PORT": str(url.port), "USER": url.username,
                        "PASSWORD": url.password, "DB": url.path.lstrip("/")}.items():
        monkeypatch.setenv(f"DAGSTER_PG_{name}", value)
    home = tmp_path / "dagster_home"
    home.mkdir()
    shutil.copy(Path(__file__).resolve().parents[1] / "deploy" / "dagster.postgres.yaml", home / "dagster.yaml")
    monkeypatch.setenv("DAGSTER_HOME", str(home))
    with dg.DagsterInstance.get() as instance:
        superseded, latest = _run(instance, counted), _run(instance, counted)
        # a day's margin: the storage compares naive times in the server's zone
        pruned = prune_runs(instance, datetime.now(UTC) + timedelta(days=1))
        assert (pruned.deleted, pruned.kept_for_latest_events) == (1, 1)
        assert [r.run_id for r in instance.get_runs()] == [latest]
        assert instance.get_latest_materialization_event(dg.AssetKey("counted")).run_id == latest
        assert superseded not in {r.run_id for r in instance.fetch_materializations(
            dg.AssetKey("counted"), limit=10).records}
