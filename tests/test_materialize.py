"""Full materialization — dlt → dbt → checks → serving copy — on real DuckDB and real Postgres.

The log below is hand-built; every expected figure is worked out in the comments from DESIGN.md's
definitions (SL 20 s, short abandon ≤ 5 s, reporting time zone UTC), independently of the SQL.
"""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
import time
from pathlib import Path

import duckdb
import pytest
from dagster import DagsterInstance

from switchboard import cli
from switchboard.paths import DBT_PROJECT_DIR

B = 1_709_546_400  # 2024-03-04 10:00:00 UTC

SCENARIO = [
    f"{B}|NONE|NONE|NONE|QUEUESTART|",
    f"{B + 5}|MANAGER|ventas|SIP/1001|ADDMEMBER|",
    f"{B + 5}|NONE|NONE|Ana Ruiz|UNPAUSEALL|",
    f"{B + 5}|NONE|ventas|Ana Ruiz|UNPAUSE|",
    f"{B + 6}|MANAGER|ventas|SIP/1002|ADDMEMBER|",
    f"{B + 6}|NONE|NONE|Luis Mora|UNPAUSEALL|",
    f"{B + 6}|NONE|ventas|Luis Mora|UNPAUSE|",
    # call 1 — ventas, answered by Ana: wait 10, talk 100; Luis rang: 1000 ms (busy noise) and 15000 ms (real)
    f"{B + 100}|1709546490.1|ventas|NONE|DID|6015551000",
    f"{B + 100}|1709546490.1|ventas|NONE|ENTERQUEUE||3001112222|1",
    f"{B + 101}|1709546490.1|ventas|Luis Mora|RINGNOANSWER|1000",
    f"{B + 108}|1709546490.1|ventas|Luis Mora|RINGNOANSWER|15000",
    f"{B + 110}|1709546490.1|ventas|Ana Ruiz|CONNECT|10|1709546500.5|2",
    f"{B + 210}|1709546490.1|ventas|Ana Ruiz|COMPLETECALLER|10|100|1",
    # call 2 — ventas, abandoned after 3 s (short abandon)
    f"{B + 300}|1709546695.2|ventas|NONE|ENTERQUEUE||3003334444|1",
    f"{B + 303}|1709546695.2|ventas|NONE|ABANDON|1|1|3",
    # call 3 — ventas, abandoned after 40 s
    f"{B + 400}|1709546795.3|ventas|NONE|ENTERQUEUE||3005556666|1",
    f"{B + 440}|1709546795.3|ventas|NONE|ABANDON|1|1|40",
    # call 4 — ventas, answered by Luis: wait 30 (outside SL), talk 60, blind transfer
    f"{B + 500}|1709546895.4|ventas|NONE|ENTERQUEUE||3007778888|1",
    f"{B + 530}|1709546895.4|ventas|Luis Mora|CONNECT|30|1709546925.9|5",
    f"{B + 590}|1709546895.4|ventas|Luis Mora|BLINDTRANSFER|2000|from-internal|30|60|1",
    # call 5 — soporte, timeout after 60 s
    f"{B + 600}|1709546995.5|soporte|NONE|ENTERQUEUE||3009990000|1",
    f"{B + 660}|1709546995.5|soporte|NONE|EXITWITHTIMEOUT|1|1|60",
    # call 6 — soporte, caller pressed a key after 8 s
    f"{B + 700}|1709547095.6|soporte|NONE|ENTERQUEUE||3001230000|1",
    f"{B + 708}|1709547095.6|soporte|NONE|EXITWITHKEY|1|1|1|8",
    # call 7 — ventas, ENTERQUEUE written twice (exact duplicate), answered by Ana: wait 5, talk 50;
    # IssabelPBX's one-field TRANSFER is followed by the real COMPLETEAGENT (one visit, not two)
    f"{B + 800}|1709547195.7|ventas|NONE|ENTERQUEUE||3004445555|1",
    f"{B + 800}|1709547195.7|ventas|NONE|ENTERQUEUE||3004445555|1",
    f"{B + 805}|1709547195.7|ventas|Ana Ruiz|CONNECT|5|1709547200.8|5",
    f"{B + 830}|1709547195.7|ventas|Ana Ruiz|TRANSFER|3000",
    f"{B + 855}|1709547195.7|ventas|Ana Ruiz|COMPLETEAGENT|5|50|1",
    # Ana pauses 600 s for lunch; Luis leaves at B+2000
    f"{B + 1000}|NONE|ventas|Ana Ruiz|PAUSE|Almuerzo",
    f"{B + 1600}|NONE|ventas|Ana Ruiz|UNPAUSE|",
    f"{B + 2000}|MANAGER|ventas|SIP/1002|REMOVEMEMBER|",
    # call 8 — soporte, still waiting when the data ends (open, never abandoned); data end = B+3000
    f"{B + 3000}|1709549395.8|soporte|NONE|ENTERQUEUE||3006667777|1",
]

