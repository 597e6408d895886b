"""The analysts' app: query functions on a hand-built serving copy, and the page via AppTest.

Expected numbers are worked out by hand from the rows below (SL threshold 20 s, short
abandon ≤ 5 s), not recomputed with the code under test.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import date, datetime
from pathlib import Path

import duckdb
import pandas as pd
import polars as pl
import pytest
import streamlit as st
from streamlit.testing.v1 import AppTest

from streamlit_app import queries as q
from streamlit_app.formatting import DASH, fmt_count, fmt_days, fmt_duration, fmt_pct
from streamlit_app.views.widgets import seconds_to_timedelta

APP = str(Path(__file__).resolve().parents[1] / "streamlit_app" / "app.py")
TZ = "America/Bogota"  # UTC-5, no DST

FCT_COLUMNS = {
    "visit_id": "VARCHAR",
    "platform": "VARCHAR",
    "pbx": "VARCHAR",
    "call_id": "VARCHAR",
    "queue": "VARCHAR",
    "entered_at": "TIMESTAMPTZ",
    "connected_at": "TIMESTAMPTZ",
    "ended_at": "TIMESTAMPTZ",
    "caller_number": "VARCHAR",
    "did": "VARCHAR",
    "outcome": "VARCHAR",
    "is_short_abandon": "BOOLEAN",
    "agent": "VARCHAR",
    "agent_key": "VARCHAR",
    "wait_seconds": "DOUBLE",
    "talk_seconds": "DOUBLE",
    "wrapup_seconds": "BIGINT",
    "hold_seconds": "BIGINT",
    "ring_attempts": "INTEGER",
    "ring_no_answer_count": "INTEGER",
    "transferred": "BOOLEAN",
    "position_at_entry": "INTEGER",
    "entered_date": "DATE",
    "entered_interval_start": "TIMESTAMP",
}
QUEUE_AGG_MEASURES = {
    "offered": "BIGINT",
    "answered": "BIGINT",
    "abandoned": "BIGINT",
    "short_abandons": "BIGINT",
    "timeouts": "BIGINT",
    "other_unanswered": "BIGINT",
    "open_visits": "BIGINT",
    "answered_within_sl": "BIGINT",
    "service_level": "DOUBLE",
    "asa_seconds": "DOUBLE",
    "avg_wait_seconds": "DOUBLE",
    "max_wait_seconds": "DOUBLE",
    "avg_talk_seconds": "DOUBLE",
    "aht_seconds": "DOUBLE",
    "transfers": "BIGINT",
    "abandon_rate": "DOUBLE",
}
AGENT_DAILY_COLUMNS = {
    "platform": "VARCHAR",
    "agent": "VARCHAR",
    "agent_key": "VARCHAR",
    "day": "DATE",
    "answered": "BIGINT",
    "talk_seconds": "DOUBLE",
    "wrapup_seconds": "BIGINT",
    "ring_no_answer": "BIGINT",
    "transfers": "BIGINT",
    "logged_in_seconds": "DOUBLE",
    "paused_seconds": "DOUBLE",
    "occupancy": "DOUBLE",
}
AGENT_QUEUE_DAILY_COLUMNS = {
    "platform": "VARCHAR",
    "queue": "VARCHAR",
    "agent": "VARCHAR",
    "agent_key": "VARCHAR",
    "day": "DATE",
    "answered": "BIGINT",
    "talk_seconds": "BIGINT",
    "wrapup_seconds": "BIGINT",
    "ring_no_answer": "BIGINT",
    "transfers": "BIGINT",
    "member_seconds": "BIGINT",
}
PAUSE_COLUMNS = {
    "platform": "VARCHAR",
    "agent": "VARCHAR",
    "agent_key": "VARCHAR",
    "day": "DATE",
    "reason": "VARCHAR",
    "pauses": "BIGINT",
    "paused_seconds": "DOUBLE",
}


def visit(
    vid,
    queue,
    local_entry,
    outcome,
    wait,
    talk=None,
    agent=None,
    short=False,
    transferred=False,
    wrapup=None,
    hold=None,
    platform="asterisk",
    agent_key=None,
):
    """One fct_queue_visits row (agent_key: the lower-cased name unless given); `local_entry` is wall-clock time in Bogotá (UTC-5)."""
    entered_local = datetime.fromisoformat(local_entry)
    minute = entered_local.minute - entered_local.minute % 15
    return {
        "visit_id": vid,
        "platform": platform,
        "pbx": "pbx1",
        "call_id": f"c{vid}",
        "queue": queue,
        "entered_at": local_entry + "-05:00",
        "connected_at": None,
        "ended_at": None,
        "caller_number": "+573001234567",
        "did": "+5716000000",
        "outcome": outcome,
        "is_short_abandon": short,
        "agent": agent,
        "agent_key": agent_key or (agent.lower() if agent else None),
        "wait_seconds": wait,
        "talk_seconds": talk,
        "wrapup_seconds": wrapup,
        "hold_seconds": hold,
        "ring_attempts": 1,
        "ring_no_answer_count": 0,
        "transferred": transferred,
        "position_at_entry": 1,
        "entered_date": entered_local.date(),
        "entered_interval_start": entered_local.replace(minute=minute, second=0),
    }


# Default range is the last 7 days with data: 2025-03-06 … 2025-03-12. Visit 10 is older.
VISITS = [
    visit("1", "sales", "2025-03-12 09:05:00", "answered", 10, 100, "alice"),
    visit("2", "sales", "2025-03-12 09:10:00", "answered", 30, 200, "alice", transferred=True),
    visit("3", "sales", "2025-03-12 09:20:00", "abandoned", 3, short=True),
    visit("4", "sales", "2025-03-12 10:05:00", "abandoned", 40),
    visit("5", "sales", "2025-03-12 10:07:00", "open", None),
    visit("6", "sales", "2025-03-12 10:08:00", "answered", 20, None, "carol"),  # still talking
    visit("7", "support", "2025-03-11 14:00:00", "answered", 5, 300, "bob"),
    visit("8", "support", "2025-03-11 14:20:00", "timeout", 60),
    visit("9", "support", "2025-03-11 14:25:00", "abandoned", 15),
    visit("10", "sales", "2025-03-01 09:00:00", "answered", 50, 60, "alice"),
]

AGENT_DAILY = [
    # platform, agent, day, answered, talk, wrap-up, rna, transfers, logged_in, paused, occupancy
    ("asterisk", "alice", date(2025, 3, 12), 2, 300.0, 0, 1, 1, 3600.0, 600.0, 0.1),
    ("asterisk", "carol", date(2025, 3, 12), 1, 0.0, 0, 0, 0, 1200.0, 200.0, 0.0),
    ("asterisk", "bob", date(2025, 3, 11), 1, 300.0, 0, 2, 0, 1800.0, 0.0, 300 / 1800),
    ("asterisk", "alice", date(2025, 3, 1), 1, 60.0, 0, 0, 0, 1000.0, 0.0, 0.06),
]
AGENT_QUEUE_DAILY = [
    # platform, queue, agent, day, answered, talk, wrap-up, rna, transfers, member seconds
    ("asterisk", "sales", "alice", date(2025, 3, 12), 2, 300, 0, 1, 1, 3600),
    ("asterisk", "sales", "carol", date(2025, 3, 12), 1, 0, 0, 0, 0, 1200),
    ("asterisk", "support", "carol", date(2025, 3, 12), 0, 0, 0, 0, 0, 600),  # idle member
    ("asterisk", "support", "bob", date(2025, 3, 11), 1, 300, 0, 2, 0, 1800),
    ("asterisk", "sales", "alice", date(2025, 3, 1), 1, 60, 0, 0, 0, 1000),
]
PAUSES = [
    ("asterisk", "alice", date(2025, 3, 12), "lunch", 1, 400.0),
    ("asterisk", "alice", date(2025, 3, 12), "training", 1, 200.0),
    ("asterisk", "carol", date(2025, 3, 12), "lunch", 1, 200.0),
    ("asterisk", "alice", date(2025, 3, 1), "lunch", 3, 999.0),  # outside the default range
]


def _create(con, table: str, columns: dict[str, str]) -> None:
    con.execute(f"CREATE TABLE {table} ({', '.join(f'{c} {t}' for c, t in columns.items())})")


def _with_agent_key(row: tuple, columns: dict[str, str]) -> tuple:
    """A (platform, agent, …) row with its agent_key after the agent: the lower-cased name,
    unless the row already carries one."""
    return row if len(row) == len(columns) else (row[0], row[1], row[1].lower(), *row[2:])


def build_serving(path: Path, visits=VISITS, agents=AGENT_DAILY, pauses=PAUSES,
                  agent_queues=AGENT_QUEUE_DAILY) -> Path:
    """A serving copy holding the given marts rows; agent_queues=None leaves out
    agg_agent_queue_daily, as in a copy published before it existed."""
    with duckdb.connect(str(path)) as con:
        con.execute("CREATE SCHEMA marts")
        _create(con, "marts.fct_queue_visits", FCT_COLUMNS)
        _create(
            con,
            "marts.agg_queue_daily",
            {"platform": "VARCHAR", "queue": "VARCHAR", "day": "DATE", **QUEUE_AGG_MEASURES},
        )
        _create(
            con,
            "marts.agg_queue_interval",
            {
                "platform": "VARCHAR",
                "queue": "VARCHAR",
                "interval_start": "TIMESTAMP",
                **QUEUE_AGG_MEASURES,
            },
        )
        _create(con, "marts.agg_agent_daily", AGENT_DAILY_COLUMNS)
        _create(con, "marts.agg_agent_pause_daily", PAUSE_COLUMNS)
        cols = list(FCT_COLUMNS)
        marks = ", ".join("?" for _ in cols)
        if visits:
            con.executemany(
                f"INSERT INTO marts.fct_queue_visits VALUES ({marks})",
                [[v[c] for c in cols] for v in visits],
            )
        if agents:
            marks = ", ".join("?" for _ in AGENT_DAILY_COLUMNS)
            con.executemany(f"INSERT INTO marts.agg_agent_daily VALUES ({marks})",
                            [_with_agent_key(row, AGENT_DAILY_COLUMNS) for row in agents])
        if agent_queues is not None:
            _create(con, "marts.agg_agent_queue_daily", AGENT_QUEUE_DAILY_COLUMNS)
        if agent_queues:
            marks = ", ".join("?" for _ in AGENT_QUEUE_DAILY_COLUMNS)
            con.executemany(f"INSERT INTO marts.agg_agent_queue_daily VALUES ({marks})",
                            [(*row[:3], row[2].lower(), *row[3:]) for row in agent_queues])
        if pauses:
            marks = ", ".join("?" for _ in PAUSE_COLUMNS)
            con.executemany(f"INSERT INTO marts.agg_agent_pause_daily VALUES ({marks})",
                            [_with_agent_key(row, PAUSE_COLUMNS) for row in pauses])
    return path


@pytest.fixture
def serving(tmp_path) -> Path:
    return build_serving(tmp_path / "serving.duckdb")


@pytest.fixture
def app_env(monkeypatch, serving):
    monkeypatch.setenv("SWITCHBOARD_SERVING_PATH", str(serving))
    monkeypatch.setenv("SWITCHBOARD_TIMEZONE", TZ)
    monkeypatch.setenv("SWITCHBOARD_SL_SECONDS", "20")
    monkeypatch.setenv("SWITCHBOARD_SHORT_ABANDON_SECONDS", "5")
    st.cache_data.clear()
    return serving


SALES = q.QueueRef("asterisk", "sales")
SUPPORT = q.QueueRef("asterisk", "support")
WEEK = (date(2025, 3, 6), date(2025, 3, 12))


def assert_no_lock(path: Path) -> None:
    """Another process, and this one, can open the file read-write: no reader holds it."""
    code = (
        "import duckdb, sys\n"
        "with duckdb.connect(sys.argv[1]) as con:\n"
        "    con.execute('CREATE TABLE marts.lock_probe AS SELECT 1 AS x')\n"
        "    con.execute('DROP TABLE marts.lock_probe')\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code, str(path)], capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    with duckdb.connect(str(path)) as con:  # same process, different configuration than read_only
        con.execute("CREATE TABLE marts.lock_probe AS SELECT 1 AS x")
        con.execute("DROP TABLE marts.lock_probe")


# =========================================================================== query functions


def test_overview_bounds_and_queues(serving):
    ov = q.load_overview(serving, TZ)
    assert ov is not None
    assert (ov.min_date, ov.max_date) == (date(2025, 3, 1), date(2025, 3, 12))
    assert ov.queues == (SALES, SUPPORT)
    assert ov.visits == 10
    # latest entry 10:08 Bogotá = 15:08 UTC, shown back in the reporting zone
    assert ov.latest_entry.strftime("%Y-%m-%d %H:%M %z") == "2025-03-12 10:08 -0500"
    assert ov.published_at.utcoffset().total_seconds() == -5 * 3600


def test_overview_missing_empty_and_schemaless(tmp_path):
    assert q.load_overview(tmp_path / "nope.duckdb", TZ) is None
    empty = build_serving(tmp_path / "empty.duckdb", visits=[], agents=[], pauses=[], agent_queues=[])
    assert q.load_overview(empty, TZ) is None
    with duckdb.connect(str(tmp_path / "bare.duckdb")):
        pass
    assert q.load_overview(tmp_path / "bare.duckdb", TZ) is None


def test_kpis_all_queues_default_week(serving):
    k = q.queue_kpis(serving, q.Filters(*WEEK), sl_seconds=20)
    # visits 1–9: answered 1,2,6,7; abandoned 3(short),4,9; open 5; timeout 8
    assert (k.offered, k.answered, k.abandoned, k.short_abandons, k.open_visits) == (9, 4, 3, 1, 1)
    assert k.timeouts == 1 and k.other_unanswered == 0 and k.transfers == 1
    assert k.answered_within_sl == 3  # waits 10, 20 (≤ 20 counts), 5; not 30
    assert k.service_level == pytest.approx(3 / 8)
    assert k.asa_seconds == pytest.approx((10 + 30 + 20 + 5) / 4)
    assert k.aht_seconds == pytest.approx((100 + 200 + 300) / 3)  # visit 6 still talking
    assert k.abandon_rate == pytest.approx(2 / 8)
    assert k.max_wait_seconds == 60


def test_kpis_follow_queue_and_date_filters(serving):
    sales = q.queue_kpis(serving, q.Filters(*WEEK, queues=(SALES,)), 20)
    assert (sales.offered, sales.answered, sales.abandoned, sales.open_visits) == (6, 3, 2, 1)
    assert sales.service_level == pytest.approx(2 / 5)
    assert sales.asa_seconds == pytest.approx(20)
    assert sales.aht_seconds == pytest.approx(150)
    assert sales.abandon_rate == pytest.approx(1 / 5)

    support = q.queue_kpis(serving, q.Filters(*WEEK, queues=(SUPPORT,)), 20)
    assert (support.offered, support.answered, support.abandoned) == (3, 1, 1)
    assert support.service_level == pytest.approx(1 / 3)
    assert support.abandon_rate == pytest.approx(1 / 3)

    everything = q.queue_kpis(serving, q.Filters(date(2025, 3, 1), date(2025, 3, 12)), 20)
    assert everything.offered == 10
    assert everything.service_level == pytest.approx(3 / 9)  # visit 10 waited 50 s
    assert everything.asa_seconds == pytest.approx((65 + 50) / 5)

    # a stricter threshold changes only the SL numerator
    strict = q.queue_kpis(serving, q.Filters(*WEEK), sl_seconds=9)
    assert strict.service_level == pytest.approx(1 / 8)

    none = q.queue_kpis(serving, q.Filters(*WEEK, queues=()), 20)
    assert none.offered == 0 and none.service_level is None and none.asa_seconds is None


def test_selection_kpis_are_not_averaged_ratios(serving):
    # Per-queue service levels 2/5 and 1/3 average to 36.7 %; the selection's is 3/8.
    both = q.queue_kpis(serving, q.Filters(*WEEK, queues=(SALES, SUPPORT)), 20)
    assert both.service_level == pytest.approx(3 / 8)
    assert both == q.queue_kpis(serving, q.Filters(*WEEK), 20)


def test_kpis_from_counts_zero_denominators():
    k = q.kpis_from_counts(q.QueueCounts(offered=2, abandoned=2, short_abandons=2))
    assert k.service_level is None and k.abandon_rate is None
    assert k.asa_seconds is None and k.aht_seconds is None


def test_interval_counts_fill_every_15_minutes(serving):
    df = q.interval_counts(serving, q.Filters(date(2025, 3, 12), date(2025, 3, 12)))
    assert df.height == 96
    assert df["interval_start"][0] == datetime(2025, 3, 12, 0, 0)
    busy = df.filter(pl.col("offered") > 0)
    assert busy.rows() == [
        (datetime(2025, 3, 12, 9, 0), 2, 2, 0),
        (datetime(2025, 3, 12, 9, 15), 1, 0, 1),
        (datetime(2025, 3, 12, 10, 0), 3, 1, 1),
    ]
    week = q.interval_counts(serving, q.Filters(*WEEK, queues=(SUPPORT,)))
    assert week.height == 7 * 96
    assert week["offered"].sum() == 3 and week["abandoned"].sum() == 1

    profile = q.time_of_day_profile(
        q.interval_counts(serving, q.Filters(date(2025, 3, 1), date(2025, 3, 12)))
    )
    assert profile.height == 96
    nine = profile.filter(pl.col("interval_start") == datetime(2000, 1, 1, 9, 0))
    assert nine.rows() == [(datetime(2000, 1, 1, 9, 0), 3, 3, 0)]  # visits 1, 2 and 10


def test_agent_table(serving):
    df = q.agent_table(serving, q.Filters(*WEEK))
    rows = {r["agent"]: r for r in df.iter_rows(named=True)}
    assert set(rows) == {"alice", "bob", "carol"}
    alice = rows["alice"]
    assert (
        alice["answered"],
        alice["talk_seconds"],
        alice["ring_no_answer"],
        alice["transfers"],
    ) == (2, 300, 1, 1)
    assert (alice["logged_in_seconds"], alice["paused_seconds"]) == (3600, 600)
    assert alice["aht_seconds"] == pytest.approx(150)
    assert alice["occupancy"] == pytest.approx(300 / 3000)
    assert rows["bob"]["occupancy"] == pytest.approx(300 / 1800)
    assert rows["carol"]["aht_seconds"] is None  # her only call has not ended
    assert rows["carol"]["occupancy"] == 0
    assert "answered_in_selection" not in df.columns

    # who worked support: bob answered there, carol was an idle member (her answered call was in sales)
    support = q.agent_table(serving, q.Filters(*WEEK, queues=(SUPPORT,)))
    assert support.select("agent", "answered", "answered_in_selection", "member_seconds_in_selection").rows() == [
        ("bob", 1, 1, 1800.0), ("carol", 1, 0, 600.0)]

    month = q.agent_table(serving, q.Filters(date(2025, 3, 1), date(2025, 3, 12)))
    alice_month = month.filter(pl.col("agent") == "alice").row(0, named=True)
    assert alice_month["answered"] == 3
    assert alice_month["occupancy"] == pytest.approx(360 / 4000)
    assert alice_month["aht_seconds"] == pytest.approx(120)


def test_agent_table_with_a_queue_selection_lists_who_answered_most_there_first(tmp_path):
    """Sorted by calls answered in all queues, the busiest agent elsewhere came first in a
    queue's table above the one who carried that queue (independent app audit)."""
    agents = [
        ("asterisk", "bob", date(2025, 3, 11), 5, 300.0, 0, 0, 0, 1800.0, 0.0, 300 / 1800),
        ("asterisk", "carol", date(2025, 3, 12), 2, 100.0, 0, 0, 0, 1200.0, 0.0, 100 / 1200),
    ]
    agent_queues = [
        ("asterisk", "sales", "bob", date(2025, 3, 11), 4, 240, 0, 0, 0, 1800),
        ("asterisk", "support", "bob", date(2025, 3, 11), 1, 60, 0, 0, 0, 1800),
        ("asterisk", "support", "carol", date(2025, 3, 12), 2, 100, 0, 0, 0, 1200),
    ]
    copy = build_serving(tmp_path / "serving.duckdb", agents=agents, pauses=[], agent_queues=agent_queues)
    support = q.agent_table(copy, q.Filters(*WEEK, queues=(SUPPORT,)))
    assert support.select("agent", "answered", "answered_in_selection").rows() == [("carol", 2, 2), ("bob", 5, 1)]
    assert q.agent_table(copy, q.Filters(*WEEK))["agent"].to_list() == ["bob", "carol"]


