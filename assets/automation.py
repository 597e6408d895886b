"""Jobs, the queue_log sensor, the daily schedule and declarative automation."""


import hashlib
import json

import dagster as dg

from pipelines.asterisk.source import AsteriskConfig, known_files
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


def file_versions(config: AsteriskConfig) -> dict[str, list[int]]:
    """{path: [size, mtime_ns]} for every file the Asterisk source reads."""
    versions = {}
    for path in known_files(config):
        try:
            st = path.stat()
        except FileNotFoundError:  # rotated away between listing and stat
            continue
        versions[str(path)] = [st.st_size, st.st_mtime_ns]
    return versions


def changed_files(previous: dict[str, list[int]], current: dict[str, list[int]]) -> dict[str, list[int]]:
    return {path: version for path, version in current.items() if previous.get(path) != version}


def run_key_for(changed: dict[str, list[int]]) -> str:
    """One run per set of file versions: the same versions never start a second run."""
    payload = json.dumps(sorted(changed.items()), separators=(",", ":"))
    return "queue_log:" + hashlib.sha256(payload.encode()).hexdigest()[:20]


def build_queue_log_sensor(settings: Settings) -> dg.SensorDefinition:
    config = AsteriskConfig.from_settings(settings)

    @dg.sensor(
        name="asterisk_files_sensor",
        job=asterisk_refresh,
        minimum_interval_seconds=30,
        default_status=dg.DefaultSensorStatus.RUNNING,
        description="Starts a run when queue_log / Master.csv files in the configured places gain bytes or appear.",
    )
    def asterisk_files_sensor(context: dg.SensorEvaluationContext) -> dg.SensorResult:
        previous = json.loads(context.cursor) if context.cursor else {}
        current = file_versions(config)  # the cursor holds only files that exist now: bounded
        changed = changed_files(previous, current)
        if not changed:
            return dg.SensorResult(skip_reason="no new bytes in the Asterisk files", cursor=json.dumps(current))
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
