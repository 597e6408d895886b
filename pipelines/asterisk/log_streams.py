"""Find append-only PBX logs (queue_log, cdr-csv Master.csv), recognise rotated copies of one log,
and read only the bytes not yet read.

A *stream* is one queue_log as Asterisk wrote it, whatever it is called now: `queue_log` renamed
to `queue_log.1`, `queue_log-20220707` or compressed to `.gz` is still the same stream. Its identity
is a hash of the PBX name and its first line (with content: blank lines before it are part of it),
so a rename or compression keeps the read position,
and two copies of one log (`queue_log.1` beside `queue_log.1.gz`, or a copy taken before more was
appended) are read once. A copy that shares the first line but then parts from the others (a
hand-edited copy) holds lines they lack: it is a stream of its own (see `group_streams`).
Positions are byte offsets into the decompressed content plus the line number reached.
"""

from __future__ import annotations

import bz2
import contextlib
import contextvars
import errno
import functools
import glob
import hashlib
import logging
import lzma
import os
import re
import struct
import time
import zlib
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import BinaryIO

from pipelines.no_follow import is_a_link, open_without_following

# Any name containing "queue_log": queue_log, queue_log.3(.gz), queue_log-20220707(.gz), queue_log.<epoch>,
# and the names copies get in the wild (pbx1.queue_log, queue_log__backup) — but not realtime table
# exports (.sql/.csv, read by their own reader) or documents about queue_logs.
_EXPORT_OR_DOCUMENT = r"\.(?:sql|csv|rst|md|html?|json|ya?ml)(?:\.gz|\.bz2|\.xz)?$"
QUEUE_LOG_NAMES = re.compile(rf"^(?!.*{_EXPORT_OR_DOCUMENT}).*queue_log.*$", re.I)
# A file under another name is a queue_log when a line of its first 4 KB reads as one (epoch|callid|
# queue|agent|EVENT, asterisk-queue-log.md §1): a log kept as pbx1.log or case-3.txt is still read, while
# Asterisk's other logs (messages, full: "[Dec  3 10:00:00] NOTICE…"), exports and documents are not.
_QUEUE_LOG_LINE = re.compile(rb"\d{9,11}(?:\.\d+)?\|[^|\n]*\|[^|\n]*\|[^|\n]*\|[A-Za-z_]+(?:[|\r\n]|$)")
# Call recordings and other media often share the logs' folder (thousands of them): known by name,
# never opened to be sniffed (10k .wav files added 0.55 s to every sensor tick; independent audit)
_MEDIA = r"\.(?:wav|wav49|gsm|mp3|ogg|opus|flac|sln\d*|g72[29]|ulaw|alaw|ul|al|pdf|png|jpe?g|zip|tar)$"
_NOT_A_LOG = re.compile(f"{_EXPORT_OR_DOCUMENT}|{_MEDIA}", re.I)
# Realtime queue_log table exports (a MySQL dump or CSV), read whole by their own reader
QUEUE_LOG_EXPORT_NAMES = re.compile(r"^queue_log.*\.(?:sql|csv)(?:\.(?:gz|bz2|xz))?$", re.I)
# Master.csv and its rotations (Master.csv.1, Master.csv-20220707.gz)
CDR_CSV_NAMES = re.compile(r"^Master\.csv(?:[.-][0-9]+)?(?:\.(?:gz|bz2|xz))?$")
# The names Asterisk is still appending to; every other name is a finished, rotated copy.
ACTIVE_NAMES = frozenset({"queue_log", "Master.csv"})
FIRST_LINE_MAX = 4096
_BLANK = b" \t\r\x00"  # what a line without content holds (the parser skips such lines as blank)
CHUNK_BYTES = 64 << 20
# Asterisk writes on into a renamed log until `logger reload` reopens the live name (§1.3), so a
# line it had begun before the rename is finished in the renamed file. A rotated plain copy
# modified less than this long before the run may still be written to: its unterminated last
# line waits, as the live file's does (§4.12); after that it is final (a cut write). logrotate
# reloads right after renaming: ten minutes leave a wide margin and only ever delay that one line.
ROTATED_TAIL_GRACE_SECONDS = 600
# A gzip archive modified this recently is decompressed to be measured, not taken at its trailer's
# word: gzip may still be writing it (independent audit: the first 4 MB of an archive being
# written claimed 1.6 GB, outranked the plain copy and split the stream)
ARCHIVE_SETTLE_SECONDS = 60
# Blocks in which copies are compared (two in memory at a time)
COMPARE_BYTES = 8 << 20

log = logging.getLogger(__name__)


class LayoutError(ValueError):
    """The configured places hold logs in a layout whose PBXs cannot be told apart; the message
    says how to name them."""


class UnreadableLog(LayoutError):
    """A configured folder, or a log in one, that this process may not read. Every run would stop
    on it at its first read (a bare PermissionError naming no setting) while a pre-deploy check
    passed: it is refused when the places are listed, naming it and what it needs."""

    @classmethod
    def denied(cls, path) -> UnreadableLog:
        try:
            import pwd

            user = pwd.getpwuid(os.geteuid()).pw_name
        except (ImportError, KeyError):
            user = f"uid {os.geteuid()}"
        return cls(f"{path} cannot be read by user {user} (permission denied): give it read permission, "
                   "and its folders read and search permission, or leave it out of the setting")


