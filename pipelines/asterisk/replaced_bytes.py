"""Bytes that are not UTF-8 in a PBX's files: read as U+FFFD and kept (reference §4.12: a
Latin-1 member name, a caller name typed on an old phone), and counted, so that a run's report
says how many loaded rows carry a replaced character."""

from __future__ import annotations

import polars as pl


def is_utf8(data: bytes) -> bool:
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


def rows_with_replaced_bytes(frame: pl.DataFrame) -> int:
    """How many rows of a frame read as lossy UTF-8 hold a U+FFFD in a text column."""
    text = [name for name, dtype in frame.schema.items() if dtype == pl.String]
    if not text or not frame.height:
        return 0
    return int(frame.select(pl.any_horizontal(pl.col(c).str.contains("\ufffd", literal=True) for c in text)
                            .fill_null(False).sum()).item())
