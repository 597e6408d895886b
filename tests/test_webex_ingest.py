"""Webex CDR / directory ingestion against the sandbox API (real HTTP on loopback, rules on).

Every scenario compares the warehouse with the hand-built fixture the sandbox serves: each
record loaded exactly once (one row per Report ID, raw record intact) whatever the API does —
429s, a token expiring mid-backfill, 5xx bursts, timeouts, truncated bodies, repeated pages,
empty windows, the wrong region.
"""

from __future__ import annotations

import gzip
import logging
import os
import re
import stat
import threading
import zipfile
from datetime import UTC, datetime, timedelta
from pathlib import Path

import duckdb
import httpx
import orjson
import pytest

from pipelines.file_lock import FileLock
from pipelines.webex.cdr_normalize import CDR_COLUMNS
from pipelines.webex.client import WebexApiError
from pipelines.webex.directory import LOCATION_COLUMNS, PEOPLE_COLUMNS, webex_id_to_uuid
from pipelines.webex.oauth import WebexAuthError
from pipelines.webex.pipeline import (
    WebexRunStopped,
    raw_webex_lock_path,
    run_backfill,
    run_poll,
    webex_pipeline,
)
from pipelines.webex.source import WebexConfig
from pipelines.webex.windows import END_MARGIN, FEED, RULES, STREAM, plan_feed
from simulator.sandbox import run_sandbox
from simulator.sandbox.faults import Fault
from tests.webex_fixtures import cdr_fixture, cdr_record, iso, write_cdr_files, write_directory

TIME_SCALE = 60.0  # the sandbox's rate-limit minute lasts one real second


@pytest.fixture
def data_dir(tmp_path):
    d = tmp_path / "sim"
    d.mkdir()
    return d


def webex_settings(make_settings, sandbox, tmp_path, **extra):
    env = {k: v for k, v in sandbox.env().items() if k.startswith("WEBEX_")}
    env["WEBEX_TOKEN_FILE"] = str(tmp_path / "secrets" / "webex_tokens.json")
    env["WEBEX_CDR_RATE_WINDOW_SECONDS"] = str(60 / TIME_SCALE)
    env.update(extra)
    return make_settings(**env)


def rotated_credentials(settings) -> dict[str, str]:
    """The integration of `settings` with the refresh token it rotated to: a sandbox restarted
    with them accepts the next run as the real API would."""
    return {"webex_client_id": settings.webex_client_id,
            "webex_client_secret": settings.webex_client_secret.get_secret_value(),
            "webex_refresh_token": orjson.loads(settings.webex_token_file.read_bytes())["refresh_token"]}


def fast(settings, **overrides):
    """Short backoff and 500-record pages, so a small fixture still spans several pages."""
    return WebexConfig.from_settings(settings, **{"backoff_seconds": 0.05, "cdr_page_size": 500, **overrides})


def stored(settings) -> dict[str, dict]:
    with duckdb.connect(str(settings.warehouse.duckdb_path), read_only=True) as con:
        rows = con.sql("select report_id, raw_record from raw_webex.cdr").fetchall()
    return {rid: orjson.loads(raw) for rid, raw in rows}


def assert_exactly_once(settings, records: list[dict]):
    expected = {r["Report ID"]: r for r in records}
    got = stored(settings)
    with duckdb.connect(str(settings.warehouse.duckdb_path), read_only=True) as con:
        total = con.execute("select count(*) from raw_webex.cdr").fetchall()[0][0]
    assert total == len(got) == len(expected)
    assert got == expected


def test_backfill_exactly_once_under_5xx_timeouts_truncation_repeats_and_token_expiry(make_settings, data_dir, tmp_path):
    now = datetime.now(UTC)
    rows = cdr_fixture(now, 1300, oldest=timedelta(hours=30), newest=timedelta(minutes=30))
    write_cdr_files(data_dir, rows)
    with run_sandbox(data_dir, time_scale=TIME_SCALE) as sandbox:
        settings = webex_settings(make_settings, sandbox, tmp_path)
        sandbox.faults.set("webex.cdr_feed", "server_error", count=3)
        sandbox.faults.set("webex.cdr_feed", "truncate", count=1, framing="close")
        sandbox.faults.set("webex.cdr_*", "truncate", count=1, framing="complete")
        sandbox.faults.set("webex.cdr_feed", "repeat_page", count=1)
        # 3 s against a 1 s read timeout: a timeout even when the page thread, busy machine, gets to
        # read the socket late (at 1.5 s it sometimes found the whole response there already)
        sandbox.faults.set("webex.cdr_feed", "slow", count=1, delay_seconds=3.0)
        served = {"n": 0}

        def expire_midway(response: httpx.Response) -> None:
            if response.request.url.path.endswith("/cdr_feed") and response.status_code == 200:
                served["n"] += 1
                if served["n"] == 3:  # the access token dies in the middle of the backfill
                    sandbox.expire_access_tokens()

        http = httpx.Client(timeout=httpx.Timeout(1.0), event_hooks={"response": [expire_midway]})
        report = run_backfill(settings, now - timedelta(hours=31), now, config=fast(settings), http=http)
        stats = sandbox.stats.snapshot()["responses"]
        fired = dict(sandbox.faults.fired)

    assert fired == {("webex.cdr_feed", "server_error"): 3, ("webex.cdr_feed", "truncate"): 2,
                     ("webex.cdr_feed", "repeat_page"): 1, ("webex.cdr_feed", "slow"): 1}
    assert_exactly_once(settings, [r for _, r in rows])
    c = report.cdr
    assert c.balanced and c.loaded == 1300 and c.rejected == 0
    assert c.records_read == c.loaded + c.skipped_duplicate and c.skipped_duplicate > 0  # overlap + repeated page
    assert stats.get("webex.cdr_feed 503") == 3
    assert stats.get("webex.cdr_feed 401", 0) >= 1
    assert report.client["token_refreshes_after_401"] >= 1
    assert report.client["retries"] >= 5  # 3 × 503, 2 truncated bodies, 1 timeout (two may hit one request)

    # The same range again: nothing doubles, nothing rewritten.
    with run_sandbox(data_dir, time_scale=TIME_SCALE, credentials=rotated_credentials(settings)) as sandbox:
        settings = webex_settings(make_settings, sandbox, tmp_path)
        again = run_backfill(settings, now - timedelta(hours=31), now, config=fast(settings))
    assert again.cdr.loaded == 0 and again.cdr.skipped_duplicate == again.cdr.records_read > 0
    assert_exactly_once(settings, [r for _, r in rows])


