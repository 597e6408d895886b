"""The serving copy (assets/serving.py) on real DuckDB files: whatever happened to the warehouse's
marts between two publications, the copy that patches the previous one holds exactly what a copy
made afresh holds."""

from __future__ import annotations

import os
import random
import stat
from datetime import datetime, timedelta
from pathlib import Path

import dagster as dg
import duckdb
import pytest

from assets.serving import publish_duckdb, publishing_path

RUN_0 = datetime(2026, 12, 1, 8, 0)
ROOT = Path(__file__).resolve().parents[1]


class Marts:
    """A warehouse whose marts a test changes the way dbt runs do: every row a run (re)writes
    carries that run's start in dbt_refreshed_at."""

    def __init__(self, folder: Path) -> None:
        self.path = folder / "warehouse.duckdb"
        self.run = RUN_0
        self.sql("""
            create schema marts;
            create table marts.fct_queue_visits (visit_id text, queue text, wait_seconds bigint,
                                                 dbt_refreshed_at timestamp);
            create table marts.fct_calls (call_id text, outcome text, dbt_refreshed_at timestamp);
            create table marts.agg_queue_daily (queue text, offered bigint);
        """)

    def sql(self, statements: str, params: list | None = None) -> list[tuple]:
        with duckdb.connect(str(self.path)) as con:
            return con.execute(statements, params).fetchall() if params else con.execute(statements).fetchall()

    def next_run(self) -> datetime:
        self.run += timedelta(minutes=5)
        return self.run

    @property
    def tables(self) -> list[str]:
        return [r[0] for r in self.sql(
            "select table_name from information_schema.tables where table_schema = 'marts' order by 1")]


def same_content(a: Path, b: Path) -> dict[str, tuple[int, int]]:
    """Per table of either file: (rows only in a, rows only in b), as multisets."""
    with duckdb.connect() as con:
        con.execute(f"attach '{a}' as a (read_only)")
        con.execute(f"attach '{b}' as b (read_only)")
        names = {catalog: {r[0] for r in con.execute(
            "select table_name from information_schema.tables where table_catalog = ? and table_schema = 'marts'",
            [catalog]).fetchall()} for catalog in ("a", "b")}
        assert names["a"] == names["b"]
        return {t: tuple(con.execute(
            f'select count(*) from (select * from {x}.marts."{t}" except all select * from {y}.marts."{t}")'
        ).fetchall()[0][0] for x, y in (("a", "b"), ("b", "a"))) for t in names["a"]}


def publish_both(marts: Marts, folder: Path) -> list[str]:
    """Publish onto the previous copy and afresh; assert they hold the same rows; the patched tables."""
    fresh = folder / "fresh.duckdb"
    fresh.unlink(missing_ok=True)
    counts, patched = publish_duckdb(marts.path, folder / "serving.duckdb", marts.tables)
    fresh_counts, _ = publish_duckdb(marts.path, fresh, marts.tables)
    assert counts == fresh_counts
    differences = same_content(folder / "serving.duckdb", fresh)
    assert all(d == (0, 0) for d in differences.values()), differences
    return patched