def test_agent_table_on_a_copy_published_before_agg_agent_queue_daily(tmp_path):
    """An older serving copy has no per-queue agent mart: a queue selection keeps the agents who
    answered there (idle members cannot be told), with no member time."""
    path = build_serving(tmp_path / "old.duckdb", agent_queues=None)
    support = q.agent_table(path, q.Filters(*WEEK, queues=(SUPPORT,)))
    assert support.select("agent", "answered_in_selection", "member_seconds_in_selection").rows() == [
        ("bob", 1, None)]
    assert q.pause_breakdown(path, q.Filters(*WEEK, queues=(SUPPORT,))).is_empty()  # bob took no pauses


HANDLED = [
    # Asterisk (Wazo) visit with 60 s of wrap-up: handle 60 + 60 = 120
    visit("h1", "sales", "2025-03-12 09:00:00", "answered", 10, 60, "alice", wrapup=60),
    # orphan answered visit whose wait is unknown: handle 30, not in ASA
    visit("h2", "sales", "2025-03-12 09:20:00", "answered", None, 30, "alice"),
    # Webex visit with 30 s of hold, which is inside its 90 s of talk: handle 90
    visit(
        "h3", "sales", "2025-03-12 09:40:00", "answered", 20, 90, "dana", hold=30, platform="webex"
    ),
]
HANDLED_AGENTS = [
    # platform, agent, day, answered, talk, wrap-up, rna, transfers, logged_in, paused, occupancy
    ("asterisk", "alice", date(2025, 3, 12), 2, 90.0, 60, 0, 0, 1000.0, 100.0, 150 / 900),
    ("webex", "dana", date(2025, 3, 12), 1, 90.0, 0, 0, 0, None, None, None),
]


