"""Unit tests of the realtime queue_log table readers (pipelines/asterisk/queue_log_table.py):
SQL dumps and CSV exports, legacy `data` vs adaptive data1..data5 (asterisk-queue-log.md §1.2,
§4.11). Fixtures are written here by hand.
"""

from __future__ import annotations

import hashlib

import polars as pl
import pytest

from pipelines.asterisk.queue_log_parser import parse_chunk
from pipelines.asterisk.queue_log_table import (
    TABLE_REJECT_SCHEMA,
    TABLE_SCHEMA,
    ParsedTable,
    parse_csv_export,
    parse_sql_dump,
)

BOGOTA = "America/Bogota"  # UTC-5, no DST
T = 1_718_900_000  # 2024-06-20 16:13:20 UTC = 11:13:20 in Bogotá
LOCAL = "2024-06-20 11:13:20"
DATA = ("data1", "data2", "data3", "data4", "data5", "data6")
ID = pl.col("row_key").str.split(":").list.first().alias("id")  # a key is "<id>:<md5 of the content>"

CREATE = """
CREATE TABLE `queue_log` (
  `id` bigint NOT NULL AUTO_INCREMENT,
  `time` datetime(6) DEFAULT NULL,
  `callid` varchar(80) DEFAULT NULL,
  `queuename` varchar(256) DEFAULT NULL,
  `agent` varchar(80) DEFAULT NULL,
  `event` varchar(32) DEFAULT NULL,
  `data1` varchar(100) DEFAULT NULL,
  `data2` varchar(100) DEFAULT NULL,
  `data3` varchar(100) DEFAULT NULL,
  `data4` varchar(100) DEFAULT NULL,
  `data5` varchar(100) DEFAULT NULL,
  PRIMARY KEY (`id`),
  KEY `queue_log_time` (`time`)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;
"""


def checked(out: ParsedTable) -> ParsedTable:
    """Every row read is either a row or a reject, and the frames keep their schemas."""
    assert out.rows_read == out.rows.height + out.rejects.height
    assert dict(out.rows.schema) == TABLE_SCHEMA
    assert dict(out.rejects.schema) == TABLE_REJECT_SCHEMA
    return out


def sql(*tuples: str, create: str = CREATE, table: str = "`queue_log`") -> str:
    return create + f"INSERT INTO {table} VALUES " + ",\n".join(tuples) + ";\n"


def csv(*lines: str) -> bytes:
    return ("\n".join(lines) + "\n").encode()


# --- SQL dumps -------------------------------------------------------------------------------


def test_sql_dump_adaptive_columns_local_time_to_utc_and_id_key():
    """Adaptive data1..data5 rows: local `time` → UTC epoch, row_key starts with the id column, '' → null."""
    out = checked(parse_sql_dump(sql(
        f"(7,'{LOCAL}','NONE','NONE','NONE','QUEUESTART','','','','','')",
        "(8,'2024-06-20 11:13:25','1718900004.31','ventas','NONE','ENTERQUEUE','','3001234567','1','','')",
        "(9,'2024-06-20 11:13:31','1718900004.31','ventas','Lucía Gómez','CONNECT','6','1718900010.32','5','','')",
    ), timezone=BOGOTA))
    assert out.rows.select(ID, "row_no", "event_time_text", "event_epoch", "callid", "agent", "event", *DATA).rows() == [
        ("7", 0, LOCAL, T, "NONE", "NONE", "QUEUESTART", None, None, None, None, None, None),
        ("8", 1, "2024-06-20 11:13:25", T + 5, "1718900004.31", "NONE", "ENTERQUEUE", None, "3001234567", "1", None, None, None),
        ("9", 2, "2024-06-20 11:13:31", T + 11, "1718900004.31", "Lucía Gómez", "CONNECT", "6", "1718900010.32", "5", None, None, None),
    ]


def test_a_create_table_written_on_one_line_names_every_column():
    """Its definitions were found only at line starts: `id` alone, and every row a bad row
    (independent audit)."""
    one_line = " ".join(line.strip() for line in CREATE.splitlines()) + "\n"
    assert "\n" not in one_line.strip()
    rows = ("(7,'2024-06-20 11:13:20','NONE','NONE','NONE','QUEUESTART','','','','','')",
            "(8,'2024-06-20 11:13:25','1718900004.31','ventas','NONE','ENTERQUEUE','','3001234567','1','','')")
    out = checked(parse_sql_dump(sql(*rows, create=one_line), timezone=BOGOTA))
    assert out.rejects.height == 0
    assert out.rows.drop("row_key").equals(parse_sql_dump(sql(*rows), timezone=BOGOTA).rows.drop("row_key"))


PG_DUMP = """--
-- PostgreSQL database dump (pg_dump's default form: COPY, not INSERT)
--
CREATE TABLE public.queue_log (
    id integer NOT NULL,
    "time" character varying(26) DEFAULT ''::character varying NOT NULL,
    callid character varying(80),
    queuename character varying(256),
    agent character varying(80),
    event character varying(20),
    data1 character varying(80), data2 character varying(80), data3 character varying(80),
    data4 character varying(80), data5 character varying(80)
);
COPY public.queue_log (id, "time", callid, queuename, agent, event, data1, data2, data3, data4, data5) FROM stdin;
7\t2024-06-20 11:13:20\tNONE\tNONE\tNONE\tQUEUESTART\t\t\t\t\\N\t\\N
8\t2024-06-20 11:13:25\t1718900004.31\tventas\tNONE\tENTERQUEUE\t\t3001234567\t1\t\\N\t\\N
9\t2024-06-20 11:13:31\t1718900004.31\tventas\tO'Brien \\\\ Ana\tCONNECT\t6\t1718900010.32\t5\t\\N\ttab\\there
\\.

SELECT pg_catalog.setval('public.queue_log_id_seq', 9, true);
"""


def test_a_pg_dump_copy_block_gives_the_rows_its_inserts_would():
    """Wazo keeps queue_log in PostgreSQL, and pg_dump writes COPY blocks: such a dump was read as
    holding nothing, without a reject or a warning (independent audit)."""
    out = checked(parse_sql_dump(PG_DUMP, timezone=BOGOTA))
    assert out.other_tables == ()
    other = PG_DUMP + "COPY public.cdr (id, src) FROM stdin;\n1\t3001234567\n\\.\n"
    assert checked(parse_sql_dump(other, timezone=BOGOTA)).rows.equals(out.rows)
    assert parse_sql_dump(other, timezone=BOGOTA).other_tables == ("cdr",)
    same = checked(parse_sql_dump(sql(
        "(7,'2024-06-20 11:13:20','NONE','NONE','NONE','QUEUESTART','','','',NULL,NULL)",
        "(8,'2024-06-20 11:13:25','1718900004.31','ventas','NONE','ENTERQUEUE','','3001234567','1',NULL,NULL)",
        "(9,'2024-06-20 11:13:31','1718900004.31','ventas','O\\'Brien \\\\ Ana','CONNECT','6','1718900010.32','5',NULL,"
        "'tab\\there')",
    ), timezone=BOGOTA))
    assert out.rows.height == 3 and out.rows.equals(same.rows)
    assert out.rows["agent"][2] == "O'Brien \\ Ana" and out.rows["data5"][2] == "tab\there"
    cut = checked(parse_sql_dump(PG_DUMP[:PG_DUMP.index("9\t2024")] + "9\t2024-06-20 11:1", timezone=BOGOTA))
    assert cut.rows.height == 2 and cut.rejects.rows() == [(2, "unterminated", "9\t2024-06-20 11:1")]


