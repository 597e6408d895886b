"""The app's Calls page: its query functions on a hand-built serving copy, and the page via AppTest.

Expected figures are worked out by hand from CALLS below (reporting zone America/Bogota, UTC-5),
not recomputed with the code under test. Numbers are masked unless the signed-in viewer is listed
in SWITCHBOARD_APP_NUMBER_VIEWERS.
"""

from __future__ import annotations

import json
from datetime import date, datetime
from pathlib import Path

import duckdb
import polars as pl
import pytest
import streamlit as st
from streamlit.testing.v1 import AppTest

from streamlit_app import call_queries as cq
from switchboard.settings import Settings

TZ = "America/Bogota"
CALL_COLUMNS = {
    "call_id": "VARCHAR", "platform": "VARCHAR", "pbx": "VARCHAR", "direction": "VARCHAR",
    "started_at": "TIMESTAMPTZ", "ended_at": "TIMESTAMPTZ", "caller_number": "VARCHAR",
    "callee_number": "VARCHAR", "call_type": "VARCHAR", "country": "VARCHAR", "first_queue": "VARCHAR",
    "final_agent": "VARCHAR", "outcome": "VARCHAR", "route": "VARCHAR", "queue_seconds": "BIGINT",
    "talk_seconds": "BIGINT", "hold_seconds": "BIGINT", "recorded": "BOOLEAN", "transferred": "BOOLEAN",
    "queue_count": "BIGINT", "started_date": "DATE",
}  # fmt: skip
HOP_COLUMNS = {
    "hop_id": "VARCHAR", "call_id": "VARCHAR", "platform": "VARCHAR", "hop_no": "BIGINT",
    "hop_type": "VARCHAR", "route_label": "VARCHAR", "user_name": "VARCHAR", "agent": "VARCHAR",
    "queue": "VARCHAR", "key_pressed": "VARCHAR", "started_at": "TIMESTAMPTZ", "ring_seconds": "BIGINT",
    "wait_seconds": "BIGINT", "talk_seconds": "BIGINT", "hold_seconds": "BIGINT",
    "duration_seconds": "BIGINT", "outcome": "VARCHAR",
}  # fmt: skip

ROUTE_1 = "PSTN → AA Principal [2] → Tarjetas → Ana Pérez"
ROUTE_2 = "PSTN → AA Principal [2] → Tarjetas"
ROUTE_5 = "Ana Pérez → Luis Mora"


def call(call_id, platform, direction, utc, local_day, caller, callee, call_type, country, first_queue,
         agent, outcome, route, queue, talk, hold=None, transferred=False, recorded=None, queue_count=0):
    return {
        "call_id": call_id, "platform": platform, "pbx": "lab" if platform == "asterisk" else None,
        "direction": direction, "started_at": utc, "ended_at": utc, "caller_number": caller,
        "callee_number": callee, "call_type": call_type, "country": country, "first_queue": first_queue,
        "final_agent": agent, "outcome": outcome, "route": route, "queue_seconds": queue,
        "talk_seconds": talk, "hold_seconds": hold, "recorded": recorded, "transferred": transferred,
        "queue_count": queue_count, "started_date": local_day,
    }  # fmt: skip


def utc(day: int, hour: int) -> str:
    return f"2025-03-{day:02d} {hour:02d}:00:00+00"


