"""Bytes that are not UTF-8 in a PBX's files: read as U+FFFD and kept (reference §4.12: a
Latin-1 member name, a caller name typed on an old phone), and counted, so that a run's report
says how many loaded rows carry a replaced character."""

from __future__ import annotations

import polars as pl


def rows_with_replaced_bytes(frame: pl.DataFrame, read_from: bytes | None = None) -> int:
    """How many rows of a frame read as lossy UTF-8 hold a U+FFFD in a text column. With
    `read_from`, the bytes the frame was read from: none when they are valid UTF-8 (a U+FFFD
    written as such replaced nothing). The rows are looked at first: the usual frame has no U+FFFD,
    and the bytes are then never decoded."""
    text = [name for name, dtype in frame.schema.items() if dtype == pl.String]
    if not text or not frame.height:
        return 0
    found = int(frame.select(pl.any_horizontal(pl.col(c).str.contains("\ufffd", literal=True) for c in text)
                             .fill_null(False).sum()).item())
    return 0 if found and read_from is not None and _is_utf8(read_from) else found


def _is_utf8(data: bytes) -> bool:
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True