def test_a_timestamp_with_time_zone_is_read_at_its_own_offset():
    """Wazo's queue_log.time is a `timestamp with time zone`: pg_dump writes it with its offset,
    and such a dump's rows were all rejected as bad_time (independent audit). The offset says the
    instant, whatever the zone setting."""
    dump = (PG_DUMP.replace("2024-06-20 11:13:20", "2024-06-20 16:13:20.123456+00")
            .replace("2024-06-20 11:13:25", "2024-06-20 11:13:25-05")
            .replace("2024-06-20 11:13:31", "2024-06-20 21:43:31+05:30"))
    out = checked(parse_sql_dump(dump, timezone="Asia/Tokyo"))
    assert out.rejects.height == 0
    assert out.rows["event_epoch"].to_list() == [T, T + 5, T + 11]


@pytest.mark.parametrize("statement", ["INSERT IGNORE INTO", "REPLACE INTO", "insert low_priority ignore into"])
def test_dumps_made_with_insert_ignore_or_replace_load_their_rows(statement):
    """mysqldump --insert-ignore / --replace (independent audit: every row was dropped, unseen)."""
    dump = sql(
        f"(7,'{LOCAL}','NONE','NONE','NONE','QUEUESTART','','','','','')",
        "(8,'2024-06-20 11:13:25','1718900004.31','ventas','NONE','ENTERQUEUE','','3001234567','1','','')",
    ).replace("INSERT INTO", statement)
    out = checked(parse_sql_dump(dump, timezone=BOGOTA))
    assert out.rows.select(ID, "event").rows() == [("7", "QUEUESTART"), ("8", "ENTERQUEUE")]


def test_an_insert_written_inside_a_value_is_text_not_a_statement():
    """Statements are read one after another: an INSERT inside a quoted value is that value's text
    (it was read as a statement of its own: a false reject, and the rows after it read twice)."""
    text = "INSERT INTO queue_log VALUES (1,'x','y','z','w','e','','','','','')"
    quoted = text.replace("'", "\\'")  # as mysqldump escapes it
    out = checked(parse_sql_dump(sql(
        f"(7,'{LOCAL}','1718900004.31','ventas','NONE','ENTERQUEUE','','{quoted}','1','','')",
        "(8,'2024-06-20 11:13:25','1718900004.31','ventas','NONE','ABANDON','1','1','5','','')",
    ), timezone=BOGOTA))
    assert out.rejects.height == 0
    assert out.rows.select(ID, "data2").rows() == [("7", text), ("8", "1")]


@pytest.mark.parametrize(("time_type", "tz_utc", "epoch"), [
    ("timestamp", True, T - 5 * 3600),  # written in UTC: 11:13:20 UTC
    ("datetime(6)", True, T),           # a DATETIME is written as stored: local
    ("timestamp", False, T),            # mysqldump --skip-tz-utc: the server's (local) zone
])
def test_a_timestamp_column_dumped_under_utc_is_read_as_utc(time_type, tz_utc, epoch):
    """mysqldump sets TIME_ZONE='+00:00' and writes TIMESTAMP columns in UTC (independent audit:
    such a table came out 5 hours off in Bogotá)."""
    create = CREATE.replace("`time` datetime(6)", f"`time` {time_type}")
    prologue = "/*!40103 SET TIME_ZONE='+00:00' */;\n" if tz_utc else ""
    dump = prologue + sql(f"(7,'{LOCAL}','NONE','NONE','NONE','QUEUESTART','','','','','')", create=create)
    out = checked(parse_sql_dump(dump, timezone=BOGOTA))
    assert out.rows["event_epoch"].to_list() == [epoch]


def test_sql_adaptive_data5_calltime_origposition_splits_into_data5_data6():
    """ATTENDEDTRANSFER LINK in realtime keeps 'calltime|origposition' in data5 → data5, data6."""
    out = checked(parse_sql_dump(sql(
        f"(1,'{LOCAL}','c1','ventas','Lucía Gómez','ATTENDEDTRANSFER','LINK','PJSIP/2001-0000001a','PJSIP/2002-0000001b','5','88|1')",
    ), timezone=BOGOTA))
    assert out.rows.select(DATA).rows() == [("LINK", "PJSIP/2001-0000001a", "PJSIP/2002-0000001b", "5", "88", "1")]


def test_sql_fractional_seconds_are_truncated_like_the_file_epoch():
    """`time` with microseconds (%F %T.%6q) gives the whole second the file line would carry."""
    out = checked(parse_sql_dump(sql(f"(1,'{LOCAL}.896208','NONE','NONE','NONE','QUEUESTART','','','','','')"), timezone=BOGOTA))
    assert out.rows["event_epoch"].to_list() == [T]
    assert out.rows["event_time_text"].to_list() == [f"{LOCAL}.896208"]


def test_sql_gmt_time_with_utc_zone():
    """queue_log_realtime_use_gmt=yes: the configured zone is UTC and the time is taken as is."""
    out = checked(parse_sql_dump(sql("(1,'2024-06-20 16:13:20','NONE','NONE','NONE','QUEUESTART','','','','','')"), timezone="UTC"))
    assert out.rows["event_epoch"].to_list() == [T]


def test_sql_legacy_data_column_is_split_into_data_fields():
    """Legacy mode stores the whole data string with pipes in `data`; it maps to data1..data6."""
    create = CREATE.replace(
        "  `data1` varchar(100) DEFAULT NULL,\n  `data2` varchar(100) DEFAULT NULL,\n  `data3` varchar(100) DEFAULT NULL,\n"
        "  `data4` varchar(100) DEFAULT NULL,\n  `data5` varchar(100) DEFAULT NULL,\n",
        "  `data` varchar(255) DEFAULT NULL,\n",
    )
    out = checked(parse_sql_dump(sql(
        f"(1,'{LOCAL}','c1','ventas','NONE','ENTERQUEUE','|3001234567|1')",
        f"(2,'{LOCAL}','c1','ventas','Lucía Gómez','ATTENDEDTRANSFER','LINK|PJSIP/2001-1a|PJSIP/2002-1b|5|88|1')",
        f"(3,'{LOCAL}','c1','ventas','NONE','NOTA','a|b|c|d|e|f||g')",
        f"(4,'{LOCAL}','NONE','NONE','NONE','QUEUESTART',NULL)",
        create=create,
    ), timezone=BOGOTA))
    assert out.rows.select(DATA).rows() == [
        (None, "3001234567", "1", None, None, None),
        ("LINK", "PJSIP/2001-1a", "PJSIP/2002-1b", "5", "88", "1"),
        ("a", "b", "c", "d", "e", "f||g"),
        (None, None, None, None, None, None),
    ]