@dataclass(frozen=True)
class Location:
    """One entry of SWITCHBOARD_QUEUE_LOG_DIRS: a folder, glob or file, and the PBX it belongs to
    (empty for an entry without NAME=: each file is then named after its own folder)."""

    pbx: str
    pattern: str


@dataclass(frozen=True)
class LogFile:
    path: Path
    pbx: str
    compression: str | None  # "gzip" | "bz2" | "xz" by the file's first bytes, not its name; None = plain
    size: int  # decompressed size (gzip: from its trailer when that is plausible)
    mtime_ns: int
    modified_recently: bool = False  # a plain file modified within ROTATED_TAIL_GRACE_SECONDS
    # what the listing found at `path`, links resolved: what is read (`open_listed`)
    listed_path: Path | None = None
    # (device, inode) of the file listed: a name given to another file since is not read as it
    file_id: tuple[int, int] | None = None

    @property
    def read_path(self) -> Path:
        return self.listed_path or self.path

    @property
    def compressed(self) -> bool:
        return self.compression is not None

    @property
    def is_final(self) -> bool:
        """Whether the file will not grow: its bytes are read to the end, an unterminated last line
        included. The live `queue_log` / `Master.csv` may still be half-way through writing its
        last line, and so may a rotated plain copy for a while after the rename
        (ROTATED_TAIL_GRACE_SECONDS); a compressed copy never grows."""
        return self.compressed or (self.path.name not in ACTIVE_NAMES and not self.modified_recently)


@dataclass(frozen=True)
class Stream:
    stream_id: str
    pbx: str
    first_line: bytes
    files: tuple[LogFile, ...]

    @property
    def best(self) -> LogFile:
        """The most complete copy: largest, preferring the live/plain file on ties."""
        return max(self.files, key=_completeness)


def _completeness(f: LogFile) -> tuple[int, bool, bool]:
    return f.size, not f.compressed, not f.is_final


@dataclass(frozen=True)
class Position:
    offset: int = 0
    line_no: int = 0
    # fingerprint of the bytes just before `offset` (tail_fingerprint); "" = not checked (a
    # compressed copy, or a position stored before fingerprints were kept)
    tail: str = ""
    # the epoch of the last event read before `offset`: the next line's neighbour (None: unknown)
    last_epoch: int | None = None
    # stream_identity(PBX, first line) of the stream read ("" = stored before it was kept): the
    # family of branches among which `with_read_identities` looks
    family: str = ""
    # where the last run read to (line number, byte), when it stopped before that at an unsettled
    # tail (queue_log_parser.UnsettledTail) that the next run reads again; None: to `line_no`/`offset`
    lines_read_to: int | None = None
    bytes_read_to: int | None = None


def parse_locations(value: str) -> list[Location]:
    """`NAME=path, path2, /var/log/*/queue_log*` → locations. Without NAME= each file's PBX is the
    name of the folder it is in (see `discover`).

    Raises ValueError for an entry that names nothing that exists (a typo should not look like
    "no calls today").
    """
    locations = []
    for entry in (part.strip() for part in value.split(",")):
        if not entry:
            continue
        name, sep, pattern = entry.partition("=")
        if not sep:
            name, pattern = "", entry
        pattern = os.path.expanduser(pattern.strip())
        if not Path(pattern).exists() and not glob.has_magic(pattern):
            raise ValueError(f"{pattern!r} does not exist")
        locations.append(Location(pbx=name.strip(), pattern=pattern))
    return locations


def discover(locations: list[Location], name_filter: re.Pattern[str],
             archive_sizes: dict[str, list[int]] | None = None) -> list[LogFile]:
    """Every file in the locations whose name matches (any rotation name), once each — for queue_logs
    also a file with a line that reads as one in its first 4 KB (`looks_like_queue_log`). A file of a location without
    a PBX name belongs to the PBX named after its folder.

    `archive_sizes`, when given, remembers the decompressed size of each settled archive that is
    measured by decompressing it whole (bzip2 and xz keep no size; a gzip whose trailer is not
    believed), by its path, size, modification time and inode: a bzip2'd day of a busy PBX took
    ~150 ms to measure at every listing, 630 of them 3.5 s a sensor tick (independent audit).
    Archives no longer listed are forgotten."""
    seen: dict[Path, LogFile] = {}
    remembered = archive_sizes or {}
    measured: dict[str, list[int]] = {}  # what the memo holds after this listing
    folders: dict[str, set[Path]] = {}  # PBX named after its folder -> the folders so named
    now_ns = time.time_ns()
    listed = [(loc, path) for loc in locations for path in _log_paths(loc, name_filter)]
    # A file reached through a link as well as where it lies belongs to the PBX of where it lies:
    # a stray link in one PBX's folder to another's live log (queue_log.pbx2 -> ../pbx2/queue_log)
    # made that log the first one's when its folder came first (independent audit). (A stable sort:
    # otherwise the locations' order decides, as before.)
    listed.sort(key=lambda found: _reached_through_a_link(found[1]))
    for loc, path in listed:
        if not _has_text_name(path):
            continue
        real = path.resolve()
        if real in seen:
            continue
        if not os.access(path, os.R_OK):
            raise UnreadableLog.denied(path)
        try:
            st = path.stat()
            compression = _compression(path)
            if compression is not None and compression not in READABLE_COMPRESSIONS:
                log.warning("%s is not read: it is compressed with %s (gzip, bzip2 and xz are read; "
                            "decompress it, or compress rotations with one of them)", path, compression)
                continue
            # an archive written to lately may still be being compressed: its last four bytes
            # are not its size yet (gzip gives the finished archive the log's own time)
            settled = now_ns - st.st_mtime_ns >= ARCHIVE_SETTLE_SECONDS * 10**9
            size = st.st_size
            if compression:
                size = _gzip_trailer_size(path, compression, st.st_size) if settled else None
                if size is None:
                    stamp = [st.st_size, st.st_mtime_ns, st.st_ino]
                    known = remembered.get(str(real))
                    size = known[3] if known and known[:3] == stamp else _measured_size(path, compression)
                    if settled:
                        measured[str(real)] = [*stamp, size]
        except FileNotFoundError:
            continue  # rotated away (gzip removing the copy it compressed) since being listed
        except PermissionError:
            raise UnreadableLog.denied(path) from None
        pbx = loc.pbx or path.parent.name or "asterisk"
        if not loc.pbx:
            folders.setdefault(pbx, set()).add(path.parent.resolve())
        # (a modification time ahead of ours, from a file server's clock, counts as recent)
        recent = compression is None and now_ns - st.st_mtime_ns < ROTATED_TAIL_GRACE_SECONDS * 10**9
        seen[real] = LogFile(path=path, pbx=pbx, compression=compression, size=size, mtime_ns=st.st_mtime_ns,
                             modified_recently=recent, listed_path=real, file_id=(st.st_dev, st.st_ino))
    _refuse_folders_of_one_name(folders)
    if archive_sizes is not None:
        archive_sizes.clear()
        archive_sizes.update(measured)
    return sorted(seen.values(), key=lambda f: (f.pbx, str(f.path)))


