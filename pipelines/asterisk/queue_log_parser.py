"""Parse raw queue_log bytes into typed event rows and rejects — pure functions, no I/O.

A queue_log line is `epoch|callid|queuename|agent|event|data1|...|dataN` with a variable number
of data fields and no quoting (asterisk-queue-log.md §1.1). Parsing is vectorised with Polars'
CSV reader ('|' separator, quoting off, ragged rows padded), so ten million lines take seconds,
never one Python object per line.

Quirks handled here (§4): NUL runs after unclean shutdowns (removed; a run followed by a new line's
start ends the line it is in, and the text before a run that ends a line — a line the crash cut —
is rejected), CRLF (CR removed), a byte-order mark before a line (ignored), invalid UTF-8
(replaced by U+FFFD), blank lines (counted as skipped), variable and trailing-empty field
counts, values containing '|' (kept joined in data6). Empty and absent fields are both null. Rows keep their line number so that file
order survives sorting by the 1-second epoch. Everything else — duplicates, ordering, restarts,
missing ENTERQUEUE — is a matter of interpretation and belongs to the dbt models.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import polars as pl

from pipelines.asterisk.crash_padding import CrashPadding
from pipelines.asterisk.replaced_bytes import rows_with_replaced_bytes
from pipelines.csv_bytes import read_csv_bytes

BASE_FIELDS = ("event_epoch", "callid", "queuename", "agent", "event")
DATA_FIELDS = tuple(f"data{i}" for i in range(1, 7))
# Data fields beyond data6 are folded into data6 ('|' rejoined). Lines of up to 17 fields (12 data
# fields) are kept. One more column is read: a line that fills it has more than 17 fields and was
# cut by the reader, so it is rejected whole instead.
READ_DATA_COLUMNS = 13
_READ_COLUMNS = [f"f{i}" for i in range(len(BASE_FIELDS) + READ_DATA_COLUMNS)]
# Asterisk writes at most 11 fields (ATTENDEDTRANSFER: six data fields), so a chunk is first read
# as exactly that many columns, refusing longer lines; only a chunk that has one is read wide.
_NARROW_COLUMNS = _READ_COLUMNS[: len(BASE_FIELDS) + len(DATA_FIELDS)]

# Plausible epoch range: 2000-01-01 .. 2100-01-01. Anything else is a damaged line.
MIN_EPOCH, MAX_EPOCH = 946_684_800, 4_102_444_800
# A line whose epoch is more than this ahead of (or behind) both the line before it and the line
# after it, while those two are within this of each other, is a damaged timestamp inside the
# plausible range (a digit changed: 2025 read as 2029), not an event: Asterisk appends lines as it
# writes them, out of order by seconds at most (§4.10), and a clock that jumps moves every line
# after it, not one. Left in, such a line would be the PBX's newest event and keep its agents
# logged in, and its callers waiting, until then (or, 2022 read as 2009, logged in since then).
# Neighbours further apart (a quiet night, a weekend) still frame a line that is out by more than
# ten times their distance; lines far apart on both sides - an excerpt of a log, days between
# its lines - are not judged. The neighbours are the lines around it in the stream: across the
# chunks of a run and, for a run's first line, the last line the run before read.
OUT_OF_SEQUENCE_SECONDS = 3600
OUT_OF_SEQUENCE_RATIO = 10
# What stands out may be a run of up to this many lines in a row, as one line does: a PBX whose
# clock starts at 2000-01-01 until NTP steps it writes its QUEUESTART and the first logins there,
# and a login script on a wrong clock writes one ADDMEMBER per queue in one second (independent
# audit: each line of the pair vouched for the other, and an agent was logged in for 25 years).
# A longer run is the PBX's own time (a clock set back moves every line after it).
MAX_STRAY_RUN = 32
# ...unless a call id in it vouches for its time. A hand-merged or re-sorted file has whole lines
# out of place by hours (§4.10: sort them by time, do not drop them). A call's id is Asterisk's
# uniqueid, "[systemname-]<epoch of the channel's creation>.<n>": a line whose time is at most a
# day after it carries the time the PBX wrote, and so do the lines of its run. A damaged digit of
# a day or more (a year, a month) still stands out; lines without a call (agents, restarts) are
# judged by their neighbours alone.
CALL_ID_EPOCH = r"(\d{9,10})\.\d+$"
CALL_ID_VOUCHES_SECONDS = 86_400
# A stream's first and last line read so far have one neighbour: either is out of sequence when
# more than this from it (a log does not begin months before its next line: 2022 read as 2009;
# an agent's or a call's event months after the PBX's last one would keep its agents logged in
# until then), unless it is Asterisk starting (QUEUESTART; CONFIGRELOAD), which may follow or be
# followed by months switched off (then only months back in time is out of sequence). An
# end line ahead of its neighbour by more than an hour is also out of sequence when later than
# its file was last written by more than FILE_TIME_SLACK_SECONDS (no line is written after its
# file; the slack covers a file server's clock).
ONE_NEIGHBOUR_FAR_SECONDS = 90 * 86_400
_STARTS = ("QUEUESTART", "CONFIGRELOAD")
FILE_TIME_SLACK_SECONDS = 86_400

EVENT_SCHEMA: dict[str, pl.DataType] = {
    "line_no": pl.Int64(),
    "event_epoch": pl.Int64(),
    "callid": pl.String(),
    "queuename": pl.String(),
    "agent": pl.String(),
    "event": pl.String(),
    **{name: pl.String() for name in DATA_FIELDS},
}

REJECT_SCHEMA: dict[str, pl.DataType] = {
    "line_no": pl.Int64(),
    "byte_offset": pl.Int64(),
    "reason": pl.String(),
    "raw_text": pl.String(),
}

# missing_event: fewer than five fields, or an empty event name. cut_by_crash: text right before
# a NUL run that ends its line — a crash stopped the write mid-line and the file was padded with
# NULs. unterminated: the last line of a file that will not grow any more (compressed, or rotated
# and left alone: see source.py) without its newline — Asterisk ends every line it writes with
# one, so the write was cut. Either may look like a whole event with fewer fields
# (`…|COMPLETECALLER|10|12`) and would count wrong figures.
# epoch_out_of_sequence: see OUT_OF_SEQUENCE_SECONDS (judged among the stream's events around it).
REJECT_REASONS = ("missing_event", "bad_epoch", "epoch_out_of_sequence", "too_many_fields", "cut_by_crash",
                  "unterminated")


@dataclass(frozen=True)
class UnsettledTail:
    """Where the last event lines of what a run read begin, when the line after them could still
    change their verdict (OUT_OF_SEQUENCE_SECONDS): they follow a step of more than
    OUT_OF_SEQUENCE_SECONDS and are few enough to be a stray run (MAX_STRAY_RUN), or the line
    has no line before it. A damaged digit there passes as lines after a quiet hour until the next
    line shows them standing out from both sides, and a restart months later stays rejected until
    the line after it shows it is not alone. A log that grows is read again from this line by its
    next run (source.py), so that its lines end up judged as one run over the whole log would
    judge them."""

    line_no: int  # the line's number in its stream
    offset: int  # where the line starts, in bytes from the start of the chunk
    epoch_before: int | None  # the epoch of the event kept before it (its judge), None: none


@dataclass(frozen=True)
class ParsedChunk:
    """The outcome of one chunk: lines_read == len(events) + len(rejects) + skipped_blank.
    events_with_replaced_bytes: events kept with bytes that were not UTF-8 (read as U+FFFD).
    unsettled: the chunk's last event line when no line after it was given and its verdict
    waits for one (UnsettledTail); None otherwise. cut_line_start: where the chunk's last line
    starts when it has no newline (a final copy's cut line, consumed as `unterminated`); None when
    the chunk ends with one."""

    events: pl.DataFrame
    rejects: pl.DataFrame
    lines_read: int
    skipped_blank: int
    events_with_replaced_bytes: int = 0
    unsettled: UnsettledTail | None = None
    cut_line_start: int | None = None


_COUNT_WINDOW = 1 << 20


def count_lines(data: bytes) -> int:
    """Lines in `data`; an unterminated last line counts as one.

    Counted by numpy a megabyte at a time (the comparison stays in cache): 11 ms per 64 MB
    against 44 ms for `bytes.count`, which also holds the GIL that the thread writing the
    previous chunk needs.
    """
    if not data:
        return 0
    view = np.frombuffer(data, np.uint8)
    newlines = sum(int(np.count_nonzero(view[i:i + _COUNT_WINDOW] == 10)) for i in range(0, len(view), _COUNT_WINDOW))
    return newlines + (0 if data.endswith(b"\n") else 1)


# The start of a queue_log line as Asterisk writes it: a plausible epoch (9 or 10 digits), then
# callid|queue|agent|EVENT (§1.1). Text after a NUL run that does not start so goes on the same line.
_LINE_START = rb"\d{9,10}\|[^|\n]*\|[^|\n]*\|[^|\n]*\|[A-Za-z_]"
_CRASH_PADDING = CrashPadding(_LINE_START)
_BYTE_ORDER_MARK = "\ufeff"


def break_midline_nul_runs(data: bytes) -> bytes:
    """`data` with each NUL run between a line a crash cut and the start of a new one turned into
    a line break, offsets kept (crash_padding.py): the restarted Asterisk typically wrote its
    QUEUESTART right after the padding."""
    return _CRASH_PADDING.break_midline_runs(data)


def parse_chunk(data: bytes, *, first_line_no: int = 0, base_offset: int = 0, epoch_before: int | None = None,
                epochs_after: tuple[int, ...] = (), file_written_epoch: int | None = None) -> ParsedChunk:
    """Parse whole lines of a queue_log.

    `data` must start at a line start; its last line may lack the newline only when the caller
    decided to consume a final unterminated line. `first_line_no` and `base_offset` place the chunk
    in its stream so that rejects can point at the exact line and byte. The chunk's neighbours
    judge its first and last line (OUT_OF_SEQUENCE_SECONDS): `epoch_before`, the last event read
    before it (None: the stream's first line); `epochs_after`, the first few event epochs after it
    (epochs_ahead of the next chunk; none: its last line is the last read so far), judged among
    themselves as the chunk's own lines are, so that a damaged line just past the chunk is not its
    last line's neighbour; `file_written_epoch`, the file's modification time.
    """
    if not data:
        return ParsedChunk(_empty(EVENT_SCHEMA), _empty(REJECT_SCHEMA), 0, 0)

    # NUL runs and carriage returns never carry meaning in a queue_log: dropped, once a NUL run
    # before a new line has ended the cut one (break_midline_nul_runs). The usual chunk has no
    # NUL: one scan says so.
    has_nuls = b"\x00" in data
    broken = break_midline_nul_runs(data) if has_nuls else data
    clean = (broken.replace(b"\x00", b"") if has_nuls else data).replace(b"\r", b"")
    unterminated = not data.endswith(b"\n")
    if unterminated:
        # The unterminated last line may have been only NULs/CR; keep it as a (blank) row.
        clean += b"\n"
    raw, lossy = _read_fields(clean, first_line_no)
    # Every line must be a row (a skipped empty line would shift every line number after it).
    # One count of newlines per chunk (~0.05 s per 64 MB); searching for empty lines first cost more.
    lines_read = count_lines(clean)
    if raw.height != lines_read:  # pragma: no cover - guards a reader regression, see test
        raise ValueError(f"queue_log reader returned {raw.height} rows for {lines_read} lines")

    wide = raw.width > len(_NARROW_COLUMNS) + 1  # the read columns and line_no
    epochs = raw.get_column(_READ_COLUMNS[0]).cast(pl.Int64, strict=False)
    cut = ([first_line_no + i for i in _CRASH_PADDING.cut_lines(data, np.flatnonzero(np.frombuffer(broken, np.uint8) == 10))]
           if has_nuls else [])
    around = (epoch_before, epochs_after, file_written_epoch)
    if (not cut and not unterminated and _all_lines_clean(raw, epochs, wide)
            and not _out_of_sequence(epochs, *around, end_events=_end_events(raw.get_column(_READ_COLUMNS[4]))).any()):
        # The usual chunk: nothing to set aside, so no per-row tags and no filtering of its columns.
        events = raw.select("line_no", epochs.alias("event_epoch"), *_event_fields(wide))
        unsettled = None
        if not epochs_after:
            unsettled = _unsettled_tail(data, first_line_no, raw.get_column("line_no").to_numpy(), epochs.to_numpy(),
                                        epoch_before,
                                        first_of_stream=first_line_no if epoch_before is None and len(epochs) == 2 else None)
        return ParsedChunk(events=events, rejects=_empty(REJECT_SCHEMA), lines_read=lines_read, skipped_blank=0,
                           events_with_replaced_bytes=rows_with_replaced_bytes(events, clean) if lossy else 0,
                           unsettled=unsettled)

    f = [pl.col(c) for c in (_READ_COLUMNS if wide else _NARROW_COLUMNS)]
    # A file saved by an editor starts with a byte-order mark, also where it was appended to another
    # log: not part of the epoch. Looked for only here: a line with one fails the usual chunk's check.
    f[0] = f[0].str.strip_prefix(_BYTE_ORDER_MARK)
    epoch = pl.col("_epoch")
    # A blank line has no content: every field empty, the first at most whitespace (NUL-only lines
    # are blank once NULs are gone). A line that lost its epoch but kept other fields is a reject.
    blank = pl.all_horizontal([c.is_null() for c in f[1:]]) & (f[0].is_null() | (f[0].str.strip_chars() == ""))
    reason = pl.when(blank).then(pl.lit(None, pl.String))
    if cut:
        reason = reason.when(pl.col("line_no").is_in(cut)).then(pl.lit("cut_by_crash"))
    if unterminated:
        reason = reason.when(pl.col("line_no") == first_line_no + lines_read - 1).then(pl.lit("unterminated"))
    reason = reason.when(f[4].is_null()).then(pl.lit("missing_event"))
    if wide:  # only a wide read can hold a line longer than the fields kept
        reason = reason.when(f[-1].is_not_null()).then(pl.lit("too_many_fields"))
    reason = (
        reason.when(epoch.is_null() | ~epoch.is_between(MIN_EPOCH, MAX_EPOCH)).then(pl.lit("bad_epoch"))
        .otherwise(pl.lit(None, pl.String))
    )
    tagged = raw.with_columns(f[0].cast(pl.Int64, strict=False).alias("_epoch")).with_columns(
        blank.alias("_blank"), reason.alias("_reason"))
    # among the lines that are events, those whose epoch stands out from both neighbours
    events_so_far = tagged.filter(~pl.col("_blank") & pl.col("_reason").is_null())
    stray = events_so_far.get_column("line_no").filter(
        _out_of_sequence(events_so_far.get_column("_epoch"), *around,
                         end_events=_end_events(events_so_far.get_column(_READ_COLUMNS[4])),
                         call_ids=events_so_far.get_column(_READ_COLUMNS[1])))
    if len(stray):
        tagged = tagged.with_columns(
            pl.when(pl.col("line_no").is_in(stray.implode())).then(pl.lit("epoch_out_of_sequence"))
            .otherwise(pl.col("_reason")).alias("_reason"))
    kept = tagged.filter(~pl.col("_blank") & pl.col("_reason").is_null())
    events = kept.select("line_no", pl.col("_epoch").alias("event_epoch"), *_event_fields(wide))

    unsettled = None
    if not epochs_after and events_so_far.height:
        # the events kept, and the last line that was an event before the neighbours judged it
        # (rejected now, the next line may agree with it): its judges are the events kept
        judged = events.select("line_no", "event_epoch")
        last = events_so_far.select("line_no", pl.col("_epoch").alias("event_epoch")).tail(1)
        if not judged.height or judged.item(-1, "line_no") != last.item(0, "line_no"):
            judged = pl.concat([judged, last])
        first_no = int(events_so_far.get_column("line_no")[0])
        unsettled = _unsettled_tail(data, first_line_no, judged.get_column("line_no").to_numpy(),
                                    judged.get_column("event_epoch").to_numpy(), epoch_before,
                                    first_of_stream=first_no if epoch_before is None and events_so_far.height == 2 else None)
    rejected = tagged.select("line_no", "_reason").filter(pl.col("_reason").is_not_null())
    rejects = _rejects_with_text(data, rejected, first_line_no, base_offset)
    skipped = int(tagged.get_column("_blank").sum())
    return ParsedChunk(events=events, rejects=rejects, lines_read=lines_read, skipped_blank=skipped,
                       events_with_replaced_bytes=rows_with_replaced_bytes(events, clean) if lossy else 0,
                       unsettled=unsettled,
                       # (lines as the parser sees them: a NUL run before a new line ended one, offsets kept)
                       cut_line_start=broken.rfind(b"\n") + 1 if unterminated else None)


def _unsettled_tail(data: bytes, first_line_no: int, line_nos: np.ndarray, epochs: np.ndarray, before: int | None, *,
                    first_of_stream: int | None = None) -> UnsettledTail | None:
    """The UnsettledTail of a chunk whose event lines (`line_nos`, at `epochs`, after `before`)
    end what is read: its lines after the last step of more than OUT_OF_SEQUENCE_SECONDS, when they
    are few enough to be a stray run (MAX_STRAY_RUN) that the next line could show, or its only
    line when nothing judged it; None when the lines before its last ones settle their verdict.
    `first_of_stream`: the stream's first event line when the last line is its only neighbour (a
    stream of two lines so far): it was judged by the unsettled line, so what waits starts there."""
    e = np.concatenate([[before], epochs]).astype(np.int64) if before is not None else epochs
    long_steps = np.flatnonzero(np.abs(np.diff(e)) > OUT_OF_SEQUENCE_SECONDS)
    if len(long_steps):
        start = int(long_steps[-1]) + 1  # (in e: the first line after the step)
    elif len(e) == 1:
        start = 0
    else:
        return None
    if len(e) - start > MAX_STRAY_RUN:
        return None
    line_no = int(line_nos[start - (1 if before is not None else 0)])
    before = int(e[start - 1]) if start else None
    if first_of_stream is not None:
        line_no, before = first_of_stream, None
    return UnsettledTail(line_no=line_no, offset=_line_start(data, line_no - first_line_no), epoch_before=before)


def _line_start(data: bytes, index: int) -> int:
    """Where the chunk's line `index` (0-based, as the parser numbers lines) starts in `data`."""
    if index == 0:
        return 0
    newlines = np.flatnonzero(np.frombuffer(break_midline_nul_runs(data), dtype=np.uint8) == 10)
    return int(newlines[index - 1]) + 1


def epochs_ahead(data: bytes, lines: int = MAX_STRAY_RUN + 1) -> tuple[int, ...]:
    """The epochs of the events among `data`'s first few lines (a chunk's neighbours for the lines
    before it: enough to see past a stray run that the chunk boundary cuts): lines with a plausible
    epoch, an event and at most the fields a line may have. A malformed line is a reject, not a
    neighbour, as it is inside a chunk."""
    epochs = []
    for line in data[:512 * lines].split(b"\n", lines)[:lines]:
        fields = line.replace(b"\x00", b"").replace(b"\r", b"").split(b"|")
        head = fields[0].removeprefix(_BYTE_ORDER_MARK.encode())
        if (len(BASE_FIELDS) <= len(fields) < len(_READ_COLUMNS) and fields[4]
                and head.isdigit() and MIN_EPOCH <= int(head) <= MAX_EPOCH):
            epochs.append(int(head))
    return tuple(epochs)


def _all_lines_clean(raw: pl.DataFrame, epochs: pl.Series, wide: bool) -> bool:
    """No blank line and no reject, from null counts (kept by Polars, free) and the lines' epochs:
    every line has an event field (so it is not blank), none fills the extra read column of a wide
    read, and every epoch is a plausible integer."""
    if raw.get_column(_READ_COLUMNS[4]).null_count():
        return False
    if wide and raw.get_column(_READ_COLUMNS[-1]).null_count() < raw.height:
        return False
    return epochs.null_count() == 0 and epochs.min() >= MIN_EPOCH and epochs.max() <= MAX_EPOCH


def _vouched_by_call_id(call_ids: pl.Series, epochs: np.ndarray) -> np.ndarray:
    """Whether each line's call id vouches for its time (CALL_ID_VOUCHES_SECONDS)."""
    created = call_ids.str.extract(CALL_ID_EPOCH).cast(pl.Int64, strict=False).to_numpy()
    with np.errstate(invalid="ignore"):  # (no call id: NaN, vouching for nothing)
        return (epochs - created >= 0) & (epochs - created <= CALL_ID_VOUCHES_SECONDS)


def _out_of_sequence(epochs: pl.Series, before: int | None = None, after: tuple[int, ...] = (),
                     file_written_epoch: int | None = None, end_events: tuple[str, str] = ("", ""),
                     call_ids: pl.Series | None = None) -> pl.Series:
    """Whether each epoch is out of sequence among its neighbours (OUT_OF_SEQUENCE_SECONDS):
    `before` is the epoch just before the chunk and `after` the first few after it, None and none
    at the ends of what is read; `end_events` are the first and the last line's event names;
    `call_ids`, the lines' call ids: a line whose call id vouches for its time never strays between
    two neighbours. Numpy over the chunk's epochs: a few ms per million lines."""
    e = np.concatenate([[before] if before is not None else [], epochs.to_numpy(), after]).astype(np.int64)
    flags = np.zeros(len(e), np.bool_)
    limit = OUT_OF_SEQUENCE_SECONDS
    if len(e) >= 3:
        steps = np.diff(e)  # steps[i] = e[i + 1] - e[i]
        # only a run of lines reached by a long step and left by the next one can be one (a
        # night's gap, a restart: a few per chunk): the lines e[into_at + 1 .. out_at]
        long_steps = np.flatnonzero(np.abs(steps) > limit)
        into_at, out_at = long_steps[:-1], long_steps[1:]
        into, out_of = steps[into_at], steps[out_at]
        apart = np.abs(e[out_at + 1] - e[into_at])  # how far apart the run's neighbours are
        stray = (out_at - into_at <= MAX_STRAY_RUN) & (
            ((into > limit) & (out_of < -limit)) | ((into < -limit) & (out_of > limit))) & (
            (apart <= limit) | (apart * OUT_OF_SEQUENCE_RATIO <= np.minimum(np.abs(into), np.abs(out_of))))
        first_in_chunk = 1 if before is not None else 0
        for start, end in zip(into_at[stray] + 1, out_at[stray] + 1, strict=True):
            if call_ids is not None:  # (only the few candidates' ids are read)
                # (the lines after the chunk have no id here)
                own = np.arange(start, min(end, first_in_chunk + len(epochs))) - first_in_chunk
                if _vouched_by_call_id(call_ids.gather(own), e[own + first_in_chunk]).any():
                    continue
            flags[start:end] = True
    # the ends of what is read, against the nearest line not already out of sequence
    kept = np.flatnonzero(~flags)
    if len(e) and before is None:  # the stream's first line
        nearest = int(e[kept[1]]) if len(kept) > 1 else None
        flags[0] |= _end_out_of_sequence(int(e[0]), nearest, file_written_epoch, first=True,
                                         restart=end_events[0] in _STARTS)
    if len(e) and not after:  # the last line read so far
        nearest = int(e[kept[-2]]) if len(kept) > 1 else None
        flags[-1] |= _end_out_of_sequence(int(e[-1]), nearest, file_written_epoch, first=False,
                                          restart=end_events[1] in _STARTS)
    inner = slice(1 if before is not None else 0, len(e) - len(after))
    return pl.Series(flags[inner])


def _end_events(events: pl.Series) -> tuple[str, str]:
    """The first and the last event name of a chunk, as Asterisk names them ("" for none)."""
    if not len(events):
        return "", ""
    return tuple((name or "").strip().upper() for name in (events[0], events[-1]))


def _end_out_of_sequence(epoch: int, neighbour: int | None, file_written_epoch: int | None, *, first: bool,
                         restart: bool = False) -> bool:
    """A first or last line with one neighbour (see ONE_NEIGHBOUR_FAR_SECONDS)."""
    if neighbour is not None:
        # months from its neighbour, or months back in time (the first line after the second, the
        # last before the one before it) when it is Asterisk starting: a start may follow, or be
        # followed by, months switched off
        away = epoch - neighbour if first else neighbour - epoch
        far = away if restart else abs(away)
        if far > ONE_NEIGHBOUR_FAR_SECONDS:
            return True
    return (file_written_epoch is not None and epoch > file_written_epoch + FILE_TIME_SLACK_SECONDS
            and (neighbour is None or epoch - neighbour > OUT_OF_SEQUENCE_SECONDS))


def _read_fields(clean: bytes, first_line_no: int) -> tuple[pl.DataFrame, bool]:
    """The fields as text columns (f0.., narrow or wide: see _NARROW_COLUMNS), and each row's
    line number (from the reader, so that it comes in the same pieces as the fields and the rows
    go to Arrow without being gathered into one piece); and whether the chunk was read lossy.

    The usual chunk is read narrow and as strict UTF-8 (the lossy decoder copies the whole chunk
    even when it is valid); a chunk with a longer line or a byte that is not UTF-8 fails that
    read and is read again wide and lossy. Narrow, the reader refuses a line with more fields
    than columns, so no line loses a field silently."""
    options = dict(
        separator="|",
        has_header=False,
        quote_char=None,
        missing_columns="insert",
        raise_if_empty=False,  # empty and absent fields both read as null
        row_index_name="line_no",  # counts from 0: the reader's index is 32-bit, line numbers are not
    )
    try:
        raw = read_csv_bytes(clean, encoding="utf8", new_columns=_NARROW_COLUMNS,
                          schema={c: pl.String for c in _NARROW_COLUMNS},
                          truncate_ragged_lines=False, extra_columns="raise", **options)
        lossy = False
    except (pl.exceptions.PolarsError, pl.exceptions.PanicException):
        raw = read_csv_bytes(clean, encoding="utf8-lossy", new_columns=_READ_COLUMNS,
                          schema={c: pl.String for c in _READ_COLUMNS},
                          truncate_ragged_lines=True,
                          extra_columns="ignore",  # a first line longer than the read columns must not fail the chunk
                          **options)
        lossy = True
    return raw.with_columns(pl.col("line_no").cast(pl.Int64) + first_line_no), lossy


def _event_fields(wide: bool) -> list[pl.Expr]:
    """callid .. data6 from the read columns (data6 with any further fields of a wide read)."""
    return [
        *[pl.col(src).alias(dst) for src, dst in zip(_READ_COLUMNS[1:5], BASE_FIELDS[1:], strict=True)],
        *[pl.col(_READ_COLUMNS[5 + i]).alias(DATA_FIELDS[i]) for i in range(5)],
        (_overflow_data6() if wide else pl.col(_READ_COLUMNS[10])).alias("data6"),
    ]


def _overflow_data6() -> pl.Expr:
    """data6 plus any further fields, rejoined with '|' (interior empties kept, trailing dropped)."""
    rest = [pl.col(c) for c in _READ_COLUMNS[10:]]
    joined = pl.concat_str([c.fill_null("") for c in rest], separator="|").str.strip_chars_end("|")
    overflow = pl.any_horizontal([c.is_not_null() for c in rest[1:]])
    return pl.when(overflow).then(joined).otherwise(rest[0])


def _rejects_with_text(data: bytes, rejected: pl.DataFrame, first_line_no: int, base_offset: int) -> pl.DataFrame:
    """Attach byte offset and raw text to rejected lines (rare, so done only when there are any)."""
    if rejected.is_empty():
        return _empty(REJECT_SCHEMA)
    data = break_midline_nul_runs(data)  # the lines the parser saw, at their raw offsets
    newlines = np.flatnonzero(np.frombuffer(data, dtype=np.uint8) == 10)
    starts = np.concatenate(([0], newlines + 1))
    ends = np.concatenate((newlines, [len(data)]))
    rows = []
    for line_no, reason in rejected.iter_rows():
        i = line_no - first_line_no
        text = data[starts[i]:ends[i]].replace(b"\x00", b"").decode("utf-8", errors="replace").rstrip("\r")
        rows.append((line_no, base_offset + int(starts[i]), reason, text))
    return pl.DataFrame(rows, schema=REJECT_SCHEMA, orient="row")


def _empty(schema: dict[str, pl.DataType]) -> pl.DataFrame:
    return pl.DataFrame(schema=schema)
