"""Shared fixtures: isolated settings per test, the dbt manifest, and a real PostgreSQL server.

PostgreSQL is Debian's server package (scripts/ensure-postgres.sh installs it when missing),
started here on a free loopback port in a throw-away data directory and stopped at the end.
"""

from __future__ import annotations

import contextlib
import fcntl
import glob
import os
import shutil
import socket
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from switchboard.paths import DBT_PROJECT_DIR
from tests.postgres_databases import create_database


def _isolate_from_the_shell(working_dir: Path) -> None:
    """Tests configure Switchboard themselves. A shell set up for production (a real Webex client
    and token file, another warehouse, other thresholds) or a `.env` in the checkout must reach
    none of them: the first would send tests to webexapis.com and rotate the real refresh token."""
    from switchboard.settings import Settings

    variables = {info.alias for info in Settings.model_fields.values() if info.alias}
    for name in list(os.environ):
        if name in variables or name.startswith(("SWITCHBOARD_", "WEBEX_")):
            del os.environ[name]
    # Settings read `.env` from the working directory; tests that need one write their own
    os.chdir(working_dir)


@pytest.fixture(scope="session", autouse=True)
def isolated_from_the_shell(tmp_path_factory) -> None:
    # (a fixture, not at import: pytest-xdist's workers find the tests from the working directory)
    _isolate_from_the_shell(tmp_path_factory.mktemp("cwd"))


os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")
os.environ.setdefault("DAGSTER_DISABLE_TELEMETRY", "true")
os.environ.pop("DAGSTER_HOME", None)
# dagster-dbt looks for the dbt executable on PATH.
os.environ["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"


@pytest.fixture(scope="session", autouse=True)
def dbt_manifest() -> Path:
    """Parse the dbt project once (xdist workers share it through a file lock)."""
    from resources.dbt import dbt_project, ensure_manifest

    lock_path = DBT_PROJECT_DIR / "target" / ".manifest.lock"
    lock_path.parent.mkdir(parents=True, exist_ok=True)
    with open(lock_path, "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        ensure_manifest()
    return dbt_project().manifest_path


@pytest.fixture
def make_settings(tmp_path, monkeypatch):
    """Settings pointing every path into tmp_path; keyword arguments override environment values."""
    from switchboard.settings import load_settings

    monkeypatch.chdir(tmp_path)  # a .env a test writes is its own

    def _make(**env: str):
        values = {
            "SWITCHBOARD_WAREHOUSE_URL": f"duckdb:///{tmp_path}/warehouse.duckdb",
            "SWITCHBOARD_SERVING_PATH": str(tmp_path / "serving.duckdb"),
            "SWITCHBOARD_STATE_DIR": str(tmp_path / "state"),
            "SWITCHBOARD_LANDING_DIR": str(tmp_path / "landing"),
            "SWITCHBOARD_TIMEZONE": "UTC",
            "SWITCHBOARD_QUEUE_LOG_DIRS": "",
            "SWITCHBOARD_ASTERISK_CDR_DIRS": "",
        }
        values.update(env)
        for key, value in values.items():
            monkeypatch.setenv(key, value)
        return load_settings()

    return _make


def _pg_binary(name: str) -> str | None:
    found = shutil.which(name)
    if found:
        return found
    candidates = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"), reverse=True)
    return candidates[0] if candidates else None


def _free_port() -> int:
    with contextlib.closing(socket.socket()) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="session")
def postgres_server():
    """A real PostgreSQL on 127.0.0.1 for this test session; yields connection facts."""
    initdb, pg_ctl = _pg_binary("initdb"), _pg_binary("pg_ctl")
    if not initdb or not pg_ctl:
        pytest.fail("PostgreSQL server binaries not found; run scripts/ensure-postgres.sh (make test does)")
    base = Path(tempfile.mkdtemp(prefix="switchboard-pg-"))
    as_postgres: list[str] = []
    if os.geteuid() == 0:  # initdb refuses to run as root: run the server as Debian's postgres user
        runuser = shutil.which("runuser", path=f"{os.environ.get('PATH', '')}:/usr/sbin:/sbin")
        if not runuser:
            pytest.fail("running as root and runuser(8) is missing: cannot start PostgreSQL as user postgres")
        shutil.chown(base, user="postgres")
        as_postgres = [runuser, "-u", "postgres", "--"]
    data = base / "data"
    port = _free_port()
    subprocess.run([*as_postgres, initdb, "-D", str(data), "-A", "trust", "-U", "postgres", "-N", "-E", "UTF8"],
                   check=True, capture_output=True)
    # autovacuum off: the planner statistics a test sees are the ones the project itself takes
    # (dbt_project/macros/planner.sql), as in production before autovacuum gets round to a table
    # also on ::1 where the machine has IPv6 (Postgres starts on the addresses it can bind)
    options = (f"-p {port} -c listen_addresses=127.0.0.1,::1 -k {base} -c fsync=off -c full_page_writes=off"
               " -c autovacuum=off")
    subprocess.run([*as_postgres, pg_ctl, "-D", str(data), "-o", options, "-l", str(base / "log"), "-w", "start"],
                   check=True, capture_output=True)
    try:
        yield {"host": "127.0.0.1", "port": port, "user": "postgres", "socket_dir": str(base)}
    finally:
        subprocess.run([*as_postgres, pg_ctl, "-D", str(data), "-m", "immediate", "stop"], capture_output=True)
        shutil.rmtree(base, ignore_errors=True)


def _require_postgres_mark(node) -> None:
    """`make test-fast` leaves out tests marked postgres and starts no server: a test that reaches
    one unmarked (a parameter, a fixture asked for by name) fails there on a machine without it."""
    if node.get_closest_marker("postgres") is None:
        pytest.fail(f"{node.nodeid} uses the test PostgreSQL server: mark it `postgres` "
                    "(`pytest.param(\"postgres\", marks=pytest.mark.postgres)` for one parameter)")


def pytest_runtest_setup(item) -> None:
    if {"postgres_server", "postgres_url"} & set(getattr(item, "fixturenames", ())):
        _require_postgres_mark(item)


@pytest.fixture
def postgres_url(postgres_server, request) -> str:
    """A fresh, empty database for one test."""
    _require_postgres_mark(request.node)
    name = "t_" + "".join(c if c.isalnum() else "_" for c in request.node.name.lower())[:50]
    create_database(postgres_server, name)
    return f"postgresql://{postgres_server['user']}:trust-ignores-this@{postgres_server['host']}:{postgres_server['port']}/{name}"