def test_a_body_cut_right_after_a_record_is_requested_again_in_its_place(make_settings, data_dir, tmp_path, caplog):
    """The request loop only checks that a body can be whole (it ends in '}'); a body cut right
    after one of its records passes that check, and the thread that reads pages asks for it again."""
    now = datetime.now(UTC)
    rows = cdr_fixture(now, 1200, oldest=timedelta(hours=10), newest=timedelta(minutes=30))
    write_cdr_files(data_dir, rows)
    since, until = now - timedelta(hours=11), now
    with run_sandbox(data_dir, time_scale=TIME_SCALE) as sandbox:
        settings = webex_settings(make_settings, sandbox, tmp_path)
        config = fast(settings)
        # the backfill's first page as served, to cut it just after its first record
        with httpx.Client() as http:
            window = plan_feed(since, until, datetime.now(UTC)).windows[0]
            first = next(config.build_client(http).cdr_pages(window, max_records=500, decode=lambda body: body))
        body = first.parsed
        cut = body.index(b"},{") + 1
        sandbox.faults.set("webex.cdr_feed", "truncate", count=1, framing="complete",
                           keep_fraction=(cut + 0.5) / len(body))
        with caplog.at_level(logging.INFO, logger="pipelines.webex.client"):
            report = run_backfill(settings, since, until, config=config)
        fired = dict(sandbox.faults.fired)
        responses = sandbox.stats.snapshot()["responses"]
    assert fired == {("webex.cdr_feed", "truncate"): 1}
    assert "page 1 could not be read (cut short); requesting it again" in caplog.text
    # a window's first page asked again is an initial request for the rate budget, as Webex counts it
    assert responses.get("webex.cdr_feed 429", 0) == 0
    assert_exactly_once(settings, [r for _, r in rows])
    assert report.cdr.balanced and report.cdr.loaded == 1200 and report.client["retries"] == 1


@pytest.mark.parametrize("endpoint", ["webex.cdr_feed", "webex.cdr_stream"])
def test_an_error_body_sent_with_200_is_requested_again_not_taken_for_an_empty_window(
        make_settings, data_dir, tmp_path, endpoint):
    """An empty window is a 404 (webex.md); a 200 whose body has no `items` is a gateway's error
    page. Taken for "no records", its window would be booked as read and its records never asked
    for again (independent audit: a backfill read 0 of 1,709, a poll moved its cursor past 32)."""
    now = datetime.now(UTC)
    # inside the stream's reach (its windows start ~12 h back) and old enough for both endpoints
    rows = cdr_fixture(now, 400, oldest=timedelta(hours=10), newest=timedelta(hours=1), seed=21)
    write_cdr_files(data_dir, rows)
    write_directory(data_dir)
    with run_sandbox(data_dir, time_scale=TIME_SCALE) as sandbox:
        settings = webex_settings(make_settings, sandbox, tmp_path)
        # the first window with records, its first page (empty windows are 404s, not served pages)
        sandbox.faults.set(endpoint, "error_with_200", count=1)
        if endpoint == "webex.cdr_feed":
            report = run_backfill(settings, now - timedelta(hours=11), now, config=fast(settings))
        else:
            report = run_poll(settings, config=fast(settings), now=lambda: now)
        fired = dict(sandbox.faults.fired)
    assert fired == {(endpoint, "error_with_200"): 1}
    assert report.cdr.balanced and report.cdr.loaded == 400 and report.client["retries"] >= 1
    assert_exactly_once(settings, [r for _, r in rows])

@pytest.mark.parametrize("lookup_ids", [150, 10**9], ids=["lookups-along-the-way", "one-lookup-at-the-end"])
def test_batches_append_until_one_replaces_a_stored_row_then_the_whole_load_merges(make_settings, data_dir, tmp_path,
                                                                                  monkeypatch, lookup_ids):
    import pipelines.webex.source as source

    monkeypatch.setattr(source, "CDR_BATCH_ROWS", 150)  # several batches per run
    # appended Report IDs are looked up in the warehouse this many at a time, the rest at the end
    monkeypatch.setattr(source, "STORED_LOOKUP_IDS", lookup_ids)
    now = datetime.now(UTC)
    rows = cdr_fixture(now, 900, oldest=timedelta(hours=30), newest=timedelta(hours=1), seed=11)
    late = [(i, r) for i, r in rows if r["Start time"] >= iso(now - timedelta(hours=8))]
    write_cdr_files(data_dir, late)
    with run_sandbox(data_dir, time_scale=TIME_SCALE) as sandbox:
        settings = webex_settings(make_settings, sandbox, tmp_path)
        first = run_backfill(settings, now - timedelta(hours=31), now, config=fast(settings))
    assert first.cdr.loaded == len(late) > 150
    assert_exactly_once(settings, [r for _, r in late])

    # Webex re-reports 20 of the late records; the early ones are new. The run's first batches
    # (early windows) are all new rows, the last ones replace stored rows.
    updated = [(i, {**r, "Report time": iso(now - timedelta(minutes=20)), "Hold duration": 999}) for i, r in late[:20]]
    write_cdr_files(data_dir, rows + updated)
    with run_sandbox(data_dir, time_scale=TIME_SCALE, credentials=rotated_credentials(settings)) as sandbox:
        settings = webex_settings(make_settings, sandbox, tmp_path)
        second = run_backfill(settings, now - timedelta(hours=31), now, config=fast(settings))
    assert second.cdr.loaded == 900 - len(late) + 20
    newest = {r["Report ID"]: r for _, r in rows} | {r["Report ID"]: r for _, r in updated}
    assert_exactly_once(settings, list(newest.values()))
    # the table was created with raw_record zstd-compressed (pipeline.create_duckdb_cdr_table),
    # and dlt's appends and merges kept it
    with duckdb.connect(str(settings.warehouse.duckdb_path)) as con:
        con.execute("checkpoint")
        methods = {m for (m,) in con.execute(
            "select distinct compression from pragma_storage_info('raw_webex.cdr') "
            "where column_name = 'raw_record' and segment_type = 'VARCHAR'").fetchall()}
    assert methods == {"ZSTD"}


