"""The dlt pipeline that loads an Asterisk site into raw_asterisk, runnable without Dagster."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager

import dlt

from pipelines.asterisk.source import AsteriskConfig, IngestReport, asterisk_source
from pipelines.destination import dlt_destination, fresh_run, use_loader_defaults
from switchboard.gc_freeze import existing_objects_frozen
from switchboard.settings import Settings


@contextmanager
def _no_streamlit_secrets() -> Iterator[None]:
    """dlt's first configuration lookup imports Streamlit to look for secrets there (a third of a
    second to a second, more than reading the new bytes of an append); Switchboard keeps none
    there. Unless Streamlit is already loaded, its import fails (dlt skips it) while dlt sets up."""
    if "streamlit" in sys.modules:
        yield
        return
    sys.modules["streamlit"] = None  # type: ignore[assignment]
    try:
        yield
    finally:
        if "streamlit" in sys.modules and sys.modules["streamlit"] is None:
            del sys.modules["streamlit"]


def asterisk_pipeline(settings: Settings) -> dlt.Pipeline:
    settings.state_dir.mkdir(parents=True, exist_ok=True)
    with _no_streamlit_secrets():
        return _pipeline(settings)


def _pipeline(settings: Settings) -> dlt.Pipeline:
    use_loader_defaults("asterisk")
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
    with fresh_run(pipeline), existing_objects_frozen():
        info = pipeline.run(asterisk_source(AsteriskConfig.from_settings(settings), report),
                            loader_file_format="parquet")
    report.load_id = info.loads_ids[-1] if info.loads_ids else None
    return report
