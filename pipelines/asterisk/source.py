"""dlt source for an Asterisk / Issabel site: queue_log files, realtime queue_log exports, cdr-csv.

Incremental and idempotent:
- each log stream's read position (byte offset + line number) lives in dlt resource state, which
  dlt stores in the warehouse and commits only with a completed load;
- rows are keyed by (source_stream, line_no); a queue_log stream's PBX and the file it was last
  read from are in `log_streams` (one row per stream, written in the load that reads it);
- before a stream is read from position P, rows at or past P are deleted — leftovers of a run
  that loaded data but died before committing its state — so a crash at any point followed by a
  rerun gives the same warehouse as one clean run;
- a growing log's last line whose verdict waits for the line after it (queue_log_parser.
  UnsettledTail) is loaded (or rejected) at once, but the position stops before it: the next
  run deletes its rows as above and reads it again, so runs that stop anywhere leave what one
  run over the whole log would;
- an unterminated last line is read only once it is finished or can no longer be
  (LogFile.is_final); then it is rejected, but the position stops before it, as before an
  unsettled tail, so that a "final" copy that grows after all has the line read again, whole;
- bulk rows travel as Arrow tables (Polars-parsed), never a dict per line.

Counts (lines read = loaded + rejected + skipped) are collected in an `IngestReport` that the
Dagster asset attaches to each materialization.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime

import dlt
import numpy as np
import polars as pl
import pyarrow as pa
from dlt.common.destination.exceptions import DestinationUndefinedEntity
from dlt.destinations.exceptions import DatabaseUndefinedRelation

from pipelines.asterisk import log_streams
from pipelines.asterisk.cdr_csv import CDR_REJECT_SCHEMA, CDR_SCHEMA, parse_master_csv
from pipelines.asterisk.log_streams import Location, LogFile, Position, Stream
from pipelines.asterisk.queue_log_parser import (
    EVENT_SCHEMA,
    REJECT_SCHEMA,
    UnsettledTail,
    epochs_ahead,
    parse_chunk,
)
from pipelines.asterisk.queue_log_table import (
    CONTENT_MD5_SQL,
    TABLE_SCHEMA,
    parse_csv_export,
    parse_sql_dump,
)
from pipelines.asterisk.replaced_bytes import rows_with_replaced_bytes
from pipelines.background import ahead
from pipelines.load_files import ParquetLoadFile, warehouse_takes_load_files
from switchboard.settings import SettingsError

log = logging.getLogger(__name__)

QUEUE_LOG_EXPORT_NAMES = log_streams.QUEUE_LOG_EXPORT_NAMES

# Per-chunk constants travel as dictionary-encoded (Categorical) columns: one value, not millions of
# copied strings, through Arrow and parquet (the warehouse stores plain text).
_META = {"pbx": pl.Categorical(), "source_stream": pl.Categorical(), "source_file": pl.Categorical()}
_LOADED = {"loaded_at": pl.Datetime("us", "UTC")}
# A file line names only its stream: the stream's PBX and file are in log_streams, one row per
# stream. Two more constant text columns on every line cost DuckDB ~4 CPU-s (~2 s) to compress
# when inserting 10M lines, a tenth of the whole raw load.
QUEUE_LOG_COLUMNS = {"source_stream": pl.Categorical(), **EVENT_SCHEMA, **_LOADED}
# Fields with a handful of values in any PBX's log (queues, members, event names, the small numbers
# of data3..5) go into the load file dictionary-encoded: as fast to write as plain text, and
# DuckDB inserts 10M lines ~0.5 s faster from a file a third smaller (627 MB against 1,004 MB).
# A field with more values than a dictionary page holds falls back to plain text by itself.
QUEUE_LOG_DICTIONARY_FIELDS = ("queuename", "agent", "event", "data3", "data4", "data5")
QUEUE_LOG_REJECT_COLUMNS = {**_META, **REJECT_SCHEMA, **_LOADED}
QUEUE_LOG_TABLE_COLUMNS = {"pbx": pl.Categorical(), "source_file": pl.Categorical(), **TABLE_SCHEMA, **_LOADED}
CDR_COLUMNS = {**_META, **CDR_SCHEMA, **_LOADED}
CDR_REJECT_COLUMNS = {**_META, **CDR_REJECT_SCHEMA, **_LOADED}
TABLE_KEY = ["pbx", "row_key"]
CDR_KEY = ["pbx", "cdr_key"]
STREAM_KEY = ["source_stream"]
STREAM_COLUMNS = {
    "pbx": pl.String(), "source_stream": pl.String(), "source_file": pl.String(), "kind": pl.String(),
    "first_line": pl.String(), "bytes_read": pl.Int64(), "lines_read": pl.Int64(), "updated_at": pl.Datetime("us", "UTC"),
}


@dataclass(frozen=True)
class AsteriskConfig:
    """What the Asterisk source reads; built from Settings (see `from_settings`)."""

    queue_log_locations: tuple[Location, ...] = ()
    cdr_locations: tuple[Location, ...] = ()
    queue_log_db_timezone: str = "UTC"
    cdr_timezone: str = "UTC"
    chunk_bytes: int = log_streams.CHUNK_BYTES

    @classmethod
    def from_settings(cls, settings) -> AsteriskConfig:
        try:
            ql = log_streams.parse_locations(settings.queue_log_dirs)
        except ValueError as exc:
            raise SettingsError(f"SWITCHBOARD_QUEUE_LOG_DIRS: {exc}") from None
        try:
            cdr = log_streams.parse_locations(settings.asterisk_cdr_dirs)
        except ValueError as exc:
            raise SettingsError(f"SWITCHBOARD_ASTERISK_CDR_DIRS: {exc}") from None
        return cls(tuple(ql), tuple(cdr), settings.queue_log_db_zone, settings.cdr_zone)


@dataclass
class IngestCounts:
    lines_read: int = 0
    loaded: int = 0
    rejected: int = 0
    skipped_blank: int = 0
    skipped_duplicate: int = 0
    loaded_with_replaced_bytes: int = 0  # (among loaded) text that was not UTF-8, kept as U+FFFD
    # (among lines_read) lines the run before read as a growing log's unsettled tail
    # (queue_log_parser.UnsettledTail), read and judged again, their rows replaced
    read_again: int = 0
    streams_read: int = 0
    files_waiting: int = 0
    prefix_copies: int = 0
    # listed, then renamed or deleted before being read (a rotation): their bytes wait for the next run
    files_gone: int = 0
    locations_without_logs: list[str] = field(default_factory=list)
    rejects_by_reason: dict[str, int] = field(default_factory=dict)

    def add_rejects(self, reasons: pl.Series) -> None:
        for reason, n in reasons.value_counts().iter_rows():
            self.rejects_by_reason[reason] = self.rejects_by_reason.get(reason, 0) + n

    @property
    def balanced(self) -> bool:
        return self.lines_read == self.loaded + self.rejected + self.skipped_blank + self.skipped_duplicate

    def as_metadata(self) -> dict[str, object]:
        return {
            "lines_read": self.lines_read,
            "loaded": self.loaded,
            "rejected": self.rejected,
            "skipped_blank": self.skipped_blank,
            "skipped_duplicate": self.skipped_duplicate,
            "counts_balance": self.balanced,
            "loaded_with_replaced_bytes": self.loaded_with_replaced_bytes,
            "read_again": self.read_again,
            "streams_read": self.streams_read,
            "files_waiting_for_first_line": self.files_waiting,
            "files_skipped_as_prefix_copies": self.prefix_copies,
            "files_gone_before_read": self.files_gone,
            "locations_without_logs": list(self.locations_without_logs),
            "rejects_by_reason": dict(self.rejects_by_reason),
        }


@dataclass
class IngestReport:
    """Per-resource counts of one run; the resource name is the key."""

    by_resource: dict[str, IngestCounts] = field(default_factory=dict)
    load_id: str | None = None

    def counts(self, resource: str) -> IngestCounts:
        return self.by_resource.setdefault(resource, IngestCounts())


@dlt.source(name="asterisk", max_table_nesting=0)
def asterisk_source(config: AsteriskConfig, report: IngestReport | None = None):
    """Every resource always runs and at least creates its tables: an unconfigured PBX source
    contributes empty, correctly typed tables rather than an error (DESIGN.md "Every source is optional")."""
    report = report or IngestReport()
    return (
        dlt.resource(_queue_log_rows(config, report.counts("queue_log")), name="queue_log",
                     write_disposition="append", table_name="queue_log"),
        # Merge keys are set per table (see _to_table): each resource also appends to a rejects table.
        dlt.resource(_queue_log_table_rows(config, report.counts("queue_log_table")), name="queue_log_table",
                     write_disposition="append", table_name="queue_log_table"),
        dlt.resource(_cdr_rows(config, report.counts("cdr")), name="cdr", write_disposition="append", table_name="cdr"),
    )


# ---------------------------------------------------------------------------------------------
# queue_log files


def _queue_log_rows(config: AsteriskConfig, counts: IngestCounts) -> Iterator[object]:
    _note_empty_locations("SWITCHBOARD_QUEUE_LOG_DIRS", config.queue_log_locations, counts,
                          "with 'queue_log' in their name or a queue_log line in their first 4 KB", log_streams.QUEUE_LOG_NAMES, QUEUE_LOG_EXPORT_NAMES)
    yield _to_table("queue_log", pl.DataFrame(schema=QUEUE_LOG_COLUMNS))
    yield _to_table("queue_log_rejects", pl.DataFrame(schema=QUEUE_LOG_REJECT_COLUMNS))
    yield _to_table("log_streams", pl.DataFrame(schema=STREAM_COLUMNS), merge_key=STREAM_KEY)

    def read(chunk: bytes, place: ChunkPlace) -> tuple[object, int, int | None, UnsettledTail | None]:
        parsed = parse_chunk(
            chunk, first_line_no=place.first_line_no, base_offset=place.offset, epoch_before=place.epoch_before,
            epochs_after=() if place.next_chunk is None else epochs_ahead(place.next_chunk),
            file_written_epoch=place.file.mtime_ns // 1_000_000_000)
        epochs = parsed.events.get_column("event_epoch")
        return parsed, parsed.lines_read, epochs[-1] if len(epochs) else None, parsed.unsettled

    def emit(parsed, meta: dict[str, object]) -> Iterator[object]:
        if parsed.events.height:
            yield from events.write(parsed.events, meta)
        if parsed.rejects.height:
            counts.add_rejects(parsed.rejects["reason"])
            yield _to_table("queue_log_rejects", parsed.rejects.with_columns(_meta_columns(meta)),
                            columns=QUEUE_LOG_REJECT_COLUMNS)
        counts.lines_read += parsed.lines_read
        counts.loaded += parsed.events.height
        counts.loaded_with_replaced_bytes += parsed.events_with_replaced_bytes
        counts.rejected += parsed.rejects.height
        counts.skipped_blank += parsed.skipped_blank

    events = _BulkParquet("queue_log", QUEUE_LOG_COLUMNS, QUEUE_LOG_DICTIONARY_FIELDS)
    yield from _read_log_streams(
        "queue_log", config.queue_log_locations, log_streams.QUEUE_LOG_NAMES, ("queue_log", "queue_log_rejects"),
        config.chunk_bytes, counts, read, emit,
    )
    yield from events.imported()


@contextlib.contextmanager
def _layout_named(setting: str) -> Iterator[None]:
    """A layout of logs whose PBXs cannot be told apart, as an error naming the setting."""
    try:
        yield
    except log_streams.LayoutError as error:
        raise SettingsError(f"{setting}: {error}") from None


def check_places(config: AsteriskConfig) -> list[str]:
    """List the configured places as a run does, for `switchboard settings`: a layout whose PBXs
    cannot be told apart, or a folder or log this process may not read, is a SettingsError naming
    the setting before a deployment, not at its first run. Returns a line per setting with places:
    the logs found for each PBX, and the places with nothing to read (a run warns about those)."""
    found_by_setting = []
    for setting, locations, kinds in (
            ("SWITCHBOARD_QUEUE_LOG_DIRS", config.queue_log_locations,
             (log_streams.QUEUE_LOG_NAMES, QUEUE_LOG_EXPORT_NAMES)),
            ("SWITCHBOARD_ASTERISK_CDR_DIRS", config.cdr_locations, (log_streams.CDR_CSV_NAMES,))):
        if not locations:
            continue
        with _layout_named(setting):
            files = [f for names in kinds for f in log_streams.discover(list(locations), names)]
            empty = log_streams.empty_locations(list(locations), *kinds)
        per_pbx = Counter(f.pbx for f in files)
        line = f"{setting}: " + (", ".join(f"PBX {pbx}: {n} file{'' if n == 1 else 's'}"
                                           for pbx, n in sorted(per_pbx.items())) or "no file to read")
        if empty:
            line += f"; nothing to read in {', '.join(loc.pattern for loc in empty)}"
        found_by_setting.append(line)
    return found_by_setting


def _note_empty_locations(setting: str, locations, counts: IngestCounts, named: str, *name_filters) -> None:
    with _layout_named(setting):
        empty = log_streams.empty_locations(list(locations), *name_filters)
    for loc in empty:
        counts.locations_without_logs.append(loc.pattern)
        log.warning("%s: nothing to read in %s (nor in the folders in it). A folder or glob reads only the "
                    "files %s; a file given by its path is read whatever its name.", setting, loc.pattern, named)


def _read_log_streams(kind, locations, names, appended_tables, chunk_bytes, counts, read, emit) -> Iterator[object]:
    """New bytes of every stream of one kind of append-only log, chunk by chunk.

    `read(chunk, place)` parses a chunk (`ChunkPlace`: where it is, what is around it) and
    returns (parsed, the chunk's line count, the epoch of its last event or None, its
    UnsettledTail or None); it runs on a thread of its own one chunk ahead, so parsing the next
    chunk overlaps with dlt writing this one. `emit(parsed, meta_values)` yields the tables and
    updates `counts`. Each stream's position (with the last event's epoch, the next run's first
    neighbour) advances in resource state once all its chunks are yielded: to the end of what was
    read, or, for a log that still grows, to its unsettled last line, which the next run reads
    again (counted in `read_again`) and judges with the line after it.
    """
    state = dlt.current.resource_state()
    positions = state.setdefault("streams", {})
    setting = _LOCATION_SETTINGS[kind]
    with _layout_named(setting):
        streams, waiting = log_streams.listed_streams(
            list(locations), names, {stream_id: Position(**stored) for stream_id, stored in positions.items()},
            archive_sizes=state.setdefault("archive_sizes", {}))
    read_before = state.get("file_pbx", {})
    state["file_pbx"] = _refuse_renamed_pbx(setting, streams, read_before)
    _warn_of_pbxs_gone(setting, streams, read_before)
    counts.files_waiting += len(waiting)
    # copies that are the start of a larger copy: their lines are read (or were) through it
    counts.prefix_copies += sum(len(stream.files) - 1 for stream in streams)
    with _UncommittedRows(appended_tables) as uncommitted:
        yield from _read_streams(kind, streams, positions, uncommitted, chunk_bytes, counts, read, emit)


def _read_streams(kind, streams, positions, uncommitted, chunk_bytes, counts, read, emit) -> Iterator[object]:
    """The new bytes of each listed stream (_read_log_streams), its position in `positions`
    advanced as its chunks are yielded."""
    loaded_at = _now()
    read_streams: list[dict[str, object]] = []
    for stream in streams:
        source = stream.best
        try:
            start, reset = log_streams.plan_read(stream, Position(**positions.get(stream.stream_id, {})))
            # (nothing new past an unsettled tail read last time - at most a line still being
            # written: no line to judge it by yet)
            if source.size <= start.offset or (
                    start.bytes_read_to is not None and log_streams.readable_size(source) <= start.bytes_read_to):
                continue
            # the bytes before the read position, kept as the read goes on: the position's
            # fingerprint is of the bytes read, not of whatever the name holds once it is done (a
            # rotation during the read gives the name to a new file: the next run took the
            # rotated copy for a rewritten log and loaded it again)
            tail = b"" if source.compressed else log_streams.tail_bytes(source, start.offset)
        except FileNotFoundError:
            _left_for_next_run(source, counts)
            continue
        # lines loaded by a crashed run past the committed position, or read by the last run as
        # an unsettled tail: read again now
        uncommitted.remove(stream.stream_id, start.line_no)
        read_to = (start.line_no, start.offset)  # the line and byte after the last line read

        def parsed_chunks(source=source, start=start, stream=stream) -> Iterator[tuple[object, int, int, int | None, bytes]]:
            nonlocal read_to
            line_no, last_epoch = start.line_no, start.last_epoch if start.offset else None
            chunks = log_streams.read_new_bytes(source, start.offset, chunk_bytes, first_line=stream.first_line)
            current = next(chunks, None)
            while current is not None:
                following = next(chunks, None)  # its first line is the last line's neighbour
                offset, chunk = current
                parsed, lines, epoch, unsettled = read(chunk, ChunkPlace(source, line_no, offset, last_epoch,
                                                                         None if following is None else following[1]))
                read_to = (line_no + lines, offset + len(chunk))
                again = None if following is not None else _read_again_from(
                    parsed, unsettled, source, line_no + lines, last_epoch if epoch is None else epoch)
                if again is not None:
                    yield (parsed, again.line_no, offset + again.offset, again.epoch_before,
                           chunk[:again.offset][-log_streams.TAIL_CHECK_BYTES:])
                    return
                line_no, last_epoch = line_no + lines, last_epoch if epoch is None else epoch
                yield parsed, line_no, offset + len(chunk), last_epoch, chunk[-log_streams.TAIL_CHECK_BYTES:]
                current = following

        line_no, end, last_epoch = start.line_no, start.offset, start.last_epoch
        meta = _meta_values(stream, source, loaded_at)
        emitted = False
        try:
            for parsed, *read_up_to, chunk_tail in ahead(parsed_chunks(), depth=1, name=f"{kind}-chunks"):
                emitted = True
                yield from emit(parsed, meta)
                line_no, end, last_epoch = read_up_to
                tail = (tail + chunk_tail)[-log_streams.TAIL_CHECK_BYTES:]
        except FileNotFoundError:
            if emitted:
                raise
            _left_for_next_run(source, counts)  # gone between being listed and opened: rotated away
            continue
        counts.streams_read += 1
        if not reset and start.lines_read_to is not None:
            counts.read_again += max(0, min(start.lines_read_to, read_to[0]) - start.line_no)
        positions[stream.stream_id] = {"offset": end, "line_no": line_no, "last_epoch": last_epoch,
                                       "tail": log_streams.fingerprint(tail) if tail and not source.compressed else "",
                                       "family": log_streams.stream_identity(stream.pbx, stream.first_line),
                                       **({"lines_read_to": read_to[0], "bytes_read_to": read_to[1]}
                                          if read_to[1] > end else {})}
        read_streams.append(_stream_row(stream, source, kind, end, line_no))
    if read_streams:
        yield _stream_rows(read_streams)


def _read_again_from(parsed, unsettled: UnsettledTail | None, source: LogFile, lines_end: int,
                     last_epoch: int | None) -> UnsettledTail | None:
    """Where the next run reads a stream's last chunk again from, if anywhere (the position stops
    there; what lies past it is loaded now and its rows replaced then):
    - a log that grows: its unsettled last event line (UnsettledTail), judged once a line follows;
    - a copy taken as final (is_final): its cut last line, rejected now as `unterminated` (or the
      unsettled line before it), read again only if the copy grows after all - a transfer that
      stalled and resumed, a whole archive restored over a cut one. Read on from past the cut, the
      rest of its line would be a line of its own, and the line itself lost.
    `lines_end`: the number of the line after the chunk; `last_epoch`: the chunk's last event's."""
    if parsed.cut_line_start is not None:
        return unsettled or UnsettledTail(line_no=lines_end - 1, offset=parsed.cut_line_start, epoch_before=last_epoch)
    return None if source.is_final else unsettled


def _left_for_next_run(source: LogFile, counts: IngestCounts) -> None:
    counts.files_gone += 1
    log.warning("%s was renamed, deleted or replaced between being listed and read (a rotation): under a new "
                "name, its stream is read by the next run; deleted, its lines read before stay", source.path)


@dataclass(frozen=True)
class ChunkPlace:
    """Where a chunk of a stream is, and what is around it (a parser judges its first and last
    line by their neighbours: queue_log_parser.OUT_OF_SEQUENCE_SECONDS)."""

    file: LogFile
    first_line_no: int
    offset: int
    epoch_before: int | None  # the last event's epoch before the chunk, this run or the run before
    next_chunk: bytes | None  # the chunk after it, None for the last of this run


_LOCATION_SETTINGS = {"queue_log": "SWITCHBOARD_QUEUE_LOG_DIRS", "cdr": "SWITCHBOARD_ASTERISK_CDR_DIRS"}


def _refuse_renamed_pbx(setting: str, streams, read_before: dict[str, list[str]]) -> dict[str, list[str]]:
    """Each file's PBX and first line this run (path → [pbx, first line's digest]), after checking
    them against the last run's: a file that starts with the same line but is now named for
    another PBX is the same log whose PBX was renamed in the setting. A PBX's name is part of its
    streams' identity, so its lines would all load again under the new name and every mart would
    count them twice: refused, naming the setting. So is a log read under one PBX that now only
    another PBX's folder holds (moved there: a rotation into an `olddir` given as a place of its
    own). (The same log in two PBXs' folders at once is two paths, and loads for each.)"""
    now: dict[str, list[str]] = {}
    renamed = []
    pbxs_before: dict[str, set[str]] = {}  # first line's digest -> the PBXs it was read under
    for pbx_before, digest_before in read_before.values():
        pbxs_before.setdefault(digest_before, set()).add(pbx_before)
    digests = [hashlib.sha256(stream.first_line).hexdigest()[:24] for stream in streams]
    pbxs_now: dict[str, set[str]] = {}
    for stream, digest in zip(streams, digests, strict=True):
        pbxs_now.setdefault(digest, set()).add(stream.pbx)
    for stream, digest in zip(streams, digests, strict=True):
        for f in stream.files:
            path = str(f.path.resolve())
            pbx_before, digest_before = read_before.get(path, (None, None))
            if digest_before == digest and pbx_before != stream.pbx:
                renamed.append(f"{f.path} (read as PBX {pbx_before!r}, now {stream.pbx!r})")
            now[path] = [stream.pbx, digest]
        # a log read under one PBX that now only another one has: moved (a rotation into an
        # `olddir` configured as a place of its own, named after its folder)
        moved_from = pbxs_before.get(digest, set()) - pbxs_now[digest]
        if stream.pbx not in pbxs_before.get(digest, set()) and moved_from:
            renamed.append(f"{stream.best.path} (read as PBX {', '.join(sorted(map(repr, moved_from)))}, "
                           f"now in a folder of PBX {stream.pbx!r})")
    if renamed:
        raise ValueError(
            f"{setting}: {', '.join(dict.fromkeys(renamed))}: a PBX's name is part of the keys of every row "
            "read from it, so its lines would load a second time under the new name. Give the location its "
            "old name again (NAME=path; without NAME the folder's name; a folder of rotated copies takes "
            "its PBX's NAME too), or load the renamed PBX into a new warehouse.")
    return now


def _warn_of_pbxs_gone(setting: str, streams, read_before: dict[str, list[str]]) -> None:
    """Warn of each PBX the last run read that has no log in this run's places (taken out of the
    setting, or its share not mounted): what was loaded from it stays in the warehouse and counts
    in the marts, which add up every PBX loaded (a queue's figures across PBXs of one queue name),
    and nothing else in a run over other places would show it."""
    gone = {pbx for pbx, _ in read_before.values()} - {stream.pbx for stream in streams}
    for pbx in sorted(gone):
        log.warning("%s: PBX %r, read by the last run, has no log in the places configured now: what was loaded "
                    "from it stays in the warehouse and counts in the marts, which add up every PBX loaded. "
                    "To report only the places configured now, load them into a new warehouse "
                    "(SWITCHBOARD_WAREHOUSE_URL).", setting, pbx)


# ---------------------------------------------------------------------------------------------
# realtime queue_log table exports


def _queue_log_table_rows(config: AsteriskConfig, counts: IngestCounts) -> Iterator[object]:
    loaded_at = _now()
    yield _to_table("queue_log_table", pl.DataFrame(schema=QUEUE_LOG_TABLE_COLUMNS), merge_key=TABLE_KEY)
    yield _to_table("queue_log_rejects", pl.DataFrame(schema=QUEUE_LOG_REJECT_COLUMNS))
    seen = dlt.current.resource_state().setdefault("files", {})
    keyed_by_id: dict[str, pl.DataFrame] = {}  # per PBX: its rows loaded under their id alone
    run_keys: dict[str, pl.Series] = {}  # per PBX: the row keys this run has yielded
    run_reject_texts: dict[str, pl.Series] = {}  # per PBX: the rejects' texts this run has yielded
    with _layout_named("SWITCHBOARD_QUEUE_LOG_DIRS"):
        exports = log_streams.discover(list(config.queue_log_locations), QUEUE_LOG_EXPORT_NAMES)
    for f in exports:
        version = [f.size, f.mtime_ns]
        if seen.get(str(f.path)) == version:
            continue
        try:
            with log_streams.open_log(f) as fh:
                data = fh.read(f.size)  # what was listed (a file that grew since is read again next run)
        except FileNotFoundError:  # replaced or removed since it was listed (a new export moved in)
            _left_for_next_run(f, counts)
            continue
        if ".sql" in f.path.name.lower():
            parsed = parse_sql_dump(data.decode("utf-8", errors="replace"), timezone=config.queue_log_db_timezone)
            if parsed.other_tables:
                # (an archive of queue_log under another name is left out too: loading it beside
                # the live table could count a row twice)
                log.warning("%s: the rows of table(s) %s in this dump are not read: only table queue_log's "
                            "rows are queue_log lines (export an archive table as a dump of its own, its "
                            "table named queue_log, to read it)", f.path, ", ".join(parsed.other_tables))
        else:
            parsed = parse_csv_export(data, timezone=config.queue_log_db_timezone)
        stream_id = f"table:{f.pbx}:{f.path.name}"
        # The whole export is parsed again when it changes: its old rejects are replaced.
        with _UncommittedRows(("queue_log_rejects",)) as old_rejects:
            old_rejects.remove(stream_id, 0)
        new = parsed.rows.clear()
        if parsed.rows.height:
            if f.pbx not in keyed_by_id:
                keyed_by_id[f.pbx] = _table_rows_keyed_by_id(f.pbx)
            # A table is exported again as it grows (each night, say): the rows of an export met
            # before - in it, another export this run, or a run before - would only merge onto the
            # same row, so they count as skipped duplicates and `loaded` is the rows the table gains.
            rows = _keep_id_keys(parsed.rows, keyed_by_id[f.pbx]).unique(subset=["row_key"], keep="first",
                                                                          maintain_order=True)
            met = run_keys.get(f.pbx, pl.Series("row_key", [], pl.String))
            new = rows.filter(~pl.col("row_key").is_in(met.implode()))
            if new.height:
                stored = _stored_keys("queue_log_table", "row_key", f.pbx, new.get_column("row_key"))
                new = new.filter(~pl.col("row_key").is_in(stored.implode()))
            run_keys[f.pbx] = pl.concat([met, new.get_column("row_key")])
        if new.height:
            rows = new.with_columns(
                pl.lit(f.pbx).alias("pbx"), pl.lit(str(f.path)).alias("source_file"), pl.lit(loaded_at).alias("loaded_at"))
            yield _to_table("queue_log_table", rows, columns=QUEUE_LOG_TABLE_COLUMNS, merge_key=TABLE_KEY)
        # A bad row of a table is in every export of it after (a nightly full export): rejected
        # once, then, like a good row met before, a skipped duplicate - not stored and counted
        # again for each export (independent audit). This export's own earlier rejects were
        # removed above: read again, it is rejected again.
        met_rejects = run_reject_texts.get(f.pbx, pl.Series("raw_text", [], pl.String))
        fresh = parsed.rejects.filter(~pl.col("raw_text").is_in(met_rejects.implode()))
        if fresh.height:
            stored = _stored_keys("queue_log_rejects", "raw_text", f.pbx, fresh.get_column("raw_text").unique())
            fresh = fresh.filter(~pl.col("raw_text").is_in(stored.implode()))
        run_reject_texts[f.pbx] = pl.concat([met_rejects, fresh.get_column("raw_text")])
        if fresh.height:
            counts.add_rejects(fresh["reason"])
            rejects = fresh.select(
                pl.lit(f.pbx).alias("pbx"), pl.lit(stream_id).alias("source_stream"), pl.lit(str(f.path)).alias("source_file"),
                pl.col("row_no").alias("line_no"), pl.lit(None, pl.Int64).alias("byte_offset"),
                "reason", "raw_text", pl.lit(loaded_at).alias("loaded_at"),
            )
            yield _to_table("queue_log_rejects", rejects, columns=QUEUE_LOG_REJECT_COLUMNS)
        counts.streams_read += 1
        counts.lines_read += parsed.rows_read
        counts.loaded += new.height
        counts.loaded_with_replaced_bytes += rows_with_replaced_bytes(new, data)
        counts.skipped_duplicate += parsed.rows.height - new.height + parsed.rejects.height - fresh.height
        counts.rejected += fresh.height
        seen[str(f.path)] = version


def _table_rows_keyed_by_id(pbx: str) -> pl.DataFrame:
    """The rows of `pbx` a warehouse holds under their id alone (row_key "<id>"; loaded before a
    key held the row's content, queue_log_table.py), with the md5 of their content (id, md5)."""
    empty = pl.DataFrame(schema={"id": pl.String, "md5": pl.String})
    pipeline = dlt.current.pipeline()
    try:
        with pipeline.sql_client() as client:
            table = client.make_qualified_table_name("queue_log_table")
            try:
                # (not a content key, 32 hex digits, nor an id with its content, "<id>:<md5>")
                found = client.execute_sql(
                    f"select row_key, {CONTENT_MD5_SQL} from {table} "
                    "where pbx = %s and length(row_key) < 32 and strpos(row_key, ':') = 0", pbx)
            except DatabaseUndefinedRelation:
                return empty
    except (DatabaseUndefinedRelation, DestinationUndefinedEntity):
        return empty
    return pl.DataFrame(found or [], schema=empty.schema, orient="row")


def _keep_id_keys(rows: pl.DataFrame, keyed_by_id: pl.DataFrame) -> pl.DataFrame:
    """A row exported again that the warehouse holds under its id alone, with the same content,
    keeps that key: it merges onto the row loaded before (whose event_id staging keeps) instead of
    loading a second time. Other rows keep "<id>:<md5>" — the same id with other content is
    another event (the table was emptied and its ids started again)."""
    if not keyed_by_id.height:
        return rows
    parts = pl.col("row_key").str.extract_groups(r"^(?<id>.*):(?<md5>[0-9a-f]{32})$")
    known = keyed_by_id.with_columns(pl.lit(True).alias("loaded_by_id"))
    return (rows.with_columns(parts.struct.field("id"), parts.struct.field("md5"))
            .join(known, on=["id", "md5"], how="left", maintain_order="left")
            .with_columns(pl.when(pl.col("loaded_by_id")).then(pl.col("id")).otherwise(pl.col("row_key")).alias("row_key"))
            .select(rows.columns))


# ---------------------------------------------------------------------------------------------
# cdr-csv Master.csv


def _cdr_rows(config: AsteriskConfig, counts: IngestCounts) -> Iterator[object]:
    _note_empty_locations("SWITCHBOARD_ASTERISK_CDR_DIRS", config.cdr_locations, counts,
                          "called Master.csv (or its rotations)", log_streams.CDR_CSV_NAMES)
    yield _to_table("cdr", pl.DataFrame(schema=CDR_COLUMNS), merge_key=CDR_KEY)
    yield _to_table("cdr_rejects", pl.DataFrame(schema=CDR_REJECT_COLUMNS))
    yield _to_table("log_streams", pl.DataFrame(schema=STREAM_COLUMNS), merge_key=STREAM_KEY)

    def read(chunk: bytes, place: ChunkPlace) -> tuple[object, int, int | None, None]:
        # the stream's last record end before the chunk (this run's chunk before, or the run
        # before: `epoch_before`) says which pass of a repeated hour the chunk starts in
        parsed = parse_master_csv(chunk, timezone=config.cdr_timezone, first_line_no=place.first_line_no,
                                  base_offset=place.offset, end_before=place.epoch_before)
        return parsed, parsed.lines_read, parsed.last_end, None  # lines as the parser counts them (a NUL run may end one)

    keys = _RunCdrKeys()

    def emit(parsed, meta: dict[str, object]) -> Iterator[object]:
        # A row already met — in this chunk, an earlier one, another file of the PBX (a copy of
        # Master.csv that parted from the log), or a run before — would only merge into the same
        # row: counted as a skipped duplicate, so that `loaded` is the rows the table receives, and
        # the row keeps the file and line it was first loaded from.
        unique = parsed.rows.unique(subset=["cdr_key"], keep="first", maintain_order=True)
        new = unique.filter(keys.first_seen(str(meta["pbx"]), unique.get_column("cdr_key")))
        if new.height:
            stored = _stored_keys("cdr", "cdr_key", str(meta["pbx"]), new.get_column("cdr_key"))
            new = new.filter(~pl.col("cdr_key").is_in(stored.implode()))
        if new.height:
            yield _to_table("cdr", new.with_columns(_meta_columns(meta)), columns=CDR_COLUMNS, merge_key=CDR_KEY)
        if parsed.rejects.height:
            counts.add_rejects(parsed.rejects["reason"])
            yield _to_table("cdr_rejects", parsed.rejects.with_columns(_meta_columns(meta)), columns=CDR_REJECT_COLUMNS)
        counts.lines_read += parsed.lines_read
        counts.loaded += new.height
        counts.loaded_with_replaced_bytes += rows_with_replaced_bytes(new) if parsed.rows_with_replaced_bytes else 0
        counts.skipped_duplicate += parsed.rows.height - new.height
        counts.rejected += parsed.rejects.height
        counts.skipped_blank += parsed.skipped_blank

    yield from _read_log_streams(
        "cdr", config.cdr_locations, log_streams.CDR_CSV_NAMES, ("cdr_rejects",), config.chunk_bytes, counts, read, emit,
    )


def _stored_keys(table: str, key: str, pbx: str, keys: pl.Series, batch: int = 100_000) -> pl.Series:
    """Which of `keys` (column `key` of `table`) the warehouse already holds for `pbx` (loaded by
    an earlier run); asked `batch` keys at a time, so that no statement carries a whole export."""
    found: list[tuple[str]] = []
    with contextlib.suppress(DatabaseUndefinedRelation, DestinationUndefinedEntity), \
            dlt.current.pipeline().sql_client() as client:
        for start in range(0, len(keys), batch):
            # (a list parameter: a DuckDB list, a Postgres array)
            found += client.execute_sql(
                f"select {key} from {client.make_qualified_table_name(table)} "
                f"where pbx = %s and {key} in (select unnest(%s))", pbx, keys.slice(start, batch).to_list()) or []
    return pl.Series(key, [value for (value,) in found], pl.String)


class _RunCdrKeys:
    """The cdr_keys of the rows a run has yielded, per PBX: sorted md5 digests (16 bytes a row, not
    a Python object), searched and extended a chunk at a time."""

    def __init__(self) -> None:
        self.by_pbx: dict[str, np.ndarray] = {}

    def first_seen(self, pbx: str, cdr_keys: pl.Series) -> pl.Series:
        """Whether each of `cdr_keys` (distinct md5 hex digests) is new this run; records them."""
        if not len(cdr_keys):
            return pl.Series(dtype=pl.Boolean)
        digests = np.frombuffer(bytes.fromhex(cdr_keys.str.join("").item()), dtype="S16")
        seen = self.by_pbx.get(pbx, np.empty(0, dtype="S16"))
        at = np.searchsorted(seen, digests)
        known = seen[np.minimum(at, len(seen) - 1)] == digests if len(seen) else np.zeros(len(digests), np.bool_)
        fresh = np.sort(digests[~known])
        self.by_pbx[pbx] = np.insert(seen, np.searchsorted(seen, fresh), fresh)
        return pl.Series(~known)


# ---------------------------------------------------------------------------------------------
# helpers


def _meta_values(stream: Stream, source: LogFile, loaded_at: datetime) -> dict[str, object]:
    """The per-stream constants every row of a chunk carries."""
    return {"pbx": stream.pbx, "source_stream": stream.stream_id, "source_file": str(source.path),
            "loaded_at": loaded_at}


def _meta_columns(meta: dict[str, object]) -> list[pl.Expr]:
    # Categorical: one dictionary entry instead of millions of copied strings on the way to parquet.
    types = {**_META, **_LOADED}
    return [
        (pl.lit(value, pl.String).cast(types[name]) if isinstance(types[name], pl.Categorical)
         else pl.lit(value, types[name])).alias(name)
        for name, value in meta.items()
    ]


def _stream_row(stream: Stream, source: LogFile, kind: str, offset: int, line_no: int) -> dict[str, object]:
    return {
        "pbx": stream.pbx, "source_stream": stream.stream_id, "source_file": str(source.path), "kind": kind,
        "first_line": stream.first_line.decode("utf-8", errors="replace").rstrip("\r\n").replace("\x00", ""),
        "bytes_read": offset, "lines_read": line_no, "updated_at": _now(),
    }


def _stream_rows(rows: list[dict[str, object]]) -> object:
    """The log_streams rows of the streams a run read, as one table: one item per stream cost dlt
    ~1 ms of bookkeeping each (a first load of 631 rotated logs)."""
    return _to_table("log_streams", pl.DataFrame(rows, schema=STREAM_COLUMNS), merge_key=STREAM_KEY)


def _to_table(
    table: str,
    frame: pl.DataFrame,
    *,
    columns: dict[str, pl.DataType] | None = None,
    merge_key: list[str] | None = None,
) -> object:
    """Arrow table routed to `table`; merge tables carry their primary key, the rest append."""
    if columns is not None:
        frame = frame.select([pl.col(c).cast(t) for c, t in columns.items()])
    arrow: pa.Table = frame.to_arrow()
    # Literal columns come out NOT NULL; batches of one table must share one schema: nullable,
    # except the merge key, which dlt declares NOT NULL (a nullable key made dlt warn on every load)
    keys = set(merge_key or ())
    arrow = arrow.cast(pa.schema([f.with_nullable(f.name not in keys) for f in arrow.schema]))
    if merge_key:
        hints = dlt.mark.make_hints(table_name=table, write_disposition="merge", primary_key=merge_key)
    else:
        hints = dlt.mark.make_hints(table_name=table, write_disposition="append")
    return dlt.mark.with_hints(arrow, hints, create_table_variant=True)


class _BulkParquet:
    """The bulk rows of one append table in a run, as one parquet load file (pipelines/load_files.py)
    with dictionaries for the per-chunk constants (Categorical) and the few fields with a handful
    of values. The table and its columns are declared by the empty Arrow batch every resource
    yields first. Where the warehouse does not take load files (Postgres), Arrow tables instead.
    """

    def __init__(self, table: str, columns: dict[str, pl.DataType], dictionary_fields: tuple[str, ...] = ()):
        self.table, self.columns = table, columns
        self.as_file = warehouse_takes_load_files()
        self.constants = [c for c, t in columns.items() if isinstance(t, pl.Categorical)]
        self.file = ParquetLoadFile(table, [*self.constants, *dictionary_fields])

    def write(self, frame: pl.DataFrame, constants: dict[str, object]) -> Iterator[object]:
        """Adds `frame` with the `constants` columns to the file; yields it as an Arrow table
        instead when not writing a file."""
        if not self.as_file:
            yield _to_table(self.table, frame.with_columns(_meta_columns(constants)), columns=self.columns)
            return
        varying = {c: t for c, t in self.columns.items() if c not in self.constants}
        typed = frame.with_columns(_meta_columns({c: v for c, v in constants.items() if c in varying}))
        # Arrow's parquet writer takes string views but not dictionaries of them: the constants
        # travel as one-entry dictionaries of plain strings (built here: Polars would convert a
        # Categorical column row by row), the rest as views.
        views = typed.select([pl.col(c).cast(t) for c, t in varying.items()]).to_arrow(
            compat_level=pl.CompatLevel.newest())
        arrays = [
            _one_value_dictionary(constants[c], typed.height) if c in self.constants else views.column(c)
            for c in self.columns
        ]
        schema = self.file.schema or pa.schema([pa.field(c, a.type) for c, a in zip(self.columns, arrays, strict=True)])
        self.file.write(pa.Table.from_arrays(arrays, schema=schema))

    def imported(self) -> Iterator[object]:
        """The file as a dlt import item (nothing when no rows were written)."""
        yield from self.file.imported(write_disposition="append")


def _one_value_dictionary(value: str, length: int) -> pa.DictionaryArray:
    """`length` times `value`, as a dictionary of one string.

    Built from Arrow buffers, not with `pa.array`: pyarrow's first conversion of a Python or
    numpy object imports pandas to check for pandas types, 0.3-0.4 s on the first chunk's path
    (a tenth of a 100k-line append's load), and nothing else in a load needs pandas.
    """
    encoded = value.encode()
    indices = pa.Array.from_buffers(pa.int32(), length, [None, pa.py_buffer(np.zeros(length, np.int32))])
    offsets = pa.py_buffer(np.array([0, len(encoded)], np.int32))
    values = pa.Array.from_buffers(pa.string(), 1, [None, offsets, pa.py_buffer(encoded)])
    return pa.DictionaryArray.from_arrays(indices, values)


class _UncommittedRows:
    """Deletes the rows a crashed run loaded past a stream's committed position (see module
    docstring), over one warehouse connection for all the streams a run reads: opened at the
    first delete, closed with the `with`. A connection per stream cost 50-65 ms, 16 s of a 23 s
    first load of 200 rotated logs (independent audit), where the deletes took 1 ms."""

    def __init__(self, tables: tuple[str, ...]):
        self._tables = tables
        self._stack = contextlib.ExitStack()
        self._client = None
        self._missing: set[str] = set()  # tables (or the whole dataset) not created yet

    def __enter__(self) -> _UncommittedRows:
        return self

    def __exit__(self, *exc_info) -> None:
        self._stack.close()

    def remove(self, stream_id: str, from_line_no: int) -> None:
        tables = [table for table in self._tables if table not in self._missing]
        if not tables:
            return
        try:
            if self._client is None:
                self._client = self._stack.enter_context(dlt.current.pipeline().sql_client())
            for table in tables:
                try:
                    self._client.execute_sql(
                        f"delete from {self._client.make_qualified_table_name(table)} "
                        "where source_stream = %s and line_no >= %s", stream_id, from_line_no)
                except DatabaseUndefinedRelation:
                    self._missing.add(table)
        except (DatabaseUndefinedRelation, DestinationUndefinedEntity):
            self._missing.update(self._tables)  # no dataset yet: nothing was loaded


def _now() -> datetime:
    return datetime.now(UTC)
