"""Time windows for the two CDR endpoints — pure planning, no I/O (webex.md §1.3, §1.10).

cdr_feed (history/backfill): windows of at most 12 h, ending at least 5 minutes ago and starting
at most 30 days ago. Whether it filters on start or report time is undocumented, so consecutive
windows overlap a little and the load merges on Report ID.

cdr_stream (steady state): windows of at most 2 h *by insertion time*, ending at least 1 minute
ago and starting at most 12 h ago. Late records appear in later windows, so contiguous windows
lose nothing. A cursor older than the stream's 12 h retention leaves a gap that only cdr_feed can
still serve: the plan starts with feed windows for it.

Every plan keeps a safety margin from each limit, because requests wait for the shared rate
budget between planning and sending.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

FEED = "cdr_feed"
STREAM = "cdr_stream"


@dataclass(frozen=True)
class EndpointRules:
    max_span: timedelta
    min_age: timedelta  # the window must end at least this long ago
    max_age: timedelta  # and start no earlier than this long ago


RULES = {
    FEED: EndpointRules(max_span=timedelta(hours=12), min_age=timedelta(minutes=5), max_age=timedelta(days=30)),
    STREAM: EndpointRules(max_span=timedelta(hours=2), min_age=timedelta(minutes=1), max_age=timedelta(hours=12)),
}
# Room for time passing while a request waits for the rate budget (up to a few "minutes").
DEFAULT_MARGIN = timedelta(minutes=10)
# Room between a window's end and the newest the endpoint allows: the API judges a window by its
# own clock, and a stream window ending too close to it could miss records inserted just before
# its end (the cursor moves past them). Practitioners poll cdr_stream up to now - 2 min (§1.10).
END_MARGIN = timedelta(minutes=1)
DEFAULT_FEED_OVERLAP = timedelta(minutes=5)


@dataclass(frozen=True)
class Window:
    endpoint: str
    start: datetime
    end: datetime

    def params(self) -> dict[str, str]:
        return {"startTime": webex_time(self.start), "endTime": webex_time(self.end)}


@dataclass(frozen=True)
class Plan:
    windows: tuple[Window, ...]
    # The part of the request that no endpoint can serve any more (older than 30 days) or yet
    # (younger than the endpoint's minimum age): (start, end, why).
    unavailable: tuple[tuple[datetime, datetime, str], ...] = ()


def webex_time(moment: datetime) -> str:
    """`YYYY-MM-DDTHH:MM:SS.mmmZ`, the only format the CDR endpoints accept."""
    utc = moment.astimezone(UTC)
    return utc.strftime("%Y-%m-%dT%H:%M:%S.") + f"{utc.microsecond // 1000:03d}Z"


def _utc(moment: datetime) -> datetime:
    if moment.tzinfo is None:
        raise ValueError(f"naive datetime {moment!r}: CDR windows need time-zone-aware times")
    return moment.astimezone(UTC)


def _floor_ms(moment: datetime) -> datetime:
    return moment.replace(microsecond=moment.microsecond // 1000 * 1000)


def split(endpoint: str, start: datetime, end: datetime, *, overlap: timedelta = timedelta(0)) -> list[Window]:
    """[start, end) in windows of the endpoint's maximum span; each after the first starts
    `overlap` before the previous one ended."""
    span = RULES[endpoint].max_span
    if overlap >= span:
        raise ValueError("overlap must be shorter than the window span")
    out: list[Window] = []
    cursor = start
    while cursor < end:
        window_start = cursor - overlap if out else cursor
        window_end = min(window_start + span, end)
        out.append(Window(endpoint, window_start, window_end))
        cursor = window_end
    return out


def plan_feed(
    since: datetime,
    until: datetime,
    now: datetime,
    *,
    overlap: timedelta = DEFAULT_FEED_OVERLAP,
    margin: timedelta = DEFAULT_MARGIN,
) -> Plan:
    """cdr_feed windows covering [since, until), clipped to what the endpoint serves at `now`."""
    since, until, now = _utc(since), _utc(until), _utc(now)
    if until <= since:
        raise ValueError(f"--until ({until.isoformat()}) must be after --since ({since.isoformat()})")
    rules = RULES[FEED]
    oldest = _floor_ms(now - rules.max_age + margin)
    newest = _floor_ms(now - rules.min_age - END_MARGIN)
    unavailable = []
    if since < oldest:
        unavailable.append((since, min(until, oldest), "older than cdr_feed's 30 days: load a Control Hub CSV export"))
    if until > newest:
        unavailable.append((max(since, newest), until, "younger than cdr_feed's 5 minutes: run again later"))
    start, end = max(since, oldest), min(until, newest)
    windows = split(FEED, start, end, overlap=overlap) if start < end else []
    return Plan(tuple(windows), tuple(unavailable))


def plan_stream(
    cursor: datetime | None,
    now: datetime,
    *,
    margin: timedelta = DEFAULT_MARGIN,
    feed_overlap: timedelta = DEFAULT_FEED_OVERLAP,
) -> Plan:
    """Windows from `cursor` (end of the last loaded stream window) up to what cdr_stream serves.

    No cursor: start as far back as the stream keeps data. A cursor older than the stream's
    retention: feed windows for the gap first (by the feed's own time column, with overlap),
    then stream windows from the oldest insertion time the stream still serves.
    """
    now = _utc(now)
    rules = RULES[STREAM]
    stream_oldest = _floor_ms(now - rules.max_age + margin)
    newest = _floor_ms(now - rules.min_age - END_MARGIN)
    cursor = stream_oldest if cursor is None else _utc(cursor)
    windows: list[Window] = []
    unavailable: list[tuple[datetime, datetime, str]] = []
    if cursor < stream_oldest:
        gap = plan_feed(cursor - feed_overlap, stream_oldest, now, overlap=feed_overlap, margin=margin)
        windows.extend(gap.windows)
        unavailable.extend(w for w in gap.unavailable if w[0] < stream_oldest and "older" in w[2])
        cursor = stream_oldest
    if cursor < newest:
        windows.extend(split(STREAM, cursor, newest))
    return Plan(tuple(windows), tuple(unavailable))


def days(since: datetime, until: datetime) -> list[tuple[datetime, datetime]]:
    """UTC day boundaries covering [since, until) (the partitioned backfill's unit)."""
    since, until = _utc(since), _utc(until)
    day = since.replace(hour=0, minute=0, second=0, microsecond=0)
    out = []
    while day < until:
        nxt = day + timedelta(days=1)
        out.append((max(day, since), min(nxt, until)))
        day = nxt
    return out
