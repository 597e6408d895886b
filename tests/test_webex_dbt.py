"""Webex journeys, queue visits and the cross-platform marts: real `dbt build` on real warehouses.

The raw Webex tables are filled with the hand-built scenarios of tests/webex_dbt_fixtures.py
(simple answered call, AA → queue → ring-no-answer → second agent, blind transfer to another
queue, consult transfer, abandoned in queue, short abandon, AI agent escalated to a queue,
outbound, internal) next to a one-call Asterisk log answered by the same person (Ana), and the
agent directory of the fixtures. Every expected figure below is worked out by hand from the
records (times are seconds after T0), independently of the SQL.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from datetime import timedelta
from decimal import Decimal
from pathlib import Path

import duckdb
import pytest

from resources.dbt import dbt_executable
from switchboard.paths import DBT_PROJECT_DIR
from tests.postgres_databases import create_database
from tests.test_dbt_project import RAW_DDL, _fields, classify_raw_numbers, insert_file_lines
from tests.webex_dbt_fixtures import (
    ANA,
    CDR_COLUMNS,
    DAY,
    DIRECTORY_CSV,
    LEFT_WEBEX,
    PEDRO,
    PEOPLE,
    ROBERTO,
    T0,
    TZ,
    all_records,
    journey_of,
    load_webex,
    raw_webex_ddl,
    record,
    scenarios,
)

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("webex_dbt")]

E0 = int(T0.timestamp())
# (seconds after T0, fields) on PBX "lab": Ana ("Ána", the directory's "ÁNA") answers one call of ventas
ASTERISK_LINES = [
    (0, "NONE|NONE|NONE|QUEUESTART|"),
    (10, "MANAGER|ventas|SIP/3001|ADDMEMBER|"),
    (10, "NONE|ventas|Ána|UNPAUSE|"),
    (100, "5001.1|ventas|NONE|ENTERQUEUE||3001234567|1"),
    (110, "5001.1|ventas|Ána|CONNECT|10|5001.2|3"),
    (170, "5001.1|ventas|Ána|COMPLETECALLER|10|60|1"),
]
CDR_INSERT = (
    "insert into raw_asterisk.cdr (pbx, cdr_key, source_file, src, dst, dcontext, channel, dstchannel, "
    "lastapp, start_at, answer_at, end_at, duration, billsec, disposition, uniqueid) values ({})"
)
CDR_ROW = ("lab", "k1", "/cdr/Master.csv", "3001234567", "ventas", "ext-queues", "SIP/trunk-0001",
           "SIP/3001-0002", "Queue", T0 + timedelta(seconds=95), T0 + timedelta(seconds=95),
           T0 + timedelta(seconds=170), 75, 75, "ANSWERED", "5001.1")


def _load_asterisk(cur, placeholder: str) -> None:
    rows = []
    for line_no, (offset, text) in enumerate(ASTERISK_LINES):
        callid, queue, agent, event, *data = _fields(text)
        rows.append(("lab", "lab-1", "/logs/queue_log", line_no, E0 + offset, callid, queue, agent, event, *data))
    insert_file_lines(cur, placeholder, rows)
    cur.execute(CDR_INSERT.format(", ".join([placeholder] * len(CDR_ROW))), CDR_ROW)
    classify_raw_numbers(cur, placeholder)


def _project(tmp: Path) -> Path:
    """A copy of the dbt project whose agent directory is the fixtures' (the shipped one is empty)."""
    project = tmp / "dbt_project"
    shutil.copytree(DBT_PROJECT_DIR, project, ignore=shutil.ignore_patterns("target", "logs"))
    (project / "seeds" / "agent_directory.csv").write_text(DIRECTORY_CSV, encoding="utf-8")
    return project


def _dbt(project: Path, tmp: Path, env: dict[str, str], *args: str) -> None:
    dbt = dbt_executable()
    result = subprocess.run(  # without the debug log file, as test_dbt_project._dbt
        [dbt, *args, "--project-dir", str(project), "--profiles-dir", str(project),
         "--target-path", str(tmp / "target"), "--log-path", str(tmp / "logs"), "--log-level-file", "none",
         "--vars", json.dumps({"reporting_timezone": TZ, "sl_seconds": 20, "short_abandon_seconds": 5})],
        env={**os.environ, **env}, capture_output=True, text=True, cwd=tmp,
    )
    assert result.returncode == 0, result.stdout[-6000:] + result.stderr[-2000:]


