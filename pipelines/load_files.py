"""Bulk rows written as one parquet file that dlt imports as is (DuckDB).

dlt's own writer dictionary-encodes and keeps statistics for every column, and takes Arrow tables
whose strings Polars must first copy out of its views. For the load files of a local warehouse,
written once and read once right after, that is most of the writing time, spent on nothing. A
`ParquetLoadFile` writes the views as they are, dictionaries only for the few-valued columns
named, no statistics, compression only for the long texts named; dlt links the finished file
into its load package and DuckDB inserts it in one statement (`INSERT … BY NAME`: a file may
lack columns of its table).

dlt does not read an imported file: its table and every column must be declared before, by an
Arrow table (empty or not) yielded for the same table.

Only where the warehouse inserts parquet files as they are: for Postgres dlt rewrites load files
as CSV anyway, and the rows go to dlt as Arrow tables.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Iterator
from pathlib import Path

import dlt
import pyarrow as pa
import pyarrow.parquet as pq


def warehouse_takes_load_files() -> bool:
    """Whether the current pipeline's warehouse inserts parquet load files as they are."""
    return dlt.current.pipeline().destination.destination_name == "duckdb"


class ParquetLoadFile:
    """Arrow tables of one schema, appended to one parquet file of `table`, until `imported`.

    The file's columns must be the table's, in dlt's order, nullable but for the `required` ones
    (a primary key, which dlt declares NOT NULL): otherwise dlt rewrites the whole file before
    loading it (its normalize step; 18 s for 1M Webex CDRs)."""

    def __init__(self, table: str, dictionary_columns: Iterable[str] = (), required: Iterable[str] = (),
                 compressed_columns: Iterable[str] = ()):
        self.table = table
        self.dictionary_columns = tuple(dictionary_columns)
        self.required = frozenset(required)
        # zstd for long texts (a raw JSON record): the file is a fifth of the size, which costs
        # less to compress than writing the rest to the page cache costs (1M Webex CDRs: the
        # main thread −3.5 s, DuckDB's read of it no slower)
        self.compressed_columns = frozenset(compressed_columns)
        self.path: Path | None = None
        self.writer: pq.ParquetWriter | None = None
        self.rows = 0

    @property
    def schema(self) -> pa.Schema | None:
        """The open file's schema (every table written to it has this one); None before the first."""
        return None if self.writer is None else self.writer.schema

    def write(self, table: pa.Table) -> None:
        if self.writer is None:
            folder = Path(dlt.current.pipeline().working_dir) / "bulk_files"
            folder.mkdir(parents=True, exist_ok=True)
            self.path = folder / f"{self.table}.{uuid.uuid4().hex}.parquet"
            # a literal column comes out of Polars NOT NULL in one batch and not in the next
            schema = pa.schema([f.with_nullable(f.name not in self.required) for f in table.schema])
            self.writer = pq.ParquetWriter(
                self.path, schema, write_statistics=False,
                compression={c: "zstd" if c in self.compressed_columns else "none" for c in schema.names},
                use_dictionary=[c for c in self.dictionary_columns if c in schema.names],
            )
        if not table.schema.equals(self.writer.schema):
            table = table.cast(self.writer.schema)
        self.writer.write_table(table)
        self.rows += table.num_rows

    def imported(self, **hints: object) -> Iterator[object]:
        """The file as a dlt import item with `hints` (dlt.mark.make_hints' arguments; nothing when
        no rows were written). The object is then ready for a next file."""
        if self.writer is None:
            return
        writer, path, rows = self.writer, self.path, self.rows
        self.writer, self.path, self.rows = None, None, 0
        writer.close()
        try:
            yield dlt.mark.with_file_import(str(path), "parquet", items_count=rows,
                                            hints=dlt.mark.make_hints(table_name=self.table, **hints))
        finally:
            # dlt has linked (or copied) the file into the load package by the time it asks for more.
            path.unlink(missing_ok=True)
