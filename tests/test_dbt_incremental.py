"""Incremental dbt runs give the same warehouse as a full refresh of the same raw data.

The hand-written queue_log of test_dbt_project arrives in five loads, then loses a PBX, cut where the incremental
models are easiest to get wrong:

1. ends on a DID line whose ENTERQUEUE is in the next load (a "refused at join" visit that must
   disappear), with a realtime-table call whose terminal row comes later;
2. ends while ben is paused (PAUSEALL + cascade open at the data end) and calls are waiting;
3. brings the rest of boot 1, a rotated copy of the file that repeats an old line exactly (an
   exact duplicate arriving later), a line that belongs in the middle of history (out of order)
   and a re-export of a realtime row already loaded (same row key, new load);
4. brings the restart (QUEUESTART: what was open is now closed by the restart, not by the data
   end) and boot 2 with a new spelling of an agent (every older visit of that agent is renamed);
5. brings an older rotated file that starts with an earlier restart (every boot is renumbered:
   the rows of the old numbering, left with no counterpart upstream, must go) and whose copy of an
   already-loaded line now comes first (the old line becomes the duplicate, so the visit's
   identity moves): every boot is rebuilt;
6. removes the realtime export of PBX rt from raw altogether (staged lines vanish: staging is
   rebuilt from raw, and every model drops that PBX).

PBX lab also logs to a realtime table, whose rounded time is a second after its file's: a copy
of a line of load 2 arrives in load 1, before its file line, and copies of two lines of load 1
arrive in load 3; each is its file line's duplicate once both are in.

Master.csv rows arrive along the way (fct_calls keys its Asterisk calls on them): in load 2 the
CDR row of call 9001.1 (the call gains CDR figures); in load 3 one whose linkedid joins call
9003.1's channel to another call (the visit-only call 9003.1 must vanish); in load 4 an outbound
call that met no queue; in load 5 the row of load 2 exported again with new figures; load 7
brings nothing but a CDR row joining call 9005.1's channel to another call, so nothing upstream
of fct_calls is rebuilt and only the CDR row tells which calls change. Load 8 is one line two
days on that no model reads (the nightly log rotation's CONFIGRELOAD): it only moves the PBX's data
end, where the last boot's open sessions and pauses end and its waiting calls time out.

After each incremental `dbt build` (models and tests) every staging, intermediate and mart
relation must equal, row for row, what `dbt run --full-refresh` builds from the same raw data.
"""

from __future__ import annotations

import shutil
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path

import duckdb
import pytest

from tests.test_dbt_project import (
    FIXTURE_LINES,
    RAW_DDL,
    T0,
    TABLE_INSERT,
    TABLE_ROWS,
    _assert_ok,
    _dbt,
    _fields,
    _postgres_target,
    classify_raw_numbers,
    insert_file_lines,
)

pytestmark = pytest.mark.slow

LOADED = datetime(2024, 1, 1, tzinfo=UTC)


def _index(fragment: str) -> int:
    return next(i for i, (_, text) in enumerate(FIXTURE_LINES) if fragment in text)


CUT_1 = (
    _index("9001.1|sales|NONE|DID") + 1
)  # the DID line ends load 1, its ENTERQUEUE starts load 2
CUT_2 = _index("ben|PAUSE|lunch") + 1  # ben paused at the end of load 2
CUT_3 = next(
    i for i, (_, text) in enumerate(FIXTURE_LINES) if "QUEUESTART" in text and i > 0
)  # restart: load 4

# lines of other file streams (rotated copies), (seconds after T0, fields)
ROTATED_LATE = [  # read in load 3: first line at +400, so it sorts after stream 1 within a second
    (400, "9003.1|sales|NONE|ENTERQUEUE||3003334444|2"),  # exact copy of a stream-1 line: duplicate
    (410, "9003.1|sales|Ben|RINGNOANSWER|9000"),  # out of order: inside call 9003.1 of boot 1
]
ROTATED_EARLY = [  # read in load 5: starts before everything else, so its copy comes first
    (-60, "NONE|NONE|NONE|QUEUESTART|"),  # an earlier restart: every later boot is renumbered
    (-50, "NONE|NONE|NONE|CONFIGRELOAD|"),
    (
        600,
        "9005.1|sales|NONE|ENTERQUEUE||3005556666|1",
    ),  # copy of a stream-1 line, now the original
]


