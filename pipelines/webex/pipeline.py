"""The dlt pipelines that load Webex into raw_webex, runnable without Dagster.

Polls and backfills are two pipelines over one dataset: each keeps its own state (the poll's
stream cursor and CSV files read; a backfill has none worth keeping), both merge into the same
tables on the same keys. They load one at a time: a run decides while it reads whether a
record is new (plain append) or replaces a stored one (merge), so two runs reading at once
would both append a record they both fetched. A backfill waits for a poll to end; a poll that
finds a backfill loading is skipped (the next one goes on from the stream cursor), rather than
hold its run, and Dagster's warehouse pool, for a backfill's length. The lock is a file beside
the pipelines' folders, in the state folder every Webex run shares (as it shares the request
budget).
"""

from __future__ import annotations

import logging
import os
from contextlib import ExitStack
from datetime import datetime
from pathlib import Path

import dlt
import httpx
import polars as pl
from dlt.pipeline.exceptions import PipelineStepFailed

from pipelines.destination import fresh_run, loader_file_format, loader_pipeline
from pipelines.file_lock import FileLock, LockHeld
from pipelines.webex.cdr_normalize import CDR_COLUMNS
from pipelines.webex.client import WebexApiError
from pipelines.webex.oauth import WebexAuthError
from pipelines.webex.source import BACKFILL, POLL, WebexConfig, WebexReport, webex_source
from switchboard.gc_freeze import existing_objects_frozen
from switchboard.settings import Settings
from switchboard.warehouse_url import WarehouseURL

DATASET = "raw_webex"
log = logging.getLogger(__name__)


class WebexRunStopped(RuntimeError):
    """The API stopped a run part-way (a refused request, a dead token). What was read before is
    loaded (`report`); `cause` is the error a person needs to act on."""

    def __init__(self, cause: Exception, report: WebexReport):
        cdr = report.cdr
        super().__init__(f"{cause} — loaded what was read before it ({cdr.windows} whole CDR windows, "
                         f"{cdr.loaded} records); the next poll goes on from the last whole stream window, and a "
                         "backfill run again for its range merges what is new")
        self.cause, self.report = cause, report

def webex_pipeline(settings: Settings, name: str = "webex") -> dlt.Pipeline:
    return loader_pipeline(settings, name, DATASET, progress="log")


def run_poll(settings: Settings, report: WebexReport | None = None, *, config: WebexConfig | None = None,
             **source_options) -> WebexReport:
    """Control Hub CSV drops + cdr_stream since the stored cursor + the directory when due."""
    return _run(settings, "webex", report, config, mode=POLL, **source_options)


def run_backfill(settings: Settings, since: datetime, until: datetime, report: WebexReport | None = None, *,
                 config: WebexConfig | None = None, **source_options) -> WebexReport:
    """cdr_feed windows covering [since, until) (clipped to the 30 days the feed keeps)."""
    return _run(settings, "webex_backfill", report, config, mode=BACKFILL, since=since, until=until,
                **source_options)


def raw_webex_lock_path(pipeline: dlt.Pipeline) -> Path:
    """The lock every run that loads raw_webex holds, beside the pipelines' working folders."""
    return Path(pipeline.working_dir).with_name(f".{DATASET}.lock")


def _run(settings, name, report, config, **source_options) -> WebexReport:
    # A key Webex adds appears in some pages and not in others, so Arrow batches of one table
    # may differ by columns; dlt's lossless promotion merges them (its default demands equal schemas).
    os.environ.setdefault("DATA_WRITER__ARROW_CONCAT_PROMOTE_OPTIONS", "default")
    report = report or WebexReport()
    config = config or WebexConfig.from_settings(settings)
    pipeline = webex_pipeline(settings, name)
    with ExitStack() as held:
        try:
            held.enter_context(FileLock(raw_webex_lock_path(pipeline), wait=source_options["mode"] == BACKFILL))
        except LockHeld:
            report.skipped = ("another Webex run (a backfill) is loading raw_webex: this poll is skipped, the next "
                              "one goes on from the stream cursor")
            log.warning(report.skipped)
            return report
        return _run_locked(settings, pipeline, report, config, **source_options)


def _run_locked(settings, pipeline, report, config, **source_options) -> WebexReport:
    if settings.warehouse.is_duckdb:
        create_duckdb_cdr_table(settings.warehouse)
    with ExitStack() as owned, fresh_run(pipeline), existing_objects_frozen():
        if source_options.get("http") is None:  # the run's own client, closed with it
            source_options["http"] = owned.enter_context(
                httpx.Client(timeout=config.http_timeout_seconds, follow_redirects=False))
        try:
            info = pipeline.run(webex_source(config, report, **source_options), loader_file_format=loader_file_format(settings.warehouse))
        except PipelineStepFailed as exc:
            # A refused token or request is the message a person needs, not dlt's wrapping of it.
            cause = _root_cause(exc, (WebexAuthError, WebexApiError))
            if cause is not None:
                raise cause from None
            raise
    report.load_id = info.loads_ids[-1] if info.loads_ids else None
    for name_, counts in (("cdr", report.cdr), ("people", report.people), ("locations", report.locations)):
        if not counts.balanced:  # cannot happen by construction; never hide it if it does
            raise RuntimeError(f"webex {name_}: records read do not add up: {counts.as_metadata()}")
    if report.errors:
        raise WebexRunStopped(report.errors[0], report)
    return report


_DUCKDB_TYPES = {pl.String: "VARCHAR", pl.Int64: "BIGINT", pl.Float64: "DOUBLE", pl.Boolean: "BOOLEAN",
                 pl.Datetime: "TIMESTAMP WITH TIME ZONE"}


def create_duckdb_cdr_table(warehouse: WarehouseURL) -> None:
    """Creates raw_webex.cdr in a DuckDB warehouse, when missing, as dlt would (it then only adds
    the columns of new keys) but with `raw_record` compressed by zstd: the record's JSON text is
    most of a row's bytes, and DuckDB's default string compression costs three times as much to
    write it (~45 µs a record against ~16) and takes four times the space (bench.webex_ingest).
    A table that exists already is left as it is (DuckDB cannot change a column's compression)."""
    import duckdb

    columns = ", ".join(
        f'"{name}" {_DUCKDB_TYPES[dtype.base_type()]}' + (" USING COMPRESSION zstd" if name == "raw_record" else "")
        for name, dtype in CDR_COLUMNS.items())
    Path(warehouse.duckdb_path).parent.mkdir(parents=True, exist_ok=True)
    with duckdb.connect(str(warehouse.duckdb_path)) as con:
        con.execute(f"create schema if not exists {DATASET}")
        con.execute(f"create table if not exists {DATASET}.cdr ({columns})")


def _root_cause(exc: BaseException, types: tuple[type, ...]) -> BaseException | None:
    seen = set()
    while exc is not None and id(exc) not in seen:
        if isinstance(exc, types):
            return exc
        seen.add(id(exc))
        exc = exc.__cause__ or exc.__context__
    return None
