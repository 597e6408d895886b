"""Pure rules of the sandbox: times, CDR windows, rate limiting, paging, filters, fault specs."""

from __future__ import annotations

from datetime import UTC, datetime

import numpy as np
import orjson
import pytest

from simulator.sandbox import elevenlabs, twilio
from simulator.sandbox.data import NOT_A_TIME, index_cdr_files, iso_strings_to_epoch_ms
from simulator.sandbox.faults import FaultPlan, parse_fault_spec
from simulator.sandbox.rules import (
    CDR_FEED_RULES,
    CDR_STREAM_RULES,
    DAY_MS,
    HOUR_MS,
    MINUTE_MS,
    Clock,
    SlidingWindowLimiter,
    check_window,
    format_webex_time,
    parse_webex_time,
)
from simulator.sandbox.webex_cdr import page_bounds
from simulator.sandbox.webex_recordings import hide_detail_types

NOW = parse_webex_time("2026-03-10T14:00:00.000Z")


def test_webex_time_is_strict_and_round_trips():
    assert format_webex_time(parse_webex_time("2026-03-10T14:00:00.250Z")) == "2026-03-10T14:00:00.250Z"
    for bad in ("2026-03-10T14:00:00Z", "2026-03-10T14:00:00.000", "2026-03-10 14:00:00.000Z", ""):
        with pytest.raises(ValueError, match="YYYY-MM-DDTHH:MM:SS.mmmZ"):
            parse_webex_time(bad)


@pytest.mark.parametrize("start_offset, end_offset, message", [
    (-2 * HOUR_MS, -3 * HOUR_MS, "after startTime"),
    (-13 * HOUR_MS, -30 * MINUTE_MS, "12 hours"),
    (-HOUR_MS, -4 * MINUTE_MS, "5 minute"),
    (-31 * DAY_MS, -31 * DAY_MS + HOUR_MS, "30 days"),
])
def test_cdr_feed_window_rules(start_offset, end_offset, message):
    assert message in check_window(CDR_FEED_RULES, NOW + start_offset, NOW + end_offset, NOW)


def test_cdr_feed_accepts_the_documented_extremes():
    assert check_window(CDR_FEED_RULES, NOW - 12 * HOUR_MS - 5 * MINUTE_MS, NOW - 5 * MINUTE_MS, NOW) is None
    assert check_window(CDR_FEED_RULES, NOW - 30 * DAY_MS, NOW - 30 * DAY_MS + HOUR_MS, NOW) is None


@pytest.mark.parametrize("start_offset, end_offset, message", [
    (-3 * HOUR_MS, -30 * MINUTE_MS, "2 hours"),
    (-HOUR_MS, -30_000, "1 minute"),
    (-13 * HOUR_MS, -12 * HOUR_MS, "12 hours"),
])
def test_cdr_stream_window_rules(start_offset, end_offset, message):
    assert message in check_window(CDR_STREAM_RULES, NOW + start_offset, NOW + end_offset, NOW)
    assert check_window(CDR_STREAM_RULES, NOW - 2 * HOUR_MS - MINUTE_MS, NOW - MINUTE_MS, NOW) is None


def test_sliding_window_limiter_budget_retry_after_and_reset():
    fake_now = [100.0]
    limiter = SlidingWindowLimiter(budget={"initial": 1, "page": 2}, window_seconds=1.0, clock=lambda: fake_now[0])
    assert limiter.check("t", "initial").allowed
    refused = limiter.check("t", "initial")
    assert not refused.allowed and refused.retry_after_seconds == pytest.approx(1.0)
    assert refused.retry_after_header == "1"
    assert limiter.check("other-token", "initial").allowed  # budgets are per token
    assert limiter.check("t", "page").allowed and limiter.check("t", "page").allowed
    assert not limiter.check("t", "page").allowed
    fake_now[0] += 0.4
    assert limiter.check("t", "initial").retry_after_seconds == pytest.approx(0.6)
    fake_now[0] += 0.6
    assert limiter.check("t", "initial").allowed  # a (scaled) minute later the budget is back