def test_aht_and_occupancy_count_wrapup_and_hold_as_the_marts_do(tmp_path):
    path = build_serving(tmp_path / "s.duckdb", visits=HANDLED, agents=HANDLED_AGENTS, pauses=[],
                         agent_queues=None)
    day = date(2025, 3, 12)
    asterisk = q.queue_kpis(path, q.Filters(day, day, (SALES,)), 20)
    assert asterisk.aht_seconds == pytest.approx((120 + 30) / 2)  # talk-only would be 45
    assert asterisk.asa_seconds == pytest.approx(10)  # mean of the known waits, not 10 ÷ 2
    webex = q.queue_kpis(path, q.Filters(day, day, (q.QueueRef("webex", "sales"),)), 20)
    assert webex.aht_seconds == pytest.approx(90)  # hold is not added twice

    rows = {r["agent"]: r for r in q.agent_table(path, q.Filters(day, day)).iter_rows(named=True)}
    alice, dana = rows["alice"], rows["dana"]
    assert (alice["talk_seconds"], alice["wrapup_seconds"]) == (90, 60)
    assert alice["occupancy"] == pytest.approx((90 + 60) / (1000 - 100))  # talk-only: 0.1
    assert alice["aht_seconds"] == pytest.approx(75)
    assert dana["occupancy"] is None and dana["aht_seconds"] == pytest.approx(90)


