"""The dlt destination every loader shares (pipelines/destination.py), on a real DuckDB file, and
the Postgres URL's options reaching every client (real Postgres, dlt and dbt)."""

import os
import socket
import subprocess
import sys
from urllib.parse import quote

import dlt
import duckdb
import psycopg2
import pytest
from dlt.destinations.impl.duckdb.sql_client import DuckDbSqlClient
from dlt.pipeline.exceptions import PipelineStepFailed

from pipelines.destination import dlt_destination
from resources.dbt import dbt_executable
from resources.warehouse import WarehouseResource
from switchboard.paths import DBT_PROJECT_DIR, PROJECT_ROOT
from switchboard.warehouse_url import WarehouseURL, parse_warehouse_url

MERGE = {"disposition": "merge", "strategy": "delete-insert"}


def test_a_merge_killed_between_its_delete_and_its_insert_loses_no_row(tmp_path, monkeypatch):
    """dlt merges by deleting the keys it replaces, then inserting the new versions (Webex CDRs
    re-issued with a later Report time). Killed between the two, the rows must still be there.
    The kill is simulated (a real SIGKILL lands there only now and then): the job's statements
    run up to the first DELETE, then the job fails."""
    location = WarehouseURL("duckdb", duckdb_path=tmp_path / "warehouse.duckdb")
    pipeline = dlt.pipeline("merge_kill", destination=dlt_destination(location), dataset_name="raw_test",
                            pipelines_dir=str(tmp_path / "dlt"))
    pipeline.run([{"id": i, "version": 1} for i in range(5)], table_name="t", write_disposition=MERGE,
                 primary_key="id")

    run_statements = DuckDbSqlClient.execute_many
    killed = []

    def killed_after_the_delete(self, statements, *args, **kwargs):
        statements = list(statements)
        deletes = [i for i, s in enumerate(statements) if s.lstrip().upper().startswith("DELETE")]
        if not deletes or deletes[0] == len(statements) - 1:
            return run_statements(self, statements, *args, **kwargs)
        run_statements(self, statements[: deletes[0] + 1], *args, **kwargs)
        killed.append(statements[deletes[0] + 1:])
        raise RuntimeError("killed between the merge's DELETE and its INSERT")

    monkeypatch.setattr(DuckDbSqlClient, "execute_many", killed_after_the_delete)
    with pytest.raises(Exception):  # noqa: B017 - dlt wraps the job's failure in its own exceptions
        pipeline.run([{"id": i, "version": 2} for i in range(3)], table_name="t", write_disposition=MERGE,
                     primary_key="id")
    monkeypatch.undo()
    assert killed, "the merge job never reached its DELETE: the test did not test anything"

    with duckdb.connect(str(location.duckdb_path), read_only=True) as con:
        assert con.execute("select id, version from raw_test.t order by id").fetchall() == [(i, 1) for i in range(5)]


def test_a_loader_pipeline_does_not_import_streamlit(tmp_path):
    """dlt's first configuration lookup imports Streamlit to look for secrets (0.3 s and more of
    a loader's start-up); a loader's pipeline is made without it, and Streamlit stays importable."""
    code = (
        "import sys\n"
        "from switchboard.settings import Settings\n"
        "from pipelines.destination import loader_pipeline\n"
        f"settings = Settings(SWITCHBOARD_WAREHOUSE_URL='duckdb:///{tmp_path}/w.duckdb', "
        f"SWITCHBOARD_STATE_DIR='{tmp_path}/state')\n"
        "pipeline = loader_pipeline(settings, 'probe', 'raw_probe')\n"
        "assert pipeline.pipeline_name == 'probe' and pipeline.dataset_name == 'raw_probe'\n"
        "assert sys.modules.get('streamlit') is None, 'streamlit was imported'\n"
        "import streamlit\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120,
                          cwd=PROJECT_ROOT)
    assert done.returncode == 0, done.stderr[-2000:]


