"""Control Hub "Detailed Call History" CSV exports → the same rows as the CDR API gives.

The export's header row holds the same field names as the API's JSON keys (with the same case
drift), so the columns go through the same key normalisation and value typing; each loaded row's
raw record is the JSON object header → cell text.

Python's csv module first splits the file into records (quoted fields may hold commas, doubled
quotes and line breaks), each with its own text and the line it starts on. Blank lines are not
records. A record whose number of fields differs from its file's header, or whose quoting is
broken, is a reject; the others are read by Polars into the typed columns, and one whose value
does not parse is a reject too. A reject keeps the record's exact text (without its final line
break) and `_page` "line N". A file that is not CSV at all, or whose header has no Report ID, is
one reject, and counts as one record read.
"""

from __future__ import annotations

import contextlib
import csv
import gzip
import io
import logging
import os
import re
import zipfile
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO, NamedTuple

import polars as pl

from pipelines.no_follow import is_a_link, open_without_following
from pipelines.webex.cdr_normalize import (
    BatchContext,
    NormalizedBatch,
    empty_rejects,
    empty_rows,
    normalize_key,
    normalize_text_frame,
    reject_records,
    reject_rows,
    with_context,
)

log = logging.getLogger(__name__)

# an export as downloaded: a CSV (any case), gzip-compressed, or a ZIP archive of CSVs
EXPORT_NAMES = re.compile(r"\.(?:csv(?:\.gz)?|zip)$", re.IGNORECASE)

# Polars reports input it cannot read as exceptions, and a bug of its own as a PanicException
_POLARS_ERRORS = (Exception, pl.exceptions.PanicException)


class _Record(NamedTuple):
    line: int  # the line it starts on (1 = the file's first)
    text: str  # its own text, without its final line break
    fields: list[str]  # empty when it could not be read
    error: str | None  # why the csv module could not read it


def read_control_hub_csv(data: bytes, ctx: BatchContext) -> NormalizedBatch:
    text = data.decode("utf-8-sig", errors="replace")
    records = _records(text)
    header = next(records, None)
    if header is None:
        return NormalizedBatch(empty_rows(), empty_rejects(), 0)
    if header.error is not None:
        return _whole_file(f"not a readable CSV file: {header.error}"[:300], text, ctx)
    if not any(normalize_key(c) == "report_id" for c in header.fields):
        return _whole_file("CSV header has no Report ID column", text, ctx)
    width = len(header.fields)
    lines: list[int] = []  # the well-formed records
    texts: list[str] = []
    bad: list[tuple[int, str, str]] = []  # (line, reason, text)
    read = 0
    for record in records:
        read += 1
        if record.error is not None:
            bad.append((record.line, f"not a readable CSV row: {record.error}", record.text))
        elif len(record.fields) != width:
            bad.append((record.line, f"row has {_fields(len(record.fields))}, the header has {width}", record.text))
        else:
            lines.append(record.line)
            texts.append(record.text)
    rows, rejects = _typed(_text_frame(header.text, texts, width), lines, ctx)
    if rejects.height:  # values that do not parse: the record's CSV text, not its JSON
        text_at = dict(zip(lines, texts, strict=True))
        for reason, page in rejects.select("reason", "_page").iter_rows():
            line = int(page.removeprefix("line "))
            bad.append((line, reason, text_at[line]))
    if not bad:
        return NormalizedBatch(rows, empty_rejects(), read)
    bad.sort()
    return NormalizedBatch(rows, reject_records([b[1] for b in bad], [b[2] for b in bad],
                                                [f"line {b[0]}" for b in bad], ctx), read)


