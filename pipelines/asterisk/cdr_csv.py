"""Parse Asterisk cdr-csv `Master.csv` rows — pure, vectorised.

Layouts (cdr_csv.c, build_csv_record): accountcode, src, dst, dcontext, clid, channel, dstchannel,
lastapp, lastdata, start, answer, end, duration, billsec, disposition, amaflags — 16 fields in
every configuration — then uniqueid (`loguniqueid = yes`), userfield (`loguserfield = yes`) and
peeraccount, linkedid, sequence (`newcdrcolumns = yes`): 16 to 21 fields. Text and times are
double-quoted (inner quotes doubled), duration, billsec and sequence are bare integers, an unset
answer or end time is an empty field, and the trailing comma is trimmed: a record never ends in
an empty field. A 17- or 20-field record holds one of uniqueid and userfield: read as uniqueid.
Times are the PBX's local time (`usegmtime = no`), so they are converted to UTC with the
configured zone; in the hour a fall-back night repeats, by the file's order (from the last record
read before the chunk: `end_before`) and the record's own duration (`_resolve_repeated_hour`). Master.csv has no natural key (a uniqueid repeats per leg), so rows are keyed by
an md5 of their content.

Good rows are read by Polars' CSV reader in one pass. Damage is set aside line by line, with the
line's number, byte offset and exact text, and never fails the chunk (asterisk-queue-log.md §4
for the crash damage, which Master.csv shares with queue_log):
- cut_by_crash: the text right before a NUL run that ends its line — an unclean shutdown cut the
  record being written and padded the file with NULs; the restarted Asterisk may write its next
  record on the same line, after the run: that record is a line of its own (`break_midline_nul_runs`);
- unterminated: the last line of a file that will not grow any more (compressed, or rotated and
  left alone: see log_streams.LogFile.is_final) without its newline: cdr_csv ends every record
  with one, so the write was cut;
- bad_quoting: a line whose quotes do not pair up into fields (cut inside a quoted field, then a
  newline); looked for only in a chunk the reader refuses, with a regex over its lines;
- too_few_fields / too_many_fields: fewer than 16 fields, or more than 21, or 19 to 21 whose last
  is not newcdrcolumns' sequence number (or an empty last field there: cdr_csv trims it);
- bad_start_time (empty or unreadable), bad_answer_time, bad_end_time (not empty and unreadable,
  or not a time in the zone), bad_duration (not a whole number, or negative).
Blank lines (NUL-only ones included) are counted as skipped.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass

import duckdb
import numpy as np
import polars as pl

from pipelines.asterisk.crash_padding import CrashPadding
from pipelines.asterisk.repeated_hour import STEP_BACK_SECONDS, in_second_pass
from pipelines.asterisk.replaced_bytes import rows_with_replaced_bytes
from pipelines.csv_bytes import read_csv_bytes

CDR_COLUMNS = (
    "accountcode", "src", "dst", "dcontext", "clid", "channel", "dstchannel", "lastapp", "lastdata",
    "start", "answer", "end", "duration", "billsec", "disposition", "amaflags", "uniqueid", "userfield",
    "peeraccount", "linkedid", "sequence",
)
# Every cdr_csv configuration writes at least accountcode..amaflags; uniqueid and userfield are
# optional (cdr.conf [csv] loguniqueid / loguserfield), newcdrcolumns appends three more.
_REQUIRED = 16  # through amaflags
_MOST = len(CDR_COLUMNS)  # 21: all of them
# One more column is read: a line that fills it has more fields than any layout (the reader drops
# the ones after it), so it is rejected instead of loaded cut.
_READ_COLUMNS = (*CDR_COLUMNS, "_more")

CDR_SCHEMA: dict[str, pl.DataType] = {
    "cdr_key": pl.String(),
    "line_no": pl.Int64(),
    **{c: pl.String() for c in CDR_COLUMNS[:9]},
    "start_at": pl.Datetime("us", "UTC"),
    "answer_at": pl.Datetime("us", "UTC"),
    "end_at": pl.Datetime("us", "UTC"),
    "duration": pl.Int64(),
    "billsec": pl.Int64(),
    "disposition": pl.String(),
    "amaflags": pl.String(),
    "uniqueid": pl.String(),
    "userfield": pl.String(),
    "linkedid": pl.String(),
}
_TEXT_COLUMNS = tuple(c for c, dtype in CDR_SCHEMA.items() if dtype == pl.String() and c != "cdr_key")
CDR_REJECT_SCHEMA: dict[str, pl.DataType] = {
    "line_no": pl.Int64(), "byte_offset": pl.Int64(), "reason": pl.String(), "raw_text": pl.String(),
}
REJECT_REASONS = ("cut_by_crash", "unterminated", "bad_quoting", "too_few_fields", "too_many_fields",
                  "bad_start_time", "bad_answer_time", "bad_end_time", "bad_duration")

# The start of a record as cdr_csv writes it: the quoted accountcode, then the opening quote of src.
# Text after a NUL run that does not start so stays on the line it is in.
_RECORD_START = rb'"(?:[^"\r\n\x00]|"")*+","'
_CRASH_PADDING = CrashPadding(_RECORD_START)
# A line whose fields are all well quoted: each field either "…" (inner quotes doubled) or bare
# text not starting with a quote. (With an even number of quotes: the reader pairs quotes across
# bare fields too when it splits lines.)
_FIELD = r'(?:"(?:[^"]|"")*"|(?:[^",][^,]*)?)'
_WELL_QUOTED = rf"^{_FIELD}(?:,{_FIELD})*\r?$"
_COUNT_WINDOW = 1 << 20


@dataclass(frozen=True)
class ParsedCdr:
    """The outcome of one chunk: lines_read == len(rows) + len(rejects) + skipped_blank.
    rows_with_replaced_bytes: rows kept with bytes that were not UTF-8 (read as U+FFFD)."""

    rows: pl.DataFrame
    rejects: pl.DataFrame
    lines_read: int
    skipped_blank: int
    rows_with_replaced_bytes: int = 0
    cut_line_start: int | None = None  # as queue_log_parser.ParsedChunk's

    @property
    def last_end(self) -> int | None:
        """The end (epoch seconds) of the chunk's last record that has one: the next chunk's
        `end_before`."""
        ends = self.rows.get_column("end_at").drop_nulls()
        return int(ends.dt.epoch("s")[-1]) if len(ends) else None


def break_midline_nul_runs(data: bytes) -> bytes:
    """`data` with each NUL run between a record a crash cut and the start of a new one turned
    into a line break, offsets kept, as queue_log lines are (crash_padding.py)."""
    return _CRASH_PADDING.break_midline_runs(data)


def parse_master_csv(data: bytes, *, timezone: str, first_line_no: int = 0, base_offset: int = 0,
                     end_before: int | None = None) -> ParsedCdr:
    """Parse whole lines of a Master.csv.

    `data` must start at a line start; its last line may lack the newline only when the caller
    decided to consume a final unterminated line (which is then rejected as `unterminated`).
    `first_line_no` and `base_offset` place the chunk in its stream so that rejects point at the
    exact line and byte. Lines are counted as the parser sees them: a NUL run that ends a cut
    record before the next one ends a line (`break_midline_nul_runs`). `end_before`: the end
    (epoch seconds) of the stream's last record before the chunk, read in an earlier chunk or run
    (`ParsedCdr.last_end`): in a repeated hour it says which pass the chunk starts in.
    """
    if not data:
        return ParsedCdr(pl.DataFrame(schema=CDR_SCHEMA), pl.DataFrame(schema=CDR_REJECT_SCHEMA), 0, 0)
    has_nuls = b"\x00" in data
    broken = break_midline_nul_runs(data) if has_nuls else data
    lines = _Lines(broken)
    last = lines.count - 1

    damaged: dict[int, str] = {}  # chunk-relative line → reason, for lines kept from the reader
    if has_nuls:
        damaged.update((i, "cut_by_crash") for i in _CRASH_PADDING.cut_lines(data, lines.newlines))
    if lines.unterminated and last not in damaged and lines.text(last):
        damaged[last] = "unterminated"

    raw = _read_fields(lines, damaged)

    def local(col: str, reading: str) -> pl.Expr:
        """`_<col>_local` (the time as written) in the zone, at a repeated hour's `reading`."""
        return pl.col(f"_{col}_local").dt.replace_time_zone(
            timezone, ambiguous=reading, non_existent="null").dt.convert_time_zone("UTC")

    def given(col: str) -> pl.Expr:
        return pl.col(col).str.strip_chars() != ""

    fields = _field_counts(raw, lines, damaged)
    newcdr = pl.col("_fields") > 18  # peeraccount, linkedid, sequence at the end (19 to 21 fields)

    def nth_from_end(k: int) -> pl.Expr:
        """The k-th field from the end of a 19- to 21-field record."""
        return pl.coalesce(pl.when(pl.col("_fields") == n).then(pl.col(CDR_COLUMNS[n - k])) for n in (19, 20, 21))

    typed = raw.with_columns(
        pl.int_range(first_line_no, first_line_no + lines.count, dtype=pl.Int64).alias("line_no"),
        pl.concat_str([pl.col(c).fill_null("") for c in CDR_COLUMNS], separator="\x1f").alias("_key_text"),
        (fields == 0).alias("_blank"),  # (a line of bare empty fields, ",,", is not blank)
        fields.alias("_fields"),
    ).with_columns(  # each time read once; its two instants below
        pl.col(c).str.strip_chars().str.to_datetime("%Y-%m-%d %H:%M:%S", strict=False, time_unit="us").alias(f"_{c}_local")
        for c in ("start", "answer", "end")
    ).with_columns(
        *[local(c, reading).alias(f"_{c}_{reading}") for c in ("start", "answer", "end") for reading in ("earliest", "latest")],
        # a negative count is damage, not a duration (bad_duration)
        pl.col("duration").str.strip_chars().cast(pl.Int64, strict=False).pipe(lambda n: pl.when(n >= 0).then(n)),
        pl.col("billsec").str.strip_chars().cast(pl.Int64, strict=False).pipe(lambda n: pl.when(n >= 0).then(n)),
        # uniqueid and userfield by layout (a 19-field record has neither: its 17th is peeraccount)
        pl.when(pl.col("_fields").is_in([17, 18, 20, 21])).then(pl.col("uniqueid")).alias("uniqueid"),
        pl.when(pl.col("_fields").is_in([18, 21])).then(pl.col("userfield")).alias("userfield"),
        pl.when(newcdr).then(nth_from_end(2)).alias("linkedid"),
        nth_from_end(1).str.strip_chars().str.contains(r"^-?\d+$").alias("_sequence_ok"),
    )
    typed = _resolve_repeated_hour(typed, _pass_before(end_before, timezone))
    reason = (
        pl.when(pl.col("_fields") < _REQUIRED).then(pl.lit("too_few_fields"))
        .when((pl.col("_fields") > _MOST) | (newcdr & ~pl.col("_sequence_ok").fill_null(False)))
        .then(pl.lit("too_many_fields"))
        .when(pl.col("start_at").is_null()).then(pl.lit("bad_start_time"))
        .when(given("answer") & pl.col("answer_at").is_null()).then(pl.lit("bad_answer_time"))
        .when(given("end") & pl.col("end_at").is_null()).then(pl.lit("bad_end_time"))
        .when(pl.col("duration").is_null() | pl.col("billsec").is_null()).then(pl.lit("bad_duration"))
    )
    typed = typed.with_columns(pl.when(~pl.col("_blank")).then(reason).alias("_reason"))
    if damaged:  # read as blank lines (see _read_fields): their reason instead
        marks = pl.DataFrame({"line_no": [first_line_no + i for i in damaged], "_damage": list(damaged.values())},
                             schema={"line_no": pl.Int64, "_damage": pl.String})
        typed = typed.join(marks, on="line_no", how="left", maintain_order="left").with_columns(
            pl.coalesce("_damage", "_reason").alias("_reason"),
            (pl.col("_blank") & pl.col("_damage").is_null()).alias("_blank"),
        )
    good = typed.filter(~pl.col("_blank") & pl.col("_reason").is_null())
    rows = _with_keys(good).select(list(CDR_SCHEMA)).cast(CDR_SCHEMA)  # DuckDB hands back Etc/UTC
    # cdr_csv quotes every field, so a field without a value is "": null, as on Postgres, where dlt's
    # CSV load file cannot tell the two apart (the key above is taken from the text as written)
    rows = rows.with_columns(
        pl.when(pl.col(c) != "").then(pl.col(c)).alias(c) for c in _TEXT_COLUMNS
    )
    bad = typed.filter(pl.col("_reason").is_not_null()).select("line_no", "_reason")
    rejects = pl.DataFrame(
        [(line_no, base_offset + lines.start(line_no - first_line_no), reason, lines.text(line_no - first_line_no))
         for line_no, reason in bad.iter_rows()],  # the line as written, and where: rare, so one by one
        schema=CDR_REJECT_SCHEMA, orient="row")
    return ParsedCdr(rows=rows, rejects=rejects, lines_read=lines.count, skipped_blank=int(typed["_blank"].sum()),
                     rows_with_replaced_bytes=rows_with_replaced_bytes(rows, broken),
                     cut_line_start=lines.start(last) if lines.unterminated else None)


