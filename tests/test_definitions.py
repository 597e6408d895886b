"""The Dagster graph: a snapshot of its shape, and the sensor and schedule behaviour.

The snapshot (tests/__snapshots__/) fails on any renamed key or broken dlt→dbt lineage; update
it deliberately with `pytest tests/test_definitions.py --snapshot-update`.
"""

from __future__ import annotations

import json

import dagster as dg

from assets.automation import changed_files, run_key_for
from definitions import build_definitions


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
        }
    checks = sorted(f"{c.asset_key.to_user_string()}:{c.name}" for c in graph.asset_check_keys)
    return {
        "assets": assets,
        "checks": checks,
        "jobs": sorted(j.name for j in defs.jobs),
        "sensors": sorted(s.name for s in defs.sensors),
        "schedules": sorted((s.name, s.cron_schedule, s.execution_timezone) for s in defs.schedules),
    }


def test_asset_graph_snapshot(make_settings, snapshot):
    defs = build_definitions(make_settings())
    assert graph_shape(defs) == snapshot


def test_every_layer_key_is_where_design_says(make_settings):
    keys = {k.to_user_string() for k in build_definitions(make_settings()).resolve_asset_graph().get_all_asset_keys()}
    assert {"raw/asterisk/queue_log", "raw/asterisk/queue_log_table", "raw/asterisk/cdr"} <= keys
    assert {"marts/fct_queue_visits", "marts/agg_queue_daily", "marts/agg_queue_interval",
            "marts/agg_agent_daily", "marts/agg_agent_pause_daily", "serving/marts_copy"} <= keys
    assert all(k.split("/")[0] in {"raw", "staging", "intermediate", "marts", "serving"} for k in keys)


def test_runs_execute_in_process_unless_configured(make_settings):
    assert build_definitions(make_settings()).executor.name == "in_process"
    assert build_definitions(make_settings(SWITCHBOARD_RUN_EXECUTOR="multiprocess")).executor.name == "multiprocess"


def test_writers_share_one_pool(make_settings):
    graph = build_definitions(make_settings()).resolve_asset_graph()
    for key in graph.materializable_asset_keys:
        assert graph.get(key).pools == {"warehouse_writer"}, key


def test_sensor_requests_one_run_per_file_version(make_settings, tmp_path):
    site = tmp_path / "pbx"
    site.mkdir()
    log = site / "queue_log"
    log.write_text("1709546400|NONE|NONE|NONE|QUEUESTART|\n")
    settings = make_settings(SWITCHBOARD_QUEUE_LOG_DIRS=f"lab={site}")
    defs = build_definitions(settings)
    sensor = defs.get_sensor_def("asterisk_files_sensor")

    with dg.instance_for_test() as instance:
        first = sensor(dg.build_sensor_context(instance=instance, definitions=defs))
        assert len(first.run_requests) == 1
        cursor = first.cursor
        assert json.loads(cursor).keys() == {str(log)}

        idle = sensor(dg.build_sensor_context(instance=instance, definitions=defs, cursor=cursor))
        assert not idle.run_requests

        with open(log, "a") as fh:
            fh.write("1709546401|NONE|NONE|NONE|CONFIGRELOAD|\n")
        grown = sensor(dg.build_sensor_context(instance=instance, definitions=defs, cursor=cursor))
        assert len(grown.run_requests) == 1
        assert grown.run_requests[0].run_key != first.run_requests[0].run_key


def test_run_key_is_stable_for_the_same_versions():
    versions = {"/a/queue_log": [10, 1], "/a/queue_log-20240101.gz": [5, 2]}
    assert run_key_for(versions) == run_key_for(dict(reversed(list(versions.items()))))
    assert changed_files(versions, {**versions, "/a/queue_log": [20, 3]}) == {"/a/queue_log": [20, 3]}


def test_daily_schedule_runs_in_the_reporting_time_zone(make_settings):
    defs = build_definitions(make_settings(SWITCHBOARD_TIMEZONE="America/Bogota"))
    schedule = defs.get_schedule_def("daily_refresh")
    assert schedule.execution_timezone == "America/Bogota"
    assert schedule.job_name == "refresh_everything"
