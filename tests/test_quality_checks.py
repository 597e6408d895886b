"""The Great Expectations suites (assets/quality.py) on real DuckDB tables and real GX: each one
fails on the rows that break it, and the suites of growing tables read only the newest write."""

from __future__ import annotations

from datetime import datetime

import duckdb
import pytest

from assets import quality
from assets.quality import SUITES, batch_ranges, run_suite
from resources.warehouse import WarehouseResource

SUITE = {suite.name: suite for suite in SUITES}
OLD_RUN = datetime(2026, 12, 1, 8, 0)
NEW_RUN = datetime(2026, 12, 1, 8, 15)


class Warehouse:
    """A DuckDB file the test writes (a connection per write: the suite opens it read-only)."""

    def __init__(self, path) -> None:
        self.path = str(path)
        self.resource = WarehouseResource(url=f"duckdb:///{path}")
        self.execute("create schema marts; create schema raw_asterisk")

    def execute(self, sql: str, rows: list[tuple] | None = None) -> None:
        with duckdb.connect(self.path) as con:
            con.executemany(sql, rows) if rows is not None else con.execute(sql)


@pytest.fixture
def warehouse(tmp_path) -> Warehouse:
    return Warehouse(tmp_path / "warehouse.duckdb")


def _visits(warehouse: Warehouse, rows: list[tuple]) -> None:
    warehouse.execute(
        "create or replace table marts.fct_queue_visits (visit_id text, outcome text, wait_seconds bigint, "
        "talk_seconds bigint, entered_at timestamp, ended_at timestamp, dbt_refreshed_at timestamp)"
    )
    warehouse.execute("insert into marts.fct_queue_visits values (?, ?, ?, ?, ?, ?, ?)", rows)


def _run(suite_name: str, warehouse: Warehouse) -> tuple[bool, int, dict[str, int]]:
    """(passed, rows checked, {expectation:column: rows that broke it}) of one suite."""
    result = run_suite(SUITE[suite_name], warehouse.resource)
    failed = {f"{f['expectation']}:{f['column'] or ''}": f["unexpected"] for f in result.metadata["failed_expectations"].value}
    return result.passed, result.metadata["rows_checked"].value, failed


T0 = datetime(2026, 12, 1, 7, 0)
T1 = datetime(2026, 12, 1, 7, 1)


@pytest.mark.parametrize(("counts", "limit", "ranges"), [
    ([], 10, []),
    ([("a", 4), ("b", 4), ("c", 4)], 10, [("a", "b"), ("c", "c")]),
    ([("a", 4), ("b", 6), ("c", 1)], 10, [("a", "b"), ("c", "c")]),
    # a key with more rows than the limit is a batch of its own, never split
    ([("a", 3), ("b", 25), ("c", 3)], 10, [("a", "a"), ("b", "b"), ("c", "c")]),
    ([("a", 1), ("b", 1), ("c", 1)], 1, [("a", "a"), ("b", "b"), ("c", "c")]),
])
def test_batch_ranges_hold_whole_keys_in_order_up_to_the_limit(counts, limit, ranges):
    assert batch_ranges(counts, limit) == ranges


@pytest.fixture(params=[quality.BATCH_ROWS, 1], ids=["one batch", "a batch per key value"])
def batch_rows(request, monkeypatch):
    """Every suite must find the same rows whether it reads the table at once or in batches."""
    monkeypatch.setattr(quality, "BATCH_ROWS", request.param)
    return request.param


def test_visit_suite_reads_only_the_newest_dbt_run_and_fails_on_its_bad_rows(warehouse, batch_rows):
    good_new = [
        ("v3", "answered", 10, 100, T0, T1, NEW_RUN),
        ("v4", "abandoned", 3, None, T0, T1, NEW_RUN),
    ]
    # an older run's row that breaks three rules: the run that wrote it reported it
    bad_old = ("v1", "abandoned", -4, 30, T1, T0, OLD_RUN)
    _visits(warehouse, [bad_old, ("v2", "answered", 5, 50, T0, T1, OLD_RUN), *good_new])
    assert _run("fct_queue_visits_expectations", warehouse) == (True, 2, {})

    # the newest run wrote a visit with an unknown outcome, a negative wait, talk time without an
    # answer, an end before its entry, and the id of another of its visits; and one without an id
    # (its own dbt test reports that) with an unknown outcome too
    _visits(warehouse, [bad_old, *good_new, ("v3", "lost", -1, 20, T1, T0, NEW_RUN),
                        (None, "gone", 0, None, T0, T1, NEW_RUN)])
    passed, rows, failed = _run("fct_queue_visits_expectations", warehouse)
    assert (passed, rows) == (False, 4)
    assert failed == {
        "expect_column_values_to_be_unique:visit_id": 2,
        "expect_column_values_to_be_in_set:outcome": 2,
        "expect_column_values_to_be_between:wait_seconds": 1,
        "expect_column_values_to_be_null:talk_seconds": 1,
        "expect_column_pair_values_a_to_be_greater_than_b:": 1,
    }