CALLS = [
    # c1 Webex inbound, answered by Ana after 30 s in Tarjetas (10:00 local)
    call("c1", "webex", "inbound", utc(12, 15), date(2025, 3, 12), "+573001234567", "+576015550100",
         "mobile", "CO", "Tarjetas", "Ana Pérez", "answered", ROUTE_1, 30, 200, hold=10, recorded=True,
         queue_count=1),
    # c2 Webex inbound from London, abandoned after 45 s (11:00 local)
    call("c2", "webex", "inbound", utc(12, 16), date(2025, 3, 12), "+442079460321", "+576015550100",
         "international", "GB", "Tarjetas", None, "abandoned", ROUTE_2, 45, 0, queue_count=1),
    # c3 Asterisk outbound to a premium number by extension 2001 (15:00 local, Mar 11)
    call("c3", "asterisk", "outbound", utc(11, 20), date(2025, 3, 11), "2001", "+5719001234567",
         "premium", "CO", None, "Eva Gil", "answered", None, 0, 60),
    # c4 Asterisk inbound from a withheld caller, transferred (09:00 local, Mar 10)
    call("c4", "asterisk", "inbound", utc(10, 14), date(2025, 3, 10), "Anonymous", "+576015550100",
         "unknown", None, "ventas", "Tomas Rey", "answered", None, 10, 100, transferred=True,
         queue_count=1),
    # c5 Webex internal at 03:00 UTC on the 12th = 22:00 local on the 11th
    call("c5", "webex", "internal", utc(12, 3), date(2025, 3, 11), "1001", "1002", "internal", None,
         None, "Luis Mora", "answered", ROUTE_5, 0, 30),
    # c6 outside the default week (Mar 1)
    call("c6", "asterisk", "inbound", utc(1, 15), date(2025, 3, 1), "+573001234567", "+576015550100",
         "mobile", "CO", "ventas", None, "abandoned", None, 20, 0, queue_count=1),
]  # fmt: skip

HOPS_C1 = [  # (hop_no, hop_type, route_label, agent, queue, key, start second, wait, talk, outcome)
    (3, "queue", "Tarjetas", None, "Tarjetas", None, 20, 30, None, "connected"),
    (1, "pstn", "PSTN", None, None, None, 0, None, None, "connected"),
    (5, "agent", "Ana Pérez", "Ana Pérez", "Tarjetas", None, 50, None, 200, "answered"),
    (2, "auto_attendant", "AA Principal", None, None, "2", 0, None, None, "transferred"),
    (4, "agent_offer", None, "Luis Mora", "Tarjetas", None, 35, None, None, "no_answer"),
]


def _create(con, table: str, columns: dict[str, str]) -> None:
    con.execute(f"CREATE TABLE {table} ({', '.join(f'{c} {t}' for c, t in columns.items())})")


def build_serving(path: Path, calls=CALLS) -> Path:
    with duckdb.connect(str(path)) as con:
        con.execute("CREATE SCHEMA marts")
        _create(con, "marts.fct_calls", CALL_COLUMNS)
        _create(con, "marts.fct_journey_hops", HOP_COLUMNS)
        cols = list(CALL_COLUMNS)
        if calls:
            con.executemany(f"INSERT INTO marts.fct_calls VALUES ({', '.join('?' for _ in cols)})",
                            [[c[k] for k in cols] for c in calls])
        for no, kind, label, agent, queue, key, second, wait, talk, outcome in HOPS_C1:
            con.execute(
                "INSERT INTO marts.fct_journey_hops (hop_id, call_id, platform, hop_no, hop_type, route_label, "
                "agent, queue, key_pressed, started_at, wait_seconds, talk_seconds, duration_seconds, outcome) "
                "VALUES (?, 'c1', 'webex', ?, ?, ?, ?, ?, ?, TIMESTAMPTZ '2025-03-12 15:00:00+00' + to_seconds(?), "
                "?, ?, ?, ?)",
                [f"h{no}", no, kind, label, agent, queue, key, second, wait, talk, wait or talk or 0, outcome],
            )
    return path


@pytest.fixture
def serving(tmp_path) -> Path:
    return build_serving(tmp_path / "serving.duckdb")


WEEK = cq.CallFilters(start=date(2025, 3, 6), end=date(2025, 3, 12))


def _filtered(**kwargs) -> cq.CallFilters:
    return cq.CallFilters(start=WEEK.start, end=WEEK.end, **kwargs)


# =========================================================================== query functions


def test_overview_bounds_and_filter_values(serving):
    ov = cq.load_call_overview(serving, TZ)
    assert (ov.min_date, ov.max_date, ov.calls) == (date(2025, 3, 1), date(2025, 3, 12), 6)
    assert ov.platforms == ("asterisk", "webex")
    assert ov.directions == ("inbound", "internal", "outbound")
    assert ov.outcomes == ("abandoned", "answered")
    assert ov.latest_start.replace(tzinfo=None) == datetime(2025, 3, 12, 11, 0)  # 16:00 UTC, local
    assert ov.days_elsewhere == 0


