"""Time, clock and rate-limit rules shared by the sandbox providers (pure logic, no HTTP).

The sandbox keeps *real wall-clock "now"* for every window rule (the simulator writes data that
ends shortly before now, and a window rule such as "at least 5 minutes old" is about the data),
but a *time scale* shortens durations: with `time_scale=60` a rate-limit "minute" lasts one real
second, a 14-day token lives 14 × 24 real minutes and a 3-hour download link 3 real minutes.
"""

from __future__ import annotations

import math
import re
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from datetime import UTC, datetime


class Clock:
    """Wall-clock time plus a time scale that shortens provider durations."""

    def __init__(self, time_scale: float = 1.0):
        if time_scale <= 0:
            raise ValueError(f"time scale must be > 0, got {time_scale}")
        self.time_scale = float(time_scale)
        # set by a test to replay a poller's past: the API's "now" that long before (or after) ours
        self.offset_seconds = 0.0

    def now(self) -> float:
        """Wall-clock time (epoch seconds) plus the offset; window rules use it unscaled."""
        return time.time() + self.offset_seconds

    def monotonic(self) -> float:
        return time.monotonic()

    def real_seconds(self, provider_seconds: float) -> float:
        """How long a provider duration (e.g. "60 s of rate-limit budget") lasts here."""
        return provider_seconds / self.time_scale


# ---------------------------------------------------------------------------------------------
# Webex ISO times: `YYYY-MM-DDTHH:MM:SS.mmmZ`, UTC, milliseconds mandatory on the CDR API.

WEBEX_TIME_PATTERN = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$")


def parse_webex_time(text: str) -> int:
    """Epoch milliseconds of a strict CDR-API time; ValueError names the expected format."""
    if not WEBEX_TIME_PATTERN.match(text or ""):
        raise ValueError(f"{text!r} is not in the format YYYY-MM-DDTHH:MM:SS.mmmZ")
    moment = datetime.strptime(text, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=UTC)
    return round(moment.timestamp() * 1000)


def format_webex_time(epoch_ms: int) -> str:
    moment = datetime.fromtimestamp(epoch_ms / 1000, tz=UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{epoch_ms % 1000:03d}Z"


def parse_lenient_iso(text: str) -> int | None:
    """Epoch ms of an ISO-8601 time as data files hold them (`Z` or offset, optional fraction,
    `T` or space); None for "" / "NA" and other non-times. Naive times are taken as UTC."""
    text = (text or "").strip()
    if not text or text.upper() in ("NA", "N/A"):
        return None
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return round(moment.timestamp() * 1000)


# ---------------------------------------------------------------------------------------------
# CDR window rules (webex.md §1.3). Each returns the 400 message, or None when the window is fine.

MINUTE_MS = 60_000
HOUR_MS = 60 * MINUTE_MS
DAY_MS = 24 * HOUR_MS


@dataclass(frozen=True)
class WindowRules:
    name: str
    max_span_ms: int  # at most this between startTime and endTime
    min_end_age_ms: int  # endTime at least this far in the past
    max_start_age_ms: int  # startTime not older than this


CDR_FEED_RULES = WindowRules("cdr_feed", max_span_ms=12 * HOUR_MS, min_end_age_ms=5 * MINUTE_MS,
                             max_start_age_ms=30 * DAY_MS)
CDR_STREAM_RULES = WindowRules("cdr_stream", max_span_ms=2 * HOUR_MS, min_end_age_ms=1 * MINUTE_MS,
                               max_start_age_ms=12 * HOUR_MS)


def check_window(rules: WindowRules, start_ms: int, end_ms: int, now_ms: int) -> str | None:
    if end_ms <= start_ms:
        return "endTime must be after startTime"
    if end_ms - start_ms > rules.max_span_ms:
        return (f"The time range between startTime and endTime must not exceed "
                f"{rules.max_span_ms // HOUR_MS} hours")
    if end_ms > now_ms - rules.min_end_age_ms:
        return f"endTime must be at least {rules.min_end_age_ms // MINUTE_MS} minute(s) in the past"
    if start_ms < now_ms - rules.max_start_age_ms:
        age = (f"{rules.max_start_age_ms // DAY_MS} days" if rules.max_start_age_ms >= DAY_MS
               else f"{rules.max_start_age_ms // HOUR_MS} hours")
        return f"startTime must not be older than {age}"
    return None


def clamp(value: int, low: int, high: int) -> int:
    return max(low, min(high, value))


# ---------------------------------------------------------------------------------------------
# Rate limiting: sliding window per (key, kind) over a scaled "minute".

@dataclass
class RateDecision:
    allowed: bool
    retry_after_seconds: float = 0.0  # real seconds until the budget allows one more request

    @property
    def retry_after_header(self) -> str:
        """HTTP Retry-After is whole seconds; never 0, so a client that honours it always waits."""
        return str(max(1, math.ceil(self.retry_after_seconds)))


@dataclass
class SlidingWindowLimiter:
    """At most `budget[kind]` accepted requests per key within any `window_seconds` (real) span.

    Sliding rather than fixed windows: a client cannot burst 2× the budget across a boundary,
    which is the stricter reading of "N requests per minute"."""

    budget: dict[str, int]
    window_seconds: float
    clock: callable = time.monotonic
    enabled: bool = True
    _accepted: dict = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def check(self, key: str, kind: str) -> RateDecision:
        if not self.enabled:
            return RateDecision(True)
        now = self.clock()
        with self._lock:
            times = self._accepted.setdefault((key, kind), deque())
            while times and times[0] <= now - self.window_seconds:
                times.popleft()
            if len(times) < self.budget[kind]:
                times.append(now)
                return RateDecision(True)
            return RateDecision(False, retry_after_seconds=times[0] + self.window_seconds - now)

    def reset(self) -> None:
        with self._lock:
            self._accepted.clear()
