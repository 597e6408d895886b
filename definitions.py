"""Builds Switchboard's Dagster Definitions from the one settings object.

`dagster dev -f definitions.py` (or workspace.yaml) loads `defs`; tests call
`build_definitions(settings)` with their own settings.
"""

from __future__ import annotations

import warnings

import dagster as dg

from assets.asterisk_raw import build_asterisk_raw_assets
from assets.automation import (
    asterisk_refresh,
    automation_sensor,
    build_daily_schedule,
    build_queue_log_sensor,
    refresh_everything,
)
from assets.quality import build_quality_checks
from assets.run_history import build_run_history_job, build_run_history_schedule
from assets.serving import build_serving_asset
from assets.transform import build_dbt_assets, dbt_resource
from assets.webex_raw import (
    build_webex_backfill_job,
    build_webex_poll_sensor,
    build_webex_raw_assets,
    webex_poll,
)
from resources.dbt import ensure_manifest
from resources.warehouse import WarehouseResource
from switchboard.settings import Settings, load_settings


def build_definitions(settings: Settings) -> dg.Definitions:
    ensure_manifest()
    # Every asset links to its source in the UI: the Python ones to their function, dbt models to
    # their SQL (transform.py). Code references are beta in Dagster 1.13: their warnings, at every
    # load of the code, would tell an operator nothing.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", dg.BetaWarning)
        dbt = build_dbt_assets(settings)
        mart_keys = sorted((k for k in dbt.keys if k.path[0] == "marts"), key=lambda k: k.to_user_string())
        python_assets = dg.with_source_code_references(
            [build_asterisk_raw_assets(settings), build_webex_raw_assets(settings), build_serving_asset(mart_keys)])
    checks = build_quality_checks()
    check_keys = [key for definition in (*python_assets, dbt, *checks) for key in definition.check_keys]
    return dg.Definitions(
        assets=[*python_assets, dbt],
        asset_checks=checks,
        jobs=[refresh_everything, asterisk_refresh, webex_poll, build_webex_backfill_job(),
              build_run_history_job(check_keys)],
        sensors=[build_queue_log_sensor(settings), build_webex_poll_sensor(settings), automation_sensor],
        schedules=[build_daily_schedule(settings), build_run_history_schedule(settings)],
        executor=run_executor(settings),
        resources={
            "dbt": dbt_resource(),
            "warehouse": WarehouseResource(url=settings.warehouse_url),
            "settings": dg.ResourceDefinition.hardcoded_resource(settings),
        },
    )


def run_executor(settings: Settings) -> dg.ExecutorDefinition:
    """In-process by default: every step of the multiprocess executor starts a Python process
    that loads these definitions again (dagster, dlt, the dbt manifest: 13-19 s per step on this
    2-core machine), while the warehouse pool lets one writing step run at a time anyway. The
    Asterisk refresh of a small site: 40-42 s in process, 85 s with a process per step."""
    return dg.in_process_executor if settings.run_executor == "in_process" else dg.multiprocess_executor


@dg.definitions
def defs() -> dg.Definitions:
    return build_definitions(load_settings())
