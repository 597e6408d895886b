"""Control Hub CSV exports: every record loaded as before or set aside with its exact CSV text.

A row that disagrees with its own file's header (a field too many or too few), or whose quoting
is broken, is a reject with the reason, the record's own text (quotes, inner line breaks and all,
without its final line break) and the line it starts on; blank lines are not records; records
read = loaded + rejected.
"""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime
from pathlib import Path

import duckdb
import orjson

from pipelines.webex.cdr_normalize import BatchContext
from pipelines.webex.control_hub_csv import csv_files, export_csvs, read_control_hub_csv
from pipelines.webex.pipeline import run_poll
from simulator.webex_cdr import KEYS  # the export's 87 header names, in its order

LOADED_AT = datetime(2026, 11, 30, 12, tzinfo=UTC)
CTX = BatchContext("control_hub_csv", LOADED_AT, source_file="export.csv")
HEADER = ",".join(KEYS)


def _cells(report_id: str, **values: str) -> list[str]:
    """One record's 87 cells in the header's order (typed keys with good values, others empty)."""
    by_key = {"Report ID": report_id, "Report time": "2026-11-29T10:05:00.000Z",
              "Start time": "2026-11-29T10:00:00.000Z", "Answered": "true", "Duration": "30",
              "Calling number": "3001234567", "Location": "Bogota", **values}
    assert set(by_key) <= set(KEYS)
    return [by_key.get(k, "") for k in KEYS]


def _line(cells: list[str]) -> str:
    """The cells as Control Hub writes them (quoted only where needed), without the line break."""
    out = io.StringIO()
    csv.writer(out, lineterminator="\r\n").writerow(cells)  # quotes a field holding \r or \n
    return out.getvalue().removesuffix("\r\n")


def _export(*lines: str, eol: str = "\r\n", bom: bool = True, final_eol: bool = True) -> bytes:
    text = eol.join([HEADER, *lines]) + (eol if final_eol else "")
    return (("\ufeff" if bom else "") + text).encode()


def _read(data: bytes):
    batch = read_control_hub_csv(data, CTX)
    assert batch.records_read == batch.rows.height + batch.rejects.height  # nothing else is skipped
    return batch


def _rejects(batch) -> list[tuple[str, str, str]]:
    return batch.rejects.select("reason", "raw_text", "_page").rows()


def test_a_row_with_a_field_too_many_is_rejected_not_loaded():
    """An unquoted comma inside a text field shifts every later value one place: the row is set
    aside whole (Polars' ragged-line truncation loaded it, its last field lost)."""
    long_row = _line(_cells("r2")).replace("Bogota", "Bogota, Centro")
    data = _export(_line(_cells("r1")), long_row, _line(_cells("r3")))
    batch = _read(data)
    assert batch.rows["report_id"].to_list() == ["r1", "r3"]
    assert _rejects(batch) == [("row has 88 fields, the header has 87", long_row, "line 3")]
    assert batch.rejects["raw_text"][0].encode() == data.split(b"\r\n")[2]  # the bytes of the file
    assert batch.records_read == 3


def test_a_cut_row_is_rejected_not_loaded_with_nulls():
    """A row cut short (40 of 87 fields), in the middle of the file or at its end without a line
    break (a download cut off)."""
    cut = _line(_cells("r2")[:40])
    data = _export(_line(_cells("r1")), cut, _line(_cells("r3")), cut.replace("r2", "r4"), final_eol=False)
    batch = _read(data)
    assert batch.rows["report_id"].to_list() == ["r1", "r3"]
    assert _rejects(batch) == [("row has 40 fields, the header has 87", cut, "line 3"),
                               ("row has 40 fields, the header has 87", cut.replace("r2", "r4"), "line 5")]
    assert batch.records_read == 4


def test_each_file_is_judged_by_its_own_header():
    """A short header (any case and spacing) is no fault; a trailing empty field written as a
    final comma is a field; rows that disagree with their file's header are rejects."""
    data = (b"REPORT ID,report time,Start  time,Duration,Note\n"
            b"c1,2026-11-29T10:05:00.000Z,2026-11-29T10:00:00.000Z,30,\n"
            b"c2,2026-11-29T10:06:00.000Z,2026-11-29T10:01:00.000Z,31,late\n"
            b"c3,2026-11-29T10:07:00.000Z,2026-11-29T10:02:00.000Z,32\n"
            b"c4\n"
            b"c5,2026-11-29T10:08:00.000Z,2026-11-29T10:03:00.000Z,33,,\n")
    batch = _read(data)
    assert batch.rows.select("report_id", "duration", "note").rows() == [("c1", 30, None), ("c2", 31, "late")]
    assert _rejects(batch) == [
        ("row has 4 fields, the header has 5", "c3,2026-11-29T10:07:00.000Z,2026-11-29T10:02:00.000Z,32", "line 4"),
        ("row has 1 field, the header has 5", "c4", "line 5"),
        ("row has 6 fields, the header has 5", "c5,2026-11-29T10:08:00.000Z,2026-11-29T10:03:00.000Z,33,,", "line 6"),
    ]


