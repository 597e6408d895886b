"""Webex journeys and queue KPIs equal the simulator's ground truth.

`simulate()` writes what Webex would send (CDR records with their quirks, People, Locations)
and, apart, what really happened (truth/). The records go through the loader's own
normalisation into raw_webex (tests/webex_sim_loading.py) and the real `dbt build` turns them
into journeys, visits and marts, which must equal the truth:

* every CDR record lands in the journey the simulator put it in (the same partition);
* every queue visit has the truth's outcome, wait, talk, ring-no-answers and agent;
* agg_queue_daily equals kpi_queue_daily; agg_agent_daily's Webex rows equal kpi_agent_daily;
* journeys have the truth's direction, route, final agent and outcome, with three documented
  differences: the truth marks a consult-transfer target "(transfer)" in its route; a caller
  who hangs up on the AI agent is `abandoned` in the truth but `self_service` here - the CDR
  does not say whether the AI had resolved the call; the truth names no final agent for
  supervisors' and back-office calls - a CDR does not say who is a call-handling agent.
"""

from __future__ import annotations

import json
import os
import subprocess
from datetime import date
from pathlib import Path

import duckdb
import polars as pl
import pytest

from resources.dbt import dbt_executable
from simulator.contact_center import simulate
from switchboard.paths import DBT_PROJECT_DIR
from tests.test_dbt_project import RAW_DDL
from tests.webex_sim_loading import load_simulated_webex

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("webex_dbt_truth")]

TZ = "America/Bogota"
OUTCOMES = {  # truth journey outcome -> fct_calls outcome
    "answered": "answered", "abandoned": "abandoned", "timeout": "timeout", "ai_resolved": "self_service",
    "aa_hangup": "self_service", "closed": "self_service", "no_answer": "unanswered", "busy": "unanswered",
    "failed": "failed",
}


@pytest.fixture(scope="module")
def site(tmp_path_factory) -> tuple[Path, Path]:
    tmp = tmp_path_factory.mktemp("webex_truth")
    sim = tmp / "sim"
    simulate(sim, agents=10, days=2, seed=11, start=date(2026, 3, 2), timezone=TZ, asterisk=False,
             channels=False, control_hub_days=0)
    path = tmp / "warehouse.duckdb"
    with duckdb.connect(str(path)) as con:
        con.execute(RAW_DDL)
        assert load_simulated_webex(con, sim) > 1000
    dbt = dbt_executable()
    result = subprocess.run(
        [dbt, "build", "--exclude", "test_type:unit", "--project-dir", str(DBT_PROJECT_DIR),
         "--profiles-dir", str(DBT_PROJECT_DIR), "--target-path", str(tmp / "target"), "--log-path", str(tmp / "logs"),
         "--vars", json.dumps({"reporting_timezone": TZ, "sl_seconds": 20, "short_abandon_seconds": 5})],
        env={**os.environ, "SWITCHBOARD_DBT_TARGET": "duckdb", "SWITCHBOARD_DBT_DUCKDB_PATH": str(path)},
        capture_output=True, text=True, cwd=tmp,
    )
    assert result.returncode == 0, result.stdout[-6000:] + result.stderr[-2000:]
    return sim / "truth", path


def _sql(path: Path, sql: str) -> pl.DataFrame:
    with duckdb.connect(str(path), read_only=True) as con:
        return con.sql(sql).pl()


def _journey_map(truth: Path, path: Path) -> pl.DataFrame:
    """Our journey id and the truth's, per record."""
    legs = _sql(path, "select report_id, journey_id from intermediate.int_webex__legs")
    records = (pl.read_parquet(truth / "journeys.parquet").select("journey_id", "report_ids")
               .explode("report_ids").rename({"report_ids": "report_id", "journey_id": "truth_journey"}))
    return legs.join(records, on="report_id", how="full", coalesce=True)


def test_records_form_the_truths_journeys(site):
    truth, path = site
    joined = _journey_map(truth, path)
    assert joined.filter(pl.col("journey_id").is_null() | pl.col("truth_journey").is_null()).is_empty()
    pairs = joined.select("journey_id", "truth_journey").unique()
    # one of ours per truth journey and one truth journey per ours: the same partition
    assert pairs.height == pairs["journey_id"].n_unique() == pairs["truth_journey"].n_unique()
    assert pairs.height == pl.read_parquet(truth / "journeys.parquet").height


def test_queue_visits_equal_truth(site):
    truth, path = site
    ours = _sql(path, "select queue_report_id, outcome, wait_seconds, talk_seconds, ring_no_answer_count, "
                      "agent_user_uuid, transferred from intermediate.int_webex__queue_visits")
    agents = pl.read_parquet(truth / "agents.parquet").select("agent_id", "user_uuid")
    expected = (pl.read_parquet(truth / "visits.parquet")
                .join(agents, on="agent_id", how="left")
                .select("queue_report_id", "outcome", "wait_seconds", "talk_seconds", "ring_no_answer", "user_uuid",
                        "transferred"))
    joined = expected.join(ours, on="queue_report_id", how="full", coalesce=True)
    assert joined.height == expected.height == ours.height
    assert joined.filter(pl.col("outcome") != pl.col("outcome_right")).is_empty()
    assert joined.filter((pl.col("wait_seconds") - pl.col("wait_seconds_right")).abs() > 0.002).is_empty()
    assert joined.filter((pl.col("talk_seconds").fill_null(-1) - pl.col("talk_seconds_right").fill_null(-1)).abs()
                         > 0.002).is_empty()
    assert joined.filter(pl.col("ring_no_answer") != pl.col("ring_no_answer_count")).is_empty()
    assert joined.filter(pl.col("user_uuid").fill_null("") != pl.col("agent_user_uuid").fill_null("")).is_empty()
    assert joined.filter(pl.col("transferred") != pl.col("transferred_right")).is_empty()


