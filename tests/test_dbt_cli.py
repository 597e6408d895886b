import gc
import subprocess
import sys
from importlib.metadata import version
from pathlib import Path

import dbt.cli.main

from resources.dbt import dbt_executable
from switchboard import dbt_cli


def test_switchboard_dbt_runs_dbt_with_the_cyclic_collector_off(monkeypatch):
    seen = {}

    def fake_cli():  # stands in for dbt's click command, which would parse this process's argv
        seen["collector_enabled"] = gc.isenabled()
        return 0

    monkeypatch.setattr(dbt.cli.main, "cli", fake_cli)
    monkeypatch.setattr(sys, "argv", ["switchboard-dbt", "build"])
    try:
        assert dbt_cli.main() == 0
    finally:
        gc.enable()
    assert seen == {"collector_enabled": False}


def test_dagster_and_the_benchmark_run_the_installed_switchboard_dbt():
    executable = Path(dbt_executable())
    assert executable.name == "switchboard-dbt"
    result = subprocess.run([str(executable), "--help"], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "An ELT tool for managing your SQL transformations" in result.stdout


def test_version_names_the_installed_dbt_without_asking_pypi():
    """dagster-dbt reads the first version number of `--version`; dbt's own would also request
    pypi.org. A proxy that refuses every connection would make that lookup fail (dbt then prints
    'could not be determined'); this answer does not make one."""
    result = subprocess.run(
        [dbt_executable(), "--version"], capture_output=True, text=True, timeout=60,
        env={"PATH": "/usr/bin:/bin", "HTTPS_PROXY": "http://127.0.0.1:9", "HTTP_PROXY": "http://127.0.0.1:9"},
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines()[:2] == ["Core:", f"  - installed: {version('dbt-core')}"]
    assert f"  - duckdb: {version('dbt-duckdb')}" in result.stdout
    assert "latest" not in result.stdout and "could not be determined" not in result.stdout
