"""Unit tests of the cdr-csv Master.csv reader (pipelines/asterisk/cdr_csv.py).

Rows are built here the way cdr_csv.c writes them: strings double-quoted (inner quotes doubled),
durations unquoted, an unanswered call's answer time empty; 18 columns by default, 21 with
`newcdrcolumns`, 16 with `loguniqueid = no` and `loguserfield = no`.
"""

from __future__ import annotations

import gzip
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import polars as pl
import pytest

from pipelines.asterisk.cdr_csv import (
    CDR_REJECT_SCHEMA,
    CDR_SCHEMA,
    REJECT_REASONS,
    ParsedCdr,
    break_midline_nul_runs,
    parse_master_csv,
)
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
    # lines as the parser sees them: a NUL run between a cut record and the next one ends a line
    assert out.lines_read == out.rows.height + out.rejects.height + out.skipped_blank == count_lines(
        break_midline_nul_runs(data))
    assert set(out.rejects["reason"]) <= set(REJECT_REASONS)
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
    assert out.rows_with_replaced_bytes == 1
    assert parse(cdr_line(clid='"José" <3001234567>').encode() + b"\n").rows_with_replaced_bytes == 0
    assert out.rows["userfield"].to_list() == [None, None]  # the CR is not a value


def test_final_unterminated_line_of_nuls_is_blank_not_a_crash():
    """A rotated Master.csv may end in a NUL run without a newline; that line is blank."""
    out = parse(master(cdr_line()) + b"\x00" * 20)
    assert (out.lines_read, out.rows.height, out.skipped_blank) == (2, 1, 1)


def test_an_unterminated_last_line_is_rejected_as_unterminated():
    """The caller hands over a last line without its newline only once the file can no longer
    grow (a rotated copy left alone, an archive): cdr_csv ends every record with a newline, so the
    write was cut — even where what is left reads as a whole record (its userfield may be cut)."""
    whole, cut = cdr_line(), cdr_line(uniqueid="1718900000.43", userfield="vip")[:-3]  # ends in ,"v
    for last in (cut, cdr_line(uniqueid="1718900000.44")):
        data = master(whole, last, end="")
        out = parse(data, first_line_no=10, base_offset=100)
        assert out.rejects.rows() == [(11, 100 + len(whole) + 1, "unterminated", last)]
        assert out.rows["line_no"].to_list() == [10]


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


# --- the hour a fall-back night repeats (independent audit) ---------------------------------------

NEW_YORK = ZoneInfo("America/New_York")  # 2026-11-01 02:00 EDT -> 01:00 EST: 01:00-01:59 twice


def new_york(hour: int, minute: int, second: int = 0, *, second_pass: bool = False) -> datetime:
    """An instant of the night of 2026-11-01 in New York; `second_pass` picks 01:xx's EST reading."""
    return datetime(2026, 11, 1, hour, minute, second, tzinfo=NEW_YORK, fold=int(second_pass)).astimezone(UTC)


def call(start: str, answer: str, end: str, duration: int, billsec: int) -> str:
    return cdr_line(start=f"2026-11-01 {start}", answer=f"2026-11-01 {answer}", end=f"2026-11-01 {end}",
                    duration=str(duration), billsec=str(billsec))


def times(out: ParsedCdr) -> list[tuple[datetime, datetime, datetime]]:
    return out.rows.select("start_at", "answer_at", "end_at").rows()


