"""pipelines/asterisk/numbers.py: the Asterisk number texts classified once into
raw_asterisk.phone_numbers, on a real DuckDB (and Postgres) warehouse after real loads."""

import pytest

from pipelines.asterisk.numbers import classify_new_numbers, unclassified_numbers_sql
from pipelines.asterisk.pipeline import run_load
from resources.warehouse import WarehouseResource

CALLS = (
    "1700000000|NONE|NONE|NONE|QUEUESTART|\n"
    "1700000100|8001.1|ventas|NONE|DID|6015550100\n"
    "1700000100|8001.1|ventas|NONE|ENTERQUEUE||3001234567|1\n"
    "1700000160|8001.1|ventas|NONE|ABANDON|1|1|60\n"
    "1700000200|8002.1|ventas|NONE|ENTERQUEUE||+44 20 7946 0321|1\n"
    "1700000205|8002.1|ventas|NONE|ABANDON|1|1|5\n"
)
# accountcode, src, dst, dcontext, clid, channel, dstchannel, lastapp, lastdata, start, answer, end,
# duration, billsec, disposition, amaflags, uniqueid, userfield
MASTER_CSV = (
    '"","2001","19001234567","from-internal","""Ana"" <2001>","SIP/2001-01","SIP/trunk-02","Dial",'
    '"SIP/trunk/19001234567","2023-11-14 22:00:00","2023-11-14 22:00:05","2023-11-14 22:01:05",65,60,'
    '"ANSWERED","DOCUMENTATION","9100.1",""\n'
)


def _numbers(settings) -> dict[str, tuple]:
    rows = WarehouseResource(url=settings.warehouse_url).query(
        "select number, e164, country, number_type from raw_asterisk.phone_numbers").rows()
    return {r[0]: r[1:] for r in rows}


@pytest.mark.parametrize("warehouse", ["duckdb", pytest.param("postgres", marks=pytest.mark.postgres)])
def test_each_number_text_is_classified_once_after_the_loads_that_bring_it(warehouse, make_settings, tmp_path,
                                                                           request):
    logs, cdrs = tmp_path / "logs", tmp_path / "cdr"
    logs.mkdir()
    cdrs.mkdir()
    (logs / "queue_log").write_text(CALLS)
    (cdrs / "Master.csv").write_text(MASTER_CSV)
    url = {"SWITCHBOARD_WAREHOUSE_URL": request.getfixturevalue("postgres_url")} if warehouse == "postgres" else {}
    settings = make_settings(SWITCHBOARD_QUEUE_LOG_DIRS=f"lab={logs}", SWITCHBOARD_ASTERISK_CDR_DIRS=f"lab={cdrs}", **url)
    run_load(settings)

    assert classify_new_numbers(settings) == 5
    assert _numbers(settings) == {
        "6015550100": ("+576015550100", "CO", "fixed_line"),  # the DID line
        "3001234567": ("+573001234567", "CO", "mobile"),  # ENTERQUEUE callers
        "+44 20 7946 0321": ("+442079460321", "GB", "international"),
        "2001": (None, "CO", "internal"),  # Master.csv src and dst
        "19001234567": ("+5719001234567", "CO", "premium_rate"),
    }
    assert classify_new_numbers(settings) == 0  # nothing new: nothing classified again

    with open(logs / "queue_log", "a") as log:  # a new caller and a known one
        log.write("1700000300|8003.1|ventas|NONE|ENTERQUEUE||3109998877|1\n"
                  "1700000301|8004.1|ventas|NONE|ENTERQUEUE||3001234567|1\n")
    run_load(settings)
    assert classify_new_numbers(settings) == 1
    assert _numbers(settings)["3109998877"] == ("+573109998877", "CO", "mobile")
    assert len(_numbers(settings)) == 6


@pytest.mark.parametrize("warehouse", ["duckdb", pytest.param("postgres", marks=pytest.mark.postgres)])
def test_an_event_name_followed_by_a_unicode_space_brings_its_number_on_both_engines(warehouse, make_settings,
                                                                                     tmp_path, request):
    """Staging reads `ENTERQUEUE<no-break space>` as ENTERQUEUE on both engines; the query that finds
    the numbers used trim(), which strips the no-break space on DuckDB only, so on Postgres the
    caller stayed unclassified and the call's type unknown (DuckDB/Postgres parity audit)."""
    logs = tmp_path / "logs"
    logs.mkdir()
    (logs / "queue_log").write_text(
        "1700000100|8001.1|ventas|NONE|DID\u2003|6015550100\n"  # an em space
        "1700000100|8001.1|ventas|NONE|ENTERQUEUE\u00a0||3001234567|1\n"
        "1700000160|8001.1|ventas|NONE|ABANDON|1|1|60\n"
    )
    url = {"SWITCHBOARD_WAREHOUSE_URL": request.getfixturevalue("postgres_url")} if warehouse == "postgres" else {}
    settings = make_settings(SWITCHBOARD_QUEUE_LOG_DIRS=f"lab={logs}", **url)
    run_load(settings)
    assert classify_new_numbers(settings) == 2
    assert set(_numbers(settings)) == {"6015550100", "3001234567"}


def test_a_warehouse_without_asterisk_data_gets_an_empty_table_staging_can_read(make_settings):
    settings = make_settings()
    assert classify_new_numbers(settings) == 0
    assert _numbers(settings) == {}
    assert classify_new_numbers(settings) == 0


def test_the_query_reads_only_the_raw_tables_present():
    assert unclassified_numbers_sql(set()) is None
    only_cdr = unclassified_numbers_sql({"cdr"})
    assert "raw_asterisk.cdr" in only_cdr and "queue_log" not in only_cdr and "known" not in only_cdr
    every = unclassified_numbers_sql({"queue_log", "queue_log_table", "cdr", "phone_numbers"})
    assert every.count(" union") == 5 and "known.number is null" in every