def test_two_agents_with_one_name_stay_two_rows_told_apart_by_their_keys(tmp_path):
    """An agent is its identity (platform, agent_key), as in the marts: two people with one display
    name (two Webex users, two directory entries) were summed into one row (independent audit)."""
    day = date(2025, 3, 12)
    visits = [
        visit("s1", "sales", "2025-03-12 09:00:00", "answered", 10, 100, "Ana Ruiz", agent_key="ana.ruiz@a"),
        visit("s2", "sales", "2025-03-12 09:10:00", "answered", 20, 300, "Ana Ruiz", agent_key="ana.ruiz@b"),
        visit("s3", "support", "2025-03-12 09:20:00", "answered", 30, 50, "Ana Ruiz", agent_key="ana.ruiz@b"),
    ]
    agents = [
        # platform, agent, agent_key, day, answered, talk, wrap-up, rna, transfers, logged_in, paused, occupancy
        ("asterisk", "Ana Ruiz", "ana.ruiz@a", day, 1, 100.0, 0, 0, 0, 1000.0, 0.0, 0.1),
        ("asterisk", "Ana Ruiz", "ana.ruiz@b", day, 2, 350.0, 0, 0, 0, 2000.0, 250.0, 0.2),
        ("asterisk", "Bea", "bea", day, 0, 0.0, 0, 0, 0, 500.0, 0.0, 0.0),
    ]
    pauses = [("asterisk", "Ana Ruiz", "ana.ruiz@b", day, "lunch", 1, 250.0)]
    # (no agg_agent_queue_daily: the queue selection below is scoped by fct_queue_visits' answers)
    path = build_serving(tmp_path / "s.duckdb", visits=visits, agents=agents, pauses=pauses, agent_queues=None)

    rows = {r["agent"]: r for r in q.agent_table(path, q.Filters(day, day)).iter_rows(named=True)}
    assert set(rows) == {"Ana Ruiz (ana.ruiz@a)", "Ana Ruiz (ana.ruiz@b)", "Bea"}
    first, second = rows["Ana Ruiz (ana.ruiz@a)"], rows["Ana Ruiz (ana.ruiz@b)"]
    assert (first["answered"], first["talk_seconds"], first["aht_seconds"]) == (1, 100, 100)
    assert (second["answered"], second["talk_seconds"], second["aht_seconds"]) == (2, 350, 175)
    assert second["occupancy"] == pytest.approx(350 / 1750)

    support = q.agent_table(path, q.Filters(day, day, queues=(SUPPORT,)))
    assert support.select("agent", "answered_in_selection").rows() == [("Ana Ruiz (ana.ruiz@b)", 1)]
    per_agent = q.pauses_by_agent(path, q.Filters(day, day, queues=(SALES,)))
    assert per_agent.select("agent", "agent_key", "reason", "paused_seconds").rows() == [
        ("Ana Ruiz (ana.ruiz@b)", "ana.ruiz@b", "lunch", 250.0)]


def test_pause_breakdown(serving):
    df = q.pause_breakdown(serving, q.Filters(*WEEK))
    assert df.rows() == [("lunch", 2, 600.0, 0.75), ("training", 1, 200.0, 0.25)]
    support = q.pause_breakdown(serving, q.Filters(*WEEK, queues=(SUPPORT,)))
    assert support.rows() == [("lunch", 1, 200.0, 1.0)]  # carol's (bob took no pauses)
    per_agent = q.pauses_by_agent(serving, q.Filters(*WEEK, queues=(SALES,)))
    assert sorted(per_agent.select("agent", "reason", "paused_seconds").rows()) == [
        ("alice", "lunch", 400.0),
        ("alice", "training", 200.0),
        ("carol", "lunch", 200.0),
    ]