def test_a_key_first_seen_in_a_later_batch_becomes_a_column_and_nothing_is_lost(make_settings, data_dir, tmp_path,
                                                                                  monkeypatch):
    """Schema evolution across batches: a new API key appears part-way through a backfill and is
    missing again later. On DuckDB the batches go to parquet load files of fixed columns (one
    file while the keys stay the same, a new one when a key appears), so the new column must
    still hold each record's value, and null for the records without it."""
    import pipelines.webex.source as source

    monkeypatch.setattr(source, "CDR_BATCH_ROWS", 150)  # several batches per run
    now = datetime.now(UTC)
    rows = cdr_fixture(now, 900, oldest=timedelta(hours=30), newest=timedelta(hours=1), seed=5)
    middle = (iso(now - timedelta(hours=10)), iso(now - timedelta(hours=4)))  # none in the first window
    with_key = {}
    for _, record in rows:
        if middle[0] <= record["Start time"] < middle[1]:
            record["Agent SessionID"] = with_key[record["Report ID"]] = f"as-{len(with_key)}"
    assert 150 < len(with_key) < 750
    write_cdr_files(data_dir, rows)
    with run_sandbox(data_dir, time_scale=TIME_SCALE) as sandbox:
        settings = webex_settings(make_settings, sandbox, tmp_path)
        report = run_backfill(settings, now - timedelta(hours=31), now, config=fast(settings))
    assert report.cdr.loaded == 900
    assert_exactly_once(settings, [r for _, r in rows])
    with duckdb.connect(str(settings.warehouse.duckdb_path), read_only=True) as con:
        values = dict(con.execute("select report_id, agent_sessionid from raw_webex.cdr").fetchall())
    assert values == {rid: with_key.get(rid) for rid in values}


def test_429s_wait_retry_after_and_the_shared_budget_avoids_them(make_settings, data_dir, tmp_path):
    now = datetime.now(UTC)
    rows = cdr_fixture(now, 1600, oldest=timedelta(hours=20), newest=timedelta(hours=1), seed=2)
    write_cdr_files(data_dir, rows)
    with run_sandbox(data_dir, time_scale=TIME_SCALE) as sandbox:
        # A budget far faster than Webex allows: the API answers 429 and the client must wait.
        greedy = webex_settings(make_settings, sandbox, tmp_path, WEBEX_CDR_RATE_WINDOW_SECONDS="0.01")
        report = run_backfill(greedy, now - timedelta(hours=21), now, config=fast(greedy))
        assert report.client["rate_limited_429"] >= 1
        assert sum(sandbox.stats.snapshot()["rate_limited"].values()) == report.client["rate_limited_429"]
        assert_exactly_once(greedy, [r for _, r in rows])

        # The real budget (1 initial + 10 pages per minute): no 429 at all.
        sandbox.reset_rate_limits()
        before = sum(sandbox.stats.snapshot()["rate_limited"].values())
        polite = webex_settings(make_settings, sandbox, tmp_path,
                                SWITCHBOARD_WAREHOUSE_URL=f"duckdb:///{tmp_path}/polite.duckdb",
                                SWITCHBOARD_STATE_DIR=str(tmp_path / "polite_state"))
        report = run_backfill(polite, now - timedelta(hours=21), now, config=fast(polite))
        assert report.client["rate_limited_429"] == 0
        assert sum(sandbox.stats.snapshot()["rate_limited"].values()) == before
        assert report.client["pages"] >= 4
        # one initial request per (scaled) minute: the run says how long the budget held it back
        assert report.client["budget_wait_seconds"] > 0
    assert_exactly_once(polite, [r for _, r in rows])


def test_a_504_to_an_initial_request_asks_again_for_smaller_pages(make_settings, data_dir, tmp_path):
    now = datetime.now(UTC)
    rows = cdr_fixture(now, 900, oldest=timedelta(hours=10), newest=timedelta(hours=1), seed=5)
    write_cdr_files(data_dir, rows)
    sizes: list[tuple[int, str | None]] = []

    def record_max(response: httpx.Response) -> None:
        if response.request.url.path.endswith("/cdr_feed"):
            sizes.append((response.status_code, response.request.url.params.get("max")))

    with run_sandbox(data_dir, time_scale=TIME_SCALE) as sandbox:
        settings = webex_settings(make_settings, sandbox, tmp_path)
        sandbox.faults.set("webex.cdr_feed", "server_error", count=1, status=504)
        http = httpx.Client(timeout=10.0, event_hooks={"response": [record_max]})
        report = run_backfill(settings, now - timedelta(hours=11), now, config=fast(settings, cdr_page_size=2000),
                              http=http)
    # the gateway timeout, then the same window asked again for half as many records (its next
    # links carry the server's own max, followed verbatim)
    assert sizes[:2] == [(504, "2000"), (200, "1000")]
    assert report.client["retries"] == 1
    assert_exactly_once(settings, [r for _, r in rows])


def test_a_refused_window_stops_the_backfill_but_keeps_the_windows_read_before_it(make_settings, data_dir, tmp_path):
    """A request the API refuses (a 400 for a window its clock finds too recent, say) is not
    retried; what was read before it is loaded, the run fails naming it, and the next run loads
    the rest: nothing lost, nothing twice."""
    now = datetime.now(UTC)
    rows = cdr_fixture(now, 600, oldest=timedelta(hours=30), newest=timedelta(hours=1), seed=8)
    write_cdr_files(data_dir, rows)
    with run_sandbox(data_dir, time_scale=TIME_SCALE) as sandbox:
        settings = webex_settings(make_settings, sandbox, tmp_path)

        def refuse_the_second_window(response: httpx.Response) -> None:
            first_window_done = response.status_code == 200 and not response.headers.get("link")
            if response.request.url.path.endswith("/cdr_feed") and first_window_done:
                sandbox.faults.set("webex.cdr_feed", "server_error", count=1, status=400)

        http = httpx.Client(timeout=10.0, event_hooks={"response": [refuse_the_second_window]})
        with pytest.raises(WebexRunStopped) as stopped:
            run_backfill(settings, now - timedelta(hours=31), now, config=fast(settings), http=http)
        assert isinstance(stopped.value.cause, WebexApiError) and "HTTP 400" in str(stopped.value)
        partial = stopped.value.report.cdr
        assert partial.windows == 1 and partial.balanced
        assert 0 < len(stored(settings)) == partial.loaded < len(rows)

        report = run_backfill(settings, now - timedelta(hours=31), now, config=fast(settings))
    assert not report.errors
    assert_exactly_once(settings, [r for _, r in rows])