def test_retry_after_header_is_a_whole_second_at_least():
    limiter = SlidingWindowLimiter(budget={"initial": 1}, window_seconds=0.05)
    limiter.check("t", "initial")
    decision = limiter.check("t", "initial")
    assert not decision.allowed and decision.retry_after_header == "1" and decision.retry_after_seconds < 0.06


def test_clock_scales_durations_only():
    clock = Clock(60)
    assert clock.real_seconds(60) == 1.0
    assert abs(clock.now() - datetime.now(UTC).timestamp()) < 1
    with pytest.raises(ValueError):
        Clock(0)


def test_page_bounds_never_split_equal_times():
    times = np.array([1, 2, 3, 3, 3, 4, 5])
    assert page_bounds(times, None, 2) == (0, 2)
    assert page_bounds(times, 3, 2) == (2, 5)  # the three records at time 3 stay together
    assert page_bounds(times, 2, 2) == (1, 5)
    assert page_bounds(times, 4, 5) == (5, 7)
    assert page_bounds(times, 6, 5) == (7, 7)


def test_iso_strings_to_epoch_ms_handles_blanks_and_odd_forms():
    values = ["2026-03-10T14:00:00.250Z", "", "NA", "2023-10-12 21:22:32.621", "2026-03-10T09:00:00-05:00"]
    parsed = iso_strings_to_epoch_ms(values)
    assert parsed[0] == parse_webex_time("2026-03-10T14:00:00.250Z")
    assert parsed[1] == NOT_A_TIME and parsed[2] == NOT_A_TIME
    assert parsed[3] == parse_webex_time("2023-10-12T21:22:32.621Z")
    assert parsed[4] == parse_webex_time("2026-03-10T14:00:00.000Z")


def test_cdr_index_keeps_each_record_byte_for_byte(tmp_path):
    records = [
        {"Start time": "2026-03-10T10:00:00.000Z", "Location": "Sede \"Norte\"", "Report ID": "a", "x": "ñ"},
        {"Report ID": "b", "start time": "2026-03-10T09:00:00.000Z", "Location": "Sur"},  # odd key case
        {"Report ID": "c", "Start time": "", "Location": "Sur"},
    ]
    lines = [b'{"inserted_at": "2026-03-10T10:05:00.000Z", "record": ' + orjson.dumps(records[0]) + b'}',
             b'{"record":' + orjson.dumps(records[1]) + b',"inserted_at":"2026-03-10T10:06:00.000Z"}',
             b'{"inserted_at":"2026-03-10T10:04:00.000Z","record":' + orjson.dumps(records[2]) + b"}  "]
    path = tmp_path / "2026-03-10.jsonl"
    path.write_bytes(b"\n".join(lines) + b"\n\n")
    index = index_cdr_files([path])
    rows, _ = index.select("inserted", 0, 2**62)
    assert [r["Report ID"] for r in orjson.loads(index.body(rows))["items"]] == ["c", "a", "b"]
    rows, _ = index.select("start", 0, 2**62)
    assert orjson.loads(index.body(rows))["items"] == [records[1], records[0]]  # blank start time left out
    assert index.body(rows[1:]) == b'{"items":[' + orjson.dumps(records[0]) + b"]}"
    rows, _ = index.select("start", 0, 2**62, locations=['Sede "Norte"'])
    assert orjson.loads(index.body(rows))["items"] == [records[0]]
    index.close()


