"""Parse the realtime `queue_log` *table* variant: a MySQL/SQL dump or a CSV export of it.

Realtime storage writes `time` as a local datetime string and the data either in one `data`
column (legacy mode, pipes included) or split into data1..data5 (adaptive mode, where data5 keeps
any remaining '|'), asterisk-queue-log.md §1.2. Rows are normalised to the flat file's field
layout (data1..data6) so that staging treats both variants alike. Vectorised with Polars regexes.

A row's key (`row_key`) is its content: an md5 of its time and fields, prefixed with its id when
the export has one ("<id>:<md5>"). The id alone does not name a row: after `TRUNCATE TABLE` (or a
restored backup) the auto-increment ids start again at 1, and a later dump's rows would replace
the earlier dump's rows with the same ids. The same row exported again has the same key.

`row_no` numbers the rows in the table's order (staging orders rows of one second by it when they
have no id): the rows' places in the export counted from its oldest end — an export printed newest
first (Wazo, asterisk-queue-log.md §4.10) is read from its end — handed out in the order of the
rows' exact times (fraction included). An export in time order keeps its own numbering. A
reject's `row_no` is its place in the file.

`time` is local time without a zone (asterisk-queue-log.md §4.11): on the night daylight saving
ends the hour before the change happens twice. The table's own order (its ids, or the rows' places
in the export) tells the two passes apart: where the second pass begins, time goes back by more
than rows logged out of order ever do, and that row and the later ones of the repeated hour take
the later reading (`repeated_hour.in_second_pass`). A time in the spring-forward gap does not exist (`bad_time`).

Every row of the export is a row or a reject (rows_read = rows + rejects): a tuple cut off by the
end of a truncated SQL dump is rejected as `unterminated`, text between tuples that is not a
tuple as `bad_row`, both with their exact text. An export that does not name its columns (a CSV
without header, a dump without CREATE TABLE or column list) is read in the table's own column
order when the field count and time of one of its first rows fit one (`_table_layout`); else
its rows are rejected as `no_header`.
"""

from __future__ import annotations

import csv
import re
from collections.abc import Iterable
from dataclasses import dataclass, replace

import duckdb
import polars as pl

from pipelines.asterisk.queue_log_parser import DATA_FIELDS
from pipelines.asterisk.repeated_hour import in_second_pass
from pipelines.csv_bytes import read_csv_bytes

_TUPLE = r"\((?:[^()']|'(?:[^'\\]|\\.|'')*')*\)"
_VALUE = r"'(?:[^'\\]|\\.|'')*'|NULL|null|[-+0-9.eE]+"
# mysqldump writes INSERT INTO, or INSERT IGNORE INTO / REPLACE INTO (--insert-ignore, --replace)
_INSERT = re.compile(
    r"(?:INSERT(?:\s+(?:LOW_PRIORITY|DELAYED|HIGH_PRIORITY))?(?:\s+IGNORE)?|REPLACE(?:\s+(?:LOW_PRIORITY|DELAYED))?)"
    r"\s+INTO\s+[`\"]?(?:\w+[`\"]?\.[`\"]?)?(\w+)[`\"]?\s*(\(([^)]*)\))?\s*VALUES?\s*", re.I)
_CREATE = re.compile(r"CREATE\s+TABLE\s+(?:IF\s+NOT\s+EXISTS\s+)?[`\"]?(\w+)[`\"]?\s*\((.*?)\)\s*(?:ENGINE|;|WITH|TABLESPACE)", re.I | re.S)
_COLUMN_DEF = re.compile(r"\s*[`\"]?(\w+)[`\"]?\s+\w+")
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
    # tables of other names whose rows a SQL dump holds too (cdr, an archive of queue_log): not
    # read, and not counted in rows_read
    other_tables: tuple[str, ...] = ()


