"""Loading and indexing a simulator output folder for serving (layout: simulator/README.md).

The Webex CDR files can hold a million records, so they are indexed once and never
re-serialized: each record's raw JSON bytes stay in the (memory-mapped) file, the index keeps
where they are plus the few times the API filters on, and a page body is the records' bytes
joined. Everything else is small and loaded as Python objects.
"""

from __future__ import annotations

import json
import mmap
import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import orjson

NOT_A_TIME = np.iinfo(np.int64).min  # epoch-ms sentinel for "" / "NA" times

_START_TIME = re.compile(rb'"start time"\s*:\s*"([^"]*)"', re.IGNORECASE)
_LOCATION = re.compile(rb'"location"\s*:\s*"((?:[^"\\]|\\.)*)"', re.IGNORECASE)
_INSERTED_AT = re.compile(rb'\{\s*"inserted_at"\s*:\s*"([^"]*)"\s*,\s*"record"\s*:\s*')


_START_TIME_KEYS = (b'"Start time":"', b'"Start time": "')
_REPORT_TIME = re.compile(rb'"report time"\s*:\s*"([^"]*)"', re.IGNORECASE)
_REPORT_TIME_KEYS = (b'"Report time":"', b'"Report time": "')
_LOCATION_KEYS = (b'"Location":"', b'"Location": "')


def _string_field(buffer, begin: int, end: int, exact_keys: tuple[bytes, ...], pattern: re.Pattern) -> bytes:
    """The raw (still JSON-escaped) string value of a key within buffer[begin:end]: a bounded
    `find` for the usual spellings (no copy of the record), the case-insensitive regex only for
    other spellings or values with escaped quotes."""
    for key in exact_keys:
        at = buffer.find(key, begin, end)
        if at >= 0:
            value_begin = at + len(key)
            value_end = buffer.find(b'"', value_begin, end)
            if value_end > 0 and buffer[value_end - 1] != 0x5C:  # not an escaped quote
                return bytes(buffer[value_begin:value_end])
            break
    match = pattern.search(buffer, begin, end)
    return bytes(match.group(1)) if match else b""


def iso_strings_to_epoch_ms(values: list[bytes] | list[str]) -> np.ndarray:
    """Epoch ms of ISO-8601 UTC strings (`…Z`, `T` or space, any fraction); NOT_A_TIME for
    blanks and non-times. The usual `YYYY-MM-DDTHH:MM:SS.mmmZ` (or blank) is converted by numpy
    in one go; anything else goes through the lenient parser one by one."""
    from simulator.sandbox.rules import parse_lenient_iso

    encoded = [v.encode() if isinstance(v, str) else v for v in values]
    lengths = np.fromiter(map(len, encoded), dtype=np.int64, count=len(encoded))
    fixed = np.array(encoded, dtype="S24") if len(encoded) else np.zeros(0, dtype="S24")
    zulu = fixed.view(np.uint8).reshape(-1, 24)[:, 23] == ord("Z")
    if np.all((lengths == 0) | ((lengths == 24) & zulu)):
        try:
            # dropping the 24th byte (`Z`) leaves what numpy parses as a UTC time
            parsed = fixed.astype("S23").astype("datetime64[ms]").astype(np.int64)
        except ValueError:
            parsed = None
        if parsed is not None:
            parsed[parsed == np.datetime64("NaT").astype(np.int64)] = NOT_A_TIME
            return parsed
    slow = [parse_lenient_iso(v.decode(errors="replace")) for v in encoded]
    return np.array([NOT_A_TIME if ms is None else ms for ms in slow], dtype=np.int64)