@pytest.fixture(scope="module")
def built(tmp_path_factory) -> Path:
    tmp = tmp_path_factory.mktemp("webex_dbt")
    path = tmp / "warehouse.duckdb"
    with duckdb.connect(str(path)) as con:
        con.execute(RAW_DDL)
        con.execute(raw_webex_ddl())
        _load_asterisk(con.cursor(), "?")
        load_webex(con.cursor(), "?")
    env = {"SWITCHBOARD_DBT_TARGET": "duckdb", "SWITCHBOARD_DBT_DUCKDB_PATH": str(path)}
    project = _project(tmp)
    # models and data tests; the unit tests of the Webex models run on the built warehouse below
    _dbt(project, tmp, env, "build", "--exclude", "test_type:unit")
    _dbt(project, tmp, env, "test", "--select", *UNIT_TESTED)
    return path


# the dbt unit tests (hand-built leg sets: dbt_project/models/intermediate/webex/_int_webex__unit_tests.yml)
UNIT_TESTED = ("test_type:unit,int_webex__legs", "test_type:unit,int_webex__queue_visits")


def _rows(path: Path, sql: str) -> list[dict]:
    with duckdb.connect(str(path), read_only=True) as con:
        cur = con.execute(sql)
        names = [d[0] for d in cur.description]
        return [dict(zip(names, r, strict=True)) for r in cur.fetchall()]


# --------------------------------------------------------------------------- journeys

JOURNEY_COLUMNS = ("direction", "outcome", "route", "call_type", "country", "first_queue", "final_agent",
                   "ring_seconds", "auto_attendant_seconds", "queue_seconds", "virtual_agent_seconds",
                   "talk_seconds", "hold_seconds", "recorded", "transferred", "record_count")
EXPECTED_JOURNEYS = {
    # simple: wait 12 (answer at +12), Ana talks 130 − 12 = 118 with 10 s hold, rang 12 − 5 = 7; recorded
    "simple": ("inbound", "answered", "PSTN → Tarjetas → Ana Pérez", "mobile", "CO", "Tarjetas", "Ana Pérez",
               7, 0, 12, 0, 118, 10, True, False, 2),
    # AA 0..20 (key 2); queue from +20; Jorge rings 15 s and gives up; Ana rings 8, answers at +48: wait 28, talk 152
    "aa_rna": ("inbound", "answered", "PSTN → AA Principal [2] → Tarjetas → Ana Pérez", "national", "CO", "Tarjetas",
               "Ana Pérez", 15 + 8, 20, 28, 0, 152, 0, False, False, 4),
    # Tarjetas wait 10, Ana talks 80 and blind-transfers to Fraude (wait 92+8−90 = 10), Luis talks 200
    # Luis is in the directory by UUID as "Luis Mora R."
    "blind_transfer": ("inbound", "answered", "PSTN → Tarjetas → Ana Pérez → Fraude → Luis Mora R.", "mobile", "CO",
                       "Tarjetas", "Luis Mora R.", 7 + 8, 0, 20, 0, 80 + 200, 0, False, True, 4),
    # wait 15; Ana talks 105 (her consult call inside it is not added); Carlos (directory by extension)
    # answers the consult at +66 while Ana is still on the line until +120: his leg counts from +120 to
    # +400 (280 of its 334 s), so talk 105 + 280 = 385 = the call's 400 s less its 15 s in the queue
    "consult_transfer": ("inbound", "answered", "PSTN → Tarjetas → Ana Pérez → Carlos Díaz", "mobile", "CO",
                         "Tarjetas", "Carlos Díaz", 10 + 6, 0, 15, 0, 105 + 280, 0, False, True, 4),
    # Cobranzas: Jorge rings 20 s, Luis busy (0), caller leaves after 40 s
    "abandoned": ("inbound", "abandoned", "PSTN → Cobranzas", "mobile", "CO", "Cobranzas", None,
                  20, 0, 40, 0, 0, 0, False, False, 3),
    "short_abandon": ("inbound", "abandoned", "PSTN → Cobranzas", "mobile", "CO", "Cobranzas", None,
                      0, 0, 3, 0, 0, 0, False, False, 1),
    # AI agent answers at +1, talks 60, deflects to Tarjetas at +61; Ana answers at +70 (wait 9), talks 120
    "ai_escalation": ("inbound", "answered", "PSTN → Asistente IA → Tarjetas → Ana Pérez", "mobile", "CO",
                      "Tarjetas", "Ana Pérez", 8, 0, 9, 60, 120, 0, False, False, 3),
    # María (not in the directory: People name) dials London, rings 10 s, talks 300; recorded
    "outbound": ("outbound", "answered", "María Gómez → PSTN", "international", "GB", None, "María Gómez",
                 10, 0, 0, 0, 300, 0, True, False, 1),
    # two halves of one internal leg: talk counted once (60), Roberto rang 5 s
    "internal": ("internal", "answered", "Alicia Rojas → Roberto Díaz", "internal", None, None, "Roberto Díaz",
                 5, 0, 0, 0, 60, 0, False, False, 2),
    # the virtual line rings 4 s and answers at +6 (wait 6), talks 94: an agent like a person
    "virtual_line_agent": ("inbound", "answered", "PSTN → Seguros → Linea Cobro", "mobile", "CO", "Seguros",
                           "Linea Cobro", 4, 0, 6, 0, 94, 0, False, False, 2),
    # on-net call to the queue's DID: internal, no PSTN hop; Pedro's own 70 s leg is not agent talk
    "employee_to_queue": ("internal", "answered", "Pedro León → Seguros → Roberto Díaz", "internal", None, "Seguros",
                          "Roberto Díaz", 7, 0, 10, 0, 60, 0, False, False, 3),
    # no Start time: the journey starts at the record's release (+5); failed before anyone answered
    "empty_start_time": ("outbound", "failed", "María Gómez → PSTN", "national", "CO", None, None,
                         0, 0, 0, 0, 0, 0, False, False, 1),
    # Ana answers after 10 s in Tarjetas (rang 6), talks 50, blind-transfers to Fraude, where Luis rings
    # 25 s and the caller hangs up after 35 s: answered (a person answered; the Fraude visit is the abandon)
    "transfer_then_abandoned": ("inbound", "answered", "PSTN → Tarjetas → Ana Pérez → Fraude", "mobile", "CO",
                                "Tarjetas", "Ana Pérez", 6 + 25, 0, 10 + 35, 0, 50, 0, False, True, 4),
    # the AA (10 s, key 0) sends the caller to Jorge, whose phone rings 20 s: the call did not end in the AA
    "aa_to_unanswered_person": ("inbound", "unanswered", "PSTN → AA Principal [0] → Jorge Páez", "national", "CO",
                                None, None, 20, 10, 0, 0, 0, 0, False, False, 2),
}