def parse_sql_dump(text: str, *, timezone: str, table_name: str = "queue_log") -> ParsedTable:
    """Rows of every `INSERT [IGNORE] INTO` / `REPLACE INTO queue_log ... VALUES (...), (...);` in a SQL
    dump, and of every `COPY queue_log (...) FROM stdin;` block (pg_dump's own form: Wazo keeps
    queue_log in PostgreSQL)."""
    columns = _create_table_columns(text, table_name)
    if _time_written_in_utc(text, table_name):
        timezone = "UTC"
    frames = []
    copied, other_tables = _copy_blocks(text, table_name)
    position = 0
    # statement by statement: an INSERT written inside a value of the one before is not one
    while match := _INSERT.search(text, position):
        end = _statement_end(text, match.end())
        position = end + 1
        if match.group(1).lower() != table_name:
            other_tables.add(match.group(1).lower())
            continue
        cols = [c.strip(" `\"") for c in match.group(3).split(",")] if match.group(3) else columns
        tuples = _tuples(text[match.end(): end], terminated=end < len(text))
        values = tuples["raw_text"].str.slice(1, tuples["raw_text"].str.len_chars() - 2).str.extract_all(_VALUE)
        tuples = tuples.with_columns(values.alias("values"))
        if not cols:  # mysqldump --no-create-info: the table's own layout, if the values fit one
            first = tuples.filter(pl.col("reason").is_null())["values"].head(_LAYOUT_ROWS).to_list()
            cols = _table_layout([v.strip("'") for v in values] for values in first)
            if cols is None:
                tuples = tuples.with_columns(pl.lit("no_header").alias("reason"))
        frames.append((cols or [], tuples))
    frames += copied
    return replace(_normalise(frames, timezone), other_tables=tuple(sorted(other_tables)))


# pg_dump: `COPY [schema.]queue_log (col, ...) FROM stdin;`, rows of tab-separated values, `\.`
_COPY = re.compile(r"^COPY\s+(?:[\w\"]+\.)?\"?(\w+)\"?\s*\(([^)]*)\)\s+FROM\s+stdin;[ \t]*\r?\n", re.I | re.M)
_COPY_END = re.compile(r"^\\\.\r?$", re.M)
# COPY's text format: \N is NULL; a backslash escapes the next character (\t \n \r and the rest)
_COPY_ESCAPES = {"\\t": "\t", "\\n": "\n", "\\r": "\r", "\\b": "\b", "\\f": "\f", "\\v": "\v"}
_COPY_ESCAPE = re.compile(r"\\(.)")


def _copy_blocks(text: str, table_name: str) -> tuple[list[tuple[list[str], pl.DataFrame]], set[str]]:
    """The rows of the dump's COPY blocks of `table_name`, as the INSERT path has them: each row's
    text and its values written as SQL literals (so one unescaping serves both). A block cut off
    by the end of the dump ends in an `unterminated` row; a row with another count of values
    than the block's columns is a bad row (its count of values tells _normalise). Also the names
    of the other tables the dump copies (not read)."""
    frames = []
    other_tables = set()
    for match in _COPY.finditer(text):
        if match.group(1).lower() != table_name:
            other_tables.add(match.group(1).lower())
            continue
        cols = [c.strip(' "') for c in match.group(2).split(",")]
        end = _COPY_END.search(text, match.end())
        body = text[match.end(): end.start() if end else len(text)]
        rows = body.splitlines()
        values = [[_sql_literal(v) for v in row.split("\t")] for row in rows]
        reasons = [None] * len(rows)
        if end is None and rows:
            reasons[-1] = "unterminated"
        frames.append((cols, pl.DataFrame(
            {"raw_text": rows, "reason": reasons, "values": values},
            schema={"raw_text": pl.String, "reason": pl.String, "values": pl.List(pl.String)})))
    return frames, other_tables


def _sql_literal(copy_value: str) -> str:
    """A COPY text-format value as the SQL literal a dump's INSERT would hold."""
    if copy_value == "\\N":
        return "NULL"
    value = _COPY_ESCAPE.sub(lambda m: _COPY_ESCAPES.get(m.group(), m.group(1)), copy_value)
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