# ventas: offered 5 (calls 1,2,3,4,7); answered 3 (waits 10, 30, 5; talks 100, 60, 25: call 7 ends at
#   Issabel's TRANSFER, 830 − 805); abandoned 2 of which 1 short; within SL (≤20 s): 2 → SL =
#   2 / (5 − 1) = 0.5; ASA = 45 / 3 = 15; waits known 10,3,40,30,5 → avg 17.6, max 40;
#   avg talk 185 / 3 = AHT; transfers 2 (calls 4, 7);
#   abandon rate (2 − 1) / (5 − 1) = 0.25
# soporte: offered 3; timeout 1; exit_key 1 (other unanswered); open 1; SL 0 / 3 = 0;
#   waits known 60, 8 → avg 34, max 60; abandon rate 0 / 3 = 0
EXPECTED_QUEUE_DAILY = {
    "ventas": dict(offered=5, answered=3, abandoned=2, short_abandons=1, timeouts=0, other_unanswered=0,
                   open_visits=0, answered_within_sl=2, service_level=0.5, asa_seconds=15.0,
                   avg_wait_seconds=17.6, max_wait_seconds=40, avg_talk_seconds=185 / 3, aht_seconds=185 / 3,
                   transfers=2, abandon_rate=0.25),
    "soporte": dict(offered=3, answered=0, abandoned=0, short_abandons=0, timeouts=1, other_unanswered=1,
                    open_visits=1, answered_within_sl=0, service_level=0.0, asa_seconds=None,
                    avg_wait_seconds=34.0, max_wait_seconds=60, avg_talk_seconds=None, aht_seconds=None,
                    transfers=0, abandon_rate=0.0),
}
# Ana: answered calls 1 and 7 (talk 100 + 25 = 125, 1 transfer); logged in B+5 → data end B+3000 =
#   2995 s; paused 600 s → occupancy 125 / 2395.  Luis: call 4 (talk 60, 1 transfer); one real
#   ring-no-answer (the 1000 ms one is busy noise); logged in B+6 → B+2000 = 1994 s → 60 / 1994.
EXPECTED_AGENT_DAILY = {
    "Ana Ruiz": dict(answered=2, talk_seconds=125, ring_no_answer=0, transfers=1, logged_in_seconds=2995,
                     paused_seconds=600, occupancy=125 / 2395),
    "Luis Mora": dict(answered=1, talk_seconds=60, ring_no_answer=1, transfers=1, logged_in_seconds=1994,
                      paused_seconds=0, occupancy=60 / 1994),
}


def _same(actual, expected) -> bool:
    if expected is None or actual is None:
        return actual is expected
    if isinstance(expected, float):
        return math.isclose(float(actual), expected, rel_tol=1e-9, abs_tol=1e-9)
    return actual == expected


def assert_marts(rows_by_queue: dict, rows_by_agent: dict) -> None:
    for queue, expected in EXPECTED_QUEUE_DAILY.items():
        actual = rows_by_queue[queue]
        wrong = {k: (actual[k], v) for k, v in expected.items() if not _same(actual[k], v)}
        assert not wrong, f"{queue}: (actual, expected) {wrong}"
    for agent, expected in EXPECTED_AGENT_DAILY.items():
        actual = rows_by_agent[agent]
        wrong = {k: (actual[k], v) for k, v in expected.items() if not _same(actual[k], v)}
        assert not wrong, f"{agent}: (actual, expected) {wrong}"


def _write_site(tmp_path: Path) -> Path:
    site = tmp_path / "issabel"
    site.mkdir()
    (site / "queue_log").write_text("\n".join(SCENARIO) + "\n")
    return site


