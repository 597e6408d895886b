"""Webex Calling CDR records → one typed, columnar batch — pure, vectorised.

The API sends every record as a JSON object whose keys are human-readable strings ("Answer time",
"Local SessionID") whose spelling changes case between spec and payload and which grows new keys
every year. Values are mostly strings: "" / "NA" / "na" for missing, "true"/"false" for booleans,
numbers sometimes as strings ("Ring duration": "8"), timestamps ISO-8601 with `Z` or with a space
and no zone ("2023-10-12 21:22:32.621").

What happens here:
- keys are normalised once per distinct key *set* (not per record): lower case, every run of
  non-alphanumerics → `_`, and a documented key in any case or spacing ("LOCAL SESSIONID",
  "local sessionid", "Local SessionID") to its one name (`local_session_id`); two spellings of
  one key in the same record are coalesced;
- values: "", "NA", "na", "N/A" → null; the known typed keys are parsed (timestamps → UTC,
  `answered` → boolean, durations and offsets → integers, the reputation score → double);
  a non-empty value that does not parse sends its record to the rejects with the reason, and so
  do values that contradict each other (a negative duration, a release before the start);
- keys never seen before are kept as text columns (schema evolution; a type guessed from one page
  could be contradicted by the next, and the raw record keeps the original anyway);
- every record keeps its original JSON text in `raw_record`;
- `calling_number`/`called_number` get E.164, country and number type (pipelines/phone_numbers.py).
"""

from __future__ import annotations

import hashlib
import re
import threading
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from operator import itemgetter

import numpy as np
import orjson
import polars as pl
import pyarrow as pa

from pipelines.phone_numbers import with_number_columns

# Every key of a 2026 cdr_feed record, normalised, in the API's order. Typed keys are listed in
# the type maps below; all others are text.
KNOWN_KEYS: tuple[str, ...] = (
    "answer_time", "answered", "direction", "called_line_id", "call_id", "calling_line_id", "start_time",
    "call_type", "client_type", "client_version", "correlation_id", "international_country", "device_mac",
    "duration", "inbound_trunk", "org_uuid", "original_reason", "os_type", "outbound_trunk", "redirect_reason",
    "related_reason", "report_id", "report_time", "route_group", "site_main_number", "site_timezone",
    "sub_client_type", "user_uuid", "user_type", "user", "called_number", "calling_number", "location",
    "dialed_digits", "releasing_party", "redirecting_number", "site_uuid", "department_id",
    "transfer_related_call_id", "authorization_code", "model", "local_session_id", "remote_session_id",
    "call_transfer_time", "local_call_id", "remote_call_id", "network_call_id", "related_call_id", "user_number",
    "call_outcome", "call_outcome_reason", "ring_duration", "answer_indicator", "release_time",
    "final_local_session_id", "final_remote_session_id", "pstn_legal_entity", "pstn_vendor_org_id",
    "pstn_vendor_name", "pstn_provider_id", "external_customer_id", "redirecting_party_uuid",
    "public_calling_ip_address", "public_called_ip_address", "caller_id_number", "external_caller_id_number",
    "device_owner_uuid", "call_recording_platform_name", "call_recording_result", "call_recording_trigger",
    "original_called_party_uuid", "recall_type", "auto_attendant_key_pressed", "queue_type", "answered_elsewhere",
    "hold_duration", "route_list_calls_overage", "caller_reputation_score", "caller_reputation_service_result",
    "caller_reputation_score_reason", "interaction_id", "wxcc_consult_merge_status", "elin",
    "emergency_number_source", "transfer_type", "transfer_type_context", "answer_reason",
)
TIMESTAMP_KEYS = frozenset({"answer_time", "start_time", "report_time", "release_time", "call_transfer_time"})
BOOLEAN_KEYS = frozenset({"answered"})
INTEGER_KEYS = frozenset({"duration", "ring_duration", "hold_duration", "site_timezone", "route_list_calls_overage"})
FLOAT_KEYS = frozenset({"caller_reputation_score"})

UTC_TS = pl.Datetime("us", "UTC")


