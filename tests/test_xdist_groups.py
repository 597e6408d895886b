"""`make test` runs the suite on two workers with `--dist loadgroup`: the modules marked
`xdist_group` share a module fixture that builds a dbt warehouse (~20 s), built again by every
worker that gets one of their tests. pytest 9.2 with pytest-xdist 3.8 spreads a group over the
workers without a word (pytest-xdist issue #1386; pyproject.toml keeps pytest below 9.2), so this
runs a grouped module the same way and checks that one worker ran all of it."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

GROUPED_MODULE = '''
import os
import pytest

pytestmark = pytest.mark.xdist_group("one")


@pytest.mark.parametrize("i", range(6))
def test_note_the_worker(i):
    with open(os.environ["WORKERS_FILE"], "a") as out:
        out.write(os.environ["PYTEST_XDIST_WORKER"] + "\\n")
'''


def test_a_group_runs_on_one_worker(tmp_path: Path):
    (tmp_path / "pytest.ini").write_text("[pytest]\n", encoding="utf-8")  # not the project's settings
    (tmp_path / "test_grouped.py").write_text(GROUPED_MODULE, encoding="utf-8")
    workers_file = tmp_path / "workers.txt"
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTEST_")}  # not this run's worker or options
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-n", "2", "--dist", "loadgroup", "-q", "-p", "no:cacheprovider",
         "test_grouped.py"],
        cwd=tmp_path, env={**env, "WORKERS_FILE": str(workers_file)}, capture_output=True, text=True,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    workers = workers_file.read_text(encoding="utf-8").split()
    assert len(workers) == 6
    assert len(set(workers)) == 1, f"the group ran on {sorted(set(workers))}"
