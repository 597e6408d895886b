"""The Dagster graph: a snapshot of its shape, and the sensor and schedule behaviour.

The snapshot (tests/__snapshots__/) fails on any renamed key or broken dlt→dbt lineage; update
it deliberately with `pytest tests/test_definitions.py --snapshot-update`.
"""

from __future__ import annotations

import gzip
import json
import os
import shutil
import time
from datetime import timedelta
from pathlib import Path

import dagster as dg
import pytest
from dagster._core.utils import make_new_run_id  # (no public helper for a run id)

from assets import automation
from assets.automation import changed_files, run_key_for
from definitions import build_definitions
from switchboard.paths import DBT_PROJECT_DIR


def graph_shape(defs: dg.Definitions) -> dict:
    graph = defs.resolve_asset_graph()
    assets = {}
    for key in sorted(graph.get_all_asset_keys(), key=lambda k: k.to_user_string()):
        node = graph.get(key)
        assets[key.to_user_string()] = {
            "group": node.group_name,
            "deps": sorted(d.to_user_string() for d in node.parent_keys),
            "kinds": sorted(node.kinds),
            "automation": node.automation_condition is not None,
            "pool": next(iter(node.pools), None) if node.pools else None,
            "fresh_within_hours": _fail_window_hours(node.freshness_policy),
        }
    checks = sorted(f"{c.asset_key.to_user_string()}:{c.name}" for c in graph.asset_check_keys)
    return {
        "assets": assets,
        "checks": checks,
        "jobs": sorted(j.name for j in defs.jobs),
        "sensors": sorted(s.name for s in defs.sensors),
        "schedules": sorted((s.name, s.cron_schedule, s.execution_timezone) for s in defs.schedules),
    }


def _fail_window_hours(policy: dg.FreshnessPolicy | None) -> float | None:
    return None if policy is None else policy.fail_window.to_timedelta() / timedelta(hours=1)


def test_asset_graph_snapshot(make_settings, snapshot):
    defs = build_definitions(make_settings())
    assert graph_shape(defs) == snapshot


def test_every_layer_key_is_where_design_says(make_settings):
    keys = {k.to_user_string() for k in build_definitions(make_settings()).resolve_asset_graph().get_all_asset_keys()}
    assert {"raw/asterisk/queue_log", "raw/asterisk/queue_log_table", "raw/asterisk/cdr"} <= keys
    assert {"marts/fct_queue_visits", "marts/agg_queue_daily", "marts/agg_queue_interval",
            "marts/agg_agent_daily", "marts/agg_agent_pause_daily", "serving/marts_copy"} <= keys
    assert all(k.split("/")[0] in {"raw", "staging", "intermediate", "marts", "serving"} for k in keys)


def test_every_asset_links_to_its_source(make_settings):
    """dbt models to their SQL file (seeds to their CSV), the Python assets to their module."""
    graph = build_definitions(make_settings()).resolve_asset_graph()
    for key in graph.materializable_asset_keys:
        (ref,) = graph.get(key).metadata["dagster/code_references"].code_references
        path = Path(ref.file_path)
        assert path.is_file(), (key, path)
        if key.path[0] in {"staging", "intermediate", "marts"}:  # a model's SQL, a seed's CSV
            assert DBT_PROJECT_DIR in path.parents and path.stem == key.path[-1], (key, path)
        else:
            assert path.parent.name == "assets" and path.suffix == ".py", (key, path)


