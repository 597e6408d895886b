"""dlt log noise that says nothing actionable, filtered once per process."""

import logging


class QuietArrowHints(logging.Filter):
    """dlt warns on every Arrow batch whose nullability differs from its schema; it changes nothing."""

    def filter(self, record: logging.LogRecord) -> bool:
        return "when merging arrow schema with dlt schema" not in record.getMessage()


def quiet_dlt_arrow_hints() -> None:
    logger = logging.getLogger("dlt")
    if not any(isinstance(f, QuietArrowHints) for f in logger.filters):
        logger.addFilter(QuietArrowHints())
