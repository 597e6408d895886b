"""The dbt project end to end: `dbt build` (models, data tests and unit tests) on real warehouses.

* an EMPTY warehouse (raw tables exist, no rows) must build and test green;
* a hand-written queue_log (every scenario the visit and agent logic must handle, see
  FIXTURE_LINES) must give the figures worked out by hand below, on DuckDB and on Postgres.

The lines are the project's own fixtures, written for these tests (not copied from any log).
"""

from __future__ import annotations

import json
import os
import re
import subprocess
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path

import duckdb
import polars as pl
import psycopg2
import pytest

from pipelines.asterisk.numbers import NUMBER_FIELDS, classified, unclassified_numbers_sql
from resources.dbt import dbt_executable, dbt_project
from switchboard.paths import DBT_PROJECT_DIR
from tests.postgres_databases import create_database

# one worker builds the fixture warehouse once for the whole module (pytest -n 2 --dist loadgroup)
pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("dbt_project")]

T0 = 1_700_053_200  # 2023-11-15 13:00:00 UTC = 08:00 in America/Bogota (UTC-5, no DST)
DAY = date(2023, 11, 15)
TZ = "America/Bogota"

RAW_DDL = """
create schema if not exists raw_asterisk;
create table raw_asterisk.queue_log (
    source_stream varchar, line_no bigint, event_epoch bigint,
    callid varchar, queuename varchar, agent varchar, event varchar,
    data1 varchar, data2 varchar, data3 varchar, data4 varchar, data5 varchar, data6 varchar,
    loaded_at timestamptz);
create table raw_asterisk.log_streams (
    pbx varchar, source_stream varchar, source_file varchar, kind varchar, first_line varchar,
    bytes_read bigint, lines_read bigint, updated_at timestamptz);
create table raw_asterisk.queue_log_table (
    pbx varchar, row_key varchar, source_file varchar, row_no bigint, event_time_text varchar,
    event_epoch bigint, callid varchar, queuename varchar, agent varchar, event varchar,
    data1 varchar, data2 varchar, data3 varchar, data4 varchar, data5 varchar, data6 varchar,
    loaded_at timestamptz);
create table raw_asterisk.queue_log_rejects (
    pbx varchar, source_stream varchar, source_file varchar, line_no bigint, byte_offset bigint,
    reason varchar, raw_text varchar, loaded_at timestamptz);
create table raw_asterisk.cdr (
    pbx varchar, source_stream varchar, source_file varchar, cdr_key varchar, line_no bigint,
    accountcode varchar, src varchar, dst varchar,
    dcontext varchar, clid varchar, channel varchar, dstchannel varchar, lastapp varchar,
    lastdata varchar, start_at timestamptz, answer_at timestamptz, end_at timestamptz,
    duration bigint, billsec bigint, disposition varchar, amaflags varchar, uniqueid varchar,
    userfield varchar, linkedid varchar, loaded_at timestamptz);
create table raw_asterisk.cdr_rejects (
    pbx varchar, source_stream varchar, source_file varchar, line_no bigint, byte_offset bigint,
    reason varchar, raw_text varchar, loaded_at timestamptz);
create table raw_asterisk.phone_numbers (
    number varchar, e164 varchar, country varchar, number_type varchar, classified_at timestamptz);
"""



def raw_columns(con, schema: str) -> set[tuple[str, str, str]]:
    """(table, column, type) of a raw schema, without dlt's own tables and columns."""
    return set(con.execute(
        "select table_name, column_name, data_type from information_schema.columns where table_schema = ? "
        "and table_name not like '\\_dlt%' escape '\\' and column_name not like '\\_dlt%' escape '\\'",
        [schema]).fetchall())


def test_the_hand_made_raw_tables_are_the_loaders(make_settings, tmp_path):
    """RAW_DDL stands in for the Asterisk loader in the dbt tests (and the Webex benchmark): it must
    create the tables, columns and types the loader does (an unconfigured source loads empty ones)."""
    from pipelines.asterisk.numbers import classify_new_numbers
    from pipelines.asterisk.pipeline import run_load

    settings = make_settings()
    run_load(settings)
    classify_new_numbers(settings)
    with duckdb.connect(str(settings.warehouse.duckdb_path), read_only=True) as con:
        loaded = raw_columns(con, "raw_asterisk")
    with duckdb.connect() as con:
        con.execute(RAW_DDL)
        made = raw_columns(con, "raw_asterisk")
    assert made == loaded
    # the dbt sources document every column of the tables they declare (the Dagster catalog shows
    # the raw assets' columns from them: resources/dbt.py::raw_table_metadata)
    manifest = json.loads(dbt_project().manifest_path.read_text())
    sources = {s["name"]: set(s["columns"]) for s in manifest["sources"].values() if s["schema"] == "raw_asterisk"}
    assert {table: {column for t, column, _ in loaded if t == table} for table in sources} == sources