_SEPARATORS = " \t\r\n,"
_TUPLE_AT = re.compile(_TUPLE)
_SKIP_SEPARATORS = re.compile(r"[ \t\r\n,]*")
# the next ",(" outside quoted strings (a string left open runs to the end)
_NEXT_TUPLE = re.compile(r"'(?:[^'\\]|\\.|'')*(?:'|\Z)|(,)[ \t\r\n]*(?=\()")


def _tuples(body: str, *, terminated: bool) -> pl.DataFrame:
    """The `(...)` tuples of an INSERT's VALUES list (raw_text), with a reason for text that is
    not a tuple: `unterminated` for the last one of a statement cut off by the end of the dump,
    `bad_row` for any other. A reject's text is exact, and each is counted as one row read."""
    tuples = pl.Series("raw_text", [body]).str.extract_all(_TUPLE).explode().drop_nulls()
    # Clean (nearly always): every character outside the tuples is a separator.
    outside = len(body) - int(tuples.str.len_chars().sum() or 0)
    separators_outside = sum(body.count(c) for c in _SEPARATORS) - int(
        tuples.str.count_matches(r"[ \t\r\n,]").sum() or 0)
    if outside == separators_outside:
        return pl.DataFrame({"raw_text": tuples, "reason": pl.Series([None] * len(tuples), dtype=pl.String)})
    # Otherwise read the list tuple by tuple; what is not a tuple runs to the next ",(" (or the end).
    texts, reasons = [], []
    pos = _SKIP_SEPARATORS.match(body).end()
    while pos < len(body):
        found = _TUPLE_AT.match(body, pos)
        if found:
            texts.append(found.group())
            reasons.append(None)
            pos = found.end()
        else:
            following = next((m for m in _NEXT_TUPLE.finditer(body, pos) if m.group(1)), None)
            stop = following.start() if following else len(body)
            texts.append(body[pos:stop].rstrip(_SEPARATORS))
            reasons.append("bad_row" if following or terminated else "unterminated")
            pos = stop
        pos = _SKIP_SEPARATORS.match(body, pos).end()
    return pl.DataFrame({"raw_text": texts, "reason": reasons}, schema={"raw_text": pl.String, "reason": pl.String})


def parse_csv_export(data: bytes, *, timezone: str) -> ParsedTable:
    """A CSV export of the table.

    Its first line names the columns (time, callid, ..., data or data1..; any order, any case).
    Without such a header (`SELECT … INTO OUTFILE` writes none) the columns are the table's own
    (`_table_layout`). Fields are separated by the first line's commonest of comma, tab and
    semicolon; a tab-separated export is read with backslash escapes and no quoting
    (`_tab_separated`). A row with more fields than the columns, cut before its event, or whose quotes do
    not pair up is a bad row, a short last row of an export that ends without a line break an
    `unterminated` one; every reject keeps its exact text. Blank lines are not rows.
    """
    text = data.decode("utf-8", errors="replace").removeprefix("\ufeff")
    lines = [line for line in text.splitlines() if line.strip()]
    if not lines:
        return _normalise([], timezone, quoted=False)
    terminated = data.rstrip(b"\x00").endswith((b"\n", b"\r"))
    delimiter = max(",\t;", key=lines[0].count)
    if delimiter == "\t":
        return _normalise([_tab_separated(text, terminated=terminated)], timezone, quoted=False)
    cols = _named_columns(_split(lines[0], delimiter) or [])
    if cols is not None:
        lines = lines[1:]
    else:
        cols = _table_layout(_split(line, delimiter) or [] for line in lines[:_LAYOUT_ROWS])
    if cols is None:
        texts, values, reasons = lines, [None] * len(lines), ["no_header"] * len(lines)
    else:
        texts, values, reasons = _csv_rows(lines, delimiter, cols)
        if texts and not terminated:
            last = _split(texts[-1], delimiter)
            values = _cut_last_row_rejected(values, reasons, None if last is None else len(last), cols)
    return _normalise([(cols or [], _prepared(texts, reasons, values))], timezone, quoted=False)


