"""Incremental, idempotent loading of queue_log files into a real DuckDB (and Postgres) via dlt.

Each scenario compares the warehouse to what one clean load of the same bytes gives: appends,
rotation (rename + gzip), truncation, reruns and a process killed mid-load must neither lose
nor duplicate a line.
"""

from __future__ import annotations

import gzip
import os
import shutil
import signal
import subprocess
import sys
import textwrap
import time
from dataclasses import replace
from datetime import UTC
from pathlib import Path

import duckdb
import pyarrow.parquet as pq
import pytest

from pipelines.asterisk import log_streams
from pipelines.asterisk.log_streams import ROTATED_TAIL_GRACE_SECONDS
from pipelines.asterisk.pipeline import asterisk_pipeline, run_load
from pipelines.asterisk.source import (
    QUEUE_LOG_DICTIONARY_FIELDS,
    AsteriskConfig,
    IngestCounts,
    IngestReport,
    asterisk_source,
)

B = 1_709_546_400  # 2024-03-04 10:00:00 UTC


def lines(start: int, n: int, callid_base: str = "1709546000") -> list[str]:
    """n well-formed lines: enter / connect / complete triples of distinct calls."""
    out = []
    for i in range(n):
        call = f"{callid_base}.{start + i // 3}"
        kind = i % 3
        t = B + start + i
        if kind == 0:
            out.append(f"{t}|{call}|ventas|NONE|ENTERQUEUE||300111{i:04d}|1")
        elif kind == 1:
            out.append(f"{t}|{call}|ventas|Ana Ruiz|CONNECT|2|{call}9|1")
        else:
            out.append(f"{t}|{call}|ventas|Ana Ruiz|COMPLETECALLER|2|40|1")
    return out


def write(path: Path, text_lines: list[str], *, mode: str = "w", newline_at_end: bool = True) -> None:
    body = "\n".join(text_lines) + ("\n" if newline_at_end else "")
    with open(path, mode, encoding="utf-8") as fh:
        fh.write(body)


def load(settings) -> IngestReport:
    return run_load(settings)


def warehouse_lines(settings) -> list[tuple]:
    with duckdb.connect(str(settings.warehouse.duckdb_path), read_only=True) as con:
        return con.sql(
            "select event_epoch, callid, queuename, agent, event, data1, data2, data3 "
            "from raw_asterisk.queue_log order by source_stream, line_no"
        ).fetchall()


def expected(text_lines: list[str]) -> list[tuple]:
    rows = []
    for line in text_lines:
        f = line.split("|") + [None] * 8
        rows.append((int(f[0]), f[1], f[2], f[3], f[4], f[5] or None, f[6] or None, f[7] or None))
    return rows


@pytest.fixture
def site(tmp_path):
    d = tmp_path / "pbx"
    d.mkdir()
    return d


def test_first_load_then_append_reads_only_new_bytes(make_settings, site):
    settings = make_settings(SWITCHBOARD_QUEUE_LOG_DIRS=f"lab={site}")
    first = lines(0, 30)
    write(site / "queue_log", first)
    r1 = load(settings).counts("queue_log")
    assert (r1.lines_read, r1.loaded, r1.rejected) == (30, 30, 0)

    more = lines(30, 12)
    write(site / "queue_log", more, mode="a")
    r2 = load(settings).counts("queue_log")
    assert (r2.lines_read, r2.loaded) == (12, 12)  # only the new bytes
    assert warehouse_lines(settings) == expected(first + more)

    r3 = load(settings).counts("queue_log")  # nothing new: nothing read, nothing doubled
    assert r3.lines_read == 0
    assert warehouse_lines(settings) == expected(first + more)


def test_many_chunks_of_several_streams_load_once_each(make_settings, site):
    """A run reads each stream in many chunks (here ~100 bytes each) and, on DuckDB, writes every
    stream's rows into one parquet file for dlt: every line arrives once, in its stream and line
    number, and a damaged line in a middle chunk is set aside with its own line number."""
    settings = make_settings(SWITCHBOARD_QUEUE_LOG_DIRS=f"lab={site}")
    live, rotated = lines(0, 40), lines(200, 25, "1709547000")
    live_with_damage = live[:17] + ["garbage-without-fields"] + live[17:]
    write(site / "queue_log", live_with_damage)
    write(site / "queue_log.1", rotated)
    report = IngestReport()
    pipeline = asterisk_pipeline(settings)
    info = pipeline.run(asterisk_source(replace(AsteriskConfig.from_settings(settings), chunk_bytes=100), report),
                        loader_file_format="parquet")
    package = pipeline.get_load_package_info(info.loads_ids[-1])
    queue_log_files = [j for j in package.jobs["completed_jobs"] if j.job_file_info.table_name == "queue_log"]
    assert len(queue_log_files) == 2  # the empty file that declares the columns, and the run's rows
    rows_file = pq.ParquetFile(max((j.file_path for j in queue_log_files), key=lambda f: Path(f).stat().st_size))
    assert rows_file.metadata.num_rows == 65
    dictionary_encoded = {
        rows_file.schema_arrow.names[i] for i in range(rows_file.metadata.num_columns)
        if "RLE_DICTIONARY" in rows_file.metadata.row_group(0).column(i).encodings}
    # the stream constant, and the few-valued fields (DuckDB inserts them faster than plain text)
    assert dictionary_encoded == {"source_stream", *QUEUE_LOG_DICTIONARY_FIELDS}
    counts = report.counts("queue_log")
    assert (counts.lines_read, counts.loaded, counts.rejected, counts.streams_read) == (66, 65, 1, 2)
    with duckdb.connect(str(settings.warehouse.duckdb_path), read_only=True) as con:
        by_stream = con.sql(
            "select streams.source_file, count(*), count(distinct line_no), min(line_no), max(line_no) "
            "from raw_asterisk.queue_log join raw_asterisk.log_streams as streams using (source_stream) "
            "group by streams.source_file order by streams.source_file").fetchall()
        reject = con.sql("select line_no, raw_text from raw_asterisk.queue_log_rejects").fetchall()
    assert [(Path(f).name, n, d, lo, hi) for f, n, d, lo, hi in by_stream] == [
        ("queue_log", 40, 40, 0, 40), ("queue_log.1", 25, 25, 0, 24)]
    assert reject == [(17, "garbage-without-fields")]  # line numbers count from 0
    assert sorted(warehouse_lines(settings)) == sorted(expected(live + rotated))


def test_the_streams_of_a_run_share_one_warehouse_connection(make_settings, tmp_path, monkeypatch):
    """Before reading a stream the loader deletes rows a crashed run left past its position; a
    connection opened for each stream cost 50-65 ms, most of a first load of many rotated logs
    (independent audit: 200 archives in 12 s instead of 4). A spy counts the connections; the
    deletes still run (the kill-and-rerun test checks what they remove)."""
    from dlt.pipeline.pipeline import Pipeline

    logs = tmp_path / "logs"
    for n in range(12):
        (logs / f"pbx{n}").mkdir(parents=True)
        write(logs / f"pbx{n}" / "queue_log", lines(0, 9, callid_base=f"17095460{n:02d}"))
    settings = make_settings(SWITCHBOARD_QUEUE_LOG_DIRS=str(logs))
    load(settings)
    for n in range(12):
        write(logs / f"pbx{n}" / "queue_log", lines(9, 3, callid_base=f"17095460{n:02d}"), mode="a")
    opened = []
    real_sql_client = Pipeline.sql_client
    monkeypatch.setattr(Pipeline, "sql_client", lambda self, *a, **kw: opened.append(1) or real_sql_client(self, *a, **kw))
    counts = load(settings).counts("queue_log")
    assert (counts.streams_read, counts.loaded) == (12, 36)
    assert len(opened) <= 2
    with duckdb.connect(str(settings.warehouse.duckdb_path), read_only=True) as con:
        assert con.execute("select count(*), count(distinct (source_stream, line_no)) "
                           "from raw_asterisk.queue_log").fetchall() == [(144, 144)]


def test_partial_last_line_waits_until_completed(make_settings, site):
    settings = make_settings(SWITCHBOARD_QUEUE_LOG_DIRS=f"lab={site}")
    complete = lines(0, 3)
    with open(site / "queue_log", "w") as fh:
        fh.write("\n".join(complete) + "\n" + f"{B + 50}|1709546000.9|ventas|NONE|ENTERQ")
    assert load(settings).counts("queue_log").lines_read == 3
    with open(site / "queue_log", "a") as fh:
        fh.write("UEUE||3009998888|1\n")
    r = load(settings).counts("queue_log")
    assert (r.lines_read, r.loaded) == (1, 1)
    assert warehouse_lines(settings)[-1] == (B + 50, "1709546000.9", "ventas", "NONE", "ENTERQUEUE", None, "3009998888", "1")


def test_rotation_rename_and_gzip_is_not_read_twice(make_settings, site):
    settings = make_settings(SWITCHBOARD_QUEUE_LOG_DIRS=f"lab={site}")
    week1, week1_tail, week2 = lines(0, 9), lines(9, 6), lines(100, 9, "1709547000")
    write(site / "queue_log", week1)
    load(settings)
    # Asterisk keeps appending, then logrotate renames (dateext) and a new file starts ...
    write(site / "queue_log", week1_tail, mode="a")
    (site / "queue_log").rename(site / "queue_log-20240304")
    write(site / "queue_log", week2)
    r = load(settings).counts("queue_log")
    assert (r.lines_read, r.loaded) == (15, 15)  # the tail of the rotated file + the new file
    # ... and later compresses the rotated copy (delaycompress): same stream, nothing new.
    with open(site / "queue_log-20240304", "rb") as src, gzip.open(site / "queue_log-20240304.gz", "wb") as dst:
        shutil.copyfileobj(src, dst)
    (site / "queue_log-20240304").unlink()
    assert load(settings).counts("queue_log").lines_read == 0
    assert sorted(warehouse_lines(settings)) == sorted(expected(week1 + week1_tail + week2))


def test_lines_appended_before_a_rotation_compressed_with_xz_are_read_from_the_archive(make_settings, site):
    """The rotation renamed and compressed at once (`compress` without `delaycompress`, xz as
    compresscmd): the lines written since the last run are only in the archive (independent
    audit: an .xz was one binary reject, 27 lines lost)."""
    import lzma

    settings = make_settings(SWITCHBOARD_QUEUE_LOG_DIRS=f"lab={site}")
    week1, week1_tail, week2 = lines(0, 9), lines(9, 6), lines(100, 9, "1709547000")
    write(site / "queue_log", week1)
    load(settings)
    write(site / "queue_log", week1_tail, mode="a")
    (site / "queue_log.1.xz").write_bytes(lzma.compress((site / "queue_log").read_bytes()))
    write(site / "queue_log", week2)
    r = load(settings).counts("queue_log")
    assert (r.lines_read, r.loaded, r.rejected) == (15, 15, 0)
    assert sorted(warehouse_lines(settings)) == sorted(expected(week1 + week1_tail + week2))


def test_the_loader_measures_an_xz_rotation_once_not_at_every_run(make_settings, site, monkeypatch):
    """An xz or bzip2 archive keeps no size: it is decompressed whole to be measured. The loader
    remembers the size of a settled one in its state, so the runs after it measure it no more."""
    import lzma

    settings = make_settings(SWITCHBOARD_QUEUE_LOG_DIRS=f"lab={site}")
    old, new = lines(0, 9), lines(100, 9, "1709547000")
    (site / "queue_log.1.xz").write_bytes(lzma.compress("".join(f"{line}\n" for line in old).encode()))
    settled = time.time() - log_streams.ARCHIVE_SETTLE_SECONDS - 60
    os.utime(site / "queue_log.1.xz", (settled, settled))
    write(site / "queue_log", new[:3])
    measured = []
    real_measure = log_streams._measured_size
    monkeypatch.setattr(log_streams, "_measured_size", lambda path, kind: measured.append(path.name) or real_measure(path, kind))
    assert load(settings).counts("queue_log").loaded == 12
    assert measured == ["queue_log.1.xz"]
    for step in (3, 6):
        write(site / "queue_log", new[step:step + 3], mode="a")
        assert load(settings).counts("queue_log").loaded == 3
    assert measured == ["queue_log.1.xz"]
    assert sorted(warehouse_lines(settings)) == sorted(expected(old + new))