# (seconds after T0, "callid|queue|agent|EVENT|data1|data2|...") on PBX "lab", one file stream.
FIXTURE_LINES: list[tuple[int, str]] = [
    (0, "NONE|NONE|NONE|QUEUESTART|"),
    # logins: interfaces on ADDMEMBER, names on the UNPAUSE lines of the same second
    (10, "MANAGER|sales|SIP/2001|ADDMEMBER|"),
    (10, "NONE|NONE|Ana Ruiz|UNPAUSEALL|"),
    (10, "NONE|sales|Ana Ruiz|UNPAUSE|"),
    (12, "MANAGER|support|SIP/2001|ADDMEMBER|"),
    (12, "NONE|support|Ana Ruiz|UNPAUSE|"),
    (15, "MANAGER|sales|SIP/2002|ADDMEMBER|"),
    (15, "NONE|NONE|ben|UNPAUSEALL|"),
    (15, "NONE|sales|ben|UNPAUSE|"),
    # c1 answered; RINGNOANSWER 0 / 1000 are noise, 14000 is a real no-answer
    (100, "9001.1|sales|NONE|DID|6015550100"),
    (100, "9001.1|sales|NONE|ENTERQUEUE||3001112222|1"),
    (101, "9001.1|sales|Ben|RINGNOANSWER|0"),
    (101, "9001.1|sales|Cara|RINGNOANSWER|1000"),
    (115, "9001.1|sales|Ben|RINGNOANSWER|14000"),
    (118, "9001.1|sales|Ana Ruiz|CONNECT|18|9001.5|3"),
    (218, "9001.1|sales|Ana Ruiz|COMPLETECALLER|18|100|1"),
    (218, "9001.1|sales|Ana Ruiz|COMPLETECALLER|18|100|1"),  # exact duplicate line
    # c2 short abandon (4 s); its ENTERQUEUE is duplicated
    (300, "9002.1|sales|NONE|ENTERQUEUE||3002223333|1"),
    (300, "9002.1|sales|NONE|ENTERQUEUE||3002223333|1"),
    (304, "9002.1|sales|NONE|ABANDON|1|1|4"),
    # c3 abandon after 30 s
    (400, "9003.1|sales|NONE|ENTERQUEUE||3003334444|2"),
    (430, "9003.1|sales|NONE|ABANDON|1|2|30"),
    # c4 timeout, old one-field variant (no waittime): wait falls back to end - enter
    (500, "9004.1|sales|NONE|ENTERQUEUE||3004445555|1"),
    (560, "9004.1|sales|NONE|EXITWITHTIMEOUT|1"),
    # c5 exit with key after 12 s
    (600, "9005.1|sales|NONE|ENTERQUEUE||3005556666|1"),
    (612, "9005.1|sales|NONE|EXITWITHKEY|1|1|1|12"),
    # c6 Wazo-style JOINEMPTY without ENTERQUEUE
    (700, "9006.1|support|NONE|JOINEMPTY|"),
    # c13 Issabel DID line never followed by ENTERQUEUE: the queue refused the caller
    (750, "9013.1|support|NONE|DID|6015550177"),
    # c7 IssabelPBX custom one-field TRANSFER ends the visit: talk 850 - 810 = 40 s; the COMPLETEAGENT
    # after it ends the Local channel still bridged with 2005 (its 90 s hold 2005's conversation)
    (800, "9007.1|support|NONE|ENTERQUEUE||3007778888|1"),
    (810, "9007.1|support|Ana Ruiz|CONNECT|10|9007.4|2"),
    (850, "9007.1|support|Ana Ruiz|TRANSFER|2005"),
    (900, "9007.1|support|Ana Ruiz|COMPLETEAGENT|10|90|1"),
    # c8 COMPLETECALLER whose ENTERQUEUE is before the data: entered = 950 - 60 - 20
    (950, "9008.1|sales|ben|COMPLETECALLER|20|60|1"),
    # c9 multi-stint: exit with key, re-enters the same queue, answered
    (1000, "9009.1|sales|NONE|ENTERQUEUE||3009990000|1"),
    (1030, "9009.1|sales|NONE|EXITWITHKEY|2|1|1|30"),
    (1040, "9009.1|sales|NONE|ENTERQUEUE||3009990000|1"),
    (1045, "9009.1|sales|ben|CONNECT|5|9009.7|2"),
    (1105, "9009.1|sales|ben|COMPLETEAGENT|5|60|1"),
    # ben pauses for lunch: PAUSEALL + per-queue PAUSE cascade, 600 s once
    (1300, "NONE|NONE|ben|PAUSEALL|lunch"),
    (1300, "NONE|sales|ben|PAUSE|lunch"),
    (1900, "NONE|NONE|ben|UNPAUSEALL|"),
    (1900, "NONE|sales|ben|UNPAUSE|"),
    # c11 waits, then Asterisk restarts: 'other', ended at the restart
    (2000, "9011.1|sales|NONE|ENTERQUEUE||3001111111|1"),
    (2500, "MANAGER|support|SIP/2001|REMOVEMEMBER|"),
    (3000, "NONE|NONE|NONE|QUEUESTART|"),
    # boot 2: ben logs in again, now spelled "Ben"
    (3010, "MANAGER|sales|SIP/2002|ADDMEMBER|"),
    (3010, "NONE|NONE|Ben|UNPAUSEALL|"),
    (3010, "NONE|sales|Ben|UNPAUSE|"),
    # c11's abandon logged after the restart: a remnant of the visit the restart closed, not a
    # second visit (nothing survives a restart)
    (3050, "9011.1|sales|NONE|ABANDON|1|1|1050"),
    # c12 still waiting when the data ends: open
    (3100, "9012.1|sales|NONE|ENTERQUEUE||3001212121|1"),
    # c10 answered, conversation still going on when the data ends
    (3120, "9010.1|support|NONE|ENTERQUEUE||3001010101|1"),
    (3128, "9010.1|support|Ana Ruiz|CONNECT|8|9010.2|4"),
    (3200, "NONE|NONE|NONE|CONFIGRELOAD|"),
]