def _reached_through_a_link(path: Path) -> bool:
    """Whether the path names its file through a symbolic link (its own name's or a folder's)."""
    try:
        return path.resolve() != path.absolute()
    except OSError:  # a link loop
        return True


def _refuse_folders_of_one_name(folders: dict[str, set[Path]]) -> None:
    """Two folders of one name (/mnt/pbx1/var/log/asterisk, /mnt/pbx2/var/log/asterisk), given
    without NAME=, would be one PBX: one box's restart would close the other's calls, and equal
    call ids would merge into one visit. Refused, with the names to give them."""
    shared = {pbx: sorted(map(str, paths)) for pbx, paths in folders.items() if len(paths) > 1}
    if shared:
        pbx, paths = next(iter(shared.items()))
        raise LayoutError(
            f"the folders {', '.join(paths)} would all be PBX {pbx!r} (a PBX is named after its folder "
            f"when its location has no NAME=): name each PBX, e.g. "
            + ", ".join(f"pbx{i + 1}={p}" for i, p in enumerate(paths)))


def listed_streams(locations: list[Location], name_filter: re.Pattern[str], positions: dict[str, Position],
                   attempts: int = 3, archive_sizes: dict[str, list[int]] | None = None,
                   ) -> tuple[list[Stream], list[LogFile]]:
    """The streams of the locations (group_streams of discover) under the identities they are read
    under (with_read_identities), and the files without a first line yet. A file renamed or
    removed between being listed and being read (logrotate's rename, gzip removing the copy it
    compressed) makes the listing start again: the file is found under its new name.
    `archive_sizes`: discover's memo of measured archives."""
    def listed() -> tuple[list[Stream], list[LogFile]]:
        streams, waiting = group_streams(discover(locations, name_filter, archive_sizes))
        return with_read_identities(streams, positions), waiting

    for attempt in range(1, attempts):
        try:
            return listed()
        except FileNotFoundError:
            time.sleep(0.1 * attempt)
    return listed()  # the last attempt's error, if any, is the run's


def group_streams(files: list[LogFile]) -> tuple[list[Stream], list[LogFile]]:
    """Group files into streams; files without a complete first line yet are returned apart.

    Files of one PBX with one first line are one stream when each is the start of a larger one,
    byte for byte (a copy of the log taken before more was appended): only the largest is read.
    A copy that parts from the others is a stream of its own (`_split_copies`).
    """
    groups: dict[tuple[str, bytes], list[LogFile]] = {}
    waiting: list[LogFile] = []
    for f in files:
        first = read_first_line(f)
        if first is None:
            waiting.append(f)
            continue
        groups.setdefault((f.pbx, first), []).append(f)
    streams = [s for (pbx, first), copies in groups.items() for s in _split_copies(pbx, first, copies)]
    return sorted(streams, key=lambda s: (s.pbx, s.first_line)), waiting


def stream_identity(pbx: str, first_line: bytes) -> str:
    return hashlib.sha256(pbx.encode() + b"\0" + first_line).hexdigest()[:24]


