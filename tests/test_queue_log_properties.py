"""Properties of queue_log reading, checked on generated logs (hypothesis, derandomized so that a
run is repeatable): whatever damage the bytes hold, every line is accounted for and only the
damaged lines are set aside; wherever a live log is cut between runs, the warehouse ends up with
what one read of the whole file gives.
"""

from __future__ import annotations

from dataclasses import replace

import duckdb
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pipelines.asterisk.pipeline import asterisk_pipeline
from pipelines.asterisk.queue_log_parser import REJECT_REASONS, parse_chunk
from pipelines.asterisk.source import AsteriskConfig, IngestReport, asterisk_source

B = 1_709_546_400  # 2024-03-04 10:00:00 UTC
REPEATABLE = dict(deadline=None, derandomize=True, database=None,
                  suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])

# Damaged lines and the reason each must be set aside for (None: a blank line, skipped).
DAMAGE = {
    b"": None,
    b"\x00\x00\x00\x00": None,  # a NUL run on a line of its own: blank once NULs are dropped
    b"   ": None,
    b"garbage without fields": "missing_event",
    b"1709546400|1709546000.1|ventas": "missing_event",
    b"17095x6400|1709546000.1|ventas|NONE|ENTERQUEUE||3001|1": "bad_epoch",
    b"99999999999|1709546000.1|ventas|NONE|ENTERQUEUE||3001|1": "bad_epoch",
    b"\xff\xfebad|1709546000.1|ventas|NONE|ENTERQUEUE||3001|1": "bad_epoch",
    b"|".join([b"1709546400"] + [b"x"] * 19): "too_many_fields",
}
EVENTS = ("ENTERQUEUE||30011|1", "CONNECT|3|{call}9|1", "COMPLETECALLER|3|40|1", "RINGNOANSWER|15000",
          "ABANDON|1|1|12", "Información|áé|ñ")


@st.composite
def queue_logs(draw, max_lines: int = 40) -> tuple[list[bytes], list[bytes], dict[str, int]]:
    """(the file's lines without their ends, the good ones, the rejects expected by reason):
    good lines a second or a few apart, damaged lines between them, LF or CRLF ends."""
    lines, good, rejected = [], [], {}
    epoch = B
    for i in range(draw(st.integers(1, max_lines))):
        if draw(st.integers(0, 4)) == 0:
            damaged = draw(st.sampled_from(sorted(DAMAGE)))
            lines.append(damaged)
            if DAMAGE[damaged]:
                rejected[DAMAGE[damaged]] = rejected.get(DAMAGE[damaged], 0) + 1
            continue
        epoch += draw(st.integers(0, 5))
        call = f"1709546000.{i // 3}"
        agent = draw(st.sampled_from(["NONE", "Ana Ruiz", "SIP/2001"]))
        event = draw(st.sampled_from(EVENTS)).format(call=call)
        line = f"{epoch}|{call}|ventas|{agent}|{event}".encode()
        lines.append(line)
        good.append(line)
    return lines, good, rejected


def joined(lines: list[bytes], crlf: bool) -> bytes:
    end = b"\r\n" if crlf else b"\n"
    return b"".join(line + end for line in lines)


@settings(max_examples=300, **REPEATABLE)
@given(queue_logs(), st.booleans())
def test_every_line_is_an_event_a_reject_or_a_blank_and_only_damaged_lines_are_set_aside(log, crlf):
    lines, good, rejected = log
    out = parse_chunk(joined(lines, crlf))
    assert out.lines_read == len(lines) == out.events.height + out.rejects.height + out.skipped_blank
    assert set(out.rejects["reason"]) <= set(REJECT_REASONS)
    assert dict(out.rejects.group_by("reason").len().rows()) == rejected
    assert out.rejects["raw_text"].null_count() == 0
    read = [int(e) for e in out.events["event_epoch"]]
    assert read == [int(line.split(b"|")[0]) for line in good]
    assert out.events["line_no"].to_list() == [i for i, line in enumerate(lines) if line in good]


@pytest.mark.slow  # a dozen logs, each loaded into two DuckDB warehouses in up to four runs
@settings(max_examples=12, **REPEATABLE)
@given(queue_logs(max_lines=24), st.lists(st.floats(0, 1), max_size=3), st.integers(60, 400))
def test_a_log_read_in_pieces_at_any_byte_gives_what_one_read_gives(make_settings, tmp_path_factory, log, cuts,
                                                                    chunk_bytes):
    """Runs between any two bytes (mid-line, mid-CRLF, mid-character), in chunks of any size: the
    same rows and rejects as one read of the whole file, an unfinished last line left for later."""
    lines, _good, _rejected = log
    data = joined(lines, crlf=False)
    positions = sorted({int(cut * len(data)) for cut in cuts}) + [len(data)]

    def warehouse_after(pieces: list[int], chunk: int) -> tuple[list, list]:
        site = tmp_path_factory.mktemp("pbx")
        settings_ = make_settings(SWITCHBOARD_QUEUE_LOG_DIRS=f"lab={site}",
                                  SWITCHBOARD_WAREHOUSE_URL=f"duckdb:///{site}/warehouse.duckdb",
                                  SWITCHBOARD_STATE_DIR=str(site / "state"))
        config = replace(AsteriskConfig.from_settings(settings_), chunk_bytes=chunk)
        written = 0
        for end in pieces:
            with open(site / "queue_log", "ab") as fh:
                fh.write(data[written:end])
            written = end
            asterisk_pipeline(settings_).run(asterisk_source(config, IngestReport()), loader_file_format="parquet")
        with duckdb.connect(str(settings_.warehouse.duckdb_path), read_only=True) as con:
            rows = con.sql("select line_no, event_epoch, callid, agent, event, data1, data2, data3 "
                           "from raw_asterisk.queue_log order by line_no").fetchall()
            rejects = con.sql("select line_no, reason, raw_text from raw_asterisk.queue_log_rejects "
                              "order by line_no").fetchall()
        return rows, rejects

    assert warehouse_after(positions, chunk_bytes) == warehouse_after([len(data)], 64 * 1024 * 1024)