def test_an_api_clock_minutes_behind_ours_cuts_the_newest_stream_window_instead_of_stopping_every_poll(
        make_settings, data_dir, tmp_path, caplog):
    """The API's clock falls 5 minutes behind this machine's (its answers' `Date` tells). The
    next poll's stream window, ending 2 minutes before our now, ends after the API's now less a
    minute: refused (400) as too recent. It is asked again ending where the API's clock allows;
    the rest waits for the next poll, which plans by that clock from the start (no 400). Before,
    every poll stopped on that 400 while the clocks disagreed."""
    import random

    now = datetime.now(UTC)
    behind = timedelta(minutes=5)
    rows = cdr_fixture(now, 300, oldest=timedelta(hours=3), newest=timedelta(minutes=15), seed=31)
    rng = random.Random(32)
    # inserted after what the API serves, by its clock, at the second poll
    newest = [(now + timedelta(minutes=5), cdr_record(rng, now - timedelta(minutes=1))) for _ in range(3)]
    write_cdr_files(data_dir, rows + newest)
    write_directory(data_dir)

    def poll(later: timedelta):
        """A poll `later` than `now` by our clock, with the API's clock `behind` ours."""
        sandbox.clock.offset_seconds = (later - behind).total_seconds() if later else 0
        caplog.clear()
        with caplog.at_level(logging.WARNING, logger="pipelines.webex.source"):
            return run_poll(settings, config=fast(settings), now=lambda: now + later)

    with run_sandbox(data_dir, time_scale=TIME_SCALE) as sandbox:
        settings = webex_settings(make_settings, sandbox, tmp_path)
        first = poll(timedelta(0))  # the clocks agree
        assert first.cdr.loaded == len(rows) and sandbox.stats.status_count("webex.cdr_stream", 400) == 0

        second = poll(timedelta(minutes=10))
        assert sandbox.stats.status_count("webex.cdr_stream", 400) == 1 and not second.errors
        assert re.search(r"Webex's clock is 29\d s behind this machine's", caplog.text)
        cursor = datetime.fromisoformat(second.stream_cursor)
        # the API's now - 1 min - END_MARGIN (the test's own seconds count in the API's favour)
        api_newest = now + timedelta(minutes=10) - behind - RULES[STREAM].min_age - END_MARGIN
        assert timedelta(0) <= cursor - api_newest < timedelta(seconds=15)
        assert second.cdr.loaded == 0

        third = poll(timedelta(minutes=20))
        assert sandbox.stats.status_count("webex.cdr_stream", 400) == 1  # planned by its clock
        assert not third.errors and "behind" not in caplog.text
    assert third.cdr.loaded == len(newest)
    assert_exactly_once(settings, [r for _, r in rows + newest])


def test_a_window_refused_by_an_api_clock_far_ahead_of_ours_stops_the_run_naming_the_clock(
        make_settings, data_dir, tmp_path):
    """The API's clock 10 minutes ahead of ours: a first poll's oldest stream window, 3 minutes
    inside the 12 h the stream keeps by our clock, is too old by the API's (400). The run stops
    saying so, and what to do, instead of naming only the 400."""
    now = datetime.now(UTC)
    write_cdr_files(data_dir, cdr_fixture(now, 50, oldest=timedelta(hours=3), newest=timedelta(hours=1), seed=34))
    write_directory(data_dir)
    with run_sandbox(data_dir, time_scale=TIME_SCALE) as sandbox:
        settings = webex_settings(make_settings, sandbox, tmp_path)
        sandbox.clock.offset_seconds = 600
        with pytest.raises(WebexRunStopped) as stopped:
            run_poll(settings, config=fast(settings), now=lambda: now)
    assert "HTTP 400" in str(stopped.value) and "12 hours" in str(stopped.value)
    assert re.search(r"Webex's clock is 6\d\d s ahead of this machine's .*synchronise", str(stopped.value))


def test_a_backfill_against_an_api_clock_behind_ours_reports_its_newest_minutes_as_not_yet_available(
        make_settings, data_dir, tmp_path):
    """A backfill up to now, the API's clock 10 minutes behind ours: its first (oldest) window
    tells the clock, and the last one ends where the API's clock allows. The rest is reported as
    not yet available, not refused (400) and not passed over in silence."""
    now = datetime.now(UTC)
    behind = timedelta(minutes=10)
    rows = cdr_fixture(now, 400, oldest=timedelta(hours=20), newest=timedelta(minutes=1), seed=33,
                       insert_delay=timedelta(0))
    write_cdr_files(data_dir, rows)
    with run_sandbox(data_dir, time_scale=TIME_SCALE) as sandbox:
        settings = webex_settings(make_settings, sandbox, tmp_path)
        sandbox.clock.offset_seconds = -behind.total_seconds()
        report = run_backfill(settings, now - timedelta(hours=21), now, config=fast(settings), now=lambda: now)
        assert sandbox.stats.status_count("webex.cdr_feed", 400) == 0 and not report.errors
    served_until = now - behind - RULES[FEED].min_age - END_MARGIN
    reported = [u for u in report.cdr.unavailable if "behind" in u]
    assert len(reported) == 1 and "minimum age by the API's clock" in reported[0]
    assert datetime.fromisoformat(reported[0].split("–")[0]) - served_until < timedelta(seconds=15)
    # the feed selects by start time here: what started before the last window's end is loaded
    last_end = datetime.fromisoformat(reported[0].split("–")[0])
    assert_exactly_once(settings, [r for _, r in rows if datetime.fromisoformat(
        r["Start time"].replace("Z", "+00:00")) < last_end])


def test_a_404_to_a_next_page_is_asked_again_and_never_ends_the_window(make_settings, data_dir, tmp_path):
    """A 404 to a next link (the pages before it had records) that does not say the window has
    no more CDRs (here the sandbox's fault: "Service temporarily unavailable") is a failure. Once,
    it is asked again; for good, the run stops naming it and the next run loads the window whole.
    Before, the rest of the window was dropped without a word."""
    now = datetime.now(UTC)
    rows = cdr_fixture(now, 1500, oldest=timedelta(hours=10), newest=timedelta(hours=1), seed=12)
    write_cdr_files(data_dir, rows)
    with run_sandbox(data_dir, time_scale=TIME_SCALE) as sandbox:
        settings = webex_settings(make_settings, sandbox, tmp_path)

        def not_found_after_a_first_page(times: int | None):
            armed = []

            def hook(response: httpx.Response) -> None:
                if response.request.url.path.endswith("/cdr_feed") and response.headers.get("link") and not armed:
                    armed.append(True)
                    sandbox.faults.set("webex.cdr_feed", "server_error", count=times, status=404)
            return httpx.Client(timeout=10.0, event_hooks={"response": [hook]})

        report = run_backfill(settings, now - timedelta(hours=11), now, config=fast(settings),
                              http=not_found_after_a_first_page(1))
        assert report.client["retries"] == 1 and report.client["empty_windows"] == 0
        assert_exactly_once(settings, [r for _, r in rows])

        again = webex_settings(make_settings, sandbox, tmp_path,
                               SWITCHBOARD_WAREHOUSE_URL=f"duckdb:///{tmp_path}/again.duckdb",
                               SWITCHBOARD_STATE_DIR=str(tmp_path / "again_state"))
        with pytest.raises(WebexRunStopped) as stopped:
            run_backfill(again, now - timedelta(hours=11), now, config=fast(again),
                         http=not_found_after_a_first_page(None))
        assert "404 to a next page" in str(stopped.value)
        sandbox.faults.clear()
        report = run_backfill(again, now - timedelta(hours=11), now, config=fast(again))
    assert not report.errors
    assert_exactly_once(again, [r for _, r in rows])


