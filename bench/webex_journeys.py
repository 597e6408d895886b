"""Webex journeys benchmark: ~1M CDR records → journeys, visits and marts with the real dbt project.

    python -m bench.webex_journeys [--records 1000000] [--agents 60] [--days 5] [--workdir DIR]

1. `simulate()` writes a Webex site (agents × days); its CDRs are normalised by the loader's own
   functions into raw_webex (tests/webex_sim_loading.py);
2. the site is repeated with every id suffixed (#k) and every time shifted by k weeks until
   raw_webex.cdr holds --records records - the same journeys' shapes, all distinct calls;
3. `dbt seed` + `dbt run` of everything upstream of int_webex__journeys (staging, legs with the
   label propagation, offers, visits, hops, journeys), then of the rest up to the marts.

Prints and writes bench/results/webex_journeys.json: records, journeys, wall seconds and peak RSS
of each dbt process, and dbt's own execution seconds per model (start-up excluded). Target
(issue #4): journeys for 1M records ≤ 30 s.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import time
from datetime import date
from pathlib import Path

import duckdb

from resources.dbt import dbt_environment, dbt_executable
from switchboard.paths import DBT_PROJECT_DIR, DEFAULT_DATA_DIR, PROJECT_ROOT
from switchboard.settings import Settings

RESULTS = PROJECT_ROOT / "bench" / "results"
ID_COLUMNS = ("report_id", "correlation_id", "interaction_id", "call_id", "local_call_id", "remote_call_id",
              "network_call_id", "related_call_id", "transfer_related_call_id")
TIME_COLUMNS = ("start_time", "answer_time", "release_time", "report_time", "call_transfer_time")


def _dbt(args: list[str], path: Path, workdir: Path) -> dict:
    dbt = dbt_executable()
    settings = Settings(SWITCHBOARD_WAREHOUSE_URL=f"duckdb:///{path}")  # the code's defaults otherwise
    env = {**os.environ, **dbt_environment(settings)}
    argv = [dbt, *args, "--vars", json.dumps(settings.dbt_vars(), sort_keys=True),
            "--project-dir", str(DBT_PROJECT_DIR), "--profiles-dir", str(DBT_PROJECT_DIR),
            "--target-path", str(workdir / "target"), "--log-path", str(workdir / "logs")]
    started = time.perf_counter()
    proc = subprocess.Popen(argv, env=env, cwd=workdir, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    output = proc.stdout.read() if proc.stdout else ""
    _, status, usage = os.wait4(proc.pid, 0)
    if os.waitstatus_to_exitcode(status) != 0:
        print(output[-4000:], file=sys.stderr)
        raise SystemExit(f"dbt {' '.join(args)} failed")
    results = json.loads((workdir / "target" / "run_results.json").read_text())
    models = {r["unique_id"].split(".")[-1]: round(r["execution_time"], 2) for r in results["results"]}
    return {"wall_seconds": round(time.perf_counter() - started, 2), "peak_rss_mb": round(usage.ru_maxrss / 1024, 1),
            "model_seconds": models}


def _replicate(con: duckdb.DuckDBPyConnection, target: int) -> int:
    base = con.execute("select count(*) from raw_webex.cdr").fetchone()[0]
    copies = -(-target // base)
    columns = [r[0] for r in con.execute(
        "select column_name from information_schema.columns where table_schema = 'raw_webex' "
        "and table_name = 'cdr' order by ordinal_position").fetchall()]
    select = []
    for c in columns:
        if c in ID_COLUMNS:
            select.append(f"case when k = 0 then {c} else {c} || '#' || k end as {c}")
        elif c in TIME_COLUMNS:
            select.append(f"{c} + to_weeks(cast(k as integer)) as {c}")
        else:
            select.append(c)
    con.execute(f"create table raw_webex.cdr_all as select {', '.join(select)} "
                f"from raw_webex.cdr cross join range({copies}) as copies(k) limit {target}")
    con.execute("drop table raw_webex.cdr")
    con.execute("alter table raw_webex.cdr_all rename to cdr")
    return con.execute("select count(*) from raw_webex.cdr").fetchone()[0]


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--records", type=int, default=1_000_000)
    parser.add_argument("--agents", type=int, default=60)
    parser.add_argument("--days", type=int, default=5)
    parser.add_argument("--workdir", type=Path, default=DEFAULT_DATA_DIR / "bench" / "webex_journeys")
    args = parser.parse_args()

    from simulator.contact_center import simulate
    from tests.test_dbt_project import RAW_DDL
    from tests.webex_sim_loading import load_simulated_webex

    workdir = args.workdir
    sim = workdir / "sim"
    if not (sim / "truth").exists():
        simulate(sim, agents=args.agents, days=args.days, seed=7, start=date(2026, 3, 2), asterisk=False,
                 channels=False, control_hub_days=0)
    path = workdir / "warehouse.duckdb"
    for stale in (path, workdir / "warehouse.duckdb.wal", workdir / "target"):
        if stale.is_dir():
            shutil.rmtree(stale)
        elif stale.exists():
            stale.unlink()
    with duckdb.connect(str(path)) as con:
        con.execute(RAW_DDL)
        load_simulated_webex(con, sim)
        records = _replicate(con, args.records)
    report: dict = {"records": records}
    _dbt(["seed"], path, workdir)
    report["journeys"] = _dbt(["run", "--select", "+int_webex__journeys"], path, workdir)
    report["marts"] = _dbt(["run", "--select", "+fct_calls", "+fct_journey_hops", "+agg_agent_daily", "+agg_queue_daily",
                            "+agg_queue_interval", "--exclude", "+int_webex__journeys"], path, workdir)
    with duckdb.connect(str(path), read_only=True) as con:
        report["journeys_built"] = con.execute("select count(*) from intermediate.int_webex__journeys").fetchone()[0]
        report["calls_in_fct_calls"] = con.execute("select count(*) from marts.fct_calls").fetchone()[0]
    journey_models = ("stg_webex__cdr", "int_webex__legs", "int_webex__queue_offers", "int_webex__queue_visits",
                      "int_webex__journey_hops", "int_webex__journeys")
    report["journey_model_seconds"] = round(sum(report["journeys"]["model_seconds"].get(m, 0) for m in journey_models), 2)
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "webex_journeys.json").write_text(json.dumps(report, indent=2) + "\n")
    print(json.dumps(report, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