def _pass_before(end_before: int | None, timezone: str) -> pl.DataFrame:
    """Rows standing for what came before a chunk, as `in_second_pass` reads the rows of one:
    none unless the last record's end is a time the night repeats; then its earlier reading (the
    latest time of the first pass so far), and, when it was the later reading, a step back after
    it (the second pass has begun; every later record of the hour is in it)."""
    context = pl.DataFrame({"early": [], "late": []}, schema={"early": pl.Int64, "late": pl.Int64})
    if end_before is None:
        return context
    local = pl.Series([end_before * 1_000_000], dtype=pl.Datetime("us", "UTC")).dt.convert_time_zone(timezone) \
        .dt.replace_time_zone(None)
    early, late = (int(local.dt.replace_time_zone(timezone, ambiguous=reading).dt.epoch("s")[0])
                   for reading in ("earliest", "latest"))
    if early == late:
        return context
    rows = [(early, late)]
    if end_before == late:
        rows.append((early - STEP_BACK_SECONDS - 1, late - STEP_BACK_SECONDS - 1))
    return pl.DataFrame(rows, schema=context.schema, orient="row")


def _resolve_repeated_hour(typed: pl.DataFrame, before: pl.DataFrame) -> pl.DataFrame:
    """start_at, answer_at and end_at from each time's two readings (`_<col>_earliest`/`_latest`,
    equal outside the hour a fall-back night repeats). cdr_csv appends a record when its call
    ends, so the file's order is the order of end times: it tells a second pass of the hour
    (repeated_hour.in_second_pass); an end before the call's start can only be the later reading.
    Start and answer then take the reading that agrees with the record's own duration and billsec
    (end - duration, end - billsec): a call that began before the change and ended after it has
    its start in the first pass and its end in the second."""
    end_early, end_late = pl.col("_end_earliest"), pl.col("_end_latest")
    second_pass = in_second_pass(
        pl.concat([before["early"], typed["_end_earliest"].dt.epoch("s").rename("early")]),
        pl.concat([before["late"], typed["_end_latest"].dt.epoch("s").rename("late")])).slice(before.height)
    end_at = pl.when(second_pass | (end_early < pl.col("_start_earliest"))).then(end_late).otherwise(end_early)

    def nearest(col: str, target: pl.Expr) -> pl.Expr:
        early, late = pl.col(f"_{col}_earliest"), pl.col(f"_{col}_latest")
        later_is_nearer = (late - target).abs() < (early - target).abs()
        return pl.when(later_is_nearer.fill_null(False)).then(late).otherwise(early)

    return typed.with_columns(end_at.alias("end_at")).with_columns(
        nearest("start", pl.col("end_at") - pl.duration(seconds=pl.col("duration"))).alias("start_at"),
        nearest("answer", pl.col("end_at") - pl.duration(seconds=pl.col("billsec"))).alias("answer_at"),
    ).drop(f"_{c}_{reading}" for c in ("start", "answer", "end") for reading in ("earliest", "latest", "local"))


