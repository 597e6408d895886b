"""Small pieces every channel renderer shares: random streams, ids, time formats, sorted JSONL.

Every object draws from its own random stream, seeded from the run's seed plus the object's
identity (e.g. the journey id), so its content does not depend on how many objects were drawn
before it: the output is the same for a seed whatever the iteration or batching.
"""

from __future__ import annotations

import heapq
import random
import string
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import IO

import orjson

_ALNUM_LOWER = string.digits + string.ascii_lowercase


def rng_for(seed: int, *purpose: object) -> random.Random:
    """An independent, reproducible stream for ``seed`` and a purpose (same rule as population)."""
    return random.Random(":".join(map(str, (seed, "channels", *purpose))))


def hex_id(rng: random.Random, n_hex: int = 32) -> str:
    return f"{rng.getrandbits(4 * n_hex):0{n_hex}x}"


def uuid4_from(rng: random.Random) -> str:
    return str(uuid.UUID(int=rng.getrandbits(128), version=4))


def alnum_id(rng: random.Random, n: int) -> str:
    """Lower-case base-36 characters, the alphabet of ElevenLabs' ids."""
    return "".join(rng.choice(_ALNUM_LOWER) for _ in range(n))


def iso_z(dt: datetime, ms: bool = True) -> str:
    """UTC ISO-8601 with a ``Z``; with milliseconds by default so strings sort as times do."""
    dt = dt.astimezone(UTC)
    # formatted by hand: strftime is the slowest step when millions of lines are written
    text = f"{dt.year:04d}-{dt.month:02d}-{dt.day:02d}T{dt.hour:02d}:{dt.minute:02d}:{dt.second:02d}"
    return f"{text}.{dt.microsecond // 1000:03d}Z" if ms else f"{text}Z"


_DAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


def rfc2822(dt: datetime) -> str:
    """Twilio's date format, ``Mon, 15 Sep 2025 15:33:10 +0000`` (English names whatever the
    locale, as ``email.utils.format_datetime`` writes them)."""
    dt = dt.astimezone(UTC)
    return (f"{_DAYS[dt.weekday()]}, {dt.day:02d} {_MONTHS[dt.month - 1]} {dt.year:04d} "
            f"{dt.hour:02d}:{dt.minute:02d}:{dt.second:02d} +0000")


def unix(dt: datetime) -> int:
    return int(dt.timestamp())


def dumps(obj: object) -> bytes:
    """Compact UTF-8 JSON (non-ASCII kept as is, as the providers send it)."""
    return orjson.dumps(obj)


class SortedJsonlWriter:
    """Writes JSON lines in the order of a time key although they are produced slightly out of
    order: lines wait in a heap until the producer promises (``advance``) that nothing earlier
    than ``watermark`` will come. Memory holds only the lines inside that lateness window.

    A line pushed earlier than an already written one breaks the file's order; that is a bug in
    the producer's promise, so it raises instead of writing an unsorted file.
    """

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self._file: IO[bytes] = path.open("wb")
        self._heap: list[tuple[float, int, bytes]] = []
        self._seq = 0
        self._last_written = float("-inf")
        self.count = 0

    def push(self, key: datetime, obj: object) -> None:
        k = key.timestamp()
        if k < self._last_written:
            raise RuntimeError(
                f"{self.path.name}: a line at {key.isoformat()} arrived after later lines were "
                "written; the journeys given to render_channels are further out of time order "
                "than the renderer's lateness window allows"
            )
        heapq.heappush(self._heap, (k, self._seq, dumps(obj)))
        self._seq += 1

    def advance(self, watermark: datetime) -> None:
        """Write every line keyed before ``watermark``."""
        w = watermark.timestamp()
        while self._heap and self._heap[0][0] < w:
            k, _, line = heapq.heappop(self._heap)
            self._file.write(line + b"\n")
            self._last_written = k
            self.count += 1

    def close(self) -> None:
        while self._heap:
            k, _, line = heapq.heappop(self._heap)
            self._file.write(line + b"\n")
            self._last_written = k
            self.count += 1
        self._file.close()
