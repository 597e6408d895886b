"""The queue_log sensor on a fresh Dagster instance (no cursor): it compares the files with what the
loader has already read (real files, a real DuckDB load), so only bytes not loaded yet start a run."""

from __future__ import annotations

import os

import dagster as dg
import pytest

from definitions import build_definitions
from pipelines.asterisk.pipeline import run_load
from pipelines.file_lock import FileLock

T = 1_709_546_400
QUEUESTART = f"{T}|NONE|NONE|NONE|QUEUESTART|\n"
CALL = (f"{T + 5}|1709546405.1|ventas|NONE|ENTERQUEUE||3001112233|1\n"
        f"{T + 9}|1709546405.1|ventas|Ana Ruiz|CONNECT|4|1709546409.2|1\n")
MORE = f"{T + 70}|1709546405.1|ventas|Ana Ruiz|COMPLETECALLER|4|61|1\n"
SQL_EXPORT = (
    "INSERT INTO `queue_log` (`id`,`time`,`callid`,`queuename`,`agent`,`event`,`data1`,`data2`,`data3`) VALUES "
    "(1,'2024-03-04 10:00:01','1709546400.1','ventas','NONE','ENTERQUEUE','','3001110001','1');\n"
)


@pytest.fixture
def fresh_sensor(make_settings, tmp_path):
    """(site folder, settings, a function evaluating the sensor on a fresh instance with a cursor)."""
    site = tmp_path / "pbx"
    site.mkdir()
    (site / "queue_log").write_text(QUEUESTART + CALL)
    (site / "queue_log.sql").write_text(SQL_EXPORT)
    settings = make_settings(SWITCHBOARD_QUEUE_LOG_DIRS=f"lab={site}")
    defs = build_definitions(settings)
    sensor = defs.resolve_sensor_def("asterisk_files_sensor")
    with dg.instance_for_test() as instance:
        def tick(cursor=None):
            return sensor(dg.build_sensor_context(instance=instance, definitions=defs, cursor=cursor))
        yield site, settings, tick


def test_a_fresh_instance_starts_no_run_for_files_already_loaded(fresh_sensor):
    site, settings, tick = fresh_sensor
    report = run_load(settings)
    assert report.counts("queue_log").loaded == 3 and report.counts("queue_log_table").loaded == 1
    first = tick()
    assert not first.run_requests
    assert first.cursor  # the versions seen, so later ticks compare with them

    with open(site / "queue_log", "a") as fh:
        fh.write(MORE)
    assert len(tick(first.cursor).run_requests) == 1


def test_a_fresh_instance_starts_no_run_for_a_last_line_read_that_waits_for_the_next(fresh_sensor):
    """The loader's position stops before a last line an hour from the one before it (read again,
    and judged with the line after it, once one comes: queue_log_parser.UnsettledTail); until then
    there is nothing new for a run to read."""
    site, settings, tick = fresh_sensor
    with open(site / "queue_log", "a") as fh:
        fh.write(f"{T + 7_200}|NONE|ventas|Ana Ruiz|PAUSE|Lunch\n")
    assert run_load(settings).counts("queue_log").loaded == 4
    assert not tick().run_requests
    with open(site / "queue_log", "a") as fh:
        fh.write(f"{T + 7_260}|NONE|ventas|Ana Ruiz|UNPAUSE|\n")
    assert len(tick().run_requests) == 1
    assert run_load(settings).counts("queue_log").read_again == 1


def test_a_fresh_instance_starts_a_run_for_bytes_not_loaded_yet(fresh_sensor):
    site, settings, tick = fresh_sensor
    run_load(settings)
    with open(site / "queue_log", "a") as fh:
        fh.write(MORE)
    result = tick()
    assert len(result.run_requests) == 1
    assert result.run_requests[0].tags["switchboard/changed_files"] == "1"  # not the export, read already


def test_a_fresh_instance_knows_a_log_rewritten_in_place_was_read_as_a_new_generation(fresh_sensor):
    """The file's identity by its first line is still the old content's; the loader read the new
    content under a generation of its own, and the sensor compares with that one."""
    site, settings, tick = fresh_sensor
    run_load(settings)
    (site / "queue_log").write_text(QUEUESTART + MORE)  # the header put back, then other lines
    assert run_load(settings).counts("queue_log").loaded == 2
    assert not tick().run_requests
    with open(site / "queue_log", "a") as fh:
        fh.write(CALL)
    assert len(tick().run_requests) == 1


def test_a_changed_export_starts_a_run_as_the_source_reads_it_again(fresh_sensor):
    site, settings, tick = fresh_sensor
    run_load(settings)
    os.utime(site / "queue_log.sql", ns=(1, 1))
    assert len(tick().run_requests) == 1


def test_an_unfinished_last_line_is_not_new_bytes_yet(fresh_sensor):
    """The loader leaves a live log's unterminated last line for later: nothing to run for."""
    site, settings, tick = fresh_sensor
    run_load(settings)
    with open(site / "queue_log", "a") as fh:
        fh.write(MORE.rstrip("\n"))
    assert not tick().run_requests


def test_a_final_copys_cut_line_read_already_is_not_new_bytes_until_the_copy_grows(fresh_sensor):
    """The loader stops before a final copy's cut last line (rejected as unterminated) in case the
    copy grows after all: until it does, there is nothing new for a run to read."""
    site, settings, tick = fresh_sensor
    rotated = site / "queue_log-20240303"
    rotated.write_text(QUEUESTART.replace(f"{T}|", f"{T - 86_400}|") + MORE.rstrip("\n")[:-4])
    os.utime(rotated, (T, T))  # long left alone
    assert run_load(settings).counts("queue_log").rejects_by_reason == {"unterminated": 1}
    assert not tick().run_requests
    with open(rotated, "a") as fh:
        fh.write(MORE[-5:])
    os.utime(rotated, (T, T))
    assert len(tick().run_requests) == 1


def test_without_a_warehouse_one_run_is_started(fresh_sensor):
    _site, _settings, tick = fresh_sensor
    result = tick()
    assert len(result.run_requests) == 1
    assert result.run_requests[0].tags["switchboard/changed_files"] == "2"


def test_a_load_that_did_not_finish_is_not_taken_for_read(fresh_sensor):
    """Its package still pending, the local state may be ahead of the warehouse: one run."""
    _site, settings, tick = fresh_sensor
    run_load(settings)
    (settings.state_dir / "dlt" / "asterisk" / "load" / "normalized" / "1709546400.123").mkdir(parents=True)
    assert len(tick().run_requests) == 1


def test_while_a_load_runs_the_sensor_waits_for_it_without_blocking_it(fresh_sensor):
    _site, settings, tick = fresh_sensor
    run_load(settings)
    with FileLock(settings.state_dir / "dlt" / ".asterisk.lock"):  # what a running load holds
        held = tick()
    assert not held.run_requests and "load is running" in held.skip_reason.skip_message
    assert held.cursor is None  # compared again next time
    assert not tick().run_requests