def _rotating_after_the_read(monkeypatch, rotate) -> None:
    """The loader's reads of a log, with `rotate()` run once right after the first read's last
    chunk (the loader has it, the stream's position is not stored yet): a rotation that lands
    during a run, made deterministic (independent audit: real ones, timed into the read)."""
    read_new_bytes = log_streams.read_new_bytes
    rotated = []

    def reading_then_rotating(*args, **kwargs):
        yield from read_new_bytes(*args, **kwargs)
        if not rotated:
            rotated.append(True)
            rotate()

    monkeypatch.setattr(log_streams, "read_new_bytes", reading_then_rotating)


@pytest.mark.parametrize("style", ["create", "copytruncate", "dateext"])
def test_a_log_rotated_while_the_run_reads_it_is_not_loaded_again(make_settings, site, monkeypatch, style):
    """The read position's fingerprint was taken from the file the name held once the read was done:
    after a rotation during the run, the new file's. The next run took the rotated copy for a log
    rewritten in place and loaded all of it a second time (independent audit: 2M lines doubled)."""
    settings = make_settings(SWITCHBOARD_QUEUE_LOG_DIRS=f"lab={site}")
    old, new = lines(0, 12), lines(100, 6, "1709547000")
    write(site / "queue_log", old)
    rotated_name = {"create": "queue_log.1", "copytruncate": "queue_log.1", "dateext": "queue_log-20240304"}[style]

    def rotate():
        if style == "copytruncate":
            shutil.copy(site / "queue_log", site / rotated_name)
        else:
            (site / "queue_log").rename(site / rotated_name)
        write(site / "queue_log", new)  # (copytruncate: truncated, then written again)

    _rotating_after_the_read(monkeypatch, rotate)
    assert load(settings).counts("queue_log").loaded == 12
    monkeypatch.undo()
    r = load(settings).counts("queue_log")
    assert (r.lines_read, r.loaded) == (6, 6) and r.balanced
    assert load(settings).counts("queue_log").lines_read == 0
    assert sorted(warehouse_lines(settings)) == sorted(expected(old + new))


@pytest.mark.parametrize("replaced", [False, True], ids=["renamed", "renamed_and_created_again"])
def test_a_log_renamed_between_being_listed_and_read_is_left_for_the_next_run(make_settings, site, monkeypatch,
                                                                              caplog, replaced):
    """gzip removing queue_log.1, or logrotate renaming queue_log before Asterisk makes a new one,
    between the loader listing the file and opening it: the load failed (FileNotFoundError).
    With the new queue_log already there, the read opened it in the listed one's place: the run
    said the log was "truncated and rewritten" and counted nothing gone (independent audit)."""
    settings = make_settings(SWITCHBOARD_QUEUE_LOG_DIRS=f"lab={site}")
    old, new = lines(0, 9), lines(100, 4, "1709547000")
    write(site / "queue_log", old)
    read_new_bytes = log_streams.read_new_bytes

    def renamed_first(f, *args, **kwargs):
        f.path.rename(site / "queue_log.1")
        if replaced:
            write(site / "queue_log", new)
        return read_new_bytes(f, *args, **kwargs)

    monkeypatch.setattr(log_streams, "read_new_bytes", renamed_first)
    r = load(settings).counts("queue_log")
    assert (r.lines_read, r.loaded) == (0, 0)
    assert r.as_metadata()["files_gone_before_read"] == 1  # said in the run's metadata, not only logged
    assert "rewritten" not in caplog.text and "renamed, deleted or replaced between being listed and read" in caplog.text
    monkeypatch.undo()
    r = load(settings).counts("queue_log")
    assert (r.lines_read, r.loaded) == (9 + 4 * replaced, 9 + 4 * replaced) and r.balanced
    assert sorted(warehouse_lines(settings)) == sorted(expected(old + new * replaced))


def rejects(settings) -> list[tuple]:
    with duckdb.connect(str(settings.warehouse.duckdb_path), read_only=True) as con:
        return con.sql("select line_no, reason, raw_text from raw_asterisk.queue_log_rejects order by line_no").fetchall()


def test_line_cut_by_a_rename_is_read_whole_once_finished_in_the_renamed_file(make_settings, site):
    """Asterisk writes on into the renamed queue_log until `logger reload` (§1.3), finishing there a
    line it had begun: that last line waits, as it does in the live file (§4.12), and is read whole."""
    settings = make_settings(SWITCHBOARD_QUEUE_LOG_DIRS=f"lab={site}")
    before, new = lines(0, 5), lines(100, 3, "1709547000")
    last = f"{B + 60}|1709546000.9|ventas|NONE|ABANDON|1|1|30"
    write(site / "queue_log", [*before, last[:-10]], newline_at_end=False)  # ends in "|ABAN"
    r = load(settings).counts("queue_log")
    assert (r.lines_read, r.loaded) == (5, 5)

    (site / "queue_log").rename(site / "queue_log.1")
    r = load(settings).counts("queue_log")
    assert (r.lines_read, r.rejected) == (0, 0)  # modified just now: it may still be finished

    with open(site / "queue_log.1", "a") as fh:
        fh.write(last[-10:] + "\n")  # "DON|1|1|30"
    write(site / "queue_log", new)
    r = load(settings).counts("queue_log")
    assert (r.lines_read, r.loaded, r.rejected) == (1 + 3, 4, 0) and r.balanced
    assert sorted(warehouse_lines(settings)) == sorted(expected([*before, last, *new]))
    assert rejects(settings) == []


def test_a_rotated_copy_of_one_cut_line_waits_and_loads_its_lines_once_it_grows(make_settings, site):
    """A plain rotated copy whose only line is unterminated, left alone: read, its line's identity
    changed with the newline that came later, and the line counted twice (loaded, and still
    quarantined: independent audit). It waits as the live log does, then loads once, whole."""
    settings = make_settings(SWITCHBOARD_QUEUE_LOG_DIRS=f"lab={site}")
    live, (cut, *more) = lines(0, 6), lines(30, 3, "1709540000")
    write(site / "queue_log", live)
    write(site / "queue_log.1", [cut], newline_at_end=False)
    past_grace = time.time() - ROTATED_TAIL_GRACE_SECONDS - 60
    os.utime(site / "queue_log.1", (past_grace, past_grace))
    r = load(settings).counts("queue_log")
    assert (r.lines_read, r.loaded, r.rejected, r.files_waiting) == (6, 6, 0, 1)
    write(site / "queue_log.1", ["", *more], mode="a")
    os.utime(site / "queue_log.1", (past_grace, past_grace))
    r = load(settings).counts("queue_log")
    assert (r.lines_read, r.loaded, r.rejected, r.files_waiting) == (3, 3, 0, 0)
    assert sorted(warehouse_lines(settings)) == sorted(expected(live + [cut, *more]))
    assert rejects(settings) == []


def test_cut_last_line_of_a_rotated_file_left_alone_is_rejected_once(make_settings, site):
    """Once a rotated file has not changed for ROTATED_TAIL_GRACE_SECONDS, its unterminated last line
    is final: read once and quarantined as unterminated."""
    settings = make_settings(SWITCHBOARD_QUEUE_LOG_DIRS=f"lab={site}")
    whole, cut = lines(0, 4), f"{B + 60}|1709546000.9|ventas|NONE|ABAN"
    write(site / "queue_log.1", [*whole, cut], newline_at_end=False)
    r = load(settings).counts("queue_log")
    assert (r.lines_read, r.loaded, r.rejected) == (4, 4, 0)

    past_grace = time.time() - ROTATED_TAIL_GRACE_SECONDS - 60
    os.utime(site / "queue_log.1", (past_grace, past_grace))
    r = load(settings).counts("queue_log")
    assert (r.lines_read, r.loaded, r.rejected, r.rejects_by_reason) == (1, 0, 1, {"unterminated": 1})
    assert load(settings).counts("queue_log").lines_read == 0  # nothing read twice
    assert rejects(settings) == [(4, "unterminated", cut)]
    assert warehouse_lines(settings) == expected(whole)


def test_cut_last_line_of_a_compressed_copy_is_final_at_once(make_settings, site):
    """A compressed copy is never written to again, however recent: its cut last line is rejected."""
    settings = make_settings(SWITCHBOARD_QUEUE_LOG_DIRS=f"lab={site}")
    whole, cut = lines(0, 4), f"{B + 60}|1709546000.9|ventas|NONE|ABAN"
    (site / "queue_log.2.gz").write_bytes(gzip.compress(("\n".join([*whole, cut])).encode()))
    r = load(settings).counts("queue_log")
    assert (r.lines_read, r.loaded, r.rejected) == (5, 4, 1)
    assert rejects(settings) == [(4, "unterminated", cut)]


@pytest.mark.parametrize("copy", ["queue_log.1", "queue_log.2.gz"])
def test_a_final_copy_whose_cut_last_line_is_finished_after_all_has_it_read_whole(make_settings, site, copy):
    """A copy taken as final (rotated and left alone, or compressed) may still grow: a transfer
    that stalled and resumed, a whole archive restored over a cut one. Its cut line, quarantined
    as unterminated, is then read again whole and its reject removed, as one run over the finished
    copy leaves it (an independent audit found the rest of the line read as a line of its own,
    `DON|1|1|30` rejected as missing_event, and the abandon lost)."""
    settings = make_settings(SWITCHBOARD_QUEUE_LOG_DIRS=f"lab={site}")
    whole, last = lines(0, 4), f"{B + 60}|1709546000.9|ventas|NONE|ABANDON|1|1|30"
    cut = last[:-10]  # ends in "|ABAN"

    def put(text_lines: list[str], newline_at_end: bool) -> None:
        body = "\n".join(text_lines) + ("\n" if newline_at_end else "")
        if copy.endswith(".gz"):
            (site / copy).write_bytes(gzip.compress(body.encode()))
        else:
            (site / copy).write_text(body, encoding="utf-8")
        past_grace = time.time() - ROTATED_TAIL_GRACE_SECONDS - 60  # a copied file keeps its time
        os.utime(site / copy, (past_grace, past_grace))

    put([*whole, cut], newline_at_end=False)
    r = load(settings).counts("queue_log")
    assert (r.lines_read, r.loaded, r.rejected, r.rejects_by_reason) == (5, 4, 1, {"unterminated": 1})
    assert load(settings).counts("queue_log").lines_read == 0  # nothing read twice while it stays cut

    put([*whole, last], newline_at_end=True)
    r = load(settings).counts("queue_log")
    assert (r.lines_read, r.read_again, r.loaded, r.rejected) == (1, 1, 1, 0) and r.balanced
    assert rejects(settings) == []
    assert warehouse_lines(settings) == expected([*whole, last])
    assert load(settings).counts("queue_log").lines_read == 0


def raw_line_copies(settings) -> tuple[int, int]:
    """(lines in raw, distinct lines by PBX, epoch and every field): staging flags the rest as
    exact duplicates (stg_asterisk__queue_events)."""
    with duckdb.connect(str(settings.warehouse.duckdb_path), read_only=True) as con:
        (row,) = con.sql(
            "select count(*), count(distinct (pbx, event_epoch, callid, queuename, agent, event, data1, data2, "
            "data3, data4, data5, data6)) from raw_asterisk.queue_log join raw_asterisk.log_streams using (source_stream)"
        ).fetchall()
    return row


