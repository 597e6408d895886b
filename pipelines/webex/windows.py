"""Time windows for the two CDR endpoints — pure planning, no I/O (webex.md §1.3, §1.10).

cdr_feed (history/backfill): windows of at most 12 h, ending at least 5 minutes ago and starting
at most 30 days ago. Whether it filters on start or report time is undocumented, so consecutive
windows overlap a little and the load merges on Report ID.

cdr_stream (steady state): windows of at most 2 h *by insertion time*, ending at least 1 minute
ago and starting at most 12 h ago. Late records appear in later windows, so contiguous windows
lose nothing. A cursor older than the stream's 12 h retention leaves a gap that only cdr_feed can
still serve. The stream's windows go first (its data expires soonest; at one initial request a
minute, feed windows sent first would age the stream's start past its 12 h), then the feed
windows of every gap still pending, oldest first. A gap is kept (poller state) until its last
window is loaded, so a run that stops part-way resumes it.

A window is checked again just before it is sent (`still_served`): time passes while requests
wait for the shared rate budget, so its start moves past a retention limit it has crossed since
planning. What that takes off a window is lost only when nothing serves or covers it
(`carried_past`): a window planned at the limit loses the milliseconds between planning and
sending, which lie before the stream's first cursor or inside a gap cdr_feed loads; a stream part
the poller owes becomes a feed gap (cdr_feed keeps 30 days); only a feed part is really lost.
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
# Room, at the retention limits, for what passes between checking a window and the API judging it:
# the wait for the rate budget (one initial request a minute), one 429 and some clock skew.
DEFAULT_MARGIN = timedelta(minutes=3)
# Room between a window's end and the newest the endpoint allows: the API judges a window by its
# own clock, and a stream window ending too close to it could miss records inserted just before
# its end (the cursor moves past them). Practitioners poll cdr_stream up to now - 2 min (§1.10).
END_MARGIN = timedelta(minutes=1)
DEFAULT_FEED_OVERLAP = timedelta(minutes=5)
# How far before the stream cursor (an insertion time) a gap's feed windows start: cdr_feed
# filters on start (or report) time, and a record inserted after the cursor started up to a whole
# call earlier. One more 12 h window costs one request; Report ID merging drops what it repeats.
FEED_GAP_LEAD = timedelta(hours=12)


@dataclass(frozen=True)
class Window:
    endpoint: str
    start: datetime
    end: datetime

    def params(self) -> dict[str, str]:
        return {"startTime": webex_time(self.start), "endTime": webex_time(self.end)}


Gap = tuple[datetime, datetime]  # [start, end) by cdr_feed's time column, still to load


@dataclass(frozen=True)
class Plan:
    windows: tuple[Window, ...]
    # The part of the request that no endpoint can serve any more (older than 30 days) or yet
    # (younger than the endpoint's minimum age): (start, end, why).
    unavailable: tuple[tuple[datetime, datetime, str], ...] = ()
    # stream plans: the feed gaps pending once this plan's stream windows are loaded
    gaps: tuple[Gap, ...] = ()


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


def served_range(endpoint: str, now: datetime, margin: timedelta = DEFAULT_MARGIN) -> tuple[datetime, datetime]:
    """(oldest start, newest end) of a window the endpoint serves at `now`, each kept `margin` /
    END_MARGIN inside its limit."""
    rules = RULES[endpoint]
    return _floor_ms(now - rules.max_age + margin), _floor_ms(now - rules.min_age - END_MARGIN)


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


# why part of a range cannot be read from cdr_feed (Plan.unavailable's third field)
OLDER_THAN_THE_FEED = "older than cdr_feed's 30 days: load a Control Hub CSV export"
YOUNGER_THAN_THE_FEED = "younger than cdr_feed's 5 minutes: run again later"


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
    oldest, newest = served_range(FEED, now, margin)
    unavailable = []
    if since < oldest:
        unavailable.append((since, min(until, oldest), OLDER_THAN_THE_FEED))
    if until > newest:
        unavailable.append((max(since, newest), until, YOUNGER_THAN_THE_FEED))
    start, end = max(since, oldest), min(until, newest)
    windows = split(FEED, start, end, overlap=overlap) if start < end else []
    return Plan(tuple(windows), tuple(unavailable))


def plan_stream(
    cursor: datetime | None,
    now: datetime,
    *,
    gaps: tuple[Gap, ...] = (),
    margin: timedelta = DEFAULT_MARGIN,
    feed_overlap: timedelta = DEFAULT_FEED_OVERLAP,
) -> Plan:
    """Windows from `cursor` (end of the last loaded stream window) up to what cdr_stream serves,
    then cdr_feed windows for each gap in `gaps` (pending from earlier runs) and the new one.

    No cursor: start as far back as the stream keeps data. A cursor older than the stream's
    retention opens a gap: from FEED_GAP_LEAD before the cursor to where the stream takes over.
    """
    now = _utc(now)
    stream_oldest, newest = served_range(STREAM, now, margin)
    cursor = stream_oldest if cursor is None else _utc(cursor)
    pending = [(_utc(start), _utc(end)) for start, end in gaps]
    if cursor < stream_oldest:
        pending.append((cursor - FEED_GAP_LEAD, stream_oldest + feed_overlap))
        cursor = stream_oldest
    windows = split(STREAM, cursor, newest) if cursor < newest else []
    unavailable: list[tuple[datetime, datetime, str]] = []
    kept: list[Gap] = []
    for start, end in _merged(pending):
        gap = plan_feed(start, end, now, overlap=feed_overlap, margin=margin)
        windows.extend(gap.windows)
        unavailable.extend(w for w in gap.unavailable if w[2] == OLDER_THAN_THE_FEED)
        if gap.windows:
            kept.append((gap.windows[0].start, end))
    return Plan(tuple(windows), tuple(unavailable), tuple(kept))


def _merged(gaps: list[Gap]) -> list[Gap]:
    """Overlapping gaps as one (a window then lies in one gap only)."""
    out: list[Gap] = []
    for start, end in sorted(gaps):
        if out and start <= out[-1][1]:
            out[-1] = (out[-1][0], max(out[-1][1], end))
        else:
            out.append((start, end))
    return out


def gaps_after(gaps: tuple[Gap, ...], done: Window, overlap: timedelta = DEFAULT_FEED_OVERLAP) -> tuple[Gap, ...]:
    """The gaps still to load once the feed window `done` is: its gap now starts where the next
    window would (`overlap` before its end), or is gone when the window reached its end."""
    out = []
    for start, end in gaps:
        if done.endpoint == FEED and start <= done.start < end:
            start = end if done.end >= end else done.end - overlap
        if start < end:
            out.append((start, end))
    return tuple(out)


def still_served(window: Window, now: datetime, margin: timedelta = DEFAULT_MARGIN) -> Window | None:
    """The window as its endpoint serves it at `now`: its start moved past the retention limit
    (less `margin`) when time has carried it beyond; None when none of it is left."""
    oldest, _ = served_range(window.endpoint, _utc(now), margin)
    if window.start >= oldest:
        return window
    if window.end <= oldest:
        return None
    return Window(window.endpoint, oldest, window.end)


def not_too_recent(window: Window, now: datetime) -> Window | None:
    """The window with its end moved back to the newest its endpoint serves at `now` (the API's
    clock, which may run behind ours); None when all of it is still too recent."""
    _, newest = served_range(window.endpoint, _utc(now))
    if window.end <= newest:
        return window
    if window.start >= newest:
        return None
    return Window(window.endpoint, window.start, newest)


def carried_past(
    planned: Window,
    sent: Window | None,
    *,
    owed_from: datetime | None,
    gaps: tuple[Gap, ...] = (),
    feed_overlap: timedelta = DEFAULT_FEED_OVERLAP,
) -> tuple[tuple[datetime, datetime] | None, Gap | None]:
    """What `still_served` took off `planned` (`sent`: the window as sent, None when dropped), as
    (lost, gap): `lost` no endpoint serves any more and nothing loaded covers (report it); `gap`
    cdr_feed still serves (load it as a feed gap).

    A cdr_stream part counts only from `owed_from` (the stream cursor the windows continue; None
    while there is none: a first poll starts where its first window is sent, and what lies before
    is not the poll's to load), and not inside a pending feed gap that covers its insertion times
    (from FEED_GAP_LEAD before them, as plan_stream opens gaps). cdr_feed keeps 30 days, so the rest
    of a stream part is a gap, not a loss. A cdr_feed part is lost: no endpoint keeps longer."""
    start, end = planned.start, sent.start if sent is not None else planned.end
    if planned.endpoint == FEED:
        return ((start, end) if start < end else None), None
    if owed_from is None:
        return None, None
    start = max(start, _utc(owed_from))
    if start >= end:
        return None, None
    if any(gap_start + FEED_GAP_LEAD <= start and end <= gap_end for gap_start, gap_end in gaps):
        return None, None
    return None, (start - FEED_GAP_LEAD, end + feed_overlap)


def with_gaps(gaps: tuple[Gap, ...], more: list[Gap] | tuple[Gap, ...]) -> tuple[Gap, ...]:
    """`gaps` and `more` as one set of gaps, overlapping ones merged."""
    return tuple(_merged([*gaps, *more]))