def _file_row(stream: str, line_no: int, offset: int, text: str, loaded_at: datetime) -> tuple:
    callid, queue, agent, event, *data = _fields(text)
    return (
        "lab",
        stream,
        f"/logs/lab/{stream}",
        line_no,
        T0 + offset,
        callid,
        queue,
        agent,
        event,
        *data,
        loaded_at,
    )


def _table_row(row_no: int, row_id: int, offset: int, text: str, loaded_at: datetime, pbx: str = "rt") -> tuple:
    callid, queue, agent, event, *data = _fields(text)
    return (
        pbx,
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
        loaded_at,
    )


# the inserts of test_dbt_project plus loaded_at (what the incremental staging keys on)
TABLE_INSERT_LOADED = TABLE_INSERT.replace("data6) values", "data6, loaded_at) values").replace(
    "{p})", "{p}, {p})"
)


def _loads() -> list[tuple[list[tuple], list[tuple]]]:
    """(file rows, table rows) of each load, with loaded_at one hour apart."""
    at = [LOADED + timedelta(hours=h) for h in range(5)]
    main = [(i, off, text) for i, (off, text) in enumerate(FIXTURE_LINES)]

    def stream1(lo: int, hi: int, when: datetime) -> list[tuple]:
        return [_file_row("lab-stream-1", i, off, text, when) for i, off, text in main[lo:hi]]

    table = [(row_no, row_id, off, text) for row_no, (row_id, off, text) in enumerate(TABLE_ROWS)]
    # the export lists rows newest first: ids 1 and 2 (ENTERQUEUE, CONNECT) come in load 1, id 3 later
    early_table = [r for r in table if r[1] in (1, 2)]
    late_table = [r for r in table if r[1] == 3]

    def lab_copy(row_no: int, row_id: int, line: int, when: datetime) -> tuple:
        # PBX lab also logs to a realtime table, whose rounded time is a second after the file's:
        # a duplicate that arrives before its file line (load 1) or after it (load 3)
        offset, text = FIXTURE_LINES[line]
        return _table_row(row_no, row_id, offset + 1, text, when, pbx="lab")

    return [
        (stream1(0, CUT_1, at[0]), [_table_row(*r, at[0]) for r in early_table] + [lab_copy(0, 901, CUT_1, at[0])]),
        (stream1(CUT_1, CUT_2, at[1]), [_table_row(*r, at[1]) for r in late_table]),
        (
            stream1(CUT_2, CUT_3, at[2])
            + [
                _file_row("lab-stream-2", i, off, text, at[2])
                for i, (off, text) in enumerate(ROTATED_LATE)
            ],
            # row id 2 exported again (the loader merges on the row key): same line, new load
            [_table_row(r[0], r[1], r[2], r[3], at[2]) for r in early_table if r[1] == 2]
            + [lab_copy(1, 902, 1, at[2]), lab_copy(2, 903, 2, at[2])],
        ),
        (stream1(CUT_3, len(main), at[3]), []),
        (
            [
                _file_row("lab-stream-0", i, off, text, at[4])
                for i, (off, text) in enumerate(ROTATED_EARLY)
            ],
            [],
        ),
        ([], []),  # load 6 only removes PBX rt (see REMOVED_AT)
        ([], []),  # load 7 brings only a CDR row (CDR_LOADS)
        ([_file_row("lab-stream-1", len(main), main[-1][1] + 2 * 86400, "NONE|NONE|NONE|CONFIGRELOAD|",
                    LOADED + timedelta(hours=7))], []),  # load 8: only the data end moves
    ]