def test_copies_sharing_a_first_line_that_part_are_both_loaded(make_settings, site):
    """Two copies of one log that part after a shared start (/tmp/review-ql s16b): each holds a
    call the other lacks. Every line of both is loaded (16); the 5 in both are exact duplicates,
    leaving the 11 lines of the 5 calls. A rerun reads nothing; once the smaller copy grows past
    the other, only what it grew by."""
    settings = make_settings(SWITCHBOARD_QUEUE_LOG_DIRS=f"lab={site}")
    start = [f"{B}|NONE|NONE|NONE|QUEUESTART|", f"{B + 5}|1709546000.1|q16|NONE|ENTERQUEUE||5551601|1",
             f"{B + 15}|1709546000.1|q16|NONE|ABANDON|1|1|10"]
    end = [f"{B + 105}|1709546000.2|q16|NONE|ENTERQUEUE||5551602|1", f"{B + 125}|1709546000.2|q16|NONE|ABANDON|1|1|20"]
    write(site / "queue_log.a", start + [f"{B + 65}|1709546000.5|q16|NONE|ENTERQUEUE||5551605|1",
                                         f"{B + 80}|1709546000.5|q16|NONE|EXITWITHKEY|3|1|1|15"] + end)
    write(site / "queue_log.b", start + [f"{B + 55}|1709546000.9|q16|NONE|ENTERQUEUE||5551609|1",
                                         f"{B + 95}|1709546000.9|q16|NONE|EXITWITHTIMEOUT|1|1|40"] + end
          + [f"{B + 205}|1709546000.3|q16|NONE|ENTERQUEUE||5551603|1", f"{B + 208}|1709546000.3|q16|NONE|ABANDON|1|1|3"])
    counts = load(settings).counts("queue_log")
    assert (counts.lines_read, counts.loaded, counts.streams_read) == (16, 16, 2)
    assert counts.balanced and counts.as_metadata()["files_skipped_as_prefix_copies"] == 0
    assert raw_line_copies(settings) == (16, 11)
    again = load(settings).counts("queue_log")
    assert (again.lines_read, again.streams_read) == (0, 0)
    assert raw_line_copies(settings) == (16, 11)
    write(site / "queue_log.a", lines(300, 9), mode="a")
    assert (site / "queue_log.a").stat().st_size > (site / "queue_log.b").stat().st_size
    grown = load(settings).counts("queue_log")
    assert (grown.lines_read, grown.loaded, grown.streams_read) == (9, 9, 1)
    assert raw_line_copies(settings) == (25, 20)


def test_a_copy_that_is_the_start_of_the_log_is_read_once_and_reported(make_settings, site):
    """queue_log copied to queue_log.1, then appended to: one log, read once; the copy is
    reported as skipped."""
    settings = make_settings(SWITCHBOARD_QUEUE_LOG_DIRS=f"lab={site}")
    history, appended = lines(0, 9), lines(9, 6)
    write(site / "queue_log", history)
    assert load(settings).counts("queue_log").lines_read == 9
    shutil.copyfile(site / "queue_log", site / "queue_log.1")
    write(site / "queue_log", appended, mode="a")
    counts = load(settings).counts("queue_log")
    assert (counts.lines_read, counts.loaded, counts.streams_read) == (6, 6, 1)
    assert counts.as_metadata()["files_skipped_as_prefix_copies"] == 1
    again = load(settings).counts("queue_log")
    assert (again.lines_read, again.as_metadata()["files_skipped_as_prefix_copies"]) == (0, 1)
    assert warehouse_lines(settings) == expected(history + appended)


def test_a_log_cut_and_rewritten_in_place_under_its_first_line_is_a_new_generation(make_settings, site):
    """Same first line, shorter content (a backup restored in place, then written on): the lines
    read before stay, even those no file holds any more, and the new content is read whole as a
    generation of its own, never from the old offset (independent audit: the old stream's lines
    were replaced, and lines that existed only in it were lost)."""
    settings = make_settings(SWITCHBOARD_QUEUE_LOG_DIRS=f"lab={site}")
    original = lines(0, 12)
    write(site / "queue_log", original)
    load(settings)
    rewritten = original[:4] + lines(50, 2)
    write(site / "queue_log", rewritten)
    counts = load(settings).counts("queue_log")
    assert (counts.lines_read, counts.loaded) == (6, 6)
    assert sorted(warehouse_lines(settings)) == sorted(expected(original + rewritten))
    write(site / "queue_log", lines(60, 3), mode="a")
    assert load(settings).counts("queue_log").loaded == 3  # the new generation goes on


def test_lines_read_stay_when_only_an_older_or_cut_copy_of_the_log_is_left(make_settings, site):
    """The live file deleted beside an older copy: shorter than what was read, but not the log
    rewritten in place, so nothing is read and nothing goes (before, the stream was read again
    from the older copy and lost its later lines)."""
    settings = make_settings(SWITCHBOARD_QUEUE_LOG_DIRS=f"lab={site}")
    history = lines(0, 12)
    write(site / "queue_log.bak", history[:6])
    write(site / "queue_log", history)
    assert load(settings).counts("queue_log").loaded == 12
    (site / "queue_log").unlink()
    assert load(settings).counts("queue_log").lines_read == 0
    assert warehouse_lines(settings) == expected(history)


def test_a_log_emptied_in_place_with_echo_is_a_new_generation_and_the_lines_read_before_stay(make_settings, site):
    """`echo > queue_log` leaves a blank first line, as the log already had; the new content soon
    outgrows the stored offset. The new generation is known by its first line with content, so it
    is read from its start as a log of its own, and the events read before stay (they happened;
    the file no longer holds them). Reading on from the old offset would start mid-line."""
    settings = make_settings(SWITCHBOARD_QUEUE_LOG_DIRS=f"lab={site}")
    original = lines(0, 3)
    write(site / "queue_log", ["", *original])
    assert load(settings).counts("queue_log").loaded == 3
    write(site / "queue_log", [""])  # what `echo > queue_log` writes
    rewritten = lines(100, 6)
    write(site / "queue_log", rewritten, mode="a")
    counts = load(settings).counts("queue_log")
    assert (counts.lines_read, counts.loaded, counts.rejected, counts.skipped_blank) == (7, 6, 0, 1)
    assert sorted(warehouse_lines(settings)) == sorted(expected(original + rewritten))


def test_a_log_rewritten_in_place_under_its_first_line_and_grown_past_the_old_offset_is_a_new_generation(
        make_settings, site):
    """Same first line, other content beyond it, longer than what was read: only the bytes before
    the stored offset tell that the log was rewritten. It is read whole as a new generation; the
    lines read before stay (reading on from the old offset would start mid-line)."""
    settings = make_settings(SWITCHBOARD_QUEUE_LOG_DIRS=f"lab={site}")
    original = lines(0, 3)
    write(site / "queue_log", ["", *original])
    assert load(settings).counts("queue_log").loaded == 3
    rewritten = original[:1] + lines(100, 6)
    write(site / "queue_log", ["", *rewritten])
    counts = load(settings).counts("queue_log")
    assert (counts.lines_read, counts.loaded, counts.rejected, counts.skipped_blank) == (8, 7, 0, 1)
    assert sorted(warehouse_lines(settings)) == sorted(expected(original + rewritten))


def test_generations_of_a_log_emptied_with_echo_keep_their_identity_as_older_ones_rotate_away(make_settings, site):
    """`cp queue_log queue_log.1; echo > queue_log` every day, two copies kept: each generation
    starts with the same blank line. Known by that line alone, which generation held the plain
    identity depended on which others were still there: when the oldest was deleted, the next
    took its identity and position and was read again from its start (its lines twice in raw).
    A generation is known by its first line with content."""
    settings = make_settings(SWITCHBOARD_QUEUE_LOG_DIRS=f"lab={site}")
    generations = [lines(100 * k, 6) for k in range(5)]
    write(site / "queue_log", ["", *generations[0]])
    loaded = [load(settings).counts("queue_log").loaded]
    for generation in generations[1:]:
        (site / "queue_log.2").unlink(missing_ok=True)
        if (site / "queue_log.1").exists():
            (site / "queue_log.1").rename(site / "queue_log.2")
        shutil.copy(site / "queue_log", site / "queue_log.1")
        write(site / "queue_log", ["", *generation])  # echo > queue_log, then the day's lines
        loaded.append(load(settings).counts("queue_log").loaded)
    assert loaded == [6] * 5
    assert sorted(warehouse_lines(settings)) == sorted(expected([line for g in generations for line in g]))


def test_a_generation_sharing_its_first_line_keeps_its_identity_when_the_older_copy_is_deleted(make_settings, site):
    """Two generations of one log with the same first line (a header an admin restores): the
    older, copied aside, holds the stream's plain identity and the newer one a derived one. When
    the older copy is deleted, the newer takes the plain identity by its content alone, and that
    identity's position is the older one's: the newer is read under the identity it was read
    under, never as the older rewritten (its lines deleted, the newer's loaded twice).
    (Independent audit, scenario s4_min_same_first_line_copy_rotated_away.)"""
    settings = make_settings(SWITCHBOARD_QUEUE_LOG_DIRS=f"lab={site}")
    header = f"{B - 60}|NONE|NONE|NONE|QUEUESTART|"
    older, newer = lines(0, 6), lines(100, 3)
    write(site / "queue_log", [header, *older])
    assert load(settings).counts("queue_log").loaded == 7
    shutil.copy(site / "queue_log", site / "queue_log.1")
    write(site / "queue_log", [header, *newer])  # the header restored, then the day's lines
    assert load(settings).counts("queue_log").loaded == 4
    (site / "queue_log.1").unlink()
    assert load(settings).counts("queue_log").lines_read == 0
    more = lines(200, 3)
    write(site / "queue_log", more, mode="a")
    assert load(settings).counts("queue_log").loaded == 3
    assert sorted(warehouse_lines(settings)) == sorted(expected([header, *older, header, *newer, *more]))


def test_damaged_lines_are_quarantined_and_counts_add_up(make_settings, site):
    settings = make_settings(SWITCHBOARD_QUEUE_LOG_DIRS=f"lab={site}")
    good = lines(0, 6)
    raw = ("\x00" * 40 + good[0] + "\r\n" + good[1] + "\n\n" + "garbage without pipes\n" + "abc|1.1|q|NONE|ENTERQUEUE||1|1\n"
           + "\n".join(good[2:]) + "\n" + good[2] + "\n")
    (site / "queue_log").write_text(raw)
    counts = load(settings).counts("queue_log")
    # 10 lines: 2 good, 1 blank, 2 damaged, 4 good, 1 exact duplicate (kept raw; staging drops it)
    assert counts.lines_read == 10
    assert (counts.loaded, counts.rejected, counts.skipped_blank) == (7, 2, 1)
    assert counts.balanced
    with duckdb.connect(str(settings.warehouse.duckdb_path), read_only=True) as con:
        rejects = con.sql("select line_no, reason, raw_text from raw_asterisk.queue_log_rejects order by line_no").fetchall()
    assert rejects == [(3, "missing_event", "garbage without pipes"), (4, "bad_epoch", "abc|1.1|q|NONE|ENTERQUEUE||1|1")]


def test_a_damaged_future_time_on_the_last_line_of_a_run_is_quarantined(make_settings, site):
    """The last line read has no line after it: judged against the one before it and the file's
    modification time. Left in, it would be the PBX's newest event (data end years away)."""
    settings = make_settings(SWITCHBOARD_QUEUE_LOG_DIRS=f"lab={site}")
    good = lines(0, 5)
    damaged = good[-1].replace(str(B)[:3], str(int(str(B)[:3]) + 3), 1)  # 2024 read as 2025
    write(site / "queue_log", good[:-1] + [damaged])
    os.utime(site / "queue_log", (B + 3600, B + 3600))  # copied keeping its time (cp -p, rsync -t)
    counts = load(settings).counts("queue_log")
    assert (counts.lines_read, counts.loaded, counts.rejected) == (5, 4, 1)
    with duckdb.connect(str(settings.warehouse.duckdb_path), read_only=True) as con:
        assert con.sql("select line_no, reason, raw_text from raw_asterisk.queue_log_rejects").fetchall() == [
            (4, "epoch_out_of_sequence", damaged)]
    assert warehouse_lines(settings) == expected(good[:-1])


