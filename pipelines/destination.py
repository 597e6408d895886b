"""The dlt destination of the warehouse and Switchboard's dlt defaults for its loaders, without
importing Dagster (a stand-alone load would spend about a second of its start-up on it)."""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import dlt
from dlt.common.destination.exceptions import DestinationUndefinedEntity
from dlt.destinations.exceptions import DatabaseUndefinedRelation

from pipelines.file_lock import FileLock
from switchboard.settings import Settings
from switchboard.warehouse_url import WarehouseURL

# Raw tables carry no meaning in their physical row order (every model orders by its own keys),
# so DuckDB may insert a load file's row groups in whatever order its threads finish them:
# 10M queue_log rows insert in 6.8 s instead of 7.9 s. dbt's DuckDB profile sets the same.
DUCKDB_LOAD_CONFIG = {"preserve_insertion_order": False}


def dlt_destination(location: WarehouseURL):
    if location.is_duckdb:
        from dlt.destinations.impl.duckdb.configuration import DuckDbCredentials

        Path(location.duckdb_path).parent.mkdir(parents=True, exist_ok=True)
        credentials = DuckDbCredentials(None, global_config=dict(DUCKDB_LOAD_CONFIG))
        # The path is set, not passed: dlt parses a passed string as a connection URL first,
        # which imports SQLAlchemy (a quarter of a second of a stand-alone load's start-up).
        credentials.database = str(location.duckdb_path)
        # dlt runs a DuckDB SQL job (a merge's DELETE then INSERT) in one transaction only when
        # told the destination has them: otherwise each statement commits alone, and a run killed
        # between the two lost the replaced rows until the API served them again.
        return dlt.destinations.duckdb(credentials=credentials, supports_transactions=True)
    return dlt.destinations.postgres(credentials=location.postgres_dsn())


def loader_file_format(location: WarehouseURL) -> str:
    """The load files a loader writes: parquet for DuckDB, which inserts them as they are; CSV for
    Postgres, which copies them in (parquet there needs dlt's ADBC driver: without it dlt wrote CSV
    anyway, after two warnings per table on every run)."""
    return "parquet" if location.is_duckdb else "csv"


def use_loader_defaults(pipeline_name: str) -> None:
    """Switchboard's dlt settings for one loader pipeline, unless the environment sets them.

    dlt reads its settings from the environment when a pipeline is made and runs, so they are put
    there (scoped to the pipeline's name) by whoever makes the pipeline, not on import.
    """
    # Load files are written once and read once, from local disk, right after: snappy costs more
    # to write and read than it saves (2M queue_log lines: 4.8 s vs 3.5 s to write, 13.4 s vs
    # 12.3 s to insert, contended).
    os.environ.setdefault(f"{pipeline_name.upper()}__DATA_WRITER__COMPRESSION", "none")
    # A merge first loads its rows into the table's copy in `<dataset>_staging`; emptied after each
    # load, so that copy does not keep the last batch (Master.csv rows with callers' numbers) where
    # a warehouse reader finds it.
    os.environ.setdefault(f"{pipeline_name.upper()}__LOAD__TRUNCATE_STAGING_DATASET", "true")
    # No anonymous usage events from a loader (each run would otherwise queue one).
    os.environ.setdefault("RUNTIME__DLTHUB_TELEMETRY", "false")


def loader_pipeline(settings: Settings, name: str, dataset: str, **options: object) -> dlt.Pipeline:
    """A loader's dlt pipeline on the warehouse, its working files under the state folder, with
    Switchboard's defaults (use_loader_defaults); `options` go to dlt.pipeline (e.g. progress)."""
    settings.state_dir.mkdir(parents=True, exist_ok=True)
    use_loader_defaults(name)
    with _no_streamlit_secrets():
        return dlt.pipeline(pipeline_name=name, destination=dlt_destination(settings.warehouse),
                            dataset_name=dataset, pipelines_dir=str(settings.state_dir / "dlt"), **options)


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


def run_lock_path(pipeline: dlt.Pipeline) -> Path:
    """The lock file a run of the pipeline holds (fresh_run), beside its working folder."""
    return Path(pipeline.working_dir).with_name(f".{pipeline.pipeline_name}.lock")


@contextmanager
def fresh_run(pipeline: dlt.Pipeline) -> Iterator[dlt.Pipeline]:
    """The pipeline with its local working state dropped, for one run, and no other run of it
    until the block ends.

    The state is restored from the warehouse (what dagster-dlt does): a half-loaded package of a
    killed run is never resumed, the next run reads again and merges. The drop would delete the
    package of a run still loading (two backfills started together both failed), so runs of one
    pipeline take turns on a lock file beside its working folder: a second one waits.
    """
    with FileLock(run_lock_path(pipeline)):
        pipeline.drop()
        yield pipeline
        if pipeline.state.get("_state_version", 0) % STATE_PRUNE_EVERY == 0:
            drop_superseded_states(pipeline)


# dlt writes the whole pipeline state as a new row of <dataset>._dlt_pipeline_state at every load
# that changes it and never deletes one (it compacts only the filesystem destination's): the
# Asterisk loader's holds a read position per log, ~54 KB a row at 730 rotated logs, a row a
# minute on a busy PBX (independent scale audit). Every this many state versions the rows a newer
# completed one supersedes are deleted: what dlt restores is only ever the newest.
STATE_PRUNE_EVERY = 50


def drop_superseded_states(pipeline: dlt.Pipeline) -> None:
    """Delete the pipeline's state rows older than its newest one of a completed load (the one dlt
    restores: by load id, as dlt orders them); rows of later, unfinished loads stay."""
    try:
        with pipeline.sql_client() as client:
            states = client.make_qualified_table_name("_dlt_pipeline_state")
            loads = client.make_qualified_table_name("_dlt_loads")
            client.execute_sql(
                f"delete from {states} where pipeline_name = %s and _dlt_load_id < ("
                f"select max(l.load_id) from {states} as s join {loads} as l on l.load_id = s._dlt_load_id "
                "where s.pipeline_name = %s and l.status = 0)", pipeline.pipeline_name, pipeline.pipeline_name)
    except (DatabaseUndefinedRelation, DestinationUndefinedEntity):
        return  # nothing loaded yet
