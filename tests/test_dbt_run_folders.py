"""dagster-dbt's per-run target folders are pruned: the newest few stay, and none a run may still write."""

from __future__ import annotations

import os
from pathlib import Path

from resources.dbt import RUN_FOLDER_GRACE_SECONDS, prune_run_folders

NOW = 1_800_000_000.0
HOUR = 3600


def _run_folder(target: Path, name: str, written_hours_ago: float, log_hours_ago: float | None = None) -> Path:
    folder = target / name
    (folder / "compiled").mkdir(parents=True)
    (folder / "compiled" / "model.sql").write_text("select 1")
    log = folder / "dbt.log"
    log.write_text("...")
    for path in (folder / "compiled" / "model.sql", folder / "compiled", folder):
        os.utime(path, (NOW - written_hours_ago * HOUR,) * 2)
    log_age = written_hours_ago if log_hours_ago is None else log_hours_ago
    os.utime(log, (NOW - log_age * HOUR,) * 2)
    return folder


def test_the_newest_folders_stay_and_older_ones_go(tmp_path):
    ages = {"switchboard_dbt-aaaaaaa-1111111": 2, "switchboard_dbt-bbbbbbb-2222222": 5,
            "switchboard_dbt-ccccccc-3333333": 3, "switchboard_dbt-ddddddd-4444444": 30}
    for name, hours in ages.items():
        _run_folder(tmp_path, name, hours)

    removed = prune_run_folders(tmp_path, "switchboard_dbt", keep=2, now=NOW)

    assert sorted(p.name for p in removed) == ["switchboard_dbt-bbbbbbb-2222222", "switchboard_dbt-ddddddd-4444444"]
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "switchboard_dbt-aaaaaaa-1111111", "switchboard_dbt-ccccccc-3333333"]


def test_a_folder_whose_log_still_grows_is_kept_whatever_its_rank(tmp_path):
    """A long run: its folder was created hours ago (and older runs' since), but dbt wrote to its
    log a minute ago: it counts as the newest."""
    running = _run_folder(tmp_path, "switchboard_dbt-aaaaaaa-1111111", written_hours_ago=6, log_hours_ago=1 / 60)
    for i in range(3):
        _run_folder(tmp_path, f"switchboard_dbt-bbbbbbb-{i:07}", written_hours_ago=2 + i)

    removed = prune_run_folders(tmp_path, "switchboard_dbt", keep=1, now=NOW)

    assert running.is_dir()
    assert sorted(p.name for p in removed) == [f"switchboard_dbt-bbbbbbb-{i:07}" for i in range(3)]


def test_folders_written_within_the_grace_period_are_kept_beyond_the_count(tmp_path):
    recent = RUN_FOLDER_GRACE_SECONDS / HOUR / 2
    for i in range(4):
        _run_folder(tmp_path, f"switchboard_dbt-aaaaaaa-{i:07}", written_hours_ago=recent)

    assert prune_run_folders(tmp_path, "switchboard_dbt", keep=1, now=NOW) == []
    assert len(list(tmp_path.iterdir())) == 4


def test_only_the_ops_run_folders_are_touched(tmp_path):
    """target/ also holds the project's manifest, its parse cache, and dbt parse's own files."""
    _run_folder(tmp_path, "switchboard_dbt-aaaaaaa-1111111", written_hours_ago=48)
    _run_folder(tmp_path, "compiled", written_hours_ago=48)
    (tmp_path / "manifest.json").write_text("{}")
    (tmp_path / "switchboard_dbt-not-a-folder").write_text("")

    removed = prune_run_folders(tmp_path, "switchboard_dbt", keep=0, now=NOW)

    assert [p.name for p in removed] == ["switchboard_dbt-aaaaaaa-1111111"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["compiled", "manifest.json", "switchboard_dbt-not-a-folder"]


def test_a_missing_target_folder_is_nothing_to_prune(tmp_path):
    assert prune_run_folders(tmp_path / "target", "switchboard_dbt", keep=1, now=NOW) == []