def _split_copies(pbx: str, first_line: bytes, copies: list[LogFile]) -> list[Stream]:
    """The streams among copies sharing one first line: each file joins a larger one it is the
    start of; the rest are logs that parted from each other (the *branches*).

    Identities must not change as the branches grow (a stored position belongs to its content), so
    they come from where branches part, never from their sizes: the branch first in byte order
    (decided where it parts from each other one) keeps the plain identity, any other is named by
    the offset and its byte where it parts from the branch it follows longest. Two branches
    never share that pair: both would then follow each other past it.
    """
    branches: list[list[LogFile]] = []
    parts: dict[tuple[int, int], tuple[int, bytes, bytes]] = {}  # (later, earlier) → where, their bytes
    for f in sorted(copies, key=_completeness, reverse=True):  # the larger first, so a copy finds its whole
        found: dict[int, tuple[int, bytes, bytes]] = {}
        for i, members in enumerate(branches):
            where = _parting(f, members[0])
            if where is None:
                members.append(f)
                break
            found[i] = where
        else:
            parts.update({(len(branches), i): where for i, where in found.items()})
            branches.append([f])

    def parting(a: int, b: int) -> tuple[int, bytes, bytes]:
        """(offset, a's byte, b's byte) where branches a and b part."""
        if (a, b) in parts:
            return parts[(a, b)]
        offset, theirs, mine = parts[(b, a)]
        return offset, mine, theirs

    first = min(range(len(branches)), key=functools.cmp_to_key(
        lambda a, b: -1 if parting(a, b)[1] < parting(a, b)[2] else 1))
    streams = []
    for i, members in enumerate(branches):
        if i == first:
            sid = stream_identity(pbx, first_line)
        else:
            offset, byte, _ = max(parting(i, j) for j in range(len(branches)) if j != i)
            # More than a line: never what a first line's identity hashes (its one newline ends it)
            sid = stream_identity(pbx, first_line + b"%d\0" % offset + byte)
            log.info("%s starts like %s but is not a copy of the start of any larger file: read as a "
                     "log of its own", members[0].path, branches[first][0].path)
        streams.append(Stream(sid, pbx, first_line, tuple(members)))
    return streams


def _parting(small: LogFile, large: LogFile) -> tuple[int, bytes, bytes] | None:
    """Where `small` parts from `large` (offset, small's byte there, large's byte or b"" where it
    ends), or None when all `small` holds is the start of `large`.

    One pass over `small` and as much of `large`, compared in large blocks (memcmp), stopping at
    the first block that differs.
    """
    with open_log(small) as mine_fh, open_log(large) as theirs_fh:
        offset = 0
        while offset < small.size:
            mine = mine_fh.read(min(COMPARE_BYTES, small.size - offset))
            if not mine:  # a cut archive: what it holds so far matched
                return None
            theirs = theirs_fh.read(len(mine))
            if mine != theirs:
                at = _first_difference(mine, theirs)
                return offset + at, mine[at:at + 1], theirs[at:at + 1]
            offset += len(mine)
    return None


def _first_difference(mine: bytes, theirs: bytes, step: int = 4096) -> int:
    """The first index where two unequal blocks differ (`theirs` may be shorter): compared
    `step` bytes at a time, then byte by byte within one step."""
    at = 0
    while mine[at:at + step] == theirs[at:at + step]:
        at += step
    return next(i for i in range(at, at + step) if i >= len(theirs) or mine[i] != theirs[i])


def read_first_line(f: LogFile) -> bytes | None:
    """The log's start up to its first complete line with content (with its newline), blank
    lines before it included; None while there is none yet.

    `echo > queue_log` starts every generation of a log with the same blank line: known by it
    alone, the generations would be told apart only by each other (`_split_copies`), and a
    generation's identity would change when an older one is deleted."""
    with open_log(f) as fh:
        head = fh.read(FIRST_LINE_MAX)
    start = 0
    while (end := head.find(b"\n", start)) >= 0:
        if head[start:end].strip(_BLANK):
            return head[: end + 1]
        start = end + 1
    # No line with content within FIRST_LINE_MAX is damage; identify the stream by its prefix.
    # A finished archive holding blank lines only, or one unterminated line, is what it is; so is
    # a plain copy of blank lines only. A plain copy whose one line with content is unterminated
    # waits as the live log does: should it grow after all, that line's newline would change the
    # stream's identity, and the line read under both would count twice (independent audit).
    if len(head) >= FIRST_LINE_MAX:
        return head
    cut = head[head.rfind(b"\n") + 1:]
    return head if head and f.is_final and (f.compressed or not cut.strip(_BLANK)) else None


def with_read_identities(streams: list[Stream], positions: dict[str, Position]) -> list[Stream]:
    """`streams`, each under the identity its content was read under before, or under one never
    used; never under the identity of other content (the loader would replace that content's
    lines).

    Which of the files sharing a first line holds the plain identity, and which derived one the
    others hold, depends on which of them are there (`_split_copies`): when one is deleted,
    another may take over its identity, and with it a position its content does not fit
    (`plan_read`: rewritten). Among the streams of one family (PBX and first line), in turn:
    a stream whose own position fits keeps its identity; one whose content fits the position of
    another stream of its family not kept by a present file goes on under that identity; any
    other whose own position does not fit (its identity's content is gone: a log rewritten in
    place under its first line, or a copy holding it deleted) is a new generation, under a new
    identity, and the lines read before stay."""
    stored: dict[str, list[str]] = {}
    for stream_id, position in positions.items():
        if position.family and position.offset > 0 and position.tail:
            stored.setdefault(position.family, []).append(stream_id)
    kept = {s.stream_id for s in streams if s.stream_id not in positions or not plan_read(s, positions[s.stream_id])[1]}
    taken = set(kept)
    out = []
    for stream in streams:
        if stream.stream_id in kept:
            out.append(stream)
            continue
        family = stream_identity(stream.pbx, stream.first_line)
        match = next((c for c in stored.get(family, ()) if c not in taken and _fits(stream.best, positions[c])), None)
        if match is None:
            generation = 1
            while (match := stream_identity(stream.pbx, stream.first_line + b"\0generation %d\0" % generation)) in (
                    positions.keys() | taken):
                generation += 1
            log.warning("%s starts like the log read before as stream %s but no longer holds what was read of it: "
                        "read as a new generation (%s); the lines read before stay", stream.best.path,
                        stream.stream_id, match)
        else:
            log.info("%s is the log read before as stream %s (a copy sharing its first line is gone)",
                     stream.best.path, match)
        taken.add(match)
        out.append(replace(stream, stream_id=match))
    return out


