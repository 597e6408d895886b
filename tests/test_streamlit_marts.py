"""The app's figures equal the marts' for one day and one queue.

A hand-built queue_log (with Wazo `WRAPUPSTART` wrap-ups and a pause) is materialized for real
(dlt → dbt → serving copy); the app's query functions and page then read that serving copy, and
every KPI tile / agent column is compared with its column of `marts.agg_queue_daily`,
`marts.agg_queue_interval` and `marts.agg_agent_daily`. A few figures are also worked out by hand
(SL 20 s, short abandon ≤ 5 s, time zone UTC), so that app and marts cannot agree on a wrong value.
"""

from __future__ import annotations

import math
from datetime import date
from pathlib import Path

import duckdb
import pytest
import streamlit as st
from streamlit.testing.v1 import AppTest

from streamlit_app import call_queries as cq
from streamlit_app import queries as q
from streamlit_app.formatting import fmt_count, fmt_duration, fmt_pct
from switchboard import cli

APP = str(Path(__file__).resolve().parents[1] / "streamlit_app" / "app.py")
B = 1_741_860_000  # 2025-03-13 10:00:00 UTC
DAY = date(2025, 3, 13)
SL = 20

# the module fixture is built once, on one worker
pytestmark = pytest.mark.xdist_group("streamlit_marts")

QUEUE_LOG = [
    f"{B}|NONE|NONE|NONE|QUEUESTART|",
    f"{B + 5}|MANAGER|ventas|SIP/2001|ADDMEMBER|",
    f"{B + 5}|NONE|NONE|Eva Gil|UNPAUSEALL|",
    f"{B + 5}|NONE|ventas|Eva Gil|UNPAUSE|",
    f"{B + 6}|MANAGER|soporte|SIP/2002|ADDMEMBER|",
    f"{B + 6}|NONE|NONE|Tomas Rey|UNPAUSEALL|",
    f"{B + 6}|NONE|soporte|Tomas Rey|UNPAUSE|",
    # v1 ventas, Eva: wait 10, talk 60, then 60 s of wrap-up → handle 120
    f"{B + 100}|1741860100.1|ventas|NONE|ENTERQUEUE||3001112222|1",
    f"{B + 110}|1741860100.1|ventas|Eva Gil|CONNECT|10|1741860110.5|2",
    f"{B + 170}|1741860100.1|ventas|Eva Gil|COMPLETECALLER|10|60|1",
    f"{B + 171}|NONE|NONE|Eva Gil|WRAPUPSTART|60",
    # v2 ventas, Eva: wait 25 (outside SL), talk 100, no wrap-up → handle 100
    f"{B + 300}|1741860300.2|ventas|NONE|ENTERQUEUE||3003334444|1",
    f"{B + 325}|1741860300.2|ventas|Eva Gil|CONNECT|25|1741860325.6|3",
    f"{B + 425}|1741860300.2|ventas|Eva Gil|COMPLETEAGENT|25|100|1",
    # v3 ventas: short abandon (3 s); v4 ventas: abandon after 40 s
    f"{B + 500}|1741860500.3|ventas|NONE|ENTERQUEUE||3005556666|1",
    f"{B + 503}|1741860500.3|ventas|NONE|ABANDON|1|1|3",
    f"{B + 600}|1741860600.4|ventas|NONE|ENTERQUEUE||3007778888|1",
    f"{B + 640}|1741860600.4|ventas|NONE|ABANDON|1|1|40",
    # v5 soporte, Tomas: wait 5, talk 200, wrap-up 30, blind transfer
    f"{B + 700}|1741860700.5|soporte|NONE|ENTERQUEUE||3009990000|1",
    f"{B + 705}|1741860700.5|soporte|Tomas Rey|CONNECT|5|1741860705.7|2",
    f"{B + 905}|1741860700.5|soporte|Tomas Rey|BLINDTRANSFER|2000|from-internal|5|200|1",
    f"{B + 906}|NONE|NONE|Tomas Rey|WRAPUPSTART|30",
    # v6 soporte: timeout after 60 s
    f"{B + 1000}|1741861000.6|soporte|NONE|ENTERQUEUE||3001230000|1",
    f"{B + 1060}|1741861000.6|soporte|NONE|EXITWITHTIMEOUT|1|1|60",
    # Eva pauses 600 s
    f"{B + 1100}|NONE|ventas|Eva Gil|PAUSE|Almuerzo",
    f"{B + 1700}|NONE|ventas|Eva Gil|UNPAUSE|",
    # v7 ventas: still waiting when the data ends (open); data end = B + 3000
    f"{B + 3000}|1741863000.7|ventas|NONE|ENTERQUEUE||3006667777|1",
]

# Worked out by hand: ventas AHT (120 + 100) ÷ 2 = 110; Eva logged in B+5 → B+3000 = 2995 s, paused
# 600 s, busy 60 + 60 + 100 = 220 s → occupancy 220 ÷ 2395; Tomas logged in 2994 s, busy 230 s.
VENTAS_AHT = 110.0
EVA_OCCUPANCY = 220 / 2395
TOMAS_OCCUPANCY = 230 / 2994