# A realtime-table PBX whose export lists rows newest first: the numeric id restores the order.
TABLE_ROWS: list[tuple[int, int, str]] = [  # (id, seconds after T0, fields)
    (3, 140, "7001.1|billing|Dan|COMPLETEAGENT|15|25|1"),
    (2, 115, "7001.1|billing|Dan|CONNECT|15|7001.2|1"),
    (1, 100, "7001.1|billing|NONE|ENTERQUEUE||3005550000|1"),
]


def _fields(text: str) -> list[str | None]:
    parts = text.split("|")
    head, data = parts[:4], parts[4:]
    data = data[:5] + (["|".join(data[5:])] if len(data) > 5 else [])
    data += [""] * (6 - len(data))
    return [p if p != "" else None for p in head + data]


def _file_rows() -> list[tuple]:
    rows = []
    for line_no, (offset, text) in enumerate(FIXTURE_LINES):
        callid, queue, agent, event, *data = _fields(text)
        rows.append(
            (
                "lab",
                "lab-stream-1",
                "/logs/lab/queue_log",
                line_no,
                T0 + offset,
                callid,
                queue,
                agent,
                event,
                *data,
            )
        )
    return rows


def _table_rows() -> list[tuple]:
    rows = []
    for row_no, (row_id, offset, text) in enumerate(TABLE_ROWS):
        callid, queue, agent, event, *data = _fields(text)
        rows.append(
            (
                "rt",
                str(row_id),
                "/exports/queue_log.sql",
                row_no,
                f"t+{offset}",
                T0 + offset,
                callid,
                queue,
                agent,
                event,
                *data,
            )
        )
    return rows


FILE_INSERT = (
    "insert into raw_asterisk.queue_log (source_stream, line_no, event_epoch, "
    "callid, queuename, agent, event, data1, data2, data3, data4, data5, data6, loaded_at) values "
    "({})".format(", ".join(["{p}"] * 14))
)
STREAM_DELETE = "delete from raw_asterisk.log_streams where source_stream = {p}"
STREAM_INSERT = (
    "insert into raw_asterisk.log_streams (pbx, source_stream, source_file, kind) values ({p}, {p}, {p}, 'queue_log')"
)


def insert_file_lines(cur, placeholder: str, rows: list[tuple]) -> None:
    """Rows (pbx, source_stream, source_file, line_no, epoch, callid, queue, agent, event,
    data1..data6[, loaded_at]) written as the loader writes them: the lines to raw_asterisk.queue_log,
    each stream's PBX and file to raw_asterisk.log_streams (merged on the stream)."""
    streams = {row[1]: row[:3] for row in rows}
    for pbx, stream, file in streams.values():
        cur.execute(STREAM_DELETE.format(p=placeholder), [stream])
        cur.execute(STREAM_INSERT.format(p=placeholder), [pbx, stream, file])
    cur.executemany(
        FILE_INSERT.format(p=placeholder),
        [(row[1], *row[3:15], row[15] if len(row) > 15 else None) for row in rows],
    )
TABLE_INSERT = (
    "insert into raw_asterisk.queue_log_table (pbx, row_key, source_file, row_no, event_time_text, "
    "event_epoch, callid, queuename, agent, event, data1, data2, data3, data4, data5, data6) values "
    "({})".format(", ".join(["{p}"] * 16))
)


def classify_raw_numbers(cur, placeholder: str) -> None:
    """What the Asterisk raw asset does after each load (pipelines/asterisk/numbers.py): the
    number texts of the raw tables not classified yet, classified into raw_asterisk.phone_numbers
    (the same query and classification, written without dlt)."""
    cur.execute(unclassified_numbers_sql({table for table, _column, _event in NUMBER_FIELDS} | {"phone_numbers"}))
    numbers = pl.Series("number", [row[0] for row in cur.fetchall()], pl.String)
    rows = classified(numbers, datetime.now(UTC)).rows()
    if rows:
        cur.executemany(
            "insert into raw_asterisk.phone_numbers (number, e164, country, number_type, classified_at) "
            f"values ({', '.join([placeholder] * 5)})", rows)


def _load(cur, placeholder: str) -> None:
    insert_file_lines(cur, placeholder, _file_rows())
    cur.executemany(TABLE_INSERT.format(p=placeholder), _table_rows())
    classify_raw_numbers(cur, placeholder)


def _dbt(tmp_path: Path, env: dict[str, str], *args: str, dbt_vars: dict | None = None,
         debug_log: bool = False) -> subprocess.CompletedProcess:
    """dbt's command line on the test project. Its debug log file is off unless asked for: writing
    it is ~1.5 CPU-s of an ~11 s build of the small fixtures (production keeps it: resources.dbt),
    and a failing test shows dbt's console output anyway."""
    dbt = dbt_executable()
    cmd = [
        dbt,
        *args,
        *(() if debug_log else ("--log-level-file", "none")),
        "--project-dir",
        str(DBT_PROJECT_DIR),
        "--profiles-dir",
        str(DBT_PROJECT_DIR),
        "--target-path",
        str(tmp_path / "target"),
        "--log-path",
        str(tmp_path / "logs"),
        "--vars",
        json.dumps(dbt_vars or {"reporting_timezone": TZ, "sl_seconds": 20, "short_abandon_seconds": 5}),
    ]
    return subprocess.run(
        cmd, env={**os.environ, **env}, capture_output=True, text=True, cwd=tmp_path
    )