# Master.csv rows by load (1-based), merged on (pbx, cdr_key) as the loader does:
# (cdr_key, src, dst, dstchannel, start offset, answer offset, end offset, billsec, disposition, uniqueid, linkedid)
CDR_LOADS = {
    2: [("c1", "3001112222", "6015550100", "SIP/2001-01", 99, 118, 218, 100, "ANSWERED", "9001.1", "9001.1")],
    3: [("c3", "3003334444", "6015550100", None, 399, None, 430, 0, "NO ANSWER", "9003.1", "8999.1")],
    4: [("c7", "2001", "3109998877", "SIP/trunk-07", 900, 905, 965, 60, "ANSWERED", "7777.1", None)],
    5: [("c1", "3001112222", "6015550100", "SIP/2001-01", 99, 118, 230, 112, "ANSWERED", "9001.1", "9001.1")],
    7: [("c5", "3005556666", "6015550100", None, 599, None, 700, 0, "NO ANSWER", "9005.1", "8998.1")],
}
CDR_INSERT = (
    "insert into raw_asterisk.cdr (pbx, cdr_key, source_file, src, dst, dstchannel, start_at, answer_at, end_at, "
    "duration, billsec, disposition, uniqueid, linkedid, loaded_at) values "
    "('lab', {p}, '/var/log/asterisk/cdr-csv/Master.csv', {p}, {p}, {p}, to_timestamp({p}), to_timestamp({p}), "
    "to_timestamp({p}), {p}, {p}, {p}, {p}, {p}, {p})"
)
CDR_DELETE = "delete from raw_asterisk.cdr where pbx = 'lab' and cdr_key = {p}"


def _cdr_rows(n: int) -> list[list]:
    loaded_at = LOADED + timedelta(hours=n - 1)
    rows = []
    for key, src, dst, dstchannel, start, answer, end, billsec, disposition, uniqueid, linkedid in CDR_LOADS.get(n, []):
        rows.append([key, src, dst, dstchannel, T0 + start, None if answer is None else T0 + answer, T0 + end,
                     end - start, billsec, disposition, uniqueid, linkedid, loaded_at])
    return rows


REMOVED_AT = 6  # before this build, every raw row of PBX "rt" is deleted
REMOVE_RT = "delete from raw_asterisk.queue_log_table where pbx = 'rt'"


def _apply(path: Path, file_rows: list[tuple], table_rows: list[tuple], n: int) -> None:
    with duckdb.connect(str(path)) as con:
        if n == REMOVED_AT:
            con.execute(REMOVE_RT)
        for row in _cdr_rows(n):  # merge on (pbx, cdr_key)
            con.execute(CDR_DELETE.format(p="?"), [row[0]])
            con.execute(CDR_INSERT.format(p="?"), row)
        if file_rows:
            insert_file_lines(con, "?", file_rows)
        for row in table_rows:  # merge on (pbx, row_key), as the loader does
            con.execute(
                "delete from raw_asterisk.queue_log_table where pbx = ? and row_key = ?",
                [row[0], row[1]],
            )
            con.execute(TABLE_INSERT_LOADED.format(p="?"), list(row))
        classify_raw_numbers(con, "?")


def _relations(con: duckdb.DuckDBPyConnection, db: str) -> list[tuple[str, str]]:
    return con.execute(
        "select schema_name, table_name from duckdb_tables() where database_name = ? "
        "and schema_name in ('staging', 'intermediate', 'marts') "
        "union select schema_name, view_name from duckdb_views() where database_name = ? "
        "and schema_name in ('staging', 'intermediate', 'marts') order by 1, 2",
        [db, db],
    ).fetchall()


def _differences(incremental: Path, full: Path) -> dict[str, tuple[int, int]]:
    """Per relation, rows only in the incremental build and rows only in the full build."""
    out = {}
    with duckdb.connect() as con:
        con.execute(f"attach '{incremental}' as inc (read_only)")
        con.execute(f"attach '{full}' as ref (read_only)")
        relations = _relations(con, "ref")
        assert relations == _relations(con, "inc")
        for schema, name in relations:
            columns = [
                r[0]
                for r in con.execute(
                    "select column_name from information_schema.columns where table_catalog = 'ref' "
                    "and table_schema = ? and table_name = ? order by ordinal_position",
                    [schema, name],
                ).fetchall()
                if r[0] != "dbt_refreshed_at"  # when a row was written differs by construction
            ]
            cols = ", ".join(f'"{c}"' for c in columns)
            only_inc = con.execute(
                f"select count(*) from (select {cols} from inc.{schema}.{name} except all "
                f"select {cols} from ref.{schema}.{name})"
            ).fetchone()[0]
            only_ref = con.execute(
                f"select count(*) from (select {cols} from ref.{schema}.{name} except all "
                f"select {cols} from inc.{schema}.{name})"
            ).fetchone()[0]
            if only_inc or only_ref:
                out[f"{schema}.{name}"] = (only_inc, only_ref)
    return out


