"""Window planning for cdr_feed backfills and cdr_stream polling (pure)."""

from datetime import UTC, datetime, timedelta

import pytest

from pipelines.webex.windows import (
    DEFAULT_FEED_OVERLAP,
    DEFAULT_MARGIN,
    END_MARGIN,
    FEED,
    FEED_GAP_LEAD,
    RULES,
    STREAM,
    Window,
    gaps_after,
    not_too_recent,
    plan_feed,
    plan_stream,
    split,
    still_served,
    webex_time,
)

NOW = datetime(2026, 11, 30, 12, 0, 0, tzinfo=UTC)
H = timedelta(hours=1)


def assert_valid(windows, now):
    for w in windows:
        rules = RULES[w.endpoint]
        assert w.start < w.end
        assert w.end - w.start <= rules.max_span
        assert w.end <= now - rules.min_age
        assert w.start >= now - rules.max_age
        assert w.start.microsecond % 1000 == 0 and w.end.microsecond % 1000 == 0


def test_webex_time_format():
    assert webex_time(datetime(2026, 3, 10, 14, 0, 0, 123456, tzinfo=UTC)) == "2026-03-10T14:00:00.123Z"
    est = datetime(2026, 3, 10, 9, 0, tzinfo=UTC).astimezone(__import__("zoneinfo").ZoneInfo("America/Bogota"))
    assert webex_time(est) == "2026-03-10T09:00:00.000Z"


def test_feed_backfill_of_three_days_is_overlapping_12h_windows_that_cover_everything():
    since, until = NOW - 3 * 24 * H, NOW - 24 * H
    plan = plan_feed(since, until, NOW, overlap=timedelta(minutes=5))
    assert_valid(plan.windows, NOW)
    assert plan.unavailable == ()
    assert plan.windows[0].start == since and plan.windows[-1].end == until
    for a, b in zip(plan.windows, plan.windows[1:], strict=False):
        assert b.start == a.end - timedelta(minutes=5)  # slight overlap, no gap
    assert len(plan.windows) == 5  # 48 h in 12 h spans, overlap pushes one more


def test_feed_clips_to_30_days_and_5_minutes_and_says_what_is_missing():
    plan = plan_feed(NOW - 40 * 24 * H, NOW, NOW)
    assert_valid(plan.windows, NOW)
    reasons = [u[2] for u in plan.unavailable]
    assert any("30 days" in r and "Control Hub" in r for r in reasons)
    assert any("5 minutes" in r for r in reasons)
    assert plan.windows[0].start > NOW - 30 * 24 * H
    assert plan.windows[-1].end <= NOW - timedelta(minutes=5)


def test_feed_rejects_inverted_range_and_naive_times():
    with pytest.raises(ValueError, match="must be after"):
        plan_feed(NOW, NOW - H, NOW)
    with pytest.raises(ValueError, match="naive"):
        plan_feed(datetime(2026, 1, 1), NOW, NOW)


def test_feed_range_entirely_too_recent_gives_no_window():
    plan = plan_feed(NOW - timedelta(minutes=3), NOW, NOW)
    assert plan.windows == () and len(plan.unavailable) == 1


def test_stream_from_cursor_is_contiguous_2h_windows_by_insertion_time():
    cursor = NOW - 5 * H
    plan = plan_stream(cursor, NOW)
    assert_valid(plan.windows, NOW)
    assert all(w.endpoint == STREAM for w in plan.windows)
    assert plan.windows[0].start == cursor
    for a, b in zip(plan.windows, plan.windows[1:], strict=False):
        assert b.start == a.end  # contiguous: late records land in later windows
    # up to the newest the stream serves, less a margin for clock skew: now - 2 min, as practitioners poll
    assert plan.windows[-1].end == NOW - RULES[STREAM].min_age - END_MARGIN == NOW - timedelta(minutes=2)


def test_stream_without_cursor_starts_within_retention():
    plan = plan_stream(None, NOW)
    assert_valid(plan.windows, NOW)
    assert NOW - plan.windows[0].start <= timedelta(hours=12)


def test_stream_cursor_older_than_12h_loads_the_stream_first_then_the_gap_from_the_feed():
    cursor = NOW - 30 * H
    plan = plan_stream(cursor, NOW)
    assert_valid(plan.windows, NOW)
    feed = [w for w in plan.windows if w.endpoint == FEED]
    stream = [w for w in plan.windows if w.endpoint == STREAM]
    assert feed and stream
    # the stream's data expires first: at one initial request a minute, feed windows sent before
    # it would carry its start past the 12 h it keeps
    assert plan.windows[:len(stream)] == tuple(stream)
    assert stream[0].start == NOW - RULES[STREAM].max_age + DEFAULT_MARGIN
    # the feed filters on start (or report) time, the cursor is an insertion time: a call that
    # started long before it was inserted after it, so the gap starts a lead before the cursor...
    assert feed[0].start == cursor - FEED_GAP_LEAD
    # ...and reaches past where the stream takes over
    assert feed[-1].end == stream[0].start + DEFAULT_FEED_OVERLAP
    assert plan.gaps == ((feed[0].start, feed[-1].end),)


