"""Parse the realtime `queue_log` *table* variant: a MySQL/SQL dump or a CSV export of it.

Realtime storage writes `time` as a local datetime string and the data either in one `data`
column (legacy mode, pipes included) or split into data1..data5 (adaptive mode, where data5 keeps
any remaining '|'), asterisk-queue-log.md §1.2. Rows are normalised to the flat file's field
layout (data1..data6) so that staging treats both variants alike. Vectorised with Polars regexes.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import duckdb
import polars as pl

from pipelines.asterisk.queue_log_parser import DATA_FIELDS

_TUPLE = r"\((?:[^()']|'(?:[^'\\]|\\.|'')*')*\)"
_VALUE = r"'(?:[^'\\]|\\.|'')*'|NULL|null|[-+0-9.eE]+"
_INSERT = re.compile(r"INSERT\s+INTO\s+[`\"]?(?:\w+[`\"]?\.[`\"]?)?(\w+)[`\"]?\s*(\(([^)]*)\))?\s*VALUES\s*", re.I)
_CREATE = re.compile(r"CREATE\s+TABLE\s+(?:IF\s+NOT\s+EXISTS\s+)?[`\"]?(\w+)[`\"]?\s*\((.*?)\)\s*(?:ENGINE|;|WITH|TABLESPACE)", re.I | re.S)
_COLUMN_DEF = re.compile(r"^\s*[`\"]?(\w+)[`\"]?\s+\w+", re.M)
# MySQL string escapes (mysqldump writes \\ \' \" \n \r \0 \Z); '' is a quote in standard SQL.
_SQL_ESCAPES = {
    "\\0": "\x00", "\\'": "'", '\\"': '"', "\\b": "\b", "\\n": "\n", "\\r": "\r", "\\t": "\t",
    "\\Z": "\x1a", "\\\\": "\\", "''": "'",
}

TABLE_SCHEMA: dict[str, pl.DataType] = {
    "row_key": pl.String(),
    "row_no": pl.Int64(),
    "event_time_text": pl.String(),
    "event_epoch": pl.Int64(),
    "callid": pl.String(),
    "queuename": pl.String(),
    "agent": pl.String(),
    "event": pl.String(),
    **{name: pl.String() for name in DATA_FIELDS},
}
TABLE_REJECT_SCHEMA: dict[str, pl.DataType] = {"row_no": pl.Int64(), "reason": pl.String(), "raw_text": pl.String()}


@dataclass(frozen=True)
class ParsedTable:
    rows: pl.DataFrame
    rejects: pl.DataFrame
    rows_read: int


def parse_sql_dump(text: str, *, timezone: str, table_name: str = "queue_log") -> ParsedTable:
    """Rows of every `INSERT INTO queue_log ... VALUES (...), (...);` in a SQL dump."""
    columns = _create_table_columns(text, table_name)
    frames = []
    for match in _INSERT.finditer(text):
        if match.group(1).lower() != table_name:
            continue
        cols = [c.strip(" `\"") for c in match.group(3).split(",")] if match.group(3) else columns
        if not cols:
            raise ValueError(f"INSERT INTO {table_name} without a column list and no CREATE TABLE to take it from")
        body = text[match.end(): _statement_end(text, match.end())]
        tuples = pl.Series("t", [body]).str.extract_all(_TUPLE).explode().drop_nulls()
        values = tuples.str.slice(1, tuples.str.len_chars() - 2).str.extract_all(_VALUE)
        frames.append((cols, pl.DataFrame({"raw_text": tuples, "values": values})))
    rows = [(cols, f) for cols, f in frames]
    return _normalise(rows, timezone)


def parse_csv_export(data: bytes, *, timezone: str) -> ParsedTable:
    """A CSV export with a header naming the table's columns (time, callid, ..., data or data1..).

    A row with more fields than the header, or cut before its event, is a bad row (rejected).
    """
    header = pl.read_csv(data, n_rows=0, infer_schema=False, encoding="utf8-lossy").columns
    cols = [c.strip().lower() for c in header]
    extra = "_extra_field"  # one spare column: content there means the row is longer than the header
    frame = pl.read_csv(
        data, has_header=False, skip_rows=1, new_columns=[*cols, extra], schema={c: pl.String for c in [*cols, extra]},
        missing_columns="insert", extra_columns="ignore", truncate_ragged_lines=True, encoding="utf8-lossy",
        raise_if_empty=False,
    )
    ragged = pl.col(extra).is_not_null() | (pl.col("event").is_null() if "event" in cols else pl.lit(False))
    raw_text = pl.concat_str([*(pl.col(c).fill_null("") for c in cols), pl.col(extra)], separator=",", ignore_nulls=True)
    # A ragged row gets one value too many, so that _normalise rejects it as bad_row.
    values = pl.when(ragged).then(pl.concat_list([pl.col(c) for c in [*cols, extra]])).otherwise(
        pl.concat_list([pl.col(c) for c in cols]))
    prepared = frame.select(raw_text.alias("raw_text"), values.alias("values"))
    return _normalise([(cols, prepared)], timezone, quoted=False)


def _normalise(parts: list[tuple[list[str], pl.DataFrame]], timezone: str, *, quoted: bool = True) -> ParsedTable:
    row_frames, reject_frames, total, row_base = [], [], 0, 0
    for cols, frame in parts:
        n = len(cols)
        frame = frame.with_columns(pl.int_range(row_base, row_base + frame.height, dtype=pl.Int64).alias("row_no"))
        row_base += frame.height
        total += frame.height
        bad = frame.filter(pl.col("values").list.len() != n)
        good = frame.filter(pl.col("values").list.len() == n)
        if bad.height:
            reject_frames.append(bad.select("row_no", pl.lit("bad_row").alias("reason"), "raw_text"))
        fields = good.select(
            "row_no", "raw_text",
            *[_unquote(pl.col("values").list.get(i), quoted).alias(name.lower()) for i, name in enumerate(cols)],
        )
        typed = _typed_rows(fields, timezone)
        bad_time = typed.filter(pl.col("event_epoch").is_null())
        if bad_time.height:
            reject_frames.append(bad_time.select("row_no", pl.lit("bad_time").alias("reason"), "raw_text"))
        row_frames.append(typed.filter(pl.col("event_epoch").is_not_null()).drop("raw_text"))
    rows = pl.concat(row_frames, how="vertical") if row_frames else pl.DataFrame(schema=TABLE_SCHEMA)
    rejects = pl.concat(reject_frames) if reject_frames else pl.DataFrame(schema=TABLE_REJECT_SCHEMA)
    return ParsedTable(rows=rows.select(list(TABLE_SCHEMA)), rejects=rejects.cast(TABLE_REJECT_SCHEMA), rows_read=total)


def _typed_rows(fields: pl.DataFrame, timezone: str) -> pl.DataFrame:
    present = set(fields.columns)
    time_col = pl.col("time") if "time" in present else pl.lit(None, pl.String)
    parsed = time_col.str.strip_chars().str.to_datetime("%Y-%m-%d %H:%M:%S%.f", strict=False, time_unit="us")
    epoch = parsed.dt.replace_time_zone(timezone, ambiguous="earliest", non_existent="null").dt.epoch("s")

    split_data = pl.col("data").str.split("|") if "data" in present else pl.lit(None, pl.List(pl.String))
    adaptive = [pl.col(f"data{i}") if f"data{i}" in present else pl.lit(None, pl.String) for i in range(1, 6)]
    has_adaptive = pl.any_horizontal([c.is_not_null() & (c != "") for c in adaptive])
    # Adaptive data5 keeps the rest of the string: 'calltime|origposition' → data5, data6.
    tail = adaptive[4].str.split("|")
    data_cols = []
    for i in range(6):
        from_adaptive = adaptive[i] if i < 4 else (tail.list.get(0, null_on_oob=True) if i == 4 else tail.list.slice(1).list.join("|"))
        from_legacy = split_data.list.get(i, null_on_oob=True) if i < 5 else split_data.list.slice(5).list.join("|")
        value = pl.when(has_adaptive).then(from_adaptive).otherwise(from_legacy)
        data_cols.append(pl.when(value == "").then(None).otherwise(value).alias(DATA_FIELDS[i]))

    key = pl.col("id").cast(pl.String) if "id" in present else pl.lit(None, pl.String)
    frame = fields.select(
        key.alias("row_key"),
        "row_no",
        "raw_text",
        time_col.alias("event_time_text"),
        epoch.cast(pl.Int64).alias("event_epoch"),
        *[(pl.col(c) if c in present else pl.lit(None, pl.String)).alias(c) for c in ("callid", "queuename", "agent", "event")],
        *data_cols,
    )
    if "id" not in present:
        frame = _content_keys(frame)
    return frame


def _content_keys(frame: pl.DataFrame) -> pl.DataFrame:
    """No id column: key rows by an md5 of their content (DuckDB's md5 is stable across versions)."""
    with duckdb.connect() as con:
        con.register("frame", frame.to_arrow())
        return con.sql(
            # coalesce: concat_ws skips NULLs, which would let a value shift into a neighbouring field
            "select * replace (md5(concat_ws('|', " + ", ".join(
                f"coalesce({c}, '')" for c in ("event_time_text", "callid", "queuename", "agent", "event", *DATA_FIELDS)
            ) + ")) as row_key) from frame"
        ).pl()


def _unquote(expr: pl.Expr, quoted: bool) -> pl.Expr:
    if not quoted:
        return expr
    is_null = expr.str.to_uppercase() == "NULL"
    is_string = expr.str.starts_with("'")
    inner = expr.str.slice(1, expr.str.len_chars() - 2)
    # Split into escape sequences and plain runs, then decode each sequence once (left to right, so
    # that an escaped backslash followed by 'n' stays a backslash and an 'n').
    tokens = inner.str.extract_all(r"\\.|''|[^\\']+|[\\']")
    unescaped = tokens.list.eval(pl.element().replace(_SQL_ESCAPES)).list.join("")
    return pl.when(is_null).then(None).when(is_string).then(unescaped).otherwise(expr)


def _create_table_columns(text: str, table_name: str) -> list[str]:
    for match in _CREATE.finditer(text):
        if match.group(1).lower() == table_name:
            names = _COLUMN_DEF.findall(match.group(2))
            return [n for n in names if n.upper() not in {"PRIMARY", "UNIQUE", "KEY", "INDEX", "CONSTRAINT"}]
    return []


def _statement_end(text: str, start: int) -> int:
    """Index of the ';' ending an INSERT, skipping ';' inside quoted strings."""
    pattern = re.compile(r"'(?:[^'\\]|\\.|'')*'|;")
    for m in pattern.finditer(text, start):
        if m.group(0) == ";":
            return m.start()
    return len(text)