QUEUE_KPI_COLUMNS = (
    "offered", "answered", "abandoned", "short_abandons", "timeouts", "other_unanswered",
    "open_visits", "answered_within_sl", "service_level", "asa_seconds", "aht_seconds",
    "abandon_rate", "max_wait_seconds", "transfers",
)  # fmt: skip
AGENT_COLUMNS = (
    "answered", "talk_seconds", "wrapup_seconds", "ring_no_answer", "transfers",
    "logged_in_seconds", "paused_seconds", "occupancy",
)  # fmt: skip


@pytest.fixture(scope="module")
def serving(tmp_path_factory, dbt_manifest) -> Path:
    """The serving copy published by a real materialization of QUEUE_LOG."""
    tmp = tmp_path_factory.mktemp("marts")
    site = tmp / "wazo"
    site.mkdir()
    (site / "queue_log").write_text("\n".join(QUEUE_LOG) + "\n")
    env = {
        "SWITCHBOARD_WAREHOUSE_URL": f"duckdb:///{tmp}/warehouse.duckdb",
        "SWITCHBOARD_SERVING_PATH": str(tmp / "serving.duckdb"),
        "SWITCHBOARD_STATE_DIR": str(tmp / "state"),
        "SWITCHBOARD_LANDING_DIR": str(tmp / "landing"),
        "SWITCHBOARD_TIMEZONE": "UTC",
        "SWITCHBOARD_QUEUE_LOG_DIRS": f"lab={site}",
        "SWITCHBOARD_ASTERISK_CDR_DIRS": "",
        "SWITCHBOARD_SL_SECONDS": str(SL),
        "SWITCHBOARD_SHORT_ABANDON_SECONDS": "5",
    }
    with pytest.MonkeyPatch.context() as mp:
        mp.chdir(tmp)
        for key, value in env.items():
            mp.setenv(key, value)
        assert cli.main(["materialize"]) == 0
    return tmp / "serving.duckdb"


def _rows(path: Path, sql: str) -> list[dict]:
    with duckdb.connect(str(path), read_only=True) as con:
        rel = con.sql(sql)
        return [dict(zip(rel.columns, row, strict=True)) for row in rel.fetchall()]


def _same(actual, expected) -> bool:
    if actual is None or expected is None:
        return actual is None and expected is None
    return math.isclose(float(actual), float(expected), rel_tol=1e-12, abs_tol=1e-12)


def _queue_mart(serving: Path) -> dict[str, dict]:
    return {r["queue"]: r for r in _rows(serving, "select * from marts.agg_queue_daily")}


def _agent_mart(serving: Path) -> dict[str, dict]:
    return {r["agent"]: r for r in _rows(serving, "select * from marts.agg_agent_daily")}


def test_the_marts_hold_what_the_log_says(serving):
    # guards the comparisons below: the marts themselves count the wrap-up
    marts = _queue_mart(serving)
    assert set(marts) == {"ventas", "soporte"} and {r["day"] for r in marts.values()} == {DAY}
    assert marts["ventas"]["aht_seconds"] == pytest.approx(VENTAS_AHT)
    agents = _agent_mart(serving)
    assert agents["Eva Gil"]["occupancy"] == pytest.approx(EVA_OCCUPANCY)
    assert agents["Tomas Rey"]["occupancy"] == pytest.approx(TOMAS_OCCUPANCY)


def test_queue_kpis_equal_agg_queue_daily_for_one_day_and_queue(serving):
    for queue, mart in _queue_mart(serving).items():
        filters = q.Filters(DAY, DAY, queues=(q.QueueRef("asterisk", queue),))
        kpis = q.queue_kpis(serving, filters, SL)
        wrong = {
            c: (getattr(kpis, c), mart[c])
            for c in QUEUE_KPI_COLUMNS
            if not _same(getattr(kpis, c), mart[c])
        }
        assert not wrong, f"{queue}: (app, mart) {wrong}"
    ventas = q.queue_kpis(serving, q.Filters(DAY, DAY, (q.QueueRef("asterisk", "ventas"),)), SL)
    assert ventas.aht_seconds == pytest.approx(VENTAS_AHT)


def test_interval_counts_equal_agg_queue_interval(serving):
    mart = _rows(
        serving,
        "select interval_start, sum(offered) as offered, sum(answered) as answered, "
        "sum(abandoned) as abandoned from marts.agg_queue_interval group by 1 order by 1",
    )
    app = q.interval_counts(serving, q.Filters(DAY, DAY))
    busy = app.filter((app["offered"] > 0) | (app["answered"] > 0) | (app["abandoned"] > 0))
    assert busy.rows() == [
        (r["interval_start"], r["offered"], r["answered"], r["abandoned"]) for r in mart
    ]