def _fits(f: LogFile, position: Position) -> bool:
    """Whether the plain file `f` holds what was read up to `position`, by the bytes before it."""
    return (not f.compressed and 0 < position.offset <= f.size and bool(position.tail)
            and tail_fingerprint(f, position.offset) == position.tail)


def plan_read(stream: Stream, position: Position) -> tuple[Position, bool]:
    """Where to start reading `stream`, and whether the stored position had to be reset.

    The log was truncated and rewritten in place under the same first line when the stored offset
    is past the end of every copy and the largest is the live file (a shorter rotated or
    compressed copy is an older or damaged copy: nothing to read, the lines read stay), or when
    the bytes before it are no longer those read up to it (rewritten under the same first line
    and grown past the old offset since): it is read again from the start (the loader reads it
    as a new generation: `with_read_identities`).
    Reading on from the old offset would start mid-line in the new content.
    """
    best = stream.best
    if best.size < position.offset:
        if not shrank_in_place(best):
            # only an older or cut copy is left (the live file deleted, a damaged archive): what
            # was read from the longer one stays loaded, and there is nothing new to read
            return position, False
        log.warning("%s is shorter than the %d bytes read from it: truncated and rewritten, read again "
                    "from the start", best.path, position.offset)
        return Position(0, 0), True
    if position.tail and tail_fingerprint(best, position.offset) not in ("", position.tail):
        log.warning("%s no longer holds the bytes read up to offset %d: rewritten in place, read again "
                    "from the start", best.path, position.offset)
        return Position(0, 0), True
    return position, False


def shrank_in_place(f: LogFile) -> bool:
    """Whether a copy shorter than what was read from its stream is the log itself cut and
    rewritten (the live, plain file) rather than an older or damaged copy of it (a rotated name,
    an archive), which holds nothing the stream lacks."""
    return not f.compressed and f.path.name in ACTIVE_NAMES


# How many bytes before a stored offset are fingerprinted: the last line or lines read
TAIL_CHECK_BYTES = 256


def tail_fingerprint(f: LogFile, offset: int) -> str:
    """A fingerprint of the bytes of a plain file just before `offset` ("" for a compressed copy,
    which never changes and would have to be decompressed up to there)."""
    if f.compressed or offset <= 0:
        return ""
    return fingerprint(tail_bytes(f, offset))


def tail_bytes(f: LogFile, offset: int) -> bytes:
    """The TAIL_CHECK_BYTES bytes of a plain file before `offset`, as the file holds them now."""
    start = max(0, offset - TAIL_CHECK_BYTES)
    with open_listed(f) as fh:
        return os.pread(fh.fileno(), offset - start, start)


def fingerprint(tail: bytes) -> str:
    """The fingerprint of the bytes before a read position (Position.tail)."""
    return hashlib.blake2b(tail[-TAIL_CHECK_BYTES:], digest_size=12).hexdigest()


def read_new_bytes(f: LogFile, start: int, chunk_bytes: int = CHUNK_BYTES,
                   first_line: bytes | None = None) -> Iterator[tuple[int, bytes]]:
    """Yield (offset, chunk) of whole lines from `start` to the end of the file.

    Chunks end at a newline. The live file's unterminated last line is left for a later run; a
    final (rotated) file's last line is consumed even without a newline.

    `first_line`: the stream's first line. A plain file that no longer starts with it was
    truncated and rewritten while being read (logrotate's copytruncate, then new lines): the
    block just read may hold the new content, so it and the rest are not yielded. The position
    stays at the last chunk of the old content, where its rotated copy takes over, and the new
    content is a stream of its own.
    """
    with open_log(f) as fh:
        offset = start
        if not f.compressed:
            for chunk_offset, chunk in _whole_line_chunks(fh.fileno(), start, chunk_bytes):
                if first_line is not None and not _starts_with(fh, first_line):
                    _warn_rewritten(f)
                    return
                yield chunk_offset, chunk
                offset = chunk_offset + len(chunk)
        _skip(fh, offset)
        carry = b""
        while True:
            block = fh.read(chunk_bytes)
            if not block:
                break
            if first_line is not None and not f.compressed and not _starts_with(fh, first_line):
                _warn_rewritten(f)
                return
            cut = block.rfind(b"\n")
            if cut < 0:
                carry += block
                continue
            # One copy of the block's whole lines (joined to the carried start of its first line),
            # not three: a 64 MB chunk costs ~40 ms a copy.
            chunk = b"".join((carry, memoryview(block)[: cut + 1])) if carry or cut + 1 < len(block) else block
            yield offset, chunk
            offset += len(chunk)
            carry = block[cut + 1:]
        if carry and f.is_final:
            yield offset, carry
        elif not f.compressed and os.fstat(fh.fileno()).st_size < offset:
            # emptied with no new content past the position yet: the read just ends, so say why
            _warn_truncated(f, offset)


# How far before a chunk's end its last newline is looked for (a longer line takes the block path)
_TAIL_BYTES = 1 << 16


