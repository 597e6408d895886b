"""The hour a fall-back night repeats, told apart by the order rows were logged in.

Asterisk writes local times without a zone (asterisk-queue-log.md §4.11), so on the night daylight
saving ends a time of the hour before the change has two instants. A local time alone cannot say
which, but the order the PBX logged the rows in can: where the earlier readings of a night's
ambiguous rows go back by far more than ordinary disorder (`STEP_BACK_SECONDS`) from the latest one
before them, the clock has been set back. That row and every later ambiguous row of the same night
are in the second pass; the others keep the earlier reading, as does a night where no step back is
seen (a night whose rows all fall in one pass cannot be told).

Used by the realtime-table exports (queue_log_table) and by Master.csv (cdr_csv).
"""

from __future__ import annotations

import polars as pl

# Rows are logged a few seconds out of order at most; the step back is the shift less the quiet
# spell around the change, so this much still finds a pass that follows up to 55 quiet minutes
# (one-hour shift) — at night a queue can be quiet for half an hour.
STEP_BACK_SECONDS = 5 * 60
# Ambiguous rows further apart than this (earlier readings) belong to different fall-back nights.
OTHER_NIGHT_SECONDS = 12 * 3600


def in_second_pass(early: pl.Series, late: pl.Series, *, per_second: int = 1) -> pl.Series:
    """Whether each row takes its later reading. `early` and `late` are a local time's two instants
    (equal outside a repeated hour; null for no time), in the order the rows were logged, counted
    in units of 1/`per_second` s (1 for epoch seconds, 1_000_000 for microseconds)."""
    rows = pl.DataFrame({"early": early, "late": late}).with_row_index("_index")
    ambiguous = rows.filter(pl.col("early") != pl.col("late"))
    if not ambiguous.height:
        return pl.Series(early.name or "in_second_pass", [False] * len(early), pl.Boolean)
    night = (pl.col("early").diff() > OTHER_NIGHT_SECONDS * per_second).fill_null(False).cum_sum()
    before = pl.col("early").cum_max().shift(1).over("_night")
    steps_back = (pl.col("early") < before - STEP_BACK_SECONDS * per_second).fill_null(False)
    second_pass = (
        ambiguous.sort("early").with_columns(night.alias("_night"))
        .sort("_index")
        .select("_index", steps_back.cast(pl.Int64).cum_sum().over("_night").gt(0).alias("_second_pass"))
    )
    return (
        rows.join(second_pass, on="_index", how="left", maintain_order="left")
        .get_column("_second_pass").fill_null(False)
    )