def test_overview_without_calls(tmp_path):
    assert cq.load_call_overview(tmp_path / "missing.duckdb", TZ) is None
    assert cq.load_call_overview(build_serving(tmp_path / "empty.duckdb", calls=[]), TZ) is None
    with duckdb.connect(str(tmp_path / "old.duckdb")) as con:  # a copy published before fct_calls
        con.execute("CREATE SCHEMA marts")
    assert cq.load_call_overview(tmp_path / "old.duckdb", TZ) is None


def test_summary_of_the_week(serving):
    s = cq.call_summary(serving, WEEK)  # c1..c5; c6 is on Mar 1
    assert (s.calls, s.answered, s.inbound, s.outbound, s.internal) == (5, 4, 3, 1, 1)
    assert (s.international, s.premium) == (1, 1)  # c2 from GB, c3 to a 1900 number
    assert s.answer_rate == 4 / 5
    assert s.talk_seconds == 200 + 60 + 100 + 30 and s.mean_talk_seconds == 390 / 4
    assert (s.queued, s.queue_seconds) == (3, 30 + 45 + 10)  # c1, c2, c4 entered a queue
    assert (s.queued_answered, s.queued_answer_rate) == (2, 2 / 3)  # c1, c4; c2 abandoned
    assert s.self_service == 0


def test_summary_counts_self_service_apart(tmp_path):
    # c7: a Webex inbound call that ended with the virtual agent (no queue, no person)
    c7 = call("c7", "webex", "inbound", utc(12, 17), date(2025, 3, 12), "+573001234567", "+576015550100",
              "mobile", "CO", None, None, "self_service", "PSTN → Asistente Virtual", 0, 0)
    s = cq.call_summary(build_serving(tmp_path / "serving.duckdb", calls=[*CALLS, c7]), WEEK)
    assert (s.calls, s.answered, s.self_service, s.queued, s.queued_answered) == (6, 4, 1, 3, 2)
    assert s.answer_rate == 4 / 6 and s.queued_answer_rate == 2 / 3


@pytest.mark.parametrize(("filters", "calls"), [
    (_filtered(directions=("inbound",)), 3),  # c1, c2, c4
    (_filtered(call_types=("international", "premium")), 2),  # c2, c3
    (_filtered(platforms=("asterisk",)), 2),  # c3, c4 (c6 is outside the week)
    (_filtered(outcomes=("abandoned",)), 1),  # c2
    (_filtered(number="300 123"), 1),  # c1's caller +57 300 1234567
    (_filtered(number="(601) 555"), 3),  # the DID of c1, c2, c4
    (_filtered(number="abc"), 0),  # a number search without digits finds nothing, not everything
    (_filtered(directions=()), 0),  # nothing selected
    (cq.CallFilters(start=date(2025, 3, 1), end=date(2025, 3, 1)), 1),
])  # fmt: skip
def test_filters(serving, filters, calls):
    assert cq.call_summary(serving, filters).calls == calls
    assert cq.call_list(serving, filters, TZ, show_numbers=True)[1] == calls


def test_calls_per_day_has_every_day_and_direction(serving):
    per_day = cq.calls_per_day(serving, WEEK)
    assert per_day.height == 7 * 3
    counted = {(r["day"], r["direction"]): r["calls"] for r in per_day.iter_rows(named=True) if r["calls"]}
    assert counted == {
        (date(2025, 3, 12), "inbound"): 2,
        (date(2025, 3, 11), "outbound"): 1,
        (date(2025, 3, 11), "internal"): 1,  # 03:00 UTC on the 12th is the 11th in Bogotá
        (date(2025, 3, 10), "inbound"): 1,
    }


def test_call_types(serving):
    types = cq.call_types(serving, WEEK)
    assert types.select("call_type", "country", "calls", "answered", "talk_seconds").rows() == [
        ("internal", None, 1, 1, 30.0),
        ("international", "GB", 1, 0, 0.0),
        ("mobile", "CO", 1, 1, 200.0),
        ("premium", "CO", 1, 1, 60.0),
        ("unknown", None, 1, 1, 100.0),
    ]