def test_every_record_belongs_to_exactly_one_journey(built):
    legs = _rows(built, "select report_id, journey_id from intermediate.int_webex__legs")
    assert sorted(r["report_id"] for r in legs) == sorted(r["report_id"] for r in all_records())
    by_record = {r["report_id"]: r["journey_id"] for r in legs}
    for name, records in scenarios().items():
        assert {by_record[r["report_id"]] for r in records} == {journey_of(name)}, name
    assert len(set(by_record.values())) == len(scenarios())


def test_journeys(built):
    rows = {r["journey_id"]: r for r in _rows(built, "select * from intermediate.int_webex__journeys")}
    got = {name: tuple(rows[journey_of(name)][c] for c in JOURNEY_COLUMNS) for name in EXPECTED_JOURNEYS}
    assert got == EXPECTED_JOURNEYS


def test_journey_hops_in_order(built):
    def hops(name):
        return [
            (h["hop_type"], h["route_label"] or h["agent"], h["outcome"], h["duration_seconds"])
            for h in _rows(built, f"select * from marts.fct_journey_hops where call_id = '{journey_of(name)}' order by hop_no")
        ]

    assert hops("aa_rna") == [
        ("pstn", "PSTN", "connected", None),
        ("auto_attendant", "AA Principal [2]", "transferred", 20),
        ("queue", "Tarjetas", "answered", 28),
        ("agent_offer", "Jorge Páez", "no_answer", 15),  # not in the directory: People name
        ("agent", "Ana Pérez", "answered", 152),
    ]
    # ring and hold only where something rings or holds: the AA's and the queue's records say 0
    measures = {name: [(h["hop_type"], h["ring_seconds"], h["hold_seconds"]) for h in _rows(
        built, f"select * from marts.fct_journey_hops where call_id = '{journey_of(name)}' order by hop_no")]
        for name in ("simple", "aa_rna")}
    assert measures == {
        "simple": [("pstn", None, None), ("queue", None, None), ("agent", 7, 10)],
        "aa_rna": [("pstn", None, None), ("auto_attendant", None, None), ("queue", None, None),
                   ("agent_offer", 15, None), ("agent", 8, None)],
    }
    assert hops("consult_transfer") == [
        ("pstn", "PSTN", "connected", None),
        ("queue", "Tarjetas", "answered", 15),
        ("agent", "Ana Pérez", "transferred", 105),
        ("consult", "Ana Pérez", "transferred", 54),  # Ana's own call to Carlos, not shown in the route
        ("agent", "Carlos Díaz", "answered", 334),
    ]
    assert hops("abandoned") == [
        ("pstn", "PSTN", "connected", None),
        ("queue", "Cobranzas", "abandoned", 40),
        ("agent_offer", "Jorge Páez", "no_answer", 20),
        ("agent_offer", "Luis Mora R.", "busy", 0),
    ]
    assert hops("outbound") == [("caller", "María Gómez", "answered", 300), ("pstn", "PSTN", "answered", None)]
    assert hops("employee_to_queue") == [  # on-net: no PSTN hop
        ("caller", "Pedro León", "answered", 70),
        ("queue", "Seguros", "answered", 10),
        ("agent", "Roberto Díaz", "answered", 60),
    ]