def test_damaged_times_at_the_edges_of_runs_and_chunks_are_judged_by_the_lines_around_them(make_settings, site):
    """A run's first new line has the last line the run before read as its neighbour (kept in the
    stream's position), and a chunk's last line the next chunk's first: a time damaged there
    (2024 read as 2011: the agent logged in for 13 years) is quarantined as in a single read."""
    settings = make_settings(SWITCHBOARD_QUEUE_LOG_DIRS=f"lab={site}")
    config = replace(AsteriskConfig.from_settings(settings), chunk_bytes=100)  # ~2 lines a chunk

    def run() -> IngestCounts:
        report = IngestReport()
        asterisk_pipeline(settings).run(asterisk_source(config, report), loader_file_format="parquet")
        return report.counts("queue_log")

    def past(line: str) -> str:
        return line.replace(str(B)[:3], "129", 1)  # 1709… read as 1299…

    first, more = lines(0, 12), lines(12, 9)
    damaged = [*first[:4], past(first[4]), first[5], past(first[6]), *first[7:]]  # chunks' first and last lines
    write(site / "queue_log", damaged)
    counts = run()
    assert (counts.lines_read, counts.loaded, counts.rejected) == (12, 10, 2)
    write(site / "queue_log", [past(more[0]), *more[1:]], mode="a")  # the next run's first line
    counts = run()
    assert (counts.lines_read, counts.loaded, counts.rejected) == (9, 8, 1)
    with duckdb.connect(str(settings.warehouse.duckdb_path), read_only=True) as con:
        assert con.sql("select line_no, reason from raw_asterisk.queue_log_rejects order by 1").fetchall() == [
            (4, "epoch_out_of_sequence"), (6, "epoch_out_of_sequence"), (12, "epoch_out_of_sequence")]
    assert warehouse_lines(settings) == expected([*first[:4], first[5], *first[7:], *more[1:]])


def _hours_later(line: str, seconds: int) -> str:
    epoch, rest = line.split("|", 1)
    return f"{int(epoch) + seconds}|{rest}"


def test_a_run_ending_on_a_damaged_time_reads_that_line_again_and_quarantines_it_as_one_read_would(make_settings, site):
    """A digit off on the last line a run reads (+2.8 h) passes as a line after a quiet spell: the
    line before it is its only judge. The next run reads it again with the line after it, and the
    warehouse ends as one read of the whole log leaves it: the line quarantined, its agent not
    logged in for hours more (audit D4: incremental runs must equal one run)."""
    settings = make_settings(SWITCHBOARD_QUEUE_LOG_DIRS=f"lab={site}")
    first, more = lines(0, 9), lines(10, 6)
    # an agent's line (a call's line would be vouched for by its call id, which holds its epoch)
    damaged = _hours_later(f"{B + 9}|NONE|ventas|Ana Ruiz|PAUSE|Lunch", 10_000)
    write(site / "queue_log", [*first, damaged])
    counts = load(settings).counts("queue_log")
    assert (counts.lines_read, counts.loaded, counts.rejected, counts.read_again) == (10, 10, 0, 0)
    write(site / "queue_log", more, mode="a")
    counts = load(settings).counts("queue_log")
    assert (counts.lines_read, counts.loaded, counts.rejected, counts.read_again) == (7, 6, 1, 1)
    assert counts.balanced
    assert warehouse_lines(settings) == expected([*first, *more])
    assert rejects(settings) == [(9, "epoch_out_of_sequence", damaged)]
    # a third run with nothing new reads nothing again: the line was settled
    counts = load(settings).counts("queue_log")
    assert (counts.lines_read, counts.read_again) == (0, 0)


def test_a_run_ending_on_a_clock_reset_reads_the_run_again_and_quarantines_it_as_one_read_would(make_settings, site):
    """A PBX restarted with its clock at 2000-01-01 writes QUEUESTART and a login there until NTP
    steps the clock. Read at the end of a run, the two lines wait for the line after them; the next
    run reads them again with it and quarantines both, as one read of the whole log does."""
    settings = make_settings(SWITCHBOARD_QUEUE_LOG_DIRS=f"lab={site}")
    first, more = lines(0, 9), lines(10, 6)
    reset = ["946684800|NONE|NONE|NONE|QUEUESTART|", "946684805|MANAGER|ventas|Ana Ruiz|ADDMEMBER|"]
    write(site / "queue_log", [*first, *reset])
    counts = load(settings).counts("queue_log")
    assert (counts.lines_read, counts.loaded, counts.rejected, counts.read_again) == (11, 11, 0, 0)
    write(site / "queue_log", more, mode="a")
    counts = load(settings).counts("queue_log")
    assert (counts.lines_read, counts.loaded, counts.rejected, counts.read_again) == (8, 6, 2, 2)
    assert counts.balanced
    assert warehouse_lines(settings) == expected([*first, *more])
    assert rejects(settings) == [(9, "epoch_out_of_sequence", reset[0]), (10, "epoch_out_of_sequence", reset[1])]
    assert load(settings).counts("queue_log").lines_read == 0


def test_a_line_after_a_quiet_spell_loads_at_once_and_once_when_read_again(make_settings, site):
    """The first call of the morning is the last line read until the next one comes: loaded at once
    (the log may never grow), read again by the next run and still one row."""
    settings = make_settings(SWITCHBOARD_QUEUE_LOG_DIRS=f"lab={site}")
    night, morning = lines(0, 6), [_hours_later(line, 36_000) for line in lines(6, 6)]
    write(site / "queue_log", [*night, morning[0]])
    counts = load(settings).counts("queue_log")
    assert (counts.lines_read, counts.loaded) == (7, 7)
    assert warehouse_lines(settings) == expected([*night, morning[0]])
    # a run before the next line comes has nothing to read: the line waits for its judge, also
    # while the next line is still being written
    assert load(settings).counts("queue_log").lines_read == 0
    head, tail = morning[1][:12], morning[1][12:]
    write(site / "queue_log", [head], mode="a", newline_at_end=False)
    assert load(settings).counts("queue_log").lines_read == 0
    write(site / "queue_log", [tail, *morning[2:]], mode="a")
    counts = load(settings).counts("queue_log")
    assert (counts.lines_read, counts.loaded, counts.read_again) == (6, 6, 1)
    assert warehouse_lines(settings) == expected([*night, *morning])


def test_a_log_of_two_lines_the_second_years_off_is_read_again_whole_once_it_grows(make_settings, site):
    """Two lines a year apart: each is the other's only neighbour, both are quarantined. Once the
    log grows, its first line has a neighbour that agrees with it, and one read of the whole log
    keeps it: the next run reads both lines again (audit: a login lost when a run stopped there)."""
    settings = make_settings(SWITCHBOARD_QUEUE_LOG_DIRS=f"lab={site}")
    login = f"{B}|NONE|ventas|SIP/100|ADDMEMBER|"
    damaged = f"{B + 31_536_000}|NONE|ventas|Ana Ruiz|PAUSE|Lunch"  # 2024 read as 2025
    write(site / "queue_log", [login, damaged])
    counts = load(settings).counts("queue_log")
    assert (counts.lines_read, counts.loaded, counts.rejected) == (2, 0, 2)
    more = lines(100, 3)
    write(site / "queue_log", more, mode="a")
    counts = load(settings).counts("queue_log")
    assert (counts.lines_read, counts.loaded, counts.rejected, counts.read_again) == (5, 4, 1, 2)
    assert warehouse_lines(settings) == expected([login, *more])
    assert rejects(settings) == [(1, "epoch_out_of_sequence", damaged)]


def test_a_misnamed_or_cut_archive_loads_what_it_holds_instead_of_stopping_the_load(make_settings, site):
    """A `.gz` that is plain text is read as text; an archive cut short gives its whole lines and
    its cut last line is quarantined; the other files load as usual."""
    settings = make_settings(SWITCHBOARD_QUEUE_LOG_DIRS=f"lab={site}")
    plain, archived, live = lines(0, 6), lines(30, 300, "1709540000"), lines(900, 6, "1709549000")
    write(site / "queue_log.2.gz", plain)
    packed = gzip.compress(("\n".join(archived) + "\n").encode())
    (site / "queue_log-20240304.gz").write_bytes(packed[: len(packed) * 2 // 3])
    write(site / "queue_log", live)
    counts = load(settings).counts("queue_log")
    assert counts.balanced and counts.rejected <= 1
    assert set(counts.rejects_by_reason) <= {"unterminated"}  # the line the cut ends in, if any
    got = set(warehouse_lines(settings))
    assert set(expected(plain + live)) <= got
    recovered = got - set(expected(plain + live))
    assert 0 < len(recovered) < len(archived)
    assert recovered == set(expected(archived[: len(recovered)]))  # the cut archive's whole lines, in order
    assert counts.loaded == len(plain) + len(live) + len(recovered)


def test_an_archive_appended_to_the_live_log_is_quarantined_and_the_load_goes_on(make_settings, site):
    """`cat queue_log.1.gz >> queue_log` by mistake: the next run's new bytes start with gzip's,
    which the CSV reader took for a compressed stream, failing this run and every later one
    (independent audit). The archive's bytes are rejected lines; the lines after them load."""
    settings = make_settings(SWITCHBOARD_QUEUE_LOG_DIRS=f"lab={site}")
    first, after = lines(0, 9), lines(60, 6, "1709541000")
    write(site / "queue_log", first)
    load(settings)
    with open(site / "queue_log", "ab") as fh:
        fh.write(gzip.compress(("\n".join(lines(30, 6, "1709540000")) + "\n").encode()) + b"\n")
    write(site / "queue_log", after, mode="a")
    counts = load(settings).counts("queue_log")
    assert counts.balanced and counts.rejected >= 1
    assert counts.loaded == len(after)
    assert warehouse_lines(settings) == expected(first + after)
    assert load(settings).counts("queue_log").lines_read == 0  # nothing left over, nothing read twice


def test_a_pbx_renamed_in_the_setting_is_refused_instead_of_loaded_twice(make_settings, site, tmp_path):
    """A PBX's name is part of its streams' identity: the same file under a new name would load
    every line again (both names in the marts). The run stops naming the setting; the old name
    goes on. A copy of the log in another PBX's folder is that PBX's log and loads."""
    write(site / "queue_log", lines(0, 9))
    load(make_settings(SWITCHBOARD_QUEUE_LOG_DIRS=f"lab={site}"))
    renamed = make_settings(SWITCHBOARD_QUEUE_LOG_DIRS=f"branch={site}")
    with pytest.raises(Exception, match=r"SWITCHBOARD_QUEUE_LOG_DIRS: .*queue_log \(read as PBX 'lab', now 'branch'\)"):
        load(renamed)
    other = tmp_path / "other"
    other.mkdir()
    shutil.copy(site / "queue_log", other / "queue_log")
    write(site / "queue_log", lines(9, 3), mode="a")
    counts = load(make_settings(SWITCHBOARD_QUEUE_LOG_DIRS=f"lab={site},other={other}")).counts("queue_log")
    assert (counts.lines_read, counts.loaded) == (3 + 9, 3 + 9)
    with duckdb.connect(str(renamed.warehouse.duckdb_path), read_only=True) as con:
        assert con.sql("select pbx, count(*) from raw_asterisk.queue_log join raw_asterisk.log_streams "
                       "using (source_stream) group by pbx order by pbx").fetchall() == [("lab", 12), ("other", 9)]


def test_a_pbx_left_out_of_the_setting_is_warned_of_once_and_its_lines_stay(make_settings, site, tmp_path, caplog):
    """A run over other places says that the PBX the last run read is still in the warehouse and
    its marts: otherwise a run over one folder would silently report another's calls with it."""
    other = tmp_path / "other"
    other.mkdir()
    write(site / "queue_log", lines(0, 9))
    write(other / "queue_log", lines(30, 4, "1709540000"))
    both = make_settings(SWITCHBOARD_QUEUE_LOG_DIRS=f"lab={site},other={other}")
    with caplog.at_level("WARNING", logger="pipelines.asterisk.source"):
        load(both)
        assert "read by the last run" not in caplog.text
        assert load(make_settings(SWITCHBOARD_QUEUE_LOG_DIRS=f"other={other}")).counts("queue_log").lines_read == 0
    assert caplog.text.count("read by the last run") == 1
    assert ("SWITCHBOARD_QUEUE_LOG_DIRS: PBX 'lab', read by the last run, has no log in the places configured now: "
            "what was loaded from it stays in the warehouse") in caplog.text
    caplog.clear()
    with caplog.at_level("WARNING", logger="pipelines.asterisk.source"):
        load(make_settings(SWITCHBOARD_QUEUE_LOG_DIRS=f"other={other}"))
    assert "read by the last run" not in caplog.text
    with duckdb.connect(str(both.warehouse.duckdb_path), read_only=True) as con:
        assert con.sql("select pbx, count(*) from raw_asterisk.queue_log join raw_asterisk.log_streams "
                       "using (source_stream) group by pbx order by pbx").fetchall() == [("lab", 9), ("other", 4)]


def test_a_rotation_moved_into_another_configured_folder_is_refused_unless_it_has_its_pbxs_name(
        make_settings, tmp_path):
    """logrotate's `olddir` moves the rotated log into a folder of its own; given as a second
    place without NAME=, that folder was PBX 'archive' and the moved log loaded a second time
    under it (independent audit: 23 visits for 13 calls). Refused naming the setting; with the
    PBX's name on both places the move is a rotation like any other and nothing doubles."""
    logs = tmp_path / "asterisk"
    archive = logs / "archive"
    archive.mkdir(parents=True)
    write(logs / "queue_log", lines(0, 10))
    unnamed = make_settings(SWITCHBOARD_QUEUE_LOG_DIRS=f"{logs},{archive}")
    assert load(unnamed).counts("queue_log").loaded == 10
    os.replace(logs / "queue_log", archive / "queue_log-20261201")
    write(logs / "queue_log", lines(10, 3))
    with pytest.raises(Exception, match=r"SWITCHBOARD_QUEUE_LOG_DIRS: .*queue_log-20261201 \(read as PBX "
                                        r"'asterisk', now in a folder of PBX 'archive'\)"):
        load(unnamed)
    named = make_settings(SWITCHBOARD_QUEUE_LOG_DIRS=f"asterisk={logs},asterisk={archive}")
    counts = load(named).counts("queue_log")
    assert (counts.lines_read, counts.loaded) == (3, 3)
    assert len(warehouse_lines(named)) == 13


def test_unconfigured_source_still_creates_typed_empty_tables(make_settings):
    settings = make_settings()  # no queue_log, no CDR folders
    load(settings)
    with duckdb.connect(str(settings.warehouse.duckdb_path), read_only=True) as con:
        tables = {r[0] for r in con.sql(
            "select table_name from information_schema.tables where table_schema = 'raw_asterisk'").fetchall()}
        assert {"queue_log", "queue_log_rejects", "queue_log_table", "cdr", "cdr_rejects", "log_streams"} <= tables
        assert con.sql("select count(*) from raw_asterisk.queue_log").fetchall() == [(0,)]


def test_missing_location_fails_fast_naming_the_setting(make_settings, tmp_path):
    settings = make_settings(SWITCHBOARD_QUEUE_LOG_DIRS=str(tmp_path / "no-such-folder"))
    with pytest.raises(ValueError, match="SWITCHBOARD_QUEUE_LOG_DIRS"):
        AsteriskConfig.from_settings(settings)


# --- a process killed in the middle of a load ----------------------------------------------------

_KILLER = textwrap.dedent(
    """
    # Runs one load and SIGKILLs itself right after the first queue_log rows reach the warehouse,
    # before dlt can record the load (and with it the new read positions) as complete.
    import os, signal, sys
    from dlt.destinations.impl.duckdb import duck
    original = duck.DuckDbCopyJob.run
    import pyarrow.parquet as pq
    def run_then_die(self):
        original(self)
        # the table's files include the empty one that declares its columns: die after rows
        if self.load_table_name == "queue_log" and pq.ParquetFile(self._file_path).metadata.num_rows:
            os.kill(os.getpid(), signal.SIGKILL)
    duck.DuckDbCopyJob.run = run_then_die
    from switchboard.settings import load_settings
    from pipelines.asterisk.pipeline import run_load
    run_load(load_settings())
    """
)


def test_run_killed_mid_load_then_rerun_equals_clean_run(make_settings, site, tmp_path):
    settings = make_settings(SWITCHBOARD_QUEUE_LOG_DIRS=f"lab={site}")
    history, appended = lines(0, 60), lines(60, 30)
    write(site / "queue_log", history)
    load(settings)
    write(site / "queue_log", appended, mode="a")

    script = tmp_path / "killer.py"
    script.write_text(_KILLER)
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1])}
    proc = subprocess.run([sys.executable, str(script)], env=env, cwd=tmp_path, capture_output=True, text=True)
    assert proc.returncode == -signal.SIGKILL, proc.stderr[-2000:]
    # The killed run did write the appended rows, but not its positions.
    assert len(warehouse_lines(settings)) == 90

    load(settings)  # the rerun reads those bytes again and must replace, not add
    assert warehouse_lines(settings) == expected(history + appended)