def readable_size(f: LogFile) -> int:
    """How far a load would read the file now: its size, but a file that may still be writing its
    last line (not is_final) only to the end of its last complete line. A tail longer than
    _TAIL_BYTES without a newline counts whole."""
    if f.is_final:
        return f.size
    start = max(0, f.size - _TAIL_BYTES)
    with open_listed(f) as fh:
        tail = os.pread(fh.fileno(), f.size - start, start)
    cut = tail.rfind(b"\n")
    return f.size if cut < 0 else start + cut + 1


def _whole_line_chunks(fd: int, start: int, chunk_bytes: int) -> Iterator[tuple[int, bytes]]:
    """(offset, chunk) of a plain file from `start`, each chunk up to its last newline within
    `chunk_bytes`, read straight into its own bytes object: the chunk's end is found first in a
    small read of its tail. Stops where less than a chunk is left (or the tail holds no newline);
    the caller reads the rest in blocks.

    (Reading a block and joining its whole lines to the carried start of its first line copied
    every chunk twice: 10M lines, 1-1.5 CPU-s and 170k page faults more, on the parsing thread.)
    """
    offset = start
    tail_bytes = min(_TAIL_BYTES, chunk_bytes)
    while True:
        tail_at = offset + chunk_bytes - tail_bytes
        tail = os.pread(fd, tail_bytes, tail_at)
        cut = tail.rfind(b"\n") if len(tail) == tail_bytes else -1
        if cut < 0:
            return
        length = tail_at + cut + 1 - offset
        chunk = os.pread(fd, length, offset)
        if len(chunk) < length:  # the file shrank since the tail was read: the block path decides
            return
        yield offset, chunk
        offset += length


def _warn_rewritten(f: LogFile) -> None:
    log.warning("%s was truncated and rewritten while being read: its new content is read "
                "as a log of its own by the next run", f.path)


def _warn_truncated(f: LogFile, offset: int) -> None:
    log.warning("%s was truncated while being read (logrotate's copytruncate): what it held from byte %d on "
                "is read from its rotated copy, and what is written into it anew as a log of its own, by the "
                "next run", f.path, offset)


def _starts_with(fh, first_line: bytes) -> bool:
    """Whether the open plain file still begins with `first_line` (read at offset 0, leaving the
    file position where it is)."""
    return os.pread(fh.fileno(), len(first_line), 0) == first_line


def open_log(f: LogFile):
    raw = open_listed(f)
    return LenientDecompressed(f.read_path, f.compression, raw) if f.compression else raw


def _open(path: Path, compression: str | None):
    return LenientDecompressed(path, compression) if compression else open(path, "rb")


class BecameALink(FileNotFoundError):
    """A listed file that is a link when it is read: a link re-pointed, or a file swapped for one,
    since the listing judged it. Read as a file gone since it was listed: the next listing judges
    it again (`_leads_to_a_log`)."""


class ReplacedSinceListed(FileNotFoundError):
    """A listed file whose name holds another file when it is read: logrotate renamed the log and
    Asterisk (or logrotate's `create`) made a new one under its name in between. Read as a file
    gone since it was listed: its stream is read under its new name by the next run, and the new
    file is listed then. (Opened as if it were the listed one, the new file failed the stream's
    first-line check and the run said the log was truncated and rewritten: independent audit.)"""


def open_listed(f: LogFile):
    """A listed file (its links resolved by the listing), opened without following a link
    (pipelines/no_follow.py), and only if it is still the file listed."""
    path = f.read_path
    try:
        fh = open_without_following(path)
    except OSError as error:
        if is_a_link(error):
            raise BecameALink(errno.ENOENT, "a link since it was listed: left for the next listing", str(path)) from None
        raise
    st = os.fstat(fh.fileno())
    if f.file_id is not None and (st.st_dev, st.st_ino) != f.file_id:
        fh.close()
        raise ReplacedSinceListed(errno.ENOENT, "another file since it was listed: left for the next listing", str(path))
    return fh


_MAGIC = {b"\x1f\x8b": "gzip", b"BZh": "bz2", b"\xfd7zXZ\x00": "xz", b"\x28\xb5\x2f\xfd": "zstd"}
# compressions read here (zstd would need a library of its own: such a rotation is left out, loudly)
READABLE_COMPRESSIONS = frozenset({"gzip", "bz2", "xz"})


def _compression(path: Path) -> str | None:
    """What the file holds, by its first bytes: a `.gz` that is plain text is read as text."""
    with open(path, "rb") as fh:
        head = fh.read(6)
    return next((kind for magic, kind in _MAGIC.items() if head.startswith(magic)), None)