def test_blank_lines_are_not_records():
    """Blank lines between rows and at the end (CRLF, LF, spaces) are neither read nor rejected."""
    data = ("\ufeff" + HEADER + "\r\n" + _line(_cells("r1")) + "\r\n\r\n  \r\n"
            + _line(_cells("r2")) + "\n\n\r\n").encode()
    batch = _read(data)
    assert batch.rows["report_id"].to_list() == ["r1", "r2"]
    assert batch.rejects.height == 0 and batch.records_read == 2
    only_blanks = _read(("\ufeff" + HEADER + "\r\n\r\n\r\n").encode())
    assert (only_blanks.records_read, only_blanks.rows.height, only_blanks.rejects.height) == (0, 0, 0)


def test_a_rejected_record_keeps_its_exact_csv_text_and_the_line_it_starts_on():
    """Rejected for a value (not for its shape): the raw text is still the record as the file
    has it — quotes, doubled quotes, an empty quoted field, an inner CRLF — not a JSON re-encoding,
    and `_page` names its first line (counting the lines of the records before it)."""
    multiline = _line(_cells("r1", Location="Bogota\r\nCentro"))  # lines 2-3
    bad_value = _line(_cells("r2", Answered="maybe", Location='Sede "Norte", piso 2\r\nala B')
                      ).replace("maybe,,", 'maybe,"",', 1)  # an empty Direction, quoted; lines 4-5
    no_id = _line(_cells(""))  # line 6
    data = _export(multiline, bad_value, no_id)
    batch = _read(data)
    assert batch.rows["report_id"].to_list() == ["r1"]
    assert batch.rows["location"].to_list() == ["Bogota\r\nCentro"]
    assert _rejects(batch) == [("answered: not a boolean: maybe", bad_value, "line 4"),
                               ("missing Report ID", no_id, "line 6")]
    assert '"Sede ""Norte"", piso 2\r\nala B"' in batch.rejects["raw_text"][0]
    assert ',"",' in batch.rejects["raw_text"][0]
    assert batch.rejects["raw_text"][1].startswith(",")
    assert all(text.encode() in data for text in batch.rejects["raw_text"])


def test_quoted_commas_quotes_and_line_breaks_load_with_a_bom_and_crlf():
    locations = ["Bogota, Centro", 'Sede "Norte"', "two\r\nlines", "two\nlines", ""]
    data = _export(*(_line(_cells(f"r{i}", Location=loc)) for i, loc in enumerate(locations)))
    assert data.startswith(b"\xef\xbb\xbfAnswer time,")
    batch = _read(data)
    assert batch.rejects.height == 0 and batch.records_read == 5
    assert batch.rows["location"].to_list() == [*locations[:4], None]
    assert batch.rows["answered"].to_list() == [True] * 5 and batch.rows["duration"].to_list() == [30] * 5
    # the raw record is, as before, the JSON object header → cell text (an empty cell is null)
    raw = orjson.loads(batch.rows["raw_record"][0])
    assert list(raw) == list(KEYS)
    assert raw["Location"] == "Bogota, Centro" and raw["Report ID"] == "r0" and raw["Model"] is None


def test_good_rows_load_the_same_with_or_without_bad_rows_beside_them():
    good = [_line(_cells(f"r{i}", Location=loc)) for i, loc in enumerate(["A, b", "c\r\nd", 'e "f"'])]
    long_row = _line(_cells("x1")).replace("Bogota", "Bogota, Centro")
    cut = _line(_cells("x2")[:40])
    clean = _read(_export(*good))
    mixed = _read(_export("", good[0], long_row, "", good[1], cut, good[2], ""))
    assert clean.rejects.height == 0 and mixed.rejects.height == 2 and mixed.records_read == 5
    assert mixed.rows.equals(clean.rows)  # every column, raw_record included


def test_broken_quoting_rejects_only_its_record():
    """A closing quote followed by more text: Polars refused the whole file for it."""
    broken = _line(_cells("r2")).replace("Bogota", '"Bogota" Centro')
    data = _export(_line(_cells("r1")), broken, _line(_cells("r3")))
    batch = _read(data)
    assert batch.rows["report_id"].to_list() == ["r1", "r3"]
    assert _rejects(batch) == [
        ("not a readable CSV row: a quoted field's closing quote is followed by more text", broken, "line 3")]


def test_a_quote_left_open_sets_the_rest_of_the_file_aside_as_one_record():
    opened = _line(_cells("r2")).replace("Bogota", '"Bogota')
    rest = opened + "\r\n" + _line(_cells("r3"))
    batch = _read(_export(_line(_cells("r1")), opened, _line(_cells("r3"))))
    assert batch.rows["report_id"].to_list() == ["r1"]
    assert _rejects(batch) == [
        ("not a readable CSV row: a quoted field is not closed before the end of the file", rest, "line 3")]
    assert batch.records_read == 2