def _stamps(path: Path, relation: str = "staging.stg_asterisk__queue_events") -> int:
    with duckdb.connect(str(path), read_only=True) as con:
        return con.execute(f"select count(distinct dbt_refreshed_at) from {relation}").fetchone()[0]


def _reference_dir(tmp_path: Path) -> Path:
    """Where the reference builds keep their own dbt target folder: dbt re-parses the whole project
    when a target folder's last run had another profile (database), ~4 s a run when they alternate."""
    folder = tmp_path / "reference"
    folder.mkdir()
    return folder


OLD_LAYOUT_AT = 3  # before this build, stg_asterisk__phone_numbers is as a table of an older version


def _as_built_before_it_was_incremental(path: Path) -> None:
    """stg_asterisk__phone_numbers as the plain table an older version of the project built
    (without dbt_refreshed_at): the next build must rebuild it once, not add its rows again."""
    with duckdb.connect(str(path)) as con:
        con.execute("create or replace table staging.stg_asterisk__phone_numbers as "
                    "select number_text, e164, country, number_type from staging.stg_asterisk__phone_numbers")


def test_incremental_runs_equal_a_full_refresh(tmp_path):
    warehouse = tmp_path / "warehouse.duckdb"
    with duckdb.connect(str(warehouse)) as con:
        con.execute(RAW_DDL)
    env = {"SWITCHBOARD_DBT_TARGET": "duckdb", "SWITCHBOARD_DBT_DUCKDB_PATH": str(warehouse)}
    reference_dir = _reference_dir(tmp_path)
    reference = reference_dir / "full.duckdb"
    ref_env = {**env, "SWITCHBOARD_DBT_DUCKDB_PATH": str(reference)}
    for n, (file_rows, table_rows) in enumerate(_loads(), start=1):
        _apply(warehouse, file_rows, table_rows, n)
        if n == OLD_LAYOUT_AT:
            _as_built_before_it_was_incremental(warehouse)
        # (models and data tests; the unit tests do not read the warehouse: test_dbt_project runs them)
        _assert_ok(_dbt(tmp_path, env, "build", "--exclude", "test_type:unit"))
        if n == 1:
            continue
        # the run was incremental: lines before the first new one were not rewritten
        assert _stamps(warehouse) >= 2 or n >= 5
        # loads 5 and 6 rebuild every boot, hence every call with a visit, but not the outbound
        # call of load 4, which met no queue and whose CDR row did not change
        assert _stamps(warehouse, "marts.fct_calls") >= 2 or n < 5
        shutil.copy(warehouse, reference)
        _assert_ok(_dbt(reference_dir, ref_env, "run", "--full-refresh"))
        assert _differences(warehouse, reference) == {}, f"after load {n}"
    # lab's realtime copies a second late are its file lines' duplicates, whichever came first
    with duckdb.connect(str(warehouse), read_only=True) as con:
        flags = con.execute("select source_position, is_duplicate from staging.stg_asterisk__queue_events "
                            "where pbx = 'lab' and source_kind = 'table' order by 1").fetchall()
    assert flags == [(901, True), (902, True), (903, True)]