def _named_columns(first_values: list[str | None]) -> list[str] | None:
    """The columns a header names (time, callid, ..., data or data1..; any order, any case), or
    None when the first row is no header."""
    first = [(value or "").strip().lower() for value in first_values]
    return first if "time" in first and "event" in first else None


def _prepared(texts: list[str], reasons: list, values) -> pl.DataFrame:
    """An export's rows as _normalise takes them: exact text, reason (of a piece that is not a
    row) and values."""
    return pl.DataFrame(
        {"raw_text": texts, "reason": reasons, "values": values},
        schema={"raw_text": pl.String, "reason": pl.String, "values": pl.List(pl.String)},
    )


# Tab-separated exports are written with backslash escapes and no quoting: MySQL's
# `SELECT … INTO OUTFILE` and `mysql --batch`, PostgreSQL's COPY text format. A backslash escapes
# the next character - a tab or a line break in a value, a backslash - and `\N` is a NULL. The
# escaped separators are set aside (as characters of Unicode's private use area) before the text
# is split into rows and fields.
_ESCAPED_BACKSLASH, _ESCAPED_TAB, _ESCAPED_BREAK = "\ue000", "\ue001", "\ue002"
_ESCAPE_CODES = {"0": "\x00", "b": "\b", "n": "\n", "r": "\r", "t": "\t", "Z": "\x1a"}
_ESCAPE = re.compile(r"\\(.)", re.S)


def _tab_separated(text: str, *, terminated: bool) -> tuple[list[str], pl.DataFrame]:
    """The columns and rows of a tab-separated export (see above): each row's exact text and its
    values, read as `_csv_rows` reads a CSV's (a header or the table's own columns; a short row
    with its event read with the rest empty; a short last row of an export that ends without a
    line break `unterminated`)."""
    held = (text.replace("\\\\", _ESCAPED_BACKSLASH).replace("\\\t", _ESCAPED_TAB)
            .replace("\\\r\n", _ESCAPED_BREAK).replace("\\\n", _ESCAPED_BREAK))
    records = [r.removesuffix("\r") for r in held.split("\n")]
    records = [r for r in records if r.strip()]

    def value(field: str) -> str | None:
        if field in _CSV_NULLS:  # \N, or NULL as `mysql --batch` writes it
            return None
        field = _ESCAPE.sub(lambda m: _ESCAPE_CODES.get(m.group(1), m.group(1)), field)
        return field.replace(_ESCAPED_BACKSLASH, "\\").replace(_ESCAPED_TAB, "\t").replace(_ESCAPED_BREAK, "\n")

    def as_written(record: str) -> str:
        return (record.replace(_ESCAPED_BACKSLASH, "\\\\").replace(_ESCAPED_TAB, "\\\t")
                .replace(_ESCAPED_BREAK, "\\\n"))

    fields = [record.split("\t") for record in records]
    cols = _named_columns([value(f) for f in fields[0]]) if fields else None
    if cols is not None:
        records, fields = records[1:], fields[1:]
    else:
        cols = _table_layout([value(f) or "" for f in row] for row in fields[:_LAYOUT_ROWS])
    texts = [as_written(r) for r in records]
    if cols is None:
        reasons, values = ["no_header"] * len(texts), [None] * len(texts)
    else:
        event_at = cols.index("event") if "event" in cols else len(cols)
        values = [[value(f) for f in row] + [""] * (len(cols) - len(row) if event_at < len(row) < len(cols) else 0)
                  for row in fields]
        reasons = [None] * len(texts)
        if texts and not terminated:
            values = _cut_last_row_rejected(values, reasons, len(fields[-1]), cols)
    return cols or [], _prepared(texts, reasons, values)