@pytest.mark.postgres
def test_incremental_load_on_postgres(make_settings, site, postgres_url):
    settings = make_settings(SWITCHBOARD_QUEUE_LOG_DIRS=f"lab={site}", SWITCHBOARD_WAREHOUSE_URL=postgres_url)
    write(site / "queue_log", lines(0, 9))
    load(settings)
    write(site / "queue_log", lines(9, 3), mode="a")
    assert load(settings).counts("queue_log").loaded == 3
    load(settings)
    import psycopg2

    with psycopg2.connect(settings.warehouse.postgres_dsn()) as con, con.cursor() as cur:
        cur.execute("select count(*), count(distinct (source_stream, line_no)) from raw_asterisk.queue_log")
        assert cur.fetchone() == (12, 12)


def _state_rows(settings) -> list[tuple]:
    sql = ("select pipeline_name, count(*) from raw_asterisk._dlt_pipeline_state "
           "group by pipeline_name order by pipeline_name")
    if settings.warehouse.is_duckdb:
        with duckdb.connect(str(settings.warehouse.duckdb_path), read_only=True) as con:
            return con.execute(sql).fetchall()
    import psycopg2

    with psycopg2.connect(settings.warehouse.postgres_dsn()) as con, con.cursor() as cur:
        cur.execute(sql)
        return cur.fetchall()


@pytest.mark.parametrize("warehouse", ["duckdb", pytest.param("postgres", marks=pytest.mark.postgres)])
def test_superseded_loader_states_are_deleted_and_the_newest_still_restores(make_settings, site, request,
                                                                              monkeypatch, warehouse):
    """dlt adds the whole state (a read position per log) as a row at every load and never deletes
    one; every STATE_PRUNE_EVERY versions (here every one) the rows a newer completed load's
    supersedes go. The next runs still read only the new bytes: the state they restore is kept."""
    from pipelines import destination
    from pipelines.asterisk.numbers import classify_new_numbers

    monkeypatch.setattr(destination, "STATE_PRUNE_EVERY", 1)
    url = {} if warehouse == "duckdb" else {"SWITCHBOARD_WAREHOUSE_URL": request.getfixturevalue("postgres_url")}
    settings = make_settings(SWITCHBOARD_QUEUE_LOG_DIRS=f"lab={site}", **url)
    write(site / "queue_log", lines(0, 9))
    for n in range(1, 5):
        load(settings)
        classify_new_numbers(settings)
        write(site / "queue_log", lines(9 * n, 9), mode="a")
    assert _state_rows(settings) == [("asterisk", 1), ("asterisk_numbers", 1)]  # 4 rows each without
    assert load(settings).counts("queue_log").loaded == 9  # only the last append
    assert load(settings).counts("queue_log").lines_read == 0


def _cdr_line(n: int, start: str = "2024-03-04 10:00:00") -> str:
    return (f'"","300111{n:04d}","500","from-pstn","""Cliente"" <300111{n:04d}>","SIP/trunk-{n:08x}",'
            f'"Local/1001@from-queue-{n:08x};1","Queue","500,t","{start}","{start}","2024-03-04 10:05:00",'
            f'300,300,"ANSWERED","DOCUMENTATION","1709546400.{n}",""')


def test_master_csv_appends_load_once_and_exact_duplicates_are_skipped(make_settings, site):
    settings = make_settings(SWITCHBOARD_ASTERISK_CDR_DIRS=f"lab={site}")
    first = [_cdr_line(i) for i in range(5)]
    write(site / "Master.csv", first + [first[0]])  # a row written twice
    c1 = load(settings).counts("cdr")
    assert (c1.lines_read, c1.loaded, c1.skipped_duplicate, c1.rejected) == (6, 5, 1, 0)
    write(site / "Master.csv", [_cdr_line(i) for i in range(5, 8)] + ["not,a,cdr"], mode="a")
    c2 = load(settings).counts("cdr")
    assert (c2.lines_read, c2.loaded, c2.rejected) == (4, 3, 1) and c2.balanced
    load(settings)
    with duckdb.connect(str(settings.warehouse.duckdb_path), read_only=True) as con:
        assert con.sql("select count(*), count(distinct uniqueid) from raw_asterisk.cdr").fetchall() == [(8, 8)]
        assert con.sql("select reason from raw_asterisk.cdr_rejects").fetchall() == [("too_few_fields",)]


def test_a_master_csv_growing_through_a_fall_back_night_gets_the_times_of_one_read(make_settings, site):
    """Records of the repeated hour appended after a run: the run before says which pass they are
    in (the stream's last end, kept with its position). Read on their own, the second pass took
    the first pass's times, an hour early (independent audit)."""
    def record(n: int, start: str, end: str, duration: int) -> str:
        return _cdr_line(n).replace('"2024-03-04 10:00:00","2024-03-04 10:00:00","2024-03-04 10:05:00",300,300',
                                    f'"2024-11-03 {start}","2024-11-03 {start}","2024-11-03 {end}",{duration},{duration}')
    night = [record(1, "01:40:00", "01:50:00", 600), record(2, "01:55:00", "01:05:00", 600),
             record(3, "01:10:00", "01:20:00", 600)]
    ends = "select end_at from raw_asterisk.cdr order by line_no"
    once = make_settings(SWITCHBOARD_ASTERISK_CDR_DIRS=f"lab={site}", SWITCHBOARD_ASTERISK_CDR_TIMEZONE="America/New_York",
                         SWITCHBOARD_WAREHOUSE_URL=f"duckdb:///{site.parent}/once.duckdb",
                         SWITCHBOARD_STATE_DIR=str(site.parent / "once-state"))
    write(site / "Master.csv", night)
    load(once)
    apart = make_settings(SWITCHBOARD_ASTERISK_CDR_DIRS=f"lab={site}", SWITCHBOARD_ASTERISK_CDR_TIMEZONE="America/New_York")
    write(site / "Master.csv", night[:2])
    load(apart)
    write(site / "Master.csv", night[2:], mode="a")
    load(apart)
    with duckdb.connect(str(once.warehouse.duckdb_path), read_only=True) as con:
        expected = con.sql(ends).fetchall()
    with duckdb.connect(str(apart.warehouse.duckdb_path), read_only=True) as con:
        assert con.sql(ends).fetchall() == expected
    # 01:20 EST is 06:20 UTC
    assert [end.astimezone(UTC).strftime("%H:%M") for (end,) in expected] == ["05:50", "06:05", "06:20"]


def test_realtime_export_is_merged_on_its_id_when_exported_again(make_settings, site):
    settings = make_settings(SWITCHBOARD_QUEUE_LOG_DIRS=f"lab={site}")
    rows = ",".join(
        f"({i},'2024-03-04 10:00:0{i}','1709546400.{i}','ventas','NONE','ENTERQUEUE','','300111000{i}','1','','')"
        for i in range(1, 4))
    header = "CREATE TABLE `queue_log` (\n  `id` bigint NOT NULL,\n  `time` datetime,\n  `callid` varchar(80),\n" \
             "  `queuename` varchar(256),\n  `agent` varchar(80),\n  `event` varchar(32),\n  `data1` varchar(100),\n" \
             "  `data2` varchar(100),\n  `data3` varchar(100),\n  `data4` varchar(100),\n  `data5` varchar(100)\n) ENGINE=InnoDB;\n"
    (site / "queue_log.sql").write_text(header + f"INSERT INTO `queue_log` VALUES {rows};\n")
    assert load(settings).counts("queue_log_table").loaded == 3
    # Exported again a day later with one more row: the old ids merge, nothing doubles.
    more = rows + ",(4,'2024-03-04 10:00:09','1709546400.4','ventas','NONE','ABANDON','1','1','5','','')"
    (site / "queue_log.sql").write_text(header + f"INSERT INTO `queue_log` VALUES {more};\n")
    load(settings)
    with duckdb.connect(str(settings.warehouse.duckdb_path), read_only=True) as con:
        assert con.sql("select count(*) from raw_asterisk.queue_log_table").fetchall() == [(4,)]


