"""Unit tests of the realtime queue_log table readers (pipelines/asterisk/queue_log_table.py):
SQL dumps and CSV exports, legacy `data` vs adaptive data1..data5 (asterisk-queue-log.md §1.2,
§4.11). Fixtures are written here by hand.
"""

from __future__ import annotations

import hashlib

import polars as pl
import pytest

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
    """Adaptive data1..data5 rows: local `time` → UTC epoch, row_key = the id column, '' → null."""
    out = checked(parse_sql_dump(sql(
        f"(7,'{LOCAL}','NONE','NONE','NONE','QUEUESTART','','','','','')",
        "(8,'2024-06-20 11:13:25','1718900004.31','ventas','NONE','ENTERQUEUE','','3001234567','1','','')",
        "(9,'2024-06-20 11:13:31','1718900004.31','ventas','Lucía Gómez','CONNECT','6','1718900010.32','5','','')",
    ), timezone=BOGOTA))
    assert out.rows.select("row_key", "row_no", "event_time_text", "event_epoch", "callid", "agent", "event", *DATA).rows() == [
        ("7", 0, LOCAL, T, "NONE", "NONE", "QUEUESTART", None, None, None, None, None, None),
        ("8", 1, "2024-06-20 11:13:25", T + 5, "1718900004.31", "NONE", "ENTERQUEUE", None, "3001234567", "1", None, None, None),
        ("9", 2, "2024-06-20 11:13:31", T + 11, "1718900004.31", "Lucía Gómez", "CONNECT", "6", "1718900010.32", "5", None, None, None),
    ]


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
    assert out.rows.select("row_key", "row_no").rows() == [("1", 0), ("2", 1), ("3", 2)]


def test_sql_insert_without_columns_and_without_create_table_fails_loudly():
    with pytest.raises(ValueError, match="column list"):
        parse_sql_dump(f"INSERT INTO queue_log VALUES (1,'{LOCAL}','NONE','NONE','NONE','QUEUESTART');", timezone=BOGOTA)


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
    assert out.rows["row_key"].to_list() == ["1", "4"]


def test_dst_gap_time_is_rejected_and_repeated_hour_takes_the_earlier_instant():
    """Local times without zone (§4.11): a time inside the spring-forward gap does not exist → bad_time;
    an ambiguous fall-back time resolves to its first (earlier, DST) occurrence."""
    out = checked(parse_sql_dump(sql(
        "(1,'2024-03-10 02:30:00','NONE','NONE','NONE','QUEUESTART','','','','','')",
        "(2,'2024-11-03 01:30:00','NONE','NONE','NONE','QUEUESTART','','','','','')",
    ), timezone="America/New_York"))
    assert out.rejects.select("row_no", "reason").rows() == [(0, "bad_time")]
    assert out.rows["event_epoch"].to_list() == [1_730_611_800]  # 05:30 UTC (EDT, UTC-4)


# --- CSV exports -----------------------------------------------------------------------------


def test_csv_export_with_adaptive_columns_and_id():
    out = checked(parse_csv_export(csv(
        "id,time,callid,queuename,agent,event,data1,data2,data3,data4,data5",
        f"41,{LOCAL},1718900004.31,ventas,NONE,ENTERQUEUE,,3001234567,1,,",
        f'42,{LOCAL},1718900004.31,ventas,"Gómez, Lucía",ATTENDEDTRANSFER,LINK,PJSIP/2001-1a,PJSIP/2002-1b,5,88|1',
    ), timezone=BOGOTA))
    assert out.rows.select("row_key", "event_epoch", "agent", *DATA).rows() == [
        ("41", T, "NONE", None, "3001234567", "1", None, None, None),
        ("42", T, "Gómez, Lucía", "LINK", "PJSIP/2001-1a", "PJSIP/2002-1b", "5", "88", "1"),
    ]


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


def test_empty_exports():
    out = checked(parse_sql_dump(CREATE, timezone=BOGOTA))
    assert out.rows_read == 0
    out = checked(parse_csv_export(b"time,callid,queuename,agent,event,data\n", timezone=BOGOTA))
    assert out.rows_read == 0
    assert isinstance(out.rows, pl.DataFrame)