def test_a_quote_inside_an_unquoted_field_still_loads():
    """Lenient CSV (`5" screen`) that Python's csv reads and Polars refuses: the row loads."""
    data = _export(_line(_cells("r1")), _line(_cells("r2")).replace("Bogota", 'Bogota 5" sede'))
    batch = _read(data)
    assert batch.rejects.height == 0
    assert batch.rows.select("report_id", "location").rows() == [("r1", "Bogota"), ("r2", 'Bogota 5" sede')]
    assert orjson.loads(batch.rows["raw_record"][1])["Model"] is None  # an empty cell is null, as Polars reads it


def test_a_file_set_aside_whole_counts_as_one_record_read():
    for data, reason in ((b"just,some\nother,file\n", "CSV header has no Report ID column"),
                         (b'Report ID,"Start time\n', "not a readable CSV file: a quoted field is not closed "
                                                      "before the end of the file")):
        batch = _read(data)
        assert batch.rows.height == 0 and batch.rejects["reason"].to_list() == [reason]
        assert batch.records_read == 1


def test_counts_add_up_and_rejects_keep_their_text_and_line_in_the_warehouse(make_settings, tmp_path):
    drop = tmp_path / "control_hub"
    drop.mkdir()
    settings = make_settings(WEBEX_CONTROL_HUB_DIR=str(drop), WEBEX_CLIENT_ID="", WEBEX_CLIENT_SECRET="",
                             WEBEX_REFRESH_TOKEN="")
    long_row = _line(_cells("r2")).replace("Bogota", "Bogota, Centro")
    cut = _line(_cells("r3")[:40])
    (drop / "export-1.csv").write_bytes(_export(_line(_cells("r1", Location="a\r\nb")), long_row, "",
                                                cut, _line(_cells("r4")), ""))
    report = run_poll(settings).cdr
    assert (report.records_read, report.loaded, report.rejected, report.skipped_duplicate) == (4, 2, 2, 0)
    assert report.balanced
    with duckdb.connect(str(settings.warehouse.duckdb_path), read_only=True) as con:
        assert con.sql("select report_id from raw_webex.cdr order by 1").fetchall() == [("r1",), ("r4",)]
        assert con.sql("select reason, raw_text, _page, _source_file from raw_webex.cdr_rejects "
                       "order by _page").fetchall() == [
            ("row has 88 fields, the header has 87", long_row, "line 4", "export-1.csv"),
            ("row has 40 fields, the header has 87", cut, "line 6", "export-1.csv")]


def _drop_folder_with_a_linked_export(tmp_path: Path) -> Path:
    """A drop folder holding december.csv and a link november.csv -> ../exports/november.csv, beside
    a secrets file ../home/.env."""
    (tmp_path / "home").mkdir()
    (tmp_path / "home" / ".env").write_text("WEBEX_CLIENT_SECRET=x\n")
    (tmp_path / "exports").mkdir()
    (tmp_path / "exports" / "november.csv").write_text(HEADER + "\r\n")
    drop = tmp_path / "drop"
    drop.mkdir()
    (drop / "november.csv").symlink_to(tmp_path / "exports" / "november.csv")
    (drop / "december.csv").write_text(HEADER + "\r\n")
    return drop


def test_a_link_in_the_drop_folder_is_taken_only_when_it_leads_to_an_export(tmp_path):
    """`export.csv -> ~/.env` stored the service's secrets as a reject (independent security audit)."""
    drop = _drop_folder_with_a_linked_export(tmp_path)
    (drop / "export.csv").symlink_to(tmp_path / "home" / ".env")
    assert [p.name for p in csv_files(drop)] == ["december.csv", "november.csv"]


def test_an_export_link_re_pointed_after_the_listing_is_not_read_through(tmp_path):
    """The folder is listed, then each export read: a link re-pointed in between was read through
    (independent security re-audit). The read judges the link again and opens its target without
    following a link."""
    drop = _drop_folder_with_a_linked_export(tmp_path)
    listed = csv_files(drop)
    assert [p.name for p in listed] == ["december.csv", "november.csv"]
    (drop / "november.csv").unlink()
    (drop / "november.csv").symlink_to(tmp_path / "home" / ".env")
    (tmp_path / "exports" / "december.csv").write_text(HEADER + "\r\n")
    (drop / "december.csv").unlink()  # the file itself swapped for a link to a file named as an export
    (drop / "december.csv").symlink_to(tmp_path / "exports" / "december.csv")
    assert [e.name for p in listed for e in export_csvs(p)] == ["december.csv"]
    assert list(export_csvs(listed[1])) == []
