"""Dagster wiring of the Webex slice: the raw multi-asset, the day-partitioned backfill job, the poll sensor."""

from datetime import UTC, datetime, timedelta

import dagster as dg
import duckdb
from dagster._core.utils import make_new_run_id  # (no public helper for a run id)

from assets.webex_raw import (
    backfill_partitions,
    build_webex_backfill_job,
    build_webex_poll_sensor,
    build_webex_raw_assets,
    raw_webex_key,
    webex_poll,
)
from simulator.sandbox import run_sandbox
from tests.webex_fixtures import cdr_fixture, write_cdr_files


def test_unconfigured_webex_materializes_four_empty_tables(make_settings):
    settings = make_settings()
    result = dg.materialize([build_webex_raw_assets(settings)], resources={"settings": settings})
    assert result.success
    keys = {m.asset_key for m in result.get_asset_materialization_events() for m in [m.materialization]}
    assert keys == {raw_webex_key(t) for t in ("cdr", "cdr_rejects", "people", "locations")}
    with duckdb.connect(str(settings.warehouse.duckdb_path), read_only=True) as con:
        tables = {r[0] for r in con.sql("select table_name from information_schema.tables "
                                        "where table_schema = 'raw_webex'").fetchall()}
    assert {"cdr", "cdr_rejects", "people", "locations"} <= tables


def _recorded(result) -> tuple[set[str], set[str]]:
    """(tables materialized, tables only observed) by a run."""
    materialized = {e.event_specific_data.materialization.asset_key.path[-1] for e in result.all_events
                    if e.event_type_value == "ASSET_MATERIALIZATION"}
    observed = {e.event_specific_data.asset_observation.asset_key.path[-1] for e in result.all_events
                if e.event_type_value == "ASSET_OBSERVATION"}
    return materialized, observed


def test_a_poll_materializes_only_the_tables_it_changed(make_settings, tmp_path):
    drop = tmp_path / "control_hub"
    drop.mkdir()
    settings = make_settings(WEBEX_CONTROL_HUB_DIR=str(drop))
    raw = build_webex_raw_assets(settings)
    defs = dg.Definitions(assets=[raw], jobs=[webex_poll], resources={"settings": settings})
    poll = defs.resolve_job_def(webex_poll.name)
    every = {"cdr", "cdr_rejects", "people", "locations"}
    with dg.instance_for_test() as instance:
        # the first poll ever: all four, though empty (eager models wait for a first materialization)
        assert _recorded(poll.execute_in_process(instance=instance)) == (every, set())
        # nothing new: observed with the poll's counts, nothing materialized, nothing downstream to rebuild
        quiet = poll.execute_in_process(instance=instance)
        assert quiet.success and _recorded(quiet) == (set(), every)
        observation = instance.fetch_observations(raw_webex_key("cdr"), limit=1).records[0].asset_observation
        assert observation.metadata["records_read"].value == 0
        # a Control Hub export with two records and one without a Report ID
        (drop / "export-1.csv").write_text(
            "Report ID,Report time,Start time,Answered,Duration\n"
            "p1,2026-10-01T10:05:00.000Z,2026-10-01T10:00:00.000Z,true,30\n"
            "p2,2026-10-01T11:05:00.000Z,2026-10-01T11:00:00.000Z,false,0\n"
            ",2026-10-01T11:05:00.000Z,2026-10-01T11:00:00.000Z,false,0\n", encoding="utf-8")
        assert _recorded(poll.execute_in_process(instance=instance)) == ({"cdr", "cdr_rejects"},
                                                                        {"people", "locations"})
        latest = instance.get_latest_materialization_event(raw_webex_key("cdr")).asset_materialization
        assert (latest.metadata["loaded"].value, latest.metadata["rejected"].value) == (2, 1)
        # any other run materializes all four: Dagster would skip what is downstream of a missing output
        result = dg.materialize([raw], resources={"settings": settings}, instance=instance)
        assert _recorded(result) == (every, set())


def test_backfill_partition_loads_the_records_that_started_that_day(make_settings, tmp_path):
    now = datetime.now(UTC)
    rows = cdr_fixture(now, 600, oldest=timedelta(hours=40), newest=timedelta(hours=1), seed=21)
    data = tmp_path / "sim"
    write_cdr_files(data, rows)
    day = (now - timedelta(days=1)).strftime("%Y-%m-%d")
    expected = {r["Report ID"] for _, r in rows if r["Start time"].startswith(day)}
    with run_sandbox(data, time_scale=60.0) as sandbox:
        env = {k: v for k, v in sandbox.env().items() if k.startswith("WEBEX_")}
        settings = make_settings(**env, WEBEX_TOKEN_FILE=str(tmp_path / "tokens.json"),
                                 WEBEX_CDR_RATE_WINDOW_SECONDS="1")
        job = build_webex_backfill_job(backfill_partitions(now))
        result = job.execute_in_process(partition_key=day, resources={"settings": settings})
    assert result.success
    events = [e.event_specific_data.materialization for e in result.all_events
              if e.event_type_value == "ASSET_MATERIALIZATION"]
    cdr = next(m for m in events if m.asset_key == raw_webex_key("cdr"))
    assert cdr.metadata["loaded"].value == len(expected) > 0
    assert cdr.metadata["counts_balance"].value is True
    with duckdb.connect(str(settings.warehouse.duckdb_path), read_only=True) as con:
        assert {r[0] for r in con.sql("select report_id from raw_webex.cdr").fetchall()} == expected


