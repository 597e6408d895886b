"""The dlt destination of the warehouse, without importing Dagster (a stand-alone load would spend
about a second of its start-up on it)."""

from __future__ import annotations

from pathlib import Path

import dlt

from switchboard.warehouse_url import WarehouseURL

# Raw tables carry no meaning in their physical row order (every model orders by its own keys),
# so DuckDB may insert a load file's row groups in whatever order its threads finish them:
# 10M queue_log rows insert in 6.8 s instead of 7.9 s. dbt's DuckDB profile sets the same.
DUCKDB_LOAD_CONFIG = {"preserve_insertion_order": False}


def dlt_destination(location: WarehouseURL):
    if location.is_duckdb:
        from dlt.destinations.impl.duckdb.configuration import DuckDbCredentials

        Path(location.duckdb_path).parent.mkdir(parents=True, exist_ok=True)
        credentials = DuckDbCredentials(str(location.duckdb_path), global_config=dict(DUCKDB_LOAD_CONFIG))
        return dlt.destinations.duckdb(credentials=credentials)
    return dlt.destinations.postgres(credentials=location.postgres_dsn())