# --------------------------------------------------------------------------- queue visits and marts

def test_webex_queue_visits_in_fct_queue_visits(built):
    rows = _rows(built, "select * from marts.fct_queue_visits where platform = 'webex' order by entered_at")
    got = [
        (r["call_id"], r["queue"], r["outcome"], r["wait_seconds"], r["talk_seconds"], r["ring_attempts"],
         r["ring_no_answer_count"], r["transferred"], r["agent"], r["is_short_abandon"])
        for r in rows
    ]
    assert got == [
        ("C1", "Tarjetas", "answered", 12, 118, 1, 0, False, "Ana Pérez", False),
        ("C2", "Tarjetas", "answered", 28, 152, 2, 1, False, "Ana Pérez", False),
        ("C3", "Tarjetas", "answered", 10, 80, 1, 0, True, "Ana Pérez", False),
        ("C3", "Fraude", "answered", 10, 200, 1, 0, False, "Luis Mora R.", False),
        ("C4", "Tarjetas", "answered", 15, 105, 1, 0, True, "Ana Pérez", False),
        ("C5", "Cobranzas", "abandoned", 40, None, 1, 1, False, None, False),  # Luis busy: not a ring
        ("C5b", "Cobranzas", "abandoned", 3, None, 0, 0, False, None, True),
        ("C6a", "Tarjetas", "answered", 9, 120, 1, 0, False, "Ana Pérez", False),
        ("C9", "Seguros", "answered", 6, 94, 1, 0, False, "Linea Cobro", False),
        ("C10", "Seguros", "answered", 10, 60, 1, 0, False, "Roberto Díaz", False),
        ("C12", "Tarjetas", "answered", 10, 50, 1, 0, True, "Ana Pérez", False),
        ("C12", "Fraude", "abandoned", 35, None, 1, 1, False, None, False),
    ]
    c1 = rows[0]
    assert (c1["entered_date"], str(c1["entered_interval_start"]), c1["hold_seconds"], c1["did"]) == (
        DAY, "2026-03-02 09:00:00", 10, "+576015550100")
    assert c1["pbx"] is None and c1["agent_key"] == "a-001" and c1["agent_as_logged"] == "Ana Perez (CDR)"
    all_ids = _rows(built, "select count(*) as n, count(distinct visit_id) as d from marts.fct_queue_visits")
    assert all_ids == [{"n": 13, "d": 13}]  # 12 Webex + 1 Asterisk visit, ids unique across platforms