def _postgres_target(server: dict, dbname: str) -> dict[str, str]:
    """dbt's environment for a database of the test's Postgres server."""
    return {
        "SWITCHBOARD_DBT_TARGET": "postgres",
        "SWITCHBOARD_DBT_PG_HOST": server["host"],
        "SWITCHBOARD_DBT_PG_PORT": str(server["port"]),
        "SWITCHBOARD_DBT_PG_USER": server["user"],
        "SWITCHBOARD_DBT_PG_PASSWORD": "",
        "SWITCHBOARD_DBT_PG_DBNAME": dbname,
    }


def _assert_ok(result: subprocess.CompletedProcess) -> None:
    assert result.returncode == 0, result.stdout[-6000:] + result.stderr[-2000:]


def _duckdb_warehouse(path: Path, *, with_rows: bool) -> dict[str, str]:
    with duckdb.connect(str(path)) as con:
        con.execute(RAW_DDL)
        if with_rows:
            _load(con.cursor(), "?")
    return {"SWITCHBOARD_DBT_TARGET": "duckdb", "SWITCHBOARD_DBT_DUCKDB_PATH": str(path)}


@pytest.fixture(scope="module")
def built_duckdb(tmp_path_factory) -> Path:
    tmp = tmp_path_factory.mktemp("dbt_fixture")
    path = tmp / "warehouse.duckdb"
    env = _duckdb_warehouse(path, with_rows=True)
    # (the unit tests run in the empty-warehouse build and on Postgres: they do not read the data)
    _assert_ok(_dbt(tmp, env, "build", "--exclude", "test_type:unit"))
    return path


# Intermediate models that carry every column of a staging model through and document only the
# columns they add (their description says so): the carried columns are described upstream.
CARRIES_UPSTREAM_COLUMNS = {"int_webex__legs": "stg_webex__cdr"}


def test_every_model_is_documented_and_tested_as_built(built_duckdb):
    """What BI tools and the Dagster catalog show comes from the models' YAML: every model, seed
    and source has a description, every built column is documented (and no documented column is
    missing from the table: a renamed column left behind in the YAML), and every model has a data
    test. Compared against the relations the build wrote, not against the YAML alone."""
    manifest = json.loads((built_duckdb.parent / "target" / "manifest.json").read_text())
    nodes = manifest["nodes"]
    tested = {parent for node in nodes.values() if node["resource_type"] == "test"
              for parent in node["depends_on"]["nodes"]}
    with duckdb.connect(str(built_duckdb), read_only=True) as con:
        built = {}
        for schema, table, column in con.execute(
                "select table_schema, table_name, column_name from information_schema.columns "
                "order by table_schema, table_name, ordinal_position").fetchall():
            built.setdefault((schema, table), []).append(column)
    problems = []
    for unique_id, node in sorted(nodes.items()):
        if node["resource_type"] not in ("model", "seed"):
            continue
        name = node["name"]
        documented = {column for column, props in node["columns"].items() if props.get("description", "").strip()}
        columns = built.get((node["schema"], node["alias"]))
        if not node["description"].strip():
            problems.append(f"{name}: no description")
        if columns is None:
            problems.append(f"{name}: not built in {node['schema']}")
            continue
        if name in CARRIES_UPSTREAM_COLUMNS:
            upstream = next(n for n in nodes.values() if n["name"] == CARRIES_UPSTREAM_COLUMNS[name])
            documented |= set(upstream["columns"])
        if undocumented := [c for c in columns if c not in documented]:
            problems.append(f"{name}: columns not documented: {undocumented}")
        if stale := sorted(set(node["columns"]) - set(columns)):
            problems.append(f"{name}: documented columns the table lacks: {stale}")
        if node["resource_type"] == "model" and unique_id not in tested:
            problems.append(f"{name}: no data test")
    for source in manifest["sources"].values():
        if not source["description"].strip():
            problems.append(f"source {source['source_name']}.{source['name']}: no description")
    assert problems == []


def _rows(path: Path, sql: str) -> list[dict]:
    with duckdb.connect(str(path), read_only=True) as con:
        cur = con.execute(sql)
        names = [d[0] for d in cur.description]
        return [dict(zip(names, r, strict=True)) for r in cur.fetchall()]


# --------------------------------------------------------------------------- empty warehouse


def test_build_passes_on_an_empty_duckdb_warehouse(tmp_path):
    env = _duckdb_warehouse(tmp_path / "empty.duckdb", with_rows=False)
    _assert_ok(_dbt(tmp_path, env, "build", debug_log=True))
    rows = _rows(
        tmp_path / "empty.duckdb",
        "select table_schema, count(*) as n from information_schema.tables "
        "where table_schema in ('staging', 'intermediate', 'marts') group by 1 order by 1",
    )
    assert {r["table_schema"] for r in rows} == {"staging", "intermediate", "marts"}
    assert _rows(tmp_path / "empty.duckdb", "select count(*) as n from marts.fct_queue_visits") == [
        {"n": 0}
    ]
    # dbt's usage tracking is off (dbt_project.yml flags): with it on, dbt logs every event it
    # queues and posts them to dbt Labs — a host beyond the warehouse
    debug_log = (tmp_path / "logs" / "dbt.log").read_text()
    assert "Running with dbt" in debug_log and "Sending event" not in debug_log
    # sums of bigints widen to HUGEINT in DuckDB (numeric in Postgres): the marts cast them back,
    # so a BI tool sees the same column types on either warehouse
    assert _rows(
        tmp_path / "empty.duckdb",
        "select table_name, column_name, data_type from information_schema.columns "
        "where table_schema = 'marts' and (data_type like 'HUGEINT%' or data_type like 'DECIMAL%')",
    ) == []