def test_an_export_replaced_between_being_listed_and_read_waits_for_the_next_run(make_settings, site, monkeypatch):
    """A new export moved over the old one (a new file under the name) after the listing: read as
    the listed one, it was cut at the old one's size; removed, the run failed (FileNotFoundError)."""
    settings = make_settings(SWITCHBOARD_QUEUE_LOG_DIRS=f"lab={site}")
    header = "time,callid,queuename,agent,event,data1,data2,data3\n"
    row = "2024-03-04 10:00:0{i},1709546400.{i},ventas,NONE,ENTERQUEUE,,300111000{i},1\n"
    (site / "queue_log.csv").write_text(header + row.format(i=1))
    open_log = log_streams.open_log

    def replaced_first(f):
        if f.path.name == "queue_log.csv":
            (site / "next.tmp").write_text(header + "".join(row.format(i=i) for i in range(1, 4)))
            os.replace(site / "next.tmp", site / "queue_log.csv")
            monkeypatch.setattr(log_streams, "open_log", open_log)
        return open_log(f)

    monkeypatch.setattr(log_streams, "open_log", replaced_first)
    first = load(settings).counts("queue_log_table")
    assert (first.lines_read, first.loaded, first.as_metadata()["files_gone_before_read"]) == (0, 0, 1)
    second = load(settings).counts("queue_log_table")
    assert (second.lines_read, second.loaded) == (3, 3) and second.balanced


def test_a_bad_row_in_every_nightly_export_is_rejected_once(make_settings, site):
    """A table's bad row is in each full export after it: it was stored and counted as rejected
    once per export (independent audit). Like a good row met before, it is a skipped duplicate;
    in the same run or a later one."""
    settings = make_settings(SWITCHBOARD_QUEUE_LOG_DIRS=f"lab={site}")
    header = "time,callid,queuename,agent,event,data1,data2,data3,data4,data5"
    good = "2024-03-04 10:00:01,c1,ventas,NONE,ENTERQUEUE,,3001110001,1,,"
    bad = "2024-03-04 1x:00:02,c2,ventas,NONE,ENTERQUEUE,,3001110002,1,,"
    (site / "queue_log-20240304.csv").write_text(f"{header}\n{good}\n{bad}\n")
    (site / "queue_log-20240305.csv").write_text(f"{header}\n{good}\n{bad}\n")
    first = load(settings).counts("queue_log_table")
    (site / "queue_log-20240306.csv").write_text(f"{header}\n{good}\n{bad}\n")
    second = load(settings).counts("queue_log_table")
    assert (first.lines_read, first.loaded, first.rejected, first.skipped_duplicate) == (4, 1, 1, 2)
    assert (second.lines_read, second.loaded, second.rejected, second.skipped_duplicate) == (2, 0, 0, 2)
    assert first.balanced and second.balanced
    assert [(reason, text) for _line, reason, text in rejects(settings)] == [("bad_time", bad)]


@pytest.mark.parametrize("name", ["pbx1.log", "queue_log"])
def test_a_log_named_by_its_path_is_read_only_as_a_log(make_settings, tmp_path, name):
    """Not also as a realtime-table export, which turned every line into a false reject."""
    log = tmp_path / name
    write(log, lines(0, 12))
    settings = make_settings(SWITCHBOARD_QUEUE_LOG_DIRS=str(log))
    report = load(settings)
    for resource in ("queue_log", "queue_log_table"):
        counts = report.counts(resource)
        assert counts.rejected == 0 and counts.balanced, (resource, counts.as_metadata())
        assert counts.lines_read == counts.loaded + counts.rejected + counts.skipped_blank + counts.skipped_duplicate
    assert (report.counts("queue_log").lines_read, report.counts("queue_log").loaded) == (12, 12)
    assert report.counts("queue_log_table").lines_read == 0
    assert rejects(settings) == []
    assert warehouse_lines(settings) == expected(lines(0, 12))


def test_a_parent_folder_of_pbx_folders_loads_each_pbx_and_an_empty_place_is_reported(make_settings, tmp_path, caplog):
    """SWITCHBOARD_QUEUE_LOG_DIRS pointing at the folder that holds the PBX folders loads every
    PBX under its folder's name; a place with nothing to read is warned about and reported in the
    run's counts (it would otherwise look like a day without calls)."""
    pbxs, empty = tmp_path / "pbxs", tmp_path / "not-logs"
    for pbx, base in (("norte", "1709546000"), ("sur", "1709547000")):
        (pbxs / pbx).mkdir(parents=True)
        write(pbxs / pbx / "queue_log", lines(0, 9, base))
    empty.mkdir()
    write(empty / "messages.log", ["[Mar  4 10:00:00] NOTICE[1234] chan_sip.c: Registration failed"])
    settings = make_settings(SWITCHBOARD_QUEUE_LOG_DIRS=f"{pbxs},{empty}/*.log")
    with caplog.at_level("WARNING", logger="pipelines.asterisk.source"):
        counts = load(settings).counts("queue_log")
    assert (counts.lines_read, counts.loaded, counts.streams_read) == (18, 18, 2)
    assert counts.locations_without_logs == [f"{empty}/*.log"]
    assert f"nothing to read in {empty}/*.log" in caplog.text
    with duckdb.connect(str(settings.warehouse.duckdb_path), read_only=True) as con:
        per_pbx = con.sql("select pbx, count(*) from raw_asterisk.queue_log join raw_asterisk.log_streams "
                          "using (source_stream) group by pbx order by pbx").fetchall()
    assert per_pbx == [("norte", 9), ("sur", 9)]


# --- realtime table exports: row identity, order, cut dumps (independent audit) ----------------

DUMP_HEADER = (
    "CREATE TABLE `queue_log` (\n  `id` bigint NOT NULL AUTO_INCREMENT,\n  `time` datetime(6),\n  `callid` varchar(80),\n"
    "  `queuename` varchar(256),\n  `agent` varchar(80),\n  `event` varchar(32),\n  `data1` varchar(100),\n"
    "  `data2` varchar(100),\n  `data3` varchar(100),\n  `data4` varchar(100),\n  `data5` varchar(100),\n"
    "  PRIMARY KEY (`id`)\n) ENGINE=InnoDB;\n"
)


def _dump_rows(day: str, waits: tuple[int, ...], callid_base: int) -> list[str]:
    """A QUEUESTART and, per wait, an ENTERQUEUE and its ABANDON after `wait` s: ids 1, 2, ..."""
    rows = [f"'{day} 09:00:00.250000','NONE','NONE','NONE','QUEUESTART','','','','',''"]
    for n, wait in enumerate(waits, start=1):
        call = f"{callid_base}.{n}"
        rows.append(f"'{day} 09:{10 * n}:00.250000','{call}','sales','NONE','ENTERQUEUE','','555300{n}','1','',''")
        rows.append(f"'{day} 09:{10 * n}:{wait:02d}.250000','{call}','sales','NONE','ABANDON','1','1','{wait}','',''")
    return [f"({i},{row})" for i, row in enumerate(rows, start=1)]


DAY1 = _dump_rows("2024-03-05", (10, 20, 30), 1709629795)  # ids 1-7
DAY2 = _dump_rows("2024-03-06", (40, 50), 1709716195)  # ids 1-5 again: the table was emptied


def _write_dump(path: Path, rows: list[str], *, tail: str = ";\n") -> None:
    path.write_text(DUMP_HEADER + "INSERT INTO `queue_log` VALUES " + ",".join(rows) + tail)


def _table_rows(settings) -> list[tuple]:
    with duckdb.connect(str(settings.warehouse.duckdb_path), read_only=True) as con:
        return con.sql("select row_key, event_time_text, event from raw_asterisk.queue_log_table "
                       "order by event_time_text").fetchall()


def test_a_dump_holding_other_tables_loads_its_queue_log_rows_and_names_the_tables_left_out(make_settings, site,
                                                                                            caplog):
    """A backup dump holds more tables than queue_log (cdr, an archive of queue_log): their rows
    are not queue_log lines of this log and are not counted, but the run says it left them out
    (it did so silently: independent audit)."""
    settings = make_settings(SWITCHBOARD_QUEUE_LOG_DIRS=f"lab={site}")
    _write_dump(site / "queue_log-backup.sql", DAY1[:3],
                tail=";\nINSERT INTO `cdr` VALUES (1,'x');\nINSERT INTO `queue_log_history` VALUES (9,'y');\n")
    with caplog.at_level("WARNING", logger="pipelines.asterisk.source"):
        counts = load(settings).counts("queue_log_table")
    assert (counts.lines_read, counts.loaded, counts.rejected) == (3, 3, 0) and counts.balanced
    assert "the rows of table(s) cdr, queue_log_history in this dump are not read" in caplog.text


def test_a_damaged_csv_export_is_quarantined_and_the_dump_beside_it_loads(make_settings, site):
    """A CSV export cut inside a quoted field made the reader raise: the whole Asterisk load
    stopped, the good dump beside it too (independent audit). Its lines are rejected instead."""
    settings = make_settings(SWITCHBOARD_QUEUE_LOG_DIRS=f"lab={site}")
    _write_dump(site / "queue_log-20240305.sql", DAY1[:3])
    cut = '2024-03-05 09:10:00,1709629800.1,ventas,"Ana Ruiz'
    (site / "queue_log-export.csv").write_text(
        "time,callid,queuename,agent,event,data\n2024-03-05 09:09:59,1709629800.1,ventas,NONE,ENTERQUEUE,|300|1\n"
        + cut + "\n")
    counts = load(settings).counts("queue_log_table")
    assert (counts.lines_read, counts.loaded, counts.rejected) == (5, 4, 1) and counts.balanced
    with duckdb.connect(str(settings.warehouse.duckdb_path), read_only=True) as con:
        assert con.sql("select reason, raw_text from raw_asterisk.queue_log_rejects").fetchall() == [("bad_row", cut)]
        assert con.sql("select count(*) from raw_asterisk.queue_log_table").fetchall() == [(4,)]


def test_realtime_dumps_of_a_table_emptied_between_them_keep_the_rows_of_both(make_settings, site):
    """After TRUNCATE TABLE the ids start again at 1: the second day's dump (ids 1-5) must not
    replace the first day's rows of the same ids; the same dump exported again merges."""
    settings = make_settings(SWITCHBOARD_QUEUE_LOG_DIRS=f"lab={site}")
    _write_dump(site / "queue_log-20240305.sql", DAY1)
    _write_dump(site / "queue_log-20240306.sql", DAY2)
    counts = load(settings).counts("queue_log_table")
    assert (counts.lines_read, counts.loaded, counts.rejected, counts.skipped_duplicate) == (12, 12, 0, 0)
    rows = _table_rows(settings)
    assert [(key.split(":")[0], event) for key, _time, event in rows] == [
        ("1", "QUEUESTART"), ("2", "ENTERQUEUE"), ("3", "ABANDON"), ("4", "ENTERQUEUE"), ("5", "ABANDON"),
        ("6", "ENTERQUEUE"), ("7", "ABANDON"),
        ("1", "QUEUESTART"), ("2", "ENTERQUEUE"), ("3", "ABANDON"), ("4", "ENTERQUEUE"), ("5", "ABANDON"),
    ]
    assert [t[:10] for _key, t, _event in rows] == ["2024-03-05"] * 7 + ["2024-03-06"] * 5
    # The first day's table exported again a day later, before it was emptied, with one more row.
    # Its seven stored rows are skipped as duplicates: `loaded` is what the table gains.
    more = DAY1 + ["(8,'2024-03-05 23:00:00.000000','NONE','NONE','NONE','CONFIGRELOAD','','','','','')"]
    _write_dump(site / "queue_log-20240305.sql", more)
    counts = load(settings).counts("queue_log_table")
    assert (counts.lines_read, counts.loaded, counts.skipped_duplicate, counts.rejected) == (8, 1, 7, 0)
    assert counts.balanced
    assert len(_table_rows(settings)) == 13


