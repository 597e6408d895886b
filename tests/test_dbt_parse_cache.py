"""dbt's parse cache (partial_parse.msgpack) carries over from one Dagster run to the next."""

from __future__ import annotations

import shutil
from pathlib import Path
from types import SimpleNamespace

import pytest

from resources.dbt import PARTIAL_PARSE_FILE, dbt_build_args, dbt_environment, keep_partial_parse
from switchboard.paths import DBT_PROJECT_DIR

FULL_PARSE = "Unable to do partial parsing"


def _project(root: Path) -> SimpleNamespace:
    return SimpleNamespace(project_dir=root, target_path=Path("target"))


def test_a_runs_cache_replaces_the_projects_whole(tmp_path):
    run_dir = tmp_path / "target" / "run-1"
    run_dir.mkdir(parents=True)
    (run_dir / PARTIAL_PARSE_FILE).write_bytes(b"from the run")
    (tmp_path / "target" / PARTIAL_PARSE_FILE).write_bytes(b"from preparing the manifest")

    assert keep_partial_parse(run_dir, _project(tmp_path)) is True

    assert (tmp_path / "target" / PARTIAL_PARSE_FILE).read_bytes() == b"from the run"
    assert sorted(p.name for p in (tmp_path / "target").iterdir()) == [PARTIAL_PARSE_FILE, "run-1"]


def test_a_run_without_a_cache_leaves_the_project_alone(tmp_path):
    (tmp_path / "target").mkdir()
    (tmp_path / "target" / PARTIAL_PARSE_FILE).write_bytes(b"kept")

    assert keep_partial_parse(tmp_path / "target" / "run-without-parse", _project(tmp_path)) is False

    assert (tmp_path / "target" / PARTIAL_PARSE_FILE).read_bytes() == b"kept"


@pytest.mark.slow
def test_the_next_run_parses_only_what_changed(make_settings, tmp_path, monkeypatch):
    """Real dbt through dagster-dbt, on a copy of the project (the checkout's target/ is shared
    by the test workers): the cache from preparing the manifest (no --vars, default profile) is
    discarded by a run; the run's own cache, kept, is used by the next run."""
    from dagster_dbt import DbtCliResource, DbtProject

    root = tmp_path / "dbt_project"
    shutil.copytree(DBT_PROJECT_DIR, root, ignore=shutil.ignore_patterns("target", "logs", "dbt_packages"))
    project = DbtProject(project_dir=root, profiles_dir=root)
    settings = make_settings()
    dbt = DbtCliResource(project_dir=project)

    def parse(*args: str, target_path: Path | None = None) -> tuple[Path, str]:
        invocation = dbt.cli(["parse", *args], target_path=target_path)
        messages = [event.raw_event["info"]["msg"] for event in invocation.stream_raw_events()]
        assert invocation.is_successful()
        return invocation.target_path, "\n".join(messages)

    parse(target_path=project.target_path)  # as `make manifest` prepares it: no vars, default profile
    assert (root / "target" / PARTIAL_PARSE_FILE).is_file()
    for name, value in dbt_environment(settings).items():
        monkeypatch.setenv(name, value)
    run_args = dbt_build_args(settings)[dbt_build_args(settings).index("--vars"):]

    first_dir, first = parse(*run_args)
    assert FULL_PARSE in first  # the prepared cache does not fit a run's vars and profile
    assert keep_partial_parse(first_dir, project)

    _, second = parse(*run_args)
    assert FULL_PARSE not in second, second
