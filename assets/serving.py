"""Publish the serving copy: every marts table copied into a DuckDB file, swapped in atomically.

DuckDB allows one writer or many readers, never both; Streamlit and BI tools therefore read this
copy, never the live warehouse, and keep working while the pipeline writes (DESIGN.md Storage).
"""


import os
from pathlib import Path

import dagster as dg
import duckdb

from assets.asterisk_raw import WAREHOUSE_POOL
from resources.warehouse import WarehouseResource
from switchboard.settings import Settings

SERVING_KEY = dg.AssetKey(["serving", "marts_copy"])


def marts_tables(warehouse: WarehouseResource) -> list[str]:
    frame = warehouse.query(
        "select table_name from information_schema.tables where table_schema = 'marts' order by table_name"
    )
    return frame.get_column("table_name").to_list() if frame.height else []


# Tables are copied without keeping their rows' physical order, which no reader may rely on (SQL
# has ORDER BY): both cores then write (the 10M-line benchmark's marts, 4.7M rows: 4.5-4.8 s
# instead of 5.8 s).
_COPY_CONFIG = {"preserve_insertion_order": False}


def publish_duckdb(source_path: Path, target: Path, tables: list[str]) -> dict[str, int]:
    """Copy marts tables from a DuckDB warehouse into `target` via a temp file and os.replace."""
    tmp = target.with_name(target.name + ".tmp")
    tmp.unlink(missing_ok=True)
    counts = {}
    with duckdb.connect(config=_COPY_CONFIG) as con:
        con.execute("attach ? as warehouse (read_only)", [str(source_path)])
        con.execute("attach ? as serving", [str(tmp)])
        con.execute("create schema serving.marts")
        for table in tables:
            con.execute(f'create table serving.marts."{table}" as select * from warehouse.marts."{table}"')
            counts[table] = con.execute(f'select count(*) from serving.marts."{table}"').fetchall()[0][0]
        con.execute("detach serving")
        con.execute("detach warehouse")
    os.replace(tmp, target)
    return counts


def publish_from_postgres(warehouse: WarehouseResource, target: Path, tables: list[str]) -> dict[str, int]:
    """Postgres warehouse: stream each mart out with COPY (CSV) and load it into the DuckDB copy."""
    tmp = target.with_name(target.name + ".tmp")
    tmp.unlink(missing_ok=True)
    counts = {}
    with warehouse.postgres() as pg, duckdb.connect(str(tmp), config=_COPY_CONFIG) as out:
        out.execute("create schema marts")
        for table in tables:
            with pg.cursor() as cur:
                cur.execute(
                    "select column_name, data_type from information_schema.columns "
                    "where table_schema = 'marts' and table_name = %s order by ordinal_position", (table,))
                columns = cur.fetchall()
                csv_path = target.with_name(f".{table}.csv")
                with open(csv_path, "w", encoding="utf-8") as fh:
                    cur.copy_expert(f'copy (select * from marts."{table}") to stdout with (format csv, header)', fh)
            types = {name: _duckdb_type(pg_type) for name, pg_type in columns}
            out.execute(
                f'create table marts."{table}" as select * from read_csv(?, header = true, columns = ?)',
                [str(csv_path), types],
            )
            csv_path.unlink()
            counts[table] = out.execute(f'select count(*) from marts."{table}"').fetchall()[0][0]
    os.replace(tmp, target)
    return counts


def _duckdb_type(pg_type: str) -> str:
    return {
        "timestamp with time zone": "TIMESTAMPTZ", "timestamp without time zone": "TIMESTAMP", "date": "DATE",
        "bigint": "BIGINT", "integer": "INTEGER", "smallint": "SMALLINT", "numeric": "DOUBLE",
        "double precision": "DOUBLE", "real": "DOUBLE", "boolean": "BOOLEAN",
    }.get(pg_type, "VARCHAR")


def build_serving_asset(mart_keys: list[dg.AssetKey]) -> dg.AssetsDefinition:
    @dg.asset(
        key=SERVING_KEY,
        deps=mart_keys,
        group_name="serving",
        kinds={"duckdb"},
        pool=WAREHOUSE_POOL,
        automation_condition=dg.AutomationCondition.eager(),
        description="Read-only DuckDB copy of the marts schema for Streamlit and BI tools (atomic replace).",
    )
    def marts_copy(context: dg.AssetExecutionContext, warehouse: WarehouseResource,
                   settings: dg.ResourceParam[Settings]) -> dg.MaterializeResult:
        target = Path(settings.serving_path)
        target.parent.mkdir(parents=True, exist_ok=True)
        tables = marts_tables(warehouse)
        if warehouse.location.is_duckdb:
            counts = publish_duckdb(warehouse.location.duckdb_path, target, tables)
        else:
            counts = publish_from_postgres(warehouse, target, tables)
        context.log.info(f"published {len(tables)} marts tables to {target}")
        return dg.MaterializeResult(metadata={"path": str(target), "rows_by_table": counts})

    return marts_copy