def test_queries_leave_no_lock(serving):
    q.load_overview(serving, TZ)
    q.queue_kpis(serving, q.Filters(*WEEK), 20)
    q.agent_table(serving, q.Filters(*WEEK))
    assert_no_lock(serving)


def test_busy_serving_copy_is_reported(serving):
    with duckdb.connect(str(serving)) as writer:  # noqa: F841 - holds the write lock
        code = (
            "import sys; from streamlit_app import queries as q\n"
            "try:\n"
            "    with q.read_only(sys.argv[1], retries=1, backoff=0.01): pass\n"
            "except q.ServingBusy: print('busy')\n"
        )
        done = subprocess.run(
            [sys.executable, "-c", code, str(serving)], capture_output=True, text=True, timeout=60
        )
    assert done.stdout.strip() == "busy", done.stderr


def test_formatting():
    assert fmt_pct(0.375) == "37.5%"
    assert fmt_pct(None) == "—"
    assert fmt_duration(16.25) == "00:16"
    assert (fmt_duration(182.5), fmt_duration(181.5), fmt_duration(-2.5)) == ("03:03", "03:02", "-00:03")
    # the tables' clocks round as the tiles do (independent audit: an AHT of 182.5 s showed 03:02)
    clocks = seconds_to_timedelta(pd.DataFrame({"aht": [182.5, 181.5, None]}), ["aht"])["aht"]
    assert [c.total_seconds() for c in clocks[:2]] == [183, 182] and pd.isna(clocks[2])
    assert fmt_duration(200) == "03:20"
    assert fmt_duration(3725) == "1:02:05"
    assert fmt_duration(None) == "—"
    assert fmt_count(12345) == "12,345"
    assert fmt_days(date(2026, 12, 1), date(2026, 12, 1)) == "Tue 01 Dec 2026"  # not "… – Tue 01 Dec 2026"
    assert fmt_days(date(2026, 12, 1), date(2026, 12, 7)) == "Tue 01 Dec 2026 – Mon 07 Dec 2026"


def test_queue_labels_name_platform_only_when_needed():
    assert list(q.queue_labels([SALES, SUPPORT])) == ["sales", "support"]
    two = q.queue_labels([SALES, q.QueueRef("webex", "sales")])
    assert list(two) == ["sales (asterisk)", "sales (webex)"]


def test_queue_summary_names_a_few_queues_and_counts_many():
    from streamlit_app.views.queues_agents import _queue_summary

    assert _queue_summary(["sales"], 1) == "sales"  # not "all 1 queues" (production audit)
    assert _queue_summary(["sales", "support"], 2) == "all 2 queues"
    assert _queue_summary(["sales", "support"], 5) == "sales, support"
    assert _queue_summary(["a", "b", "c", "d"], 5) == "4 of 5 queues"
    assert _queue_summary([], 5) == "no queue"


# =========================================================================== the page (AppTest)


def run_app() -> AppTest:
    at = AppTest.from_file(APP, default_timeout=60).run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def metrics(at: AppTest) -> dict[str, str]:
    return {m.label: m.value for m in at.metric}


def test_page_kpis_default_range(app_env):
    at = run_app()
    assert metrics(at) == {
        "Offered": "9",
        "Answered": "4",
        "Abandoned": "3",
        "Open now": "1",
        "Service level": "37.5%",  # 3 ÷ (9 − 1)
        "ASA": "00:16",  # 65 s ÷ 4 = 16.25 s
        "AHT": "03:20",  # (100 + 200 + 300) ÷ 3
        "Abandon rate": "25.0%",  # (3 − 1) ÷ (9 − 1)
    }
    assert at.date_input[0].value == WEEK
    assert at.multiselect[0].value == ["sales", "support"]
    # times in the reporting zone: the latest entry, 15:08 UTC, is shown as 10:08
    caption = " ".join(c.value for c in at.caption)
    assert "America/Bogota" in caption and "2025-03-12 10:08" in caption
    # no phone numbers anywhere on the page
    page_text = caption + " ".join(str(df.value.to_dict()) for df in at.dataframe)
    assert "+57300" not in page_text and "caller_number" not in page_text
    agents = at.dataframe[0].value
    assert sorted(agents["agent"]) == ["alice", "bob", "carol"]
    assert "platform" not in agents.columns  # one platform only


def steps(data):
    """A chart's rows without the closing ones at the end of its last step (with_closing_step),
    which repeat that step's counts for the line to be drawn to its end."""
    return data[data.interval_start < data.interval_start.max()]


def chart_data(at: AppTest, index: int):
    """The rows Streamlit sends to the browser for the index-th Vega-Lite chart."""
    import pyarrow as pa

    chart = at.get("vega_lite_chart")[index]
    (dataset,) = chart.proto.datasets
    return pa.ipc.open_stream(dataset.data.data).read_all().to_pandas()


def _y_title(at: AppTest) -> str:
    return json.loads(at.get("vega_lite_chart")[0].proto.spec)["layer"][0]["encoding"]["y"]["title"]