def test_extra_data_fields_ending_empty_are_stored_as_the_file_parser_stores_them():
    """The same event logged to the file and to the table is one event in staging only if its
    fields agree: data6 drops trailing empty fields (custom QueueLog() lines of 7+ fields)."""
    data = ("a|b|c|d|e|f|", "a|b|c|d|e||", "a|b|c|d|e|f||g|")
    lines = "".join(f"{T}|c{i}|ventas|NONE|NOTA|{d}\n" for i, d in enumerate(data)).encode()
    from_file = parse_chunk(lines).events.select(DATA).rows()
    legacy = "id,time,callid,queuename,agent,event,data\n" + "".join(
        f"{i},{LOCAL},c{i},ventas,NONE,NOTA,{d}\n" for i, d in enumerate(data))
    adaptive = "id,time,callid,queuename,agent,event,data1,data2,data3,data4,data5\n" + "".join(
        f"{i},{LOCAL},c{i},ventas,NONE,NOTA,{d.replace('|', ',', 4)}\n" for i, d in enumerate(data))
    for export in (legacy, adaptive):
        assert checked(parse_csv_export(export.encode(), timezone=BOGOTA)).rows.select(DATA).rows() == from_file
    assert from_file == [("a", "b", "c", "d", "e", "f"), ("a", "b", "c", "d", "e", None), ("a", "b", "c", "d", "e", "f||g")]


def test_table_with_both_data_and_data1_to_5_prefers_the_adaptive_columns():
    """FreePBX-style tables have both; filled data1..data5 win, an empty set falls back to `data`."""
    text = (
        "INSERT INTO queue_log (time, callid, queuename, agent, event, data, data1, data2, data3, data4, data5) VALUES "
        f"('{LOCAL}','c1','ventas','NONE','ENTERQUEUE','|3001234567|1','','3001234567','1','',''),"
        f"('{LOCAL}','c2','ventas','NONE','ENTERQUEUE','|3109876543|2','','','','','');"
    )
    out = checked(parse_sql_dump(text, timezone=BOGOTA))
    assert out.rows.select("callid", "data1", "data2", "data3").rows() == [
        ("c1", None, "3001234567", "1"),
        ("c2", None, "3109876543", "2"),
    ]


def test_sql_insert_with_column_list_in_another_order_and_schema_prefix():
    """A column list (any order) overrides CREATE TABLE; `db`.`queue_log` is the same table."""
    text = (
        "INSERT INTO `asteriskcdrdb`.`queue_log` (`event`,`time`,`callid`,`queuename`,`agent`,`data1`,`data2`,`data3`) "
        f"VALUES ('ABANDON','{LOCAL}','c9','soporte','NONE','2','1','14');"
    )
    out = checked(parse_sql_dump(text, timezone=BOGOTA))
    assert out.rows.select("event_epoch", "callid", "queuename", "event", "data1", "data2", "data3").rows() == [
        (T, "c9", "soporte", "ABANDON", "2", "1", "14")]


def test_sql_other_tables_are_ignored_and_row_numbers_continue_across_inserts():
    text = (
        CREATE
        + f"INSERT INTO `queue_log` VALUES (1,'{LOCAL}','NONE','NONE','NONE','QUEUESTART','','','','','');\n"
        + "INSERT INTO `queue_log_archive` VALUES (1,'x');\nINSERT INTO `cdr` VALUES (1,2,3);\n"
        + f"INSERT INTO `queue_log` VALUES (2,'{LOCAL}','NONE','NONE','NONE','CONFIGRELOAD','','','','',''),"
        + f"(3,'{LOCAL}','NONE','NONE','NONE','CONFIGRELOAD','','','','','');\n"
    )
    out = checked(parse_sql_dump(text, timezone=BOGOTA))
    assert out.rows.select(ID, "row_no").rows() == [("1", 0), ("2", 1), ("3", 2)]
    # named, so the loader can say what it left out (an archive of queue_log among them)
    assert out.other_tables == ("cdr", "queue_log_archive")
    assert checked(parse_sql_dump(sql(f"(1,'{LOCAL}','NONE','NONE','NONE','QUEUESTART','','','','','')"),
                                  timezone=BOGOTA)).other_tables == ()


def test_a_dump_without_create_table_is_read_in_the_tables_own_column_order():
    """mysqldump --no-create-info: no CREATE TABLE, no column list. The values fit the table's own
    layout (11: id, time, …, data5), so the rows load (the load used to fail, every file with it)."""
    out = checked(parse_sql_dump(
        f"INSERT INTO queue_log VALUES (7,'{LOCAL}','c1','ventas','NONE','ENTERQUEUE','','3001234567','1','',''),"
        "(8,'2024-06-20 11:13:25','c1','ventas','NONE','ABANDON','1','1','5','','');", timezone=BOGOTA))
    assert out.rows.select(ID, "event_epoch", "event", "data2").rows() == [
        ("7", T, "ENTERQUEUE", "3001234567"), ("8", T + 5, "ABANDON", "1")]


def test_a_headerless_export_whose_first_row_is_damaged_is_read_by_the_rows_after_it():
    """The layout was told by the first row alone: a NULL or garbled time there rejected every row
    of the export as no_header, good ones included (independent audit)."""
    dump = checked(parse_sql_dump(
        "INSERT INTO queue_log VALUES (6,NULL,'NONE','NONE','NONE','QUEUESTART','','','',NULL,NULL),"
        f"(7,'{LOCAL}','c1','ventas','NONE','ENTERQUEUE','','3001234567','1','','');", timezone=BOGOTA))
    export = checked(parse_csv_export(csv(
        "2024-06-20 1x:13:20,c0,ventas,NONE,ENTERQUEUE,,3001234567,1,,",
        f"{LOCAL},c1,ventas,NONE,ENTERQUEUE,,3001234567,1,,"), timezone=BOGOTA))
    for out in (dump, export):
        assert out.rejects.select("row_no", "reason").rows() == [(0, "bad_time")]
        assert out.rows.select("event_epoch", "event").rows() == [(T, "ENTERQUEUE")]


def test_a_dump_whose_columns_cannot_be_told_rejects_its_rows_as_no_header():
    """Six values whose first is not a time: no layout of the table fits. Rejected, not lost, and
    not a failure of the whole load."""
    text = f"(1,'{LOCAL}','NONE','NONE','NONE','QUEUESTART')"
    out = checked(parse_sql_dump(f"INSERT INTO queue_log VALUES {text};", timezone=BOGOTA))
    assert out.rejects.select("reason", "raw_text").rows() == [("no_header", text)]


def test_sql_string_escapes_are_decoded():
    """MySQL escapes: \\' and '' are quotes, \\\\ is one backslash (not the start of \\n), \\n a newline;
    ';', ')' and ',' inside strings do not end the tuple or the statement."""
    out = checked(parse_sql_dump(sql(
        f"(1,'{LOCAL}','c1','ventas','O\\'Neill; (turno)','PAUSE','it''s, lunch','C:\\\\new','l1\\nl2','','')",
    ), timezone=BOGOTA))
    assert out.rows.select("agent", "data1", "data2", "data3").rows() == [
        ("O'Neill; (turno)", "it's, lunch", "C:\\new", "l1\nl2")]


def test_sql_null_values_are_null():
    out = checked(parse_sql_dump(sql(f"(1,'{LOCAL}','c1','ventas',NULL,'ABANDON','1',NULL,'3',NULL,NULL)"), timezone=BOGOTA))
    assert out.rows.select("agent", "data1", "data2", "data3").rows() == [(None, "1", None, "3")]


def test_sql_bad_rows_and_bad_times_are_rejected_with_their_text():
    """A tuple with the wrong number of values → bad_row; an unparseable time → bad_time."""
    short = f"(2,'{LOCAL}','c1')"
    bad_time = "(3,'20/06/2024 11:13','c1','ventas','NONE','ABANDON','1','1','3','','')"
    out = checked(parse_sql_dump(sql(
        f"(1,'{LOCAL}','NONE','NONE','NONE','QUEUESTART','','','','','')", short, bad_time,
        f"(4,'{LOCAL}','NONE','NONE','NONE','CONFIGRELOAD','','','','','')",
    ), timezone=BOGOTA))
    assert sorted(out.rejects.rows()) == [(1, "bad_row", short), (2, "bad_time", bad_time)]
    assert out.rows.select(ID).to_series().to_list() == ["1", "4"]


