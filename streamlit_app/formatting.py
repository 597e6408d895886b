"""How numbers look in the app: counts with separators, ratios as %, durations as mm:ss."""

from __future__ import annotations

import math
from datetime import date, datetime

DASH = "—"


def fmt_count(value: int | None) -> str:
    return DASH if value is None else f"{value:,}"


def fmt_pct(ratio: float | None, digits: int = 1) -> str:
    """0.375 → '37.5%'; None (no denominator) → '—'."""
    if ratio is None or (isinstance(ratio, float) and math.isnan(ratio)):
        return DASH
    return f"{ratio * 100:.{digits}f}%"


def round_half_up(seconds: float) -> int:
    """To the nearest second, halves away from zero (Python's round() takes 182.5 to 182: an AHT
    of 03:02 where a spreadsheet shows 03:03)."""
    return int(math.copysign(math.floor(abs(seconds) + 0.5), seconds))


def fmt_duration(seconds: float | None) -> str:
    """Seconds → 'mm:ss' (rounded to the second, halves up), 'h:mm:ss' from one hour; None → '—'."""
    if seconds is None or (isinstance(seconds, float) and math.isnan(seconds)):
        return DASH
    total = round_half_up(seconds)
    sign = "-" if total < 0 else ""
    total = abs(total)
    hours, rest = divmod(total, 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return f"{sign}{hours}:{minutes:02d}:{secs:02d}"
    return f"{sign}{minutes:02d}:{secs:02d}"


def fmt_timestamp(value: datetime | None) -> str:
    """A time already in the reporting zone → '2025-03-12 10:05 (-05)'."""
    if value is None:
        return DASH
    return value.strftime("%Y-%m-%d %H:%M") + (f" ({value.strftime('%Z')})" if value.tzinfo else "")


def fmt_days(start: date, end: date) -> str:
    """A range of days as captions say it: 'Tue 01 Dec 2026', or '… – …' for several."""
    return f"{start:%a %d %b %Y}" if start == end else f"{start:%a %d %b %Y} – {end:%a %d %b %Y}"