def test_daily_queue_figures_that_do_not_add_up_fail_the_reconciliation(warehouse):
    warehouse.execute(
        "create table marts.agg_queue_daily (queue text, offered bigint, answered bigint, abandoned bigint, "
        "short_abandons bigint, timeouts bigint, other_unanswered bigint, open_visits bigint, "
        "answered_within_sl bigint, service_level double, abandon_rate double)"
    )
    # ventas adds up (5 = 3 + 2 + 0 + 0 + 0); soporte offers 4 but its outcomes count 3, and it
    # claims more short abandons than abandons
    warehouse.execute(
        "insert into marts.agg_queue_daily values "
        "('ventas', 5, 3, 2, 1, 0, 0, 0, 2, 0.5, 0.25), ('soporte', 4, 1, 1, 2, 1, 0, 0, 1, 0.25, 0.0)"
    )
    passed, rows, failed = _run("agg_queue_daily_reconciles", warehouse)
    assert (passed, rows) == (False, 2)
    assert failed == {
        "expect_column_pair_values_to_be_equal:": 1,
        "expect_column_pair_values_a_to_be_greater_than_b:": 1,
    }


def test_raw_suite_checks_the_newest_load_for_lines_read_twice(warehouse, batch_rows):
    warehouse.execute(
        "create table raw_asterisk.queue_log (source_stream text, line_no bigint, event_epoch bigint, event text, "
        "loaded_at timestamp)"
    )
    epoch = 1_764_576_000
    # the older load holds a line twice; the newest one is clean
    warehouse.execute(
        "insert into raw_asterisk.queue_log values "
        f"('s1', 1, {epoch}, 'QUEUESTART', '{OLD_RUN}'), ('s1', 1, {epoch}, 'QUEUESTART', '{OLD_RUN}'), "
        f"('s1', 2, {epoch + 5}, 'ADDMEMBER', '{NEW_RUN}'), ('s1', 3, {epoch + 6}, 'PAUSE', '{NEW_RUN}'), "
        f"('s2', 7, {epoch + 6}, 'PAUSE', '{NEW_RUN}')"
    )
    assert _run("raw_queue_log_expectations", warehouse) == (True, 3, {})

    # the newest load read line 3 again, and a line past the first million with a date in 1970
    warehouse.execute(
        "insert into raw_asterisk.queue_log values "
        f"('s1', 3, {epoch + 6}, 'PAUSE', '{NEW_RUN}'), ('s1', 1000004, 60, 'UNPAUSE', '{NEW_RUN}')"
    )
    passed, rows, failed = _run("raw_queue_log_expectations", warehouse)
    assert (passed, rows) == (False, 5)
    batches = run_suite(SUITE["raw_queue_log_expectations"], warehouse.resource).metadata["batches"].value
    assert batches == (1 if batch_rows > 1 else 3)  # s1's first million lines, s1's next, s2's
    assert failed == {
        "expect_compound_columns_to_be_unique:": 2,
        "expect_column_values_to_be_between:event_epoch": 1,
    }


def test_agent_suite_allows_the_25_hour_day_and_no_more(warehouse):
    warehouse.execute(
        "create table marts.agg_agent_daily (agent text, day date, logged_in_seconds bigint, "
        "paused_seconds bigint, occupancy double)"
    )
    # Omar was logged in and paused the whole of the day New York leaves daylight saving (25 h);
    # Ada's 25 h and one second cannot fit in any local day
    warehouse.execute(
        "insert into marts.agg_agent_daily values "
        "('Omar', '2024-11-03', 90000, 90000, 0.0), ('Ada', '2024-11-04', 90001, 0, 0.1)"
    )
    passed, rows, failed = _run("agg_agent_daily_expectations", warehouse)
    assert (passed, rows) == (False, 2)
    assert failed == {"expect_column_values_to_be_between:logged_in_seconds": 1}