def test_a_patched_copy_holds_what_a_fresh_copy_holds_through_every_kind_of_change(tmp_path):
    marts = Marts(tmp_path)
    rng = random.Random(20261205)
    run = marts.run
    marts.sql("insert into marts.fct_queue_visits select 'v' || i, 'q' || (i % 3), i % 50, ? from range(400) t(i)",
              [run])
    marts.sql("insert into marts.fct_calls select 'c' || i, 'answered', ? from range(300) t(i)", [run])
    marts.sql("insert into marts.agg_queue_daily values ('q0', 10), ('q1', 20)")
    assert publish_both(marts, tmp_path) == []  # nothing to patch yet: copied

    for step in range(12):
        run = marts.next_run()
        # an incremental run: some visits rewritten (new values, new stamp), some gone (a boot
        # rebuilt into fewer visits), new ones; calls likewise; the small aggregate rebuilt
        rewritten = rng.sample(range(400), 25)
        marts.sql(f"update marts.fct_queue_visits set wait_seconds = wait_seconds + 1, dbt_refreshed_at = ? "
                  f"where visit_id in ({', '.join(repr(f'v{i}') for i in rewritten)})", [run])
        marts.sql(f"delete from marts.fct_queue_visits where visit_id = 'v{rng.randrange(400)}'")
        marts.sql(f"insert into marts.fct_queue_visits values ('n{step}', 'q1', 7, ?)", [run])
        marts.sql(f"update marts.fct_calls set outcome = 'abandoned', dbt_refreshed_at = ? "
                  f"where call_id = 'c{rng.randrange(300)}'", [run])
        marts.sql(f"update marts.agg_queue_daily set offered = offered + {step}")
        assert publish_both(marts, tmp_path) == ["fct_calls", "fct_queue_visits"]

    # a rewrite with the same stamp and key but a row only the warehouse holds twice: the patch
    # cannot tell the copies apart, so that table is copied whole
    marts.sql("insert into marts.fct_calls select * from marts.fct_calls where call_id = 'c1'")
    assert publish_both(marts, tmp_path) == ["fct_queue_visits"]

    # most visits rewritten (a full refresh): copying is cheaper than patching
    marts.sql("update marts.fct_queue_visits set dbt_refreshed_at = ?", [marts.next_run()])
    assert publish_both(marts, tmp_path) == ["fct_calls"]

    # a column added to a mart (on_schema_change: append_new_columns) and a new mart; a mart dropped
    marts.sql("alter table marts.fct_calls add column talk_seconds bigint; "
              "update marts.fct_calls set talk_seconds = 60;"
              "create table marts.dim_agents as select 'Ana' as agent; drop table marts.agg_queue_daily")
    assert publish_both(marts, tmp_path) == ["fct_queue_visits"]
    assert publish_both(marts, tmp_path) == ["fct_calls", "fct_queue_visits"]  # nothing changed: patches


def test_what_a_killed_publication_left_behind_is_not_replayed_into_the_next(tmp_path):
    marts = Marts(tmp_path)
    marts.sql("insert into marts.fct_calls values ('c1', 'answered', ?)", [marts.run])
    publish_both(marts, tmp_path)
    # a killed publication's temp file, with rows of its own, and a write-ahead log beside it
    tmp = publishing_path(tmp_path / "serving.duckdb")
    tmp.parent.mkdir(exist_ok=True)
    with duckdb.connect(str(tmp)) as con:
        con.execute("create schema marts; create table marts.fct_calls as select 'stale' as call_id")
    tmp.with_name(tmp.name + ".wal").write_bytes(b"not a log DuckDB could replay")
    marts.sql("insert into marts.fct_calls values ('c2', 'answered', ?)", [marts.next_run()])
    assert publish_both(marts, tmp_path) == ["fct_calls", "fct_queue_visits"]
    with duckdb.connect(str(tmp_path / "serving.duckdb"), read_only=True) as con:
        assert con.execute("select call_id from marts.fct_calls order by 1").fetchall() == [("c1",), ("c2",)]


def test_the_copy_is_read_by_its_owner_and_group_only_whatever_the_umask(tmp_path):
    """It holds every caller's number in full: under the usual umask 0022 it was readable by every
    account of the machine (independent security audit)."""
    marts = Marts(tmp_path)
    old = os.umask(0o022)
    try:
        publish_both(marts, tmp_path)  # a fresh copy, then one patched from it
        assert stat.S_IMODE((tmp_path / "serving.duckdb").stat().st_mode) == 0o640
        (tmp_path / "serving.duckdb").chmod(0o644)  # published by an older version
        marts.sql("insert into marts.fct_calls values ('c1', 'answered', ?)", [marts.next_run()])
        publish_both(marts, tmp_path)
        assert stat.S_IMODE((tmp_path / "serving.duckdb").stat().st_mode) == 0o640
        # the temp file, a copy of the previous copy from its start, lies where no other account enters
        assert stat.S_IMODE(publishing_path(tmp_path / "serving.duckdb").parent.stat().st_mode) == 0o700
    finally:
        os.umask(old)