def test_dst_gap_time_is_rejected_and_repeated_hour_takes_the_earlier_instant():
    """Local times without zone (§4.11): a time inside the spring-forward gap does not exist → bad_time;
    a lone ambiguous fall-back time (no step back in the table to tell) resolves to its first
    (earlier, DST) occurrence."""
    out = checked(parse_sql_dump(sql(
        "(1,'2024-03-10 02:30:00','NONE','NONE','NONE','QUEUESTART','','','','','')",
        "(2,'2024-11-03 01:30:00','NONE','NONE','NONE','QUEUESTART','','','','','')",
    ), timezone="America/New_York"))
    assert out.rejects.select("row_no", "reason").rows() == [(0, "bad_time")]
    assert out.rows["event_epoch"].to_list() == [1_730_611_800]  # 05:30 UTC (EDT, UTC-4)


# --- CSV exports -----------------------------------------------------------------------------


def test_a_csv_export_cut_in_its_last_row_rejects_it_until_completed():
    """An export read while it is written ends in a cut row: a short last line without a line
    break was loaded with its last values empty, and the completed row then loaded beside it
    (independent audit). It is unterminated; a full last row without a line break loads."""
    header = "time,callid,queuename,agent,event,data1,data2,data3,data4,data5"
    first = f"{LOCAL},c1,sales,Agent/5,CONNECT,5,c1b,4,,"
    whole = f"{LOCAL},c1,sales,Agent/5,COMPLETECALLER,5,125,1,,"
    cut = checked(parse_csv_export(f"{header}\n{first}\n{whole[:-7]}".encode(), timezone=BOGOTA))
    assert cut.rows["event"].to_list() == ["CONNECT"]
    assert cut.rejects.rows() == [(1, "unterminated", whole[:-7])]
    completed = checked(parse_csv_export(f"{header}\n{first}\n{whole}".encode(), timezone=BOGOTA))
    assert completed.rejects.height == 0 and completed.rows["data2"].to_list() == ["c1b", "125"]
    with_break = checked(parse_csv_export(f"{header}\n{first}\n{whole[:-7]}\n".encode(), timezone=BOGOTA))
    assert with_break.rejects.height == 0  # a short row that ends its line is read with the rest empty


def test_csv_export_with_adaptive_columns_and_id():
    out = checked(parse_csv_export(csv(
        "id,time,callid,queuename,agent,event,data1,data2,data3,data4,data5",
        f"41,{LOCAL},1718900004.31,ventas,NONE,ENTERQUEUE,,3001234567,1,,",
        f'42,{LOCAL},1718900004.31,ventas,"Gómez, Lucía",ATTENDEDTRANSFER,LINK,PJSIP/2001-1a,PJSIP/2002-1b,5,88|1',
    ), timezone=BOGOTA))
    assert out.rows.select(ID, "event_epoch", "agent", *DATA).rows() == [
        ("41", T, "NONE", None, "3001234567", "1", None, None, None),
        ("42", T, "Gómez, Lucía", "LINK", "PJSIP/2001-1a", "PJSIP/2002-1b", "5", "88", "1"),
    ]


def test_a_csv_export_writing_null_as_text_gives_the_rows_of_the_sql_dump_their_keys():
    """The same table exported twice, as a dump and as a CSV that writes NULL as `NULL` or `\\N`
    (mysql's own CSV): one row each, not two (keys hold the content)."""
    dump = checked(parse_sql_dump(sql(f"(7,'{LOCAL}','c1','ventas',NULL,'ABANDON','1',NULL,'3',NULL,NULL)"),
                                  timezone=BOGOTA))
    for null in ("NULL", "\\N"):
        export = checked(parse_csv_export(csv(
            "id,time,callid,queuename,agent,event,data1,data2,data3,data4,data5",
            f"7,{LOCAL},c1,ventas,{null},ABANDON,1,{null},3,{null},{null}",
        ), timezone=BOGOTA))
        assert export.rows.select("row_key", "agent", *DATA).rows() == dump.rows.select("row_key", "agent", *DATA).rows()


def test_csv_export_legacy_data_column_and_header_case():
    """Header names are matched case-insensitively; the legacy `data` column is split on '|'."""
    out = checked(parse_csv_export(csv(
        "TIME,CallId,QueueName,Agent,Event,Data",
        f"{LOCAL},c1,ventas,NONE,ENTERQUEUE,|3001234567|1|Ana María",
    ), timezone=BOGOTA))
    assert out.rows.select("callid", "event", *DATA).rows() == [
        ("c1", "ENTERQUEUE", None, "3001234567", "1", "Ana María", None, None)]


def test_csv_export_with_utf8_bom_header():
    out = checked(parse_csv_export(b"\xef\xbb\xbf" + csv("time,callid,queuename,agent,event,data", f"{LOCAL},c1,ventas,NONE,QUEUESTART,"),
                                   timezone=BOGOTA))
    assert out.rows["event_epoch"].to_list() == [T]


def test_csv_row_key_is_md5_of_content_without_id():
    """Without an id column the key is an md5 of the row's content: stable and content-addressed."""
    out = checked(parse_csv_export(csv(
        "time,callid,queuename,agent,event,data",
        f"{LOCAL},c1,ventas,NONE,ENTERQUEUE,|3001234567|1",
        f"{LOCAL},c1,ventas,NONE,ENTERQUEUE,|3001234567|1",
        f"{LOCAL},c2,ventas,NONE,ENTERQUEUE,|3001234567|1",
    ), timezone=BOGOTA))
    keys = out.rows["row_key"].to_list()
    assert all(len(k) == 32 and int(k, 16) >= 0 for k in keys)
    assert keys[0] == keys[1] != keys[2]  # exact duplicates share a key; dedup is the loader's job
    again = parse_csv_export(csv("time,callid,queuename,agent,event,data", f"{LOCAL},c1,ventas,NONE,ENTERQUEUE,|3001234567|1"),
                             timezone=BOGOTA)
    assert again.rows["row_key"].to_list() == [keys[0]]


def test_content_key_tells_apart_values_in_different_fields():
    """A value moving to another field is another row: NULL fields must not vanish from the key."""
    out = checked(parse_csv_export(csv(
        "time,callid,queuename,agent,event,data1,data2,data3",
        f"{LOCAL},c1,ventas,NONE,NOTA,5,,",
        f"{LOCAL},c1,ventas,NONE,NOTA,,5,",
        f"{LOCAL},c1,ventas,NONE,NOTA,,,5",
    ), timezone=BOGOTA))
    assert out.rows["row_key"].n_unique() == 3


def test_content_key_matches_between_sql_and_csv_of_the_same_row():
    """The key depends on content only, not on the export format."""
    row_sql = parse_sql_dump(
        f"INSERT INTO queue_log (time,callid,queuename,agent,event,data1,data2,data3) VALUES ('{LOCAL}','c1','ventas','NONE','ABANDON','1','1','9');",
        timezone=BOGOTA)
    row_csv = parse_csv_export(csv("time,callid,queuename,agent,event,data1,data2,data3", f"{LOCAL},c1,ventas,NONE,ABANDON,1,1,9"),
                               timezone=BOGOTA)
    assert row_sql.rows["row_key"].to_list() == row_csv.rows["row_key"].to_list()
    assert row_sql.rows["row_key"][0] != hashlib.md5(b"").hexdigest()