def test_the_repeated_hour_is_read_by_the_files_order_and_each_calls_duration():
    """cdr_csv appends a record when its call ends: where the end times step back by far, the clock
    went back, and that record's and the later ones' repeated-hour times are the second pass. A
    call that straddles the change has its start in the first pass, as its duration says (read as
    the first pass, it ended an hour before it began)."""
    out = parse(master(
        call("00:50:00", "00:50:05", "01:30:00", 2400, 2395),  # all in the first pass
        call("01:59:50", "01:59:55", "01:00:10", 20, 15),      # 01:59:50 EDT to 01:00:10 EST
        call("01:20:00", "01:20:10", "01:25:00", 300, 290),    # all in the second pass
        call("01:50:00", "01:50:30", "01:40:00", 3000, 2970),  # 01:50 EDT to 01:40 EST: 50 min
        call("01:45:00", "01:45:02", "02:10:00", 1500, 1498),  # 01:45 EST to 02:10 EST
    ), timezone="America/New_York")
    assert times(out) == [
        (new_york(0, 50), new_york(0, 50, 5), new_york(1, 30)),
        (new_york(1, 59, 50), new_york(1, 59, 55), new_york(1, 0, 10, second_pass=True)),
        (new_york(1, 20, second_pass=True), new_york(1, 20, 10, second_pass=True), new_york(1, 25, second_pass=True)),
        (new_york(1, 50), new_york(1, 50, 30), new_york(1, 40, second_pass=True)),
        (new_york(1, 45, second_pass=True), new_york(1, 45, 2, second_pass=True), new_york(2, 10)),
    ]
    for start, _answer, end in times(out):
        assert end >= start


@pytest.mark.parametrize("split_after", [1, 2, 3, 4])
def test_the_repeated_hour_read_in_pieces_gives_what_one_read_gives(split_after):
    """The sensor reads a growing Master.csv a run at a time, so the night's records come in
    pieces: each piece starts from the end of the last record before it (`end_before`). Read
    without it, a piece of the second pass took the first pass's times: an hour early (independent
    audit). Split in the first pass, at the step back, and inside the second pass."""
    lines = [
        call("00:50:00", "00:50:05", "01:30:00", 2400, 2395),
        call("01:40:00", "01:40:05", "01:50:00", 600, 595),
        call("01:55:00", "01:55:05", "01:05:00", 600, 595),   # 01:55 EDT to 01:05 EST: the step back
        call("01:10:00", "01:10:05", "01:20:00", 600, 595),
        call("01:30:00", "01:30:05", "01:57:00", 1620, 1615),  # late in the second pass
    ]
    whole = parse(master(*lines), timezone="America/New_York")
    first = parse(master(*lines[:split_after]), timezone="America/New_York")
    rest = parse(master(*lines[split_after:]), timezone="America/New_York", first_line_no=split_after,
                 end_before=first.last_end)
    assert times(first) + times(rest) == times(whole)
    assert times(whole)[-1][2] == new_york(1, 57, second_pass=True)


def test_a_call_across_the_change_with_nothing_before_it_still_ends_after_it_starts():
    """No earlier record shows the step back; an end read as the first pass would come before the
    start, so it is the second."""
    out = parse(master(call("01:59:50", "01:59:55", "01:00:10", 20, 15)), timezone="America/New_York")
    assert times(out) == [(new_york(1, 59, 50), new_york(1, 59, 55), new_york(1, 0, 10, second_pass=True))]


def test_a_night_seen_in_one_pass_keeps_the_earlier_reading():
    out = parse(master(call("01:20:00", "01:20:10", "01:25:00", 300, 290)), timezone="America/New_York")
    assert times(out) == [(new_york(1, 20), new_york(1, 20, 10), new_york(1, 25))]


@pytest.mark.parametrize(("duration", "billsec"), [("-5", "0"), ("20", "-1")])
def test_a_negative_duration_or_billsec_is_bad_duration(duration, billsec):
    """A negative count is damage (independent audit: it was loaded, then failed staging's
    not_negative tests)."""
    out = parse(master(cdr_line(), cdr_line(duration=duration, billsec=billsec)))
    assert (out.rows.height, out.rejects["reason"].to_list()) == (1, ["bad_duration"])


# --- damaged records (independent audit): set aside line by line, never failing the chunk -------