def test_queue_daily_kpis_equal_truth(site):
    truth, path = site
    counts = ["offered", "answered", "abandoned", "short_abandons", "timeouts", "answered_within_sl"]
    ratios = ["service_level", "abandon_rate", "asa_seconds", "avg_talk_seconds"]
    names = pl.read_parquet(truth / "visits.parquet").select("queue", "queue_name").unique()
    expected = (pl.read_parquet(truth / "kpi_queue_daily.parquet").join(names, on="queue")
                .select(pl.col("queue_name").alias("queue"), pl.col("local_day").cast(pl.Date).alias("day"),
                        *counts, *ratios))
    ours = _sql(path, f"select queue, day, {', '.join(counts + ratios)} from marts.agg_queue_daily "
                      "where platform = 'webex'")
    joined = expected.join(ours, on=["queue", "day"], how="full", coalesce=True)
    assert joined.height == expected.height == ours.height > 6
    for c in counts:
        assert joined.filter(pl.col(c) != pl.col(f"{c}_right")).is_empty(), c
    for c in ratios:
        assert joined.filter((pl.col(c).fill_null(-1) - pl.col(f"{c}_right").fill_null(-1)).abs() > 1e-6).is_empty(), c


def test_agent_daily_equals_truth(site):
    truth, path = site
    agents = pl.read_parquet(truth / "agents.parquet").select("agent_id", "user_uuid")
    expected = (pl.read_parquet(truth / "kpi_agent_daily.parquet").join(agents, on="agent_id")
                .filter((pl.col("answered") > 0) | (pl.col("ring_no_answer") > 0))
                .select(pl.col("user_uuid").str.to_lowercase(), pl.col("local_day").cast(pl.Date).alias("day"),
                        "answered", "ring_no_answer", "talk_seconds"))
    ours = _sql(path, "select lower(i.platform_agent_key) as user_uuid, a.day, a.answered, a.ring_no_answer, "
                      "a.talk_seconds from marts.agg_agent_daily a join intermediate.int_agents i "
                      "on i.platform = 'webex' and i.agent_key = a.agent_key where a.platform = 'webex'")
    joined = expected.join(ours, on=["user_uuid", "day"], how="full", coalesce=True)
    assert joined.height == expected.height == ours.height > 5
    assert joined.filter((pl.col("answered") != pl.col("answered_right"))
                         | (pl.col("ring_no_answer") != pl.col("ring_no_answer_right"))).is_empty()
    # talk per agent and day is summed from millisecond talks and stored in whole seconds
    assert joined.filter((pl.col("talk_seconds") - pl.col("talk_seconds_right")).abs() > 1).is_empty()


def test_journeys_equal_truth(site):
    truth, path = site
    mapping = _journey_map(truth, path).select("journey_id", "truth_journey").unique()
    ours = _sql(path, "select j.journey_id, j.direction, j.outcome, j.route, j.final_agent, "
                      "l.call_outcome in ('Failure', 'Refusal') as cdr_says_failed "
                      "from intermediate.int_webex__journeys j join intermediate.int_webex__legs l "
                      "on l.journey_id = j.journey_id and l.leg_seq = 1")
    expected = pl.read_parquet(truth / "journeys.parquet").select(
        pl.col("journey_id").alias("truth_journey"), pl.col("direction").alias("direction_t"),
        pl.col("outcome").alias("outcome_t"), pl.col("route").alias("route_t"),
        pl.col("final_agent_name").alias("final_agent_t"))
    joined = ours.join(mapping, on="journey_id").join(expected, on="truth_journey")
    assert joined.height == expected.height
    assert joined.filter(pl.col("direction") != pl.col("direction_t")).is_empty()
    routes = joined.with_columns(pl.col("route_t").str.replace_all(" (transfer)", "", literal=True))
    assert routes.filter(pl.col("route") != pl.col("route_t")).is_empty()
    # the truth names a final agent only for call-handling agents; a CDR cannot tell a supervisor
    # or back-office person from an agent, so internal and outbound calls are compared apart
    inbound = joined.filter(pl.col("direction") == "inbound")
    assert inbound.filter(pl.col("final_agent").fill_null("") != pl.col("final_agent_t").fill_null("")).is_empty()
    others = joined.filter((pl.col("direction") != "inbound") & pl.col("final_agent_t").is_not_null())
    assert others.filter(pl.col("final_agent") != pl.col("final_agent_t")).is_empty()
    outcomes = joined.with_columns(
        pl.when((pl.col("outcome_t") == "abandoned") & pl.col("route").str.ends_with("Asistente Virtual IA"))
        .then(pl.lit("self_service"))
        # a few outbound calls are no_answer in the truth while their record says Failure /
        # Refusal (NoRouteToDestination, Unreachable): the CDR is what the pipeline can see
        .when(pl.col("cdr_says_failed") & pl.col("outcome_t").is_in(["no_answer", "busy"]))
        .then(pl.lit("failed"))
        .otherwise(pl.col("outcome_t").replace_strict(OUTCOMES)).alias("expected"))
    wrong = outcomes.filter(pl.col("outcome") != pl.col("expected"))
    assert wrong.is_empty(), wrong.select("route", "outcome", "outcome_t").head(20)
