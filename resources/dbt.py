"""The dbt project and how dbt reaches the warehouse chosen by SWITCHBOARD_WAREHOUSE_URL."""

from __future__ import annotations

import json
import os
import shutil
import sys
import time
import uuid
from collections.abc import Iterable, Iterator
from contextlib import contextmanager, suppress
from functools import cache
from pathlib import Path

import dagster as dg
from dagster_dbt import DbtProject

from switchboard.paths import DBT_PROJECT_DIR
from switchboard.settings import Settings


@cache
def dbt_project() -> DbtProject:
    # Not `prepare_if_dev()`: under `dagster dev` it runs `dbt parse` at every load of the code
    # location — every run — and replaces the runs' parse cache (keep_partial_parse) with one
    # made without their vars, so each run parsed everything again. build_definitions() calls
    # ensure_manifest(), which parses only when a project file changed.
    return DbtProject(project_dir=DBT_PROJECT_DIR, profiles_dir=DBT_PROJECT_DIR)


def dbt_executable() -> str:
    """dbt as the project installs it beside this interpreter (the virtual environment), so that
    `.venv/bin/switchboard` and a daemon started without an activated environment find it:
    `switchboard-dbt` (dbt without the cyclic garbage collector: switchboard/dbt_cli.py),
    else plain `dbt` there; otherwise whichever `dbt` is on PATH."""
    folder = Path(sys.executable).parent
    for name in ("switchboard-dbt", "dbt"):
        if (folder / name).exists():
            return str(folder / name)
    return "dbt"


def ensure_manifest() -> None:
    """(Re)build target/manifest.json when it is missing or older than any dbt project file."""
    project = dbt_project()
    manifest = project.manifest_path
    if not manifest.exists() or manifest.stat().st_mtime < _newest_project_file_mtime():
        # dagster-dbt's preparer (which guards against two processes parsing at once) runs the
        # `dbt` on PATH: the environment's own comes first for the parse
        folder = str(Path(dbt_executable()).parent)
        with environment_set({"PATH": os.pathsep.join(p for p in (folder, os.environ.get("PATH")) if p)}):
            project.preparer.prepare(project)


def raw_table_metadata(schema: str, tables: Iterable[str]) -> dict[str, dict]:
    """How the Dagster catalog shows the loaders' raw tables: each table's name (database.schema.table
    of the parsed target, as dagster-dbt names the models) and, for a table the dbt project documents
    as a source, its columns with the sources' descriptions: one place documents them for the raw
    assets and the models downstream."""
    manifest = json.loads(dbt_project().manifest_path.read_text())
    sources = {source["name"]: source for source in manifest["sources"].values() if source["schema"] == schema}
    database = next((source["database"] for source in manifest["sources"].values()), None)
    metadata = {}
    for table in tables:
        source = sources.get(table)
        # Dagster's standard table keys (what dagster-dbt's models carry)
        metadata[table] = {"dagster/table_name": ".".join(part for part in (database, schema, table) if part)}
        if source:
            metadata[table]["dagster/column_schema"] = dg.TableSchema(columns=[
                dg.TableColumn(name, type=column.get("data_type") or "?", description=column.get("description") or None)
                for name, column in source["columns"].items()])
    return metadata