def test_dbt_sessions_get_the_configured_duckdb_memory_cap_and_free_row_order(tmp_path):
    """profiles.yml gives DuckDB its settings once, when dbt opens the connection (config_options):
    every node's session must still see them."""
    env = {**_duckdb_warehouse(tmp_path / "empty.duckdb", with_rows=False),
           "SWITCHBOARD_DBT_DUCKDB_MEMORY_LIMIT": "1500MB"}
    shown = _dbt(tmp_path, env, "show", "--inline",
                 "select current_setting('memory_limit') as cap, current_setting('preserve_insertion_order') as keeps")
    _assert_ok(shown)
    with duckdb.connect() as con:
        con.execute("set memory_limit = '1500MB'")
        (expected_cap,) = con.execute("select current_setting('memory_limit')").fetchall()[0]
    assert re.search(rf"\|\s*{re.escape(expected_cap)}\s*\|\s*False\s*\|", shown.stdout), shown.stdout


# --------------------------------------------------------------------------- visits


def _visits(path: Path) -> dict[str, list[dict]]:
    out: dict[str, list[dict]] = {}
    for r in _rows(path, "select * from marts.fct_queue_visits order by pbx, call_id, entered_at"):
        out.setdefault(r["call_id"], []).append(r)
    return out


def test_visit_outcomes_and_durations(built_duckdb):
    v = _visits(built_duckdb)
    expected = {  # call: [(outcome, wait, talk, ring_no_answer_count, ring_attempts, transferred)]
        "9001.1": [("answered", 18, 100, 1, 2, False)],
        "9002.1": [("abandoned", 4, None, 0, 0, False)],
        "9003.1": [("abandoned", 30, None, 0, 0, False)],
        "9004.1": [("timeout", 60, None, 0, 0, False)],
        "9005.1": [("exit_key", 12, None, 0, 0, False)],
        "9006.1": [("join_empty", None, None, 0, 0, False)],
        "9013.1": [("join_empty", None, None, 0, 0, False)],
        "9007.1": [("answered", 10, 40, 0, 1, True)],
        "9008.1": [("answered", 20, 60, 0, 0, False)],
        "9009.1": [("exit_key", 30, None, 0, 0, False), ("answered", 5, 60, 0, 1, False)],
        "9010.1": [("answered", 8, None, 0, 1, False)],
        "9011.1": [("other", None, None, 0, 0, False)],
        "9012.1": [("open", None, None, 0, 0, False)],
        "7001.1": [("answered", 15, 25, 0, 1, False)],
    }
    got = {
        call: [
            (
                r["outcome"],
                r["wait_seconds"],
                r["talk_seconds"],
                r["ring_no_answer_count"],
                r["ring_attempts"],
                r["transferred"],
            )
            for r in rows
        ]
        for call, rows in v.items()
    }
    assert got == expected


def test_visit_times_identity_and_buckets(built_duckdb):
    v = _visits(built_duckdb)
    c1 = v["9001.1"][0]
    assert (c1["caller_number"], c1["did"], c1["position_at_entry"], c1["agent"]) == (
        "3001112222",
        "6015550100",
        1,
        "Ana Ruiz",
    )
    assert c1["is_short_abandon"] is False and v["9002.1"][0]["is_short_abandon"] is True
    assert v["9003.1"][0]["is_short_abandon"] is False
    assert int(c1["entered_at"].timestamp()) == T0 + 100
    assert int(c1["ended_at"].timestamp()) == T0 + 218
    assert c1["entered_date"] == DAY
    assert str(c1["entered_interval_start"]) == "2023-11-15 08:00:00"
    # transferred call: one visit, ended by Issabel's TRANSFER (not the COMPLETEAGENT after it)
    assert int(v["9007.1"][0]["ended_at"].timestamp()) == T0 + 850
    # orphan COMPLETECALLER: entry rebuilt as end - talk - wait; agent shown with its latest spelling
    c8 = v["9008.1"][0]
    assert int(c8["entered_at"].timestamp()) == T0 + 870 and c8["is_entry_reconstructed"] is True
    assert c8["agent"] == "Ben" and c8["agent_as_logged"] == "ben"
    # ongoing answered call: no end, no talk yet
    assert v["9010.1"][0]["ended_at"] is None and v["9010.1"][0]["connected_at"] is not None
    # waiting through a restart: closed at the QUEUESTART
    assert int(v["9011.1"][0]["ended_at"].timestamp()) == T0 + 3000
    assert v["9011.1"][0]["is_closed_by_restart"] is True and len(v["9011.1"]) == 1
    assert v["9012.1"][0]["ended_at"] is None
    # DID line without ENTERQUEUE: refused at join, still offered
    c13 = v["9013.1"][0]
    assert (c13["is_refused_at_join"], c13["did"], c13["queue"]) == (True, "6015550177", "support")
    assert c1["is_refused_at_join"] is False


# --------------------------------------------------------------------------- queue aggregates