def test_raw_assets_show_their_table_and_the_columns_dbt_documents(make_settings):
    """The catalog shows a raw table as it shows a model: its name as dagster-dbt writes the models'
    (database.schema.table), and the columns the dbt source documents, with their descriptions."""
    from resources.dbt import dbt_project

    graph = build_definitions(make_settings()).resolve_asset_graph()
    model_table = graph.get(dg.AssetKey(["marts", "fct_queue_visits"])).metadata["dagster/table_name"]
    database = model_table.removesuffix(".marts.fct_queue_visits")
    manifest = json.loads(dbt_project().manifest_path.read_text())
    sources = {(s["schema"], s["name"]): s["columns"] for s in manifest["sources"].values()}
    raw_keys = [key for key in graph.materializable_asset_keys if key.path[0] == "raw"]
    assert len(raw_keys) == 11
    for key in raw_keys:
        schema, table = f"raw_{key.path[1]}", key.path[2]
        metadata = graph.get(key).metadata
        assert metadata["dagster/table_name"] == f"{database}.{schema}.{table}"
        documented = sources.get((schema, table))
        if documented is None:  # a table no model reads (the CDR rejects): named, no columns
            assert "dagster/column_schema" not in metadata, key
            continue
        shown = {column.name: column.description for column in metadata["dagster/column_schema"].columns}
        assert shown == {name: column["description"] for name, column in documented.items()}, key
        assert all(shown.values()), key


def test_runs_execute_in_process_unless_configured(make_settings):
    assert build_definitions(make_settings()).executor.name == "in_process"
    assert build_definitions(make_settings(SWITCHBOARD_RUN_EXECUTOR="multiprocess")).executor.name == "multiprocess"


def test_writers_share_one_pool(make_settings):
    graph = build_definitions(make_settings()).resolve_asset_graph()
    for key in graph.materializable_asset_keys:
        assert graph.get(key).pools == {"warehouse_writer"}, key



def test_each_dbt_test_a_job_runs_is_a_check_of_an_asset_it_builds(make_settings):
    """dbt runs a data test when any of its parents is selected (eager indirect selection); a
    test attached to an asset the run does not build reaches Dagster as an observation, with a
    warning, instead of a check result."""
    from resources.dbt import dbt_project

    defs = build_definitions(make_settings())
    graph = defs.resolve_asset_graph()
    check_assets = {check.name: check.asset_key for check in graph.asset_check_keys}
    asset_of_model = {
        unique_id: key for key in graph.get_all_asset_keys()
        if (unique_id := graph.get(key).metadata.get("dagster_dbt/unique_id"))
    }
    manifest = json.loads(dbt_project().manifest_path.read_text())
    tests = [node for node in manifest["nodes"].values() if node["resource_type"] == "test"]
    assert asset_of_model and tests
    for job in defs.jobs:
        built = defs.resolve_job_def(job.name).asset_layer.selected_asset_keys
        built_models = {unique_id for unique_id, key in asset_of_model.items() if key in built}
        for test in tests:
            if set(test["depends_on"]["nodes"]) & built_models:
                assert check_assets[test["name"]] in built, (job.name, test["name"])

QUEUESTART = "1709546400|NONE|NONE|NONE|QUEUESTART|\n"
RELOAD = "1709546401|NONE|NONE|NONE|CONFIGRELOAD|\n"


@pytest.fixture
def queue_log_sensor(make_settings, tmp_path):
    """(site folder, a function that evaluates the sensor with a cursor and returns its result)."""
    site = tmp_path / "pbx"
    site.mkdir()
    settings = make_settings(SWITCHBOARD_QUEUE_LOG_DIRS=f"lab={site}")
    defs = build_definitions(settings)
    sensor = defs.resolve_sensor_def("asterisk_files_sensor")
    with dg.instance_for_test() as instance:
        def tick(cursor=None):
            return sensor(dg.build_sensor_context(instance=instance, definitions=defs, cursor=cursor))
        tick.instance, tick.defs, tick.settings = instance, defs, settings
        yield site, tick