def _documented_marts(manifest_path: Path) -> dict[tuple[str, str | None], str]:
    """The description of every marts model (column None) and of its columns, as dbt parsed them."""
    docs: dict[tuple[str, str | None], str] = {}
    for node in json.loads(manifest_path.read_text())["nodes"].values():
        if node["resource_type"] == "model" and node["config"].get("schema") == "marts":
            docs[(node["name"], None)] = node["description"]
            docs.update({(node["name"], column): c["description"] for column, c in node["columns"].items()})
    return docs


def _serving_comments(path: Path) -> dict[tuple[str, str | None], str | None]:
    rows = _read_duckdb(path, "select table_name, null as column_name, comment from duckdb_tables() "
                              "where schema_name = 'marts' union all select table_name, column_name, comment "
                              "from duckdb_columns() where schema_name = 'marts'")
    return {(r["table_name"], r["column_name"]): r["comment"] for r in rows}


def _read_duckdb(path: Path, sql: str) -> list[dict]:
    with duckdb.connect(str(path), read_only=True) as con:
        rel = con.sql(sql)
        return [dict(zip(rel.columns, row, strict=True)) for row in rel.fetchall()]


@pytest.mark.slow
def test_full_materialization_on_duckdb_matches_hand_computed_figures(make_settings, tmp_path, capfd, monkeypatch,
                                                                      dbt_manifest):
    site = _write_site(tmp_path)
    settings = make_settings(SWITCHBOARD_QUEUE_LOG_DIRS=f"lab={site}", SWITCHBOARD_DBT_RUN_FOLDERS_KEPT="1")
    # a dbt run's folder from two days ago, in the checkout's target/ where dagster-dbt puts them
    stale = DBT_PROJECT_DIR / "target" / f"switchboard_dbt-{os.getpid():07}-stale00"
    (stale / "compiled").mkdir(parents=True)
    os.utime(stale, (time.time() - 2 * 86_400,) * 2)

    assert cli.main(["materialize"]) == 0, capfd.readouterr()
    assert not stale.exists()  # the run's dbt step pruned it
    # the console shows the run at INFO (SWITCHBOARD_LOG_LEVEL): the load's counts, not an event
    # per step and dbt node, nor dlt's progress and dbt's log lines
    captured = capfd.readouterr()
    console = captured.err
    assert " - INFO - " in console and "'counts_balance': True" in console
    assert " - DEBUG - " not in console
    assert "Running with dbt" not in captured.out and "Extract asterisk" not in captured.out
    assert "materialized " in captured.out  # the summary line stays

    # Marts are read from the published serving copy, as the app and BI tools read them.
    serving = settings.serving_path
    queues = {r["queue"]: r for r in _read_duckdb(serving, "select * from marts.agg_queue_daily")}
    agents = {r["agent"]: r for r in _read_duckdb(serving, "select * from marts.agg_agent_daily")}
    assert_marts(queues, agents)

    visits = _read_duckdb(serving, "select * from marts.fct_queue_visits order by entered_at")
    assert len(visits) == 8
    first = visits[0]
    assert (first["outcome"], first["agent"], first["did"], first["caller_number"]) == (
        "answered", "Ana Ruiz", "6015551000", "3001112222")
    assert (first["ring_no_answer_count"], first["ring_attempts"]) == (1, 2)
    pauses = _read_duckdb(serving, "select agent, reason, paused_seconds from marts.agg_agent_pause_daily")
    assert pauses == [{"agent": "Ana Ruiz", "reason": "Almuerzo", "paused_seconds": 600}]

    # BI tools reading the copy see every mart's and column's dbt description as its comment
    documented = _documented_marts(dbt_manifest)
    assert _serving_comments(serving) == documented
    assert documented[("fct_queue_visits", "caller_number")].startswith("Caller id number as the PBX logged it")

    # A second run with nothing new changes nothing; at DEBUG it prints Dagster's every event.
    monkeypatch.setenv("SWITCHBOARD_LOG_LEVEL", "debug")
    assert cli.main(["materialize"]) == 0
    captured = capfd.readouterr()
    assert " - DEBUG - " in captured.err and "Running with dbt" in captured.out
    again = {r["queue"]: r for r in _read_duckdb(serving, "select * from marts.agg_queue_daily")}
    assert again == queues

    # --full-refresh rebuilds the selected incremental models from scratch: a staging row an
    # incremental run leaves alone (no new line came) is rebuilt from the raw lines, and the
    # marts after it and the copy with it
    monkeypatch.setenv("SWITCHBOARD_LOG_LEVEL", "info")
    warehouse = settings.warehouse.duckdb_path
    with duckdb.connect(str(warehouse)) as con:
        con.execute("update staging.stg_asterisk__queue_events set agent = 'edited by hand' where agent = 'Ana Ruiz'")
    staged = "select distinct agent from staging.stg_asterisk__queue_events where agent is not null"
    staging = "key:staging/stg_asterisk__queue_events"
    home = tmp_path / "dagster_home"  # DAGSTER_HOME set: the run is kept there for the UI
    home.mkdir()
    monkeypatch.setenv("DAGSTER_HOME", str(home))
    assert cli.main(["materialize", "--select", staging]) == 0
    assert "edited by hand" in {r["agent"] for r in _read_duckdb(warehouse, staged)}
    with DagsterInstance.from_config(str(home)) as instance:
        assert [r.status.value for r in instance.get_runs()] == ["SUCCESS"]
    monkeypatch.delenv("DAGSTER_HOME")
    assert cli.main(["materialize", "--select", f"{staging}+", "--full-refresh"]) == 0
    assert "materialized " in capfd.readouterr().out
    assert "edited by hand" not in {r["agent"] for r in _read_duckdb(warehouse, staged)}
    assert {r["queue"]: r for r in _read_duckdb(serving, "select * from marts.agg_queue_daily")} == queues
    assert {r["agent"]: r for r in _read_duckdb(serving, "select * from marts.agg_agent_daily")} == agents
    # a selection without dbt models has nothing to refresh: refused, naming the flag
    assert cli.main(["materialize", "--select", "key:raw/asterisk/queue_log", "--full-refresh"]) == 2
    assert "--full-refresh" in capfd.readouterr().err