def _records(text: str) -> Iterator[_Record]:
    """The CSV records of `text`, blank lines left out."""
    lines = io.StringIO(text, newline="\n").readlines()  # split at \n only: a lone \r is no line end
    reader = csv.reader(lines, strict=True)
    done = 0
    while done < len(lines):
        try:
            fields, error = next(reader), None
        except StopIteration:
            return
        except csv.Error as exc:  # the reader goes on at the next line
            fields, error = [], _plain(str(exc))
        end = reader.line_num
        if end <= done:
            return
        chunk = lines[done] if end == done + 1 else "".join(lines[done:end])
        if error is not None or chunk.strip():
            yield _Record(done + 1, _without_line_break(chunk), fields, error)
        done = end


def _plain(error: str) -> str:
    """The csv module's complaint, in the words of this file's reader."""
    if error.startswith("new-line character seen in unquoted field"):  # its hint would mislead
        return "a carriage return inside an unquoted field"
    if error == "',' expected after '\"'":
        return "a quoted field's closing quote is followed by more text"
    if error == "unexpected end of data":
        return "a quoted field is not closed before the end of the file"
    return error


def _without_line_break(chunk: str) -> str:
    if chunk.endswith("\r\n"):
        return chunk[:-2]
    return chunk[:-1] if chunk.endswith("\n") else chunk


def _fields(n: int) -> str:
    return f"{n} field" if n == 1 else f"{n} fields"


def _whole_file(reason: str, text: str, ctx: BatchContext) -> NormalizedBatch:
    return NormalizedBatch(empty_rows(), reject_rows(reason, text[:10000], ctx), 1)


def _text_frame(header: str, texts: list[str], width: int) -> pl.DataFrame:
    """The well-formed records as text columns under the header's names, read by Polars."""
    body = "\n".join([header, *texts]) + "\n"
    with contextlib.suppress(*_POLARS_ERRORS):
        frame = pl.read_csv(io.StringIO(body), infer_schema=False, raise_if_empty=False)
        if frame.shape == (len(texts), width):
            return frame
    # what the csv module reads but Polars does not (a quote inside an unquoted field, a name
    # that two of the header's spell): the csv module's fields, an empty one missing as in Polars
    names, *values = csv.reader(io.StringIO(body, newline="\n"), strict=True)
    frame = pl.DataFrame(values, schema=dict.fromkeys(_unique(names), pl.String), orient="row")
    return frame.with_columns(pl.all().replace("", None))


def _unique(names: list[str]) -> list[str]:
    """Header names, a repeated one renamed as Polars does (`name_duplicated_0`, ...)."""
    seen: set[str] = set()
    out = []
    for name in names:
        unique, k = name, 0
        while unique in seen:
            unique, k = f"{name}_duplicated_{k}", k + 1
        seen.add(unique)
        out.append(unique)
    return out


def _typed(frame: pl.DataFrame, lines: list[int], ctx: BatchContext) -> tuple[pl.DataFrame, pl.DataFrame]:
    """The text columns → (typed rows, rejects), each reject at its record's `_page` "line N"."""
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
    pages = pl.Series("_page", [f"line {n}" for n in lines], pl.String)
    return normalize_text_frame(with_context(text_frame, ctx).with_columns(pages))


def csv_files(folder: Path | None) -> list[Path]:
    """The exports dropped in the folder. A link is taken only when what it leads to is named
    like an export too: `export.csv -> ~/.env` stored the service's secrets as a reject
    (independent security audit)."""
    if folder is None or not folder.is_dir():
        return []
    return sorted(p for p in folder.iterdir() if p.is_file() and EXPORT_NAMES.search(p.name)
                  and (not p.is_symlink() or EXPORT_NAMES.search(p.resolve().name)))


class ExportCsv(NamedTuple):
    name: str  # the file's, or file/member of a ZIP archive
    data: bytes  # the CSV's bytes; its first bytes only when it is not `whole`
    whole: bool = True  # False: larger than MAX_UNPACKED_BYTES, not read


# An export larger than this unpacked is not read (one reject says so): it is read into memory
# whole, and a small archive can unpack to any size (independent security audit: a 776 KB gzip
# unpacked to 800 MB, 1.6 GB of memory, and a 10 MB one would have taken the machine's 24 GB).
MAX_UNPACKED_BYTES = 1 << 30
_PREVIEW_BYTES = 10_000  # what the reject of a file too large keeps