@dataclass
class CdrIndex:
    """Where each CDR's raw bytes are and the times/location the CDR API filters on."""

    buffers: list  # mmap objects (one per file) + one bytes buffer for re-serialized oddities
    buffer_of: np.ndarray  # int32, per record
    begin: np.ndarray  # int64 byte offsets of the record object within its buffer
    end: np.ndarray
    start_ms: np.ndarray  # `Start time` (cdr_feed filter by default), NOT_A_TIME when blank
    report_ms: np.ndarray  # `Report time` (the other candidate cdr_feed filter)
    inserted_ms: np.ndarray  # `inserted_at` (cdr_stream filter)
    location_code: np.ndarray  # int32 code of the `Location` name
    location_names: list[str]
    by_start: np.ndarray = field(init=False)  # record numbers sorted by start time (blank ones left out)
    by_inserted: np.ndarray = field(init=False)

    def __post_init__(self):
        self._orders: dict[str, tuple[np.ndarray, np.ndarray]] = {}
        self.by_start = self._order("start")[0]
        self.by_inserted = self._order("inserted")[0]
        self._code_of = {name: code for code, name in enumerate(self.location_names)}
        self._views = [memoryview(buffer) for buffer in self.buffers]

    def __len__(self) -> int:
        return len(self.begin)

    def _order(self, column: str) -> tuple[np.ndarray, np.ndarray]:
        """(record numbers sorted by the column's time, those times); blank times left out.
        Sorted on first use: the `report` column only when a sandbox filters on it."""
        if column not in self._orders:
            values = {"start": self.start_ms, "report": self.report_ms, "inserted": self.inserted_ms}[column]
            known = np.flatnonzero(values != NOT_A_TIME)
            order = known[np.argsort(values[known], kind="stable")]
            self._orders[column] = (order, values[order])
        return self._orders[column]

    def select(self, column: str, start_ms: int, end_ms: int, locations: list[str] | None = None,
               inserted_by_ms: int | None = None):
        """(record numbers, their times) with start_ms ≤ time < end_ms in time order;
        `column` is "start", "report" or "inserted". `inserted_by_ms`: only records Webex has
        by then (a record is served from its `inserted_at` on, whatever it is filtered by)."""
        order, times = self._order(column)
        lo, hi = np.searchsorted(times, [start_ms, end_ms], side="left")
        rows, row_times = order[lo:hi], times[lo:hi]
        if inserted_by_ms is not None:
            there = self.inserted_ms[rows] <= inserted_by_ms
            rows, row_times = rows[there], row_times[there]
        if locations:
            codes = [self._code_of[name] for name in locations if name in self._code_of]
            keep = np.isin(self.location_code[rows], codes)
            rows, row_times = rows[keep], row_times[keep]
        return rows, row_times

    def body(self, rows: np.ndarray) -> bytes:
        """`{"items":[...]}` from the records' own bytes: memoryview slices (no copy) joined
        once, so a 5000-record page costs one pass over its ~13 MB."""
        if not len(rows):
            return b'{"items":[]}'
        views = self._views
        parts = [views[b][s:e] for b, s, e in zip(self.buffer_of[rows].tolist(), self.begin[rows].tolist(),
                                                  self.end[rows].tolist(), strict=True)]
        parts[0] = b'{"items":[' + bytes(parts[0])
        parts[-1] = bytes(parts[-1]) + b"]}"
        return b",".join(parts)

    def close(self) -> None:
        for view in self._views:
            view.release()  # an mmap cannot close while views of it exist
        self._views = []
        for buffer in self.buffers:
            if isinstance(buffer, mmap.mmap):
                buffer.close()


