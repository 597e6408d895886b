"""The dlt pipeline that loads an Asterisk site into raw_asterisk, runnable without Dagster."""

from __future__ import annotations

import dlt

from pipelines.asterisk.source import AsteriskConfig, IngestReport, asterisk_source
from pipelines.destination import fresh_run, loader_file_format, loader_pipeline
from switchboard.gc_freeze import existing_objects_frozen
from switchboard.settings import Settings


def asterisk_pipeline(settings: Settings) -> dlt.Pipeline:
    return loader_pipeline(settings, "asterisk", "raw_asterisk", progress="log")


def run_load(settings: Settings, report: IngestReport | None = None) -> IngestReport:
    """One load, exactly as the Dagster asset does it.

    Local working state is dropped first and restored from the warehouse (what dagster-dlt does):
    a package left half-loaded by a killed run is never resumed — resuming would append its
    finished jobs twice — and the source's own clean-up of uncommitted rows takes over instead.
    """
    report = report or IngestReport()
    pipeline = asterisk_pipeline(settings)
    with fresh_run(pipeline), existing_objects_frozen():
        info = pipeline.run(asterisk_source(AsteriskConfig.from_settings(settings), report),
                            loader_file_format=loader_file_format(settings.warehouse))
    report.load_id = info.loads_ids[-1] if info.loads_ids else None
    return report