def _connect_every_client(url: str, tmp_path, name: str) -> dict[str, str]:
    """Connect with SWITCHBOARD_WAREHOUSE_URL=url as each Postgres client of the project does: the
    readers (psycopg2), dlt, dbt; "connected", "refused (SSL)" or the error."""
    location = parse_warehouse_url(url, tmp_path)
    outcomes = {}
    try:
        WarehouseResource(url=url).query("select 1")
        outcomes["psycopg2"] = "connected"
    except psycopg2.OperationalError as exc:
        outcomes["psycopg2"] = "refused (SSL)" if "SSL" in str(exc) else str(exc)
    pipeline = dlt.pipeline(name, destination=dlt_destination(location), dataset_name="raw_test",
                            pipelines_dir=str(tmp_path / "dlt"))
    try:
        pipeline.run([{"id": 1}], table_name="t")
        outcomes["dlt"] = "connected"
    except PipelineStepFailed as exc:
        outcomes["dlt"] = "refused (SSL)" if "SSL" in str(exc) else str(exc)
    dbt_env = {"SWITCHBOARD_DBT_TARGET": "postgres", "SWITCHBOARD_DBT_PG_HOST": location.host,
               "SWITCHBOARD_DBT_PG_PORT": str(location.port), "SWITCHBOARD_DBT_PG_USER": location.user,
               "SWITCHBOARD_DBT_PG_DBNAME": location.database, **location.libpq_environment()}
    debug = subprocess.run(
        [dbt_executable(), "debug", "--project-dir", str(DBT_PROJECT_DIR), "--profiles-dir", str(DBT_PROJECT_DIR),
         "--log-path", str(tmp_path / "logs")],
        env={**os.environ, **dbt_env}, capture_output=True, text=True, cwd=tmp_path)
    if debug.returncode:
        outcomes["dbt"] = "refused (SSL)" if "SSL" in debug.stdout else debug.stdout[-2000:]
    else:
        outcomes["dbt"] = "connected"
    return outcomes


@pytest.mark.postgres
@pytest.mark.parametrize("sslmode", ["disable", "require"])
def test_the_urls_sslmode_reaches_every_postgres_client(postgres_url, tmp_path, sslmode):
    """The tests' server has no SSL: with ?sslmode=require in SWITCHBOARD_WAREHOUSE_URL the readers
    (psycopg2), dlt and dbt each refuse it, with disable each connects (the option was dropped, so
    a bank's sslmode=require connected in plain text: independent audit)."""
    outcomes = _connect_every_client(f"{postgres_url}?sslmode={sslmode}", tmp_path, f"ssl_{sslmode}")
    expected = "refused (SSL)" if sslmode == "require" else "connected"
    assert outcomes == {"psycopg2": expected, "dlt": expected, "dbt": expected}


def _has_ipv6_loopback() -> bool:
    try:
        with socket.socket(socket.AF_INET6) as probe:
            probe.bind(("::1", 0))
        return True
    except OSError:
        return False


@pytest.mark.postgres
@pytest.mark.parametrize("host", ["ipv6", "socket"])
def test_ipv6_and_unix_socket_urls_reach_every_postgres_client(postgres_server, postgres_url, tmp_path, host):
    """The same server through [::1] and through its Unix socket's folder (percent-encoded in the
    URL): each client connects (both were rendered into URLs no client could read)."""
    if host == "ipv6" and not _has_ipv6_loopback():
        pytest.skip("this machine has no IPv6 loopback")
    url_host = "[::1]" if host == "ipv6" else quote(postgres_server["socket_dir"], safe="")
    url = postgres_url.replace(f"@{postgres_server['host']}:", f"@{url_host}:")
    assert _connect_every_client(url, tmp_path, f"host_{host}") == {
        "psycopg2": "connected", "dlt": "connected", "dbt": "connected"}


@pytest.mark.parametrize("engine", ["duckdb", pytest.param("postgres", marks=pytest.mark.postgres)])
def test_a_read_query_takes_parameters_and_a_literal_percent_on_either_engine(engine, request, tmp_path):
    """`?` marks a parameter on both engines; a `%` of the SQL (a LIKE pattern) stays a `%` on
    Postgres, where psycopg2 would read it as the start of a placeholder."""
    if engine == "postgres":
        url = request.getfixturevalue("postgres_url")
    else:
        duckdb.connect(str(tmp_path / "w.duckdb")).close()  # (readers open a warehouse read-only)
        url = f"duckdb:///{tmp_path}/w.duckdb"
    got = WarehouseResource(url=url).query("select ? as n, 'a%b' like 'a%' as matched", [3])
    assert got.rows(named=True) == [{"n": 3, "matched": True}]
