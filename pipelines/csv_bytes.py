"""Polars' CSV reader over bytes that may begin like a compressed stream.

Given bytes, `pl.read_csv` sniffs their first bytes and decompresses what starts like gzip, zlib
or zstd. Log bytes can start so where a read begins: an archive appended to a live queue_log by
mistake, a gzip of a gzip unpacked once, a garbage line. Read as a stream they failed the whole
load (OSError "invalid gzip header", which the parsers' fallbacks do not expect), so such bytes are
read after a blank line, whose row is dropped again: each line is then read, or rejected, as the
text it is.
"""

from __future__ import annotations

from typing import Any

import polars as pl

# the starts polars-io takes for a compressed stream (gzip; zlib's four levels; zstd)
COMPRESSED_STARTS = (b"\x1f\x8b", b"\x78\x01", b"\x78\x5e", b"\x78\x9c", b"\x78\xda", b"\x28\xb5\x2f\xfd")


def read_csv_bytes(data: bytes, **options: Any) -> pl.DataFrame:
    """`pl.read_csv(data, **options)`, reading `data` as text however it begins (a row index
    given by `row_index_name` counts the lines of `data` from 0 either way). The options must
    take the blank line's short row (`missing_columns="insert"`, as every caller's do)."""
    if not data.startswith(COMPRESSED_STARTS):
        return pl.read_csv(data, **options)
    frame = pl.read_csv(b"\n" + data, **options).slice(1)
    index = options.get("row_index_name")
    return frame.with_columns(pl.col(index) - 1) if index else frame