def test_a_404_after_a_windows_last_record_ends_the_window(make_settings, data_dir, tmp_path):
    """An API that sends a next link after a window's last page (one filled exactly to `max`
    would be such a page: its time cursor cannot know nothing follows) answers that link 404 "No
    CDRs for requested time range and filters": an empty page, the window is whole (webex.md
    §1.4). Before, that 404 was asked again eight times and stopped the run, and the window was
    never loaded whole. (The sandbox sends no such link: a response hook adds one to every
    window's last page, pointing past the window's records.)"""
    now = datetime.now(UTC)
    rows = cdr_fixture(now, 1500, oldest=timedelta(hours=20), newest=timedelta(hours=1), seed=13)
    write_cdr_files(data_dir, rows)
    added = []

    def next_link_after_the_last_page(response: httpx.Response) -> None:
        url = response.request.url
        if url.path.endswith("/cdr_feed") and response.status_code == 200 and not response.headers.get("link"):
            response.read()
            after = url.copy_set_param("startTimeForNextFetch", url.params["endTime"])
            response.headers["Link"] = f'<{after}>; rel="next"'
            added.append(after)

    with run_sandbox(data_dir, time_scale=TIME_SCALE) as sandbox:
        settings = webex_settings(make_settings, sandbox, tmp_path)
        report = run_backfill(settings, now - timedelta(hours=21), now, config=fast(settings),
                              http=httpx.Client(timeout=10.0, event_hooks={"response": [next_link_after_the_last_page]}))
        not_found = sandbox.stats.status_count("webex.cdr_feed", 404)
    assert not report.errors and report.client["retries"] == 0
    assert len(added) >= 2 and report.client["empty_last_pages"] == len(added) == not_found
    assert report.cdr.windows == len(plan_feed(now - timedelta(hours=21), now, now).windows)
    assert_exactly_once(settings, [r for _, r in rows])


def test_polls_and_backfills_load_raw_webex_one_at_a_time(make_settings, data_dir, tmp_path):
    """A run decides while it reads whether a record is new (appended) or replaces a stored one
    (merged): a poll and a backfill reading at once both appended what both fetched (an
    independent audit found 48 Report IDs twice on Postgres, where nothing else kept them apart).
    Every run that loads raw_webex holds one lock: a poll that finds it held is skipped without
    a request; a backfill waits for it. (The lock is held here by the test, standing in for a
    run in another process.)"""
    now = datetime.now(UTC)
    rows = cdr_fixture(now, 600, oldest=timedelta(hours=6), newest=timedelta(minutes=20), seed=14)
    write_cdr_files(data_dir, rows)
    with run_sandbox(data_dir, time_scale=TIME_SCALE) as sandbox:
        settings = webex_settings(make_settings, sandbox, tmp_path)
        lock = raw_webex_lock_path(webex_pipeline(settings, "webex_backfill"))
        assert lock == raw_webex_lock_path(webex_pipeline(settings, "webex"))
        with FileLock(lock):
            poll = run_poll(settings, config=fast(settings), now=lambda: now)
            assert "this poll is skipped" in poll.skipped and poll.cdr.records_read == 0
            assert not sandbox.stats.snapshot()["requests"] and poll.cdr.balanced

            backfill = threading.Thread(target=run_backfill, args=(settings, now - timedelta(hours=7), now),
                                        kwargs={"config": fast(settings)})
            backfill.start()
            backfill.join(timeout=1.5)
            assert backfill.is_alive() and not sandbox.stats.snapshot()["requests"]  # waiting for the lock
        backfill.join(timeout=120)
        assert not backfill.is_alive()
        assert_exactly_once(settings, [r for _, r in rows])  # the backfill, once the lock was free
        poll = run_poll(settings, config=fast(settings), now=lambda: now)
    assert poll.skipped is None and poll.cdr.records_read == len(rows) and poll.cdr.loaded == 0
    assert_exactly_once(settings, [r for _, r in rows])


def test_a_404_for_a_path_the_api_does_not_serve_is_an_error_not_an_empty_window(make_settings, data_dir, tmp_path):
    now = datetime.now(UTC)
    write_cdr_files(data_dir, cdr_fixture(now, 20, oldest=timedelta(hours=3), newest=timedelta(hours=1), seed=9))
    with run_sandbox(data_dir, time_scale=TIME_SCALE) as sandbox:
        # the base URL without its version: every CDR request answers 404 "not found"
        wrong = sandbox.base_urls.webex_analytics.rstrip("/").removesuffix("/v1")
        settings = webex_settings(make_settings, sandbox, tmp_path, WEBEX_ANALYTICS_BASE_URL=wrong)
        with pytest.raises(WebexRunStopped) as stopped:
            run_backfill(settings, now - timedelta(hours=4), now, config=fast(settings))
    assert "404" in str(stopped.value) and "WEBEX_ANALYTICS_BASE_URL" in str(stopped.value)
    assert stopped.value.report.cdr.windows == 0


def test_wrong_region_451_switches_to_the_named_host_once(make_settings, data_dir, tmp_path):
    now = datetime.now(UTC)
    rows = cdr_fixture(now, 400, oldest=timedelta(hours=20), newest=timedelta(hours=1), seed=3)
    write_cdr_files(data_dir, rows)
    with run_sandbox(data_dir, time_scale=TIME_SCALE) as sandbox:
        settings = webex_settings(make_settings, sandbox, tmp_path,
                                  WEBEX_ANALYTICS_BASE_URL=sandbox.base_urls.webex_analytics_other_region)
        report = run_backfill(settings, now - timedelta(hours=25), now, config=fast(settings))
        responses = sandbox.stats.snapshot()["responses"]
        # the next run remembers the host (each detour costs an initial request: a minute)
        again = run_backfill(settings, now - timedelta(hours=25), now, config=fast(settings))
        after = sandbox.stats.snapshot()["responses"]
    assert report.client["region_switches"] == 1
    assert responses.get("webex.cdr_feed 451") == 1  # later windows go straight to the right host
    assert again.client["region_switches"] == 0 and after.get("webex.cdr_feed 451") == 1
    assert_exactly_once(settings, [r for _, r in rows])