def test_agg_queue_daily_figures(built_duckdb):
    rows = {r["queue"]: r for r in _rows(built_duckdb, "select * from marts.agg_queue_daily")}
    sales = rows["sales"]
    assert sales["day"] == DAY
    assert {
        k: sales[k]
        for k in (
            "offered",
            "answered",
            "abandoned",
            "short_abandons",
            "timeouts",
            "other_unanswered",
            "open_visits",
            "answered_within_sl",
            "max_wait_seconds",
            "transfers",
        )
    } == {
        "offered": 10,
        "answered": 3,
        "abandoned": 2,
        "short_abandons": 1,
        "timeouts": 1,
        "other_unanswered": 3,
        "open_visits": 1,
        "answered_within_sl": 3,
        "max_wait_seconds": 60,
        "transfers": 0,
    }
    assert sales["service_level"] == pytest.approx(3 / 9)
    assert sales["abandon_rate"] == pytest.approx(1 / 9)
    assert sales["asa_seconds"] == pytest.approx((18 + 20 + 5) / 3)
    assert sales["avg_wait_seconds"] == pytest.approx((18 + 4 + 30 + 60 + 12 + 20 + 30 + 5) / 8)
    assert sales["avg_talk_seconds"] == pytest.approx((100 + 60 + 60) / 3)
    assert sales["aht_seconds"] == pytest.approx((100 + 60 + 60) / 3)
    support = rows["support"]
    assert (
        support["offered"],
        support["answered"],
        support["other_unanswered"],
        support["transfers"],
    ) == (4, 2, 2, 1)
    assert support["service_level"] == pytest.approx(2 / 4)
    assert support["avg_talk_seconds"] == pytest.approx(40)
    daily = _rows(
        built_duckdb,
        "select queue, sum(offered) as n from marts.agg_queue_interval group by 1 order by 1",
    )
    assert daily == [
        {"queue": "billing", "n": 1},
        {"queue": "sales", "n": 10},
        {"queue": "support", "n": 4},
    ]


# --------------------------------------------------------------------------- agents


def test_member_names_map_interfaces_to_names(built_duckdb):
    rows = _rows(
        built_duckdb,
        "select interface, member_name, member_key, mapping_source "
        "from intermediate.int_asterisk__member_names order by interface, valid_from_seq",
    )
    assert rows == [
        {
            "interface": "SIP/2001",
            "member_name": "Ana Ruiz",
            "member_key": "ana ruiz",
            "mapping_source": "same_second_unpause",
        },
        {
            "interface": "SIP/2002",
            "member_name": "ben",
            "member_key": "ben",
            "mapping_source": "same_second_unpause",
        },
        {
            "interface": "SIP/2002",
            "member_name": "Ben",
            "member_key": "ben",
            "mapping_source": "same_second_unpause",
        },
    ]


def test_agg_agent_daily(built_duckdb):
    rows = {r["agent"]: r for r in _rows(built_duckdb, "select * from marts.agg_agent_daily")}
    assert set(rows) == {"Ana Ruiz", "Ben", "Dan"}  # Cara only rang with 1000 ms noise
    ana, ben = rows["Ana Ruiz"], rows["Ben"]
    # Ana: sales 10..3000 (restart) and support 12..2500 -> union 2990 s
    assert (
        ana["answered"],
        ana["talk_seconds"],
        ana["transfers"],
        ana["logged_in_seconds"],
        ana["paused_seconds"],
    ) == (3, 140, 1, 2990, 0)  # talk 100 (c1) + 40 (c7)
    assert ana["occupancy"] == pytest.approx(140 / 2990)
    # ben/Ben is one agent: 15..3000 (restart) + 3010..3200 (end of data); one 600 s pause
    assert (
        ben["answered"],
        ben["talk_seconds"],
        ben["ring_no_answer"],
        ben["logged_in_seconds"],
        ben["paused_seconds"],
    ) == (2, 120, 1, 2985 + 190, 600)
    assert ben["occupancy"] == pytest.approx(120 / (3175 - 600))
    by_queue = {
        (r["agent"], r["queue"]): (r["answered"], r["talk_seconds"], r["ring_no_answer"], r["transfers"],
                                   r["member_seconds"])
        for r in _rows(built_duckdb, "select * from marts.agg_agent_queue_daily where agent in ('Ana Ruiz', 'Ben')")
    }
    assert by_queue == {
        # sales 10..3000 (restart): c1; support 12..2500 (REMOVEMEMBER): c7 (transferred) and c10
        # (conversation still going on: answered, no talk yet)
        ("Ana Ruiz", "sales"): (1, 100, 0, 0, 2990),
        ("Ana Ruiz", "support"): (2, 40, 0, 1, 2488),
        # sales 15..3000 and 3010..3200: c8 and c9, and the real no-answer of c1
        ("Ben", "sales"): (2, 120, 1, 0, 2985 + 190),
    }
    pauses = _rows(
        built_duckdb,
        "select agent, day, reason, pauses, paused_seconds from marts.agg_agent_pause_daily",
    )
    assert pauses == [
        {"agent": "Ben", "day": DAY, "reason": "lunch", "pauses": 1, "paused_seconds": 600}
    ]


# --------------------------------------------------------------------------- postgres


