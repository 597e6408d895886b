"""The Asterisk marts equal the simulator's ground truth, exactly.

The simulator writes what an Issabel 4 box would write (rotated and compressed logs included)
plus, apart, what really happened; the pipeline reads only the logs. On Postgres the site
arrives in two runs, the second an incremental append in the middle of a day.
"""

from __future__ import annotations

import shutil
from datetime import date
from pathlib import Path

import duckdb
import polars as pl
import pytest

from simulator.asterisk_queue_log import generate
from switchboard import cli

QUEUE_COLUMNS = ["offered", "answered", "abandoned", "short_abandons", "timeouts", "answered_within_sl"]
AGENT_COLUMNS = ["answered", "talk_seconds", "logged_in_seconds", "paused_seconds"]

QUEUES_SQL = f"select queue, day, {', '.join(QUEUE_COLUMNS)} from marts.agg_queue_daily"
AGENTS_SQL = f"select agent, day, {', '.join(AGENT_COLUMNS)} from marts.agg_agent_daily"
VISITS_SQL = "select outcome, count(*) as n from marts.fct_queue_visits group by 1"


def _compare(actual: pl.DataFrame, expected: pl.DataFrame, keys: list[str], columns: list[str]) -> None:
    expected = expected.select(keys + columns).with_columns(pl.col("day").cast(pl.Date))
    actual = actual.select(keys + columns).with_columns(pl.col("day").cast(pl.Date))
    joined = expected.join(actual, on=keys, how="full", suffix="_mart", coalesce=True)
    wrong = joined.filter(pl.any_horizontal([
        pl.col(c).cast(pl.Float64).fill_null(-1) != pl.col(f"{c}_mart").cast(pl.Float64).fill_null(-1)
        for c in columns]))
    assert wrong.is_empty(), f"marts differ from truth:\n{wrong}"


def assert_equal_to_truth(queues: pl.DataFrame, agents: pl.DataFrame, visits: pl.DataFrame, truth: Path) -> None:
    truth_queues = pl.read_parquet(truth / "queue_daily.parquet").rename({"local_day": "day"})
    truth_agents = pl.read_parquet(truth / "agent_daily.parquet").rename({"local_day": "day"})
    truth_visits = pl.read_parquet(truth / "visits.parquet").group_by("outcome").agg(pl.len().alias("n"))
    _compare(queues, truth_queues, ["queue", "day"], QUEUE_COLUMNS)
    _compare(agents, truth_agents, ["agent", "day"], AGENT_COLUMNS)
    assert dict(visits.iter_rows()) == dict(truth_visits.iter_rows())


@pytest.mark.slow
def test_asterisk_marts_equal_simulator_truth(make_settings, tmp_path, capsys):
    site, truth = tmp_path / "site", tmp_path / "truth"
    generate(site, agents=12, days=3, seed=5, start=date(2025, 3, 3), rotate=True, truth_dir=truth,
             timezone="America/Bogota")
    settings = make_settings(SWITCHBOARD_QUEUE_LOG_DIRS=f"sim={site}", SWITCHBOARD_ASTERISK_CDR_DIRS=f"sim={site}",
                             SWITCHBOARD_TIMEZONE="America/Bogota")
    assert cli.main(["materialize"]) == 0, capsys.readouterr().err[-3000:]

    with duckdb.connect(str(settings.serving_path), read_only=True) as con:
        queues, agents, visits = (con.sql(sql).pl() for sql in (QUEUES_SQL, AGENTS_SQL, VISITS_SQL))

    assert_equal_to_truth(queues, agents, visits, truth)


@pytest.mark.slow
@pytest.mark.postgres
def test_asterisk_marts_equal_truth_on_postgres_after_an_incremental_append(make_settings, tmp_path, postgres_url,
                                                                           capsys):
    """Two runs on Postgres: the first half of the log, then the rest of it with Master.csv.

    Every statement of the database is cut off after a minute. Without planner statistics on
    what dbt writes and with nested loops allowed, Postgres planned the append's queue visits
    as nested loops and ran for more than a quarter of an hour on this much data (about 25k
    lines); with both it takes about a second (dbt_project/macros/planner.sql).
    """
    import psycopg2

    generated, truth, site = tmp_path / "generated", tmp_path / "truth", tmp_path / "site"
    generate(generated, agents=40, days=3, seed=7, start=date(2025, 3, 4), truth_dir=truth,
             timezone="America/Bogota")
    lines = (generated / "queue_log").read_bytes().splitlines(keepends=True)
    site.mkdir()
    (site / "queue_log").write_bytes(b"".join(lines[: len(lines) // 2]))  # mid-day, calls under way
    settings = make_settings(SWITCHBOARD_QUEUE_LOG_DIRS=f"sim={site}", SWITCHBOARD_ASTERISK_CDR_DIRS=f"sim={site}",
                             SWITCHBOARD_TIMEZONE="America/Bogota", SWITCHBOARD_WAREHOUSE_URL=postgres_url)
    dsn = settings.warehouse.postgres_dsn()
    with psycopg2.connect(dsn) as con, con.cursor() as cur:
        cur.execute(f"alter database {settings.warehouse.database} set statement_timeout = '60s'")
    assert cli.main(["materialize"]) == 0, capsys.readouterr().err[-3000:]

    with (site / "queue_log").open("ab") as log:
        log.write(b"".join(lines[len(lines) // 2:]))
    shutil.copy(generated / "Master.csv", site / "Master.csv")
    with psycopg2.connect(dsn) as con, con.cursor() as cur:
        cur.execute("select now()")
        (second_run_started,) = cur.fetchone()
    assert cli.main(["materialize"]) == 0, capsys.readouterr().err[-3000:]

    with psycopg2.connect(dsn) as con, con.cursor() as cur:
        # every table the second run wrote or loaded was analyzed by it (autovacuum is off)
        cur.execute("""
            select schemaname || '.' || relname from pg_stat_user_tables
            where schemaname not like 'raw%%' or schemaname = 'raw_asterisk' and relname in ('queue_log', 'cdr')
            order by 1""")
        written = [name for (name,) in cur.fetchall()]
        cur.execute("""
            select schemaname || '.' || relname from pg_stat_user_tables
            where (schemaname not like 'raw%%' or schemaname = 'raw_asterisk' and relname in ('queue_log', 'cdr'))
                and (last_analyze is null or last_analyze < %s)
                -- dbt's records of the settings each model was built under and of the rows its
                -- tests passed on: read by their key only
                and schemaname || '.' || relname not in ('intermediate.dbt_model_build_vars',
                                                         'intermediate.dbt_tests_passed_through')
            order by 1""", (second_run_started,))
        stale = [name for (name,) in cur.fetchall()]
        frames = []
        for sql in (QUEUES_SQL, AGENTS_SQL, VISITS_SQL):
            cur.execute(sql)
            frames.append(pl.DataFrame(cur.fetchall(), schema=[d.name for d in cur.description], orient="row"))
    assert {"raw_asterisk.queue_log", "raw_asterisk.cdr", "marts.fct_queue_visits",
            "intermediate.int_asterisk__queue_visits"} <= set(written)
    assert stale == []
    assert_equal_to_truth(*frames, truth)