def test_sensor_measures_an_archive_without_a_size_once_across_ticks(queue_log_sensor, monkeypatch):
    """A bzip2 rotation is decompressed whole to be measured; the sensor remembers its size from
    one tick to the next (630 bzip2'd days took 3.5 s a tick; independent audit)."""
    import bz2

    from pipelines.asterisk import log_streams

    site, tick = queue_log_sensor
    (site / "queue_log.1.bz2").write_bytes(bz2.compress((QUEUESTART + RELOAD).encode()))
    settled = time.time() - log_streams.ARCHIVE_SETTLE_SECONDS - 60
    os.utime(site / "queue_log.1.bz2", (settled, settled))
    (site / "queue_log").write_text(RELOAD)
    measured = []
    real_measure = log_streams._measured_size
    monkeypatch.setattr(log_streams, "_measured_size", lambda path, kind: measured.append(path.name) or real_measure(path, kind))
    cursor = tick().cursor
    for _ in range(3):
        assert not tick(cursor).run_requests
    assert measured == ["queue_log.1.bz2"]


def test_sensor_requests_one_run_per_file_version(queue_log_sensor):
    site, tick = queue_log_sensor
    log = site / "queue_log"
    log.write_text(QUEUESTART)
    first = tick()
    assert len(first.run_requests) == 1
    cursor = first.cursor
    assert len(json.loads(cursor)) == 1  # one stream

    assert not tick(cursor).run_requests

    with open(log, "a") as fh:
        fh.write(RELOAD)
    grown = tick(cursor)
    assert len(grown.run_requests) == 1
    assert grown.run_requests[0].run_key != first.run_requests[0].run_key
    assert not tick(grown.cursor).run_requests


def test_an_unfinished_last_line_starts_no_run_until_its_newline_is_written(queue_log_sensor):
    """The source leaves the live log's unterminated last line for later: a run would read nothing."""
    site, tick = queue_log_sensor
    log = site / "queue_log"
    log.write_text(QUEUESTART)
    cursor = tick().cursor
    with open(log, "a") as fh:
        fh.write(RELOAD[:20])
    waiting = tick(cursor)
    assert not waiting.run_requests
    with open(log, "a") as fh:
        fh.write(RELOAD[20:])
    assert len(tick(waiting.cursor).run_requests) == 1


def test_sensor_starts_no_run_for_a_rotation_copy_or_touch_that_brings_no_new_bytes(queue_log_sensor):
    """The source would read nothing in each of these, so a run would only rebuild the marts."""
    site, tick = queue_log_sensor
    log = site / "queue_log"
    log.write_text(QUEUESTART + RELOAD)
    cursor = tick().cursor

    log.rename(site / "queue_log.1")  # logrotate: the live file renamed, a new empty one started
    (site / "queue_log").write_bytes(b"")
    result = tick(cursor)
    assert not result.run_requests, "rotation"
    cursor = result.cursor

    with open(site / "queue_log.1", "rb") as src, gzip.open(site / "queue_log.2.gz", "wb") as out:
        out.write(src.read())  # compressed, the plain copy removed
    (site / "queue_log.1").unlink()
    result = tick(cursor)
    assert not result.run_requests, "compression"
    cursor = result.cursor

    shutil.copy(site / "queue_log.2.gz", site / "backup-queue_log.gz")  # a copy of a log already seen
    os.utime(site / "queue_log.2.gz", ns=(1, 1))  # touched
    result = tick(cursor)
    assert not result.run_requests, "copy and touch"
    cursor = result.cursor

    (site / "queue_log").write_text("1709546500|NONE|NONE|NONE|QUEUESTART|\n")  # the new log's first line
    result = tick(cursor)
    assert len(result.run_requests) == 1, "new bytes"


def _new_bytes_behind_a_run_not_started(site, tick) -> tuple[str, dg.DagsterRun]:
    """(the cursor before new lines were appended, a run of the job created but not started)."""
    log = site / "queue_log"
    log.write_text(QUEUESTART)
    cursor = tick().cursor
    # (a queued run needs a code location to exist; a run not started yet is the same case to the sensor)
    run = dg.DagsterRun(job_name="asterisk_refresh", run_id=make_new_run_id(), status=dg.DagsterRunStatus.NOT_STARTED)
    tick.instance.add_run(run)
    with open(log, "a") as fh:
        fh.write(RELOAD)
    return cursor, run


