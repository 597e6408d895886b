"""The warehouse resource: one object that knows whether it is DuckDB or Postgres.

dbt's target and every reader are derived from SWITCHBOARD_WAREHOUSE_URL here (dlt's destination
in pipelines/destination.py, which loaders import without Dagster), so switching to Postgres is
one setting.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import dagster as dg
import polars as pl

from switchboard.warehouse_url import WarehouseURL, parse_warehouse_url

# The Dagster pool of every step that writes the warehouse (loads, dbt, checks, publishing): its
# limit of 1 (dagster.yaml) is DuckDB's one writing process at a time.
WAREHOUSE_POOL = "warehouse_writer"


class WarehouseResource(dg.ConfigurableResource):
    """Connections to the warehouse for readers and the publishing step."""

    url: str

    @property
    def location(self) -> WarehouseURL:
        return parse_warehouse_url(self.url, base_dir=Path.cwd())

    @contextmanager
    def duckdb(self, *, read_only: bool = False) -> Iterator[object]:
        import duckdb

        path = self.location.duckdb_path
        path.parent.mkdir(parents=True, exist_ok=True)
        con = duckdb.connect(str(path), read_only=read_only)
        try:
            yield con
        finally:
            con.close()

    @contextmanager
    def postgres(self) -> Iterator[object]:
        import psycopg2

        con = psycopg2.connect(self.location.postgres_dsn())
        try:
            yield con
        finally:
            con.close()

    def query(self, sql: str, params: list | tuple | None = None) -> pl.DataFrame:
        """Run a read query and return a Polars frame, on either engine. `?` marks a parameter
        (DuckDB's own; psycopg2's `%s` on Postgres), so the SQL holds no other `?`."""
        if self.location.is_duckdb:
            # read-only: a read-write open fails while any other process has the file open, even
            # a BI tool or a script only reading it
            with self.duckdb(read_only=True) as con:
                return pl.from_arrow(con.sql(sql, params=params or None).to_arrow_table())
        with self.postgres() as con, con.cursor() as cur:
            if params:  # psycopg2 reads every % as the start of a placeholder then
                sql = sql.replace("%", "%%").replace("?", "%s")
            cur.execute(sql, params or None)
            cols = [d[0] for d in cur.description]
            rows = cur.fetchall()
        return pl.DataFrame(rows, schema=cols, orient="row", infer_schema_length=None)