def test_queue_daily_covers_webex_under_the_same_definitions(built):
    rows = {(r["platform"], r["queue"]): r for r in _rows(built, "select * from marts.agg_queue_daily")}
    tarjetas = rows[("webex", "Tarjetas")]
    # 6 answered visits, waits 12, 28, 10, 15, 9, 10: within 20 s 5 -> SL 5/6; ASA 84/6;
    # talks 118+152+80+105+120+50
    assert (tarjetas["offered"], tarjetas["answered"], tarjetas["answered_within_sl"], tarjetas["transfers"]) == (6, 6, 5, 3)
    assert tarjetas["service_level"] == pytest.approx(5 / 6)
    assert tarjetas["asa_seconds"] == pytest.approx(84 / 6)
    assert tarjetas["avg_talk_seconds"] == pytest.approx(625 / 6)
    assert tarjetas["max_wait_seconds"] == 28
    cobranzas = rows[("webex", "Cobranzas")]
    # 2 abandoned (40 s, 3 s short): SL 0 / (2 − 1); abandon rate (2 − 1) / (2 − 1)
    assert (cobranzas["offered"], cobranzas["abandoned"], cobranzas["short_abandons"]) == (2, 2, 1)
    assert (cobranzas["service_level"], cobranzas["abandon_rate"]) == (0.0, 1.0)
    assert cobranzas["avg_wait_seconds"] == pytest.approx(43 / 2)
    fraude = rows[("webex", "Fraude")]
    # Luis answers C3 after 10 s; the caller transferred in C12 hangs up after 35 s
    assert (fraude["offered"], fraude["answered"], fraude["abandoned"]) == (2, 1, 1)
    assert fraude["asa_seconds"] == pytest.approx(10)
    assert rows[("asterisk", "ventas")]["answered"] == 1


def test_agent_directory_makes_one_person_across_platforms(built):
    rows = {(r["platform"], r["agent_key"]): r for r in _rows(built, "select * from marts.agg_agent_daily")}
    assert set(rows) == {("asterisk", "a-001"), ("webex", "a-001"), ("webex", "a-002"),
                         ("webex", "jorge.páez@banco.example"), ("webex", "roberto.diaz@banco.example"),
                         ("webex", "72000000-0000-4000-8000-000000000001")}  # the virtual line: not in People
    line = rows[("webex", "72000000-0000-4000-8000-000000000001")]
    assert (line["agent"], line["answered"], line["talk_seconds"]) == ("Linea Cobro", 1, 94)
    ana_pbx, ana_webex = rows[("asterisk", "a-001")], rows[("webex", "a-001")]
    assert ana_pbx["agent"] == ana_webex["agent"] == "Ana Pérez"
    # Asterisk: one call, talk 60; logged in from +10 to the log's last line (+170)
    assert (ana_pbx["answered"], ana_pbx["talk_seconds"], ana_pbx["logged_in_seconds"]) == (1, 60, 160)
    # Webex: answered C1, C2, C3, C4, C6, C12 = 118+152+80+105+120+50; transferred C3, C4, C12; no agent state
    assert (ana_webex["answered"], ana_webex["talk_seconds"], ana_webex["transfers"]) == (6, 625, 3)
    assert (ana_webex["logged_in_seconds"], ana_webex["occupancy"]) == (None, None)
    jorge = rows[("webex", "jorge.páez@banco.example")]
    assert (jorge["agent"], jorge["answered"], jorge["ring_no_answer"]) == ("Jorge Páez", 0, 2)
    luis = rows[("webex", "a-002")]
    # Luis rang out in C12's Fraude visit (his busy offer in C5 is not a ring)
    assert (luis["agent"], luis["answered"], luis["talk_seconds"], luis["ring_no_answer"]) == ("Luis Mora R.", 1, 200, 1)
    visit = _rows(built, "select agent, agent_key, agent_as_logged from marts.fct_queue_visits where platform = 'asterisk'")
    assert visit == [{"agent": "Ana Pérez", "agent_key": "a-001", "agent_as_logged": "Ána"}]
    sources = {r["platform_agent_key"]: r["match_source"] for r in _rows(built, "select * from intermediate.int_agents")}
    assert sources == {"ána": "asterisk_member",
                       "a0000000-0000-4000-8000-000000000001": "email",
                       "a0000000-0000-4000-8000-000000000003": "webex_user_uuid",
                       "a0000000-0000-4000-8000-000000000004": "extension",
                       "a0000000-0000-4000-8000-000000000002": None,
                       "a0000000-0000-4000-8000-000000000005": None,
                       "a0000000-0000-4000-8000-000000000006": None,
                       "a0000000-0000-4000-8000-000000000007": None,
                       "a0000000-0000-4000-8000-000000000008": None,
                       "72000000-0000-4000-8000-000000000001": None}


