"""Pure parts of the Webex ingestion: key/value normalisation, CSV, Link parsing, ids."""

import gzip
import zipfile
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import httpx
import orjson
import polars as pl
import pytest

from pipelines.http_retry import retry_after_seconds
from pipelines.webex.cdr_normalize import (
    CDR_COLUMNS,
    KNOWN_KEYS,
    BatchContext,
    normalize_key,
    normalize_records,
)
from pipelines.webex.client import error_texts, next_link, region_base_url
from pipelines.webex.control_hub_csv import export_csvs, read_control_hub_csv, read_export
from pipelines.webex.directory import location_rows, people_rows, webex_id_to_uuid

CTX = BatchContext("cdr_feed", datetime(2026, 11, 30, 12, tzinfo=UTC),
                   datetime(2026, 11, 29, tzinfo=UTC), datetime(2026, 11, 29, 12, tzinfo=UTC), page="p1")


@pytest.mark.parametrize(
    ("key", "normalised"),
    [
        ("Answer time", "answer_time"),
        ("Call transfer Time", "call_transfer_time"),
        ("Local SessionID", "local_session_id"),
        ("Final remote SessionID", "final_remote_session_id"),
        ("Called line ID", "called_line_id"),
        ("PSTN Vendor Org ID", "pstn_vendor_org_id"),
        ("Call Recording Platform Name", "call_recording_platform_name"),
        ("WxCC consult merge status", "wxcc_consult_merge_status"),
        ("Public Calling IP Address", "public_calling_ip_address"),
        ("  Auto Attendant Key Pressed ", "auto_attendant_key_pressed"),
        ("User", "user"),
        # payloads do not keep the documented case: SessionID in capitals or lower case is the same key
        ("LOCAL SESSIONID", "local_session_id"),
        ("final remote sessionid", "final_remote_session_id"),
        ("report_id", "report_id"),
        # an undocumented key: its case variants are one column too
        ("Agent SessionID", "agent_sessionid"),
        ("AGENT SESSIONID", "agent_sessionid"),
    ],
)
def test_normalize_key(key, normalised):
    assert normalize_key(key) == normalised


def test_known_keys_are_unique_and_typed():
    assert len(KNOWN_KEYS) == 87 and len(set(KNOWN_KEYS)) == 87
    assert CDR_COLUMNS["answer_time"] == pl.Datetime("us", "UTC")
    assert CDR_COLUMNS["answered"] == pl.Boolean
    assert CDR_COLUMNS["ring_duration"] == pl.Int64
    assert CDR_COLUMNS["site_timezone"] == pl.Int64


def _record(**overrides):
    base = {
        "Report ID": "r1", "Report time": "2026-11-29T10:05:00.000Z", "Answered": "true", "Duration": 42,
        "Ring duration": "8", "Start time": "2026-11-29T10:00:00.123Z", "Release time": "2026-11-29 10:04:30.500",
        "Called line ID": "NA", "OS type": "na", "Interaction ID": "", "Site timezone": "-300",
        "Local SessionID": "abc", "Calling number": "3001234567", "Called number": "1001",
        "Caller Reputation Score": "4.5",
    }
    base.update(overrides)
    return base


def test_values_are_typed_and_missing_markers_become_null():
    batch = normalize_records([_record()], CTX)
    row = batch.rows.row(0, named=True)
    assert row["report_id"] == "r1"
    assert row["answered"] is True
    assert row["duration"] == 42 and row["ring_duration"] == 8 and row["site_timezone"] == -300
    assert row["start_time"] == datetime(2026, 11, 29, 10, 0, 0, 123000, tzinfo=UTC)
    assert row["release_time"] == datetime(2026, 11, 29, 10, 4, 30, 500000, tzinfo=UTC)  # space, no zone
    assert row["called_line_id"] is None and row["os_type"] is None and row["interaction_id"] is None
    assert row["caller_reputation_score"] == 4.5
    assert row["local_session_id"] == "abc"
    assert row["calling_number_e164"] == "+573001234567" and row["calling_number_type"] == "mobile"
    assert row["called_number_type"] == "internal"
    assert row["_source"] == "cdr_feed" and row["_window_start"] == CTX.window_start
    assert orjson.loads(row["raw_record"]) == _record()  # the raw record, exactly
    assert batch.rejects.height == 0 and batch.records_read == 1