@contextmanager
def environment_set(values: dict[str, str]) -> Iterator[None]:
    """`values` in this process's environment (what a child process started inside inherits),
    then the environment as it was: one run's warehouse (a Postgres password, libpq's PGSSLMODE)
    must not stay behind for the next."""
    previous = {name: os.environ.get(name) for name in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for name, value in previous.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


PARTIAL_PARSE_FILE = "partial_parse.msgpack"


def keep_partial_parse(run_target_dir: Path, project: DbtProject) -> bool:
    """Make a finished run's parse cache the one the next run starts from.

    dagster-dbt gives every run a target folder of its own and seeds it with the project's
    `target/partial_parse.msgpack`. That file comes from preparing the manifest, without the
    run's `--vars` and profile environment, so dbt discards it and parses the whole project again
    on every run (`dbt build` selecting nothing: 10–12 s here without the cache, 4.8–5.0 s with
    it). The run's own cache was made with the run's configuration: copied back (atomically:
    concurrent runs read whole files), the next run with the same settings parses only what
    changed. dbt still checks vars, profile and file
    checksums itself, so a cache from other settings is only ever a full parse, never a wrong one.
    Returns whether a cache was copied."""
    source = Path(run_target_dir) / PARTIAL_PARSE_FILE
    if not source.is_file():
        return False
    target_dir = Path(project.project_dir) / project.target_path
    target_dir.mkdir(parents=True, exist_ok=True)
    staging = target_dir / f".{PARTIAL_PARSE_FILE}.{uuid.uuid4().hex}.tmp"
    try:
        shutil.copyfile(source, staging)
        os.replace(staging, target_dir / PARTIAL_PARSE_FILE)
    finally:
        staging.unlink(missing_ok=True)
    return True


# A folder written to this recently may belong to a dbt run still going (in another process or
# outside this Dagster instance): dbt touches its dbt.log at every node.
RUN_FOLDER_GRACE_SECONDS = 3600


def prune_run_folders(target_dir: Path, prefix: str, keep: int, now: float | None = None) -> list[Path]:
    """Remove the oldest of dagster-dbt's per-run target folders (`<prefix>-<run>-<id>`: compiled
    SQL, run_results.json and dbt's debug log, ~17 MB for the benchmark's project) beyond the
    newest `keep`. Without this a sensor starting a run every minute fills the disk (~25 GB a
    day). A folder touched within RUN_FOLDER_GRACE_SECONDS is kept whatever its rank. Returns the
    folders removed."""
    now = time.time() if now is None else now
    folders = sorted(
        ((_last_write(p), p) for p in Path(target_dir).glob(f"{prefix}-*") if p.is_dir()),
        reverse=True,
    )
    removed = []
    for written, folder in folders[keep:]:
        if now - written < RUN_FOLDER_GRACE_SECONDS:
            continue
        try:
            shutil.rmtree(folder)
        except OSError:
            continue  # gone already (another run pruned it) or left for the next run to try
        removed.append(folder)
    return removed


def _last_write(folder: Path) -> float:
    # the folder's own mtime moves only when an entry is added; dbt.log grows in place
    times = []
    for path in (folder, folder / "dbt.log", folder / "run_results.json"):
        with suppress(FileNotFoundError):
            times.append(path.stat().st_mtime)
    return max(times, default=0.0)


def _newest_project_file_mtime() -> float:
    files = [DBT_PROJECT_DIR / "dbt_project.yml", DBT_PROJECT_DIR / "profiles.yml"]
    for folder in ("models", "macros", "tests", "seeds", "snapshots"):
        files.extend(p for p in (DBT_PROJECT_DIR / folder).rglob("*") if p.is_file())
    return max((p.stat().st_mtime for p in files if p.exists()), default=0.0)


def dbt_environment(settings: Settings) -> dict[str, str]:
    """Environment for the dbt process: which profile target and where it connects (profiles.yml)."""
    wh = settings.warehouse
    if wh.is_duckdb:
        return {
            "SWITCHBOARD_DBT_TARGET": "duckdb",
            "SWITCHBOARD_DBT_DUCKDB_PATH": str(wh.duckdb_path),
            "SWITCHBOARD_DBT_DUCKDB_MEMORY_LIMIT": settings.duckdb_memory_limit,
        }
    return {
        "SWITCHBOARD_DBT_TARGET": "postgres",
        "SWITCHBOARD_DBT_PG_HOST": wh.host,
        "SWITCHBOARD_DBT_PG_PORT": str(wh.port),
        "SWITCHBOARD_DBT_PG_USER": wh.user,
        "SWITCHBOARD_DBT_PG_PASSWORD": wh.password,
        "SWITCHBOARD_DBT_PG_DBNAME": wh.database,
        **wh.libpq_environment(),
    }


def dbt_build_args(settings: Settings, *, full_refresh: bool = False) -> list[str]:
    """`dbt build` as production runs it: models and data tests; unit tests (fixed inputs, no
    warehouse data) prove the SQL in `make test` and would only add ~1 s each to every refresh.
    `full_refresh` rebuilds incremental models from scratch (the CHANGELOG says when)."""
    return ["build", *(["--full-refresh"] if full_refresh else []), "--exclude-resource-type", "unit_test",
            "--vars", json.dumps(settings.dbt_vars(), sort_keys=True)]