def test_dimensions_name_each_agent_once_with_their_webex_person_and_location(built):
    agents = {r["agent_key"]: r for r in _rows(built, "select * from marts.dim_agents")}
    # every agent the marts name, once (the directory joins Ana's two platforms into one row)
    named = {r["agent_key"] for r in _rows(built, "select agent_key from marts.agg_agent_daily")}
    assert named <= set(agents)
    ana = agents["a-001"]
    assert (ana["agent"], ana["agent_id"], ana["on_asterisk"], ana["on_webex"]) == ("Ana Pérez", "A-001", True, True)
    assert (ana["webex_person_uuid"], ana["location_name"]) == (ANA, "Bogota")
    carlos = agents["a-003"]  # found by extension only; in People, so at its location
    assert (carlos["on_asterisk"], carlos["on_webex"], carlos["extension"], carlos["location_name"]) == (
        False, True, "2004", "Bogota")
    assert ana["webex_deleted_at"] is None
    roberto = agents["roberto.diaz@banco.example"]  # found gone from Webex: still named, marked
    assert (roberto["agent"], roberto["webex_deleted_at"]) == ("Roberto Díaz", LEFT_WEBEX[ROBERTO])
    line = agents["72000000-0000-4000-8000-000000000001"]  # a virtual line: not in People, no location
    assert (line["agent"], line["webex_person_uuid"], line["location_uuid"]) == ("Linea Cobro", None, None)
    assert _rows(built, "select location_name, time_zone, country, city, people from marts.dim_locations") == [
        {"location_name": "Bogota", "time_zone": "America/Bogota", "country": "CO", "city": "Bogotá",
         "people": len(PEOPLE)}]


def test_fct_calls_one_row_per_call_on_both_platforms(built):
    rows = {r["call_id"]: r for r in _rows(built, "select * from marts.fct_calls")}
    assert set(rows) == {journey_of(n) for n in scenarios()} | {"lab:5001.1"}
    for name, expected in EXPECTED_JOURNEYS.items():
        row = rows[journey_of(name)]
        assert (row["platform"], row["direction"], row["outcome"], row["call_type"], row["route"],
                row["talk_seconds"], row["queue_seconds"]) == (
            "webex", expected[0], expected[1], expected[3], expected[2], expected[11], expected[9]), name
    simple = rows["C1"]
    assert (simple["caller_number"], simple["callee_number"], simple["started_at"], simple["ended_at"]) == (
        "+573001112222", "+576015550100", T0, T0 + timedelta(seconds=130))
    pbx = rows["lab:5001.1"]
    # Master.csv row of the queue call + its queue_log visit: caller 3001234567 is a Colombian mobile
    assert {k: pbx[k] for k in ("platform", "pbx", "source_call_id", "direction", "call_type", "country",
                                "first_queue", "final_agent", "outcome", "queue_seconds", "talk_seconds",
                                "ring_seconds", "hold_seconds", "recorded")} == {
        "platform": "asterisk", "pbx": "lab", "source_call_id": "5001.1", "direction": "inbound",
        "call_type": "mobile", "country": "CO", "first_queue": "ventas", "final_agent": "Ana Pérez",
        "outcome": "answered", "queue_seconds": 10, "talk_seconds": 60, "ring_seconds": 0,
        "hold_seconds": None, "recorded": None}
    assert (pbx["started_at"], pbx["ended_at"]) == (T0 + timedelta(seconds=95), T0 + timedelta(seconds=170))
    no_start = rows["C11"]  # the record's Start time was empty: the call starts and ends at its release
    assert (no_start["started_at"], no_start["ended_at"]) == (T0 + timedelta(seconds=10005),) * 2


def test_incremental_run_rewrites_webex_visits_and_keeps_asterisk_boots(built, tmp_path):
    """fct_queue_visits is incremental: Webex rows are replaced in full, unchanged Asterisk boots are kept."""
    sql = ("select visit_id, platform, outcome, wait_seconds, agent_key, dbt_refreshed_at "
           "from marts.fct_queue_visits order by visit_id")
    before = _rows(built, sql)
    project = _project(tmp_path)
    _dbt(project, tmp_path, {"SWITCHBOARD_DBT_TARGET": "duckdb", "SWITCHBOARD_DBT_DUCKDB_PATH": str(built)},
         "run", "--select", "fct_queue_visits")
    after = _rows(built, sql)
    strip = [{k: v for k, v in r.items() if k != "dbt_refreshed_at"} for r in before]
    assert [{k: v for k, v in r.items() if k != "dbt_refreshed_at"} for r in after] == strip
    stamps = {(b["platform"], b["dbt_refreshed_at"] == a["dbt_refreshed_at"]) for b, a in zip(before, after, strict=True)}
    assert stamps == {("webex", False), ("asterisk", True)}


# --------------------------------------------------------------------------- optional columns, Postgres