def test_page_interval_chart(app_env):
    at = run_app()
    assert len(at.get("vega_lite_chart")) == 2  # traffic over time, pause reasons
    # a week: hourly steps by default (672 quarters would not read)
    hourly = chart_data(at, 0)
    # three measures, every hour of the week, and the end of its last hour (with_closing_step)
    assert len(hourly) == 3 * (7 * 24 + 1)
    # the reporting zone's wall-clock times, as UTC on a UTC scale: the same axis in every
    # browser (read in the browser's zone, its DST night bent the axis)
    assert str(hourly.interval_start.max()) == "2025-03-13 00:00:00+00:00"
    x = json.loads(at.get("vega_lite_chart")[0].proto.spec)["layer"][0]["encoding"]["x"]
    assert x["scale"]["type"] == "utc" and x["axis"]["format"] == "%a %d %H:%M"  # a week: day names are enough
    # the tooltip's time as text, written in the reporting zone's clock (not formatted by the browser)
    tooltip = json.loads(at.get("vega_lite_chart")[0].proto.spec)["layer"][0]["encoding"]["tooltip"][0]
    assert tooltip["field"] == "interval_label"
    assert "Wed 12 Mar 09:00" in set(hourly.interval_label)
    assert steps(hourly).groupby("measure")["visits"].sum().to_dict() == {"offered": 9, "answered": 4, "abandoned": 3}
    assert _y_title(at) == "Visits per hour"

    at.radio[1].set_value("15 minutes").run()
    data = chart_data(at, 0)
    assert len(data) == 3 * (7 * 96 + 1)  # every 15 minutes of the week, and its end
    totals = steps(data).groupby("measure")["visits"].sum().to_dict()
    assert totals == {"offered": 9, "answered": 4, "abandoned": 3}
    # naive local times: 09:05 Bogotá lands in the 09:00 bucket, not 14:00 UTC
    offered = data[(data.measure == "offered") & (data.visits > 0)]
    assert str(offered.interval_start.min()) == "2025-03-11 14:00:00+00:00"  # visit 7, 14:00 local
    assert "2025-03-12 09:00:00+00:00" in set(offered.interval_start.astype(str))

    spec = json.loads(at.get("vega_lite_chart")[0].proto.spec)
    # offered as an area behind the answered and abandoned lines; whole visits on the axis
    assert [layer["mark"]["type"] for layer in spec["layer"]] == ["area", "line"]
    assert _y_title(at) == "Visits per 15 min"
    assert spec["layer"][0]["encoding"]["y"]["axis"]["tickMinStep"] == 1

    at.radio[0].set_value("By time of day").run()
    assert not at.exception
    profile = chart_data(at, 0)
    assert len(profile) == 3 * (96 + 1)
    assert steps(profile).groupby("measure")["visits"].sum().to_dict()["offered"] == 9
    assert _y_title(at) == "Visits per 15 min, 7 days added up"
    assert at.radio[1].options == ["15 minutes", "Hour"]  # no day step in a day's profile

    at.radio[0].set_value("Timeline").run()
    at.radio[1].set_value("Day").run()
    daily = chart_data(at, 0)
    assert len(daily) == 3 * (7 + 1) and _y_title(at) == "Visits per day"
    assert steps(daily)[steps(daily).measure == "offered"]["visits"].sum() == 9
    x_axis = json.loads(at.get("vega_lite_chart")[0].proto.spec)["layer"][0]["encoding"]["x"]["axis"]
    assert x_axis["tickCount"] == {"interval": "day", "step": 1}  # not hours, each labelled with its day
    at.radio[0].set_value("By time of day").run()  # days do not divide a day: hours instead
    assert not at.exception and at.radio[1].value == "Hour" and len(chart_data(at, 0)) == 3 * (24 + 1)
    # the step shown is the one kept (a link kept Day while the chart drew hours; AppTest does not
    # show bound query parameters: checked in a browser), also back on the timeline
    assert at.session_state["step"] == "Hour" and not at.warning
    at.radio[0].set_value("Timeline").run()
    assert at.radio[1].value == "Hour" and len(chart_data(at, 0)) == 3 * (7 * 24 + 1)


def test_the_default_step_grows_with_the_range():
    from streamlit_app.views.queues_agents import STEPS, default_step

    assert [default_step(days, False) for days in (1, 2, 3, 92, 93, 2200)] == [
        "15 minutes", "15 minutes", "Hour", "Hour", "Day", "Day"]
    assert default_step(2200, by_time_of_day=True) == "Hour"  # a day's profile has no day step
    assert {default_step(d, t) for d in (1, 50, 500) for t in (True, False)} <= set(STEPS)


def test_coarser_intervals_add_up_quarters():
    quarters = pl.DataFrame({
        "interval_start": [datetime(2025, 3, 12, 9, 0), datetime(2025, 3, 12, 9, 45), datetime(2025, 3, 12, 10, 15),
                           datetime(2025, 3, 13, 0, 0)],
        "offered": [2, 1, 3, 1], "answered": [2, 0, 1, 1], "abandoned": [0, 1, 1, 0],
    })  # fmt: skip
    assert q.coarser_intervals(quarters, "15m") is quarters
    assert q.coarser_intervals(quarters, "1h").rows() == [
        (datetime(2025, 3, 12, 9, 0), 3, 2, 1), (datetime(2025, 3, 12, 10, 0), 3, 1, 1),
        (datetime(2025, 3, 13, 0, 0), 1, 1, 0)]
    assert q.coarser_intervals(quarters, "1d").rows() == [
        (datetime(2025, 3, 12), 6, 3, 2), (datetime(2025, 3, 13), 1, 1, 0)]


def test_the_chart_draws_its_last_step_whole():
    """A step-after line ends at its last point: the last step (a one-day chart's only day) was
    not drawn. The rows end with the end of the last step, its counts repeated."""
    day = pl.DataFrame({"interval_start": [datetime(2025, 3, 12)], "offered": [5], "answered": [3],
                        "abandoned": [1]})
    assert q.with_closing_step(day, "1d").rows() == [
        (datetime(2025, 3, 12), 5, 3, 1), (datetime(2025, 3, 13), 5, 3, 1)]
    quarters = pl.DataFrame({"interval_start": [datetime(2025, 3, 12, 23, 30), datetime(2025, 3, 12, 23, 45)],
                             "offered": [1, 2], "answered": [1, 0], "abandoned": [0, 2]})
    assert q.with_closing_step(quarters, "15m").rows()[-1] == (datetime(2025, 3, 13), 2, 0, 2)
    assert q.with_closing_step(day.clear(), "1d").is_empty()


def test_agent_state_no_agent_has_is_left_out_of_the_table(monkeypatch, tmp_path):
    """Webex agents have no logged-in, paused or occupancy figures: a table of them only showed
    three columns of "None" (analyst review)."""
    webex = [("webex", "dan", date(2025, 3, 12), 3, 500.0, 0, 0, 1, None, None, None)]
    path = build_serving(tmp_path / "serving.duckdb", agents=webex, agent_queues=None)
    monkeypatch.setenv("SWITCHBOARD_SERVING_PATH", str(path))
    monkeypatch.setenv("SWITCHBOARD_TIMEZONE", TZ)
    st.cache_data.clear()
    at = run_app()
    table = at.dataframe[0].value
    assert list(table["agent"]) == ["dan"] and list(table["answered"]) == [3]
    assert not {"logged_in_seconds", "paused_seconds", "occupancy"} & set(table.columns)
    assert any("no agent here has agent state" in c.value for c in at.caption)


def test_wrapup_is_shown_only_where_some_agent_has_it(monkeypatch, tmp_path):
    """Plain Asterisk and Webex log no wrap-up: a column of 00:00:00 for every agent read as
    measured. A selection with some (Wazo's WRAPUPSTART) keeps it, agents without any at 0."""
    monkeypatch.setenv("SWITCHBOARD_TIMEZONE", TZ)
    for name, agents, shown in (("none", AGENT_DAILY, False), ("some", HANDLED_AGENTS, True)):
        path = build_serving(tmp_path / f"{name}.duckdb", visits=HANDLED if shown else VISITS, agents=agents,
                             agent_queues=None)
        monkeypatch.setenv("SWITCHBOARD_SERVING_PATH", str(path))
        st.cache_data.clear()
        at = run_app()
        table = at.dataframe[0].value
        left_out = any("Wrap-up is left out" in c.value for c in at.caption)
        assert ("wrapup_seconds" in table.columns, left_out) == (shown, not shown), name
        if shown:
            wrapups = dict(zip(table["agent"], table["wrapup_seconds"], strict=True))
            assert wrapups == {"alice": pd.Timedelta(seconds=60), "dana": pd.Timedelta(0)}


