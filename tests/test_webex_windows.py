"""Window planning for cdr_feed backfills and cdr_stream polling (pure)."""

from datetime import UTC, datetime, timedelta

import pytest

from pipelines.webex.windows import (
    END_MARGIN,
    FEED,
    RULES,
    STREAM,
    days,
    plan_feed,
    plan_stream,
    split,
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


def test_stream_cursor_older_than_12h_backfills_the_gap_from_the_feed_first():
    cursor = NOW - 30 * H
    plan = plan_stream(cursor, NOW)
    assert_valid(plan.windows, NOW)
    feed = [w for w in plan.windows if w.endpoint == FEED]
    stream = [w for w in plan.windows if w.endpoint == STREAM]
    assert feed and stream
    assert feed[0].start <= cursor
    assert feed[-1].end == stream[0].start  # the feed reaches where the stream takes over
    assert plan.windows.index(feed[-1]) < plan.windows.index(stream[0])


def test_stream_nothing_to_do_when_cursor_is_recent():
    assert plan_stream(NOW - timedelta(seconds=30), NOW).windows == ()


def test_split_and_days():
    ws = split(STREAM, NOW - 5 * H, NOW)
    assert [w.end - w.start for w in ws] == [2 * H, 2 * H, H]
    assert days(datetime(2026, 11, 28, 18, tzinfo=UTC), datetime(2026, 11, 30, 6, tzinfo=UTC)) == [
        (datetime(2026, 11, 28, 18, tzinfo=UTC), datetime(2026, 11, 29, tzinfo=UTC)),
        (datetime(2026, 11, 29, tzinfo=UTC), datetime(2026, 11, 30, tzinfo=UTC)),
        (datetime(2026, 11, 30, tzinfo=UTC), datetime(2026, 11, 30, 6, tzinfo=UTC)),
    ]