class LenientDecompressed:
    """A gzip, bzip2 or xz file read as far as its data goes (concatenated members included).

    Python's own readers raise at a cut or damaged archive, and a single bad rotation would stop
    every load; this one ends where the readable data ends, so the complete lines before the damage
    are read (the cut line, as the file's last, is rejected by the parser) and `damaged` says why.
    """

    def __init__(self, path: Path, compression: str, raw: BinaryIO | None = None):
        self.path, self.compression = path, compression
        # (closed by close() and __exit__)
        self._raw = raw if raw is not None else open(path, "rb")  # noqa: SIM115
        self._decompressor = self._new()
        self._buffer = bytearray()
        self._pending = b""
        self._done = False
        self.damaged: str | None = None
        # compressed bytes read per fill: small at first, as most reads of an archive are of its
        # first line (every listing identifies every rotation by it); doubled up to 1 MB for a
        # whole read. 1 MB from the start decompressed a daily archive whole to read 4 KB of it.
        self._read_size = 16 << 10

    def _new(self):
        if self.compression == "gzip":
            return zlib.decompressobj(wbits=31)
        return lzma.LZMADecompressor() if self.compression == "xz" else bz2.BZ2Decompressor()

    def read(self, size: int = -1) -> bytes:
        while not self._done and (size < 0 or len(self._buffer) < size):
            self._fill()
        if size < 0 or size >= len(self._buffer):
            out, self._buffer = bytes(self._buffer), bytearray()
        else:
            out = bytes(self._buffer[:size])
            del self._buffer[:size]
        return out

    def _fill(self) -> None:
        data, self._pending = self._pending or self._raw.read(self._read_size), b""
        self._read_size = min(self._read_size * 2, 1 << 20)
        if not data:
            if not self._decompressor.eof:
                self._stop("compressed data ends early (a cut archive)")
            self._done = True
            return
        if self._decompressor.eof:  # the member before is complete: another member, or zero padding
            data = data.lstrip(b"\0")
            if not data:
                return
            self._decompressor = self._new()
        try:
            self._buffer += self._decompressor.decompress(data)
        except (zlib.error, lzma.LZMAError, OSError, EOFError) as exc:
            self._stop(f"compressed data is damaged ({exc})")
            return
        if self._decompressor.eof:
            self._pending = self._decompressor.unused_data

    def _stop(self, why: str) -> None:
        self.damaged = why
        self._done = True
        log.warning("%s: %s; its data up to there is read", self.path, why)

    def close(self) -> None:
        self._raw.close()

    def __enter__(self) -> LenientDecompressed:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def _skip(fh, start: int) -> None:
    if start <= 0:
        return
    if isinstance(fh, LenientDecompressed):
        remaining = start
        while remaining > 0:
            got = fh.read(min(remaining, CHUNK_BYTES))
            if not got:
                break
            remaining -= len(got)
    else:
        fh.seek(start)


def _gzip_trailer_size(path: Path, compression: str, stored_size: int) -> int | None:
    """A gzip archive's size by its ISIZE trailer (size mod 2**32; rotated queue_logs are far
    smaller than 4 GiB), None when it has none to believe: a cut archive ends in arbitrary bytes,
    trusted only within deflate's possible ratios (text never compresses more than 1032:1)."""
    if compression != "gzip" or stored_size < 18:
        return None
    with open(path, "rb") as fh:
        fh.seek(-4, os.SEEK_END)
        trailer = struct.unpack("<I", fh.read(4))[0]
    return trailer if stored_size // 2 <= trailer <= stored_size * 1032 else None


def _measured_size(path: Path, compression: str) -> int:
    """An archive's size, decompressed whole to count it."""
    with LenientDecompressed(path, compression) as fh:
        return sum(len(b) for b in iter(lambda: fh.read(CHUNK_BYTES), b""))


def looks_like_queue_log(path: Path) -> bool:
    """Whether a line among the file's first FIRST_LINE_MAX bytes (decompressed; past NULs, blank
    lines and a BOM) reads as a queue_log line: a log cut mid-line or damaged at its start is one
    too (only its first line was looked at: such a file under another name was not read at all).
    Exports, documents and recordings are never taken for one (nor opened)."""
    if _NOT_A_LOG.search(path.name):
        return False
    try:
        compression = _compression(path)
        if compression is not None and compression not in READABLE_COMPRESSIONS:
            return False
        with _open(path, compression) as fh:
            head = fh.read(FIRST_LINE_MAX)
    except OSError:
        return False
    head = head.lstrip(b"\0\r\n\t ").removeprefix(b"\xef\xbb\xbf")  # also past a BOM
    return any(_QUEUE_LOG_LINE.match(line.lstrip(b"\0\r\t ")) for line in head.split(b"\n"))


# Kinds of log also known by their first lines when their name does not say: queue_logs (a log
# kept as pbx1.log); Master.csv is always called so.
_KNOWN_BY_CONTENT = {QUEUE_LOG_NAMES: looks_like_queue_log}


# Kinds a file is taken for only by its name, even when a location names the file itself: an
# export is parsed whole as SQL/CSV, so a log named by its path (pbx1.log, queue_log) read as one
# would turn every line into a reject.
_KNOWN_BY_NAME_ONLY = frozenset({QUEUE_LOG_EXPORT_NAMES})


def _is_log(path: Path, name_filter: re.Pattern[str]) -> bool:
    if name_filter.match(path.name):
        return _leads_to_a_log(path, name_filter)
    return _is_log_by_content(path, name_filter)


def _is_log_by_content(path: Path, name_filter: re.Pattern[str]) -> bool:
    by_content = _KNOWN_BY_CONTENT.get(name_filter)
    return by_content is not None and by_content(path)


def _leads_to_a_log(path: Path, name_filter: re.Pattern[str]) -> bool:
    """Whether a file with a log's name is read: a link only when what it leads to is named or
    written like a log too (not merely empty: /proc/self/environ reads as empty). Whoever writes a PBX's share could otherwise add
    `queue_log-1 -> /home/switchboard/.env` and have the service's secrets stored as damaged
    lines in the rejects table (independent security audit)."""
    if not path.is_symlink():
        return True
    real = path.resolve()
    with contextlib.suppress(OSError):
        if name_filter.match(real.name) or _is_log_by_content(real, name_filter):
            return True
    if not _LISTING_QUIETLY.get():
        log.warning("%s is not read: it is a link to %s, which is neither named nor written like a log of "
                    "its kind (link the log itself)", path, real)
    return False