def test_sensor_leaves_new_bytes_to_a_run_that_has_not_started(queue_log_sensor):
    """That run reads them when it starts: no second run behind it for bytes it has read (one
    followed every waiting run, read no line and rebuilt every model: independent audit)."""
    cursor, waiting = _new_bytes_behind_a_run_not_started(*queue_log_sensor)
    tick = queue_log_sensor[1]
    held = tick(cursor)
    assert not held.run_requests and waiting.run_id in held.skip_reason.skip_message
    assert held.cursor != cursor  # moved past the bytes left to that run

    tick.instance.delete_run(waiting.run_id)  # it has started (and read them)
    assert not tick(held.cursor).run_requests
    assert len(tick(cursor).run_requests) == 1  # (from the old cursor they are new bytes)


def test_new_bytes_are_not_left_to_a_retry_that_does_not_load(queue_log_sensor):
    """A run whose worker died is retried from its unfinished steps (the instance's run_retries):
    after a finished load, dbt and what follows. New bytes left to that retry were read by no run
    until the next append or the daily run (independent check: 5 calls)."""
    site, tick = queue_log_sensor
    log = site / "queue_log"
    log.write_text(QUEUESTART)
    cursor = tick().cursor
    retry = dg.DagsterRun(job_name="asterisk_refresh", run_id=make_new_run_id(), status=dg.DagsterRunStatus.NOT_STARTED,
                          step_keys_to_execute=["switchboard_dbt", "serving__marts_copy"])
    tick.instance.add_run(retry)
    with open(log, "a") as fh:
        fh.write(RELOAD)
    assert len(tick(cursor).run_requests) == 1
    started = dg.DagsterRun(job_name="asterisk_refresh", run_id=make_new_run_id(), status=dg.DagsterRunStatus.STARTED,
                            step_keys_to_execute=["switchboard_dbt"])
    tick.instance.add_run(started)
    assert len(tick(cursor).run_requests) == 1


def _sensor_run(tick, status: dg.DagsterRunStatus, job_name: str = "asterisk_refresh") -> dg.DagsterRun:
    run = dg.DagsterRun(job_name=job_name, run_id=make_new_run_id(), status=status)
    tick.instance.add_run(run)
    return run


def test_new_bytes_are_left_to_a_running_run_until_its_load_then_what_it_did_not_read_starts_one(queue_log_sensor):
    """A run that has started but not its load step reads every byte there when that step starts;
    once it has, only the loader's state tells what it read. Compared with the cursor instead, bytes
    written while the run started started a second run that read no line and rebuilt every model
    (independent audit)."""
    from dagster._core.events import DagsterEvent  # (no public way to record a step's start)

    from pipelines.asterisk.pipeline import run_load

    site, tick = queue_log_sensor
    log = site / "queue_log"
    log.write_text(QUEUESTART)
    cursor = tick().cursor
    run = _sensor_run(tick, dg.DagsterRunStatus.STARTED)
    with open(log, "a") as fh:
        fh.write(RELOAD)
    held = tick(cursor)
    assert not held.run_requests and run.run_id in held.skip_reason.skip_message

    tick.instance.report_dagster_event(
        DagsterEvent(event_type_value="STEP_START", job_name=run.job_name, step_key=automation.LOAD_STEP),
        run_id=run.run_id)
    assert run_load(tick.settings).counts("queue_log").lines_read == 2  # its load read both lines
    assert not tick(cursor).run_requests  # (from the cursor before them they were new bytes)
    with open(log, "a") as fh:
        fh.write(RELOAD.replace("401", "402"))  # written after its load read
    assert len(tick(held.cursor).run_requests) == 1