def test_fault_spec_and_plan_counts():
    faults = parse_fault_spec("webex.cdr_feed:server_error:2:status=502, twilio.*:slow:*:delay_seconds=0.25")
    assert [(f.endpoint, f.kind, f.count) for f in faults] == [("webex.cdr_feed", "server_error", 2),
                                                               ("twilio.*", "slow", None)]
    assert faults[0].status == 502 and faults[1].delay_seconds == 0.25
    plan = FaultPlan(faults)
    assert plan.take("webex.cdr_stream", "server_error") is None
    assert plan.take("webex.cdr_feed", "server_error") and plan.take("webex.cdr_feed", "server_error")
    assert plan.take("webex.cdr_feed", "server_error") is None
    assert all(plan.take("twilio.messages", "slow") for _ in range(5))
    with pytest.raises(ValueError, match="matches none"):
        parse_fault_spec("webex.nothing:slow")
    with pytest.raises(ValueError, match="unknown fault kind"):
        parse_fault_spec("webex.cdr_feed:explode")


def test_twilio_date_filters_are_inclusive_by_day_or_instant():
    def at(text):
        return datetime.fromisoformat(text).replace(tzinfo=UTC)

    on_and_after = twilio.date_filter({"DateSent>": "2025-09-15"})
    assert on_and_after(at("2025-09-15T00:00:00")) and not on_and_after(at("2025-09-14T23:59:59"))
    on_and_before = twilio.date_filter({"DateSent<": "2025-09-15"})
    assert on_and_before(at("2025-09-15T23:59:59")) and not on_and_before(at("2025-09-16T00:00:00"))
    instant = twilio.date_filter({"DateSent<": "2025-09-15T12:00:00Z"})
    assert instant(at("2025-09-15T12:00:00")) and not instant(at("2025-09-15T12:00:01"))
    day = twilio.date_filter({"DateSent": "2025-09-15"})
    assert day(at("2025-09-15T08:00:00")) and not day(at("2025-09-16T08:00:00"))
    with pytest.raises(ValueError):
        twilio.date_filter({"DateSent>": "yesterday"})


def test_elevenlabs_list_page_cursor_walks_ties_without_loss_or_repeat():
    summaries = [{"conversation_id": f"c{i}", "start_time_unix_secs": 1000 + i // 3, "agent_id": "a",
                  "call_successful": "success", "transcript_summary": "s"} for i in range(10)]
    seen, cursor = [], None
    while True:
        status, body = elevenlabs.list_page(summaries, {"page_size": "4", **({"cursor": cursor} if cursor else {})})
        assert status == 200
        seen += [c["conversation_id"] for c in body["conversations"]]
        assert all(c["transcript_summary"] is None for c in body["conversations"])  # summary_mode=exclude
        if not body["has_more"]:
            assert body["next_cursor"] is None
            break
        cursor = body["next_cursor"]
    assert sorted(seen) == sorted(s["conversation_id"] for s in summaries) and len(seen) == 10
    assert seen[0] == "c9"  # newest first
    status, body = elevenlabs.list_page(summaries, {"call_start_after_unix": "1001", "call_start_before_unix": "1002",
                                                   "sort_direction": "asc", "summary_mode": "include"})
    assert [c["conversation_id"] for c in body["conversations"]] == ["c6", "c7", "c8"]
    assert body["conversations"][0]["transcript_summary"] == "s"
    assert elevenlabs.list_page(summaries, {"page_size": "101"})[0] == 422
    for i, summary in enumerate(summaries):
        summary["call_duration_secs"] = 10 * i
    _, body = elevenlabs.list_page(summaries, {"call_duration_min_secs": "20", "call_duration_max_secs": "40"})
    assert sorted(c["conversation_id"] for c in body["conversations"]) == ["c2", "c3", "c4"]


def test_recording_metadata_hides_detail_types_unless_asked():
    metadata = {"id": "r", "serviceData": {"callActivity": [{"timeStamp": "t", "mediaStreams": [1],
                                                             "participants": [2]}]}}
    assert hide_detail_types(metadata)["serviceData"]["callActivity"] == [{"timeStamp": "t"}]
    assert metadata["serviceData"]["callActivity"][0]["mediaStreams"] == [1]  # the stored copy is untouched