def test_a_previous_copy_duckdb_cannot_open_is_replaced_by_a_fresh_one(tmp_path):
    marts = Marts(tmp_path)
    marts.sql("insert into marts.fct_queue_visits values ('v1', 'q0', 3, ?)", [marts.run])
    (tmp_path / "serving.duckdb").write_bytes(b"\0" * 4096)  # damaged, or not a database at all
    assert publish_both(marts, tmp_path) == []


def test_publications_at_once_take_turns_and_each_swaps_in_a_whole_copy(tmp_path):
    """Two publications of one target at once (a run beside `switchboard materialize`, or runs in a
    pool that lets Postgres writers overlap) wrote the same temp file: one swapped in a copy with
    some marts missing, or failed, while the other reported success (independent audit, 14
    trials). Real processes, each a publication of its own; every one must publish all marts."""
    import json
    import subprocess
    import sys

    marts = Marts(tmp_path)
    marts.sql("insert into marts.fct_queue_visits select 'v' || i, 'q1', i, ? from range(50000) t(i)", [marts.run])
    marts.sql("insert into marts.fct_calls select 'c' || i, 'answered', ? from range(50000) t(i)", [marts.run])
    marts.sql("insert into marts.agg_queue_daily values ('q1', 50000)")
    target = tmp_path / "serving.duckdb"
    code = ("import json, sys; from pathlib import Path; from assets.serving import publish_duckdb; "
            "print(json.dumps(publish_duckdb(Path(sys.argv[1]), Path(sys.argv[2]), sys.argv[3:])[0]))")
    publications = [subprocess.Popen([sys.executable, "-c", code, str(marts.path), str(target), *marts.tables],
                                     cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
                    for _ in range(6)]
    results = [p.communicate(timeout=180) for p in publications]
    assert [p.returncode for p in publications] == [0] * 6, [err[-2000:] for _, err in results]
    assert [json.loads(out) for out, _ in results] == [
        {"agg_queue_daily": 1, "fct_calls": 50000, "fct_queue_visits": 50000}] * 6
    fresh = tmp_path / "fresh.duckdb"
    publish_duckdb(marts.path, fresh, marts.tables)
    assert same_content(target, fresh) == {t: (0, 0) for t in marts.tables}
    assert not publishing_path(target).exists()


@pytest.mark.parametrize("table", ["fct_queue_visits", "fct_calls"])
def test_a_patch_commits_nothing_when_it_falls_back_to_a_copy(tmp_path, table):
    """The rows the patch deleted before it found the counts differ are back before the copy."""
    marts = Marts(tmp_path)
    key = "visit_id" if table == "fct_queue_visits" else "call_id"
    marts.sql(f"insert into marts.{table} ({key}, dbt_refreshed_at) select 'k' || i, ? from range(10) t(i)",
              [marts.run])
    publish_both(marts, tmp_path)
    marts.sql(f"delete from marts.{table} where {key} = 'k3'")
    marts.sql(f"insert into marts.{table} select * from marts.{table} where {key} = 'k4'")
    other = "fct_calls" if table == "fct_queue_visits" else "fct_queue_visits"
    assert publish_both(marts, tmp_path) == [other]


@pytest.mark.postgres
def test_a_copy_patched_from_postgres_holds_what_a_fresh_copy_holds(postgres_url, tmp_path):
    """The same on a Postgres warehouse, where the patch compares rows per stamp before it fetches
    any key, and fetches whole only the rows of stamps the copy has not seen."""
    import psycopg2

    from assets.serving import publish_from_postgres
    from resources.warehouse import WarehouseResource

    warehouse = WarehouseResource(url=postgres_url)
    con = psycopg2.connect(warehouse.location.postgres_dsn())
    con.autocommit = True

    def sql(statement: str, params: list | None = None) -> None:
        with con.cursor() as cur:
            cur.execute(statement, params)

    def tables() -> list[str]:
        with con.cursor() as cur:
            cur.execute("select table_name from information_schema.tables where table_schema = 'marts' order by 1")
            return [r[0] for r in cur.fetchall()]

    def publish() -> list[str]:
        fresh = tmp_path / "fresh.duckdb"
        fresh.unlink(missing_ok=True)
        counts, patched = publish_from_postgres(warehouse, tmp_path / "serving.duckdb", tables())
        assert counts == publish_from_postgres(warehouse, fresh, tables())[0]
        differences = same_content(tmp_path / "serving.duckdb", fresh)
        assert all(d == (0, 0) for d in differences.values()), differences
        return patched

    run = RUN_0
    sql("create schema marts; "
        "create table marts.fct_queue_visits (visit_id text, queue text, wait_seconds bigint, "
        "entered_at timestamptz, dbt_refreshed_at timestamp); "
        "create table marts.fct_calls (call_id text, outcome text, dbt_refreshed_at timestamp); "
        "create table marts.agg_queue_daily (queue text, offered bigint)")
    sql("insert into marts.fct_queue_visits select 'v' || i, 'q' || mod(i, 3), mod(i, 50), "
        "timestamptz '2026-12-01 10:00+00' + i * interval '1 minute', %s from generate_series(0, 399) as i", [run])
    sql("insert into marts.fct_calls select 'c' || i, 'answered', %s from generate_series(0, 299) as i", [run])
    sql("insert into marts.agg_queue_daily values ('q0', 10)")
    assert publish() == []

    rng = random.Random(7)
    for step in range(6):
        run += timedelta(minutes=5)
        # rewritten under the new stamp; one gone from the first run's rows (fewer rows for that
        # stamp: its keys are fetched); one new; the previous run's rows all rewritten (a stamp gone)
        sql("update marts.fct_queue_visits set wait_seconds = wait_seconds + 1, dbt_refreshed_at = %s "
            "where visit_id = any(%s)", [run, [f"v{i}" for i in rng.sample(range(400), 20)]])
        sql("delete from marts.fct_queue_visits where visit_id = %s", [f"v{rng.randrange(400)}"])
        sql("insert into marts.fct_queue_visits values (%s, 'q1', 7, now(), %s)", [f"n{step}", run])
        sql("update marts.fct_calls set outcome = 'abandoned', dbt_refreshed_at = %s where dbt_refreshed_at = %s "
            "or call_id = %s", [run, run - timedelta(minutes=5) if step else None, f"c{rng.randrange(300)}"])
        sql("update marts.agg_queue_daily set offered = offered + 1")
        assert publish() == ["fct_calls", "fct_queue_visits"]

    # a stamp with more rows in the warehouse than in the copy (something wrote under an old
    # stamp): the counts cannot agree, so the table is copied whole
    sql("insert into marts.fct_calls select * from marts.fct_calls where call_id = 'c1'")
    assert publish() == ["fct_queue_visits"]
    # most rows rewritten, and a column added: copied whole
    sql("update marts.fct_queue_visits set dbt_refreshed_at = %s", [run + timedelta(minutes=5)])
    sql("alter table marts.fct_calls add column talk_seconds bigint")
    assert publish() == []
    assert publish() == ["fct_calls", "fct_queue_visits"]
    con.close()


@pytest.mark.postgres
def test_a_copy_from_postgres_is_one_snapshot_and_keeps_empty_strings(postgres_url, tmp_path, monkeypatch):
    """A run committing while the marts are copied out shows in none of them (before: only in the
    tables copied after its commit, so aggregates disagreed with the visits they count); and
    Postgres' empty string stays an empty string, not NULL (read_csv took a quoted "" for NULL)."""
    import psycopg2

    import assets.serving as serving
    from resources.warehouse import WarehouseResource

    warehouse = WarehouseResource(url=postgres_url)
    con = psycopg2.connect(warehouse.location.postgres_dsn())
    con.autocommit = True
    cur = con.cursor()
    cur.execute("create schema marts; "
                "create table marts.agg_queue_daily (queue text, offered bigint); "
                "create table marts.fct_queue_visits (visit_id text, queue text, did text); "
                "insert into marts.agg_queue_daily values ('q1', 2); "
                "insert into marts.fct_queue_visits values ('v1', 'q1', ''), ('v2', 'q1', null)")
    set_comments = serving._set_comments

    def a_run_commits_after_the_first_table(out, table, *comments):
        set_comments(out, table, *comments)
        if table == "agg_queue_daily":
            cur.execute("insert into marts.fct_queue_visits values ('v3', 'q1', '1000'); "
                        "update marts.agg_queue_daily set offered = 3")

    monkeypatch.setattr(serving, "_set_comments", a_run_commits_after_the_first_table)
    target = tmp_path / "serving.duckdb"
    counts, _ = serving.publish_from_postgres(warehouse, target, ["agg_queue_daily", "fct_queue_visits"])
    con.close()
    assert counts == {"agg_queue_daily": 1, "fct_queue_visits": 2}
    with duckdb.connect(str(target), read_only=True) as copy:
        assert copy.execute("select offered from marts.agg_queue_daily").fetchall() == [(2,)]
        assert copy.execute("select visit_id, did from marts.fct_queue_visits order by 1").fetchall() == [
            ("v1", ""), ("v2", None)]


def test_a_growing_mart_without_its_stamp_is_copied_whole(tmp_path):
    marts = Marts(tmp_path)
    marts.sql("insert into marts.fct_calls values ('c1', 'answered', ?)", [marts.run])
    publish_both(marts, tmp_path)
    marts.sql("alter table marts.fct_calls drop column dbt_refreshed_at")
    assert publish_both(marts, tmp_path) == ["fct_queue_visits"]  # columns changed: copied
    assert publish_both(marts, tmp_path) == ["fct_queue_visits"]  # same columns, but no stamp


# --------------------------------------------------------------------------- automation


def test_automation_never_publishes_marts_whose_blocking_check_failed():
    """A blocking check stops the copy within the run that failed it; the automation sensor must
    not publish those marts on its next tick (it did, 58 s later, in an independent audit). Real
    Dagster: a mart with a blocking check, the copy with the serving asset's condition."""
    from assets.serving import SERVING_AUTOMATION

    verdict = {"passed": True}

    @dg.asset(key=["marts", "agg"], check_specs=[dg.AssetCheckSpec("reconciles", asset=["marts", "agg"], blocking=True)])
    def mart():
        yield dg.MaterializeResult(check_results=[dg.AssetCheckResult(passed=verdict["passed"])])

    @dg.asset(key=["serving", "copy"], deps=[mart], automation_condition=SERVING_AUTOMATION)
    def copy():
        return None

    defs = dg.Definitions(assets=[mart, copy])
    with dg.instance_for_test() as instance:
        assert dg.materialize([mart, copy], instance=instance).success
        cursor = dg.evaluate_automation_conditions(defs, instance).cursor

        verdict["passed"] = False
        failed = dg.materialize([mart], instance=instance, raise_on_error=False)
        assert not failed.success  # the blocking check failed the run
        result = dg.evaluate_automation_conditions(defs, instance, cursor=cursor)
        assert result.total_requested == 0

        verdict["passed"] = True
        assert dg.materialize([mart], instance=instance).success
        result = dg.evaluate_automation_conditions(defs, instance, cursor=result.cursor)
        assert result.total_requested == 1