def test_a_gap_is_kept_until_its_last_feed_window_is_loaded():
    plan = plan_stream(NOW - 5 * 24 * H, NOW)
    feed = [w for w in plan.windows if w.endpoint == FEED]
    gaps = plan.gaps
    for done in feed[:-1]:
        gaps = gaps_after(gaps, done)
        (start, end), = gaps
        assert start == done.end - DEFAULT_FEED_OVERLAP and end == plan.gaps[0][1]
    # a later run resumes the gap where the last whole window left it
    resumed = plan_stream(NOW - 5 * H, NOW + timedelta(minutes=5), gaps=gaps)
    assert [w for w in resumed.windows if w.endpoint == FEED] == [
        Window(FEED, gaps[0][0], plan.gaps[0][1])]
    assert gaps_after(gaps, feed[-1]) == ()
    # stream windows do not touch the gaps
    assert gaps_after(plan.gaps, plan.windows[0]) == plan.gaps


def test_gaps_of_two_outages_overlapping_are_loaded_once_and_a_gap_past_30_days_is_reported():
    pending = ((NOW - 40 * 24 * H, NOW - 35 * 24 * H), (NOW - 3 * 24 * H, NOW - 2 * 24 * H))
    plan = plan_stream(NOW - 50 * H, NOW, gaps=pending)
    assert_valid(plan.windows, NOW)
    assert any("30 days" in why for _, _, why in plan.unavailable)
    # the 3-day-old gap and the new one (from 50 h + lead back) overlap: one gap, one pass
    assert plan.gaps == ((NOW - 3 * 24 * H, NOW - RULES[STREAM].max_age + DEFAULT_MARGIN + DEFAULT_FEED_OVERLAP),)
    feed = [w for w in plan.windows if w.endpoint == FEED]
    for a, b in zip(feed, feed[1:], strict=False):
        assert b.start == a.end - DEFAULT_FEED_OVERLAP


def test_a_window_that_aged_past_retention_before_it_was_sent_is_moved_or_dropped():
    window = Window(STREAM, NOW - 12 * H + DEFAULT_MARGIN, NOW - 10 * H)
    assert still_served(window, NOW) == window
    later = NOW + timedelta(minutes=10)
    moved = still_served(window, later)
    assert moved == Window(STREAM, later - 12 * H + DEFAULT_MARGIN, window.end)
    assert still_served(window, NOW + 3 * H) is None


def test_a_window_too_recent_by_the_apis_clock_is_cut_at_its_end_or_left_out():
    window = Window(STREAM, NOW - 2 * H, NOW - RULES[STREAM].min_age - END_MARGIN)
    assert not_too_recent(window, NOW) == window
    api_now = NOW - timedelta(minutes=5)  # the API's clock, five minutes behind ours
    newest = api_now - RULES[STREAM].min_age - END_MARGIN
    assert not_too_recent(window, api_now) == Window(STREAM, window.start, newest)
    assert not_too_recent(Window(STREAM, newest, window.end), api_now) is None
    feed = Window(FEED, NOW - 12 * H, NOW - RULES[FEED].min_age - END_MARGIN)
    assert not_too_recent(feed, api_now).end == api_now - RULES[FEED].min_age - END_MARGIN


def test_stream_nothing_to_do_when_cursor_is_recent():
    assert plan_stream(NOW - timedelta(seconds=30), NOW).windows == ()


def test_split():
    ws = split(STREAM, NOW - 5 * H, NOW)
    assert [w.end - w.start for w in ws] == [2 * H, 2 * H, H]


def test_a_poll_loads_ten_gap_windows_at_most_and_keeps_the_rest_of_the_gap():
    from pipelines.webex.source import MAX_GAP_WINDOWS_PER_RUN, _limit_gap_windows

    plan = _limit_gap_windows(plan_stream(NOW - 20 * 24 * H, NOW))
    feed = [w for w in plan.windows if w.endpoint == FEED]
    assert len(feed) == MAX_GAP_WINDOWS_PER_RUN and plan.windows[0].endpoint == STREAM
    assert feed[0].start == NOW - 20 * 24 * H - FEED_GAP_LEAD  # oldest first: it expires first
    gaps = plan.gaps
    for done in feed:
        gaps = gaps_after(gaps, done)
    assert gaps == ((feed[-1].end - DEFAULT_FEED_OVERLAP, plan.gaps[0][1]),)