@pytest.mark.slow
@pytest.mark.postgres
def test_full_materialization_on_postgres(make_settings, tmp_path, postgres_url, capsys, dbt_manifest):
    site = _write_site(tmp_path)
    settings = make_settings(SWITCHBOARD_QUEUE_LOG_DIRS=f"lab={site}", SWITCHBOARD_WAREHOUSE_URL=postgres_url)

    assert cli.main(["materialize"]) == 0, capsys.readouterr()

    import psycopg2
    import psycopg2.extras

    with psycopg2.connect(settings.warehouse.postgres_dsn()) as con, con.cursor(
            cursor_factory=psycopg2.extras.RealDictCursor) as cur:
        cur.execute("select * from marts.agg_queue_daily")
        queues = {r["queue"]: r for r in cur.fetchall()}
        cur.execute("select * from marts.agg_agent_daily")
        agents = {r["agent"]: r for r in cur.fetchall()}
        cur.execute("select schema_name from information_schema.schemata")
        schemas = {r["schema_name"] for r in cur.fetchall()}
        cur.execute("select c.relname as table_name, a.attname as column_name, "
                    "case when a.attnum = 0 then obj_description(c.oid, 'pg_class') "
                    "else col_description(c.oid, a.attnum) end as comment "
                    "from pg_class as c join pg_namespace as n on n.oid = c.relnamespace "
                    "join (select attrelid, attname, attnum from pg_attribute where attnum > 0 and not attisdropped "
                    "union all select oid, null, 0 from pg_class) as a on a.attrelid = c.oid "
                    "where n.nspname = 'marts' and c.relkind = 'r'")
        comments = {(r["table_name"], r["column_name"]): r["comment"] for r in cur.fetchall()}
    assert {"raw_asterisk", "staging", "intermediate", "marts"} <= schemas
    assert_marts(queues, agents)
    # dbt documents the marts in the warehouse itself, where BI tools read them
    documented = _documented_marts(dbt_manifest)
    assert comments == documented
    # The serving copy is published from Postgres too, with the same comments.
    served = {r["queue"]: r for r in _read_duckdb(settings.serving_path, "select * from marts.agg_queue_daily")}
    assert served.keys() == queues.keys()
    assert _serving_comments(settings.serving_path) == documented