@pytest.mark.postgres
def test_build_on_postgres_gives_the_same_figures(tmp_path, postgres_server, built_duckdb):
    import psycopg2

    con = psycopg2.connect(
        host=postgres_server["host"],
        port=postgres_server["port"],
        user=postgres_server["user"],
        dbname="postgres",
    )
    con.autocommit = True
    with con.cursor() as cur:
        cur.execute("drop database if exists dbt_fixture")
        cur.execute("create database dbt_fixture")
    con.close()
    con = psycopg2.connect(
        host=postgres_server["host"],
        port=postgres_server["port"],
        user=postgres_server["user"],
        dbname="dbt_fixture",
    )
    con.autocommit = True
    with con.cursor() as cur:
        cur.execute(RAW_DDL)
        _load(cur, "%s")
    env = _postgres_target(postgres_server, "dbt_fixture")
    _assert_ok(_dbt(tmp_path, env, "build"))

    def figures(fetch) -> list[tuple]:
        return fetch(
            "select queue, cast(day as varchar), offered, answered, abandoned, short_abandons, timeouts, "
            "other_unanswered, open_visits, answered_within_sl, service_level, abandon_rate, asa_seconds, "
            "avg_wait_seconds, max_wait_seconds, avg_talk_seconds, aht_seconds, transfers "
            "from marts.agg_queue_daily order by queue"
        )

    def agents(fetch) -> list[tuple]:
        return fetch(
            "select agent, cast(day as varchar), answered, talk_seconds, ring_no_answer, transfers, "
            "logged_in_seconds, paused_seconds, occupancy from marts.agg_agent_daily order by agent"
        )

    def agent_queues(fetch) -> list[tuple]:
        return fetch(
            "select agent, queue, cast(day as varchar), answered, talk_seconds, ring_no_answer, transfers, "
            "member_seconds from marts.agg_agent_queue_daily order by agent, queue"
        )

    def same(rows: list[tuple]) -> list[tuple]:  # numeric types differ by engine; values must not
        return [
            tuple(round(float(x), 9) if isinstance(x, (float, Decimal)) else x for x in r)
            for r in rows
        ]

    def pg_fetch(sql: str) -> list[tuple]:
        with con.cursor() as cur:
            cur.execute(sql)
            return same(cur.fetchall())

    def duck_fetch(sql: str) -> list[tuple]:
        with duckdb.connect(str(built_duckdb), read_only=True) as dcon:
            return same(dcon.execute(sql).fetchall())

    def visits(fetch) -> list[tuple]:
        return fetch(
            "select pbx, call_id, queue, outcome, wait_seconds, talk_seconds, agent, did, "
            "cast(extract(epoch from entered_at) as bigint), cast(extract(epoch from ended_at) as bigint), "
            "cast(entered_date as varchar), cast(entered_interval_start as varchar), ring_attempts "
            "from marts.fct_queue_visits order by pbx, call_id, entered_at"
        )

    try:
        assert visits(pg_fetch) == visits(duck_fetch)
        assert figures(pg_fetch) == figures(duck_fetch)
        assert agents(pg_fetch) == agents(duck_fetch)
        assert agent_queues(pg_fetch) == agent_queues(duck_fetch)
    finally:
        con.close()


# The same log on both engines, with what makes Postgres differ from DuckDB when the SQL does not
# say how to compare text: a name logged with a trailing no-break space (DuckDB's trim() strips
# it, Postgres' only strips ASCII spaces) and two spellings of one agent last seen in the same
# second (the tie goes to the greater text: byte order in DuckDB, the database's collation in
# Postgres, where en-US puts "Eva" after "eva").
COLLATION_LINES: list[tuple[int, str]] = [
    (0, "NONE|NONE|NONE|QUEUESTART|"),
    (100, "8001.1|sales|NONE|ENTERQUEUE||3001110000|1"),
    (110, "8001.1|sales|Dora Lima\u00a0|CONNECT|10|8001.2|1"),
    (170, "8001.1|sales|Dora Lima\u00a0|COMPLETECALLER|10|60|1"),
    (200, "8002.1|sales|NONE|ENTERQUEUE||3001110001|1"),
    (205, "8002.1|sales|Dora Lima|CONNECT|5|8002.2|1"),
    (245, "8002.1|sales|Dora Lima|COMPLETEAGENT|5|40|1"),
    (300, "8003.1|sales|NONE|ENTERQUEUE||3001110002|1"),
    (302, "8003.1|sales|Eva Soto|CONNECT|2|8003.2|1"),
    (400, "8003.1|sales|Eva Soto|COMPLETECALLER|2|98|1"),
    (350, "8004.1|sales|NONE|ENTERQUEUE||3001110003|1"),
    (354, "8004.1|sales|eva soto|CONNECT|4|8004.2|1"),
    (400, "8004.1|sales|eva soto|COMPLETEAGENT|4|46|1"),
]


