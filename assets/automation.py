"""Jobs, the queue_log sensor, the daily schedule and declarative automation."""


import hashlib
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING

import dagster as dg

from pipelines.asterisk import log_streams
from pipelines.asterisk.pipeline import asterisk_pipeline
from pipelines.asterisk.source import QUEUE_LOG_EXPORT_NAMES, AsteriskConfig
from pipelines.destination import run_lock_path
from pipelines.file_lock import shared_unless_held
from switchboard.settings import Settings

if TYPE_CHECKING:  # define_asset_job's type, not exported by dagster
    from dagster._core.definitions.unresolved_asset_job_definition import (
        UnresolvedAssetJobDefinition,
    )

ASTERISK_RAW = dg.AssetSelection.key_prefixes(["raw", "asterisk"])
EVERYTHING = dg.AssetSelection.all()

refresh_everything = dg.define_asset_job(
    "refresh_everything", selection=EVERYTHING,
    description="Every asset: all sources, dbt models, checks and the serving copy.",
)
asterisk_refresh = dg.define_asset_job(
    "asterisk_refresh", selection=ASTERISK_RAW.downstream(include_self=True),
    description="Asterisk raw loads and everything built from them.",
)
# the jobs that load the Asterisk files: the sensor's two (_job_for) and the schedule's
ASTERISK_LOADING_JOBS = (asterisk_refresh, refresh_everything)


def whole_job_request(context: dg.SensorEvaluationContext | dg.ScheduleEvaluationContext,
                      job: "UnresolvedAssetJobDefinition", **request: object) -> dg.RunRequest:
    """A run of all of `job`, its assets named in the run. Eager automation ignores an input's
    update by a run that also targeted the model only when the run names its assets: a run of
    the bare job names none, and a sensor run that loaded its files and then failed (killed, or
    a dbt test) made automation start a second build of everything the run was building, beside
    Dagster's retry (independent production audit)."""
    keys = job.selection.resolve(context.repository_def.asset_graph)
    return dg.RunRequest(job_name=job.name, asset_selection=sorted(keys), **request)


def _versioned_files(config: AsteriskConfig, archive_sizes: dict[str, dict[str, list[int]]] | None = None,
                     ) -> list[tuple[str, int | list[int], log_streams.Stream | None]]:
    """What the Asterisk source would read, as (key, comparable version, the stream or None for
    an export).

    An append-only log (queue_log, Master.csv) is versioned by its stream - its identity, not its
    name - and the bytes it holds: renaming, compressing, copying or touching a log changes
    neither, so none of them starts a run (the source would read nothing new); appending does,
    and so does a log truncated and written again. A live file's bytes count up to its last
    newline (the source leaves an unfinished last line for later), and one without a complete
    first line yet is not a stream. A realtime-table export is read whole when it changes: by
    path, size and modification time, as the source decides. `archive_sizes`: per kind, discover's
    memo of measured archives, kept from one tick to the next.
    """
    versions: list[tuple[str, int | list[int], log_streams.Stream | None]] = []
    for kind, locations, names in (("queue_log", config.queue_log_locations, log_streams.QUEUE_LOG_NAMES),
                                   ("cdr", config.cdr_locations, log_streams.CDR_CSV_NAMES)):
        memo = None if archive_sizes is None else archive_sizes.setdefault(kind, {})
        streams, _waiting = log_streams.group_streams(_existing(log_streams.discover(list(locations), names, memo)))
        versions += [(f"{kind}:{stream.stream_id}", log_streams.readable_size(stream.best), stream)
                     for stream in streams]
    for export in _existing(log_streams.discover(list(config.queue_log_locations), QUEUE_LOG_EXPORT_NAMES)):
        versions.append((f"export:{export.path}", [export.size, export.mtime_ns], None))
    return versions


def _existing(files: list[log_streams.LogFile]) -> list[log_streams.LogFile]:
    """The files still there (a rotation may move one between listing and reading it)."""
    return [f for f in files if f.path.exists()]


LOAD_RUNNING = "load running"