@pytest.mark.slow
def test_a_failed_blocking_suite_stops_the_serving_copy_and_the_run_names_it(
        make_settings, tmp_path, capsys, monkeypatch):
    """Daily figures the models computed always reconcile, so the reconciliation suite gets one
    more expectation that ventas' day breaks (at most 4 offered; it offers 5). Fault injection:
    everything else (dlt, dbt, GX, Dagster's blocking checks) runs for real."""
    from dataclasses import replace

    from assets import quality

    def stricter(gxe):
        return [*quality._agg_queue(gxe), gxe.ExpectColumnValuesToBeBetween(column="offered", max_value=4)]

    suites = tuple(replace(s, build=stricter) if s.name == "agg_queue_daily_reconciles" else s
                   for s in quality.SUITES)
    monkeypatch.setattr(quality, "SUITES", suites)
    settings = make_settings(SWITCHBOARD_QUEUE_LOG_DIRS=f"lab={_write_site(tmp_path)}")

    assert cli.main(["materialize"]) == 1
    out = capsys.readouterr().out
    assert "check failed: marts/agg_queue_daily agg_queue_daily_reconciles" in out
    # what it found, not only its name (the rows are in the warehouse, the counts in the check)
    assert "expect_column_values_to_be_between on offered: 1 unexpected rows" in out
    assert not settings.serving_path.exists()  # nothing published over figures that failed
    # the marts were built: the check ran on them
    with duckdb.connect(str(settings.warehouse.duckdb_path), read_only=True) as con:
        assert con.sql("select offered from marts.agg_queue_daily where queue = 'ventas'").fetchall() == [(5,)]


def test_materialize_rejects_a_bad_setting_naming_it(make_settings, capsys, monkeypatch):
    make_settings()
    monkeypatch.setenv("SWITCHBOARD_SL_SECONDS", "twenty")
    assert cli.main(["materialize"]) == 2
    assert "SWITCHBOARD_SL_SECONDS" in capsys.readouterr().err


@pytest.mark.parametrize(("setting", "value", "says"), [
    # nothing listens on port 1 of loopback: refused at once
    ("SWITCHBOARD_WAREHOUSE_URL", "postgresql://switchboard:s3cr3t@127.0.0.1:1/switchboard", "cannot connect"),
    ("SWITCHBOARD_SERVING_PATH", "{tmp}", "is a folder"),
    ("SWITCHBOARD_SERVING_PATH", "{tmp}/a-file/serving.duckdb", "is a file"),
    ("DAGSTER_HOME", "{tmp}/no-such-folder", "is not a folder"),
    ("SWITCHBOARD_STATE_DIR", "{tmp}/a-file", "is a file"),
    ("SWITCHBOARD_LANDING_DIR", "{tmp}/a-file/landing", "is a file"),
])
def test_materialize_fails_before_any_work_when_it_could_not_write_its_results(
        make_settings, capsys, monkeypatch, tmp_path, setting, value, says):
    make_settings()
    (tmp_path / "a-file").write_text("")
    monkeypatch.setenv(setting, value.format(tmp=tmp_path))
    assert cli.main(["materialize"]) == 2
    err = capsys.readouterr().err
    assert setting in err and says in err
    assert "s3cr3t" not in err  # the password is not echoed


def test_serving_copy_is_published_while_another_process_reads_the_warehouse(tmp_path):
    """DuckDB lets several processes read a file, or one write it: the publishing step only reads."""
    from assets.serving import marts_tables, publish_duckdb
    from resources.warehouse import WarehouseResource

    warehouse = tmp_path / "warehouse.duckdb"
    with duckdb.connect(str(warehouse)) as con:
        con.execute("create schema marts; create table marts.agg_queue_daily as select 'ventas' as queue, 3 as offered")
    reader = subprocess.Popen(  # a BI tool or a script with the warehouse open, read-only
        [sys.executable, "-c", "import duckdb, sys; con = duckdb.connect(sys.argv[1], read_only=True); "
         "print('open', flush=True); sys.stdin.read()", str(warehouse)],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert reader.stdout.readline().strip() == "open"
        tables = marts_tables(WarehouseResource(url=f"duckdb:///{warehouse}"))
        counts, _ = publish_duckdb(warehouse, tmp_path / "serving.duckdb", tables)
    finally:
        reader.communicate("")
    assert counts == {"agg_queue_daily": 1}