class _Lines:
    """Where the lines of a chunk are (after break_midline_nul_runs, at their raw offsets)."""

    def __init__(self, data: bytes):
        self.data = data
        # A megabyte at a time (the comparison stays in cache), as queue_log_parser.count_lines does
        view = np.frombuffer(data, np.uint8)
        self.newlines = np.concatenate([np.flatnonzero(view[i:i + _COUNT_WINDOW] == 10) + i
                                        for i in range(0, len(view), _COUNT_WINDOW)] or [np.empty(0, np.int64)])
        self.unterminated = not data.endswith(b"\n")
        self.count = len(self.newlines) + self.unterminated

    def start(self, i: int) -> int:
        return 0 if i == 0 else int(self.newlines[i - 1]) + 1

    def end(self, i: int) -> int:
        return int(self.newlines[i]) if i < len(self.newlines) else len(self.data)

    def text(self, i: int) -> str:
        """Line i as written: NULs removed, the CR of a CRLF end dropped, invalid UTF-8 replaced."""
        return self.data[self.start(i):self.end(i)].replace(b"\x00", b"").decode("utf-8", errors="replace").rstrip("\r")

    def ending_in_comma(self) -> np.ndarray:
        """Lines whose last byte (before a CR) is a comma: an empty bare last field."""
        view = np.frombuffer(self.data, np.uint8)
        ends = self.newlines[self.newlines > 0]
        before = view[ends - 1]
        crlf = (before == 13) & (ends > 1)
        before = np.where(crlf, view[np.maximum(ends - 2, 0)], before)
        return np.searchsorted(self.newlines, ends[before == 44])

    def without(self, drop: dict[int, str] | set[int]) -> bytes:
        """The chunk with the text of lines `drop` removed (each keeps its newline: a blank line),
        without NULs, and ending in a newline."""
        pieces, at = [], 0
        for i in sorted(drop):
            pieces.append(self.data[at:self.start(i)])
            at = self.end(i)
        pieces.append(self.data[at:])
        out = b"".join(pieces) if drop else self.data
        out = out.replace(b"\x00", b"") if b"\x00" in out else out
        return out + b"\n" if self.unterminated else out