def loader_state(settings: Settings) -> dict | str | None:
    """The Asterisk loader's record of what it has read (its dlt resource state: each stream's
    read position, each export's version) as of its last load, from the local copy dlt keeps of
    the warehouse's: the sensor never opens the warehouse (a DuckDB reader would lock out the run
    that writes it).

    LOAD_RUNNING while a load holds the loader's lock (its state is being rewritten); None when
    it cannot be told: no warehouse, no load yet, or a load that did not finish (its packages are
    still pending, so its state may be ahead of the warehouse's).
    """
    if settings.warehouse.is_duckdb and not Path(settings.warehouse.duckdb_path).exists():
        return None
    pipeline = asterisk_pipeline(settings)
    lock = run_lock_path(pipeline)
    if not lock.exists():
        return None  # no load has run with this state folder
    with shared_unless_held(lock) as free:
        if not free:
            return LOAD_RUNNING
        if pipeline.has_pending_data:
            return None
        resources = pipeline.state.get("sources", {}).get("asterisk", {}).get("resources")
    return resources if isinstance(resources, dict) else None


def loaded_versions(files: list[tuple[str, int | list[int], log_streams.Stream | None]],
                    resources: dict) -> dict[str, object]:
    """The versions of `files` (as `_versioned_files` gives them) the loader has nothing left to
    read in, by its state (`loader_state`): a cursor for a sensor that has none, so that a fresh
    Dagster instance starts a run only for bytes not loaded yet."""
    positions = {kind: resources.get(kind, {}).get("streams", {}) for kind in ("queue_log", "cdr")}
    exports = resources.get("queue_log_table", {}).get("files", {})
    # each stream under the identity the loader reads it under (a new generation of a log
    # rewritten in place, a file whose copy sharing its first line is gone)
    read_as: dict[int, str] = {}
    for kind, stored in positions.items():
        streams = [stream for key, _, stream in files if stream is not None and key.startswith(f"{kind}:")]
        known = {stream_id: log_streams.Position(**position) for stream_id, position in stored.items()}
        for stream, read in zip(streams, log_streams.with_read_identities(streams, known), strict=True):
            read_as[id(stream)] = read.stream_id
    loaded: dict[str, object] = {}
    for key, version, stream in files:
        kind, _, name = key.partition(":")
        if stream is None:
            done = exports.get(name) == version
        else:
            position = positions[kind].get(read_as[id(stream)], {})
            offset = position.get("offset")
            done = offset is not None and _nothing_to_read(stream, offset, version, position.get("bytes_read_to"))
        if done:
            loaded[key] = version
    return loaded


def _nothing_to_read(stream: log_streams.Stream, offset: int, readable: int, read_to: int | None = None) -> bool:
    """Whether the loader, at `offset`, would read nothing of the stream (log_streams.plan_read):
    `readable` (its version, log_streams.readable_size of its most complete copy) ends where it
    is read to - its end, or a live log's unfinished last line - or only an older or cut copy
    is left. `read_to`: where the last load read to when that is past `offset` (an unsettled last
    line it reads again once a line follows: nothing new until then)."""
    start, reset = log_streams.plan_read(stream, log_streams.Position(offset))
    if reset:  # the live file truncated and rewritten: read again from the start
        return False
    return readable <= max(start.offset, read_to or 0)


def changed_files(previous: dict[str, object], current: dict[str, object]) -> dict[str, object]:
    return {key: version for key, version in current.items() if previous.get(key) != version}


def run_key_for(changed: dict[str, object]) -> str:
    """One run per set of versions: the same versions never start a second run."""
    payload = json.dumps(sorted(changed.items()), separators=(",", ":"))
    return "queue_log:" + hashlib.sha256(payload.encode()).hexdigest()[:20]


# A run still not started after this long is taken for stuck (e.g. never launched), not waiting.
WAITING_RUN_MAX_AGE = timedelta(hours=1)
# A failed run's bytes are asked for again this long after it ended (not at every 30 s tick while,
# say, a backfill outside Dagster holds a DuckDB warehouse), twice as long after each further
# failure in a row, up to FAILED_RUN_RETRY_MAX: a failure that repeats (a PBX renamed in the
# setting) would otherwise start 720 failing runs a day.
FAILED_RUN_RETRY_AFTER = timedelta(minutes=2)
FAILED_RUN_RETRY_MAX = timedelta(hours=1)


def retry_delay(failures_in_a_row: int) -> timedelta:
    """How long after the last of `failures_in_a_row` unfinished loading runs the sensor asks again."""
    return min(FAILED_RUN_RETRY_AFTER * 2 ** max(0, failures_in_a_row - 1), FAILED_RUN_RETRY_MAX)


SENSOR_NAME = "asterisk_files_sensor"


# The step of a loading job that reads the files (assets/asterisk_raw.py)
LOAD_STEP = "asterisk_raw"
# runs of a job looked at for one waiting or running (a retry that does not load may be newest)
_RUNS_LOOKED_AT = 4


