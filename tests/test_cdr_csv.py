"""Unit tests of the cdr-csv Master.csv reader (pipelines/asterisk/cdr_csv.py).

Rows are built here the way cdr_csv.c writes them: strings double-quoted (inner quotes doubled),
durations unquoted, an unanswered call's answer time empty; 18 columns by default, 21 with
`newcdrcolumns`, 16 with `loguniqueid = no` and `loguserfield = no`.
"""

from __future__ import annotations

from datetime import UTC, datetime

import polars as pl
import pytest

from pipelines.asterisk.cdr_csv import CDR_REJECT_SCHEMA, CDR_SCHEMA, ParsedCdr, parse_master_csv
from pipelines.asterisk.queue_log_parser import count_lines

BOGOTA = "America/Bogota"  # UTC-5


def q(value: str) -> str:
    return '"' + value.replace('"', '""') + '"'


def cdr_line(
    *, src="3001234567", dst="500", clid='"Cliente Uno" <3001234567>', channel="SIP/troncal-0000002a",
    dstchannel="Local/2001@from-queue-00000003;1", lastapp="Queue", lastdata="500,t,,,300",
    start="2024-06-20 11:13:20", answer="2024-06-20 11:13:21", end="2024-06-20 11:15:01",
    duration="101", billsec="100", disposition="ANSWERED", uniqueid="1718900000.42",
    userfield="", extended: tuple[str, str, str] | None = None, fields: int | None = None,
) -> str:
    parts = [q(""), q(src), q(dst), q("ext-queues"), q(clid), q(channel), q(dstchannel), q(lastapp), q(lastdata),
             q(start), q(answer) if answer else "", q(end), duration, billsec, q(disposition), q("DOCUMENTATION"),
             q(uniqueid), q(userfield)]
    if extended:
        parts += [q(extended[0]), q(extended[1]), extended[2]]
    if fields is not None:
        parts = parts[:fields]
    return ",".join(parts)


def master(*lines: str, end: str = "\n") -> bytes:
    return ("\n".join(lines) + end).encode("utf-8")


def parse(data: bytes, **kw) -> ParsedCdr:
    kw.setdefault("timezone", BOGOTA)
    out = parse_master_csv(data, **kw)
    assert out.lines_read == out.rows.height + out.rejects.height + out.skipped_blank == count_lines(data)
    assert dict(out.rows.schema) == CDR_SCHEMA
    assert dict(out.rejects.schema) == CDR_REJECT_SCHEMA
    return out


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


def test_default_18_columns_map_and_local_times_become_utc():
    """cdr-csv's 18 columns map by position; start/answer/end are local (usegmtime=no) → UTC."""
    out = parse(master(cdr_line()))
    row = out.rows.row(0, named=True)
    assert (row["src"], row["dst"], row["dcontext"], row["clid"], row["lastapp"], row["lastdata"]) == (
        "3001234567", "500", "ext-queues", '"Cliente Uno" <3001234567>', "Queue", "500,t,,,300")
    assert (row["start_at"], row["answer_at"], row["end_at"]) == (
        utc(2024, 6, 20, 16, 13, 20), utc(2024, 6, 20, 16, 13, 21), utc(2024, 6, 20, 16, 15, 1))
    assert (row["duration"], row["billsec"], row["disposition"], row["amaflags"]) == (101, 100, "ANSWERED", "DOCUMENTATION")
    assert (row["uniqueid"], row["userfield"], row["linkedid"], row["line_no"]) == ("1718900000.42", None, None, 0)


def test_a_quoted_empty_field_is_no_value():
    """cdr_csv writes "" for a field without a value: null, on DuckDB as on Postgres (whose CSV load
    cannot tell "" from a missing value); the row's key still comes from the text as written."""
    out = parse(master(cdr_line(dstchannel="", lastdata="", userfield="")))
    row = out.rows.row(0, named=True)
    assert (row["accountcode"], row["dstchannel"], row["lastdata"], row["userfield"]) == (None, None, None, None)
    assert row["cdr_key"] != parse(master(cdr_line(dstchannel="", lastdata="", userfield="x"))).rows["cdr_key"][0]


def test_unanswered_call_has_null_answer_time():
    out = parse(master(cdr_line(answer="", billsec="0", disposition="NO ANSWER")))
    assert out.rows.select("answer_at", "billsec", "disposition").rows() == [(None, 0, "NO ANSWER")]


