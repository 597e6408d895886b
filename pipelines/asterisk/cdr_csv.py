"""Parse Asterisk cdr-csv `Master.csv` rows — pure, vectorised.

Default layout (cdr_csv.c): accountcode, src, dst, dcontext, clid, channel, dstchannel, lastapp,
lastdata, start, answer, end, duration, billsec, disposition, amaflags, uniqueid, userfield;
`newcdrcolumns = yes` appends peeraccount, linkedid, sequence. Times are the PBX's local time
(`usegmtime = no`), so they are converted to UTC with the configured zone. Master.csv has no
natural key (a uniqueid repeats per leg), so rows are keyed by an md5 of their content.
"""

from __future__ import annotations

from dataclasses import dataclass

import duckdb
import polars as pl

from pipelines.asterisk.queue_log_parser import _rejects_with_text, count_lines

CDR_COLUMNS = (
    "accountcode", "src", "dst", "dcontext", "clid", "channel", "dstchannel", "lastapp", "lastdata",
    "start", "answer", "end", "duration", "billsec", "disposition", "amaflags", "uniqueid", "userfield",
    "peeraccount", "linkedid", "sequence",
)
# Every cdr_csv configuration writes at least accountcode..amaflags; uniqueid and userfield are
# optional (cdr_csv.conf loguniqueid / loguserfield), newcdrcolumns appends three more.
_REQUIRED = 16  # through amaflags

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


@dataclass(frozen=True)
class ParsedCdr:
    rows: pl.DataFrame
    rejects: pl.DataFrame
    lines_read: int
    skipped_blank: int


def parse_master_csv(data: bytes, *, timezone: str, first_line_no: int = 0, base_offset: int = 0) -> ParsedCdr:
    lines_read = count_lines(data)
    if lines_read == 0:
        return ParsedCdr(pl.DataFrame(schema=CDR_SCHEMA), pl.DataFrame(schema=CDR_REJECT_SCHEMA), 0, 0)
    clean = data.replace(b"\x00", b"")
    if not data.endswith(b"\n"):
        clean += b"\n"  # an unterminated last line of only NULs is still a (blank) line
    raw = pl.read_csv(
        clean,
        has_header=False,
        new_columns=list(CDR_COLUMNS),
        missing_columns="insert",
        schema={c: pl.String for c in CDR_COLUMNS},
        truncate_ragged_lines=True,
        encoding="utf8-lossy",
        raise_if_empty=False,
    ).with_columns(pl.int_range(first_line_no, first_line_no + lines_read, dtype=pl.Int64).alias("line_no"))
    if raw.height != lines_read:
        # Quoted newlines inside a field (never written by cdr_csv) would break line alignment.
        raise ValueError(f"Master.csv reader returned {raw.height} rows for {lines_read} lines")

    def local(col: str) -> pl.Expr:
        parsed = pl.col(col).str.strip_chars().str.to_datetime("%Y-%m-%d %H:%M:%S", strict=False, time_unit="us")
        return parsed.dt.replace_time_zone(timezone, ambiguous="earliest", non_existent="null").dt.convert_time_zone("UTC")

    blank = pl.all_horizontal([pl.col(c).is_null() for c in CDR_COLUMNS])
    typed = raw.with_columns(
        pl.concat_str([pl.col(c).fill_null("") for c in CDR_COLUMNS], separator="\x1f").alias("_key_text"),
    ).with_columns(
        blank.alias("_blank"),
        local("start").alias("start_at"),
        local("answer").alias("answer_at"),
        local("end").alias("end_at"),
        pl.col("duration").str.strip_chars().cast(pl.Int64, strict=False),
        pl.col("billsec").str.strip_chars().cast(pl.Int64, strict=False),
    )
    reason = (
        pl.when(pl.col(CDR_COLUMNS[_REQUIRED - 1]).is_null()).then(pl.lit("too_few_fields"))
        .when(pl.col("start_at").is_null()).then(pl.lit("bad_start_time"))
        .when(pl.col("duration").is_null() | pl.col("billsec").is_null()).then(pl.lit("bad_duration"))
    )
    typed = typed.with_columns(pl.when(~pl.col("_blank")).then(reason).alias("_reason"))
    good = typed.filter(~pl.col("_blank") & pl.col("_reason").is_null())
    rows = _with_keys(good).select(list(CDR_SCHEMA)).cast(CDR_SCHEMA)  # DuckDB hands back Etc/UTC
    # cdr_csv quotes every field, so a field without a value is "": null, as on Postgres, where dlt's
    # CSV load file cannot tell the two apart (the key above is taken from the text as written)
    rows = rows.with_columns(
        pl.when(pl.col(c) != "").then(pl.col(c)).alias(c) for c in _TEXT_COLUMNS
    )
    bad = typed.filter(pl.col("_reason").is_not_null()).select("line_no", "_reason")
    rejects = _rejects_with_text(data, bad, first_line_no, base_offset)  # the line as written, and where
    return ParsedCdr(rows=rows, rejects=rejects, lines_read=lines_read, skipped_blank=int(typed["_blank"].sum()))


def _with_keys(frame: pl.DataFrame) -> pl.DataFrame:
    with duckdb.connect() as con:
        con.register("frame", frame.to_arrow())
        return con.sql("select md5(_key_text) as cdr_key, * exclude (_key_text) from frame").pl()
