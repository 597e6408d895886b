import logging

from pipelines.dlt_logging import QuietDltHints


def _record(message: str) -> logging.LogRecord:
    return logging.LogRecord("dlt", logging.WARNING, __file__, 1, message, None, None)


def test_expected_dlt_hint_warnings_are_dropped_and_others_pass():
    quiet = QuietDltHints()
    assert not quiet.filter(_record(
        'The "dedup_sort" column hint for column "report_time" in table "cdr" with write disposition "append" '
        'in schema "webex" will be ignored.'))
    assert not quiet.filter(_record("Column x: nullable=False when merging arrow schema with dlt schema"))
    assert quiet.filter(_record('The "dedup_sort" column hint for column "other" in table "people" will be ignored.'))
    assert quiet.filter(_record("Load job failed"))
