"""How long an HTTP answer asks its client to wait before asking again."""

from __future__ import annotations

from datetime import UTC, datetime
from email.utils import parsedate_to_datetime

import httpx


def retry_after_seconds(response: httpx.Response, *, default: float | None) -> float | None:
    """The response's Retry-After in seconds — a number of seconds or an HTTP date (RFC 9110
    allows both) — or `default` when it has none or none that reads."""
    value = response.headers.get("Retry-After")
    if value is None:
        return default
    try:
        return max(float(value), 0.0)
    except ValueError:
        pass
    try:
        moment = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return default
    if moment.tzinfo is None:  # an HTTP date is GMT; a zone-less one is read as such
        moment = moment.replace(tzinfo=UTC)
    return max((moment - datetime.now(UTC)).total_seconds(), 0.0)