def test_backfill_partitions_cover_the_30_days_cdr_feed_keeps():
    now = datetime(2026, 12, 1, 15, tzinfo=UTC)
    keys = backfill_partitions(now).get_partition_keys(current_time=now)
    assert keys[0] == "2026-11-01" and keys[-1] == "2026-12-01"


def test_poll_sensor_skips_unconfigured_webex_and_requests_one_run_per_interval(make_settings, tmp_path):
    from definitions import build_definitions

    with dg.instance_for_test() as instance:
        idle = build_webex_poll_sensor(make_settings())(dg.build_sensor_context(instance=instance))
        assert not idle.run_requests and "not configured" in str(idle.skip_reason)
        drop = tmp_path / "drop"
        drop.mkdir()
        defs = build_definitions(make_settings(WEBEX_CONTROL_HUB_DIR=str(drop)))
        sensor = defs.resolve_sensor_def("webex_poll_sensor")

        def tick():
            return sensor(dg.build_sensor_context(instance=instance, definitions=defs))

        # a fresh instance of a Webex-only bank: eager automation would wait for the Asterisk raw
        # tables (which no Asterisk run creates) before building a mart, so the poll is a run of
        # everything (independent audit: Webex data reached no mart until the daily run)
        first = tick()
        assert [r.job_name for r in first.run_requests] == ["refresh_everything"]
        for key in defs.resolve_asset_graph().materializable_asset_keys:  # as that first run leaves them
            instance.report_runless_asset_event(dg.AssetMaterialization(key))
        polls = tick(), tick()
        assert [r.job_name for r in polls[0].run_requests] == ["webex_poll"]
        assert polls[0].run_requests[0].run_key == polls[1].run_requests[0].run_key  # same 5-minute bucket: one run
        instance.add_run(dg.DagsterRun(job_name="refresh_everything", run_id=make_new_run_id(),
                                       status=dg.DagsterRunStatus.STARTED))
        busy = tick()  # the daily run of everything polls too
        assert not busy.run_requests and "refresh_everything" in str(busy.skip_reason)


def test_a_backfill_the_api_stops_records_what_it_loaded_and_fails_with_the_reason(make_settings, tmp_path):
    now = datetime.now(UTC)
    data = tmp_path / "sim"
    write_cdr_files(data, cdr_fixture(now, 50, oldest=timedelta(hours=40), newest=timedelta(hours=1), seed=22))
    day = (now - timedelta(days=1)).strftime("%Y-%m-%d")
    with run_sandbox(data, time_scale=60.0) as sandbox:
        sandbox.faults.set("webex.cdr_feed", "server_error", count=None, status=400)
        env = {k: v for k, v in sandbox.env().items() if k.startswith("WEBEX_")}
        settings = make_settings(**env, WEBEX_TOKEN_FILE=str(tmp_path / "tokens.json"),
                                 WEBEX_CDR_RATE_WINDOW_SECONDS="1")
        job = build_webex_backfill_job(backfill_partitions(now))
        result = job.execute_in_process(partition_key=day, resources={"settings": settings}, raise_on_error=False)
    assert not result.success
    failure = next(e for e in result.all_events if e.event_type_value == "STEP_FAILURE")
    assert "HTTP 400" in str(failure.event_specific_data.error)
    recorded = {e.event_specific_data.materialization.asset_key for e in result.all_events
                if e.event_type_value == "ASSET_MATERIALIZATION"}
    assert raw_webex_key("cdr") in recorded  # the load (empty here) is recorded before the run fails


def test_a_poll_the_api_stops_records_its_tables_and_fails_with_the_reason(make_settings, tmp_path):
    data = tmp_path / "sim"
    write_cdr_files(data, cdr_fixture(datetime.now(UTC), 20, oldest=timedelta(hours=3),
                                      newest=timedelta(hours=1), seed=23))
    with run_sandbox(data, time_scale=60.0) as sandbox:
        sandbox.faults.set("webex.cdr_stream", "server_error", count=None, status=400)
        env = {k: v for k, v in sandbox.env().items() if k.startswith("WEBEX_")}
        settings = make_settings(**env, WEBEX_TOKEN_FILE=str(tmp_path / "tokens.json"),
                                 WEBEX_CDR_RATE_WINDOW_SECONDS="1")
        defs = dg.Definitions(assets=[build_webex_raw_assets(settings)], jobs=[webex_poll],
                              resources={"settings": settings})
        result = defs.resolve_job_def(webex_poll.name).execute_in_process(raise_on_error=False)
    assert not result.success
    failure = next(e for e in result.all_events if e.event_type_value == "STEP_FAILURE")
    assert "HTTP 400" in str(failure.event_specific_data.error)
    # the first poll ever: all four tables recorded (people and locations were read) before the failure
    assert _recorded(result)[0] == {"cdr", "cdr_rejects", "people", "locations"}