def test_changed_metric_settings_rebuild_the_rows_written_under_the_old_ones(tmp_path):
    """A new time zone, short-abandon threshold and open-visit timeout, with no new line: the
    models whose rows hold them are rebuilt whole, equal to a full refresh under the new values
    (an incremental run rewrote only boots with new lines, so one mart mixed two definitions:
    independent audit)."""
    warehouse = tmp_path / "warehouse.duckdb"
    with duckdb.connect(str(warehouse)) as con:
        con.execute(RAW_DDL)
    env = {"SWITCHBOARD_DBT_TARGET": "duckdb", "SWITCHBOARD_DBT_DUCKDB_PATH": str(warehouse)}
    for n, (file_rows, table_rows) in enumerate(_loads()[:2], start=1):
        _apply(warehouse, file_rows, table_rows, n)
        _assert_ok(_dbt(tmp_path, env, "build", "--exclude", "test_type:unit"))
    new_vars = {"reporting_timezone": "Asia/Kathmandu", "sl_seconds": 20, "short_abandon_seconds": 30,
                "open_visit_timeout_seconds": 600}
    _assert_ok(_dbt(tmp_path, env, "build", "--exclude", "test_type:unit", dbt_vars=new_vars))
    reference_dir = _reference_dir(tmp_path)
    reference = reference_dir / "full.duckdb"
    shutil.copy(warehouse, reference)
    _assert_ok(_dbt(reference_dir, {**env, "SWITCHBOARD_DBT_DUCKDB_PATH": str(reference)},
                    "run", "--full-refresh", dbt_vars=new_vars))
    assert _differences(warehouse, reference) == {}
    with duckdb.connect(str(warehouse), read_only=True) as con:
        recorded = dict(con.execute("select model_name, build_vars from intermediate.dbt_model_build_vars").fetchall())
        # Kathmandu is 5:45 ahead of UTC: quarter-hour buckets at :45 exist only under it
        kathmandu_buckets = con.execute("select count(*) from marts.fct_queue_visits "
                                        "where minute(entered_interval_start) = 45").fetchone()[0]
    assert recorded == {
        "int_asterisk__queue_visits": "open_visit_timeout_seconds=600;short_abandon_seconds=30",
        "fct_queue_visits": "reporting_timezone=Asia/Kathmandu;short_abandon_seconds=30",
        "fct_calls": "reporting_timezone=Asia/Kathmandu",
    }
    assert kathmandu_buckets > 0


def _passed_through(path: Path, model: str):
    with duckdb.connect(str(path), read_only=True) as con:
        row = con.execute("select passed_through from intermediate.dbt_tests_passed_through where model_name = ?",
                          [model]).fetchone()
    return row and row[0]


def test_rows_a_failed_test_found_are_tested_again_until_it_passes(tmp_path):
    """A visit a faulty build stored twice fails its unique test in that build and in the next,
    which rewrites only another boot, until a rebuild replaces it (the tests read only the newest
    write: the next run's passed on its own rows, and the serving copy was published with the
    visit twice; independent audit). Only a build whose scoped tests all pass moves the mark."""
    warehouse = tmp_path / "warehouse.duckdb"
    with duckdb.connect(str(warehouse)) as con:
        con.execute(RAW_DDL)
    env = {"SWITCHBOARD_DBT_TARGET": "duckdb", "SWITCHBOARD_DBT_DUCKDB_PATH": str(warehouse)}
    loads = _loads()
    for n, (file_rows, table_rows) in enumerate(loads[:-1], start=1):
        _apply(warehouse, file_rows, table_rows, n)
    _assert_ok(_dbt(tmp_path, env, "build", "--exclude", "test_type:unit"))
    passed = _passed_through(warehouse, "fct_queue_visits")
    assert passed is not None
    with duckdb.connect(str(warehouse)) as con:
        # what a faulty build would write: a visit of lab's first boot (2) again, beside its row
        con.execute("""
            insert into marts.fct_queue_visits
            select * replace (dbt_refreshed_at + interval 1 second as dbt_refreshed_at)
            from marts.fct_queue_visits
            where visit_id = (select min(visit_id) from marts.fct_queue_visits where boot_no = 2)""")
        assert con.execute("select max(boot_no) from marts.fct_queue_visits").fetchone()[0] == 3
    # load 8 moves lab's data end: only its last boot is rewritten
    _apply(warehouse, *loads[-1], len(loads))
    result = _dbt(tmp_path, env, "build", "--exclude", "test_type:unit")
    assert result.returncode != 0
    assert "FAIL 1 unique_fct_queue_visits_visit_id" in result.stdout, result.stdout[-4000:]
    assert _stamps(warehouse, "marts.fct_queue_visits") == 3  # first build, the copy, load 8's boot
    assert _passed_through(warehouse, "fct_queue_visits") == passed
    _assert_ok(_dbt(tmp_path, env, "build", "--exclude", "test_type:unit", "--full-refresh"))
    assert _passed_through(warehouse, "fct_queue_visits") > passed