def _key_type(key: str) -> pl.DataType:
    if key in TIMESTAMP_KEYS:
        return UTC_TS
    if key in BOOLEAN_KEYS:
        return pl.Boolean()
    if key in INTEGER_KEYS:
        return pl.Int64()
    if key in FLOAT_KEYS:
        return pl.Float64()
    return pl.String()


PHONE_COLUMNS = ("calling_number", "called_number")
DERIVED_COLUMNS: dict[str, pl.DataType] = {
    f"{c}_{suffix}": pl.String() for c in PHONE_COLUMNS for suffix in ("e164", "country", "type")
}
META_COLUMNS: dict[str, pl.DataType] = {
    "_source": pl.String(),  # cdr_feed | cdr_stream | control_hub_csv
    "_window_start": UTC_TS,  # API window (None for files)
    "_window_end": UTC_TS,
    "_source_file": pl.String(),  # Control Hub CSV file (None for the API)
    "_loaded_at": UTC_TS,
}
# Text columns whose values come from a short list (types, reasons, trunks, sites, countries):
# dictionary-encoded in the warehouse's load files (pipelines/load_files.py).
FEW_VALUED_COLUMNS: tuple[str, ...] = (
    "direction", "call_type", "client_type", "client_version", "international_country", "os_type",
    "original_reason", "redirect_reason", "related_reason", "route_group", "site_main_number", "sub_client_type",
    "user_type", "location", "releasing_party", "site_uuid", "org_uuid", "department_id", "model",
    "inbound_trunk", "outbound_trunk", "call_outcome", "call_outcome_reason", "answer_indicator",
    "pstn_legal_entity", "pstn_vendor_org_id", "pstn_vendor_name", "pstn_provider_id",
    "call_recording_platform_name", "call_recording_result", "call_recording_trigger", "recall_type",
    "auto_attendant_key_pressed", "queue_type", "answered_elsewhere", "caller_reputation_service_result",
    "caller_reputation_score_reason", "wxcc_consult_merge_status", "emergency_number_source", "transfer_type",
    "transfer_type_context", "answer_reason",
    *(f"{c}_{suffix}" for c in PHONE_COLUMNS for suffix in ("country", "type")),
    "_source", "_source_file",
)
CDR_COLUMNS: dict[str, pl.DataType] = {
    **{k: _key_type(k) for k in KNOWN_KEYS},
    "raw_record": pl.String(),
    **DERIVED_COLUMNS,
    **META_COLUMNS,
}
# Where each row came from, as columns while a batch is normalised: pages of several windows are
# normalised as one frame (Polars' cost per operation, paid once per batch instead of per page).
# Normalised keys never start with "_", so these cannot collide with a CDR key.
CONTEXT_COLUMNS: dict[str, pl.DataType] = {**META_COLUMNS, "_page": pl.String()}
REJECT_COLUMNS: dict[str, pl.DataType] = {
    "reject_key": pl.String(),  # md5 of source + raw text: a re-read window replaces, not doubles
    "reason": pl.String(),
    "raw_text": pl.String(),
    "_source": pl.String(),
    "_window_start": UTC_TS,
    "_window_end": UTC_TS,
    "_source_file": pl.String(),
    "_page": pl.String(),  # page URL, or "line N" of a file (where the record starts)
    "_loaded_at": UTC_TS,
}

_MISSING = ["", "NA", "na", "N/A", "n/a", "Na"]
_NON_ALNUM = re.compile(r"[^0-9A-Za-z]+")


# A documented key by its letters and digits alone: "SessionID" splits into two words only by its
# case, which payloads do not keep ("LOCAL SESSIONID"); so every spelling of a documented key that
# differs in case, spacing or punctuation finds the same name.
_KNOWN_BY_ALNUM = {key.replace("_", ""): key for key in KNOWN_KEYS}


def normalize_key(key: str) -> str:
    """"Local SessionID" / "LOCAL SESSIONID" → "local_session_id", "Call transfer Time" →
    "call_transfer_time"; a key not documented: lower case, non-alphanumerics → "_" (so that its
    case variants, too, are one column)."""
    text = _NON_ALNUM.sub("_", key).strip("_").lower()
    return _KNOWN_BY_ALNUM.get(text.replace("_", ""), text) or "blank_key"