def test_call_list_is_newest_first_in_local_time_and_limited(serving):
    calls, total = cq.call_list(serving, WEEK, TZ, show_numbers=True)
    assert total == 5
    assert calls["call_id"].to_list() == ["c2", "c1", "c5", "c3", "c4"]
    assert calls["started_at"][0] == datetime(2025, 3, 12, 11, 0)  # 16:00 UTC
    assert calls["started_at"][2] == datetime(2025, 3, 11, 22, 0)
    assert calls.row(1, named=True)["route"] == ROUTE_1
    newest_two, total = cq.call_list(serving, WEEK, TZ, show_numbers=True, limit=2)
    assert (newest_two["call_id"].to_list(), total) == (["c2", "c1"], 5)
    empty, total = cq.call_list(serving, _filtered(outcomes=()), TZ, show_numbers=True)
    assert (empty.height, total) == (0, 0) and empty.schema == pl.Schema(cq.CALL_LIST_SCHEMA)


def test_call_list_orders_by_instant_through_the_hour_that_repeats(tmp_path):
    """New York falls back on 2026-11-01: 05:32 UTC is 01:32 EDT, 06:31 UTC is 01:31 EST an hour
    later. The list is newest first by the instant, not by the wall-clock time it shows."""
    zone = "America/New_York"
    common = ("inbound", "+13125550147", "+16015550100", "national", "US", "q", "Ana", "answered", "R", 5, 60)
    serving = build_serving(tmp_path / "serving.duckdb", calls=[
        call("early", "webex", common[0], "2026-11-01 05:32:00+00", date(2026, 11, 1), *common[1:]),
        call("late", "webex", common[0], "2026-11-01 06:31:00+00", date(2026, 11, 1), *common[1:]),
    ])
    day = cq.CallFilters(start=date(2026, 11, 1), end=date(2026, 11, 1))
    calls, _ = cq.call_list(serving, day, zone, show_numbers=False)
    assert calls["call_id"].to_list() == ["late", "early"]
    assert calls["started_at"].to_list() == [datetime(2026, 11, 1, 1, 31), datetime(2026, 11, 1, 1, 32)]
    newest, _ = cq.call_list(serving, day, zone, show_numbers=False, limit=1)
    assert newest["call_id"].to_list() == ["late"]


def test_journey_picker_numbers_calls_that_would_read_the_same():
    from streamlit_app.views.calls import journey_labels

    burst = [{"call_id": f"c{i}", "started_at": datetime(2026, 12, 5, 1, 26), "direction": "outbound",
              "route": "Yesenia Jiménez → PSTN"} for i in range(3)]
    labels = journey_labels(burst + [{**burst[0], "call_id": "c9", "route": None}])
    assert labels == {
        "c0": "2026-12-05 01:26:00 · outbound · Yesenia Jiménez → PSTN",
        "c1": "2026-12-05 01:26:00 · outbound · Yesenia Jiménez → PSTN (2)",
        "c2": "2026-12-05 01:26:00 · outbound · Yesenia Jiménez → PSTN (3)",
        "c9": "2026-12-05 01:26:00 · outbound · c9",
    }


def test_numbers_are_masked_unless_shown(serving):
    masked, _ = cq.call_list(serving, WEEK, TZ, show_numbers=False)
    by_id = {r["call_id"]: (r["caller_number"], r["callee_number"]) for r in masked.iter_rows(named=True)}
    assert by_id == {
        "c1": ("+57••••••••67", "+57••••••••00"),
        "c2": ("+44••••••••21", "+57••••••••00"),
        "c3": ("2001", "+57•••••••••67"),  # an extension stays; 14 characters keep 3 + 2
        "c4": ("Anonymous", "+57••••••••00"),  # no digits: nothing to hide
        "c5": ("1001", "1002"),
    }
    shown, _ = cq.call_list(serving, WEEK, TZ, show_numbers=True)
    assert shown.filter(pl.col("call_id") == "c1")["caller_number"].item() == "+573001234567"


def test_journey_hops_in_order(serving):
    hops = cq.journey_hops(serving, "c1", TZ)
    assert hops["hop_no"].to_list() == [1, 2, 3, 4, 5]
    assert hops["hop"].to_list() == ["PSTN", "AA Principal", "Tarjetas", "Luis Mora", "Ana Pérez"]
    assert hops.row(1, named=True)["key_pressed"] == "2"
    assert hops["started_at"][4] == datetime(2025, 3, 12, 10, 0, 50)  # local
    assert cq.journey_hops(serving, "c3", TZ).is_empty()  # Asterisk calls have no hops