def test_every_table_shows_a_dash_for_missing_values(app_env):
    """Streamlit writes "None" in an empty cell (a Webex agent's logged-in time, a self-service
    call's queue); the tiles say "—" for the same thing."""
    at = run_app()
    assert len(at.dataframe) == 3  # agents, pause reasons, paused time per agent and reason
    assert [df.proto.placeholder for df in at.dataframe] == [DASH] * 3
    # a reason an agent never took is such a cell, not 00:00:00 (a pivot's sum filled it with 0)
    per_agent = at.dataframe[2].value.set_index("agent")
    assert pd.isna(per_agent.loc["carol", "training"]) and per_agent.loc["alice", "training"] == pd.Timedelta(seconds=200)


def test_page_draws_no_empty_chart(app_env):
    at = run_app()
    at.date_input[0].set_value((date(2025, 3, 6), date(2025, 3, 6))).run()  # a day without visits
    assert metrics(at)["Offered"] == "0"
    assert any(c.value == "No calls in this selection." for c in at.caption)
    assert len(at.get("vega_lite_chart")) == 0


def test_page_queue_filter_changes_kpis(app_env):
    at = run_app()
    at.multiselect[0].set_value(["sales"]).run()
    assert not at.exception
    assert metrics(at) == {
        "Offered": "6",
        "Answered": "3",
        "Abandoned": "2",
        "Open now": "1",
        "Service level": "40.0%",  # 2 ÷ (6 − 1)
        "ASA": "00:20",  # (10 + 30 + 20) ÷ 3
        "AHT": "02:30",  # (100 + 200) ÷ 2
        "Abandon rate": "20.0%",  # (2 − 1) ÷ (6 − 1)
    }
    assert sorted(at.dataframe[0].value["agent"]) == ["alice", "carol"]
    # the mart's ratio, shown as a percentage (format), so the table's CSV download holds 0.1
    # like agg_agent_daily, not 10
    alice = at.dataframe[0].value.set_index("agent").loc["alice"]
    assert alice["occupancy"] == pytest.approx(0.1)
    config = json.loads(at.dataframe[0].proto.columns)
    assert config["occupancy"]["type_config"]["format"] == "percent"

    at.multiselect[0].set_value(["support"]).run()
    assert metrics(at)["Offered"] == "3"
    assert metrics(at)["Service level"] == "33.3%"
    agents = at.dataframe[0].value
    assert list(agents["agent"]) == ["bob", "carol"]  # carol: an idle member of support
    assert list(agents["member_seconds_in_selection"]) == [pd.Timedelta(seconds=1800), pd.Timedelta(seconds=600)]

    at.multiselect[0].set_value([]).run()
    assert not at.exception
    assert any("Select at least one queue" in w.value for w in at.warning)


def test_page_date_range_changes_kpis(app_env):
    at = run_app()
    at.date_input[0].set_value((date(2025, 3, 1), date(2025, 3, 12))).run()
    assert not at.exception
    # beyond a week the axis names the month (day numbers alone repeated month after month)
    x_axis = json.loads(at.get("vega_lite_chart")[0].proto.spec)["layer"][0]["encoding"]["x"]["axis"]
    assert x_axis["format"] == "%d %b %H:%M"
    m = metrics(at)
    assert (m["Offered"], m["Service level"], m["ASA"]) == ("10", "33.3%", "00:23")
    at.date_input[0].set_value((date(2025, 3, 11), date(2025, 3, 11))).run()
    m = metrics(at)
    assert (m["Offered"], m["Answered"], m["Open now"]) == ("3", "1", "0")


def test_a_shared_link_opens_the_same_selection(app_env):
    """The filters live in the URL (`bind="query-params"`), so a link shows a colleague the same
    queues, days and chart step; a value the copy does not have falls back to the default."""
    at = AppTest.from_file(APP, default_timeout=60)
    at.query_params = {"queues": "sales", "days": ["2025-03-01", "2025-03-12"], "step": "Day"}
    at.run()
    assert not at.exception
    assert at.multiselect[0].value == ["sales"]
    assert at.date_input[0].value == (date(2025, 3, 1), date(2025, 3, 12))
    assert at.radio[1].value == "Day"
    m = metrics(at)
    # sales' six visits of the week and visit 10 (1 March); answered: 1, 2, 6 and 10
    assert (m["Offered"], m["Answered"]) == ("7", "4")
    assert len(chart_data(at, 0)) == 3 * (12 + 1)  # a point per day of the twelve, and their end

    stale = AppTest.from_file(APP, default_timeout=60)
    stale.query_params = {"queues": "closed-queue", "days": ["2020-01-01", "2020-01-02"], "step": "Week"}
    stale.run()
    assert not stale.exception
    assert stale.multiselect[0].value == ["sales", "support"] and stale.date_input[0].value == WEEK
    assert stale.radio[1].value == "Hour" and metrics(stale)["Offered"] == "9"


def test_page_missing_serving_copy(monkeypatch, tmp_path):
    monkeypatch.setenv("SWITCHBOARD_SERVING_PATH", str(tmp_path / "not-yet.duckdb"))
    st.cache_data.clear()
    at = run_app()
    assert [i.value for i in at.info] == [q.NO_DATA_MESSAGE]
    assert "switchboard materialize" in q.NO_DATA_MESSAGE
    assert not at.metric
    assert not (tmp_path / "not-yet.duckdb").exists()  # reading never creates the file


def test_page_with_a_folder_or_a_foreign_file_for_its_serving_copy_says_so(monkeypatch, tmp_path):
    """A folder was reported as a copy that "does not match the marts contract" (independent audit)."""
    for path, words in ((tmp_path, "it is a folder: SWITCHBOARD_SERVING_PATH names the file itself)."),
                        (tmp_path / "notes.txt", "is not a DuckDB database file.")):
        if path.suffix:
            path.write_text("not a database at all, " * 200)
        monkeypatch.setenv("SWITCHBOARD_SERVING_PATH", str(path))
        st.cache_data.clear()
        at = run_app()
        assert [e.value for e in at.error] == [f"The serving copy at {path} is not a DuckDB database file"
                                               + (f" ({words}" if path.is_dir() else ".")], path
        assert not at.metric


def test_page_empty_serving_copy(monkeypatch, tmp_path):
    empty = build_serving(tmp_path / "serving.duckdb", visits=[], agents=[], pauses=[], agent_queues=[])
    monkeypatch.setenv("SWITCHBOARD_SERVING_PATH", str(empty))
    st.cache_data.clear()
    at = run_app()
    assert [i.value for i in at.info] == [q.NO_DATA_MESSAGE]
    assert not at.metric


def test_page_of_a_copy_with_calls_and_no_queue_visit_says_so(monkeypatch, tmp_path):
    """Not "no data published yet - run switchboard materialize": it was (independent app audit)."""
    from streamlit_app.views.queues_agents import NO_VISITS_MESSAGE
    from tests.test_streamlit_calls import build_serving as build_calls

    copy = build_calls(tmp_path / "serving.duckdb")
    monkeypatch.setenv("SWITCHBOARD_SERVING_PATH", str(copy))
    st.cache_data.clear()
    at = run_app()
    assert [i.value for i in at.info] == [NO_VISITS_MESSAGE]


