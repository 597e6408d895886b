"""Raw Webex assets, the day-partitioned CDR backfill job and the stream-polling sensor.

- `webex_raw` (multi-asset, not subsettable): one poll writes raw/webex/cdr, cdr_rejects, people
  and locations — Control Hub CSV drops, cdr_stream since the stored cursor, the directory
  hourly. Unconfigured Webex still creates the four tables, empty and typed. In the poll job, a
  table the poll did not change is observed (with the poll's counts), not materialized, so the
  models that read it are not rebuilt every five minutes for nothing.
- `webex_cdr_backfill` (job, daily UTC partitions over the 30 days cdr_feed keeps): one
  partition = cdr_feed windows for that day; each run records materializations of
  raw/webex/cdr and raw/webex/cdr_rejects with its counts.
- `webex_poll_sensor`: requests a poll at most every 5 minutes (the rate budget allows one new
  window a minute; a poll normally needs one) and never while one is queued or running.

Every writer is in the warehouse pool; every CDR request, whichever run sends it, takes its slot
in the one request budget (pipelines/webex/request_budget.py).
"""

from datetime import UTC, datetime, timedelta

import dagster as dg

from assets.automation import reads_what_never_was_built, refresh_everything, whole_job_request
from pipelines.dlt_logging import quiet_dlt_hints
from pipelines.webex.pipeline import WebexRunStopped, run_backfill, run_poll
from pipelines.webex.source import WebexConfig, WebexReport
from resources.dbt import raw_table_metadata
from resources.warehouse import WAREHOUSE_POOL
from switchboard.settings import Settings

WEBEX_RAW = dg.AssetSelection.key_prefixes(["raw", "webex"])
POLL_INTERVAL_SECONDS = 300
BACKFILL_DAYS = 30

RAW_WEBEX_TABLES = {
    "cdr": "Webex Calling CDRs (cdr_stream, cdr_feed, Control Hub CSV): one row per Report ID, newest Report "
           "time wins; every key normalised and typed, new keys kept, raw record kept.",
    "cdr_rejects": "Webex records, pages, files and directory items that could not be read, with the reason "
                   "and the exact text.",
    "people": "Webex people (paged /v1/people) with base64 ids decoded to the UUIDs CDRs carry.",
    "locations": "Webex locations (paged /v1/locations) with base64 ids decoded to the UUIDs CDRs carry.",
}


def raw_webex_key(table: str) -> dg.AssetKey:
    return dg.AssetKey(["raw", "webex", table])


def _metadata(report: WebexReport, table: str) -> dict:
    counts = {"people": report.people, "locations": report.locations}.get(table, report.cdr)
    meta = {"load_id": report.load_id or "", **counts.as_metadata()}
    if report.skipped:
        meta["skipped"] = report.skipped
    if table in ("cdr", "cdr_rejects"):
        meta.update({f"api_{k}": v for k, v in report.client.items()})
        meta["stream_cursor"] = report.stream_cursor or ""
    return meta


def changed_tables(report: WebexReport) -> set[str]:
    """The raw tables a poll wrote to: CDR rows new or newer than stored, rejects, a directory refresh."""
    changed = set()
    if report.cdr.loaded:
        changed.add("cdr")
    if report.cdr.rejected or report.people.rejected or report.locations.rejected:
        changed.add("cdr_rejects")
    for table, counts in (("people", report.people), ("locations", report.locations)):
        if counts.records_read:
            changed.add(table)
    return changed


def build_webex_raw_assets(settings: Settings) -> dg.AssetsDefinition:
    WebexConfig.from_settings(settings)  # fail fast, naming the setting, on a bad configuration
    quiet_dlt_hints()
    kind = "duckdb" if settings.warehouse.is_duckdb else "postgres"
    tables = raw_table_metadata("raw_webex", RAW_WEBEX_TABLES)
    specs = [
        dg.AssetSpec(raw_webex_key(table), description=description, group_name="raw", kinds={"dlt", kind},
                     metadata=tables[table], skippable=True)
        for table, description in RAW_WEBEX_TABLES.items()
    ]

    @dg.multi_asset(specs=specs, name="webex_raw", can_subset=False, pool=WAREHOUSE_POOL)
    def webex_raw(context: dg.AssetExecutionContext, settings: dg.ResourceParam[Settings]):
        report, stopped = _loaded_report(run_poll, settings)
        if report.skipped:
            context.log.warning(report.skipped)
        context.log.info(f"webex cdr: {report.cdr.as_metadata()}; api: {report.client}")
        # Only the scheduled poll may leave a table unmaterialized: in any other run (a full
        # materialization, one launched by hand) Dagster would skip everything downstream of an
        # output not yielded. A table never materialized is materialized whatever the poll found:
        # eager models wait for their upstream's first materialization.
        polling = context.run.job_name == webex_poll.name
        changed = changed_tables(report)
        for table in RAW_WEBEX_TABLES:
            key = raw_webex_key(table)
            if (not polling or table in changed
                    or context.instance.get_latest_materialization_event(key) is None):
                yield dg.MaterializeResult(asset_key=key, metadata=_metadata(report, table))
            else:
                context.log_event(dg.AssetObservation(
                    asset_key=key, metadata=_metadata(report, table),
                    description="polled: nothing new for this table (not materialized, nothing downstream rebuilt)"))
        if stopped is not None:  # what was read is loaded and recorded above; the run still fails
            raise dg.Failure(description=str(stopped))

    return webex_raw