def test_filters_show_codes_readably():
    from streamlit_app.views.calls import readable

    assert [readable(c) for c in ("self_service", "toll_free", "answered")] == [
        "self-service", "toll-free", "answered"]


def test_who_may_see_numbers():
    assert not Settings().may_see_numbers("sup@bank.co")  # default: nobody
    listed = Settings(SWITCHBOARD_APP_NUMBER_VIEWERS="sup@bank.co, Fraud@Bank.co")
    assert listed.may_see_numbers("Sup@Bank.co") and listed.may_see_numbers("fraud@bank.co")
    assert not listed.may_see_numbers("agent@bank.co") and not listed.may_see_numbers(None)
    assert Settings(SWITCHBOARD_APP_NUMBER_VIEWERS="*").may_see_numbers(None)


def test_a_viewer_is_known_by_an_e_mail_the_identity_provider_has_not_said_is_unverified():
    """Where anyone may sign up, a listed address typed by someone else must not show numbers
    (independent security audit); a provider that sends no email_verified is taken at its word."""
    from streamlit_app.views.calls import verified_email

    signed_in = {"is_logged_in": True, "email": "sup@bank.co"}
    assert verified_email(signed_in) == "sup@bank.co"  # no claim (Microsoft Entra ID)
    assert verified_email({**signed_in, "email_verified": True}) == "sup@bank.co"
    assert verified_email({**signed_in, "email_verified": False}) is None
    assert verified_email({**signed_in, "email_verified": "true"}) == "sup@bank.co"  # as a string (Amazon Cognito)
    for unverified in ("false", 0, "0", "no", None, " false", 1):  # only true is verified (re-audit)
        assert verified_email({**signed_in, "email_verified": unverified}) is None, unverified
    assert verified_email({"is_logged_in": False}) is None and verified_email({}) is None


# =========================================================================== the page (AppTest)


def _calls_page() -> None:
    from streamlit_app.views import calls

    calls.render()


@pytest.fixture
def app_env(monkeypatch, serving):
    monkeypatch.setenv("SWITCHBOARD_SERVING_PATH", str(serving))
    monkeypatch.setenv("SWITCHBOARD_TIMEZONE", TZ)
    monkeypatch.delenv("SWITCHBOARD_APP_NUMBER_VIEWERS", raising=False)
    st.cache_data.clear()
    return serving


def run_page(user: dict | None = None) -> AppTest:
    at = AppTest.from_function(_calls_page, default_timeout=60)
    if user is not None:
        at.user = user
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def _chart_rows(at: AppTest):
    """The rows Streamlit sends to the browser for the page's chart."""
    import pyarrow as pa

    (dataset,) = at.get("vega_lite_chart")[0].proto.datasets
    return pa.ipc.open_stream(dataset.data.data).read_all().to_pandas()


def _page_text(at: AppTest) -> str:
    return " ".join([c.value for c in at.caption] + [df.value.to_csv() for df in at.dataframe])