def test_timestamps_in_other_forms_are_read_beside_the_apis_own_and_the_unreadable_are_rejected():
    records = [
        _record(**{"Report ID": "api", "Start time": "2026-11-29T10:02:03.250Z"}),
        _record(**{"Report ID": "offset", "Start time": "2026-11-29T05:00:00.5-05:00"}),
        _record(**{"Report ID": "minutes", "Start time": "2026-11-29 10:01"}),
        _record(**{"Report ID": "utc", "Start time": " 2026-11-29 10:04:05 UTC "}),
        _record(**{"Report ID": "bad", "Start time": "yesterday"}),
    ]
    batch = normalize_records(records, CTX)
    starts = dict(batch.rows.select("report_id", "start_time").iter_rows())
    assert starts == {
        "api": datetime(2026, 11, 29, 10, 2, 3, 250000, tzinfo=UTC),
        "offset": datetime(2026, 11, 29, 10, 0, 0, 500000, tzinfo=UTC),
        "minutes": datetime(2026, 11, 29, 10, 1, tzinfo=UTC),
        "utc": datetime(2026, 11, 29, 10, 4, 5, tzinfo=UTC),
    }
    assert batch.rejects["reason"].to_list() == ["start_time: not a timestamp: yesterday"]


def test_every_contract_column_exists_even_for_a_sparse_record():
    batch = normalize_records([{"Report ID": "only-id"}], CTX)
    assert list(CDR_COLUMNS) == batch.rows.columns
    assert batch.rows.schema == pl.Schema(CDR_COLUMNS)


def test_case_variants_of_a_key_share_one_column_and_new_keys_are_kept():
    records = [
        _record(**{"Report ID": "a", "Call transfer time": "2026-11-29T10:01:00.000Z"}),
        {**{k: v for k, v in _record(**{"Report ID": "b"}).items()}, "Call transfer Time": "2026-11-29T10:02:00Z",
         "Hold Duration": 7, "Brand New Key": "x"},
        {**{k: v for k, v in _record(**{"Report ID": "c"}).items() if k != "Local SessionID"},
         "LOCAL SESSIONID": "def", "BRAND NEW KEY": "y"},
    ]
    rows = normalize_records(records, CTX).rows.sort("report_id")
    assert rows.get_column("local_session_id").to_list() == ["abc", "abc", "def"]
    assert not [c for c in rows.columns if c.startswith("local_sessionid") or c.startswith("brand_new_key_")]
    assert rows.get_column("call_transfer_time").to_list() == [
        datetime(2026, 11, 29, 10, 1, tzinfo=UTC), datetime(2026, 11, 29, 10, 2, tzinfo=UTC), None]
    assert rows.get_column("hold_duration").to_list() == [None, 7, None]
    assert rows.get_column("brand_new_key").to_list() == [None, "x", "y"]


def test_bad_records_are_rejected_with_reason_and_exact_text():
    records = [_record(), _record(**{"Report ID": ""}), "not an object", _record(**{"Report ID": "r9", "Answered": "maybe"}),
               _record(**{"Report ID": "r10", "Start time": "yesterday"})]
    batch = normalize_records(records, CTX)
    assert batch.rows.get_column("report_id").to_list() == ["r1"]
    reasons = sorted(batch.rejects.get_column("reason").to_list())
    assert reasons == ["answered: not a boolean: maybe", "missing Report ID", "record is not a JSON object",
                       "start_time: not a timestamp: yesterday"]
    assert batch.rejects.filter(pl.col("reason") == "record is not a JSON object")["raw_text"][0] == '"not an object"'
    assert batch.rejects.get_column("_page").unique().to_list() == ["p1"]
    assert batch.rejects.get_column("reject_key").n_unique() == 4
    assert batch.records_read == 5


