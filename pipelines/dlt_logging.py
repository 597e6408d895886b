"""dlt log noise that says nothing actionable, filtered once per process."""

import logging

# Fragments of dlt warnings that are expected by design:
_EXPECTED = (
    # every Arrow batch whose nullability differs from its schema; it changes nothing
    "when merging arrow schema with dlt schema",
    # raw_webex.cdr appends while every Report ID of a load is new and merges (newest report_time
    # first, the hint) only when one replaces a stored row: pipelines/webex/source.py
    'The "dedup_sort" column hint for column "report_time" in table "cdr"',
)


class QuietDltHints(logging.Filter):
    """Drops the dlt warnings of _EXPECTED; every other record passes."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        return not any(fragment in message for fragment in _EXPECTED)


def quiet_dlt_hints() -> None:
    logger = logging.getLogger("dlt")
    if not any(isinstance(f, QuietDltHints) for f in logger.filters):
        logger.addFilter(QuietDltHints())