@dataclass(frozen=True)
class BatchContext:
    """Where a batch came from; stamped on every row and reject."""

    source: str
    loaded_at: datetime
    window_start: datetime | None = None
    window_end: datetime | None = None
    source_file: str | None = None
    page: str | None = None


@dataclass(frozen=True)
class NormalizedBatch:
    rows: pl.DataFrame  # CDR_COLUMNS plus any new keys (text), one row per good record
    rejects: pl.DataFrame  # REJECT_COLUMNS
    records_read: int


def empty_rows() -> pl.DataFrame:
    return pl.DataFrame(schema=CDR_COLUMNS)


def empty_rejects() -> pl.DataFrame:
    return pl.DataFrame(schema=REJECT_COLUMNS)


def normalize_records(records: Sequence[object], ctx: BatchContext) -> NormalizedBatch:
    """Records as decoded from one API page (`items`)."""
    groups: dict[tuple, list[int]] = {}
    bad: list[tuple[str, str]] = []
    for i, record in enumerate(records):
        if isinstance(record, dict):
            groups.setdefault(tuple(record), []).append(i)
        else:
            bad.append(("record is not a JSON object", orjson.dumps(record).decode()))
    frames = []
    for keys, positions in groups.items():
        members = [records[i] for i in positions] if len(positions) != len(records) else records
        frames.append(_columns_of(keys, members))
    text = pl.concat(frames, how="diagonal_relaxed") if frames else pl.DataFrame(schema={"raw_record": pl.String})
    rows, rejects = normalize_text_frame(with_context(text, ctx))
    if bad:
        rejects = pl.concat([rejects, _reject_frame([b[0] for b in bad], [b[1] for b in bad], ctx)])
    return NormalizedBatch(rows, rejects, len(records))


@dataclass(frozen=True)
class ParsedPage:
    """One CDR page body, read. `text`: the records as text columns under their API keys plus
    `raw_record` (the fast, columnar path); `items`: the decoded records (the general path, for
    pages the fast path does not take)."""

    records: int
    text: pl.DataFrame | None = None
    items: list | None = None


_PAGE_HEAD = b'{"items":['
_PAGE_TAIL = b"]}"
_SCALAR_TYPES = (pl.String, pl.Int64, pl.Float64, pl.Boolean, pl.Null)
# Polars reports malformed input as exceptions, and a bug of its own as a PanicException
# (BaseException): either way the page is read by the general path, which decides.
_READ_ERRORS = (Exception, pl.exceptions.PanicException)


def whole_page(body: bytes) -> bytes | None:
    """The body when it can be a whole `{...}` JSON object, else None (cut short: the client asks
    again). Cheap, for the request loop; parse_cdr_page is the full read."""
    # the first and last non-blank bytes, from the ends (not a stripped copy of a 12 MB body)
    first = body[:64].lstrip()[:1] or body.lstrip()[:1]
    last = body[-64:].rstrip()[-1:] or body.rstrip()[-1:]
    return body if first == b"{" and last == b"}" else None


def parse_cdr_page(body: bytes, known_keys: dict | None = None) -> ParsedPage | None:
    """A CDR page body → ParsedPage, or None when it is not a readable `{"items": [...]}` (a
    truncated body: the client requests it again).

    Fast path, no Python object per record: the API writes `{"items":[{…},{…}]}` with records on
    one line, so the records are split at `},{` into lines and read as NDJSON by Polars (Rust,
    threads, no GIL), every value as text; each record's raw text is its own bytes, sliced out of
    the body. A `},{` inside a string value would cut a record in two halves that are not JSON, so
    the read fails and the page takes the general path (orjson, one dict per record) — as does any
    page of another shape (whitespace between records, a record that is not an object, nested
    values).

    `known_keys` (a dict kept by the caller across the pages of a run) saves Polars from inferring
    the keys of every page: a page is first read with the keys seen so far, and that read is kept
    only if it provably lost nothing — every `":` of the page (one per key of every record in
    compact JSON; more if a value contains one) is matched by a non-null value read. A key not
    in the list, a JSON null or a `":` inside a value make the counts differ, and the page's keys
    are then inferred from all its records (and added to the list); so is a page with whitespace
    before a colon, where a spaced key could cancel out a new one in the count."""
    fast = _fast_page(body, known_keys)
    if fast is not None:
        return fast
    try:
        decoded = orjson.loads(body)
    except orjson.JSONDecodeError:
        return None
    if not isinstance(decoded, dict) or not isinstance(decoded.get("items"), list):
        return None  # no `items`: an error body served with 200, not an empty window (a 404)
    items = decoded["items"]
    return ParsedPage(len(items), items=items)