def index_cdr_files(paths: list[Path]) -> CdrIndex:
    buffers: list = []
    buffer_of: list[int] = []
    begins: list[int] = []
    ends: list[int] = []
    start_texts: list[bytes] = []
    report_texts: list[bytes] = []
    inserted_texts: list[bytes] = []
    location_texts: list[bytes] = []
    reserialized = bytearray()
    reserialized_number = len(paths)  # index of the side buffer, after the files' mmaps

    for number, path in enumerate(paths):
        with open(path, "rb") as handle:
            if path.stat().st_size == 0:
                buffers.append(b"")
                continue
            mapped = mmap.mmap(handle.fileno(), 0, access=mmap.ACCESS_READ)
        buffers.append(mapped)
        offset = 0
        size = len(mapped)
        while offset < size:
            newline = mapped.find(b"\n", offset)
            line_end = size if newline < 0 else newline
            last = line_end - 1  # the line's last non-blank byte
            while last >= offset and mapped[last] in b" \t\r":
                last -= 1
            if last >= offset:
                head = _INSERTED_AT.match(mapped, offset, line_end)
                if head and mapped[last] == 0x7D:  # "}"
                    # The contract's layout: the record runs from after `"record":` to before the
                    # wrapper's closing brace, so its bytes can be served as they are.
                    inserted = head.group(1)  # match() anchors at `offset`: no `^` needed
                    record_begin, record_end = head.end(), last
                    while mapped[record_end - 1] in b" \t\r":
                        record_end -= 1
                    buffer, number_of_buffer = mapped, number
                else:
                    # Any other key order: parse once and keep a compact copy of the record.
                    wrapper = orjson.loads(mapped[offset:line_end])
                    inserted = str(wrapper.get("inserted_at", "")).encode()
                    record_begin = len(reserialized)
                    reserialized += orjson.dumps(wrapper["record"])
                    record_end = len(reserialized)
                    buffer, number_of_buffer = reserialized, reserialized_number
                buffer_of.append(number_of_buffer)
                begins.append(record_begin)
                ends.append(record_end)
                inserted_texts.append(bytes(inserted))
                start_texts.append(_string_field(buffer, record_begin, record_end, _START_TIME_KEYS, _START_TIME))
                report_texts.append(_string_field(buffer, record_begin, record_end, _REPORT_TIME_KEYS,
                                                  _REPORT_TIME))
                location_texts.append(_string_field(buffer, record_begin, record_end, _LOCATION_KEYS, _LOCATION))
            offset = line_end + 1

    buffers.append(bytes(reserialized))
    names: dict[bytes, int] = {}
    codes = np.fromiter((names.setdefault(text, len(names)) for text in location_texts), dtype=np.int32,
                        count=len(location_texts))
    location_names = [json.loads(b'"' + text + b'"') for text in names]
    return CdrIndex(
        buffers=buffers,
        buffer_of=np.array(buffer_of, dtype=np.int32),
        begin=np.array(begins, dtype=np.int64),
        end=np.array(ends, dtype=np.int64),
        start_ms=iso_strings_to_epoch_ms(start_texts),
        report_ms=iso_strings_to_epoch_ms(report_texts),
        inserted_ms=iso_strings_to_epoch_ms(inserted_texts),
        location_code=codes,
        location_names=location_names,
    )


def _read_json_items(path: Path) -> list[dict]:
    """A JSON file holding either a list or a `{"items": [...]}` page."""
    if not path.exists():
        return []
    document = orjson.loads(path.read_bytes())
    return document["items"] if isinstance(document, dict) else list(document)


def _read_jsonl(path: Path) -> list[dict]:
    if not path.exists():
        return []
    with open(path, "rb") as handle:
        return [orjson.loads(line) for line in handle if line.strip()]


@dataclass
class SandboxData:
    root: Path
    manifest: dict
    cdr: CdrIndex
    people: list[dict]
    locations: list[dict]
    recordings: list[dict]
    recording_files: Path
    conversations: list[dict]
    conversation_audio: Path
    messages: list[dict]

    def close(self) -> None:
        self.cdr.close()


def load_sandbox_data(root: str | Path) -> SandboxData:
    root = Path(root)
    if not root.is_dir():
        raise ValueError(f"sandbox data folder {root} does not exist")
    manifest_path = root / "manifest.json"
    return SandboxData(
        root=root,
        manifest=orjson.loads(manifest_path.read_bytes()) if manifest_path.exists() else {},
        cdr=index_cdr_files(sorted((root / "webex" / "cdr").glob("*.jsonl"))),
        people=_read_json_items(root / "webex" / "people.json"),
        locations=_read_json_items(root / "webex" / "locations.json"),
        recordings=_read_jsonl(root / "webex" / "recordings" / "recordings.jsonl"),
        recording_files=root / "webex" / "recordings" / "files",
        conversations=_read_jsonl(root / "elevenlabs" / "conversations.jsonl"),
        conversation_audio=root / "elevenlabs" / "audio",
        messages=_read_jsonl(root / "twilio" / "messages.jsonl"),
    )