def test_page_for_a_viewer_without_numbers(app_env):
    at = run_page()
    assert {m.label: m.value for m in at.metric} == {
        "Calls": "5",
        "Answered, all calls": "80.0%",
        "Queued calls answered": "66.7%",  # c1 and c4 of c1, c2, c4
        "Self-service": "0",
        "Inbound": "3",
        "Outbound": "1",
        "International": "1",
        "Premium": "1",
        "Mean talk": "01:38",  # 390 s ÷ 4 = 97.5 s
        "Mean queue wait": "00:28",  # 85 s ÷ 3
    }
    assert "06:30 in all" in next(m for m in at.metric if m.label == "Mean talk").help
    assert at.date_input[0].value == (date(2025, 3, 6), date(2025, 3, 12))
    bars = _chart_rows(at)  # one bar per day and direction, the days in order
    assert list(dict.fromkeys(bars["label"])) == [
        "Thu 06 Mar", "Fri 07 Mar", "Sat 08 Mar", "Sun 09 Mar", "Mon 10 Mar", "Tue 11 Mar", "Wed 12 Mar"]
    assert bars[bars["calls"] > 0][["label", "direction", "calls"]].values.tolist() == [
        ["Mon 10 Mar", "inbound", 1], ["Tue 11 Mar", "internal", 1], ["Tue 11 Mar", "outbound", 1],
        ["Wed 12 Mar", "inbound", 2]]
    calls = at.dataframe[1].value
    assert list(calls["caller_number"]) == ["+44••••••••21", "+57••••••••67", "1001", "2001", "Anonymous"]
    text = _page_text(at)
    assert "+573001234567" not in text and "3001234567" not in text and "masked" in text
    assert len(at.text_input) == 0  # no search by number
    # the journey of the newest Webex call is shown first; picking c1 shows its five hops in order
    assert at.selectbox[0].options == [
        f"2025-03-12 11:00:00 · inbound · {ROUTE_2}",
        f"2025-03-12 10:00:00 · inbound · {ROUTE_1}",
        f"2025-03-11 22:00:00 · internal · {ROUTE_5}",
    ]
    at.selectbox[0].select("c1").run()
    hops = at.dataframe[2].value
    assert list(hops["hop"]) == ["PSTN", "AA Principal", "Tarjetas", "Luis Mora", "Ana Pérez"]
    # codes read as the filters show them (auto_attendant, agent_offer and no_answer in the mart)
    assert list(hops["hop_type"]) == ["pstn", "auto-attendant", "queue", "agent-offer", "agent"]
    assert list(hops["outcome"]) == ["connected", "transferred", "connected", "no-answer", "answered"]
    # an empty cell reads "—", as the tiles say it, not Streamlit's "None"
    assert [df.proto.placeholder for df in at.dataframe] == ["—"] * 3


def test_page_in_another_time_zone_than_the_copy_says_so(app_env, monkeypatch):
    """The calls' days are the pipeline's zone's (queries.Overview.days_elsewhere)."""
    assert not run_page().warning
    monkeypatch.setenv("SWITCHBOARD_TIMEZONE", "Pacific/Kiritimati")  # UTC+14: every call's next day
    st.cache_data.clear()
    at = run_page()
    assert any("6 calls" in w.value and "SWITCHBOARD_TIMEZONE" in w.value for w in at.warning)


def test_page_for_a_listed_viewer_shows_and_searches_numbers(app_env, monkeypatch):
    monkeypatch.setenv("SWITCHBOARD_APP_NUMBER_VIEWERS", "sup@bank.co")
    at = run_page({"is_logged_in": True, "email": "Sup@Bank.co"})
    assert "+573001234567" in list(at.dataframe[1].value["caller_number"])
    at.text_input[0].input("300 123").run()
    assert {m.label: m.value for m in at.metric}["Calls"] == "1"
    assert list(at.dataframe[1].value["caller_number"]) == ["+573001234567"]


def test_selecting_a_row_of_the_call_list_opens_its_journey(app_env):
    at = run_page()
    listed = list(at.dataframe[1].value["started_at"].astype(str))  # newest first: c2, c1, c5, c3, c4
    row_of_c1 = listed.index("2025-03-12 10:00:00")
    at.session_state["call_list"] = {"selection": {"rows": [row_of_c1], "columns": []}}
    at.run()
    assert at.selectbox[0].value == "c1"
    assert list(at.dataframe[2].value["hop"]) == ["PSTN", "AA Principal", "Tarjetas", "Luis Mora", "Ana Pérez"]
    at.session_state["call_list"] = {"selection": {"rows": [listed.index("2025-03-11 15:00:00")], "columns": []}}
    at.run()  # c3, an Asterisk call: no journey, and the picker stays on the newest Webex call
    assert any("The selected call has no journey" in c.value for c in at.caption)
    assert at.selectbox[0].value == "c2"


def test_a_number_search_without_digits_finds_no_call_and_says_why(app_env, monkeypatch):
    monkeypatch.setenv("SWITCHBOARD_APP_NUMBER_VIEWERS", "*")
    at = run_page()
    at.text_input[0].input("abc").run()
    assert {m.label: m.value for m in at.metric}["Calls"] == "0"
    assert "needs digits" in at.sidebar.warning[0].value
    assert len(at.get("vega_lite_chart")) == 0  # no empty chart under "No calls in this selection"
    assert any(c.value == "No calls in this selection." for c in at.caption)