def export_csvs(path: Path, max_bytes: int = MAX_UNPACKED_BYTES) -> Iterator[ExportCsv]:
    """Each CSV an export file holds: the file itself, its gzip content, or every `.csv` member of
    a ZIP archive, each unpacked up to `max_bytes`. A file that cannot be unpacked (or an archive
    without a CSV) is given as it is: the reader then sets it aside as one reject with the
    reason; so is one larger than `max_bytes` (`read_export`)."""
    with _open_listed_export(path) as fh:
        if fh is None:
            return
        if os.fstat(fh.fileno()).st_size > max_bytes:
            yield ExportCsv(path.name, fh.read(_PREVIEW_BYTES), whole=False)
            return
        data = fh.read()
    if data[:2] == b"\x1f\x8b":
        unpacked = None
        with contextlib.suppress(OSError, EOFError, zlib.error), gzip.GzipFile(fileobj=io.BytesIO(data)) as fh:
            unpacked = fh.read(max_bytes + 1)
        if unpacked is not None and len(unpacked) > max_bytes:
            yield ExportCsv(path.name, unpacked[:_PREVIEW_BYTES], whole=False)
            return
        data = data if unpacked is None else unpacked
    elif data[:4] == b"PK\x03\x04":
        archive = None
        with contextlib.suppress(zipfile.BadZipFile, OSError):
            archive = zipfile.ZipFile(io.BytesIO(data))
        if archive is not None:
            with archive:
                members = sorted(m for m in archive.namelist() if m.lower().endswith(".csv"))
                for member in members:
                    yield _zip_member(archive, member, max_bytes, f"{path.name}/{member}", data)
            if members:
                return
    yield ExportCsv(path.name, data)


@contextlib.contextmanager
def _open_listed_export(path: Path) -> Iterator[BinaryIO | None]:
    """The export at `path`, its links resolved now and judged again (`csv_files`), then opened
    without following a link (pipelines/no_follow.py). None: not read."""
    real = path.resolve()
    fh = None
    if EXPORT_NAMES.search(real.name):
        try:
            fh = open_without_following(real)
        except OSError as error:
            if not is_a_link(error):
                raise
    if fh is None:
        log.warning("%s is not read: it leads to %s, which is not an export (or became a link)", path, real)
        yield None
        return
    with fh:
        yield fh


def _zip_member(archive: zipfile.ZipFile, member: str, max_bytes: int, name: str, archive_bytes: bytes) -> ExportCsv:
    """One CSV of a ZIP archive, read up to `max_bytes`: each is read when its turn comes, so a
    large archive holds one of them in memory at a time (the archive's directory is read once, not
    per member). A member that cannot be unpacked is given as the archive's first bytes (one
    reject: not a CSV)."""
    try:
        with archive.open(member) as fh:
            data = fh.read(max_bytes + 1)
    except (zipfile.BadZipFile, OSError, EOFError, zlib.error, NotImplementedError):
        return ExportCsv(name, archive_bytes[:_PREVIEW_BYTES])
    if len(data) > max_bytes:
        return ExportCsv(name, data[:_PREVIEW_BYTES], whole=False)
    return ExportCsv(name, data)


def read_export(export: ExportCsv, ctx: BatchContext, max_bytes: int = MAX_UNPACKED_BYTES) -> NormalizedBatch:
    """The rows and rejects of one CSV of an export; one too large is one reject with its first bytes."""
    if not export.whole:
        text = export.data.decode("utf-8-sig", errors="replace")
        size = f"{max_bytes >> 20} MiB" if max_bytes >= 1 << 20 else f"{max_bytes} bytes"
        return _whole_file(f"larger than {size} unpacked: not read (split the export)", text, ctx)
    return read_control_hub_csv(export.data, ctx)