# --------------------------------------------------------------------------- postgres


def _pg_connect(server: dict, dbname: str):
    import psycopg2

    con = psycopg2.connect(
        host=server["host"], port=server["port"], user=server["user"], dbname=dbname
    )
    con.autocommit = True
    return con


def _pg_snapshot(con) -> dict[str, Counter]:
    """Every staging/intermediate/mart relation as a multiset of rows (dbt_refreshed_at left out)."""
    out: dict[str, Counter] = {}
    with con.cursor() as cur:
        cur.execute(
            "select table_schema, table_name from information_schema.tables "
            "where table_schema in ('staging', 'intermediate', 'marts') order by 1, 2"
        )
        for schema, name in cur.fetchall():
            if name == "dbt_tests_passed_through":  # what the build's tests passed on: a full `dbt run` tests nothing
                continue
            cur.execute(
                "select column_name from information_schema.columns where table_schema = %s "
                "and table_name = %s and column_name <> 'dbt_refreshed_at' order by ordinal_position",
                (schema, name),
            )
            cols = ", ".join(f'"{r[0]}"' for r in cur.fetchall())
            cur.execute(f"select {cols} from {schema}.{name}")
            out[f"{schema}.{name}"] = Counter(cur.fetchall())
    return out


@pytest.mark.postgres
def test_incremental_runs_equal_a_full_refresh_on_postgres(tmp_path, postgres_server):
    admin = _pg_connect(postgres_server, "postgres")
    with admin.cursor() as cur:
        for db in ("dbt_incremental", "dbt_incremental_ref"):
            cur.execute(f"drop database if exists {db}")
            cur.execute(f"create database {db}")
    admin.close()
    cons = {
        db: _pg_connect(postgres_server, db) for db in ("dbt_incremental", "dbt_incremental_ref")
    }
    for con in cons.values():
        with con.cursor() as cur:
            cur.execute(RAW_DDL)

    def env(db: str) -> dict[str, str]:
        return _postgres_target(postgres_server, db)

    reference_dir = _reference_dir(tmp_path)
    try:
        # the reference database is a separate one: it needs the seeds (agent directory) too, once:
        # `run --full-refresh` rebuilds the models and leaves the seeds as they are
        _assert_ok(_dbt(reference_dir, env("dbt_incremental_ref"), "seed", "--full-refresh"))
        for n, (file_rows, table_rows) in enumerate(_loads(), start=1):
            for con in cons.values():
                with con.cursor() as cur:
                    if n == REMOVED_AT:
                        cur.execute(REMOVE_RT)
                    for row in _cdr_rows(n):
                        cur.execute(CDR_DELETE.format(p="%s"), (row[0],))
                        cur.execute(CDR_INSERT.format(p="%s"), row)
                    if file_rows:
                        insert_file_lines(cur, "%s", file_rows)
                    for row in table_rows:
                        cur.execute(
                            "delete from raw_asterisk.queue_log_table where pbx = %s and row_key = %s",
                            (row[0], row[1]),
                        )
                        cur.execute(TABLE_INSERT_LOADED.format(p="%s"), row)
                    classify_raw_numbers(cur, "%s")
            _assert_ok(_dbt(tmp_path, env("dbt_incremental"), "build", "--exclude", "test_type:unit"))
            if n == 1:
                continue
            if n < 5:  # the run was incremental: lines before the first new one were not rewritten
                with cons["dbt_incremental"].cursor() as cur:
                    cur.execute(
                        "select count(distinct dbt_refreshed_at) from staging.stg_asterisk__queue_events"
                    )
                    assert cur.fetchone()[0] >= 2
            _assert_ok(_dbt(reference_dir, env("dbt_incremental_ref"), "run", "--full-refresh"))
            got = _pg_snapshot(cons["dbt_incremental"])
            want = _pg_snapshot(cons["dbt_incremental_ref"])
            assert got.keys() == want.keys()
            assert {k: v for k, v in got.items() if v != want[k]} == {}, f"after load {n}"
    finally:
        for con in cons.values():
            con.close()