def test_nightly_exports_of_a_growing_table_load_each_row_once_and_count_the_rest_as_duplicates(
        make_settings, site):
    """Two nights' exports of a table never emptied, both found by the first run: the second repeats
    the first's seven rows and adds one. Each row is loaded once; the repeats are skipped
    duplicates, so that `loaded` is the rows the table gains."""
    settings = make_settings(SWITCHBOARD_QUEUE_LOG_DIRS=f"lab={site}")
    _write_dump(site / "queue_log-20240305.sql", DAY1)
    more = DAY1 + ["(8,'2024-03-05 23:00:00.000000','NONE','NONE','NONE','CONFIGRELOAD','','','','','')"]
    _write_dump(site / "queue_log-20240306.sql", more)
    counts = load(settings).counts("queue_log_table")
    assert (counts.lines_read, counts.loaded, counts.skipped_duplicate, counts.rejected) == (15, 8, 7, 0)
    assert counts.balanced
    assert [key.split(":")[0] for key, _t, _event in _table_rows(settings)] == [str(i) for i in range(1, 9)]


def test_rows_loaded_under_their_id_alone_keep_their_key_when_exported_again(make_settings, site):
    """A warehouse loaded before keys held a row's content has rows keyed by their id alone. The
    same rows exported again merge onto them under that key (staging's event_id of a row is made
    from its key: it stays); another event under one of their ids is a row of its own."""
    settings = make_settings(SWITCHBOARD_QUEUE_LOG_DIRS=f"lab={site}")
    _write_dump(site / "queue_log-20240305.sql", DAY1)
    load(settings)
    with duckdb.connect(str(settings.warehouse.duckdb_path)) as con:  # as the loader used to key them
        con.execute("update raw_asterisk.queue_log_table set row_key = split_part(row_key, ':', 1)")
    _write_dump(site / "queue_log-20240305.sql", DAY1, tail=";\nUNLOCK TABLES;\n")  # exported again
    _write_dump(site / "queue_log-20240306.sql", DAY2)
    counts = load(settings).counts("queue_log_table")
    # the first day's seven rows are already stored: only the second day's five are loaded
    assert (counts.lines_read, counts.loaded, counts.skipped_duplicate, counts.rejected) == (12, 5, 7, 0)
    rows = _table_rows(settings)
    assert len(rows) == 12
    assert [key for key, t, _event in rows if t.startswith("2024-03-05")] == ["1", "2", "3", "4", "5", "6", "7"]
    day2 = [key for key, t, _event in rows if t.startswith("2024-03-06")]
    assert [key.split(":")[0] for key in day2] == ["1", "2", "3", "4", "5"]
    assert all(len(key.split(":")[1]) == 32 for key in day2)


def test_a_cut_realtime_dump_rejects_its_cut_row_until_the_dump_is_whole(make_settings, site):
    """A dump that ends partway through a row: that row is rejected (unterminated, its exact text)
    and counted; once the dump is whole it loads and its reject is gone."""
    settings = make_settings(SWITCHBOARD_QUEUE_LOG_DIRS=f"lab={site}")
    whole = DAY1[-1]
    cut = whole[:whole.index(".250000")]  # "(7,'2024-03-05 09:30:30"
    path = site / "queue_log.sql"
    path.write_text(DUMP_HEADER + "INSERT INTO `queue_log` VALUES " + ",".join(DAY1[:-1]) + "," + cut)
    counts = load(settings).counts("queue_log_table")
    assert (counts.lines_read, counts.loaded, counts.rejected) == (7, 6, 1) and counts.balanced
    assert counts.rejects_by_reason == {"unterminated": 1}
    assert rejects(settings) == [(6, "unterminated", cut)]
    _write_dump(path, DAY1)
    counts = load(settings).counts("queue_log_table")
    assert (counts.lines_read, counts.loaded, counts.skipped_duplicate, counts.rejected) == (7, 1, 6, 0)
    assert rejects(settings) == []
    assert [event for _key, _time, event in _table_rows(settings)][-1] == "ABANDON"


NEWEST_FIRST_EXPORT = [
    "time,callid,queuename,agent,event,data1,data2,data3,data4,data5",
    "2024-03-05 12:31:00.000000,NONE,soporte,Ana Ruiz,UNPAUSE,,,,,",
    "2024-03-05 12:30:00.900000,1709641790.11,soporte,NONE,ABANDON,1,1,0,,",
    "2024-03-05 12:30:00.100000,1709641790.11,soporte,NONE,ENTERQUEUE,,5551011,1,,",
    "2024-03-05 12:00:00.000000,NONE,soporte,Ana Ruiz,PAUSE,Lunch,,,,",
    "2024-03-05 08:00:00.100000,NONE,NONE,NONE,QUEUESTART,,,,,",
]


def test_an_export_without_ids_printed_newest_first_loads_in_time_order(make_settings, site):
    """Wazo prints the table newest first: rows of one second are in time order in the warehouse
    (row_no, by which staging orders rows without an id), ENTERQUEUE before its ABANDON."""
    settings = make_settings(SWITCHBOARD_QUEUE_LOG_DIRS=f"lab={site}")
    write(site / "queue_log_newest.csv", NEWEST_FIRST_EXPORT)
    assert load(settings).counts("queue_log_table").loaded == 5
    with duckdb.connect(str(settings.warehouse.duckdb_path), read_only=True) as con:
        order = con.sql("select event from raw_asterisk.queue_log_table order by event_epoch, row_no").fetchall()
    assert [e for (e,) in order] == ["QUEUESTART", "PAUSE", "ENTERQUEUE", "ABANDON", "UNPAUSE"]


def _same_second_abandons(with_ids: bool) -> list[str]:
    """Ten callers of 'copias' who hang up in the second they queued (wait 0 s): their
    ENTERQUEUE and ABANDON share a time, so only the table's order says which came first."""
    rows = ["2024-03-07 08:00:00,NONE,NONE,NONE,QUEUESTART,,,,,"]
    for call in range(10):
        at = f"2024-03-07 09:{call:02d}:00"
        rows += [f"{at},1709802{call:03d}.{call},copias,NONE,ENTERQUEUE,,555200{call},1,,",
                 f"{at},1709802{call:03d}.{call},copias,NONE,ABANDON,1,1,0,,"]
    header = "time,callid,queuename,agent,event,data1,data2,data3,data4,data5"
    if with_ids:
        return [f"id,{header}"] + [f"{row_id},{row}" for row_id, row in enumerate(rows, start=1)]
    return [header] + rows


@pytest.mark.slow
def test_realtime_exports_give_the_hand_computed_queue_figures(make_settings, tmp_path):
    """End to end (load, dbt, marts): the two dumps of an emptied table and a newest-first export.
    sales, 2024-03-05: offered 3, abandoned 3 (after 10, 20, 30 s: none short, ≤ 5 s);
    sales, 2024-03-06: offered 2, abandoned 2 (40, 50 s) — before, day 2's ids replaced day 1's
    rows: 1 call offered on 2024-03-05.
    soporte, 2024-03-05: offered 1, abandoned 1 after 0 s (short), no open visit — before, the
    ABANDON came first: an abandon without its entry and an ENTERQUEUE left open.
    copias, 2024-03-07: one table exported twice, with ids and without: offered 10, abandoned 10,
    all short, none open — before, a call's ENTERQUEUE could be kept from one export and its
    ABANDON from the other, in either order (independent audit)."""
    from switchboard import cli

    dumps, wazo, copies = tmp_path / "pbx4", tmp_path / "wazo", tmp_path / "copies"
    for folder in (dumps, wazo, copies):
        folder.mkdir()
    _write_dump(dumps / "queue_log-20240305.sql", DAY1)
    _write_dump(dumps / "queue_log-20240306.sql", DAY2)
    write(wazo / "queue_log_newest.csv", NEWEST_FIRST_EXPORT)
    write(copies / "queue_log_with_ids.csv", _same_second_abandons(with_ids=True))
    write(copies / "queue_log_without_ids.csv", _same_second_abandons(with_ids=False))
    settings = make_settings(SWITCHBOARD_QUEUE_LOG_DIRS=f"pbx4={dumps},wazo={wazo},copies={copies}")
    assert cli.main(["materialize"]) == 0
    with duckdb.connect(str(settings.serving_path), read_only=True) as con:
        figures = con.sql(
            "select queue, cast(day as varchar), offered, abandoned, short_abandons, open_visits "
            "from marts.agg_queue_daily order by queue, day").fetchall()
    assert figures == [
        ("copias", "2024-03-07", 10, 10, 10, 0),
        ("sales", "2024-03-05", 3, 3, 0, 0),
        ("sales", "2024-03-06", 2, 2, 0, 0),
        ("soporte", "2024-03-05", 1, 1, 1, 0),
    ]


# --- Master.csv: damaged records, cut last lines, rows in two files of a run (independent audit) ---


def cdr_rejects(settings) -> list[tuple]:
    with duckdb.connect(str(settings.warehouse.duckdb_path), read_only=True) as con:
        return con.sql("select line_no, reason, raw_text from raw_asterisk.cdr_rejects order by line_no").fetchall()


def cdr_uniqueids(settings) -> list[str]:
    with duckdb.connect(str(settings.warehouse.duckdb_path), read_only=True) as con:
        return [u for (u,) in con.sql("select uniqueid from raw_asterisk.cdr order by uniqueid").fetchall()]


def test_damaged_master_csv_records_are_quarantined_and_the_rest_of_the_site_loads(make_settings, site):
    """What an unclean shutdown leaves in Master.csv — a record cut inside a quoted field, NULs, the
    next record on the same line; a record cut and then a newline — and rows with too many fields
    or an unreadable time are set aside with their reason and exact text; every other row loads,
    queue_log too, and the counts add up (independent audit: the whole Asterisk load failed)."""
    settings = make_settings(SWITCHBOARD_QUEUE_LOG_DIRS=f"lab={site}", SWITCHBOARD_ASTERISK_CDR_DIRS=f"lab={site}")
    write(site / "queue_log", lines(0, 6))
    good = [_cdr_line(i) for i in range(8)]
    cut_by_crash = good[2][:good[2].index("Cliente") + 3]  # …,"""Cli
    cut_then_newline = good[4][:good[4].index("Local/1001") + 5]  # …,"Local
    too_many = good[5] + ',"p","l",1,"extra1","extra2"'
    bad_answer = good[6].replace('"2024-03-04 10:00:00","2024-03-04 10:05:00"', '"not a time","2024-03-04 10:05:00"')
    assert bad_answer != good[6]
    text = "\n".join([good[0], good[1], cut_by_crash + "\x00" * 64 + good[3], cut_then_newline, too_many, bad_answer,
                      "", good[7]]) + "\n"
    (site / "Master.csv").write_text(text)
    report = load(settings)
    assert report.counts("queue_log").loaded == 6
    c = report.counts("cdr")
    # 8 lines as written, 9 as read: the NUL run ends the cut record before the next one
    assert (c.lines_read, c.loaded, c.rejected, c.skipped_blank, c.skipped_duplicate) == (9, 4, 4, 1, 0)
    assert c.balanced
    assert c.rejects_by_reason == {"cut_by_crash": 1, "bad_quoting": 1, "too_many_fields": 1, "bad_answer_time": 1}
    assert cdr_rejects(settings) == [(2, "cut_by_crash", cut_by_crash), (4, "bad_quoting", cut_then_newline),
                                     (5, "too_many_fields", too_many), (6, "bad_answer_time", bad_answer)]
    assert cdr_uniqueids(settings) == [f"1709546400.{i}" for i in (0, 1, 3, 7)]
    with duckdb.connect(str(settings.warehouse.duckdb_path), read_only=True) as con:
        offsets = con.sql("select line_no, byte_offset from raw_asterisk.cdr_rejects order by line_no").fetchall()
    assert offsets[:2] == [(2, text.index(cut_by_crash)), (4, text.index(cut_then_newline))]

    again = load(settings).counts("cdr")
    assert (again.lines_read, again.rejected) == (0, 0)
    assert len(cdr_rejects(settings)) == 4


