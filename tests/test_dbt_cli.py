import gc
import subprocess
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
    try:
        assert dbt_cli.main() == 0
    finally:
        gc.enable()
    assert seen == {"collector_enabled": False}


def test_dagster_and_the_benchmark_run_the_installed_switchboard_dbt():
    executable = Path(dbt_executable())
    assert executable.name == "switchboard-dbt"
    # (--help: `--version` would ask PyPI for the latest release)
    result = subprocess.run([str(executable), "--help"], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "An ELT tool for managing your SQL transformations" in result.stdout