def _cut_last_row_rejected(values, reasons: list, last_fields: int | None, cols: list[str]):
    """An export that does not end with a line break may be one still being written: its last
    row, short of the columns' count of fields (`last_fields`; None: a quote left open), is
    `unterminated`, as a dump's cut tuple is, not a row with its last values empty; once
    completed it loads. A full last row loads (some tools end a file without a line break).
    Returns `values` updated."""
    if reasons[-1] is None and (last_fields is None or last_fields < len(cols)):
        reasons[-1] = "unterminated"
        if isinstance(values, pl.Series):
            return pl.concat([values.slice(0, len(values) - 1), pl.Series(values.name, [None], dtype=values.dtype)])
        values[-1] = None
    return values


# NULL as exporters write it (mysql's own CSV: \N; others: NULL) is a null, as in a dump: the row
# key holds the content, and the same row exported both ways must keep one key
_CSV_NULLS = ("NULL", "\\N")


def _csv_rows(lines: list[str], delimiter: str, cols: list[str]) -> tuple[list[str], pl.Series | list, list]:
    """The rows of an export's lines under `cols`: each row's exact text, its values, and a reason
    where it has none (its quotes do not pair up). A row with fewer fields than the columns but
    its event is read with the rest empty; a row longer than the columns, or cut before its
    event, gets a count of values that _normalise rejects.

    Polars reads the whole export at once. Where it does not read one row per line (a quoted
    value over two lines, or a quote left open), the csv module reads it row by row (`_csv_rows_one_by_one`)."""
    extra = "_extra_field"  # one spare column: content there means the row is longer than the columns
    try:
        frame = read_csv_bytes(
            ("\n".join(lines) + "\n").encode(), has_header=False, separator=delimiter, new_columns=[*cols, extra],
            schema={c: pl.String for c in [*cols, extra]}, missing_columns="insert", extra_columns="ignore",
            truncate_ragged_lines=True, raise_if_empty=False, null_values=list(_CSV_NULLS),
        )
    except pl.exceptions.PolarsError:
        frame = None
    if frame is not None and frame.height == len(lines):
        ragged = pl.col(extra).is_not_null() | (pl.col("event").is_null() if "event" in cols else pl.lit(False))
        values = pl.when(ragged).then(pl.concat_list([*cols, extra])).otherwise(pl.concat_list(cols))
        return lines, frame.select(values.alias("values"))["values"], [None] * len(lines)
    return _csv_rows_one_by_one(lines, delimiter, cols)


def _csv_rows_one_by_one(lines: list[str], delimiter: str, cols: list[str]) -> tuple[list[str], list, list]:
    """`_csv_rows` by the csv module. A row may go on over several lines (a quoted line break)
    only if it then has the columns' count of fields; otherwise its first line alone is a bad row
    and reading starts again at the next line, so a quote left open takes no good line with it."""
    event_at = cols.index("event") if "event" in cols else None
    texts: list[str] = []
    values: list[list[str | None] | None] = []
    reasons: list[str | None] = []
    at = 0
    while at < len(lines):
        following = (lines[k].replace("\x00", "") + "\n" for k in range(at, len(lines)))  # (no copy of the rest)
        reader = csv.reader(following, delimiter=delimiter, strict=True)
        try:
            fields = next(reader)
            used = reader.line_num
        except csv.Error:
            fields, used = None, 0
        if fields is None or (used > 1 and len(fields) != len(cols)):
            texts.append(lines[at])
            values.append(None)
            reasons.append("bad_row")
            at += 1
            continue
        if event_at is not None and event_at < len(fields) < len(cols):
            fields += [""] * (len(cols) - len(fields))
        texts.append("\n".join(lines[at:at + used]))
        values.append([None if v in _CSV_NULLS else v for v in fields])
        reasons.append(None)
        at += used
    return texts, values, reasons