def test_agent_table_equals_agg_agent_daily_for_one_day(serving):
    marts = _agent_mart(serving)
    table = {
        r["agent"]: r for r in q.agent_table(serving, q.Filters(DAY, DAY)).iter_rows(named=True)
    }
    assert set(table) == set(marts)
    for agent, mart in marts.items():
        app = table[agent]
        wrong = {c: (app.get(c), mart[c]) for c in AGENT_COLUMNS if not _same(app.get(c), mart[c])}
        assert not wrong, f"{agent}: (app, mart) {wrong}"
    # AHT per agent: (talk + wrap-up) of the ended calls, as the queue AHT
    assert table["Eva Gil"]["aht_seconds"] == pytest.approx(VENTAS_AHT)
    assert table["Tomas Rey"]["aht_seconds"] == pytest.approx(230)

    # with a queue selection the agent's figures still cover all queues (the mart's day)
    ventas = q.agent_table(serving, q.Filters(DAY, DAY, (q.QueueRef("asterisk", "ventas"),)))
    (eva,) = ventas.iter_rows(named=True)
    assert eva["agent"] == "Eva Gil" and eva["answered_in_selection"] == 2
    # her membership of ventas: B+5 → data end B+3000, as marts.agg_agent_queue_daily says
    (member_seconds,) = _rows(serving, "select member_seconds from marts.agg_agent_queue_daily "
                                       "where agent = 'Eva Gil' and queue = 'ventas'")
    assert eva["member_seconds_in_selection"] == member_seconds["member_seconds"] == 2995
    assert eva["occupancy"] == pytest.approx(marts["Eva Gil"]["occupancy"])


def test_page_shows_the_marts_figures(serving, monkeypatch):
    monkeypatch.setenv("SWITCHBOARD_SERVING_PATH", str(serving))
    monkeypatch.setenv("SWITCHBOARD_TIMEZONE", "UTC")
    monkeypatch.setenv("SWITCHBOARD_SL_SECONDS", str(SL))
    monkeypatch.setenv("SWITCHBOARD_SHORT_ABANDON_SECONDS", "5")
    monkeypatch.chdir(serving.parent)
    st.cache_data.clear()
    at = AppTest.from_file(APP, default_timeout=60).run()
    assert not at.exception, [e.value for e in at.exception]
    at.multiselect[0].set_value(["ventas"]).run()
    assert not at.exception, [e.value for e in at.exception]

    mart = _queue_mart(serving)["ventas"]
    assert {m.label: m.value for m in at.metric} == {
        "Offered": fmt_count(mart["offered"]),
        "Answered": fmt_count(mart["answered"]),
        "Abandoned": fmt_count(mart["abandoned"]),
        "Open now": fmt_count(mart["open_visits"]),
        "Service level": fmt_pct(mart["service_level"]),
        "ASA": fmt_duration(mart["asa_seconds"]),
        "AHT": fmt_duration(mart["aht_seconds"]),  # 01:50, not talk only (01:20)
        "Abandon rate": fmt_pct(mart["abandon_rate"]),
    }
    aht_help = next(m for m in at.metric if m.label == "AHT").help
    assert "wrap-up" in aht_help and "not in the published" not in aht_help

    agents = at.dataframe[0].value.set_index("agent")
    eva = _agent_mart(serving)["Eva Gil"]
    assert agents.loc["Eva Gil", "occupancy"] == pytest.approx(eva["occupancy"])  # the ratio, shown as a percentage
    assert agents.loc["Eva Gil", "wrapup_seconds"].total_seconds() == eva["wrapup_seconds"]


def _calls_page() -> None:
    from streamlit_app.views import calls

    calls.render()


def test_calls_page_reads_the_published_fct_calls(serving, monkeypatch):
    """The Calls page's queries against the real marts (their column contract): the log's seven
    calls, all inbound from Colombian mobiles, their numbers masked by default."""
    day = cq.CallFilters(start=DAY, end=DAY)
    summary = cq.call_summary(serving, day)
    # v1, v2 and v5 answered; v3, v4 abandoned, v6 timed out, v7 still waiting
    assert (summary.calls, summary.answered, summary.inbound, summary.queued) == (7, 3, 7, 7)
    calls, total = cq.call_list(serving, day, "UTC", show_numbers=False)
    assert total == 7
    assert calls["caller_number"][0] == "+57••••••••77"  # v7, the newest: 300 666 7777
    assert set(calls["call_type"]) == {"mobile"}
    assert cq.journey_hops(serving, calls["call_id"][0], "UTC").is_empty()  # Asterisk: no hops

    monkeypatch.setenv("SWITCHBOARD_SERVING_PATH", str(serving))
    monkeypatch.setenv("SWITCHBOARD_TIMEZONE", "UTC")
    monkeypatch.delenv("SWITCHBOARD_APP_NUMBER_VIEWERS", raising=False)
    st.cache_data.clear()
    at = AppTest.from_function(_calls_page, default_timeout=60).run()
    assert not at.exception, [e.value for e in at.exception]
    assert {m.label: m.value for m in at.metric}["Calls"] == "7"
    assert "+573006667777" not in at.dataframe[1].value.to_csv()