def test_nuls_in_values_are_removed_as_from_queue_log_files():
    """A NUL in a value (a raw byte in a CSV, `\\0` in a dump) is damage: the agent is Ana in both,
    with one key, and no row or reject keeps a NUL (Postgres cannot store one: the load failed)."""
    row_sql = parse_sql_dump(
        f"INSERT INTO queue_log (time,callid,queuename,agent,event,data1,data2,data3) VALUES "
        f"('{LOCAL}','c1','ventas','Ana\\0','CONNECT','3','c1b','1');", timezone=BOGOTA)
    row_csv = parse_csv_export(
        csv("time,callid,queuename,agent,event,data1,data2,data3", f"{LOCAL},c1,ventas,Ana\x00,CONNECT,3,c1b,1",
            "ayer\x00,c2,ventas,NONE,ABANDON,1,1,9"), timezone=BOGOTA)
    assert row_sql.rows["agent"].to_list() == row_csv.rows["agent"].to_list() == ["Ana"]
    assert row_sql.rows["row_key"].to_list() == row_csv.rows["row_key"].to_list()
    assert row_csv.rejects.select("reason", "raw_text").rows() == [("bad_time", "ayer,c2,ventas,NONE,ABANDON,1,1,9")]


def test_csv_bad_time_is_rejected():
    out = checked(parse_csv_export(csv(
        "time,callid,queuename,agent,event,data",
        "ayer,c1,ventas,NONE,ABANDON,1|1|9",
        f"{LOCAL},c1,ventas,NONE,ABANDON,1|1|9",
    ), timezone=BOGOTA))
    assert out.rejects.select("row_no", "reason").rows() == [(0, "bad_time")]
    assert "ayer" in out.rejects["raw_text"][0]
    assert out.rows["row_no"].to_list() == [1]


def test_csv_rows_with_extra_or_missing_fields_are_rejected_not_truncated():
    """A CSV row longer than its header, or cut before the event, is a bad row, not a silent guess."""
    long_row = f"{LOCAL},c1,ventas,NONE,ABANDON,1|1|9,sobrante"
    cut_row = f"{LOCAL},c1,ventas"
    out = checked(parse_csv_export(csv(
        "time,callid,queuename,agent,event,data",
        long_row,
        cut_row,
        f"{LOCAL},c1,ventas,NONE,ABANDON,1|1|9",
    ), timezone=BOGOTA))
    assert sorted(out.rejects.select("row_no", "reason").rows()) == [(0, "bad_row"), (1, "bad_row")]
    assert out.rows["row_no"].to_list() == [2]


def test_a_csv_line_whose_quotes_do_not_pair_up_is_a_bad_row_and_the_others_load():
    """A quote left open (a cut export) or a stray one after a closing quote made the reader raise,
    and the whole Asterisk load stopped, every other file with it (independent audit)."""
    header = "time,callid,queuename,agent,event,data"
    good = [f"{LOCAL},c{i},ventas,NONE,ABANDON,1|1|9" for i in range(3)]
    open_quote = f'{LOCAL},c8,ventas,"Ana,ABANDON,1|1|9'
    stray = f'{LOCAL},c9,ventas,"Ana"x,ABANDON,1|1|9'
    out = checked(parse_csv_export(csv(header, good[0], open_quote, good[1], stray, good[2]), timezone=BOGOTA))
    assert out.rows.select("row_no", "callid").rows() == [(0, "c0"), (2, "c1"), (4, "c2")]
    assert out.rejects.select("row_no", "reason", "raw_text").rows() == [
        (1, "bad_row", open_quote), (3, "bad_row", stray)]


def test_a_quoted_value_over_two_lines_is_one_row_beside_a_quote_left_open():
    """CSV quotes may hold a line break: such a row is read whole, with its two lines as its text.
    A quote left open would take the lines after it into one long value: only its own line is a
    bad row, the lines after it are rows."""
    header = "time,callid,queuename,agent,event,data"
    two_lines = f'{LOCAL},c1,ventas,"Ana\nRuiz",ABANDON,1|1|9'
    open_quote = f'{LOCAL},c2,ventas,"Bea,ABANDON,1|1|9'
    out = checked(parse_csv_export(csv(header, two_lines, open_quote, f"{LOCAL},c3,ventas,NONE,ABANDON,1|1|9"),
                                   timezone=BOGOTA))
    assert out.rows.select("callid", "agent").rows() == [("c1", "Ana\nRuiz"), ("c3", "NONE")]
    assert out.rejects.select("reason", "raw_text").rows() == [("bad_row", open_quote)]


def test_csv_rejects_keep_the_lines_exact_text_and_blank_lines_are_not_rows():
    header = "time,callid,queuename,agent,event,data"
    short = f'{LOCAL},"c1",ventas'
    out = checked(parse_csv_export(csv(header, "", short, "  ", f"{LOCAL},c2,ventas,NONE,ABANDON,1|1|9", "", ""),
                                   timezone=BOGOTA))
    assert out.rejects.select("reason", "raw_text").rows() == [("bad_row", short)]
    assert out.rows["callid"].to_list() == ["c2"]


@pytest.mark.parametrize(("fields", "delimiter"), [(11, ","), (10, ","), (7, ","), (6, ","), (11, "\t")])
def test_a_csv_without_a_header_is_read_in_the_tables_own_column_order(fields, delimiter):
    """`SELECT … INTO OUTFILE` writes no header (and tabs): its first row was taken for one and
    lost, the others rejected as bad_time (independent audit)."""
    legacy, with_id = fields in (7, 6), fields in (11, 7)
    rows = [[*(["41"] if with_id else []), LOCAL, "c1", "ventas", "NONE", "ENTERQUEUE",
             *(["|3001234567|1"] if legacy else ["", "3001234567", "1", "", ""])],
            [*(["42"] if with_id else []), "2024-06-20 11:13:25", "c1", "ventas", "NONE", "ABANDON",
             *(["1|1|5"] if legacy else ["1", "1", "5", "", ""])]]
    out = checked(parse_csv_export(csv(*(delimiter.join(r) for r in rows)), timezone=BOGOTA))
    assert out.rows.select("event_epoch", "callid", "event", "data2").rows() == [
        (T, "c1", "ENTERQUEUE", "3001234567"), (T + 5, "c1", "ABANDON", "1")]
    if with_id:
        assert out.rows.select(ID)["id"].to_list() == ["41", "42"]


