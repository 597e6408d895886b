import gc
import subprocess
import sys
from importlib.metadata import version
from pathlib import Path

import dbt.cli.main
import pytest

from resources.dbt import dbt_executable
from switchboard import dbt_cli


def test_switchboard_dbt_runs_dbt_with_the_cyclic_collector_off(monkeypatch):
    seen = {}

    def fake_cli():  # stands in for dbt's click command, which would parse this process's argv
        seen["collector_enabled"] = gc.isenabled()
        return 0

    monkeypatch.setattr(dbt.cli.main, "cli", fake_cli)
    monkeypatch.setattr(sys, "argv", ["switchboard-dbt", "build"])
    # (tested below in processes of its own: here it would tie the test worker to its parent)
    monkeypatch.setattr(dbt_cli, "end_with_parent", lambda: seen.setdefault("ends_with_parent", True))
    # (tested below in processes of their own: here it would freeze the test worker's objects for good)
    monkeypatch.setattr(dbt_cli, "skip_final_collections", lambda: seen.setdefault("final_collections_skipped", True))
    try:
        assert dbt_cli.main() == 0
    finally:
        gc.enable()
    assert seen == {"ends_with_parent": True, "collector_enabled": False, "final_collections_skipped": True}


@pytest.mark.parametrize("command", [
    "sys.argv = ['switchboard-dbt', '--help']; from switchboard.dbt_cli import main; main()",
    "sys.argv = ['switchboard', 'settings']; from switchboard.cli import run; run()",
])
def test_the_command_lines_end_without_the_interpreters_final_collections(command):
    """They walked every object of a dbt command (~1 s of each one's exit) or of a materialization
    (1.8 s) once more, to free what the end of the process frees anyway: what is alive when the
    command is done is frozen (seen from an exit handler, which runs before those collections)."""
    code = ("import atexit, gc, sys; atexit.register(lambda: print('frozen at exit:', gc.get_freeze_count() > 0)); "
            + command)
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert result.stdout.splitlines()[-1] == "frozen at exit: True", result.stdout[-2000:] + result.stderr[-2000:]


def test_the_installed_switchboard_command_is_the_one_that_skips_them():
    from importlib.metadata import entry_points

    (script,) = entry_points(group="console_scripts", name="switchboard")
    assert script.value == "switchboard.cli:run"


@pytest.mark.parametrize("parent_ignores_sigterm", [False, True])
def test_a_dbt_process_ends_when_the_process_that_started_it_is_killed(parent_ignores_sigterm):
    """A run worker killed with kill -9 left its dbt build writing the warehouse on its own, and
    holding DuckDB's write lock against the run's retry (independent check). Real processes: a
    parent starts a child that asks to end with it (as switchboard-dbt does), then is killed.

    Also from a parent that ignores SIGTERM, which its children inherit: Dagster maps SIGTERM to
    SIGINT's handler, SIG_IGN in a process started in the background by a shell. The
    fresh-clone test run, started so, failed here once a Dagster test had run in its worker."""
    import os
    import signal
    import time

    # the child says when it has made its request (on the stdout it shares with its parent): a
    # fixed second's wait was too short for its imports on a loaded CI machine, and the parent was
    # killed before the child had asked
    child_code = ("from switchboard.dbt_cli import end_with_parent; end_with_parent(); "
                  "print('asked', flush=True); import time; time.sleep(120)")
    ignore = "import signal; signal.signal(signal.SIGTERM, signal.SIG_IGN); " if parent_ignores_sigterm else ""
    parent_code = (f"{ignore}import subprocess, sys, time; p = subprocess.Popen([sys.executable, '-c', {child_code!r}]); "
                   "print(p.pid, flush=True); time.sleep(120)")
    parent = subprocess.Popen([sys.executable, "-c", parent_code], stdout=subprocess.PIPE, text=True)
    child = int(parent.stdout.readline())
    assert parent.stdout.readline() == "asked\n"
    assert _alive(child)  # while its parent is
    parent.kill()
    parent.wait()
    deadline = time.monotonic() + 10
    while _alive(child) and time.monotonic() < deadline:
        time.sleep(0.1)
    if _alive(child):
        os.kill(child, signal.SIGKILL)
        raise AssertionError("the child outlived its parent")


def _alive(pid: int) -> bool:
    """Running: a process that has ended but was not reaped yet (a zombie, where no init reaps
    orphans promptly) counts as ended."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


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


def test_a_runs_dbt_environment_is_given_back(monkeypatch):
    """The dbt step sets the warehouse's variables for the dbt process it starts, then restores
    them: a Postgres run's password or PGSSLMODE must not reach the next run in the process."""
    import os

    from resources.dbt import environment_set

    monkeypatch.setenv("SWITCHBOARD_DBT_TARGET", "duckdb")
    monkeypatch.delenv("PGSSLMODE", raising=False)
    with environment_set({"SWITCHBOARD_DBT_TARGET": "postgres", "PGSSLMODE": "verify-full"}):
        child = subprocess.run([sys.executable, "-c", "import os; print(os.environ['SWITCHBOARD_DBT_TARGET'], "
                                "os.environ['PGSSLMODE'])"], capture_output=True, text=True, check=True)
    assert child.stdout.split() == ["postgres", "verify-full"]
    assert os.environ["SWITCHBOARD_DBT_TARGET"] == "duckdb" and "PGSSLMODE" not in os.environ
