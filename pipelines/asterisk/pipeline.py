"""The dlt pipeline that loads an Asterisk site into raw_asterisk, runnable without Dagster."""

from __future__ import annotations

import dlt

from pipelines.asterisk.source import AsteriskConfig, IngestReport, asterisk_source
from resources.warehouse import dlt_destination
from switchboard.settings import Settings


def asterisk_pipeline(settings: Settings) -> dlt.Pipeline:
    settings.state_dir.mkdir(parents=True, exist_ok=True)
    return dlt.pipeline(
        pipeline_name="asterisk",
        destination=dlt_destination(settings.warehouse),
        dataset_name="raw_asterisk",
        pipelines_dir=str(settings.state_dir / "dlt"),
        progress="log",
    )


def run_load(settings: Settings, report: IngestReport | None = None) -> IngestReport:
    """One load, exactly as the Dagster asset does it.

    Local working state is dropped first and restored from the warehouse (what dagster-dlt does):
    a package left half-loaded by a killed run is never resumed — resuming would append its
    finished jobs twice — and the source's own clean-up of uncommitted rows takes over instead.
    """
    report = report or IngestReport()
    pipeline = asterisk_pipeline(settings)
    pipeline.drop()
    info = pipeline.run(asterisk_source(AsteriskConfig.from_settings(settings), report), loader_file_format="parquet")
    report.load_id = info.loads_ids[-1] if info.loads_ids else None
    return report