def test_a_tab_separated_export_is_read_with_its_backslash_escapes():
    """`SELECT … INTO OUTFILE` (and `mysql --batch`, PostgreSQL's COPY text) escape a tab, a line
    break and a backslash in a value with a backslash, write \\N for NULL and quote nothing: the
    escapes were kept as text, an escaped line break split a row in two, and a value starting
    with a quote was rejected (independent audit)."""
    def row(n: int, agent: str, data4: str) -> str:
        return "\t".join([str(n), f"2024-06-20 11:13:2{n}", f"c{n}", "ventas", agent, "ENTERQUEUE", "", "300", "1",
                          data4, "\\N"])
    export = "\n".join([row(0, '"Bob" Smith', "ok"), row(1, "NONE", "Tab\\\there"), row(2, "NONE", "Back\\\\slash"),
                        row(3, "NONE", "line1\\\nline2"), row(4, "NONE", "tab\\\tand\\nnewline")]) + "\n"
    out = checked(parse_csv_export(export.encode(), timezone=BOGOTA))
    assert out.rejects.height == 0
    assert out.rows.select("agent", "data4", "data5").rows() == [
        ('"Bob" Smith', "ok", None), ("NONE", "Tab\there", None), ("NONE", "Back\\slash", None),
        ("NONE", "line1\nline2", None), ("NONE", "tab\tand\nnewline", None)]
    # with the header `mysql --batch` writes (and its NULL), and a cut last row
    header = "id\ttime\tcallid\tqueuename\tagent\tevent\tdata1\tdata2\tdata3\tdata4\tdata5"
    batch = f"{header}\n{row(0, 'NONE', 'ok')}\n{row(1, 'NONE', 'NULL')}\n{row(2, 'NONE', 'x')[:40]}"
    out = checked(parse_csv_export(batch.encode(), timezone=BOGOTA))
    assert out.rows.select("callid", "data4").rows() == [("c0", "ok"), ("c1", None)]
    assert out.rejects.select("row_no", "reason").rows() == [(2, "unterminated")]


def test_a_csv_whose_columns_cannot_be_told_rejects_every_line_as_no_header():
    lines = [f"{LOCAL};c1;ventas;NONE;ENTERQUEUE", f"{LOCAL};c1;ventas;NONE;ABANDON"]
    out = checked(parse_csv_export(csv(*lines), timezone=BOGOTA))
    assert out.rejects.select("reason", "raw_text").rows() == [("no_header", line) for line in lines]


def test_empty_exports():
    out = checked(parse_sql_dump(CREATE, timezone=BOGOTA))
    assert out.rows_read == 0
    out = checked(parse_csv_export(b"time,callid,queuename,agent,event,data\n", timezone=BOGOTA))
    assert out.rows_read == 0
    assert isinstance(out.rows, pl.DataFrame)


# --- row identity, the table's order, cut dumps (independent audit) ---------------------------


def test_same_id_with_other_content_is_another_row_and_the_same_row_exported_again_keeps_its_key():
    """After TRUNCATE TABLE the ids start again at 1: a later dump's id 1 is another event, so the
    key is the id and the content ("<id>:<md5>", the md5 an id-less export of the row gets too);
    the same row exported again has the same key (it merges), whatever else the dump holds."""
    day1 = sql(
        "(1,'2024-03-05 09:00:00.250000','NONE','NONE','NONE','QUEUESTART','','','','','')",
        "(2,'2024-03-05 09:10:00.250000','c1','sales','NONE','ENTERQUEUE','','5553001','1','','')",
    )
    day2 = sql(
        "(1,'2024-03-06 09:00:00.250000','NONE','NONE','NONE','QUEUESTART','','','','','')",
        "(2,'2024-03-06 09:10:00.250000','c7','sales','NONE','ENTERQUEUE','','5553001','1','','')",
    )
    same_again = sql(
        "(2,'2024-03-05 09:10:00.250000','c1','sales','NONE','ENTERQUEUE','','5553001','1','','')",
        "(3,'2024-03-05 09:10:10.250000','c1','sales','NONE','ABANDON','1','1','10','','')",
    )
    k1, k2, k3 = (checked(parse_sql_dump(d, timezone="UTC")).rows["row_key"].to_list() for d in (day1, day2, same_again))
    assert [k.split(":")[0] for k in k1] == [k.split(":")[0] for k in k2] == ["1", "2"]
    assert not set(k1) & set(k2)  # same ids, other events: no key in common
    assert k3[0] == k1[1]  # the same row exported again
    no_id = parse_csv_export(csv(
        "time,callid,queuename,agent,event,data1,data2,data3,data4,data5",
        "2024-03-05 09:10:00.250000,c1,sales,NONE,ENTERQUEUE,,5553001,1,,",
    ), timezone="UTC").rows["row_key"][0]
    assert k1[1] == f"2:{no_id}"


def test_same_id_and_time_with_other_fields_is_another_row():
    a = parse_sql_dump(sql(f"(5,'{LOCAL}','c1','ventas','NONE','ABANDON','1','1','9','','')"), timezone=BOGOTA)
    b = parse_sql_dump(sql(f"(5,'{LOCAL}','c1','ventas','NONE','ABANDON','1','1','8','','')"), timezone=BOGOTA)
    assert a.rows["row_key"][0] != b.rows["row_key"][0]


def table_order(out: ParsedTable) -> list[tuple]:
    """(time, event) of the rows in the order row_no gives them (staging's order within a second)."""
    return out.rows.sort("row_no").select("event_time_text", "event").rows()


NEWEST_FIRST = (
    "time,callid,queuename,agent,event,data1,data2,data3,data4,data5",
    "2024-03-05 12:31:00.000000,NONE,sales,Ana,UNPAUSE,,,,,",
    "2024-03-05 12:30:00.900000,c11,sales,NONE,ABANDON,1,1,0,,",
    "2024-03-05 12:30:00.100000,c11,sales,NONE,ENTERQUEUE,,5551011,1,,",
    "2024-03-05 12:29:00.000000,NONE,sales,Ana,PAUSE,Lunch,,,,",
)


def test_an_export_printed_newest_first_is_numbered_oldest_first():
    """Wazo prints the table newest first (§4.10): an ENTERQUEUE at .100 and its ABANDON at .900
    of the same second come out ENTERQUEUE first, as the same rows printed oldest first do."""
    out = checked(parse_csv_export(csv(*NEWEST_FIRST), timezone="UTC"))
    expected = [
        ("2024-03-05 12:29:00.000000", "PAUSE"),
        ("2024-03-05 12:30:00.100000", "ENTERQUEUE"),
        ("2024-03-05 12:30:00.900000", "ABANDON"),
        ("2024-03-05 12:31:00.000000", "UNPAUSE"),
    ]
    assert table_order(out) == expected
    # the rows' places counted from the oldest end of the export, rows still in export order
    assert out.rows["row_no"].to_list() == [3, 2, 1, 0]
    oldest_first = checked(parse_csv_export(csv(NEWEST_FIRST[0], *reversed(NEWEST_FIRST[1:])), timezone="UTC"))
    assert table_order(oldest_first) == expected
    assert oldest_first.rows["row_no"].to_list() == [0, 1, 2, 3]
    assert sorted(oldest_first.rows["row_key"]) == sorted(out.rows["row_key"])


def test_rows_of_one_time_keep_the_chronological_order_of_a_newest_first_export():
    """Rows of the same time (DATETIME without fraction): a newest-first export is read from its
    end — the PAUSEALL logged before its PAUSE comes first."""
    out = checked(parse_csv_export(csv(
        "time,callid,queuename,agent,event,data",
        "2024-03-05 09:00:01,NONE,ventas,Ana,PAUSE,Break",
        "2024-03-05 09:00:00,NONE,soporte,Ana,PAUSE,Break",
        "2024-03-05 09:00:00,NONE,NONE,Ana,PAUSEALL,Break",
        "2024-03-05 08:59:59,MANAGER,ventas,Ana,ADDMEMBER,",
    ), timezone="UTC"))
    assert [event for _time, event in table_order(out)] == ["ADDMEMBER", "PAUSEALL", "PAUSE", "PAUSE"]