def test_page_releases_the_file_and_sees_a_replaced_copy(app_env, tmp_path):
    serving = app_env
    at = run_app()
    assert metrics(at)["Offered"] == "9"
    assert_no_lock(serving)

    # The pipeline publishes a new copy by atomic replace; the next run must read it,
    # not serve results cached for the old file.
    staged = build_serving(tmp_path / "serving.duckdb.tmp", visits=VISITS[:2] + VISITS[6:7])
    os.replace(staged, serving)
    at.run()
    assert not at.exception
    m = metrics(at)
    assert (m["Offered"], m["Answered"], m["Service level"]) == ("3", "3", "66.7%")
    assert_no_lock(serving)


def test_a_copy_published_during_a_render_leaves_the_page_on_one_copy(app_env, tmp_path, monkeypatch):
    """The pipeline may publish between two blocks of a page: each block read the file by path,
    and tiles of one copy stood beside a chart of the next (independent app audit: 7 of 133
    renders mixed). The page reads the copy it began with; the next render reads the new one."""
    serving = app_env
    newer = build_serving(tmp_path / "serving.duckdb.tmp", visits=VISITS[:2] + VISITS[6:7])
    read_intervals = q.interval_counts

    def published_before_the_chart(source, filters):
        if newer.exists():
            os.replace(newer, serving)  # after the tiles were read, as a publication can land
        return read_intervals(source, filters)

    monkeypatch.setattr(q, "interval_counts", published_before_the_chart)
    at = run_app()
    assert not newer.exists()  # it was published during the render
    assert metrics(at)["Offered"] == "9"
    assert steps(chart_data(at, 0)).groupby("measure")["visits"].sum().to_dict()["offered"] == 9
    assert_no_lock(serving)

    at.run()
    assert metrics(at)["Offered"] == "3"
    assert steps(chart_data(at, 0)).groupby("measure")["visits"].sum().to_dict()["offered"] == 3


def test_the_chart_draws_the_quarters_the_zones_clock_showed(tmp_path):
    """On Europe/Madrid's spring-forward day 02:00-02:45 never happened: the chart left them in
    as four quiet quarters, a 23-hour day drawn as 24 (independent audit). The fall-back night's
    repeated hour is one set of quarters, its two passes added."""
    madrid = [
        visit("s1", "sales", "2026-03-29 01:50:00", "answered", 5, 60, "alice"),
        visit("s2", "sales", "2026-03-29 03:00:00", "abandoned", 30),
        visit("f1", "sales", "2026-10-25 02:05:00", "answered", 5, 60, "alice"),  # first pass
        visit("f2", "sales", "2026-10-25 02:10:00", "abandoned", 30),  # second pass, same quarter
    ]
    serving = build_serving(tmp_path / "serving.duckdb", visits=madrid)
    with q.pinned(serving, "Europe/Madrid") as copy:
        spring = q.interval_counts(copy, q.Filters(date(2026, 3, 29), date(2026, 3, 29)))
        autumn = q.interval_counts(copy, q.Filters(date(2026, 10, 25), date(2026, 10, 25)))
    assert spring.height == 92
    assert spring.filter(pl.col("interval_start").dt.hour() == 2).is_empty()
    assert spring.filter(pl.col("offered") > 0).rows() == [
        (datetime(2026, 3, 29, 1, 45), 1, 1, 0),
        (datetime(2026, 3, 29, 3, 0), 1, 0, 1),
    ]
    assert autumn.height == 96
    assert autumn.filter(pl.col("offered") > 0).rows() == [(datetime(2026, 10, 25, 2, 0), 2, 1, 1)]
    assert q.local_quarters(date(2026, 3, 29), date(2026, 3, 29)).len() == 96  # no zone: every quarter


def test_a_pinned_copy_is_the_file_at_the_path_while_another_session_holds_the_old_one(serving, tmp_path):
    """DuckDB keeps one instance per path in a process: a page opening the copy by path while
    another session still read the old file was handed the old file, under the new file's
    version. A pinned copy attaches the file to a database of its own."""
    with q.pinned(serving, TZ) as before, q.read_only(serving) as other_session:
        os.replace(build_serving(tmp_path / "serving.duckdb.tmp", visits=VISITS[:2]), serving)
        with q.pinned(serving, TZ) as after:
            assert after.version == q.serving_version(serving) != before.version
            assert q.queue_kpis(after, q.Filters(*WEEK), 20).offered == 2
            assert q.queue_kpis(before, q.Filters(*WEEK), 20).offered == 9
        assert other_session.execute(f"select count(*) from {q.FCT}").fetchall() != [(2,)]
    assert_no_lock(serving)


def test_a_pinned_copy_reads_no_other_file_and_cannot_be_told_to(serving, tmp_path):
    """The app's connection reads the serving copy only: SQL through it may not read or attach a
    file of the machine, nor turn that back on (independent security audit: `read_csv` of
    /etc/passwd worked through it; no injection reached it)."""
    other = tmp_path / "other.csv"
    other.write_text("secret\nx\n")
    with q.pinned(serving, TZ) as copy:
        assert q.queue_kpis(copy, q.Filters(*WEEK), 20).offered == 9
        for sql in (f"select * from read_csv('{other}')", f"attach '{tmp_path / 'x.duckdb'}' as x",
                    "set enable_external_access = true", "set lock_configuration = false"):
            with pytest.raises(duckdb.Error):
                copy.con.execute(sql)
        with q.read_only(copy, TZ) as con:  # the page's zone, set once
            assert con.execute("select current_setting('TimeZone')").fetchall() == [(TZ,)]


def test_an_app_in_another_time_zone_than_the_copy_says_so(app_env, monkeypatch):
    """The copy's days, 15-minute intervals and agent days are the pipeline's zone's; run with
    another SWITCHBOARD_TIMEZONE, the app labelled them with its own (independent app audit)."""
    at = run_app()
    assert not at.warning and q.load_overview(app_env, TZ).days_elsewhere == 0
    monkeypatch.setenv("SWITCHBOARD_TIMEZONE", "Asia/Tokyo")  # 14 h ahead of Bogotá
    st.cache_data.clear()
    at = run_app()
    # visits of 10:00 Bogotá and later are on the next day in Tokyo: 6 of the 10
    assert q.load_overview(app_env, "Asia/Tokyo").days_elsewhere == 6
    assert any("6 queue visits" in w.value and "SWITCHBOARD_TIMEZONE" in w.value for w in at.warning)


def test_page_bad_settings_show_an_error(monkeypatch, app_env):
    monkeypatch.setenv("SWITCHBOARD_TIMEZONE", "Mars/Olympus_Mons")
    at = run_app()
    assert at.error and "SWITCHBOARD_TIMEZONE" in at.error[0].value