def _loads_files(run: dg.DagsterRun) -> bool:
    """Whether the run reads the files: a retry from failure runs only the steps that did not
    finish (say dbt, after a load that did), and new bytes left to it would wait for a later run."""
    return run.step_keys_to_execute is None or LOAD_STEP in run.step_keys_to_execute


def _newest_loading_run(instance: dg.DagsterInstance, statuses: list[dg.DagsterRunStatus],
                        created_after: datetime | None = None) -> dg.DagsterRun | None:
    """The newest run in `statuses` of a loading job (in ASTERISK_LOADING_JOBS' order) that reads
    the files (`_loads_files`)."""
    for job in ASTERISK_LOADING_JOBS:
        runs = instance.get_run_records(
            filters=dg.RunsFilter(job_name=job.name, statuses=statuses, created_after=created_after),
            limit=_RUNS_LOOKED_AT)
        loading = [record.dagster_run for record in runs if _loads_files(record.dagster_run)]
        if loading:
            return loading[0]
    return None


def _waiting_run(instance: dg.DagsterInstance) -> str | None:
    """A run that loads the Asterisk files and has not started yet: it will read every new byte
    when it does, so a second one behind it would only queue up (a live PBX appends every few
    seconds, a run takes longer than the sensor's interval)."""
    run = _newest_loading_run(
        instance, [dg.DagsterRunStatus.QUEUED, dg.DagsterRunStatus.NOT_STARTED, dg.DagsterRunStatus.STARTING],
        created_after=datetime.now(UTC) - WAITING_RUN_MAX_AGE)
    return run.run_id if run else None


def _started_run(instance: dg.DagsterInstance) -> tuple[str, bool] | None:
    """A run that loads the Asterisk files and is running: (its id, whether its load step has
    started). Before that step it reads every byte there when the step starts, as a run that
    has not started does; from then on only the loader's state tells what it read."""
    run = _newest_loading_run(instance, [dg.DagsterRunStatus.STARTED])
    if run is None:
        return None
    steps = instance.get_records_for_run(run.run_id, of_type=dg.DagsterEventType.STEP_START).records
    return run.run_id, any(record.event_log_entry.step_key == LOAD_STEP for record in steps)


# How a run that did not finish ends: failed, or canceled (by hand, or while still queued)
_UNFINISHED = (dg.DagsterRunStatus.FAILURE, dg.DagsterRunStatus.CANCELED)
# runs looked at per job for failures in a row (the delay reaches its maximum after six)
_RETRY_HISTORY = 8


def _failed_run(instance: dg.DagsterInstance) -> str | None:
    """The newest run that loads the Asterisk files (the sensor's, the schedule's or one launched
    by hand), when it failed or was canceled at least `retry_delay` ago (longer after several in a
    row). The sensor moved its cursor past the bytes it left to that run; whether the run loaded
    them (it can fail after its load, in a dbt test) only the loader's state tells."""
    recent = sorted((record for job in ASTERISK_LOADING_JOBS for record in instance.get_run_records(
        filters=dg.RunsFilter(job_name=job.name), limit=_RETRY_HISTORY)), key=lambda r: r.create_timestamp, reverse=True)
    if not recent or recent[0].dagster_run.status not in _UNFINISHED:
        return None
    in_a_row = next((i for i, record in enumerate(recent) if record.dagster_run.status not in _UNFINISHED), len(recent))
    newest = recent[0]
    ended = newest.end_time or newest.update_timestamp.timestamp()
    if datetime.now(UTC).timestamp() - ended < retry_delay(in_a_row).total_seconds():
        return None
    return newest.dagster_run.run_id


def reads_what_never_was_built(context: dg.SensorEvaluationContext, raw: dg.AssetSelection) -> bool:
    """Whether what is built from `raw` reads an asset it does not build that was never
    materialized in this instance. A sensor's run of its source then has to be a run of
    everything: on a fresh instance of an Issabel-only bank, the Asterisk job's int_agents reads
    the Webex staging models and the agent directory seed, which do not exist yet; of a
    Webex-only bank, eager automation after a poll waits for the Asterisk raw tables, which no
    Asterisk run ever creates (both found by independent audits: runs failing, or Webex data
    reaching no mart until the daily run)."""
    graph = context.repository_def.asset_graph
    built = raw.downstream(include_self=True)
    read = built.upstream().resolve(graph) - built.resolve(graph)
    return any(graph.get(key).is_materializable and context.instance.get_latest_materialization_event(key) is None
               for key in read)