def test_raw_table_with_only_some_columns_still_builds(tmp_path):
    """dlt creates a column only once a value arrives: staging reads absent columns as null."""
    path = tmp_path / "warehouse.duckdb"
    present = ["report_id", "correlation_id", "local_call_id", "related_call_id", "related_reason", "direction",
               "answered", "start_time", "answer_time", "release_time", "duration", "ring_duration", "user_uuid",
               "user_type", "user", "calling_number", "called_number", "redirect_reason", "redirecting_party_uuid"]
    types = dict(CDR_COLUMNS)
    records = scenarios()["aa_rna"]
    with duckdb.connect(str(path)) as con:
        con.execute(RAW_DDL)
        con.execute("create schema raw_webex")
        con.execute(f"create table raw_webex.cdr ({', '.join(f'{chr(34)}{c}{chr(34)} {types[c]}' for c in present)})")
        con.executemany(f"insert into raw_webex.cdr values ({', '.join(['?'] * len(present))})",
                        [tuple(r[c] for c in present) for r in records])
    _dbt(_project(tmp_path), tmp_path, {"SWITCHBOARD_DBT_TARGET": "duckdb", "SWITCHBOARD_DBT_DUCKDB_PATH": str(path)},
         "build", "--exclude", "test_type:unit")
    rows = _rows(path, "select * from marts.fct_calls")
    # no People table: Ana is not found in the directory by e-mail and keeps her CDR name; no
    # auto_attendant_key_pressed column: the AA is shown without a key
    assert [(r["call_id"], r["route"], r["queue_seconds"], r["talk_seconds"]) for r in rows] == [
        ("C2", "PSTN → AA Principal → Tarjetas → Ana Perez (CDR)", 28, 152)]
    # no number types loaded: the far end is unknown, not guessed
    assert rows[0]["call_type"] == "unknown"


def test_an_internal_call_known_only_by_its_callers_answered_record_is_answered(tmp_path):
    """A Webex user calls a colleague's extension and only the caller's record (ORIGINATING,
    Answered) is loaded: the far end answered, so the call is answered, not unanswered."""
    path = tmp_path / "warehouse.duckdb"
    call = record("r20-p", PEDRO, start=0, answer=3, release=63, direction="ORIGINATING",
                  caller=("2008", "CO", "internal"), called=("2005", "CO", "internal"),
                  correlation_id="C20", local_call_id="p20:0")
    with duckdb.connect(str(path)) as con:
        con.execute(RAW_DDL)
        con.execute(raw_webex_ddl())
        load_webex(con.cursor(), "?", [call])
    _dbt(_project(tmp_path), tmp_path, {"SWITCHBOARD_DBT_TARGET": "duckdb", "SWITCHBOARD_DBT_DUCKDB_PATH": str(path)},
         "run", "--select", "+fct_calls")
    rows = _rows(path, "select direction, call_type, outcome from marts.fct_calls")
    assert rows == [{"direction": "internal", "call_type": "internal", "outcome": "answered"}]


def test_a_pstn_call_type_decides_the_direction_of_a_call_with_a_short_far_end_number(tmp_path):
    """A short code calls in (Call type SIP_INBOUND) and a user dials an operator's service number
    (SIP_SHORTCODE): their numbers are as short as an extension, but Webex says they crossed the
    public network (webex.md §1.8)."""
    path = tmp_path / "warehouse.duckdb"
    short = ("12345", "CO", "internal")
    calls = [
        record("r21-a", ANA, start=0, answer=4, release=64, caller=short, called=("+576015550100", "CO", "fixed_line"),
               correlation_id="C21", local_call_id="a21:0"),
        record("r22-p", PEDRO, start=100, answer=103, release=163, direction="ORIGINATING",
               caller=("2008", "CO", "internal"), called=("611", "CO", "internal"), call_type="SIP_SHORTCODE",
               correlation_id="C22", local_call_id="p22:0"),
    ]
    with duckdb.connect(str(path)) as con:
        con.execute(RAW_DDL)
        con.execute(raw_webex_ddl())
        load_webex(con.cursor(), "?", calls)
    _dbt(_project(tmp_path), tmp_path, {"SWITCHBOARD_DBT_TARGET": "duckdb", "SWITCHBOARD_DBT_DUCKDB_PATH": str(path)},
         "run", "--select", "+fct_calls")
    rows = _rows(path, "select call_id, direction, outcome from marts.fct_calls order by call_id")
    assert rows == [{"call_id": "C21", "direction": "inbound", "outcome": "answered"},
                    {"call_id": "C22", "direction": "outbound", "outcome": "answered"}]