def test_rows_of_an_export_out_of_time_order_are_numbered_by_their_exact_time():
    """The fraction orders rows of one second whatever order the export prints them in; rows of
    equal times keep their order, and rejects keep their place in the file."""
    out = checked(parse_csv_export(csv(
        "time,callid,queuename,agent,event,data1,data2,data3",
        "2024-03-05 12:30:00.900000,c11,sales,NONE,ABANDON,1,1,0",
        "2024-03-05 12:00:00.000000,NONE,sales,Ana,PAUSE,Lunch,,",
        "ayer,c11,sales,NONE,RINGNOANSWER,1000,,",
        "2024-03-05 12:30:00.100000,c11,sales,NONE,ENTERQUEUE,,5551011,1",
        "2024-03-05 12:30:00.100000,c11,sales,Ana,RINGNOANSWER,0,,",
        "2024-03-05 12:40:00.000000,NONE,sales,Ana,UNPAUSE,,,",
    ), timezone="UTC"))
    assert [event for _time, event in table_order(out)] == ["PAUSE", "ENTERQUEUE", "RINGNOANSWER", "ABANDON", "UNPAUSE"]
    assert sorted(out.rows["row_no"].to_list()) == [0, 1, 3, 4, 5]
    assert out.rejects.select("row_no", "reason").rows() == [(2, "bad_time")]


def test_a_sql_dump_cut_in_its_last_row_rejects_that_row_with_its_text():
    """A dump that ends partway through a row: the cut row is read, rejected as unterminated
    with its exact text, not dropped unseen (rows read = rows + rejects)."""
    cut = "(3,'2024-03-05 08:40:00.900"
    text = CREATE + (
        "INSERT INTO `queue_log` VALUES (1,'2024-03-05 08:30:00.400000','c1','sales','NONE','ENTERQUEUE','','5551001','1','',''),"
        "(2,'2024-03-05 08:33:18.700000','c1','sales','Ana','CONNECT','3','c1b','1','',''),"
        f"{cut}"
    )
    out = checked(parse_sql_dump(text, timezone="UTC"))
    assert out.rows_read == 3
    assert out.rows.select(ID).to_series().to_list() == ["1", "2"]
    assert out.rejects.rows() == [(2, "unterminated", cut)]
    # cut inside a string that holds a comma and a parenthesis, after an escaped quote
    tail = "(4,'2024-03-05 08:40:00','c2','sales','O\\'Neill, (turno'"
    out = checked(parse_sql_dump(sql(f"(1,'{LOCAL}','NONE','NONE','NONE','QUEUESTART','','','','','')")[:-2] + "," + tail,
                                 timezone=BOGOTA))
    assert out.rejects.rows() == [(1, "unterminated", tail)]
    assert out.rows_read == 2
    # cut inside a string holding ",(": the open string runs to the end of the dump
    tail = "(4,'2024-03-05 08:40:00','c2','sales','Ana','PAUSE','a, (b"
    out = checked(parse_sql_dump(sql(f"(1,'{LOCAL}','NONE','NONE','NONE','QUEUESTART','','','','','')")[:-2] + "," + tail,
                                 timezone=BOGOTA))
    assert out.rejects.rows() == [(1, "unterminated", tail)]


def test_text_between_the_tuples_of_an_insert_is_a_rejected_row():
    """Something that is not a tuple amid an INSERT's rows (a damaged row) is a bad row with its
    exact text; the tuples after it are read."""
    damaged = "(2,'2024-06-20 11:13:21','c1','ventas','NONE','ENTERQUEUE','','300','1','',''"
    out = checked(parse_sql_dump(sql(
        f"(1,'{LOCAL}','NONE','NONE','NONE','QUEUESTART','','','','','')",
        damaged,
        f"(3,'{LOCAL}','NONE','NONE','NONE','CONFIGRELOAD','','','','','')",
    ), timezone=BOGOTA))
    assert out.rejects.rows() == [(1, "bad_row", damaged)]
    assert out.rows.select(ID, "row_no").rows() == [("1", 0), ("3", 2)]


# --- the hour repeated when daylight saving ends (asterisk-queue-log.md §4.11) ----------------

NEW_YORK = "America/New_York"
NOV_2_2025 = 1_762_041_600  # 2025-11-02 00:00:00 UTC; that night 02:00 EDT (UTC-4) became 01:00 EST (UTC-5)
NOV_3_2024 = 1_730_592_000  # 2024-11-03 00:00:00 UTC, the same change a year before
EDT, EST = 4 * 3600, 5 * 3600  # local time + offset = UTC


def at(midnight_utc: int, local: str, offset: int) -> int:
    """The true epoch of a local `HH:MM[:SS]` on a fall-back day, read with the given offset."""
    h, m, *sec = (int(x) for x in local.split(":"))
    return midnight_utc + h * 3600 + m * 60 + (sec[0] if sec else 0) + offset


# (local time, event, true epoch), oldest first: the 01:xx times of the second pass repeat the first's.
FALL_BACK_NIGHT = [
    ("2025-11-02 00:50:00", "QUEUESTART", at(NOV_2_2025, "00:50", EDT)),
    ("2025-11-02 01:10:00", "ENTERQUEUE", at(NOV_2_2025, "01:10", EDT)),
    ("2025-11-02 01:55:00", "CONNECT", at(NOV_2_2025, "01:55", EDT)),
    ("2025-11-02 01:05:00", "COMPLETECALLER", at(NOV_2_2025, "01:05", EST)),
    ("2025-11-02 01:40:00", "ABANDON", at(NOV_2_2025, "01:40", EST)),
    ("2025-11-02 02:10:00", "CONFIGRELOAD", at(NOV_2_2025, "02:10", EST)),
]
COLUMNS = "time,callid,queuename,agent,event,data1,data2,data3,data4,data5"


def fall_back_export(fmt: str, *, with_ids: bool, newest_first: bool, rows=FALL_BACK_NIGHT, first_id: int = 98,
                     ids=None) -> ParsedTable:
    """`rows` (local time, event, _) exported as CSV or as a SQL dump; ids count up from `first_id`
    (past 99, so that a text order of the ids would be wrong) unless given."""
    ids = list(ids) if ids is not None else list(range(first_id, first_id + len(rows)))
    printed = list(zip(ids, rows, strict=True))
    if newest_first:
        printed.reverse()
    if fmt == "csv":
        lines = [f"{i},{t},c1,sales,NONE,{e},,,,," if with_ids else f"{t},c1,sales,NONE,{e},,,,," for i, (t, e, _) in printed]
        return checked(parse_csv_export(csv(("id," if with_ids else "") + COLUMNS, *lines), timezone=NEW_YORK))
    values = [f"({i},'{t}','c1','sales','NONE','{e}','','','','','')" if with_ids
              else f"('{t}','c1','sales','NONE','{e}','','','','','')" for i, (t, e, _) in printed]
    if with_ids:
        return checked(parse_sql_dump(sql(*values), timezone=NEW_YORK))
    text = f"INSERT INTO `queue_log` ({COLUMNS}) VALUES " + ",\n".join(values) + ";\n"
    return checked(parse_sql_dump(text, timezone=NEW_YORK))


def true_epochs(out: ParsedTable) -> list[tuple[str, int]]:
    """(event, epoch) in the order of the true instants."""
    return out.rows.sort("event_epoch").select("event", "event_epoch").rows()