def _loaded_report(run, settings: Settings, *args) -> tuple[WebexReport, WebexRunStopped | None]:
    """The report of a poll or backfill, also of one the API stopped part-way (what it read is loaded)."""
    try:
        return run(settings, *args, WebexReport()), None
    except WebexRunStopped as stopped:
        return stopped.report, stopped


def backfill_partitions(today: datetime | None = None) -> dg.DailyPartitionsDefinition:
    today = (today or datetime.now(UTC)).astimezone(UTC)
    start = (today - timedelta(days=BACKFILL_DAYS)).strftime("%Y-%m-%d")
    return dg.DailyPartitionsDefinition(start_date=start, timezone="UTC", end_offset=1)


def build_webex_backfill_job(partitions: dg.DailyPartitionsDefinition | None = None) -> dg.JobDefinition:
    partitions = partitions or backfill_partitions()

    @dg.op(name="webex_cdr_backfill_day", pool=WAREHOUSE_POOL, out={},
           description="cdr_feed windows (≤12 h, overlapping) for one UTC day, merged into raw_webex.cdr.")
    def webex_cdr_backfill_day(context: dg.OpExecutionContext, settings: dg.ResourceParam[Settings]):
        window = context.partition_time_window
        if not settings.webex_api_configured:
            context.log.info("Webex API not configured (WEBEX_CLIENT_ID …): nothing to backfill")
            return
        report, stopped = _loaded_report(run_backfill, settings, window.start, window.end)
        for part in report.cdr.unavailable:
            context.log.warning(f"not available from cdr_feed: {part}")
        for table in ("cdr", "cdr_rejects"):
            # yielded, not logged: events logged by an op that then fails are dropped with it
            yield dg.AssetMaterialization(
                asset_key=raw_webex_key(table),
                description=f"cdr_feed backfill of {context.partition_key}",
                metadata={"partition_day": context.partition_key, **_metadata(report, table)},
            )
        if stopped is not None:
            raise dg.Failure(description=str(stopped))

    @dg.job(name="webex_cdr_backfill", partitions_def=partitions,
            description="Backfill Webex CDRs from cdr_feed, one UTC day per partition (the feed keeps 30 days); "
                        "runs share the CDR request budget, so a month takes about an hour.")
    def webex_cdr_backfill():
        webex_cdr_backfill_day()

    return webex_cdr_backfill


webex_poll = dg.define_asset_job(
    "webex_poll", selection=WEBEX_RAW,
    description="Webex raw loads: Control Hub CSV drops, cdr_stream since the cursor, people/locations hourly.",
)


def build_webex_poll_sensor(settings: Settings) -> dg.SensorDefinition:
    config = WebexConfig.from_settings(settings)

    @dg.sensor(
        name="webex_poll_sensor",
        jobs=[webex_poll, refresh_everything],
        minimum_interval_seconds=POLL_INTERVAL_SECONDS,
        default_status=dg.DefaultSensorStatus.RUNNING,
        description="Polls cdr_stream (and the Control Hub CSV folder) every 5 minutes, one poll at a time.",
    )
    def webex_poll_sensor(context: dg.SensorEvaluationContext) -> dg.SensorResult:
        if not config.api_configured and config.control_hub_dir is None:
            return dg.SensorResult(skip_reason="Webex is not configured (WEBEX_CLIENT_ID / WEBEX_CONTROL_HUB_DIR)")
        # (a run of everything polls too)
        busy = [run for job in (webex_poll, refresh_everything) for run in context.instance.get_runs(
            filters=dg.RunsFilter(job_name=job.name, statuses=[
                dg.DagsterRunStatus.QUEUED, dg.DagsterRunStatus.NOT_STARTED, dg.DagsterRunStatus.STARTING,
                dg.DagsterRunStatus.STARTED]),
            limit=1,
        )]
        if busy:
            return dg.SensorResult(skip_reason=f"a Webex poll is still queued or running ({busy[0].job_name})")
        bucket = int(datetime.now(UTC).timestamp()) // POLL_INTERVAL_SECONDS
        # a poll's tables reach the marts through eager automation, which waits for every input of
        # a model to have been built once: until then the poll is a run of everything
        job = refresh_everything if reads_what_never_was_built(context, WEBEX_RAW) else webex_poll
        return dg.SensorResult(run_requests=[whole_job_request(context, job, run_key=f"{job.name}:{bucket}")])

    return webex_poll_sensor