def test_records_whose_values_contradict_each_other_are_rejected_with_what_contradicts():
    """One such record loaded made the models' consistency tests fail and stopped every mart
    (independent audit); it is quarantined like a value that does not parse."""
    answer = {"Answer time": "2026-11-29T10:00:10.900Z"}  # talk to the 10:04:30.500 release: 259.6 s
    records = [
        _record(**{"Report ID": "ok-rounded", **answer, "Duration": 260}),  # whole seconds, rounded: 1 s allowed
        _record(**{"Report ID": "ok-instant", "Answer time": "2026-11-29T10:00:00.123Z",
                   "Release time": "2026-11-29T10:00:00.123Z", "Duration": 0}),
        _record(**{"Report ID": "ok-no-release", **answer, "Release time": ""}),  # nothing to compare
        _record(**{"Report ID": "neg", "Duration": -5}),
        _record(**{"Report ID": "neg-ring", "Ring duration": "-1"}),
        _record(**{"Report ID": "backwards", "Release time": "2026-11-29T09:59:59.000Z"}),
        _record(**{"Report ID": "early-answer", "Answer time": "2026-11-29T09:59:00.000Z"}),
        _record(**{"Report ID": "late-answer", "Answer time": "2026-11-29T10:05:00.000Z"}),
        _record(**{"Report ID": "long-talk", **answer, "Duration": 262}),
    ]
    batch = normalize_records(records, CTX)
    assert batch.rows.get_column("report_id").to_list() == ["ok-rounded", "ok-instant", "ok-no-release"]
    reasons = dict(zip(batch.rejects.get_column("raw_text").map_elements(lambda t: orjson.loads(t)["Report ID"],
                                                                         return_dtype=pl.String).to_list(),
                       batch.rejects.get_column("reason").to_list(), strict=True))
    assert reasons == {
        "neg": "duration: negative: -5",
        "neg-ring": "ring_duration: negative: -1",
        "backwards": "release_time before start_time",
        "early-answer": "answer_time before start_time",
        "late-answer": "answer_time after release_time",
        "long-talk": "duration longer than answer_time to release_time: 262 s",
    }
    assert batch.records_read == batch.rows.height + batch.rejects.height


def test_control_hub_csv_loads_into_the_same_columns():
    csv = ("\ufeffReport ID,Report time,Start time,Answered,Duration,Ring duration,Calling number,Local SessionID,"
           "Call transfer Time,New column\n"
           "c1,2026-11-29T10:05:00.000Z,2026-11-29 10:00:00,true,12,3,+12125550147,s1,,v\n"
           "c2,2026-11-29T11:05:00.000Z,2026-11-29T11:00:00Z,false,0,NA,,,2026-11-29T11:01:00Z,\n"
           ",2026-11-29T11:05:00.000Z,2026-11-29T11:00:00Z,false,0,,,,,\n").encode()
    batch = read_control_hub_csv(csv, BatchContext("control_hub_csv", CTX.loaded_at, source_file="export.csv"))
    assert batch.records_read == 3 and batch.rows.height == 2 and batch.rejects.height == 1
    rows = batch.rows.sort("report_id")
    assert rows["answered"].to_list() == [True, False]
    assert rows["ring_duration"].to_list() == [3, None]
    assert rows["calling_number_type"].to_list() == ["international", "unknown"]
    assert rows["call_transfer_time"].to_list()[1] == datetime(2026, 11, 29, 11, 1, tzinfo=UTC)
    assert rows["new_column"].to_list() == ["v", None]
    assert orjson.loads(rows["raw_record"][0])["Report ID"] == "c1"
    assert set(rows["_source_file"].to_list()) == {"export.csv"}
    assert list(CDR_COLUMNS) == rows.columns[: len(CDR_COLUMNS)]