@pytest.mark.parametrize("ended", [dg.DagsterRunStatus.FAILURE, dg.DagsterRunStatus.CANCELED])
def test_bytes_a_failed_run_did_not_load_are_asked_for_again(queue_log_sensor, monkeypatch, ended):
    """The cursor moved past them when the run was requested; a run that failed before its load
    (a backfill outside Dagster holding the DuckDB warehouse) or was canceled (by hand, or while
    queued) left them unread, and no tick requested them again until the PBX wrote more
    (independent audits). After such a run the sensor compares with what the loader has read
    (here: nothing, no load ran)."""
    site, tick = queue_log_sensor
    (site / "queue_log").write_text(QUEUESTART)
    first = tick()
    assert len(first.run_requests) == 1 and not tick(first.cursor).run_requests
    failed = _sensor_run(tick, ended)
    assert not tick(first.cursor).run_requests  # not at once: FAILED_RUN_RETRY_AFTER
    monkeypatch.setattr(automation, "FAILED_RUN_RETRY_AFTER", timedelta(0))
    again = tick(first.cursor)
    assert len(again.run_requests) == 1
    assert again.run_requests[0].run_key == first.run_requests[0].run_key + f":after:{failed.run_id}"
    _sensor_run(tick, dg.DagsterRunStatus.SUCCESS)  # the run it asked for loaded them
    assert not tick(again.cursor).run_requests
    # so is a failed run of the schedule's job (new bytes may have been left to it while it waited)
    _sensor_run(tick, dg.DagsterRunStatus.FAILURE, job_name="refresh_everything")
    assert len(tick(again.cursor).run_requests) == 1


def test_a_fresh_instance_builds_everything_the_asterisk_models_read(queue_log_sensor):
    """int_agents (Asterisk job) reads the Webex staging models and the agent directory seed:
    on a fresh Issabel-only instance they did not exist and every sensor run failed (independent
    audit). The first runs are of everything (the Webex raw tables are created empty)."""
    site, tick = queue_log_sensor
    (site / "queue_log").write_text(QUEUESTART)
    assert tick().run_requests[0].job_name == "refresh_everything"
    for key in tick.defs.resolve_asset_graph().materializable_asset_keys:  # as that first run leaves them
        tick.instance.report_runless_asset_event(dg.AssetMaterialization(key))
    assert tick().run_requests[0].job_name == "asterisk_refresh"


def test_sensor_and_schedule_runs_name_every_asset_of_their_job(queue_log_sensor):
    """What whole_job_request is for (the next test): each run the Asterisk sensor and the daily
    schedule start names its job's assets, the checks of those assets included by Dagster."""
    site, tick = queue_log_sensor
    graph = tick.defs.resolve_asset_graph()
    (site / "queue_log").write_text(QUEUESTART)
    for job in (automation.refresh_everything, automation.asterisk_refresh):
        request = tick().run_requests[0]
        assert request.job_name == job.name
        assert set(request.asset_selection) == job.selection.resolve(graph)
        assert {"serving/marts_copy", "marts/agg_queue_daily"} <= {k.to_user_string() for k in request.asset_selection}
        for key in graph.materializable_asset_keys:  # built once: the sensor's next run is asterisk_refresh
            tick.instance.report_runless_asset_event(dg.AssetMaterialization(key))
    schedule = tick.defs.resolve_schedule_def("daily_refresh")
    context = dg.build_schedule_context(instance=tick.instance, repository_def=tick.defs.get_repository_def())
    [request] = schedule.evaluate_tick(context).run_requests
    assert set(request.asset_selection) == graph.materializable_asset_keys