@pytest.mark.parametrize("cut_at", ["field_end", "inside_quotes"])
def test_a_rotated_master_csv_whose_last_record_was_cut_waits_then_is_rejected_as_unterminated(
        make_settings, site, cut_at):
    """A rotated Master.csv.1 may still be finished by Asterisk for ROTATED_TAIL_GRACE_SECONDS; after
    that its unterminated last line is final: read once and quarantined as unterminated, as
    queue_log's is — not loaded as a whole record without its userfield (nor failing the load)."""
    settings = make_settings(SWITCHBOARD_ASTERISK_CDR_DIRS=f"lab={site}")
    whole = [_cdr_line(i) for i in range(3)]
    last = _cdr_line(3)
    cut = last[:-3] if cut_at == "field_end" else last[:last.index("Cliente") + 3]  # …,"1709546400.3"  /  …,"""Cli
    write(site / "Master.csv.1", [*whole, cut], newline_at_end=False)
    c = load(settings).counts("cdr")
    assert (c.lines_read, c.loaded, c.rejected) == (3, 3, 0)  # modified just now: it may still be finished

    past_grace = time.time() - ROTATED_TAIL_GRACE_SECONDS - 60
    os.utime(site / "Master.csv.1", (past_grace, past_grace))
    c = load(settings).counts("cdr")
    assert (c.lines_read, c.loaded, c.rejected, c.rejects_by_reason) == (1, 0, 1, {"unterminated": 1})
    assert c.balanced
    assert load(settings).counts("cdr").lines_read == 0  # nothing read twice
    assert cdr_rejects(settings) == [(3, "unterminated", cut)]
    assert cdr_uniqueids(settings) == [f"1709546400.{i}" for i in range(3)]


def test_a_rotated_master_csv_whose_cut_record_is_finished_after_all_loads_it_whole(make_settings, site):
    """A Master.csv.1 taken as final with a cut last record that then grows after all (a copy that
    stalled and resumed): the record is read again whole and its unterminated reject removed."""
    settings = make_settings(SWITCHBOARD_ASTERISK_CDR_DIRS=f"lab={site}")
    whole, last = [_cdr_line(i) for i in range(3)], _cdr_line(3)
    past_grace = time.time() - ROTATED_TAIL_GRACE_SECONDS - 60
    write(site / "Master.csv.1", [*whole, last[:-10]], newline_at_end=False)
    os.utime(site / "Master.csv.1", (past_grace, past_grace))
    c = load(settings).counts("cdr")
    assert (c.lines_read, c.loaded, c.rejected, c.rejects_by_reason) == (4, 3, 1, {"unterminated": 1})

    write(site / "Master.csv.1", [*whole, last])
    os.utime(site / "Master.csv.1", (past_grace, past_grace))
    c = load(settings).counts("cdr")
    assert (c.lines_read, c.read_again, c.loaded, c.rejected) == (1, 1, 1, 0) and c.balanced
    assert cdr_rejects(settings) == []
    assert cdr_uniqueids(settings) == [f"1709546400.{i}" for i in range(4)]


def test_a_master_csv_record_finished_in_the_renamed_file_within_the_grace_period_loads_whole(make_settings, site):
    """cdr_csv may finish a record it had begun before logrotate renamed Master.csv: that line
    waits, in the live file and in the fresh rotated copy, and loads whole once finished."""
    settings = make_settings(SWITCHBOARD_ASTERISK_CDR_DIRS=f"lab={site}")
    whole, last = [_cdr_line(i) for i in range(3)], _cdr_line(3)
    write(site / "Master.csv", [*whole, last[:-10]], newline_at_end=False)
    c = load(settings).counts("cdr")
    assert (c.lines_read, c.loaded) == (3, 3)
    (site / "Master.csv").rename(site / "Master.csv.1")
    assert load(settings).counts("cdr").lines_read == 0
    with open(site / "Master.csv.1", "a") as fh:
        fh.write(last[-10:] + "\n")
    write(site / "Master.csv", [_cdr_line(10)])
    c = load(settings).counts("cdr")
    assert (c.lines_read, c.loaded, c.rejected) == (2, 2, 0) and c.balanced
    assert cdr_rejects(settings) == []
    assert cdr_uniqueids(settings) == sorted(f"1709546400.{i}" for i in (0, 1, 2, 3, 10))


def test_a_master_csv_row_in_two_files_of_one_run_is_loaded_once_and_counted_once(make_settings, site):
    """Master.csv.1 and a Master.csv that both hold record C (the files start differently: two
    streams) give the table C once; the second is a skipped duplicate, so `loaded` is the rows
    the table receives (independent audit: loaded=8 for 7 rows)."""
    settings = make_settings(SWITCHBOARD_ASTERISK_CDR_DIRS=f"lab={site}")
    rows = [_cdr_line(i) for i in range(7)]
    write(site / "Master.csv.1", rows[:3])
    write(site / "Master.csv", rows[2:])
    c = load(settings).counts("cdr")
    assert (c.lines_read, c.loaded, c.skipped_duplicate, c.rejected) == (8, 7, 1, 0) and c.balanced
    with duckdb.connect(str(settings.warehouse.duckdb_path), read_only=True) as con:
        assert con.sql("select count(*), count(distinct uniqueid) from raw_asterisk.cdr").fetchall() == [(7, 7)]
    # an append to the live file that repeats a row read from the rotated copy this run: skipped too
    write(site / "Master.csv.1", [_cdr_line(20)], mode="a")
    write(site / "Master.csv", [_cdr_line(20), _cdr_line(21)], mode="a")
    c = load(settings).counts("cdr")
    assert (c.lines_read, c.loaded, c.skipped_duplicate) == (3, 2, 1) and c.balanced
    assert len(cdr_uniqueids(settings)) == 9


@pytest.mark.parametrize("warehouse", ["duckdb", pytest.param("postgres", marks=pytest.mark.postgres)])
def test_a_master_csv_row_loaded_by_an_earlier_run_is_a_skipped_duplicate_and_keeps_its_line(
        make_settings, site, request, warehouse):
    """A rotated copy read in a later run repeats rows the warehouse already holds: they are skipped
    duplicates, not counted as loaded (independent audit: loaded=4 for 3 new rows), and the row
    keeps the file and line it was first loaded from (the merge used to move it to the copy)."""
    url = {"SWITCHBOARD_WAREHOUSE_URL": request.getfixturevalue("postgres_url")} if warehouse == "postgres" else {}
    settings = make_settings(SWITCHBOARD_ASTERISK_CDR_DIRS=f"lab={site}", **url)
    write(site / "Master.csv", [_cdr_line(i) for i in range(3)])
    assert load(settings).counts("cdr").loaded == 3
    write(site / "Master.csv.1", [_cdr_line(9), _cdr_line(1), _cdr_line(2)])  # an older copy, one row new
    write(site / "Master.csv", [_cdr_line(3)], mode="a")
    c = load(settings).counts("cdr")
    assert (c.lines_read, c.loaded, c.skipped_duplicate) == (4, 2, 2) and c.balanced
    query = "select uniqueid, source_file, line_no from raw_asterisk.cdr order by uniqueid"
    # the merge's staging copies (dlt's `<dataset>_staging`) are emptied after each load: they kept
    # the last batch, callers' numbers included, beside the documented schemas (independent audit)
    staging = ("select table_name from information_schema.tables where table_schema = 'raw_asterisk_staging' "
               "and table_name not like '\\_dlt\\_%' escape '\\' order by table_name")  # (dlt's schema record stays)
    if warehouse == "postgres":
        import psycopg2

        with psycopg2.connect(settings.warehouse.postgres_dsn()) as con, con.cursor() as cur:
            cur.execute(query)
            found = cur.fetchall()
            cur.execute(staging)
            staged = {name: None for (name,) in cur.fetchall()}
            for name in staged:
                cur.execute(f'select count(*) from raw_asterisk_staging."{name}"')
                staged[name] = cur.fetchone()[0]
    else:
        with duckdb.connect(str(settings.warehouse.duckdb_path), read_only=True) as con:
            found = con.sql(query).fetchall()
            staged = {name: con.sql(f'select count(*) from raw_asterisk_staging."{name}"').fetchall()[0][0]
                      for (name,) in con.sql(staging).fetchall()}
    assert "cdr" in staged and set(staged.values()) == {0}, staged
    live, copy = str(site / "Master.csv"), str(site / "Master.csv.1")
    assert [(uniqueid, Path(file).name, line_no) for uniqueid, file, line_no in found] == [
        ("1709546400.0", "Master.csv", 0), ("1709546400.1", "Master.csv", 1), ("1709546400.2", "Master.csv", 2),
        ("1709546400.3", "Master.csv", 3), ("1709546400.9", "Master.csv.1", 0)]
    assert {live, copy} >= {file for _u, file, _n in found}


@pytest.mark.postgres
def test_rows_loaded_under_their_id_alone_keep_their_key_on_postgres(make_settings, site, postgres_url):
    """The warehouse's md5 of a row loaded before (Postgres) matches the parser's (DuckDB), also
    for quotes, backslashes, non-ASCII text and empty fields."""
    settings = make_settings(SWITCHBOARD_QUEUE_LOG_DIRS=f"lab={site}", SWITCHBOARD_WAREHOUSE_URL=postgres_url)
    rows = DAY1[:3] + ["(4,'2024-03-05 09:40:00','NONE','sales','Lucía O\\'Hara \\\\ Jr','PAUSE','Almuerzo | 1',NULL,'','','')"]
    _write_dump(site / "queue_log-20240305.sql", rows)
    load(settings)
    import psycopg2

    with psycopg2.connect(settings.warehouse.postgres_dsn()) as con, con.cursor() as cur:
        cur.execute("update raw_asterisk.queue_log_table set row_key = split_part(row_key, ':', 1)")
    _write_dump(site / "queue_log-20240305.sql", rows, tail=";\nUNLOCK TABLES;\n")  # exported again
    _write_dump(site / "queue_log-20240306.sql", DAY2[:2])
    counts = load(settings).counts("queue_log_table")
    assert (counts.loaded, counts.skipped_duplicate) == (2, 4)  # the four stored rows skipped
    with psycopg2.connect(settings.warehouse.postgres_dsn()) as con, con.cursor() as cur:
        cur.execute("select row_key, agent from raw_asterisk.queue_log_table order by event_time_text")
        found = cur.fetchall()
    assert [(key.split(":")[0], agent) for key, agent in found] == [
        ("1", "NONE"), ("2", "NONE"), ("3", "NONE"), ("4", "Lucía O'Hara \\ Jr"), ("1", "NONE"), ("2", "NONE")]
    assert [key for key, _agent in found][:4] == ["1", "2", "3", "4"]


def test_loaded_rows_with_bytes_that_are_not_utf8_are_counted(make_settings, site):
    """A Latin-1 name in queue_log, Master.csv or a realtime export loads with U+FFFD in place of
    its byte (reference §4.12), and each run reports how many loaded rows carry one."""
    settings = make_settings(SWITCHBOARD_QUEUE_LOG_DIRS=f"lab={site}", SWITCHBOARD_ASTERISK_CDR_DIRS=f"lab={site}")
    (site / "queue_log").write_bytes(
        "\n".join(lines(0, 3)).encode() + f"\n{B + 9}|NONE|ventas|".encode() + "José|PAUSE|almuerzo\n".encode("latin-1"))
    (site / "Master.csv").write_bytes(
        (_cdr_line(0) + "\n" + _cdr_line(1).replace("Cliente", "Mar\xeda") + "\n").encode("latin-1"))
    (site / "queue_log-export.csv").write_bytes(
        "time,callid,queuename,agent,event,data\n2024-03-05 09:00:00,NONE,ventas,Nuñez,PAUSE,almuerzo\n"
        "2024-03-05 09:01:00,NONE,ventas,Nuñez,UNPAUSE,\n".encode("latin-1"))
    report = load(settings)
    found = {name: (report.counts(name).loaded, report.counts(name).loaded_with_replaced_bytes)
             for name in ("queue_log", "cdr", "queue_log_table")}
    assert found == {"queue_log": (4, 1), "cdr": (2, 1), "queue_log_table": (2, 2)}
    assert report.counts("queue_log").as_metadata()["loaded_with_replaced_bytes"] == 1
    with duckdb.connect(str(settings.warehouse.duckdb_path), read_only=True) as con:
        assert con.sql("select agent from raw_asterisk.queue_log where event = 'PAUSE'").fetchall() == [("Jos\ufffd",)]