def test_a_record_cut_by_a_crash_and_the_record_written_after_it_on_the_same_line_are_told_apart():
    """An unclean shutdown cuts the record being written (here inside the quoted clid) and pads the
    file with NULs; the restarted Asterisk writes its next record right after them, on the same
    line. The cut text is quarantined as cut_by_crash, the next record loads, counts add up."""
    first, third = cdr_line(uniqueid="1.1"), cdr_line(uniqueid="1.3")
    cut = cdr_line(clid='"Alice, The Boss" <1001>', uniqueid="1.2")
    cut = cut[:cut.index("The Boss") + 6]  # …,"""Alice, The Bo
    after = cdr_line(uniqueid="1.4")
    data = (first + "\n" + cut).encode() + b"\x00" * 40 + (after + "\n" + third + "\n").encode()
    out = parse(data, first_line_no=20, base_offset=1000)
    nuls_at = len(first) + 1 + len(cut)
    assert out.rejects.rows() == [(21, 1000 + len(first) + 1, "cut_by_crash", cut)]
    assert out.rows.select("line_no", "uniqueid").rows() == [(20, "1.1"), (22, "1.4"), (23, "1.3")]
    assert (out.lines_read, out.skipped_blank) == (4, 0)
    # the next record's line starts after the run's first NUL (which ends the cut line)
    assert break_midline_nul_runs(data)[nuls_at:nuls_at + 2] == b'\n\x00'


@pytest.mark.parametrize("ending", [b"\n", b"", b"\r\n"], ids=["then-newline", "end-of-data", "then-crlf"])
def test_a_record_cut_by_a_crash_whose_nul_run_ends_the_line_is_cut_by_crash(ending):
    good, cut = cdr_line(uniqueid="2.1"), cdr_line(uniqueid="2.2")[:-30]
    data = (good + "\n" + cut).encode() + b"\x00" * 25 + ending
    out = parse(data)
    assert out.rejects.select("line_no", "reason", "raw_text").rows() == [(1, "cut_by_crash", cut)]
    assert out.rows["uniqueid"].to_list() == ["2.1"]


def test_records_cut_inside_a_quoted_field_then_ended_by_a_newline_are_bad_quoting():
    """A record cut inside a quoted field and followed by a newline has an unpaired quote: the
    reader would run that field over the newline into the next record (or fail the whole chunk).
    Each such line is set aside as bad_quoting; the lines around it load. Two in a row stay two."""
    rows = [cdr_line(uniqueid=f"3.{i}") for i in range(6)]
    cut_a = rows[1][:rows[1].index("Cliente") + 4]  # …,"""Clie
    cut_b = rows[2][:rows[2].index("SIP/troncal") + 5]  # …,"SIP/t
    stray = rows[4].replace('"ANSWERED"', '"ANSW"ERED"')  # an unpaired quote inside a field
    data = master(rows[0], cut_a, cut_b, rows[3], stray, rows[5])
    out = parse(data, first_line_no=100)
    assert out.rejects.select("line_no", "reason", "raw_text").rows() == [
        (101, "bad_quoting", cut_a), (102, "bad_quoting", cut_b), (104, "bad_quoting", stray)]
    assert out.rows.select("line_no", "uniqueid").rows() == [(100, "3.0"), (103, "3.3"), (105, "3.5")]
    assert out.rows.row(1, named=True)["clid"] == '"Cliente Uno" <3001234567>'  # good rows intact