# Polars runs each operation on a DataFrame through its query engine, ~1 ms for a frame of a
# hundred columns however small: reading a page (5000 records) avoids them, and the work on
# all columns is done once per batch of pages (normalize_pages).


def _fast_page(body: bytes, known_keys: dict | None = None) -> ParsedPage | None:
    if not (body.startswith(_PAGE_HEAD) and body.endswith(_PAGE_TAIL)) or b"\n" in body:
        return None
    size = len(body) - len(_PAGE_HEAD) - len(_PAGE_TAIL)
    if size == 0:
        return ParsedPage(0, text=pl.DataFrame(schema={"raw_record": pl.String}))
    # The records, copied into a work buffer with a newline after the last; record boundaries and
    # key counts come from byte comparisons over it (vectorised, no Python object per match).
    buffer, flags = _work_arrays(size + 1)
    buffer[:size] = np.frombuffer(body, np.uint8, count=size, offset=len(_PAGE_HEAD))
    buffer[size] = 0x0A
    records = buffer[:size]
    if records[0] != 0x7B or records[-1] != 0x7D:  # `{ … }`
        return None
    closes = np.flatnonzero(np.equal(records[:-2], 0x7D, out=flags[:size - 2]))
    ends = closes[(records[closes + 1] == 0x2C) & (records[closes + 2] == 0x7B)] + 1  # the `,` of each `},{`
    buffer[ends] = 0x0A  # -> `}\n{`: one record a line
    lines = buffer.tobytes()
    n = len(ends) + 1
    text = None
    # every `":` of the page (one per key of every record in compact JSON) is a key read;
    # whitespace before a colon could hide a key from that count (a raw tab or CR can only be
    # whitespace: inside a JSON string it is escaped)
    if known_keys and not (_pairs(records, b" :", flags) or b"\t" in body or b"\r" in body):
        keys = _pairs(records, b'":', flags)
        try:
            text = pl.read_ndjson(lines, schema=known_keys)
        except _READ_ERRORS:  # the inferring read below decides
            text = None
        if text is not None and (text.height != n or keys != _values_read(text)):
            text = None
    if text is None:
        try:
            text = pl.read_ndjson(lines, infer_schema_length=None)
        except _READ_ERRORS:  # any failure of the fast read: the general path decides
            return None
        if text.height != n or any(not isinstance(t, _SCALAR_TYPES) for t in text.dtypes):
            return None
        if known_keys is not None:
            known_keys.update(dict.fromkeys(text.columns, pl.String))
    if any(normalize_key(k) == "raw_record" for k in text.columns):
        return None  # a key that would collide with the raw text: the general path's business
    if any(t != pl.String for t in text.dtypes):  # an inferring read's numbers and booleans
        text = text.with_columns(pl.all().cast(pl.String))
    # raw_record: the lines themselves, without their newlines (a record starts one byte after the
    # previous one's newline)
    starts = np.empty(n, np.int64)
    starts[0], starts[1:] = 0, ends + 1
    stops = np.empty(n, np.int64)
    stops[:-1], stops[-1] = ends, size
    raw = pl.from_arrow(_string_views(lines, starts, stops - starts)).alias("raw_record")
    return ParsedPage(n, text=text.hstack([raw]))