@pytest.mark.parametrize("newest_first", [False, True], ids=["oldest_first", "newest_first"])
@pytest.mark.parametrize("with_ids", [True, False], ids=["ids", "no_ids"])
@pytest.mark.parametrize("fmt", ["csv", "sql"])
def test_the_repeated_hour_is_resolved_by_the_tables_order(fmt, with_ids, newest_first):
    """The second pass of 01:00–01:59 starts where the table's time goes back by about an hour:
    those rows are EST, the first pass EDT, and the six rows get six increasing true epochs,
    numbered (row_no) in that order whichever way the export is printed."""
    out = fall_back_export(fmt, with_ids=with_ids, newest_first=newest_first)
    expected = [(e, epoch) for _t, e, epoch in FALL_BACK_NIGHT]
    assert [epoch for _e, epoch in expected] == sorted({epoch for _e, epoch in expected})  # strictly increasing
    assert [epoch for _e, epoch in expected] == [
        1_762_059_000, 1_762_060_200, 1_762_062_900, 1_762_063_500, 1_762_065_600, 1_762_067_400]
    assert true_epochs(out) == expected
    assert out.rows.sort("row_no").select("event", "event_epoch").rows() == expected
    assert out.rows["event_time_text"].to_list() == [t for t, _e, _ in (reversed(FALL_BACK_NIGHT) if newest_first else FALL_BACK_NIGHT)]


def test_the_ids_give_the_tables_order_when_the_export_is_sorted_by_local_time():
    """`SELECT ... ORDER BY time` interleaves the two passes; the ids still give the order the rows
    were logged in (numerically: id 100 comes after id 99)."""
    logged = [(98 + n, row) for n, row in enumerate(FALL_BACK_NIGHT)]
    by_local_time = sorted(logged, key=lambda pair: pair[1][0])
    out = fall_back_export("csv", with_ids=True, newest_first=False, rows=[r for _i, r in by_local_time],
                           ids=[i for i, _r in by_local_time])
    assert [t for t, _e, _ in (r for _i, r in by_local_time)][1:5] == [
        "2025-11-02 01:05:00", "2025-11-02 01:10:00", "2025-11-02 01:40:00", "2025-11-02 01:55:00"]
    assert true_epochs(out) == [(e, epoch) for _t, e, epoch in FALL_BACK_NIGHT]


def assert_read_at_their_true_instants(fmt: str, rows) -> None:
    """`rows` (local time, event, true epoch) exported in table order, with ids and without: each
    row is read at its true instant, in the export's order."""
    for with_ids in (True, False):
        out = fall_back_export(fmt, with_ids=with_ids, newest_first=False, rows=rows)
        assert out.rows.select("event", "event_epoch").rows() == [(e, epoch) for _t, e, epoch in rows]


def test_a_few_seconds_of_disorder_stay_in_their_pass():
    """Rows logged a few seconds out of order are not a change of pass: in the first pass they stay
    EDT, in the second (already started) EST."""
    rows = [
        ("2025-11-02 00:50:00", "QUEUESTART", at(NOV_2_2025, "00:50:00", EDT)),
        ("2025-11-02 01:55:00", "ENTERQUEUE", at(NOV_2_2025, "01:55:00", EDT)),
        ("2025-11-02 01:55:07", "CONNECT", at(NOV_2_2025, "01:55:07", EDT)),
        ("2025-11-02 01:55:03", "RINGNOANSWER", at(NOV_2_2025, "01:55:03", EDT)),
        ("2025-11-02 01:59:58", "PAUSE", at(NOV_2_2025, "01:59:58", EDT)),
        ("2025-11-02 01:00:02", "UNPAUSE", at(NOV_2_2025, "01:00:02", EST)),
        ("2025-11-02 01:00:00", "COMPLETECALLER", at(NOV_2_2025, "01:00:00", EST)),
        ("2025-11-02 01:30:00", "ENTERQUEUE", at(NOV_2_2025, "01:30:00", EST)),
        ("2025-11-02 02:10:00", "ABANDON", at(NOV_2_2025, "02:10:00", EST)),
    ]
    assert_read_at_their_true_instants("csv", rows)


def test_a_quiet_spell_around_the_change_still_shows_the_step_back():
    """A queue quiet from 01:20 EDT to 01:10 EST (50 minutes): time goes back only ten minutes in
    the table, which is still the second pass."""
    rows = [
        ("2025-11-02 00:40:00", "QUEUESTART", at(NOV_2_2025, "00:40", EDT)),
        ("2025-11-02 01:20:00", "ENTERQUEUE", at(NOV_2_2025, "01:20", EDT)),
        ("2025-11-02 01:10:00", "ABANDON", at(NOV_2_2025, "01:10", EST)),
        ("2025-11-02 02:05:00", "CONFIGRELOAD", at(NOV_2_2025, "02:05", EST)),
    ]
    assert_read_at_their_true_instants("sql", rows)


def test_an_export_without_a_second_pass_keeps_the_earlier_reading():
    """Ambiguous times with no step back (here the first pass only) keep their earlier, EDT
    reading, as a single ambiguous time does."""
    rows = [r for r in FALL_BACK_NIGHT if r[2] < at(NOV_2_2025, "01:00", EST)] + [FALL_BACK_NIGHT[-1]]
    for fmt, with_ids, newest_first in [("csv", True, False), ("sql", False, True), ("csv", False, False)]:
        out = fall_back_export(fmt, with_ids=with_ids, newest_first=newest_first, rows=rows)
        assert true_epochs(out) == [(e, epoch) for _t, e, epoch in rows]
        assert sorted(out.rows["event_epoch"]) == [
            at(NOV_2_2025, "00:50", EDT), at(NOV_2_2025, "01:10", EDT), at(NOV_2_2025, "01:55", EDT), at(NOV_2_2025, "02:10", EST)]


def test_each_fall_back_night_of_an_export_is_resolved_on_its_own():
    """Two fall-back nights a year apart in one export, the first with both passes, the second
    with its first pass only: the year's jump forward is no step back, and the first night's
    second pass does not carry over to the next night."""
    night_2024 = [
        ("2024-11-03 01:30:00", "ENTERQUEUE", at(NOV_3_2024, "01:30", EDT)),
        ("2024-11-03 01:20:00", "ABANDON", at(NOV_3_2024, "01:20", EST)),
        ("2024-11-03 01:50:00", "QUEUESTART", at(NOV_3_2024, "01:50", EST)),
    ]
    night_2025 = [
        ("2025-11-02 01:10:00", "ENTERQUEUE", at(NOV_2_2025, "01:10", EDT)),
        ("2025-11-02 01:55:00", "CONNECT", at(NOV_2_2025, "01:55", EDT)),
    ]
    rows = night_2024 + [("2025-06-01 12:00:00", "CONFIGRELOAD", NOV_2_2025 - 154 * 86400 + 12 * 3600 + EDT)] + night_2025
    for newest_first in (False, True):
        out = fall_back_export("csv", with_ids=False, newest_first=newest_first, rows=rows)
        assert true_epochs(out) == [(e, epoch) for _t, e, epoch in rows]
    both_with_second_pass = night_2024 + night_2025 + [
        ("2025-11-02 01:15:00", "COMPLETECALLER", at(NOV_2_2025, "01:15", EST))]
    out = fall_back_export("sql", with_ids=True, newest_first=False, rows=both_with_second_pass)
    assert true_epochs(out) == [(e, epoch) for _t, e, epoch in both_with_second_pass]