def _job_for(context: dg.SensorEvaluationContext):
    """asterisk_refresh, or everything while what it builds reads an asset never materialized."""
    return refresh_everything if reads_what_never_was_built(context, ASTERISK_RAW) else asterisk_refresh


def build_queue_log_sensor(settings: Settings) -> dg.SensorDefinition:
    config = AsteriskConfig.from_settings(settings)
    # archives measured by decompressing them, remembered between ticks (in the code server)
    archive_sizes: dict[str, dict[str, list[int]]] = {}

    @dg.sensor(
        name=SENSOR_NAME,
        jobs=list(ASTERISK_LOADING_JOBS),
        minimum_interval_seconds=30,
        default_status=dg.DefaultSensorStatus.RUNNING,
        description="Starts a run when the queue_log / Master.csv logs in the configured places gain bytes "
                    "(not for a rotation, copy or touch), one at a time.",
    )
    def asterisk_files_sensor(context: dg.SensorEvaluationContext) -> dg.SensorResult:
        try:
            files = _versioned_files(config, archive_sizes)
            current = {key: version for key, version, _stream in files}  # only what exists now: bounded
            failed = _failed_run(context.instance)
            running = _started_run(context.instance)
            if context.cursor and failed is None and not (running and running[1]):
                previous = json.loads(context.cursor)
            else:
                # A fresh instance (or a reset cursor), after a failed run, or while a run that
                # has begun its load goes on: compare with what the loader has read, not with
                # nothing (every file would start a run that reads no line) nor with the cursor
                # (it moved past what the failed run did not load; new bytes written before the
                # running load read them would start a run that reads no line).
                resources = loader_state(settings)
                if resources == LOAD_RUNNING:
                    return dg.SensorResult(skip_reason="an Asterisk load is running; comparing with what it "
                                                       "read once it ends")
                previous = loaded_versions(files, resources) if resources is not None else {}
        except FileNotFoundError as gone:  # a rotation moved a file while it was being looked at
            return dg.SensorResult(skip_reason=f"{gone.filename} moved while being read; looking again next time")
        changed = changed_files(previous, current)
        if not changed:
            return dg.SensorResult(skip_reason="no new bytes in the Asterisk files", cursor=json.dumps(current))
        waiting = _waiting_run(context.instance) or (running[0] if running and not running[1] else None)
        if waiting:
            # that run reads every byte there when it starts: the cursor moves on, or the next
            # tick would start a run behind it for bytes it has read (what changes after it
            # starts is new to the cursor; should it fail, _failed_run asks for its bytes again)
            return dg.SensorResult(skip_reason=f"new bytes are left to run {waiting}, which has not begun its load yet",
                                   cursor=json.dumps(current))
        job = _job_for(context)
        # (after a failed run the same versions may be asked for again: a key Dagster has not seen)
        key = run_key_for(changed) + (f":after:{failed}" if failed else "")
        return dg.SensorResult(
            run_requests=[whole_job_request(context, job, run_key=key,
                                            tags={"switchboard/changed_files": str(len(changed))})],
            cursor=json.dumps(current),
        )

    return asterisk_files_sensor


# Marts and the serving copy are rebuilt at least once a day (the daily schedule), more often
# when new data comes. Older than this (a day plus two hours for the rebuild and a queued run)
# means the refresh is failing or not running: the UI shows the asset as failing its freshness.
DAILY_FRESHNESS = dg.FreshnessPolicy.time_window(fail_window=timedelta(hours=26), warn_window=timedelta(hours=25))


def build_daily_schedule(settings: Settings) -> dg.ScheduleDefinition:
    @dg.schedule(
        name="daily_refresh",
        job=refresh_everything,
        cron_schedule="15 0 * * *",
        execution_timezone=settings.timezone,
        default_status=dg.DefaultScheduleStatus.RUNNING,
        description="Rebuild everything shortly after local midnight, so yesterday's figures close.",
    )
    def daily_refresh(context: dg.ScheduleEvaluationContext) -> dg.RunRequest:
        return whole_job_request(context, refresh_everything)

    return daily_refresh


automation_sensor = dg.AutomationConditionSensorDefinition(
    "downstream_automation",
    target=dg.AssetSelection.all(),
    default_status=dg.DefaultSensorStatus.RUNNING,
    description="Keeps dbt models and the serving copy up to date after any raw load (eager conditions).",
)