def test_page_masks_numbers_for_a_signed_in_viewer_not_listed(app_env, monkeypatch):
    monkeypatch.setenv("SWITCHBOARD_APP_NUMBER_VIEWERS", "sup@bank.co")
    at = run_page({"is_logged_in": True, "email": "agent@bank.co"})
    assert "+573001234567" not in _page_text(at)
    # an e-mail without a login (AppTest's default user) is not a signed-in viewer either
    assert "+573001234567" not in _page_text(run_page({"email": "sup@bank.co"}))


def test_page_filters_change_the_figures(app_env):
    at = run_page()
    direction = next(m for m in at.multiselect if m.label == "Direction")
    direction.set_value(["outbound"]).run()
    assert {m.label: m.value for m in at.metric}["Calls"] == "1"
    assert len(at.selectbox) == 0  # c3 is an Asterisk call: no journey to pick
    assert any("Journeys are recorded for Webex calls" in c.value for c in at.caption)


def test_a_short_range_draws_its_days_as_wide_as_a_weeks(app_env):
    """One day's bar spanned the whole chart. A bar is its share of its day's band, and n days'
    bands split the chart in n: under a week, share ÷ n must be a week's 1 ÷ 7."""
    def bar_width(at: AppTest) -> float:
        share = json.loads(at.get("vega_lite_chart")[0].proto.spec)["mark"]["width"]["band"]
        return share / _chart_rows(at)["label"].nunique()

    at = run_page()
    assert bar_width(at) == pytest.approx(1 / 7)  # the default week
    at.date_input[0].set_value((date(2025, 3, 12), date(2025, 3, 12))).run()
    assert bar_width(at) == pytest.approx(1 / 7)
    at.date_input[0].set_value((date(2025, 3, 10), date(2025, 3, 12))).run()
    assert bar_width(at) == pytest.approx(1 / 7)
    at.date_input[0].set_value((date(2025, 3, 1), date(2025, 3, 12))).run()  # 12 days fill it
    assert bar_width(at) == pytest.approx(1 / 12)


def test_a_shared_link_opens_the_same_filters(app_env):
    """The Calls filters are in the URL too; the number searched is not (it would land in browser
    history and proxy logs)."""
    at = AppTest.from_function(_calls_page, default_timeout=60)
    at.query_params = {"direction": "outbound"}
    at.run()
    assert not at.exception
    assert next(m for m in at.multiselect if m.label == "Direction").value == ["outbound"]
    assert {m.label: m.value for m in at.metric}["Calls"] == "1"


def test_page_without_calls(monkeypatch, tmp_path):
    monkeypatch.setenv("SWITCHBOARD_SERVING_PATH", str(build_serving(tmp_path / "s.duckdb", calls=[])))
    monkeypatch.setenv("SWITCHBOARD_TIMEZONE", TZ)
    st.cache_data.clear()
    at = run_page()
    assert "No calls published yet" in at.info[0].value


def test_page_offers_sign_in_only_where_a_login_is_configured(app_env, monkeypatch):
    monkeypatch.setenv("SWITCHBOARD_APP_NUMBER_VIEWERS", "sup@bank.co")
    assert [b.label for b in run_page().button] == []  # no [auth] configured: nothing to sign in to
    assert [b.label for b in run_page({"is_logged_in": False}).button] == ["Sign in"]
    at = run_page({"is_logged_in": True, "email": "sup@bank.co"})
    assert [b.label for b in at.button] == ["Sign out"]
    assert any(c.value == "Signed in as sup@bank.co" for c in at.caption)


def test_sign_in_works_where_a_login_is_configured(app_env, monkeypatch, tmp_path):
    """With an `[auth]` section in the app's secrets, Sign in starts Streamlit's OIDC login (it
    needs Authlib, installed with streamlit[auth]). The provider is never reached: the login
    redirects the browser, which AppTest does not follow."""
    secrets = tmp_path / ".streamlit" / "secrets.toml"
    secrets.parent.mkdir()
    secrets.write_text(
        '[auth]\nredirect_uri = "http://127.0.0.1:8501/oauth2callback"\ncookie_secret = "test-only"\n'
        'client_id = "switchboard"\nclient_secret = "test-only"\n'
        'server_metadata_url = "http://127.0.0.1:9/.well-known/openid-configuration"\n')
    monkeypatch.chdir(tmp_path)
    at = run_page({"is_logged_in": False})
    at.button[0].click().run()
    assert not at.exception, [e.value for e in at.exception]
