"""The production Dagster instance file (deploy/dagster.postgres.yaml) on a real Postgres: the
README says to copy it and set the DAGSTER_PG_* variables, and that must be all it takes."""

from __future__ import annotations

import shutil
from pathlib import Path
from urllib.parse import urlsplit

import pytest

DEPLOY_CONFIG = Path(__file__).resolve().parents[1] / "deploy" / "dagster.postgres.yaml"


@pytest.mark.postgres
def test_the_production_instance_runs_on_a_postgres_at_any_port(postgres_url, tmp_path, monkeypatch):
    import dagster as dg

    home = tmp_path / "dagster_home"
    home.mkdir()
    shutil.copy(DEPLOY_CONFIG, home / "dagster.yaml")
    url = urlsplit(postgres_url)
    assert url.port != 5432  # the test server's port: the file once had 5432 written in it
    for name, value in {"HOST": url.hostname, "PORT": str(url.port), "USER": url.username,
                        "PASSWORD": url.password, "DB": url.path.lstrip("/")}.items():
        monkeypatch.setenv(f"DAGSTER_PG_{name}", value)
    monkeypatch.setenv("DAGSTER_HOME", str(home))

    with dg.DagsterInstance.get() as instance:
        assert type(instance.run_storage).__name__ == "PostgresRunStorage"
        assert instance.get_runs() == []  # its tables were created in that database
        # one writing step at a time on the warehouse (DESIGN.md), as the local dagster.yaml has it
        assert instance.get_concurrency_config().pool_config.default_pool_limit == 1