def test_nul_characters_are_taken_out_of_values_and_records_postgres_cannot_hold_them():
    """A CDR whose User carried a NUL (JSON's \\u0000) failed the whole load into Postgres, and
    dlt retried that package on every later run (DuckDB/Postgres parity audit). Its value loses
    the NUL; the JSON raw record keeps the escape, which is plain text."""
    from pipelines.webex.cdr_normalize import normalize_page, parse_cdr_page

    records = [_record(User="Paula\x00 Arias"), _record(**{"Report ID": "r2", "Location": "\x00"})]
    body = _page(records)
    for batch in (normalize_page(parse_cdr_page(body), CTX), normalize_records(records, CTX)):
        rows = batch.rows.sort("report_id")
        assert rows["user"].to_list() == ["Paula Arias", None]  # a value of only a NUL is missing
        assert not any("\x00" in raw for raw in rows["raw_record"])
        assert [orjson.loads(raw) for raw in rows["raw_record"]] == records  # the escape is kept
    # the same from a Control Hub CSV (its raw record is the row as JSON: the NUL escaped)
    csv = "Report ID,Report time,Start time,User\nc1,2026-11-29T10:05:00Z,2026-11-29T10:00:00Z,Lu\x00is\n"
    batch = read_control_hub_csv(csv.encode(), BatchContext("control_hub_csv", CTX.loaded_at, source_file="x.csv"))
    assert batch.rows["user"].to_list() == ["Luis"]
    assert "\x00" not in batch.rows["raw_record"][0]
    people, _ = people_rows([{"id": "Y2lzY29zcGFyazovL3VzL1BFT1BMRS8xMTExMTExMS0yMjIyLTMzMzMtNDQ0NC01NTU1NTU1NTU1NTU",
                              "displayName": "Ana\x00 Pérez"}], CTX)
    assert people["display_name"].to_list() == ["Ana Pérez"]


def test_an_export_that_cannot_be_unpacked_is_one_reject(tmp_path):
    """A cut ZIP or gzip download is read as it is, and set aside whole with the reason."""
    for name, data in (("cut.zip", b"PK\x03\x04" + b"\x00" * 40), ("cut.csv.gz", b"\x1f\x8b\x08" + b"\x00" * 10)):
        (tmp_path / name).write_bytes(data)
        ((source, text, whole),) = export_csvs(tmp_path / name)
        assert (source, text, whole) == (name, data, True)
        batch = read_control_hub_csv(text, BatchContext("control_hub_csv", CTX.loaded_at, source_file=source))
        assert batch.rows.height == 0 and batch.rejects.height == 1


def test_an_export_larger_than_the_limit_unpacked_is_one_reject_and_never_unpacked_whole(tmp_path):
    """A 776 KB gzip unpacked to 800 MB (1.6 GB of memory); a 10 MB one would have taken the
    machine (independent security audit). An export is unpacked up to a limit: past it, the file
    or ZIP member is one reject with its first bytes; the others are read."""
    header = b"Report ID,Start time\r\n"
    big = header + b"r1,2026-11-29T10:00:00.000Z\r\n" * 200  # ~6 KB unpacked
    small = header + b"r2,2026-11-29T10:00:00.000Z\r\n"
    limit = 4000
    (tmp_path / "bomb.csv.gz").write_bytes(gzip.compress(big))
    (tmp_path / "plain.csv").write_bytes(big)
    with zipfile.ZipFile(tmp_path / "export.zip", "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("a.csv", big)
        archive.writestr("b.csv", small)
    got = {e.name: e for name in ("bomb.csv.gz", "plain.csv", "export.zip")
           for e in export_csvs(tmp_path / name, max_bytes=limit)}
    assert {name: e.whole for name, e in got.items()} == {
        "bomb.csv.gz": False, "plain.csv": False, "export.zip/a.csv": False, "export.zip/b.csv": True}
    assert all(len(e.data) <= 10_000 for e in got.values())
    for name, export in got.items():
        batch = read_export(export, BatchContext("control_hub_csv", CTX.loaded_at, source_file=name), max_bytes=limit)
        if export.whole:
            assert batch.rows.height == 1 and batch.rejects.height == 0
        else:
            assert batch.rows.height == 0 and batch.records_read == 1
            assert batch.rejects["reason"].to_list() == ["larger than 4000 bytes unpacked: not read (split the export)"]


def test_garbage_csv_is_one_reject():
    batch = read_control_hub_csv(b"just,some\nother,file\n", BatchContext("control_hub_csv", CTX.loaded_at))
    assert batch.rows.height == 0 and batch.rejects["reason"].to_list() == ["CSV header has no Report ID column"]


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ('<https://a.example/v1/cdr_feed?startTime=x&max=5000&orgId=o>; rel="next"',
         "https://a.example/v1/cdr_feed?startTime=x&max=5000&orgId=o"),
        ('<<https://a.example/v1/cdr_feed?x=1>;rel="next"', "https://a.example/v1/cdr_feed?x=1"),  # the spec's typo
        ('<https://a/prev>; rel="prev", <https://a/next>; rel=next', "https://a/next"),
        ('<https://a/first>; rel="first"', None),
        ("", None),
        # RFC 8288: quoted parameters may hold commas and semicolons; rel may name several relations
        ('<https://a/p2>; title="page, next one"; rel="next"', "https://a/p2"),
        ('<https://a/p1>; rel="prev"; title="x, y", <https://a/p3>; rel="next last"', "https://a/p3"),
        ('<https://a/p0>; rel="nextish"', None),
        # a relative link is resolved against the page's own URL
        ('</v1/cdr_feed?page=2>; rel="next"', "https://h.example/v1/cdr_feed?page=2"),
        ('<cdr_feed?page=3>; rel=next', "https://h.example/v1/cdr_feed?page=3"),
    ],
)
def test_next_link(header, expected):
    assert next_link(httpx.Headers({"Link": header}), "https://h.example/v1/cdr_feed?startTime=x") == expected


