"""Jobs, the queue_log sensor, the daily schedule and declarative automation."""


import hashlib
import json
from datetime import UTC, datetime, timedelta

import dagster as dg

from pipelines.asterisk import log_streams
from pipelines.asterisk.source import QUEUE_LOG_EXPORT_NAMES, AsteriskConfig
from switchboard.settings import Settings

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


def file_versions(config: AsteriskConfig) -> dict[str, int | list[int]]:
    """What the Asterisk source would read, as comparable versions.

    An append-only log (queue_log, Master.csv) is versioned by its stream - its identity, not its
    name - and the bytes it holds: renaming, compressing, copying or touching a log changes
    neither, so none of them starts a run (the source would read nothing new); appending does,
    and so does a log truncated and written again. A live file without a complete first line
    yet is not a stream. A realtime-table export is read whole when it changes: by path, size
    and modification time, as the source decides.
    """
    versions: dict[str, int | list[int]] = {}
    for kind, locations, names in (("queue_log", config.queue_log_locations, log_streams.QUEUE_LOG_NAMES),
                                   ("cdr", config.cdr_locations, log_streams.CDR_CSV_NAMES)):
        streams, _waiting = log_streams.group_streams(_existing(log_streams.discover(list(locations), names)))
        versions.update({f"{kind}:{stream.stream_id}": stream.best.size for stream in streams})
    for export in _existing(log_streams.discover(list(config.queue_log_locations), QUEUE_LOG_EXPORT_NAMES)):
        versions[f"export:{export.path}"] = [export.size, export.mtime_ns]
    return versions


def _existing(files: list[log_streams.LogFile]) -> list[log_streams.LogFile]:
    """The files still there (a rotation may move one between listing and reading it)."""
    return [f for f in files if f.path.exists()]


def changed_files(previous: dict[str, object], current: dict[str, object]) -> dict[str, object]:
    return {key: version for key, version in current.items() if previous.get(key) != version}


def run_key_for(changed: dict[str, object]) -> str:
    """One run per set of versions: the same versions never start a second run."""
    payload = json.dumps(sorted(changed.items()), separators=(",", ":"))
    return "queue_log:" + hashlib.sha256(payload.encode()).hexdigest()[:20]


# A run still not started after this long is taken for stuck (e.g. never launched), not waiting.
WAITING_RUN_MAX_AGE = timedelta(hours=1)


def _waiting_run(instance: dg.DagsterInstance) -> str | None:
    """A run of the Asterisk job that has not started yet: it will read every new byte when it
    does, so a second one behind it would only queue up (a live PBX appends every few seconds,
    a run takes longer than the sensor's interval)."""
    runs = instance.get_run_records(
        filters=dg.RunsFilter(
            job_name=asterisk_refresh.name,
            statuses=[dg.DagsterRunStatus.QUEUED, dg.DagsterRunStatus.NOT_STARTED, dg.DagsterRunStatus.STARTING],
            created_after=datetime.now(UTC) - WAITING_RUN_MAX_AGE,
        ),
        limit=1,
    )
    return runs[0].dagster_run.run_id if runs else None


def build_queue_log_sensor(settings: Settings) -> dg.SensorDefinition:
    config = AsteriskConfig.from_settings(settings)

    @dg.sensor(
        name="asterisk_files_sensor",
        job=asterisk_refresh,
        minimum_interval_seconds=30,
        default_status=dg.DefaultSensorStatus.RUNNING,
        description="Starts a run when the queue_log / Master.csv logs in the configured places gain bytes "
                    "(not for a rotation, copy or touch), one at a time.",
    )
    def asterisk_files_sensor(context: dg.SensorEvaluationContext) -> dg.SensorResult:
        previous = json.loads(context.cursor) if context.cursor else {}
        try:
            current = file_versions(config)  # the cursor holds only what exists now: bounded
        except FileNotFoundError as gone:  # a rotation moved a file while it was being looked at
            return dg.SensorResult(skip_reason=f"{gone.filename} moved while being read; looking again next time")
        changed = changed_files(previous, current)
        if not changed:
            return dg.SensorResult(skip_reason="no new bytes in the Asterisk files", cursor=json.dumps(current))
        waiting = _waiting_run(context.instance)
        if waiting:
            # the cursor stays: what changed after that run starts is still seen next time
            return dg.SensorResult(skip_reason=f"new bytes are left to run {waiting}, which has not started yet")
        return dg.SensorResult(
            run_requests=[dg.RunRequest(run_key=run_key_for(changed), tags={"switchboard/changed_files": str(len(changed))})],
            cursor=json.dumps(current),
        )

    return asterisk_files_sensor


def build_daily_schedule(settings: Settings) -> dg.ScheduleDefinition:
    return dg.ScheduleDefinition(
        name="daily_refresh",
        job=refresh_everything,
        cron_schedule="15 0 * * *",
        execution_timezone=settings.timezone,
        default_status=dg.DefaultScheduleStatus.RUNNING,
        description="Rebuild everything shortly after local midnight, so yesterday's figures close.",
    )


automation_sensor = dg.AutomationConditionSensorDefinition(
    "downstream_automation",
    target=dg.AssetSelection.all(),
    default_status=dg.DefaultSensorStatus.RUNNING,
    description="Keeps dbt models and the serving copy up to date after any raw load (eager conditions).",
)
