"""Dagster's run history, kept to a window of days (`SWITCHBOARD_RUN_HISTORY_DAYS`).

Dagster keeps every run and its event log for good. Here a run of the Asterisk sensor's job
holds ~940 events (one materialization per dbt model, one check result per dbt test), 2.6 MB
in the local instance's files; a busy center's sensor can start one a minute, 3.7 GB a day.
The daily `prune_run_history` job deletes finished runs older than the window, with their
events and captured logs, except a run that holds what the UI shows and the automation
conditions read: an asset's latest materialization, observation or run, or a check's latest
result. Runs of a partition (the Webex backfill's days, at most one a day) stay too: the UI shows
which days were loaded from them. Sensor and schedule ticks have their own retention in
dagster.yaml.
"""

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import dagster as dg
from dagster._core.storage.event_log.sqlite.sqlite_event_log import SqliteEventLogStorage

from switchboard.settings import Settings

FINISHED = [dg.DagsterRunStatus.SUCCESS, dg.DagsterRunStatus.FAILURE, dg.DagsterRunStatus.CANCELED]
PRUNE_JOB = "prune_run_history"
PARTITION_TAG = "dagster/partition"
# runs listed per query
BATCH = 500


@dataclass
class PrunedRuns:
    deleted: int = 0
    kept_for_latest_events: int = 0
    kept_partition_runs: int = 0


def runs_holding_latest_events(instance: dg.DagsterInstance, check_keys: Iterable[dg.AssetCheckKey]) -> set[str]:
    """Run ids of every asset's latest materialization, observation and run, and of every
    check's latest execution."""
    held: set[str] = set()
    for record in instance.get_asset_records():
        entry = record.asset_entry
        for event in (entry.last_materialization, entry.last_observation):
            if event is not None:
                held.add(event.run_id)
        if entry.last_run_id:
            held.add(entry.last_run_id)
    executions = instance.event_log_storage.get_latest_asset_check_execution_by_key(list(check_keys))
    held.update(execution.run_id for execution in executions.values())
    return held


def prune_runs(instance: dg.DagsterInstance, created_before: datetime,
               check_keys: Iterable[dg.AssetCheckKey] = ()) -> PrunedRuns:
    """Delete finished runs created before `created_before` (an aware datetime), their events
    and captured logs, but not the runs holding latest events (runs_holding_latest_events)."""
    held = runs_holding_latest_events(instance, check_keys)
    pruned = PrunedRuns()
    for run in _finished_runs(instance, created_before):
        if PARTITION_TAG in run.tags:
            pruned.kept_partition_runs += 1
        elif run.run_id in held:
            pruned.kept_for_latest_events += 1
        else:
            _delete_run(instance, run.run_id)
            pruned.deleted += 1
    return pruned


def _finished_runs(instance: dg.DagsterInstance, created_before: datetime) -> list[dg.DagsterRun]:
    # all of them before deleting any: a page's cursor is a run id, which a delete would remove
    runs: list[dg.DagsterRun] = []
    while True:
        records = instance.get_run_records(
            filters=dg.RunsFilter(statuses=FINISHED, created_before=created_before),
            limit=BATCH, cursor=runs[-1].run_id if runs else None, ascending=True,
        )
        if not records:
            return runs
        runs.extend(record.dagster_run for record in records)


def _delete_run(instance: dg.DagsterInstance, run_id: str) -> None:
    instance.delete_run(run_id)
    # the local instance keeps each run's events in a file of its own, which a delete empties
    # but does not shrink
    storage = instance.event_log_storage
    if isinstance(storage, SqliteEventLogStorage):
        for suffix in ("", "-wal", "-shm"):
            Path(storage.path_for_shard(run_id) + suffix).unlink(missing_ok=True)
    instance.compute_log_manager.delete_logs(prefix=[run_id])


def build_run_history_job(check_keys: Iterable[dg.AssetCheckKey]) -> dg.JobDefinition:
    """The daily pruning job; `check_keys` are the definitions' asset checks, whose latest results
    stay."""
    check_keys = sorted(check_keys, key=lambda key: key.to_user_string())

    @dg.op(
        description="Deletes finished runs older than SWITCHBOARD_RUN_HISTORY_DAYS, with their events and "
        "logs, keeping those that hold an asset's or a check's latest result.",
        required_resource_keys={"settings"},
    )
    def prune_old_runs(context: dg.OpExecutionContext) -> dg.Output[None]:
        settings: Settings = context.resources.settings
        created_before = datetime.now(UTC) - timedelta(days=settings.run_history_days)
        pruned = prune_runs(context.instance, created_before, check_keys)
        context.log.info(f"deleted {pruned.deleted} runs created before {created_before:%Y-%m-%d %H:%M} UTC; "
                         f"kept {pruned.kept_for_latest_events} that hold an asset's or a check's latest result "
                         f"and {pruned.kept_partition_runs} runs of a partition")
        return dg.Output(None, metadata={"runs_deleted": pruned.deleted,
                                         "runs_kept_for_latest_events": pruned.kept_for_latest_events,
                                         "runs_of_a_partition_kept": pruned.kept_partition_runs,
                                         "created_before": created_before.isoformat()})

    @dg.job(name=PRUNE_JOB, description="Keeps Dagster's run history to SWITCHBOARD_RUN_HISTORY_DAYS days.",
            metadata={"checks_whose_latest_result_stays": len(check_keys)})
    def prune_run_history() -> None:
        prune_old_runs()

    return prune_run_history


def build_run_history_schedule(settings: Settings) -> dg.ScheduleDefinition:
    return dg.ScheduleDefinition(
        name="daily_run_history_pruning",
        job_name=PRUNE_JOB,
        cron_schedule="45 1 * * *",
        execution_timezone=settings.timezone,
        default_status=dg.DefaultScheduleStatus.RUNNING,
        description="Deletes runs older than SWITCHBOARD_RUN_HISTORY_DAYS once a day.",
    )