def _read_fields(lines: _Lines, damaged: dict[int, str]) -> pl.DataFrame:
    """The fields of every line as text columns (_READ_COLUMNS), one row per line; `damaged` lines
    are read as blank ones. A chunk the reader refuses (or reads as fewer rows than lines: a quoted
    field running over a newline) has lines whose quotes do not pair up: each is added to `damaged`
    as bad_quoting, and the rest is read again."""
    clean = lines.without(damaged)
    try:
        raw = _read(clean)
        if raw.height == lines.count:
            return raw
    except (pl.exceptions.PolarsError, pl.exceptions.PanicException):
        pass
    text = pl.Series([clean.decode("utf-8", errors="replace")]).str.split("\n").list.slice(0, lines.count).explode()
    quotes_paired = text.str.contains(_WELL_QUOTED) & (text.str.count_matches('"', literal=True) % 2 == 0)
    for i in quotes_paired.not_().arg_true().to_list():
        damaged.setdefault(i, "bad_quoting")
    raw = _read(lines.without(damaged))
    if raw.height != lines.count:  # pragma: no cover - every line left is well quoted
        raise ValueError(f"Master.csv reader returned {raw.height} rows for {lines.count} lines")
    return raw


def _read(clean: bytes) -> pl.DataFrame:
    return read_csv_bytes(
        clean,
        has_header=False,
        new_columns=list(_READ_COLUMNS),
        schema={c: pl.String for c in _READ_COLUMNS},
        missing_columns="insert",
        truncate_ragged_lines=True,
        extra_columns="ignore",  # a first line longer than the read columns must not fail the chunk
        encoding="utf8-lossy",
        raise_if_empty=False,
    )


def _field_counts(raw: pl.DataFrame, lines: _Lines, damaged: dict[int, str]) -> pl.Series:
    """Each line's number of fields: up to its last field read (cdr_csv writes no empty last
    field, and a field it leaves empty is "" when quoted), counted exactly for the few lines that
    end in an empty bare field, which reads like no field."""
    counts = raw.select(pl.max_horizontal(
        pl.when(pl.col(c).is_not_null()).then(pl.lit(i + 1, pl.Int64)) for i, c in enumerate(_READ_COLUMNS)
    ).fill_null(0)).to_series()
    exact = {int(i): len(next(csv.reader([lines.text(int(i))]))) for i in lines.ending_in_comma() if int(i) not in damaged}
    if exact:
        counts = counts.scatter(list(exact), list(exact.values()))
    return counts


def _with_keys(frame: pl.DataFrame) -> pl.DataFrame:
    with duckdb.connect() as con:
        con.register("frame", frame.to_arrow())
        return con.sql("select md5(_key_text) as cdr_key, * exclude (_key_text) from frame").pl()