def _split(line: str, delimiter: str) -> list[str] | None:
    """One line's fields (None where its quotes do not pair up)."""
    try:
        return next(csv.reader([line.replace("\x00", "")], delimiter=delimiter, strict=True), [])
    except csv.Error:
        return None


# The table's columns in its own order, by field count, for an export that does not name them
_HEADERLESS_COLUMNS = {
    11: ["id", "time", "callid", "queuename", "agent", "event", "data1", "data2", "data3", "data4", "data5"],
    10: ["time", "callid", "queuename", "agent", "event", "data1", "data2", "data3", "data4", "data5"],
    7: ["id", "time", "callid", "queuename", "agent", "event", "data"],
    6: ["time", "callid", "queuename", "agent", "event", "data"],
}


_DATETIME = re.compile(r"^\s*\d{4}-\d{2}-\d{2}[ T]\d{2}:\d{2}")


# the rows looked at for the layout of an export that does not name its columns
_LAYOUT_ROWS = 100


def _table_layout(rows: Iterable[list[str]]) -> list[str] | None:
    """The table's own columns for an export that does not name them (no header, no CREATE TABLE
    or column list), told by a row's field count where its `time` is a time there: the first such
    row of the first ones, so a damaged first row (a NULL or garbled time) does not reject every
    row of the export as no_header."""
    for values in rows:
        cols = _HEADERLESS_COLUMNS.get(len(values))
        if cols and _DATETIME.match(values[cols.index("time")]):
            return cols
    return None


def _normalise(parts: list[tuple[list[str], pl.DataFrame]], timezone: str, *, quoted: bool = True) -> ParsedTable:
    """`parts`: (columns, frame of raw_text, reason (of a piece that is not a row) and values)."""
    row_frames, reject_frames, total = [], [], 0
    for cols, frame in parts:
        n = len(cols)
        frame = frame.with_columns(
            pl.int_range(total, total + frame.height, dtype=pl.Int64).alias("row_no"), _without_nuls(pl.col("raw_text")))
        total += frame.height
        wrong = pl.col("reason").is_not_null() | (pl.col("values").list.len() != n)
        bad = frame.filter(wrong)
        if bad.height:
            reject_frames.append(bad.select("row_no", pl.col("reason").fill_null("bad_row"), "raw_text"))
        fields = frame.filter(~wrong).select(
            "row_no", "raw_text",
            *[_without_nuls(_unquote(pl.col("values").list.get(i), quoted)).alias(name.lower()) for i, name in enumerate(cols)],
        )
        typed = _typed_rows(fields, timezone)
        bad_time = typed.filter(pl.col("event_epoch").is_null())
        if bad_time.height:
            reject_frames.append(bad_time.select("row_no", pl.lit("bad_time").alias("reason"), "raw_text"))
        row_frames.append(typed.filter(pl.col("event_epoch").is_not_null()).drop("raw_text"))
    rows = pl.concat(row_frames, how="vertical") if row_frames else pl.DataFrame()
    if rows.height:
        newest_first = _newest_first(rows["exact_time"])
        place = (total - 1 - pl.col("row_no")) if newest_first else pl.col("row_no")
        rows = _in_table_order(_keyed(_second_pass_of_repeated_hours(rows, place)), place)
    else:
        rows = pl.DataFrame(schema=TABLE_SCHEMA)
    rejects = pl.concat(reject_frames) if reject_frames else pl.DataFrame(schema=TABLE_REJECT_SCHEMA)
    return ParsedTable(rows=rows.select(list(TABLE_SCHEMA)), rejects=rejects.cast(TABLE_REJECT_SCHEMA), rows_read=total)


def _without_nuls(text: pl.Expr) -> pl.Expr:
    """NULs removed, as from queue_log files (§4.12): a NUL in a value (a raw byte in a CSV, `\\0` in
    a dump) is damage, not part of a name, and Postgres cannot store it in text at all (the load
    failed there)."""
    return text.str.replace_all("\x00", "", literal=True)