def test_retry_after_in_seconds_or_as_an_http_date():
    assert retry_after_seconds(httpx.Response(429, headers={"Retry-After": "7"}), default=5.0) == 7.0
    assert retry_after_seconds(httpx.Response(429), default=5.0) == 5.0
    later = format_datetime(datetime.now(UTC) + timedelta(seconds=30), usegmt=True)
    assert 28 <= retry_after_seconds(httpx.Response(429, headers={"Retry-After": later}), default=5.0) <= 30
    past = "Wed, 21 Oct 2015 07:28:00 GMT"
    assert retry_after_seconds(httpx.Response(429, headers={"Retry-After": past}), default=5.0) == 0.0
    assert retry_after_seconds(httpx.Response(429, headers={"Retry-After": "soon"}), default=5.0) == 5.0


def test_region_base_url_from_a_451_message():
    msg = "The organization's data is located in a different region. Please use http://127.0.0.1:5555/webex-analytics/eu/v1"
    assert region_base_url(msg, "http://127.0.0.1:5555/webex-analytics/us/v1") == "http://127.0.0.1:5555/webex-analytics/eu/v1"
    assert region_base_url("use https://analytics-calling-eu.webexapis.com.", "https://analytics-calling.webexapis.com/v1") \
        == "https://analytics-calling-eu.webexapis.com/v1"
    assert region_base_url("no host here", "https://x/v1") is None
    # a host named without its scheme
    assert region_base_url("Use analytics-calling-eu.webexapis.com for this org", "https://analytics-calling.webexapis.com/v1") \
        == "https://analytics-calling-eu.webexapis.com/v1"


def test_a_451_naming_a_documentation_page_first_still_gives_the_regional_host():
    us = "https://analytics-calling.webexapis.com/v1"
    message = ("Data is located in another region, see https://developer.webex.com/docs/api/v1/reports; "
               "use https://analytics-calling-eu.webexapis.com")
    assert region_base_url(message, us) == "https://analytics-calling-eu.webexapis.com/v1"
    # no analytics host by name: a URL of an API path before a page
    message = "See https://help.example.com/article and http://127.0.0.1:5555/webex-analytics/eu/v1/cdr_feed"
    assert region_base_url(message, "http://127.0.0.1:5555/webex-analytics/us/v1") == \
        "http://127.0.0.1:5555/webex-analytics/eu/v1"
    # the client reads the body's texts and the Location header together
    assert region_base_url(" ".join(["Org data is located in region EU", "",
                                     "https://analytics-calling-eu.webexapis.com/v1/cdr_feed"]), us) == \
        "https://analytics-calling-eu.webexapis.com/v1"


def test_a_451_may_name_the_host_only_in_its_errors():
    body = {"message": "Data is in another region", "trackingId": "t",
            "errors": [{"description": "Use https://analytics-calling-eu.webexapis.com/v1"}]}
    texts = error_texts(httpx.Response(451, json=body))
    assert texts == ["Data is in another region", "Use https://analytics-calling-eu.webexapis.com/v1"]
    assert [region_base_url(t, "https://analytics-calling.webexapis.com/v1") for t in texts] == [
        None, "https://analytics-calling-eu.webexapis.com/v1"]


