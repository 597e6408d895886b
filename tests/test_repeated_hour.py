"""Unit tests of the repeated-hour rule shared by the realtime-table and Master.csv readers
(pipelines/asterisk/repeated_hour.py). Times are epoch seconds; an ambiguous time's later reading
is its earlier one plus the one-hour shift."""

import polars as pl

from pipelines.asterisk.repeated_hour import in_second_pass

HOUR = 3600
NIGHT = 1_793_512_800  # 2026-11-01 01:00 EDT: the first pass of New York's repeated hour begins


def readings(*times: int | None, ambiguous: set[int] = frozenset()) -> tuple[pl.Series, pl.Series]:
    """Rows in logging order: the earlier reading, and the later (shifted where ambiguous)."""
    early = pl.Series("early", times, pl.Int64)
    late = pl.Series("late", [t + HOUR if t is not None and i in ambiguous else t for i, t in enumerate(times)],
                     pl.Int64)
    return early, late


def test_rows_after_the_step_back_take_the_later_reading_and_the_others_keep_the_earlier():
    times = (NIGHT + 600, NIGHT + 3000, NIGHT + 120, NIGHT + 900, NIGHT + 2 * HOUR)
    early, late = readings(*times, ambiguous={0, 1, 2, 3})
    assert in_second_pass(early, late).to_list() == [False, False, True, True, False]


def test_ordinary_disorder_is_not_a_step_back_and_a_night_in_one_pass_keeps_the_earlier_reading():
    early, late = readings(NIGHT + 600, NIGHT + 590, NIGHT + 700, ambiguous={0, 1, 2})
    assert in_second_pass(early, late).to_list() == [False, False, False]


def test_each_night_is_resolved_on_its_own_and_rows_without_a_time_are_not_in_a_pass():
    next_year = NIGHT + 364 * 24 * HOUR
    early, late = readings(NIGHT + 3000, NIGHT + 60, None, next_year + 60, next_year + 120,
                           ambiguous={0, 1, 3, 4})
    assert in_second_pass(early, late).to_list() == [False, True, False, False, False]


def test_microsecond_times_use_the_same_thresholds():
    early, late = readings(NIGHT + 3000, NIGHT + 60, ambiguous={0, 1})
    us = 1_000_000
    assert in_second_pass(early * us, late * us, per_second=us).to_list() == [False, True]