def _newest_first(exact_time: pl.Series) -> bool:
    """Whether the export prints the table newest first: its times go down more often than up
    (export order). The one step back of a repeated hour does not outweigh the others."""
    steps = exact_time.diff().drop_nulls()
    return int((steps < 0).sum()) > int((steps > 0).sum())


def _in_table_order(rows: pl.DataFrame, place: pl.Expr) -> pl.DataFrame:
    """`row_no` in the table's order (module docstring): the rows' places counted from the oldest
    end of the export (`place`), handed out by exact time, then by that place. Rows come in
    export order, their exact times already resolved in a repeated hour."""
    rows = rows.with_columns(place.alias("row_no"), pl.int_range(pl.len()).alias("export_index"))
    ordered = rows.sort("exact_time", "row_no").with_columns(rows["row_no"].sort().alias("row_no"))
    return ordered.sort("export_index")


def _second_pass_of_repeated_hours(rows: pl.DataFrame, place: pl.Expr) -> pl.DataFrame:
    """Resolve the local times that a fall-back night repeats (repeated_hour.in_second_pass) by the
    table's order: by numeric id when the export has ids, then by `place` (the row's place from the
    export's oldest end). Rows in the second pass take their later instant (`exact_time_late`)."""
    if rows.select((pl.col("exact_time") == pl.col("exact_time_late")).all()).item():
        return rows
    in_table_order = rows.with_row_index("_index").sort(
        pl.col("row_key").str.strip_chars().cast(pl.Int64, strict=False), place, nulls_last=True)
    late = in_second_pass(in_table_order["exact_time"], in_table_order["exact_time_late"], per_second=1_000_000)
    is_late = in_table_order.select("_index").with_columns(late.alias("_late")).sort("_index")["_late"]
    return rows.with_columns(
        pl.when(is_late).then(pl.col("exact_time_late") // 1_000_000).otherwise("event_epoch").alias("event_epoch"),
        pl.when(is_late).then(pl.col("exact_time_late")).otherwise("exact_time").alias("exact_time"),
    )


def _typed_rows(fields: pl.DataFrame, timezone: str) -> pl.DataFrame:
    """Typed rows; `exact_time` is a repeated hour's earlier instant, `exact_time_late` its later
    one (the same instant outside it): `_second_pass_of_repeated_hours` chooses."""
    present = set(fields.columns)
    time_col = pl.col("time") if "time" in present else pl.lit(None, pl.String)
    text = time_col.str.strip_chars()
    parsed = text.str.to_datetime("%Y-%m-%d %H:%M:%S%.f", strict=False, time_unit="us")
    # A `timestamp with time zone` column (Wazo's schema, in PostgreSQL) is dumped with its offset
    # ('2024-05-01 10:00:00.123456+00'): an instant, which no zone setting moves
    with_offset = text.str.replace(r"Z$", "+00").str.replace("T", " ", literal=True).str.to_datetime(
        "%Y-%m-%d %H:%M:%S%.f%#z", strict=False, time_unit="us", time_zone="UTC")
    instant, instant_late = (
        pl.when(parsed.is_null()).then(with_offset).otherwise(
            parsed.dt.replace_time_zone(timezone, ambiguous=ambiguous, non_existent="null").dt.convert_time_zone("UTC"))
        for ambiguous in ("earliest", "latest"))
    epoch = instant.dt.epoch("s")

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
        if i == 5:  # the rest of the fields, trailing empty ones dropped as the file parser does
            value = value.str.strip_chars_end("|")
        data_cols.append(pl.when(value == "").then(None).otherwise(value).alias(DATA_FIELDS[i]))

    key = pl.col("id").cast(pl.String) if "id" in present else pl.lit(None, pl.String)
    frame = fields.select(
        key.alias("row_key"),
        "row_no",
        "raw_text",
        time_col.alias("event_time_text"),
        epoch.cast(pl.Int64).alias("event_epoch"),
        instant.dt.epoch("us").alias("exact_time"),
        instant_late.dt.epoch("us").alias("exact_time_late"),
        *[(pl.col(c) if c in present else pl.lit(None, pl.String)).alias(c) for c in ("callid", "queuename", "agent", "event")],
        *data_cols,
    )
    return frame


# A row's content as text, in SQL that DuckDB and Postgres evaluate alike: the parser keys rows by
# its md5 and the loader recognises rows loaded before (source.py, _table_rows_keyed_by_id) by it.
# coalesce: concat_ws skips NULLs, which would let a value shift into a neighbouring field.
CONTENT_MD5_SQL = "md5(concat_ws('|', " + ", ".join(
    f"coalesce({c}, '')" for c in ("event_time_text", "callid", "queuename", "agent", "event", *DATA_FIELDS)) + "))"


def _keyed(frame: pl.DataFrame) -> pl.DataFrame:
    """row_key: the md5 of the row's content (DuckDB's md5 is stable across versions), after the
    row's id and a ':' when it has one."""
    with duckdb.connect() as con:
        con.register("frame", frame.to_arrow())
        return con.sql(
            f"select * replace (coalesce(row_key || ':', '') || {CONTENT_MD5_SQL} as row_key) from frame"
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


def _create_table(text: str, table_name: str) -> str | None:
    """The body of the dump's `CREATE TABLE table_name (...)`, if it has one."""
    for match in _CREATE.finditer(text):
        if match.group(1).lower() == table_name:
            return match.group(2)
    return None


def _create_table_columns(text: str, table_name: str) -> list[str]:
    """The column names of the dump's CREATE TABLE, one definition at a time (split at the commas
    outside parentheses and quotes: a CREATE TABLE written on one line holds them all)."""
    names = [m.group(1) for d in _definitions(_create_table(text, table_name) or "")
             if (m := _COLUMN_DEF.match(d))]
    return [n for n in names if n.upper() not in {"PRIMARY", "UNIQUE", "KEY", "INDEX", "CONSTRAINT"}]


_DEFINITION_PART = re.compile(r"'(?:[^'\\]|\\.|'')*'|`[^`]*`|\"[^\"]*\"|[(),]|[^'`\"(),]+")


def _definitions(body: str) -> list[str]:
    """A CREATE TABLE body's definitions: split at the commas outside parentheses and quotes."""
    parts, depth, current = [], 0, []
    for piece in _DEFINITION_PART.findall(body):
        if piece == "," and depth == 0:
            parts.append("".join(current))
            current = []
            continue
        depth += {"(": 1, ")": -1}.get(piece, 0)
        current.append(piece)
    parts.append("".join(current))
    return [p for p in parts if p.strip()]


_TIME_ZONE_UTC = re.compile(r"SET\s+TIME_ZONE\s*=\s*'\+00:00'", re.I)
_TIME_TYPE = re.compile(r"^\s*[`\"]?time[`\"]?\s+(\w+)", re.I | re.M)


def _time_written_in_utc(text: str, table_name: str) -> bool:
    """A dump whose `time` column is a TIMESTAMP, written under `SET TIME_ZONE='+00:00'` (what
    mysqldump does unless --skip-tz-utc): its times are UTC, not the PBX's local time. Asterisk's
    own schema declares a DATETIME, which is written as stored (local)."""
    declared = _TIME_TYPE.search(_create_table(text, table_name) or "")
    return bool(declared and declared.group(1).lower() == "timestamp" and _TIME_ZONE_UTC.search(text))


# a quoted string (skipped whole) or the ';' that ends a statement
_STRING_OR_SEMICOLON = re.compile(r"'(?:[^'\\]|\\.|'')*'|;")


def _statement_end(text: str, start: int) -> int:
    """Index of the ';' ending an INSERT, skipping ';' inside quoted strings."""
    for m in _STRING_OR_SEMICOLON.finditer(text, start):
        if m.group(0) == ";":
            return m.start()
    return len(text)