def test_webex_ids_decode_to_the_uuids_cdrs_use():
    uuid = "5f2dd97f-1cfb-10f6-2827-688de6a16a3b"
    import base64

    encoded = base64.b64encode(f"ciscospark://us/PEOPLE/{uuid}".encode()).decode()
    assert webex_id_to_uuid(encoded) == uuid
    assert webex_id_to_uuid(encoded.rstrip("=")) == uuid
    assert webex_id_to_uuid(base64.urlsafe_b64encode(f"ciscospark://eu/LOCATION/{uuid}".encode()).decode()) == uuid
    assert webex_id_to_uuid(uuid.upper()) == uuid
    assert webex_id_to_uuid("garbage!") is None and webex_id_to_uuid(None) is None


def test_people_and_location_rows():
    import base64

    pid = base64.b64encode(b"ciscospark://us/PEOPLE/11111111-2222-3333-4444-555555555555").decode()
    lid = base64.b64encode(b"ciscospark://us/LOCATION/aaaaaaaa-2222-3333-4444-555555555555").decode()
    people, rejects = people_rows([
        {"id": pid, "emails": ["ana@bank.example"], "displayName": "Ana Pérez", "extension": "2001", "locationId": lid,
         "phoneNumbers": [{"type": "work", "value": "+576015550100"}], "created": "2026-01-01T00:00:00.000Z"},
        {"id": "not-base64!", "displayName": "Broken"},
        {"id": pid, "displayName": "Ana again (repeated page)"},
    ], CTX)
    assert people.height == 1 and rejects.height == 1
    row = people.row(0, named=True)
    assert row["person_uuid"] == "11111111-2222-3333-4444-555555555555"
    assert row["location_uuid"] == "aaaaaaaa-2222-3333-4444-555555555555"
    assert row["email"] == "ana@bank.example" and row["work_number"] == "+576015550100"
    assert row["created"] == datetime(2026, 1, 1, tzinfo=UTC)
    locations, _ = location_rows([{"id": lid, "name": "Bogotá", "timeZone": "America/Bogota",
                                   "address": {"city": "Bogotá"}, "latitude": "4.6"}], CTX)
    assert locations.row(0, named=True)["location_uuid"] == "aaaaaaaa-2222-3333-4444-555555555555"
    assert locations.row(0, named=True)["latitude"] == 4.6


def _page(records) -> bytes:
    return b'{"items":[' + b",".join(orjson.dumps(r) for r in records) + b"]}"


def _same(a: pl.DataFrame, b: pl.DataFrame) -> bool:
    return a.sort("raw_record").equals(b.sort("raw_record"))


@pytest.mark.parametrize(
    ("records", "path"),
    [
        ([_record(), _record(**{"Report ID": "r2", "Duration": "7", "Answered": "false"})], "fast"),
        # case variants in one page, a new key, a bad value and a missing Report ID: same rows and rejects
        ([_record(**{"Call transfer time": "2026-11-29T10:01:00.000Z"}),
          {**_record(**{"Report ID": "b"}), "Call transfer Time": "2026-11-29T10:02:00Z", "Brand New Key": 5},
          _record(**{"Report ID": "r9", "Answered": "maybe"}), _record(**{"Report ID": "NA"})], "fast"),
        ([_record(**{"Location": 'Sede "Norte" },{ piso 2'})], "general"),  # `},{` inside a value
        ([_record(**{"Extra": {"nested": [1, 2]}})], "general"),
        ([_record(), "not an object"], "general"),
        ([], "fast"),
        # records of 12 bytes or less are held inside their string view, longer ones point into the page
        ([{}, _record(), {"a": "b"}, {"Report ID": "x"}], "fast"),
    ],
)
def test_columnar_page_reading_equals_the_record_by_record_result(records, path):
    from pipelines.webex.cdr_normalize import normalize_page, parse_cdr_page

    body = _page(records)
    parsed = parse_cdr_page(body)
    assert (parsed.text is not None) == (path == "fast")
    fast = normalize_page(parsed, CTX)
    general = normalize_records(orjson.loads(body)["items"], CTX)
    assert _same(fast.rows, general.rows) and fast.rows.columns == general.rows.columns
    assert fast.rejects.sort("reject_key").equals(general.rejects.sort("reject_key"))
    assert fast.records_read == len(records)
    # raw_record is each record's own text, exactly as the page carried it
    assert all(raw.encode() in body for raw in fast.rows["raw_record"])