@pytest.mark.parametrize("named", [True, False], ids=["assets-named", "bare-job"])
def test_a_failed_run_does_not_make_automation_start_a_second_build(named):
    """A sensor run that loaded its files and then failed (worker killed, a dbt test) left its raw
    assets updated and its models not built; eager automation then started a second build of them
    beside Dagster's retry (independent production audit: two dbt builds and two publications per
    crash). Dagster ignores an input's update by a run that also targeted the model only when the
    run names its assets, as whole_job_request's runs do; the bare job is the control. Real
    Dagster, in process: a raw asset and an eager model."""
    fails = {"now": False}

    @dg.asset(key=["raw", "log"])
    def raw():
        return None

    @dg.asset(key=["model", "visits"], deps=[raw], automation_condition=dg.AutomationCondition.eager())
    def model():
        if fails["now"]:
            raise RuntimeError("the run's worker died here")

    job = dg.define_asset_job("loads", selection=dg.AssetSelection.all())
    defs = dg.Definitions(assets=[raw, model], jobs=[job])
    with dg.instance_for_test() as instance:
        request = automation.whole_job_request(dg.build_sensor_context(instance=instance, definitions=defs), job)
        assert set(request.asset_selection) == {raw.key, model.key}
        resolved = defs.resolve_job_def("loads")
        assert resolved.execute_in_process(instance=instance).success
        cursor = dg.evaluate_automation_conditions(defs, instance).cursor
        fails["now"] = True
        selection = {"asset_selection": request.asset_selection} if named else {}
        assert not resolved.execute_in_process(instance=instance, raise_on_error=False, **selection).success
        assert instance.get_latest_materialization_event(raw.key).run_id != instance.get_latest_materialization_event(model.key).run_id
        result = dg.evaluate_automation_conditions(defs, instance, cursor=cursor)
        assert result.total_requested == (0 if named else 1)


def test_sensor_does_not_wait_for_a_run_stuck_before_starting(queue_log_sensor, monkeypatch):
    cursor, _stuck = _new_bytes_behind_a_run_not_started(*queue_log_sensor)
    monkeypatch.setattr(automation, "WAITING_RUN_MAX_AGE", timedelta(0))  # (instead of waiting an hour)
    assert len(queue_log_sensor[1](cursor).run_requests) == 1


def test_a_failure_that_repeats_is_retried_less_and_less_often():
    """Two minutes after one failed loading run, twice as long after each further one in a row,
    at most an hour: a deterministic failure (a PBX renamed in the setting) was retried every two
    minutes, ~720 failing runs a day (independent audit)."""
    assert [automation.retry_delay(n) for n in (1, 2, 3, 6, 7, 20)] == [
        timedelta(minutes=m) for m in (2, 4, 8, 60, 60, 60)]


def test_failures_in_a_row_are_counted_across_both_loading_jobs(queue_log_sensor, monkeypatch):
    site, tick = queue_log_sensor
    (site / "queue_log").write_text(QUEUESTART)
    first = tick()
    asked = []
    monkeypatch.setattr(automation, "retry_delay", lambda n: asked.append(n) or timedelta(0))
    _sensor_run(tick, dg.DagsterRunStatus.FAILURE)
    _sensor_run(tick, dg.DagsterRunStatus.SUCCESS)
    _sensor_run(tick, dg.DagsterRunStatus.FAILURE, job_name="refresh_everything")
    _sensor_run(tick, dg.DagsterRunStatus.CANCELED)
    assert len(tick(first.cursor).run_requests) == 1
    assert asked == [2]  # the canceled and the failed run since the last that finished


def test_run_key_is_stable_for_the_same_versions():
    versions = {"queue_log:ab12": 10, "export:/a/queue_log.csv": [5, 2]}
    assert run_key_for(versions) == run_key_for(dict(reversed(list(versions.items()))))
    assert changed_files(versions, {**versions, "queue_log:ab12": 20}) == {"queue_log:ab12": 20}


def test_daily_schedule_runs_in_the_reporting_time_zone(make_settings):
    defs = build_definitions(make_settings(SWITCHBOARD_TIMEZONE="America/Bogota"))
    schedule = defs.resolve_schedule_def("daily_refresh")
    assert schedule.execution_timezone == "America/Bogota"
    assert schedule.job_name == "refresh_everything"