@pytest.mark.postgres
def test_postgres_with_a_linguistic_collation_builds_what_duckdb_builds(tmp_path, postgres_server):
    import psycopg2

    rows = [("lab", "lab-stream-1", "/logs/lab/queue_log", line_no, T0 + offset, *_fields(text))
            for line_no, (offset, text) in enumerate(sorted(COLLATION_LINES))]
    # models and seeds, no data tests: the comparison is the test
    build = ["build", "--select", "+agg_agent_daily", "+fct_queue_visits",
             "--exclude-resource-type", "test", "--exclude-resource-type", "unit_test"]

    for side in ("duck", "pg"):
        (tmp_path / side).mkdir()
    duck_path = tmp_path / "duck.duckdb"
    with duckdb.connect(str(duck_path)) as dcon:
        dcon.execute(RAW_DDL)
        insert_file_lines(dcon.cursor(), "?", rows)
    _assert_ok(_dbt(tmp_path / "duck", {"SWITCHBOARD_DBT_TARGET": "duckdb", "SWITCHBOARD_DBT_DUCKDB_PATH": str(duck_path)},
                    *build))

    # a database whose text sorts as people read it (ICU en-US), as many managed servers are set up
    database = create_database(postgres_server, "dbt_icu",
                               "template template0 locale_provider icu icu_locale 'en-US' locale 'C.UTF-8'")
    con = psycopg2.connect(**database)
    con.autocommit = True
    with con.cursor() as cur:
        cur.execute("select 'Eva' > 'eva', 'Eva' collate \"C\" > 'eva'")
        assert cur.fetchone() == (True, False)  # the collation the test is about
        cur.execute(RAW_DDL)
        insert_file_lines(cur, "%s", rows)
    env = _postgres_target(postgres_server, "dbt_icu")
    _assert_ok(_dbt(tmp_path / "pg", env, *build))

    visits_sql = "select call_id, agent, agent_key from marts.fct_queue_visits order by call_id"
    agents_sql = ("select agent, agent_key, answered, cast(talk_seconds as bigint) "
                  "from marts.agg_agent_daily order by agent_key")
    try:
        with con.cursor() as cur:
            cur.execute(visits_sql)
            pg_visits = cur.fetchall()
            cur.execute(agents_sql)
            pg_agents = cur.fetchall()
    finally:
        con.close()
    with duckdb.connect(str(duck_path), read_only=True) as dcon:
        duck_visits = dcon.execute(visits_sql).fetchall()
        duck_agents = dcon.execute(agents_sql).fetchall()

    # one Dora (the no-break space trimmed), and of Eva's two spellings the greater in byte order
    assert duck_agents == [("Dora Lima", "dora lima", 2, 100), ("eva soto", "eva soto", 2, 144)]
    assert pg_agents == duck_agents
    assert pg_visits == duck_visits


AGENT_NAMES = ["JOSÉ", "Ángela ", "ÑANDÚ", "ΝΊΚΟΣ", "İlker", "Ελένη"]


@pytest.mark.postgres
def test_agent_keys_are_lower_cased_on_postgres_as_on_duckdb(tmp_path, postgres_server):
    """One agent is one lower-cased name on both warehouses, whatever the database's locale: in a
    database with locale C, lower() left JOSÉ as josÉ (another agent than José) while
    DuckDB gave josé (independent audit). The macro's SQL is compiled by dbt for each target and
    run there."""
    inline = " union all ".join(
        f"select {i} as n, {{{{ agent_key(\"'{name}'\") }}}} as agent_key" for i, name in enumerate(AGENT_NAMES))
    database = create_database(postgres_server, "keys_locale_c", "template template0 encoding 'UTF8' locale 'C'")
    targets = {
        "duckdb": {"SWITCHBOARD_DBT_TARGET": "duckdb", "SWITCHBOARD_DBT_DUCKDB_PATH": str(tmp_path / "keys.duckdb")},
        "postgres": _postgres_target(postgres_server, "keys_locale_c"),
    }
    keys = {}
    for target, env in targets.items():
        folder = tmp_path / target
        folder.mkdir()
        compiled = _dbt(folder, env, "--quiet", "compile", "--inline", inline)
        _assert_ok(compiled)
        sql = f"select agent_key from ({compiled.stdout.strip()}) as keys order by n"
        if target == "duckdb":
            with duckdb.connect() as con:
                keys[target] = [k for (k,) in con.execute(sql).fetchall()]
        else:
            with psycopg2.connect(**database) as con, con.cursor() as cur:
                cur.execute(sql)
                keys[target] = [k for (k,) in cur.fetchall()]
    assert keys["duckdb"][:3] == ["josé", "ángela", "ñandú"]
    assert keys["postgres"] == keys["duckdb"]


def test_a_table_row_a_second_after_a_file_line_is_its_copy_only_when_every_field_agrees(tmp_path):
    """A PBX logging to its file and to a realtime table writes an event at T in the file and at
    T + 1 in the table (MySQL rounds the fraction): the table row is the file line's copy when
    they agree in every field. A row that differs only in data3/data4 (another wait, another
    position) is an event of its own (a mutation audit: comparing fewer fields dropped it unseen)."""
    path = tmp_path / "warehouse.duckdb"
    env = _duckdb_warehouse(path, with_rows=False)
    stream = ("both", "both-stream-1", "/logs/both/queue_log")
    exit_line = ["sales", "NONE", "EXITWITHKEY", "1", "1", "1", "12", None, None]
    with duckdb.connect(str(path)) as con:
        insert_file_lines(con.cursor(), "?", [
            (*stream, 0, T0 + 100, "c1", *exit_line),
            (*stream, 1, T0 + 200, "c2", *exit_line),
        ])
        con.cursor().executemany(TABLE_INSERT.format(p="?"), [
            ("both", "1", "/exports/queue_log.sql", 0, "t+101", T0 + 101, "c1", *exit_line),
            ("both", "2", "/exports/queue_log.sql", 1, "t+201", T0 + 201, "c2",
             "sales", "NONE", "EXITWITHKEY", "1", "1", "2", "13", None, None),
        ])
    _assert_ok(_dbt(tmp_path, env, "run", "--select", "stg_asterisk__queue_events"))
    assert _rows(path, "select callid, source_kind, is_duplicate from staging.stg_asterisk__queue_events "
                       "order by callid, source_kind") == [
        {"callid": "c1", "source_kind": "file", "is_duplicate": False},
        {"callid": "c1", "source_kind": "table", "is_duplicate": True},
        {"callid": "c2", "source_kind": "file", "is_duplicate": False},
        {"callid": "c2", "source_kind": "table", "is_duplicate": False},
    ]
