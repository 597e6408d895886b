"""The check of each window against its endpoint's retention just before it is sent
(windows.still_served): what it takes off a window is reported as lost only when no endpoint
will serve it and nothing loaded covers it (webex.md §1.3)."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta

from pipelines.webex.pipeline import run_poll
from pipelines.webex.windows import (
    DEFAULT_FEED_OVERLAP,
    DEFAULT_MARGIN,
    FEED,
    FEED_GAP_LEAD,
    RULES,
    STREAM,
    Window,
    carried_past,
    plan_stream,
    still_served,
)
from simulator.sandbox import run_sandbox
from tests.test_webex_ingest import (  # noqa: F401
    TIME_SCALE,
    assert_exactly_once,
    data_dir,
    fast,
    stored,
    webex_settings,
)
from tests.webex_fixtures import cdr_fixture, cdr_record, write_cdr_files, write_directory


def ticking(start: datetime, step: timedelta):
    """A clock that moves `step` at every reading, as the wall clock moves during a run."""
    ticks = itertools.count()
    return lambda: start + next(ticks) * step


def test_a_first_poll_reports_no_loss_for_the_milliseconds_between_planning_and_sending(
        make_settings, data_dir, tmp_path):  # noqa: F811
    now = datetime.now(UTC)
    rows = cdr_fixture(now, 120, oldest=timedelta(hours=11), newest=timedelta(hours=1), seed=31)
    write_cdr_files(data_dir, rows)
    write_directory(data_dir)
    with run_sandbox(data_dir, time_scale=TIME_SCALE) as sandbox:
        settings = webex_settings(make_settings, sandbox, tmp_path)
        report = run_poll(settings, config=fast(settings), now=ticking(now, timedelta(milliseconds=25)))
    assert report.cdr.unavailable == []
    assert_exactly_once(settings, [r for _, r in rows])


def test_a_cursor_at_the_edge_of_retention_loses_nothing_to_the_time_between_planning_and_sending(
        make_settings, data_dir, tmp_path, monkeypatch):  # noqa: F811
    """The poller last ran so long ago that its cursor is exactly where the stream's retention (less
    its margin) begins: planned from it, no gap; 25 ms later, at sending, the window's start moves.
    A record inserted in those 25 ms is loaded by the next poll from cdr_feed, not reported lost."""
    import random

    from pipelines.webex import source
    from pipelines.webex.windows import END_MARGIN

    now = datetime.now(UTC).replace(microsecond=0)
    edge = now - RULES[STREAM].max_age + DEFAULT_MARGIN  # stream_oldest at `now`
    then = edge + RULES[STREAM].min_age + END_MARGIN  # the first poll's cursor ends at `edge`
    before = cdr_fixture(then, 30, oldest=timedelta(hours=3), newest=timedelta(hours=1), seed=32)
    sliver = cdr_record(random.Random(33), edge - timedelta(minutes=10))
    recent = cdr_fixture(now, 40, oldest=timedelta(hours=10), newest=timedelta(hours=1), seed=34)
    rows = before + [(edge + timedelta(milliseconds=10), sliver)] + recent
    write_cdr_files(data_dir, rows)
    write_directory(data_dir)
    with run_sandbox(data_dir, time_scale=TIME_SCALE) as sandbox:
        settings = webex_settings(make_settings, sandbox, tmp_path)
        sandbox.clock.offset_seconds = (then - datetime.now(UTC)).total_seconds()
        first = run_poll(settings, config=fast(settings), now=lambda: then)
        assert first.stream_cursor == edge.isoformat()
        sandbox.clock.offset_seconds = 0
        with monkeypatch.context() as m:  # sent 25 ms after it was planned
            m.setattr(source, "still_served", lambda w, at: still_served(w, at + timedelta(milliseconds=25)))
            second = run_poll(settings, config=fast(settings), now=lambda: now)
        assert second.cdr.unavailable == [] and second.cdr.read_by_source.get("cdr_feed", 0) == 0
        assert sliver["Report ID"] not in stored(settings)  # not asked for: its 25 ms were carried past
        third = run_poll(settings, config=fast(settings), now=lambda: now + timedelta(seconds=3))
    assert third.cdr.unavailable == [] and third.cdr.read_by_source.get("cdr_feed", 0) > 0
    assert_exactly_once(settings, [r for _, r in rows])


# --- pure: what the check before sending took off a window (windows.carried_past)

NOW = datetime(2026, 11, 30, 12, 0, 0, tzinfo=UTC)
H = timedelta(hours=1)
MS = timedelta(milliseconds=1)


def test_milliseconds_before_a_first_polls_stream_are_not_owed():
    plan = plan_stream(None, NOW)
    planned = plan.windows[0]
    sent = still_served(planned, NOW + 25 * MS)
    assert sent.start == planned.start + 25 * MS  # moved, as the API's margin wants
    assert carried_past(planned, sent, owed_from=None, gaps=plan.gaps) == (None, None)


def test_milliseconds_of_the_stream_inside_the_feed_gap_of_an_outage_are_covered():
    cursor = NOW - 30 * H
    plan = plan_stream(cursor, NOW)
    planned = plan.windows[0]
    sent = still_served(planned, NOW + 25 * MS)
    assert sent != planned
    assert carried_past(planned, sent, owed_from=cursor, gaps=plan.gaps) == (None, None)


def test_a_stream_part_the_cursor_owes_becomes_a_feed_gap_not_a_loss():
    cursor = NOW - RULES[STREAM].max_age + DEFAULT_MARGIN  # at the edge: no gap at planning
    plan = plan_stream(cursor, NOW)
    assert plan.gaps == ()
    planned = plan.windows[0]
    sent = still_served(planned, NOW + 25 * MS)
    lost, gap = carried_past(planned, sent, owed_from=cursor, gaps=plan.gaps)
    assert lost is None
    assert gap == (cursor - FEED_GAP_LEAD, cursor + 25 * MS + DEFAULT_FEED_OVERLAP)
    # the next poll loads it from cdr_feed
    later = plan_stream(sent.end, NOW + 5 * timedelta(minutes=1), gaps=(gap,))
    assert [w for w in later.windows if w.endpoint == FEED][0].start == gap[0]
    # a window dropped whole (time carried it past) is owed whole
    assert carried_past(planned, None, owed_from=cursor) == (None, (cursor - FEED_GAP_LEAD,
                                                                    planned.end + DEFAULT_FEED_OVERLAP))


def test_a_feed_window_carried_past_30_days_is_still_reported_lost():
    plan = plan_stream(NOW - 31 * 24 * H, NOW)  # an outage longer than cdr_feed keeps
    assert any("30 days" in why for _, _, why in plan.unavailable)
    planned = next(w for w in plan.windows if w.endpoint == FEED)
    sent = still_served(planned, NOW + 10 * timedelta(minutes=1))  # after the stream's windows
    lost, gap = carried_past(planned, sent, owed_from=NOW - 31 * 24 * H, gaps=plan.gaps)
    assert lost == (planned.start, sent.start) and gap is None
    assert not still_served(Window(STREAM, NOW - 12 * H, NOW - 11 * H), NOW + 3 * H)  # and dropped whole
    assert carried_past(planned, planned, owed_from=None) == (None, None)  # nothing moved, nothing said
