"""Control Hub "Detailed Call History" CSV exports → the same rows as the CDR API gives.

The export's header row holds the same field names as the API's JSON keys (with the same case
drift), so the columns go through the same key normalisation and value typing; each row's raw
record is the JSON object header → cell text. A file that is not CSV at all becomes one reject.
"""

from __future__ import annotations

import contextlib
import gzip
import io
import re
import zipfile
import zlib
from collections.abc import Iterator
from pathlib import Path

import polars as pl

from pipelines.webex.cdr_normalize import (
    BatchContext,
    NormalizedBatch,
    empty_rejects,
    empty_rows,
    normalize_key,
    normalize_text_frame,
    reject_rows,
    with_context,
)

# an export as downloaded: a CSV (any case), gzip-compressed, or a ZIP archive of CSVs
EXPORT_NAMES = re.compile(r"\.(?:csv(?:\.gz)?|zip)$", re.IGNORECASE)


def read_control_hub_csv(data: bytes, ctx: BatchContext) -> NormalizedBatch:
    text = data.decode("utf-8-sig", errors="replace")
    if not text.strip():
        return NormalizedBatch(empty_rows(), empty_rejects(), 0)
    try:
        frame = pl.read_csv(io.StringIO(text), infer_schema=False, truncate_ragged_lines=True,
                            raise_if_empty=False)
    except pl.exceptions.PolarsError as exc:
        return NormalizedBatch(empty_rows(), reject_rows(f"not a readable CSV file: {exc}"[:300], text[:10000], ctx), 0)
    if "Report ID" not in frame.columns and not any(normalize_key(c) == "report_id" for c in frame.columns):
        return NormalizedBatch(empty_rows(), reject_rows("CSV header has no Report ID column", text[:10000], ctx), 0)
    raw = frame.select(pl.struct(pl.all()).struct.json_encode().alias("raw_record"))
    renamed: dict[str, list[str]] = {}
    for column in frame.columns:
        renamed.setdefault(normalize_key(column), []).append(column)
    columns = [
        (pl.col(originals[0]) if len(originals) == 1 else pl.coalesce(
            pl.col(c).replace("", None) for c in originals)).alias(name)
        for name, originals in renamed.items()
    ]
    text_frame = frame.select(columns).with_columns(raw.get_column("raw_record"))
    rows, rejects = normalize_text_frame(with_context(text_frame, ctx))
    return NormalizedBatch(rows, rejects, frame.height)


def csv_files(folder: Path | None) -> list[Path]:
    if folder is None or not folder.is_dir():
        return []
    return sorted(p for p in folder.iterdir() if p.is_file() and EXPORT_NAMES.search(p.name))


def export_csvs(path: Path) -> Iterator[tuple[str, bytes]]:
    """(name, CSV bytes) of each CSV an export file holds: the file itself, its gzip content, or
    every `.csv` member of a ZIP archive. A file that cannot be unpacked (or an archive without a
    CSV) is given as it is: the reader then sets it aside as one reject with the reason."""
    data = path.read_bytes()
    if data[:2] == b"\x1f\x8b":
        with contextlib.suppress(OSError, EOFError, zlib.error):
            data = gzip.decompress(data)
    elif data[:4] == b"PK\x03\x04":
        with contextlib.suppress(zipfile.BadZipFile, OSError, EOFError, zlib.error):
            with zipfile.ZipFile(io.BytesIO(data)) as archive:
                members = sorted(m for m in archive.namelist() if m.lower().endswith(".csv"))
                tables = [(f"{path.name}/{m}", archive.read(m)) for m in members]
            if tables:
                yield from tables
                return
    yield path.name, data