@pytest.mark.parametrize(
    "later_page",
    [
        _page([_record(**{"Report ID": "r2"})]),  # only keys seen before
        _page([_record(**{"Report ID": "r2", "Brand New Key": "x"})]),  # a key the first page lacked
        _page([_record(**{"Report ID": "r2", "Duration": None})]),  # a JSON null
        _page([_record(**{"Report ID": "r2", "Location": 'Sede "Norte": piso 2'})]),  # `":` in a value
        # a seen key spaced from its colon, beside a new one: the two would cancel out in a count
        # of `":` alone
        _page([_record(**{"Report ID": "r2", "Brand New Key": "x"})]).replace(b'"Duration":', b'"Duration" :'),
    ],
)
def test_a_later_page_read_with_the_keys_seen_so_far_loses_nothing(later_page):
    """parse_cdr_page reads a page with the keys of the pages before it (known_keys) and keeps that
    read only when it provably lost nothing: the result equals the record-by-record one."""
    from pipelines.webex.cdr_normalize import normalize_page, parse_cdr_page

    known_keys: dict = {}
    assert parse_cdr_page(_page([_record()]), known_keys).text is not None
    parsed = parse_cdr_page(later_page, known_keys)
    fast = normalize_page(parsed, CTX)
    general = normalize_records(orjson.loads(later_page)["items"], CTX)
    # every column as the record-by-record read has it; raw_record as the page carried it (the
    # record-by-record read writes it again, without the space)
    assert fast.rows.drop("raw_record").equals(general.rows.drop("raw_record"))
    assert fast.rows["raw_record"].to_list() == [later_page[len(b'{"items":['):-len(b"]}")].decode()]
    assert fast.rejects.height == general.rejects.height == 0


def test_pages_of_several_windows_normalised_together_equal_each_page_alone():
    """The source normalises a batch of pages at once (normalize_pages): every row and reject keeps
    its own page's context, and pages with different keys (a new key, a case variant) mix."""
    from pipelines.webex.cdr_normalize import (
        normalize_page,
        normalize_pages,
        page_text,
        parse_cdr_page,
    )

    other = BatchContext("cdr_stream", CTX.loaded_at, datetime(2026, 11, 29, 12, tzinfo=UTC),
                         datetime(2026, 11, 29, 14, tzinfo=UTC), page="p7")
    pages = [
        (_page([_record(), _record(**{"Report ID": "r2", "Answered": "maybe"})]), CTX),
        (_page([_record(**{"Report ID": "r3", "Brand New Key": "x", "Call transfer Time": "2026-11-29T10:02:00Z"}),
                _record(**{"Report ID": "NA"})]), other),
    ]
    parsed = [(parse_cdr_page(body), ctx) for body, ctx in pages]
    assert all(page.text is not None for page, _ in parsed)  # both take the fast path
    together = normalize_pages([page_text(page, ctx) for page, ctx in parsed])
    alone = [normalize_page(page, ctx) for page, ctx in parsed]

    expected_rows = pl.concat([batch.rows for batch in alone], how="diagonal_relaxed")
    assert _same(together.rows, expected_rows.select(together.rows.columns))
    assert set(together.rows.columns) == set(expected_rows.columns)
    assert together.rows.filter(pl.col("report_id") == "r3")["_source"].to_list() == ["cdr_stream"]
    expected_rejects = pl.concat([batch.rejects for batch in alone])
    assert together.rejects.sort("reject_key").equals(expected_rejects.sort("reject_key"))
    assert sorted(together.rejects["_page"].to_list()) == ["p1", "p7"]
    assert together.records_read == 4 == together.rows.height + together.rejects.height