def test_newcdrcolumns_add_linkedid():
    """newcdrcolumns=yes appends peeraccount, linkedid, sequence; linkedid is kept."""
    out = parse(master(cdr_line(extended=("", "1718899990.40", "17")), cdr_line()))
    assert out.rows["linkedid"].to_list() == ["1718899990.40", None]


def test_without_uniqueid_and_userfield_16_columns_are_accepted():
    """loguniqueid=no / loguserfield=no drop the last two columns; the row is still a CDR."""
    out = parse(master(cdr_line(fields=16)))
    assert out.rows.select("disposition", "amaflags", "uniqueid").rows() == [("ANSWERED", "DOCUMENTATION", None)]


@pytest.mark.parametrize("fields", [3, 9, 12, 14, 15])
def test_rows_cut_before_amaflags_are_too_few_fields(fields):
    """A row shorter than the 16 columns every cdr_csv configuration writes is damage, not a CDR."""
    line = cdr_line(fields=fields)
    out = parse(master(cdr_line(), line), first_line_no=40, base_offset=1000)
    assert out.rejects.select("line_no", "reason").rows() == [(41, "too_few_fields")]
    assert out.rows["line_no"].to_list() == [40]


def test_rejects_point_at_the_raw_line():
    """bad start time / bad duration are rejected with line number, byte offset and the line as written."""
    good = cdr_line()
    bad_start = cdr_line(start="20/06/2024 11:13")
    bad_duration = cdr_line(duration="cien")
    data = master(good, bad_start, good, bad_duration)
    out = parse(data, first_line_no=7, base_offset=5000)
    first = len(good) + 1
    third = first + len(bad_start) + 1 + len(good) + 1
    assert out.rejects.rows() == [
        (8, 5000 + first, "bad_start_time", bad_start),
        (10, 5000 + third, "bad_duration", bad_duration),
    ]
    assert out.rows["line_no"].to_list() == [7, 9]


def test_content_key_is_md5_stable_and_distinguishes_rows():
    """Master.csv has no natural key: md5 of the row's content, same bytes → same key."""
    a, b = cdr_line(), cdr_line(uniqueid="1718900000.43")
    out = parse(master(a, b, a))
    keys = out.rows["cdr_key"].to_list()
    assert all(len(k) == 32 for k in keys)
    assert keys[0] == keys[2] != keys[1]
    assert parse(master(a), first_line_no=99).rows["cdr_key"].to_list() == [keys[0]]


def test_blank_lines_are_skipped():
    out = parse(master(cdr_line(), "", cdr_line(uniqueid="x.1"), ""))
    assert (out.lines_read, out.skipped_blank, out.rows.height) == (4, 2, 2)
    assert out.rows["line_no"].to_list() == [0, 2]


def test_crlf_nul_and_invalid_utf8():
    """CRLF line ends, a NUL run before a line, and Latin-1 bytes (→ U+FFFD) do not lose the row."""
    line = cdr_line(clid='"José" <3001234567>').encode("latin-1")
    data = b"\x00" * 30 + line + b"\r\n" + cdr_line(uniqueid="x.2").encode() + b"\r\n"
    out = parse(data)
    assert out.rows.height == 2
    assert out.rows["clid"][0] == '"Jos\ufffd" <3001234567>'
    assert out.rows["userfield"].to_list() == [None, None]  # the CR is not a value


def test_final_unterminated_line_of_nuls_is_blank_not_a_crash():
    """A rotated Master.csv may end in a NUL run without a newline; that line is blank."""
    out = parse(master(cdr_line()) + b"\x00" * 20)
    assert (out.lines_read, out.rows.height, out.skipped_blank) == (2, 1, 1)


def test_unterminated_last_line_is_parsed():
    out = parse(master(cdr_line(), end=""))
    assert out.rows.height == 1


def test_empty_input():
    out = parse(b"")
    assert (out.lines_read, out.rows.height, out.rejects.height) == (0, 0, 0)
    assert isinstance(out.rows, pl.DataFrame)


def test_dst_gap_start_is_rejected_and_utc_zone_keeps_times():
    """A start inside a spring-forward gap does not exist in that zone → bad_start_time."""
    out = parse(master(cdr_line(start="2024-03-10 02:30:00", answer="", end="2024-03-10 03:31:00")), timezone="America/New_York")
    assert out.rejects["reason"].to_list() == ["bad_start_time"]
    out = parse(master(cdr_line()), timezone="UTC")
    assert out.rows["start_at"].to_list() == [utc(2024, 6, 20, 11, 13, 20)]