def empty_locations(locations: list[Location], *name_filters: re.Pattern[str]) -> list[Location]:
    """The locations holding no file of any of these kinds (a PBX not logging yet, or a setting
    pointing at the wrong place: worth a warning, not an error)."""
    token = _LISTING_QUIETLY.set(True)
    try:
        return [loc for loc in locations
                if not any(next(_log_paths(loc, names), None) for names in name_filters)]
    finally:
        _LISTING_QUIETLY.reset(token)


def _has_text_name(path: Path) -> bool:
    """A path that is not UTF-8 (a byte Python keeps as a surrogate) cannot be stored as the text
    that keys a stream's rows, and stopped the load of every PBX: such a file is left out, loudly,
    until it is renamed."""
    try:
        str(path).encode("utf-8")
    except UnicodeEncodeError:
        log.warning("%r is not read: its name is not UTF-8 (rename it to read it)", os.fsencode(path))
        return False
    return True


def _log_paths(loc: Location, name_filter: re.Pattern[str]) -> Iterator[Path]:
    """The logs of one location, each file looked at once (`_is_log` may read its first bytes)."""
    try:
        yield from _location_logs(loc, name_filter)
    except PermissionError as denied:
        raise UnreadableLog.denied(denied.filename) from None


def _location_logs(loc: Location, name_filter: re.Pattern[str]) -> Iterator[Path]:
    path = Path(loc.pattern)
    if path.is_dir():
        yield from _folder_logs(path, name_filter)
        return
    # A glob may name files or PBX folders (/srv/pbx-*); a matched folder contributes its logs.
    for found in map(Path, sorted(glob.glob(loc.pattern))):
        if found.is_dir():
            yield from _folder_logs(found, name_filter)
        elif _warn_if_not_a_file(found, name_filter):
            continue
        elif found.is_file() and (_is_log(found, name_filter)
                                  or (name_filter not in _KNOWN_BY_NAME_ONLY and _explicit_file(loc.pattern, found))):
            yield found


def _folder_logs(folder: Path, name_filter: re.Pattern[str]) -> list[Path]:
    """A folder's logs. A folder with no log of this kind of its own but with folders that have
    some (/srv/logs/<pbx>/queue_log: one folder per PBX) contributes theirs instead: pointing at
    the parent of the PBX folders must not read as a day without calls. A PBX folder's own
    subfolders (an `olddir` of rotated copies, `cdr-csv/`) are not read: name them. A folder
    with logs of its own and folders holding a live log is refused (LayoutError)."""
    entries = sorted(folder.iterdir())
    entries = [e for e in entries if not _warn_if_not_a_file(e, name_filter)]
    logs = [e for e in entries if e.is_file() and _is_log(e, name_filter)]
    if logs:
        # ...unless PBX folders are there too: a stray copy beside them (pbxA-backup.log) would
        # silently make the parent one PBX and leave theirs unread
        pbx_folders = [sub.name for sub in entries if sub.is_dir() and any(
            (sub / name).is_file() and _is_log(sub / name, name_filter) for name in ACTIVE_NAMES)]
        if pbx_folders:
            raise LayoutError(
                f"{folder} holds logs of its own ({', '.join(e.name for e in logs[:3])}) and folders with "
                f"live logs ({', '.join(pbx_folders[:3])}): whether it is one PBX or the parent of several "
                "is ambiguous. Name the places (NAME=path, one per PBX), or move the files out.")
        return logs
    return [f for sub in entries if sub.is_dir() for f in sorted(sub.iterdir())
            if not _warn_if_not_a_file(f, name_filter) and f.is_file() and _is_log(f, name_filter)]


def _warn_if_not_a_file(path: Path, name_filter: re.Pattern[str]) -> bool:
    """Whether `path` has a log's name but is no file to read: a link to nothing (the file server
    it points into not mounted) or a named pipe, socket or device (never opened: reading a pipe
    waits for a writer). Left out with a warning naming it, instead of silently: a live log that
    is a broken link would otherwise read as a PBX without calls."""
    if not name_filter.match(path.name) or path.is_file() or path.is_dir():
        return False
    if path.is_symlink():
        why = (f"it is a link to {os.readlink(path)}, which does not exist (a file server not mounted?)"
               if not _in_a_link_loop(path) else "it is a link in a loop of links")
    elif path.exists():
        why = "it is not a regular file (a named pipe, socket or device)"
    else:
        return False  # gone since the folder was listed (rotated away)
    if not _LISTING_QUIETLY.get():
        log.warning("%s is not read: %s", path, why)
    return True


# A run lists its places twice (to read them, and to find those with nothing to read: empty_locations):
# what the listing leaves out is said once, by the listing that reads.
_LISTING_QUIETLY = contextvars.ContextVar("listing_quietly", default=False)


def _in_a_link_loop(path: Path) -> bool:
    try:
        path.resolve(strict=True)
    except RuntimeError:  # Python's "Symlink loop"
        return True
    except OSError as error:
        return error.errno == errno.ELOOP
    return False


def _explicit_file(pattern: str, path: Path) -> bool:
    """A log file named explicitly (not through a folder or glob) is taken whatever its name,
    unless it is a table export (.sql/.csv), which has a reader of its own (and takes only files
    named like one: `_KNOWN_BY_NAME_ONLY`)."""
    exported = re.search(r"\.(?:sql|csv)(?:\.gz)?$", path.name, re.I) is not None
    return Path(pattern) == path and not glob.has_magic(pattern) and not exported