@pytest.mark.parametrize(("body", "whole"), [
    (b'{"items":[]}', True), (b' \r\n{"items":[]}\n ', True), (b" " * 100 + b"{}" + b"\n" * 100, True),
    (b'{"items":[{"Report ID":"a"},{"Rep', False), (b"", False), (b" " * 100, False), (b"x{}", False),
])
def test_whole_page_is_the_request_loops_cheap_check_of_a_body(body, whole):
    from pipelines.webex.cdr_normalize import whole_page

    assert (whole_page(body) is body) == whole


@pytest.mark.parametrize("body", [b'{"items":[{"Report ID":"a"},{"Rep', b'{"items":[{"Report ID":"a"}{"Report ID":"b"}]}',
                                  b'{"items":[{"Report ID":"a"}]', b"", b'{"items": 5}',
                                  b'{"message":"Service temporarily degraded","trackingId":"t1"}'])
def test_an_unreadable_page_body_is_none_so_the_client_asks_again(body):
    from pipelines.webex.cdr_normalize import parse_cdr_page

    assert parse_cdr_page(body) is None


def test_the_deduper_keeps_the_newest_version_of_each_report_id_in_a_batch_and_across_batches():
    from pipelines.webex.source import _Deduper

    def batch(*rows):
        return pl.DataFrame(
            {"report_id": [r[0] for r in rows], "version": [r[2] for r in rows],
             "report_time": [None if r[1] is None else datetime(2026, 11, 29, 10, r[1], tzinfo=UTC) for r in rows]},
            schema={"report_id": pl.String, "version": pl.String, "report_time": pl.Datetime("us", "UTC")})

    dedupe = _Deduper(None)  # no warehouse to compare with
    first = dedupe.keep(batch(("a", 1, "a1"), ("b", 5, "b5"), ("a", 3, "a3"), ("c", None, "c-first"),
                              ("c", None, "c-again"), ("a", 3, "a3-tie")))
    # the newest of each; of equal versions the first; the batch's order otherwise kept
    assert first["version"].to_list() == ["b5", "a3", "c-first"]
    assert not dedupe.reemitted
    second = dedupe.keep(batch(("a", 2, "a2-older"), ("b", 7, "b7-newer"), ("d", 1, "d1"), ("c", None, "c-later")))
    assert second["version"].to_list() == ["b7-newer", "d1"]
    assert dedupe.reemitted  # a second version of b in one run: the load must merge
    assert dedupe.unique_loaded == 4


def test_a_451_moves_requests_only_to_a_webex_host_over_https_or_the_host_in_use():
    # the next request carries the bearer token: a 451 from an intercepting proxy or an error page
    # echoing input must not send it elsewhere (independent security audit)
    us = "https://analytics-calling.webexapis.com/v1"
    for message in ("Data is in another region: http://analytics-calling-eu.webexapis.com/v1",
                    "Please use https://cdr-proxy.attacker.example/v1",
                    "Moved. See https://attacker.example/cdr_feed",
                    "use https://analytics-calling-eu.webexapis.com@attacker.example/v1",
                    "use https://analytics-calling-eu.webexapis.com.attacker.example/v1",
                    "use https://analytics-calling-eu.webexapis.com:8443/v1",
                    "use https://analytics-calling-eu.webexapis.com:x/v1",
                    # a dotless ı: httpx sends it to the punycode domain xn--webexaps-zkb.com (re-audit)
                    "use https://analytics-calling-eu.webexap\u0131s.com/v1"):
        assert region_base_url(message, us) is None, message
    # a foreign host named beside a Webex one: the Webex one is taken
    assert region_base_url("see https://attacker.example/v1 or https://analytics-calling-eu.webexapis.com", us) \
        == "https://analytics-calling-eu.webexapis.com/v1"
    # another Webex API host, and another path on the host in use (a proxy, the sandbox), are taken
    assert region_base_url("use https://webexapis.com/v1", us) == "https://webexapis.com/v1"
    sandbox = "http://127.0.0.1:5555/webex-analytics/us/v1"
    assert region_base_url("use http://127.0.0.1:5555/webex-analytics/eu/v1", sandbox) == \
        "http://127.0.0.1:5555/webex-analytics/eu/v1"
    assert region_base_url("use http://127.0.0.1:6666/webex-analytics/eu/v1", sandbox) is None