def test_stream_polls_empty_windows_new_records_and_newer_versions(make_settings, data_dir, tmp_path):
    import random

    now0 = datetime.now(UTC)
    rng = random.Random(9)
    first = cdr_fixture(now0, 300, oldest=timedelta(hours=5), newest=timedelta(hours=4), seed=4,
                        insert_delay=timedelta(minutes=30))
    # Inserted just after the first poll's cursor: only the second poll sees them.
    cursor = now0 - RULES[STREAM].min_age - END_MARGIN
    late = cursor + timedelta(seconds=1)
    second = [(late, r) for _, r in cdr_fixture(now0, 200, oldest=timedelta(minutes=100),
                                                newest=timedelta(minutes=20), seed=5)]
    updated = [(late, {**r, "Report time": iso(now0 - timedelta(minutes=30)), "Hold duration": 999})
               for _, r in first[:10]]  # Webex re-reports 10 records with a newer Report time
    stale = []
    for _, record in first[10:15]:  # and 5 older versions arrive late: they must not win
        start = datetime.fromisoformat(record["Start time"].replace("Z", "+00:00"))
        reported = datetime.fromisoformat(record["Report time"].replace("Z", "+00:00"))
        stale.append((late, cdr_record(rng, start, report_id=record["Report ID"],
                                       report_time=reported - timedelta(minutes=1))))
    write_cdr_files(data_dir, first + second + updated + stale)
    write_directory(data_dir)
    with run_sandbox(data_dir, time_scale=TIME_SCALE) as sandbox:
        settings = webex_settings(make_settings, sandbox, tmp_path)
        r1 = run_poll(settings, config=fast(settings), now=lambda: now0)
        assert r1.cdr.loaded == 300 and r1.client["empty_windows"] >= 3  # 12 h of stream, data in 2 h of it
        assert r1.people.loaded == 7 and r1.locations.loaded == 2
        assert_exactly_once(settings, [r for _, r in first])

        # 3 s later: the second poll's stream reaches past `late` (and is still 1 min old by the sandbox's clock)
        r2 = run_poll(settings, config=fast(settings), now=lambda: now0 + timedelta(seconds=3))
    # Only what was inserted after the cursor is read; the directory is not polled again within the hour.
    assert r2.cdr.records_read == 200 + 10 + 5
    assert r2.cdr.loaded == 210 and r2.cdr.skipped_duplicate == 5
    assert r2.people.records_read == 0
    expected = [r for _, r in first[10:] + second + updated]
    assert_exactly_once(settings, expected)
    with duckdb.connect(str(settings.warehouse.duckdb_path), read_only=True) as con:
        assert con.execute("select count(*) from raw_webex.cdr where hold_duration = 999").fetchall()[0][0] == 10
        people = con.sql("select person_uuid, id, location_uuid from raw_webex.people").fetchall()
    assert all(p[0] == webex_id_to_uuid(p[1]) and len(p[0]) == 36 and p[2] for p in people)


