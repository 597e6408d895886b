"""Load a `simulate()` folder's Webex output into raw_webex with the loader's own normalisation.

The ground-truth and benchmark tests need raw_webex filled from the simulator without the HTTP
API and its rate limits: the records go through the same pure functions the dlt source uses
(pipelines/webex/cdr_normalize.normalize_records, pipelines/webex/directory.people_rows /
location_rows) and are written with DuckDB in one statement per table. Duplicate Report IDs keep
the latest Report time, as the loader's merge does.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import orjson
import polars as pl

from pipelines.webex.cdr_normalize import BatchContext, normalize_records
from pipelines.webex.directory import location_rows, people_rows


def simulated_frames(sim_dir: Path) -> dict[str, pl.DataFrame]:
    ctx = BatchContext(source="simulator", loaded_at=datetime.now(UTC))
    records = []
    for path in sorted((sim_dir / "webex" / "cdr").glob("*.jsonl")):
        with open(path, "rb") as fh:
            records.extend(orjson.loads(line)["record"] for line in fh if line.strip())
    batch = normalize_records(records, ctx)
    assert batch.rejects.is_empty(), batch.rejects.head()
    cdr = batch.rows.sort("report_time", nulls_last=False).unique("report_id", keep="last", maintain_order=True)
    people, _ = people_rows(_items(sim_dir / "webex" / "people.json"), ctx)
    locations, _ = location_rows(_items(sim_dir / "webex" / "locations.json"), ctx)
    return {"cdr": cdr, "people": people, "locations": locations}


def load_simulated_webex(con, sim_dir: Path) -> int:
    """Replace raw_webex.{cdr,people,locations} in a DuckDB connection; returns the CDR row count."""
    frames = simulated_frames(sim_dir)
    con.execute("create schema if not exists raw_webex")
    for name, frame in frames.items():
        con.register("frame_view", frame.to_arrow())
        con.execute(f"create or replace table raw_webex.{name} as select * from frame_view")
        con.unregister("frame_view")
    return frames["cdr"].height


def _items(path: Path) -> list:
    """A list body, bare or wrapped in {"items": [...]} as the API pages it."""
    body = orjson.loads(path.read_bytes())
    return body["items"] if isinstance(body, dict) else body
