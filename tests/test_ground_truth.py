"""The Asterisk marts equal the simulator's ground truth, exactly.

The simulator writes what an Issabel 4 box would write (rotated and compressed logs included)
plus, apart, what really happened; the pipeline reads only the logs.
"""

from __future__ import annotations

from datetime import date

import duckdb
import polars as pl
import pytest

from simulator.asterisk_queue_log import generate
from switchboard import cli

QUEUE_COLUMNS = ["offered", "answered", "abandoned", "short_abandons", "timeouts", "answered_within_sl"]
AGENT_COLUMNS = ["answered", "talk_seconds", "logged_in_seconds", "paused_seconds"]


@pytest.mark.slow
def test_asterisk_marts_equal_simulator_truth(make_settings, tmp_path, capsys):
    site, truth = tmp_path / "site", tmp_path / "truth"
    generate(site, agents=12, days=3, seed=5, start=date(2025, 3, 3), rotate=True, truth_dir=truth,
             timezone="America/Bogota")
    settings = make_settings(SWITCHBOARD_QUEUE_LOG_DIRS=f"sim={site}", SWITCHBOARD_ASTERISK_CDR_DIRS=f"sim={site}",
                             SWITCHBOARD_TIMEZONE="America/Bogota")
    assert cli.main(["materialize"]) == 0, capsys.readouterr().err[-3000:]

    with duckdb.connect(str(settings.serving_path), read_only=True) as con:
        queues = con.sql(f"select queue, day, {', '.join(QUEUE_COLUMNS)} from marts.agg_queue_daily").pl()
        agents = con.sql(f"select agent, day, {', '.join(AGENT_COLUMNS)} from marts.agg_agent_daily").pl()
        visits = con.sql("select outcome, count(*) as n from marts.fct_queue_visits group by 1").pl()

    truth_queues = pl.read_parquet(truth / "queue_daily.parquet").rename({"local_day": "day"})
    truth_agents = pl.read_parquet(truth / "agent_daily.parquet").rename({"local_day": "day"})
    truth_visits = pl.read_parquet(truth / "visits.parquet").group_by("outcome").agg(pl.len().alias("n"))

    def compare(actual: pl.DataFrame, expected: pl.DataFrame, keys: list[str], columns: list[str]) -> None:
        expected = expected.select(keys + columns).with_columns(pl.col("day").cast(pl.Date))
        actual = actual.select(keys + columns).with_columns(pl.col("day").cast(pl.Date))
        joined = expected.join(actual, on=keys, how="full", suffix="_mart", coalesce=True)
        wrong = joined.filter(pl.any_horizontal([
            pl.col(c).cast(pl.Float64).fill_null(-1) != pl.col(f"{c}_mart").cast(pl.Float64).fill_null(-1)
            for c in columns]))
        assert wrong.is_empty(), f"marts differ from truth:\n{wrong}"

    compare(queues, truth_queues, ["queue", "day"], QUEUE_COLUMNS)
    compare(agents, truth_agents, ["agent", "day"], AGENT_COLUMNS)
    assert dict(visits.iter_rows()) == dict(truth_visits.iter_rows())