def test_a_poll_after_a_days_long_outage_loads_the_stream_then_the_gap_and_resumes_a_gap_left_part_way(
        make_settings, data_dir, tmp_path):
    """The poller last ran two days ago (the sandbox's clock set back to replay it). The next poll
    finds its cursor past the stream's 12 h: it loads the last 12 h from cdr_stream, then the gap
    from cdr_feed, which filters on Start time. A call started 40 min before the old cursor and
    inserted after it is in neither the stream nor a gap taken from the cursor itself. The
    poll stops on its second feed window (a 400 the test arms); the next poll resumes the gap."""
    import random

    now = datetime.now(UTC)
    outage = timedelta(days=2)
    before = cdr_fixture(now - outage, 60, oldest=timedelta(hours=6), newest=timedelta(hours=1), seed=21)
    cursor = now - outage - RULES[STREAM].min_age - END_MARGIN  # where the first poll leaves the stream
    long_call = cdr_record(random.Random(22), cursor - timedelta(minutes=40))
    during = cdr_fixture(now, 200, oldest=outage - timedelta(minutes=10), newest=timedelta(hours=13), seed=23,
                         insert_delay=timedelta(minutes=3))
    recent = cdr_fixture(now, 80, oldest=timedelta(hours=11), newest=timedelta(hours=1), seed=24)
    rows = before + [(cursor + timedelta(minutes=1), long_call)] + during + recent
    write_cdr_files(data_dir, rows)
    write_directory(data_dir)
    with run_sandbox(data_dir, time_scale=TIME_SCALE) as sandbox:
        settings = webex_settings(make_settings, sandbox, tmp_path)
        sandbox.clock.offset_seconds = -outage.total_seconds()
        first = run_poll(settings, config=fast(settings), now=lambda: now - outage)
        assert first.stream_cursor == cursor.replace(microsecond=cursor.microsecond // 1000 * 1000).isoformat()
        assert first.cdr.loaded == len(before)

        sandbox.clock.offset_seconds = 0
        sandbox.faults.set("webex.cdr_feed", "server_error", status=400, after=1)
        with pytest.raises(WebexRunStopped) as stopped:
            run_poll(settings, config=fast(settings), now=lambda: now)
        report = stopped.value.report
        # the stream's 12 h in 2 h windows, then one of the gap's; or none of the gap's when the
        # first feed request met a 429 (the sandbox's rate minute is scaled down, so its budget and
        # the client's can part by a request): the fault's `after` counts that refused request too
        assert report.cdr.read_by_source["cdr_stream"] == len(recent)
        assert report.cdr.windows in (6, 6 + 1)
        assert report.cdr.windows == 6 + 1 or report.client["rate_limited_429"] > 0
        assert {r["Report ID"] for r in stored(settings).values()} >= {r["Report ID"] for _, r in recent}

        resumed = run_poll(settings, config=fast(settings), now=lambda: now + timedelta(seconds=3))
    assert not resumed.errors
    feed_windows = resumed.cdr.read_by_source.get("cdr_feed", 0)
    assert feed_windows > 0 and resumed.cdr.unavailable == []
    assert_exactly_once(settings, [r for _, r in rows])


def test_a_5xx_asking_for_a_day_is_retried_after_the_longest_wait_the_client_allows(make_settings, data_dir, tmp_path):
    now = datetime.now(UTC)
    rows = cdr_fixture(now, 40, oldest=timedelta(hours=3), newest=timedelta(hours=1), seed=25)
    write_cdr_files(data_dir, rows)
    faults = [Fault("webex.cdr_feed", "server_error", count=2, status=503, retry_after="86400")]
    with run_sandbox(data_dir, time_scale=TIME_SCALE, faults=faults) as sandbox, httpx.Client() as http:
        config = fast(webex_settings(make_settings, sandbox, tmp_path))
        client = config.build_client(http)
        client.max_retry_after, slept = 0.01, []
        client.sleep = slept.append  # the client's clock, not the network: the waits it chose are the point
        window = plan_feed(now - timedelta(hours=4), now, now).windows[0]
        records = [item for page in client.cdr_pages(window, max_records=500) for item in page.items]
    assert slept == [0.01, 0.01]
    assert sorted(r["Report ID"] for r in records) == sorted(r["Report ID"] for _, r in rows)


def test_a_directory_the_token_may_not_read_does_not_stop_the_cdrs(make_settings, data_dir, tmp_path, caplog):
    """A token with the CDR scope only (the one scope a CDR integration strictly needs): /people
    and /locations answer 403. The poll loads every CDR, reports the directory as unavailable
    and succeeds, so the models built from the CDRs are not held back; the next poll asks again."""
    now = datetime.now(UTC)
    rows = cdr_fixture(now, 120, oldest=timedelta(hours=5), newest=timedelta(hours=3), seed=12,
                       insert_delay=timedelta(minutes=30))
    write_cdr_files(data_dir, rows)
    write_directory(data_dir)
    with run_sandbox(data_dir, time_scale=TIME_SCALE,
                     credentials={"webex_scopes": "spark-admin:calling_cdr_read"}) as sandbox:
        settings = webex_settings(make_settings, sandbox, tmp_path)
        with caplog.at_level(logging.WARNING, logger="pipelines.webex.source"):
            report = run_poll(settings, config=fast(settings), now=lambda: now)
            again = run_poll(settings, config=fast(settings), now=lambda: now + timedelta(seconds=3))
    assert not report.errors and report.cdr.loaded == len(rows)
    assert_exactly_once(settings, [r for _, r in rows])
    for counts in (report.people, report.locations):
        assert counts.loaded == 0 and counts.balanced
        assert len(counts.unavailable) == 1 and "403" in counts.unavailable[0]
    assert "unavailable" in caplog.text
    assert len(again.people.unavailable) == 1  # asked again, not remembered as loaded


def test_dead_refresh_token_stops_with_what_to_do_and_tokens_are_never_logged(make_settings, data_dir, tmp_path, caplog):
    now = datetime.now(UTC)
    rows = cdr_fixture(now, 50, oldest=timedelta(hours=3), newest=timedelta(hours=1), seed=6)
    write_cdr_files(data_dir, rows)
    caplog.set_level(logging.DEBUG)
    with run_sandbox(data_dir, time_scale=TIME_SCALE) as sandbox:
        settings = webex_settings(make_settings, sandbox, tmp_path)
        first_refresh_token = sandbox.credentials.webex_refresh_token
        run_backfill(settings, now - timedelta(hours=4), now, config=fast(settings))
        token_file = settings.webex_token_file
        assert stat.S_IMODE(os.stat(token_file).st_mode) == 0o600
        saved = orjson.loads(token_file.read_bytes())
        assert saved["refresh_token"] != first_refresh_token  # the rotated token was persisted
        secrets = {first_refresh_token, saved["refresh_token"], saved["access_token"],
                   sandbox.credentials.webex_client_secret}

        sandbox.tokens.expire_refresh_token()
        sandbox.expire_access_tokens()
        with pytest.raises(WebexRunStopped) as error:
            run_backfill(settings, now - timedelta(hours=4), now, config=fast(settings))
    assert isinstance(error.value.cause, WebexAuthError)
    message = str(error.value)
    assert "WEBEX_REFRESH_TOKEN" in message and "authorised again" in message
    text = caplog.text + message + repr(error.value)
    assert caplog.text  # something was logged (requests, refreshes, dlt)
    for secret in secrets:
        assert secret not in text
    assert not [p for p in tmp_path.rglob("*") if p.is_file() and p != token_file
                and any(s.encode() in p.read_bytes() for s in secrets if p.stat().st_size < 5_000_000)]


def test_unconfigured_webex_gives_empty_typed_tables_and_control_hub_csv_still_loads(make_settings, tmp_path):
    drop = tmp_path / "control_hub"
    drop.mkdir()
    settings = make_settings(WEBEX_CONTROL_HUB_DIR=str(drop), WEBEX_CLIENT_ID="", WEBEX_CLIENT_SECRET="",
                             WEBEX_REFRESH_TOKEN="")
    report = run_poll(settings)
    assert report.cdr.records_read == 0
    with duckdb.connect(str(settings.warehouse.duckdb_path), read_only=True) as con:
        def columns(table):
            return [r[0] for r in con.sql(f"describe raw_webex.{table}").fetchall()]
        assert set(CDR_COLUMNS) <= set(columns("cdr"))
        assert set(PEOPLE_COLUMNS) <= set(columns("people"))
        assert set(LOCATION_COLUMNS) <= set(columns("locations"))
        assert {"reason", "raw_text", "_source"} <= set(columns("cdr_rejects"))
        types = dict(con.sql("select column_name, data_type from information_schema.columns "
                             "where table_schema = 'raw_webex' and table_name = 'cdr'").fetchall())
    assert types["start_time"] == "TIMESTAMP WITH TIME ZONE" and types["answered"] == "BOOLEAN"
    assert types["duration"] == "BIGINT"

    (drop / "export-1.csv").write_text(
        "Report ID,Report time,Start time,Answered,Duration,Calling number\n"
        "h1,2026-10-01T10:05:00.000Z,2026-10-01T10:00:00.000Z,true,30,3001234567\n"
        "h2,2026-10-01T11:05:00.000Z,2026-10-01T11:00:00.000Z,false,0,NA\n"
        ",2026-10-01T11:05:00.000Z,2026-10-01T11:00:00.000Z,false,0,\n", encoding="utf-8")
    report = run_poll(settings)
    assert (report.cdr.records_read, report.cdr.loaded, report.cdr.rejected) == (3, 2, 1)
    assert run_poll(settings).cdr.records_read == 0  # a file already read is not read again
    with duckdb.connect(str(settings.warehouse.duckdb_path), read_only=True) as con:
        assert con.sql("select report_id, _source, _source_file from raw_webex.cdr order by 1").fetchall() == [
            ("h1", "control_hub_csv", "export-1.csv"), ("h2", "control_hub_csv", "export-1.csv")]
        assert con.sql("select reason from raw_webex.cdr_rejects").fetchall() == [("missing Report ID",)]

    # exports as downloaded: a ZIP archive of CSVs (one holding a newer version of h1), a .csv.gz
    header = "Report ID,Report time,Start time,Answered,Duration\n"
    with zipfile.ZipFile(drop / "Detailed Call History.zip", "w") as archive:
        archive.writestr("part-1.csv", header + "h1,2026-10-01T12:00:00.000Z,2026-10-01T10:00:00.000Z,true,31\n")
        archive.writestr("part-2.csv", header + "h3,2026-10-02T10:05:00.000Z,2026-10-02T10:00:00.000Z,true,5\n")
        archive.writestr("readme.txt", "not a table")
    (drop / "EXPORT-2.CSV.GZ").write_bytes(gzip.compress(
        (header + "h4,2026-10-03T10:05:00.000Z,2026-10-03T10:00:00.000Z,false,0\n").encode()))
    report = run_poll(settings)
    assert (report.cdr.records_read, report.cdr.loaded, report.cdr.files) == (3, 3, 2)
    with duckdb.connect(str(settings.warehouse.duckdb_path), read_only=True) as con:
        assert con.sql("select report_id, duration, _source_file from raw_webex.cdr order by 1").fetchall() == [
            ("h1", 31, "Detailed Call History.zip/part-1.csv"), ("h2", 0, "export-1.csv"),
            ("h3", 5, "Detailed Call History.zip/part-2.csv"), ("h4", 0, "EXPORT-2.CSV.GZ")]


def test_partial_webex_configuration_names_the_missing_setting(make_settings):
    from switchboard.settings import SettingsError

    settings = make_settings(WEBEX_CLIENT_ID="abc", WEBEX_CLIENT_SECRET="", WEBEX_REFRESH_TOKEN="")
    with pytest.raises(SettingsError, match="WEBEX_CLIENT_SECRET"):
        WebexConfig.from_settings(settings)


@pytest.mark.postgres
def test_backfill_into_postgres(make_settings, data_dir, tmp_path, postgres_url, monkeypatch):
    import psycopg2

    import pipelines.webex.source as source

    now = datetime.now(UTC)
    rows = cdr_fixture(now, 700, oldest=timedelta(hours=10), newest=timedelta(hours=1), seed=8)
    # a NUL in a name: Postgres' text cannot hold one, and it failed the whole load (parity audit)
    rows[3][1]["User"] = "Paula\x00 Arias"
    write_cdr_files(data_dir, rows)
    with run_sandbox(data_dir, time_scale=TIME_SCALE) as sandbox:
        settings = webex_settings(make_settings, sandbox, tmp_path, SWITCHBOARD_WAREHOUSE_URL=postgres_url)
        report = run_backfill(settings, now - timedelta(hours=11), now, config=fast(settings))
        sandbox.reset_rate_limits()
        again = run_backfill(settings, now - timedelta(hours=11), now, config=fast(settings))
    assert report.cdr.loaded == 700 and again.cdr.loaded == 0

    def stored_rows() -> dict:
        with psycopg2.connect(settings.warehouse.postgres_dsn()) as con, con.cursor() as cur:
            cur.execute("select report_id, raw_record, start_time from raw_webex.cdr")
            got = cur.fetchall()
        assert all(r[2].tzinfo is not None for r in got)
        assert len({r[0] for r in got}) == len(got)
        return {r[0]: orjson.loads(r[1]) for r in got}

    assert stored_rows() == {r["Report ID"]: r for _, r in rows}  # the raw record keeps the NUL, escaped
    with psycopg2.connect(settings.warehouse.postgres_dsn()) as con, con.cursor() as cur:
        cur.execute("select \"user\" from raw_webex.cdr where report_id = %s", (rows[3][1]["Report ID"],))
        assert cur.fetchone() == ("Paula Arias",)

    # Webex re-reports 20 records; the run's Arrow batches go to dlt as appends until
    # the one lookup of their IDs, at the end, finds stored rows: every batch is then merged
    monkeypatch.setattr(source, "CDR_BATCH_ROWS", 150)
    monkeypatch.setattr(source, "STORED_LOOKUP_IDS", 10**9)
    updated = [(i, {**r, "Report time": iso(now - timedelta(minutes=20)), "Hold duration": 999}) for i, r in rows[-20:]]
    write_cdr_files(data_dir, rows + updated)
    with run_sandbox(data_dir, time_scale=TIME_SCALE, credentials=rotated_credentials(settings)) as sandbox:
        settings = webex_settings(make_settings, sandbox, tmp_path, SWITCHBOARD_WAREHOUSE_URL=postgres_url)
        third = run_backfill(settings, now - timedelta(hours=11), now, config=fast(settings))
    assert third.cdr.loaded == 20
    assert stored_rows() == {r["Report ID"]: r for _, r in rows} | {r["Report ID"]: r for _, r in updated}


def test_a_second_run_of_the_pipeline_waits_for_the_first_instead_of_dropping_its_package(
        make_settings, data_dir, tmp_path):
    """Every run drops its pipeline's working folder as it starts; two backfills started together
    once deleted each other's load package and both failed. A run now holds the pipeline's lock
    from that drop to the end of its load: here another run holds it, and the backfill waits."""
    import threading

    from pipelines.file_lock import FileLock
    from pipelines.webex.pipeline import webex_pipeline

    now = datetime.now(UTC)
    rows = cdr_fixture(now, 300, oldest=timedelta(hours=10), newest=timedelta(hours=1), seed=5)
    write_cdr_files(data_dir, rows)
    with run_sandbox(data_dir, time_scale=TIME_SCALE) as sandbox:
        settings = webex_settings(make_settings, sandbox, tmp_path)
        working = Path(webex_pipeline(settings, "webex_backfill").working_dir)
        other_runs_file = working / "load" / "other_run_package"
        other_runs_file.parent.mkdir(parents=True, exist_ok=True)
        other_runs_file.write_text("the package of the run holding the lock")
        done: dict = {}
        with FileLock(working.with_name(".webex_backfill.lock")):
            waiting = threading.Thread(target=lambda: done.update(
                report=run_backfill(settings, now - timedelta(hours=11), now, config=fast(settings))))
            waiting.start()
            waiting.join(timeout=3)
            assert waiting.is_alive() and other_runs_file.exists()  # neither started nor dropped anything
        waiting.join(timeout=120)
    assert done["report"].cdr.loaded == len(rows)
    assert not other_runs_file.exists()  # dropped once the lock was its own
    assert_exactly_once(settings, [r for _, r in rows])