def test_an_answered_record_without_release_time_ends_its_duration_after_its_answer(tmp_path):
    """Release time may be "" (webex.md §1.7): the leg ended Duration seconds after its answer, not
    at the answer (which made the durations' consistency test fail and stopped the marts)."""
    path = tmp_path / "warehouse.duckdb"
    call = record("r23-a", ANA, start=0, answer=4, release=64, correlation_id="C23", local_call_id="a23:0")
    call["release_time"] = None  # Duration stays 60
    with duckdb.connect(str(path)) as con:
        con.execute(RAW_DDL)
        con.execute(raw_webex_ddl())
        load_webex(con.cursor(), "?", [call])
    _dbt(_project(tmp_path), tmp_path, {"SWITCHBOARD_DBT_TARGET": "duckdb", "SWITCHBOARD_DBT_DUCKDB_PATH": str(path)},
         "build", "--select", "+fct_calls", "--exclude-resource-type", "unit_test", "--indirect-selection", "cautious")
    rows = _rows(path, "select call_id, outcome, epoch(ended_at - started_at) as seconds from marts.fct_calls")
    assert rows == [{"call_id": "C23", "outcome": "answered", "seconds": 64.0}]


@pytest.mark.postgres
def test_postgres_gives_the_same_journeys_and_visits(tmp_path, postgres_server, built):
    """In a database of locale C, whose lower() leaves 'Á' as it is: the directory's member "ÁNA"
    is still the agent the PBX logged as "Ána", and Jorge, keyed by his People e-mail
    "JORGE.PÁEZ@…", is jorge.páez@… as on DuckDB (the directory's keys and the e-mails were
    lower-cased without the agent keys' collation; DuckDB/Postgres parity audits)."""
    import psycopg2

    con = psycopg2.connect(**create_database(
        postgres_server, "webex_dbt_locale_c", "template template0 encoding 'UTF8' locale 'C'"))
    con.autocommit = True
    with con.cursor() as cur:
        cur.execute(RAW_DDL)
        cur.execute(raw_webex_ddl())
        _load_asterisk(cur, "%s")
        load_webex(cur, "%s")
    params = con.get_dsn_parameters()
    env = {"SWITCHBOARD_DBT_TARGET": "postgres", "SWITCHBOARD_DBT_PG_HOST": params["host"],
           "SWITCHBOARD_DBT_PG_PORT": params["port"], "SWITCHBOARD_DBT_PG_USER": params["user"],
           "SWITCHBOARD_DBT_PG_PASSWORD": "", "SWITCHBOARD_DBT_PG_DBNAME": params["dbname"]}
    project = _project(tmp_path)
    _dbt(project, tmp_path, env, "build", "--exclude", "test_type:unit")
    _dbt(project, tmp_path, env, "test", "--select", *UNIT_TESTED)

    queries = [
        "select call_id, platform, direction, outcome, route, call_type, country, first_queue, final_agent, "
        "ring_seconds, auto_attendant_seconds, queue_seconds, virtual_agent_seconds, talk_seconds, hold_seconds, "
        "recorded, transferred, cast(extract(epoch from started_at) as bigint), "
        "cast(extract(epoch from ended_at) as bigint), cast(started_date as varchar) from marts.fct_calls order by call_id",
        "select call_id, hop_no, hop_type, route_label, agent, outcome, duration_seconds "
        "from marts.fct_journey_hops order by call_id, hop_no",
        "select platform, call_id, queue, outcome, wait_seconds, talk_seconds, agent, agent_key, ring_attempts, "
        "ring_no_answer_count, cast(entered_interval_start as varchar) from marts.fct_queue_visits "
        "order by platform, call_id, queue",
        "select platform, agent_key, agent, answered, talk_seconds, ring_no_answer, transfers, logged_in_seconds "
        "from marts.agg_agent_daily order by platform, agent_key",
        "select platform, queue, offered, answered, service_level, asa_seconds, abandon_rate "
        "from marts.agg_queue_daily order by platform, queue",
    ]

    def same(rows):
        return [tuple(round(float(x), 9) if isinstance(x, (float, Decimal)) else x for x in r) for r in rows]

    try:
        for sql in queries:
            with con.cursor() as cur:
                cur.execute(sql)
                pg = same(cur.fetchall())
            with duckdb.connect(str(built), read_only=True) as dcon:
                duck = same(dcon.execute(sql).fetchall())
            assert pg == duck, sql
    finally:
        con.close()