def test_the_audit_files_load_their_good_records_and_quarantine_the_damaged_ones():
    """The audit's Master.csv (a record cut in its clid, NULs, the next record on its line) and
    rotated Master.csv.1 (unreadable answer and end times; the last record cut, no newline)."""
    crashed = (
        b'"","5551234","500","from-trunk",""""" <5551234>","SIP/trunk-00000003","Local/1001@from-queue-00000001;1",'
        b'"Queue","500,t,,,300","2024-03-05 08:10:00","2024-03-05 08:10:01","2024-03-05 08:10:31",31,30,"ANSWERED",'
        b'"DOCUMENTATION","1709626200.3",""\n'
        b'"","1001","5550100","from-internal","""Alice, The Bo' + b"\x00" * 40
        + b'"","1002","1003","from-internal","""ram"" <1002>","SIP/1002-00000004","SIP/1003-00000005","Dial",'
        b'"SIP/1003,,trIb(func-apply-sipheaders^s^1)","2024-03-05 08:20:00",,"2024-03-05 08:20:20",20,0,"NO ANSWER",'
        b'"DOCUMENTATION","1709626800.5",""\n'
    )
    out = parse(crashed, timezone="UTC")
    assert out.rejects.select("line_no", "reason", "raw_text").rows() == [
        (1, "cut_by_crash", '"","1001","5550100","from-internal","""Alice, The Bo')]
    assert out.rows.select("line_no", "uniqueid", "answer_at").rows() == [
        (0, "1709626200.3", utc(2024, 3, 5, 8, 10, 1)), (2, "1709626800.5", None)]

    head = '"","1001","1002","from-internal","""A"" <1001>","SIP/1001-1","SIP/1002-2","Dial","SIP/1002,,tr"'
    ok = head + ',"2024-03-07 08:00:00","2024-03-07 08:00:05","2024-03-07 08:01:05",65,60,"ANSWERED","DOCUMENTATION","1709798400.1",""'
    bad = head + ',"2024-03-07 08:00:00","not a time","2024-03-07 25:99:05",65,60,"ANSWERED","DOCUMENTATION","1709798400.9",""'
    cut = ('"","1003","1002","from-internal","""C"" <1003>","SIP/1003-3","SIP/1002-4","Dial","SIP/1002,,tr",'
           '"2024-03-07 08:10:00","2024-03-07 08:10:05","2024-03-07 08:11:05",65,60,"ANSWERED","DOCUMENTATION",'
           '"1709799000.3","vi')
    out = parse(master(ok, bad, cut, end=""), timezone="UTC")
    assert out.rejects.select("line_no", "reason", "raw_text").rows() == [
        (1, "bad_answer_time", bad), (2, "unterminated", cut)]
    assert out.rows["uniqueid"].to_list() == ["1709798400.1"]


@pytest.mark.parametrize(("answer", "end", "reason"), [
    ("not a time", "2024-06-20 11:15:01", "bad_answer_time"),
    ("2024-06-20 11:13:21", "2024-03-07 25:99:05", "bad_end_time"),
    ("2024-06-20 11:13:21", "ayer", "bad_end_time"),
    ("2024-03-10 02:30:00", "2024-03-10 03:31:00", "bad_answer_time"),  # in New York's spring-forward gap
])
def test_an_unreadable_answer_or_end_time_is_rejected(answer, end, reason):
    """A time that is written but cannot be read is damage, not an unanswered or unfinished call."""
    line = cdr_line(start="2024-03-10 01:59:00", answer=answer, end=end)
    out = parse(master(cdr_line(), line), timezone="America/New_York")
    assert out.rejects.select("line_no", "reason", "raw_text").rows() == [(1, reason, line)]
    assert out.rows.height == 1


def test_an_empty_answer_or_end_time_is_no_time():
    """cdr_csv leaves an unset time empty (bare); a quoted empty one is no time either."""
    bare_end = cdr_line(answer="", end="").replace(',"",101,', ",,101,")
    out = parse(master(bare_end, cdr_line(answer="", end="", uniqueid="x.2")))
    assert out.rejects.height == 0
    assert out.rows.select("answer_at", "end_at").rows() == [(None, None), (None, None)]


def with_fields(line: str, *more: str) -> str:
    return ",".join([line, *more])