def _pairs(data: np.ndarray, pair: bytes, flags: np.ndarray) -> int:
    """How often the two bytes `pair` occur in `data` (uint8): the bytes read as 16-bit numbers
    from even and from odd offsets, compared at once (two passes over half the bytes each)."""
    target = np.frombuffer(pair, np.uint16)[0]
    found = 0
    for start in (0, 1):
        words = data[start:start + (len(data) - start) // 2 * 2].view(np.uint16)
        found += np.count_nonzero(np.equal(words, target, out=flags[:len(words)]))
    return found


def _values_read(text: pl.DataFrame) -> int:
    """The non-null values of `text` (from each column's null count: no query)."""
    return text.height * text.width - sum(column.null_count() for column in text.iter_columns())


def _string_views(data: bytes, starts: np.ndarray, lengths: np.ndarray) -> pa.Array:
    """The texts data[start:start + length] as an Arrow string-view array over `data` itself (no
    copy; a view is 16 bytes: the length, then the text itself up to 12 bytes, else its first 4
    bytes, buffer 0 and the offset). Every text must be valid UTF-8 (Polars read them)."""
    views = np.zeros((len(starts), 16), np.uint8)
    numbers = views.view(np.int32)
    numbers[:, 0] = lengths
    buffer = np.frombuffer(data, np.uint8)
    long = lengths > 12
    views[long, 4:8] = buffer[starts[long][:, None] + np.arange(4)]
    numbers[long, 3] = starts[long]
    for i in np.flatnonzero(~long):  # `{}` and the like: inline
        views[i, 4:4 + lengths[i]] = buffer[starts[i]:starts[i] + lengths[i]]
    return pa.StringViewArray.from_buffers(pa.string_view(), len(starts), [None, pa.py_buffer(views), pa.py_buffer(data)])


_work = threading.local()


def _work_arrays(size: int) -> tuple[np.ndarray, np.ndarray]:
    """A byte buffer and a boolean array of `size`, kept by each thread for its next pages.

    Fresh arrays for every page cost more than the comparisons made in them: a 12 MB page's
    temporaries are new memory each time, and the page faults of touching it were ~4 s of
    kernel time in a 1M-record backfill."""
    held = getattr(_work, "arrays", None)
    if held is None or len(held[0]) < size:
        capacity = max(size, 16 << 20)
        held = _work.arrays = (np.empty(capacity, np.uint8), np.empty(capacity, np.bool_))
    return held[0][:size], held[1][:size]


def normalize_page(page: ParsedPage, ctx: BatchContext) -> NormalizedBatch:
    """A parsed page → typed rows and rejects (either path; the same result)."""
    if page.items is not None:
        return normalize_records(page.items, ctx)
    return normalize_pages([page_text(page, ctx)])


def page_text(page: ParsedPage, ctx: BatchContext) -> pl.DataFrame:
    """A page read by the fast path → its text columns under normalised names, with its context
    columns: the input of normalize_pages. A second spelling of a key (a case variant) is named
    `name<_SPELLING>k` until normalize_pages merges it into `name`."""
    text = page.text.clone()  # the frame's own column list, renamed below; the data is shared
    seen: dict[str, int] = {}
    names = []
    for key in text.columns:
        name = "raw_record" if key == "raw_record" else normalize_key(key)
        names.append(name if name not in seen else f"{name}{_SPELLING}{seen[name]}")
        seen[name] = seen.get(name, 0) + 1
    text.columns = names
    return with_context(text, ctx)


# Normalised names have no control character: this one marks a key's second (third…) spelling.
_SPELLING = "\x1f"


def normalize_pages(texts: Sequence[pl.DataFrame]) -> NormalizedBatch:
    """Several pages' `page_text`s (of any windows) → one batch of typed rows and rejects."""
    text = texts[0] if len(texts) == 1 else pl.concat(texts, how="diagonal_relaxed")
    rows, rejects = normalize_text_frame(_spellings_merged(text))
    return NormalizedBatch(rows, rejects, text.height)


def _spellings_merged(text: pl.DataFrame) -> pl.DataFrame:
    """Two spellings of one key (case variants) → one column, first non-missing value wins."""
    spellings: dict[str, list[str]] = {}
    for column in text.columns:
        if _SPELLING in column:
            spellings.setdefault(column.split(_SPELLING)[0], []).append(column)
    if not spellings:
        return text
    return text.with_columns(
        pl.coalesce([_nullify_expr(pl.col(c)) for c in [name, *others]]).alias(name)
        for name, others in spellings.items()
    ).drop([c for others in spellings.values() for c in others])


def with_context(text: pl.DataFrame, ctx: BatchContext) -> pl.DataFrame:
    """`text` with the CONTEXT_COLUMNS of `ctx` (one value for every row)."""
    values = {"_source": ctx.source, "_window_start": ctx.window_start, "_window_end": ctx.window_end,
              "_source_file": ctx.source_file, "_page": ctx.page, "_loaded_at": ctx.loaded_at}
    return text.hstack([pl.Series(c, [values[c]], t).new_from_index(0, text.height)
                        for c, t in CONTEXT_COLUMNS.items()])


def _nullify_expr(col: pl.Expr) -> pl.Expr:
    stripped = col.str.strip_chars()
    return pl.when(stripped.is_in(_MISSING)).then(None).otherwise(stripped)


def _columns_of(keys: tuple, records: Sequence[dict]) -> pl.DataFrame:
    """Text columns (normalised names) + raw_record of records that share one key tuple."""
    raw = pl.Series("raw_record", [orjson.dumps(r).decode() for r in records], dtype=pl.String)
    if not keys:
        return pl.DataFrame([raw])
    if len(keys) == 1:
        columns = [[r[keys[0]] for r in records]]
    else:
        columns = list(zip(*map(itemgetter(*keys), records), strict=True))
    by_name: dict[str, list[pl.Series]] = {}
    for key, values in zip(keys, columns, strict=True):
        by_name.setdefault(normalize_key(key), []).append(_text_series(key, values))
    out = []
    for name, series in by_name.items():
        if len(series) == 1:
            out.append(series[0].alias(name))
        else:  # the same key spelled twice in one record: first non-missing wins
            frame = pl.DataFrame({f"_{i}": _nullify(s) for i, s in enumerate(series)})
            out.append(frame.select(pl.coalesce(pl.all()).alias(name)).to_series())
    return pl.DataFrame([*out, raw])


def _text_series(key: str, values: Sequence[object]) -> pl.Series:
    try:
        return pl.Series(key, values, dtype=pl.String, strict=False)
    except (TypeError, ValueError, pl.exceptions.PolarsError):
        # nested objects/arrays in a value: keep their JSON text
        return pl.Series(key, [v if isinstance(v, str) or v is None else orjson.dumps(v).decode() for v in values],
                         dtype=pl.String)


def _nullify(series: pl.Series) -> pl.Series:
    stripped = series.str.strip_chars()
    return stripped.set(stripped.is_in(_MISSING), None)


def normalize_text_frame(text: pl.DataFrame) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Text columns with normalised names + `raw_record` + the CONTEXT_COLUMNS (with_context) →
    (typed rows, rejects)."""
    n = text.height
    if n == 0:
        return empty_rows(), empty_rejects()
    keys = [c for c in text.columns if c != "raw_record" and c not in CONTEXT_COLUMNS]
    text = _without_nul(text, keys)
    text = text.with_columns(pl.col(c).replace(_MISSING, None) for c in keys)
    typed = {name: _key_type(name) for name in keys if _key_type(name) != pl.String()}
    typed_columns = _parsed_columns(text, typed)
    problems = []
    for parsed, (name, dtype) in zip(typed_columns, typed.items(), strict=True):
        problems.append(
            pl.when(pl.col(name).is_not_null() & pl.lit(parsed).is_null())
            .then(pl.format("{}: not a {}: {}", pl.lit(name), pl.lit(_type_word(dtype)), pl.col(name)))
        )
    problems += _contradictions(dict(zip(typed, typed_columns, strict=True)))
    if "report_id" in text.columns:
        problems.insert(0, pl.when(pl.col("report_id").is_null()).then(pl.lit("missing Report ID")))
    else:
        problems.insert(0, pl.lit("missing Report ID"))
    checked = text.with_columns(pl.coalesce(problems).alias("_problem") if problems else pl.lit(None, pl.String).alias("_problem"))
    good = checked.filter(pl.col("_problem").is_null()).drop("_problem")
    bad = checked.filter(pl.col("_problem").is_not_null())
    if typed_columns:
        keep = checked.get_column("_problem").is_null()
        good = good.with_columns(column.filter(keep) for column in typed_columns)
    rows = good.with_columns(
        pl.lit(None, dtype).alias(name) for name, dtype in CDR_COLUMNS.items()
        if name not in good.columns and name not in DERIVED_COLUMNS)
    for column in PHONE_COLUMNS:
        rows = with_number_columns(rows, column)
    known = [pl.col(c).cast(t) for c, t in CDR_COLUMNS.items()]
    new_keys = sorted(c for c in rows.columns if c not in CDR_COLUMNS and c not in CONTEXT_COLUMNS)
    rows = rows.select(*known, *[pl.col(c).cast(pl.String) for c in new_keys])
    rejects = _rejects_of(bad.select(pl.col("_problem").alias("reason"), pl.col("raw_record").alias("raw_text"),
                                     *CONTEXT_COLUMNS))
    return rows, rejects


def _without_nul(text: pl.DataFrame, keys: list[str]) -> pl.DataFrame:
    """`text` with NUL characters taken out of its values. Postgres' text cannot hold one: a
    single CDR with a NUL in a name failed the whole load there, and dlt retried the package on
    every later run. (DuckDB would keep it; the queue_log parsers drop NULs too.) The raw record
    is JSON, from the API or made from a CSV row, so a NUL is there only as its escape `\\u0000`,
    and one scan of the raw records tells whether any value has one."""
    if not text.get_column("raw_record").str.contains("\\u0000", literal=True).any():
        return text
    return text.with_columns(pl.col(c).str.replace_all("\x00", "", literal=True) for c in keys)


DURATION_KEYS = ("duration", "ring_duration", "hold_duration")
# Webex gives durations in whole seconds (rounded: 426 for 425.886 s in the reference sample)
# while its timestamps carry milliseconds
DURATION_ROUNDING_SECONDS = 1


def _contradictions(parsed: dict[str, pl.Series]) -> list[pl.Expr]:
    """Problems of a record whose parsed values contradict each other: a negative duration, a leg
    that ends before it starts or is answered outside its span, talk longer than answer → release.
    Such a record cannot be placed in a call (every figure built on it would be wrong, and the
    models' consistency tests would stop every mart behind them), so it goes to the rejects with
    its reason, like a value that does not parse. Each check needs both of its values."""
    problems = []
    for key in DURATION_KEYS:
        if key in parsed:
            value = pl.lit(parsed[key])
            problems.append(pl.when(value < 0).then(pl.format("{}: negative: {}", pl.lit(key), value)))
    start, answer, release = (pl.lit(parsed[k]) if k in parsed else None
                              for k in ("start_time", "answer_time", "release_time"))
    if start is not None and release is not None:
        problems.append(pl.when(release < start).then(pl.lit("release_time before start_time")))
    if start is not None and answer is not None:
        problems.append(pl.when(answer < start).then(pl.lit("answer_time before start_time")))
    if answer is not None and release is not None:
        problems.append(pl.when(answer > release).then(pl.lit("answer_time after release_time")))
        if "duration" in parsed:
            talk = (release - answer).dt.total_milliseconds() / 1000
            problems.append(
                pl.when(pl.lit(parsed["duration"]) > talk + DURATION_ROUNDING_SECONDS)
                .then(pl.format("duration longer than answer_time to release_time: {} s", pl.lit(parsed["duration"]))))
    return problems


def _type_word(dtype: pl.DataType) -> str:
    return {pl.Boolean(): "boolean", pl.Int64(): "integer", pl.Float64(): "number"}.get(dtype, "timestamp")


def _parse(col: pl.Expr, dtype: pl.DataType) -> pl.Expr:
    if dtype == UTC_TS:
        return parse_timestamp(col)
    if dtype == pl.Boolean():
        lowered = col.str.to_lowercase()
        return pl.when(lowered == "true").then(True).when(lowered == "false").then(False).otherwise(None)
    if dtype == pl.Int64():
        as_float = col.cast(pl.Float64, strict=False)
        # "8", "8.0" are integers; "8.5" is not silently truncated
        return pl.when(as_float == as_float.floor()).then(as_float.cast(pl.Int64, strict=False)).otherwise(None)
    return col.cast(pl.Float64, strict=False)


def _parsed_columns(text: pl.DataFrame, typed: dict[str, pl.DataType]) -> list[pl.Series]:
    """The `typed` columns of `text` parsed, in one query (Polars types them in parallel);
    timestamps are read in the API's own form first, and a column in the lenient forms only when
    some value did not parse (most batches never need them)."""
    fast = text.select(
        (_api_timestamp(pl.col(name)) if dtype == UTC_TS else _parse(pl.col(name), dtype)).alias(name)
        for name, dtype in typed.items())
    # a value that did not parse is a null more than its text had (a missing text stays missing)
    missed = [name for name, dtype in typed.items()
              if dtype == UTC_TS and fast.get_column(name).null_count() > text.get_column(name).null_count()]
    if missed:
        slow = text.select(parse_timestamp(pl.col(name)).alias(name) for name in missed)
        fast = fast.with_columns(pl.col(name).fill_null(slow.get_column(name)) for name in missed)
    return fast.get_columns()


def _api_timestamp(col: pl.Expr) -> pl.Expr:
    """`2026-11-26T05:06:07.208Z`, the form the API writes (or with a space, without the Z)."""
    text = col.str.replace("T", " ", literal=True).str.strip_suffix("Z")
    return text.str.to_datetime("%Y-%m-%d %H:%M:%S%.f", strict=False, time_unit="us").dt.replace_time_zone("UTC")


def parse_timestamp(col: pl.Expr) -> pl.Expr:
    """ISO-8601 with `Z`, an offset, `T` or a space, optional fraction; naive times are UTC."""
    text = col.str.strip_chars().str.replace(r"(?i)\s*(?:Z|UTC)$", "").str.replace("T", " ", literal=True)
    naive = text.str.to_datetime("%Y-%m-%d %H:%M:%S%.f", strict=False, time_unit="us").dt.replace_time_zone("UTC")
    offset = text.str.to_datetime("%Y-%m-%d %H:%M:%S%.f%z", strict=False, time_unit="us").dt.convert_time_zone("UTC")
    minutes = text.str.to_datetime("%Y-%m-%d %H:%M", strict=False, time_unit="us").dt.replace_time_zone("UTC")
    return pl.coalesce(naive, offset, minutes)


def _reject_frame(reasons: Iterable[str], raw_texts: Iterable[str], ctx: BatchContext) -> pl.DataFrame:
    frame = pl.DataFrame({"reason": list(reasons), "raw_text": list(raw_texts)},
                         schema={"reason": pl.String, "raw_text": pl.String})
    return _rejects_of(with_context(frame, ctx))


def _rejects_of(frame: pl.DataFrame) -> pl.DataFrame:
    """`reason`, `raw_text` and the CONTEXT_COLUMNS → REJECT_COLUMNS."""
    return frame.with_columns(
        pl.concat_str([pl.col("_source").fill_null(""), pl.col("raw_text")], separator="\x1f")
        .map_batches(_md5, return_dtype=pl.String)
        .alias("reject_key"),
    ).select([pl.col(c).cast(t) for c, t in REJECT_COLUMNS.items()])


def _md5(values: pl.Series) -> pl.Series:
    return pl.Series([hashlib.md5(v.encode()).hexdigest() for v in values.to_list()], dtype=pl.String)


def reject_rows(reason: str, raw_text: str, ctx: BatchContext) -> pl.DataFrame:
    """One reject (e.g. a page whose body is not `{"items": [...]}`)."""
    return _reject_frame([reason], [raw_text], ctx)


def reject_records(reasons: Sequence[str], raw_texts: Sequence[str], pages: Sequence[str | None],
                   ctx: BatchContext) -> pl.DataFrame:
    """Rejects each at its own `_page` (e.g. the line of a file where each record starts)."""
    frame = with_context(pl.DataFrame({"reason": list(reasons), "raw_text": list(raw_texts)},
                                      schema={"reason": pl.String, "raw_text": pl.String}), ctx)
    return _rejects_of(frame.with_columns(pl.Series("_page", list(pages), pl.String)))