@pytest.mark.parametrize("line", [
    with_fields(cdr_line(extended=("p", "l", "1")), q("extra1"), q("extra2")),  # 23 (the audit's row)
    with_fields(cdr_line(extended=("p", "l", "1")), q("extra")),  # 22
    with_fields(cdr_line(extended=("p", "l", "1")), ""),  # 22, the last empty
    cdr_line(extended=("p", "l", "1")) + ",,,,,,,,",  # 29, all extra ones empty
    with_fields(cdr_line(), q("extra")),  # 19 whose last is not newcdrcolumns' sequence
    with_fields(cdr_line(), q("p"), q("l"), q("seq")),  # 21, the same
    with_fields(cdr_line(extended=("p", "l", "")), ""),  # 22: an empty sequence, then an empty field
], ids=["23", "22", "22-last-empty", "29-empties", "19-not-newcdrcolumns", "21-bad-sequence", "22-empties"])
def test_a_record_with_more_fields_than_its_layout_is_too_many_fields(line):
    """cdr_csv writes 16 to 21 fields and never an empty last one; extra fields are damage, not a
    row to load with them dropped (and a field of them in linkedid). First in a chunk too."""
    for data, at in ((master(cdr_line(), line), 1), (master(line, cdr_line()), 0)):
        out = parse(data)
        assert out.rejects.select("line_no", "reason", "raw_text").rows() == [(at, "too_many_fields", line)]
        assert out.rows["uniqueid"].to_list() == ["1718900000.42"]


def test_every_cdr_csv_layout_maps_its_fields():
    """16 + uniqueid (loguniqueid) + userfield (loguserfield) + peeraccount, linkedid, sequence
    (newcdrcolumns): 16 to 21 fields. A 17- or 20-field record is read as having the uniqueid."""
    base = cdr_line(uniqueid="u.1", userfield="uf", fields=16)
    layouts = [
        base,  # 16
        with_fields(base, q("u.1")),  # 17
        with_fields(base, q("u.1"), q("uf")),  # 18
        with_fields(base, q("peer"), q("link.1"), "3"),  # 19
        with_fields(base, q("u.1"), q("peer"), q("link.1"), "3"),  # 20
        with_fields(base, q("u.1"), q("uf"), q("peer"), q("link.1"), "3"),  # 21
    ]
    out = parse(master(*layouts))
    assert out.rejects.height == 0
    assert out.rows.select("uniqueid", "userfield", "linkedid", "amaflags").rows() == [
        (None, None, None, "DOCUMENTATION"),
        ("u.1", None, None, "DOCUMENTATION"),
        ("u.1", "uf", None, "DOCUMENTATION"),
        (None, None, "link.1", "DOCUMENTATION"),
        ("u.1", None, "link.1", "DOCUMENTATION"),
        ("u.1", "uf", "link.1", "DOCUMENTATION"),
    ]


def test_damage_anywhere_in_a_large_chunk_leaves_its_other_rows_to_the_reader():
    """Thousands of good rows around a few damaged lines: all good rows load, in order."""
    good = [cdr_line(uniqueid=f"9.{i}") for i in range(3000)]
    lines = list(good)
    lines[10] = good[10][:40]  # cut inside a quoted field
    lines[1500] = with_fields(good[1500], q("a"), q("b"), q("c"), q("d"))
    lines[2999] = good[2999][:-5]
    out = parse(master(*lines, end=""), first_line_no=5)
    assert out.rejects.select("line_no", "reason").rows() == [
        (15, "bad_quoting"), (1505, "too_many_fields"), (3004, "unterminated")]
    assert out.rows.height == 2997
    assert out.rows["uniqueid"].to_list() == [f"9.{i}" for i in range(3000) if i not in (10, 1500, 2999)]


def test_a_chunk_that_starts_like_an_archive_is_read_as_lines():
    """A Master.csv.1.gz that is a gzip of a gzip, unpacked once, starts with gzip's bytes, which
    the CSV reader took for a compressed stream (independent audit: the whole Asterisk load
    stopped). Its lines are rejected as text and a record after them loads."""
    data = gzip.compress(master(cdr_line())) + b"\n" + master(cdr_line(uniqueid="x.9"))
    out = parse(data)
    assert out.rows["uniqueid"].to_list() == ["x.9"]
    assert out.rejects.height >= 1
