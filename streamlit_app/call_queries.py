"""Data access for the app's "Calls" page — plain functions, no Streamlit.

Reads `marts.fct_calls` (one row per call on any platform) and `marts.fct_journey_hops` (a Webex
call's hops, in order) from the serving copy, through `queries.read_only` like every page.

Phone numbers are personal data: unless the caller of these functions says the viewer may see
them (`show_numbers`), every number leaves DuckDB already masked (`MASKED_NUMBER_SQL`), so a full
number never reaches the page, its cache or the browser. Masked, a number keeps what an analyst
of traffic needs (its first three characters: the country code of an E.164 number, or an
extension's first digits, and its last two) and the rest becomes `•`. Numbers of at most six
digits (extensions, short codes) are not personal and are shown as written.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from zoneinfo import ZoneInfo

import polars as pl

from streamlit_app.queries import DAYS_ELSEWHERE_SQL, Source, read_mart, read_only, serving_version

CALLS = "marts.fct_calls"
HOPS = "marts.fct_journey_hops"
CALL_LIST_LIMIT = 500
SHORT_NUMBER_DIGITS = 6
MASK = "•"


def masked_number_sql(column: str) -> str:
    """SQL that masks the number in `column` (see the module's docstring); null stays null."""
    digits = f"length(regexp_replace({column}, '[^0-9]', '', 'g'))"
    return (
        f"CASE WHEN {column} IS NULL OR {digits} <= {SHORT_NUMBER_DIGITS} THEN {column} "
        f"ELSE left({column}, 3) || repeat('{MASK}', greatest(length({column}) - 5, 1)) "
        f"|| right({column}, 2) END"
    )


def _number_sql(column: str, show_numbers: bool) -> str:
    return column if show_numbers else masked_number_sql(column)


def digits_of(text: str) -> str:
    """The digits of a number typed in the search box ('+57 300-123' → '57300123')."""
    return "".join(ch for ch in text if ch.isdigit())


# --------------------------------------------------------------------------- filters


@dataclass(frozen=True)
class CallFilters:
    """What the user selected; a None tuple means every value (no predicate). `number`: digits
    that the caller's or the callee's number must contain (only for viewers allowed to see
    numbers: a search would otherwise reveal the masked digits)."""

    start: date
    end: date
    platforms: tuple[str, ...] | None = None
    directions: tuple[str, ...] | None = None
    call_types: tuple[str, ...] | None = None
    outcomes: tuple[str, ...] | None = None
    number: str | None = None

    @property
    def nothing_selected(self) -> bool:
        return any(v is not None and len(v) == 0
                   for v in (self.platforms, self.directions, self.call_types, self.outcomes))


def _call_where(filters: CallFilters) -> tuple[str, dict[str, object]]:
    """WHERE clause (without the keyword) and parameters for a filtered fct_calls scan."""
    if filters.nothing_selected:
        return "false", {}
    params: dict[str, object] = {"start": filters.start, "end": filters.end}
    clauses = ["started_date BETWEEN $start AND $end"]
    for column, values in (("platform", filters.platforms), ("direction", filters.directions),
                           ("call_type", filters.call_types), ("outcome", filters.outcomes)):
        if values is not None:
            params[column] = list(values)
            clauses.append(f"list_contains(${column}, {column})")
    digits = digits_of(filters.number or "")
    if filters.number and not digits:  # a search for a number with no digit in it finds no call
        clauses.append("false")
    elif digits:
        params["digits"] = f"%{digits}%"
        clauses.append(
            "(regexp_replace(coalesce(caller_number, ''), '[^0-9]', '', 'g') LIKE $digits "
            "OR regexp_replace(coalesce(callee_number, ''), '[^0-9]', '', 'g') LIKE $digits)"
        )
    return " AND ".join(clauses), params


# --------------------------------------------------------------------------- overview


@dataclass(frozen=True)
class CallOverview:
    """What fct_calls holds: bounds and values for the filters."""

    min_date: date
    max_date: date
    calls: int
    platforms: tuple[str, ...]
    directions: tuple[str, ...]
    call_types: tuple[str, ...]
    outcomes: tuple[str, ...]
    latest_start: datetime | None  # in the reporting time zone
    days_elsewhere: int = 0  # calls on another day in the app's time zone (queries.Overview)


def load_call_overview(source: Source, timezone: str) -> CallOverview | None:
    """Date bounds and filter values of the published calls; None when there are none."""
    if serving_version(source) is None:
        return None
    read = read_mart(source, timezone, "fct_calls", lambda con: (
        con.sql(f"SELECT min(started_date), max(started_date), count(*), max(started_at), "
                f"{DAYS_ELSEWHERE_SQL.format(day='started_date', at='started_at')} FROM {CALLS}").fetchall()[0],
        {
            column: tuple(r[0] for r in con.sql(
                f"SELECT DISTINCT {column} FROM {CALLS} WHERE {column} IS NOT NULL ORDER BY 1"
            ).fetchall())
            for column in ("platform", "direction", "call_type", "outcome")
        },
    ))
    if read is None:
        return None
    (min_date, max_date, calls, latest, days_elsewhere), values = read
    if not calls:
        return None
    return CallOverview(
        min_date=min_date, max_date=max_date, calls=calls,
        platforms=values["platform"], directions=values["direction"],
        call_types=values["call_type"], outcomes=values["outcome"],
        latest_start=latest.astimezone(ZoneInfo(timezone)) if latest is not None else None,
        days_elsewhere=days_elsewhere,
    )


# --------------------------------------------------------------------------- summary


@dataclass(frozen=True)
class CallSummary:
    calls: int = 0
    answered: int = 0
    inbound: int = 0
    outbound: int = 0
    internal: int = 0
    international: int = 0  # far end abroad (call_type international)
    premium: int = 0
    self_service: int = 0  # inbound calls that ended without a person (auto attendant, AI agent)
    talk_seconds: float = 0.0  # talk with agents, all calls
    answered_with_talk: int = 0  # answered calls with a known talk time (mean talk's denominator)
    queue_seconds: float = 0.0
    queued: int = 0  # calls that entered a queue
    queued_answered: int = 0  # of those, answered by a person

    @property
    def answer_rate(self) -> float | None:
        return self.answered / self.calls if self.calls else None

    @property
    def queued_answer_rate(self) -> float | None:
        return self.queued_answered / self.queued if self.queued else None

    @property
    def mean_talk_seconds(self) -> float | None:
        return self.talk_seconds / self.answered_with_talk if self.answered_with_talk else None

    @property
    def mean_queue_seconds(self) -> float | None:
        return self.queue_seconds / self.queued if self.queued else None


def call_summary(source: Source, filters: CallFilters) -> CallSummary:
    """Counts and sums of the selected calls (the inputs of the page's tiles)."""
    where, params = _call_where(filters)
    sql = f"""
        SELECT
            count(*)                                                    AS calls,
            count(*) FILTER (WHERE outcome = 'answered')                AS answered,
            count(*) FILTER (WHERE direction = 'inbound')               AS inbound,
            count(*) FILTER (WHERE direction = 'outbound')              AS outbound,
            count(*) FILTER (WHERE direction = 'internal')              AS internal,
            count(*) FILTER (WHERE call_type = 'international')         AS international,
            count(*) FILTER (WHERE call_type = 'premium')               AS premium,
            count(*) FILTER (WHERE outcome = 'self_service')            AS self_service,
            coalesce(sum(talk_seconds) FILTER (WHERE outcome = 'answered'), 0)::DOUBLE
                                                                        AS talk_seconds,
            count(talk_seconds) FILTER (WHERE outcome = 'answered' AND talk_seconds > 0)
                                                                        AS answered_with_talk,
            coalesce(sum(queue_seconds) FILTER (WHERE queue_count > 0), 0)::DOUBLE
                                                                        AS queue_seconds,
            count(*) FILTER (WHERE queue_count > 0)                     AS queued,
            count(*) FILTER (WHERE queue_count > 0 AND outcome = 'answered')
                                                                        AS queued_answered
        FROM {CALLS}
        WHERE {where}
    """
    with read_only(source) as con:
        rel = con.sql(sql, params=params)
        values = dict(zip(rel.columns, rel.fetchall()[0], strict=True))
    return CallSummary(**values)


def calls_per_day(source: Source, filters: CallFilters) -> pl.DataFrame:
    """Calls per local day and direction (every selected day present: a chart shows quiet days)."""
    where, params = _call_where(filters)
    params.update(start=filters.start, end=filters.end)
    sql = f"""
        WITH days AS (
            SELECT unnest(generate_series($start::DATE, $end::DATE, INTERVAL 1 DAY))::DATE AS day
        ), directions AS (
            SELECT unnest(['inbound', 'outbound', 'internal']) AS direction
        ), counted AS (
            SELECT started_date AS day, direction, count(*) AS calls
            FROM {CALLS}
            WHERE {where}
            GROUP BY ALL
        )
        SELECT days.day, directions.direction, coalesce(counted.calls, 0)::BIGINT AS calls
        FROM days CROSS JOIN directions
        LEFT JOIN counted USING (day, direction)
        ORDER BY days.day, directions.direction
    """
    with read_only(source) as con:
        return con.sql(sql, params=params).pl()


def call_types(source: Source, filters: CallFilters) -> pl.DataFrame:
    """Calls, answered calls and talk time per call type and country of the far end."""
    where, params = _call_where(filters)
    sql = f"""
        SELECT call_type, country,
               count(*)::BIGINT                                        AS calls,
               count(*) FILTER (WHERE outcome = 'answered')::BIGINT    AS answered,
               coalesce(sum(talk_seconds), 0)::DOUBLE                  AS talk_seconds
        FROM {CALLS}
        WHERE {where}
        GROUP BY ALL
        ORDER BY calls DESC, call_type, country NULLS FIRST
    """
    with read_only(source) as con:
        return con.sql(sql, params=params).pl()


# --------------------------------------------------------------------------- call list and journey

CALL_LIST_SCHEMA = {
    "call_id": pl.String(), "platform": pl.String(), "started_at": pl.Datetime("us"),
    "direction": pl.String(), "caller_number": pl.String(), "callee_number": pl.String(),
    "call_type": pl.String(), "country": pl.String(), "first_queue": pl.String(),
    "final_agent": pl.String(), "outcome": pl.String(), "route": pl.String(),
    "queue_seconds": pl.Float64(), "talk_seconds": pl.Float64(), "hold_seconds": pl.Float64(),
    "transferred": pl.Boolean(), "recorded": pl.Boolean(),
}


def call_list(source: Source, filters: CallFilters, timezone: str, *, show_numbers: bool,
              limit: int = CALL_LIST_LIMIT) -> tuple[pl.DataFrame, int]:
    """The newest `limit` selected calls (start time as a naive local time in `timezone`), and
    how many calls the selection holds in all."""
    where, params = _call_where(filters)
    params["limit"] = limit
    sql = f"""
        SELECT call_id, platform,
               timezone('{timezone.replace("'", "''")}', started_at)    AS started_at,
               direction,
               {_number_sql('caller_number', show_numbers)}            AS caller_number,
               {_number_sql('callee_number', show_numbers)}            AS callee_number,
               call_type, country, first_queue, final_agent, outcome, route,
               queue_seconds::DOUBLE AS queue_seconds, talk_seconds::DOUBLE AS talk_seconds,
               hold_seconds::DOUBLE AS hold_seconds, transferred, recorded,
               count(*) OVER () AS selected
        FROM {CALLS} AS calls
        WHERE {where}
        -- the instant, not the local time the select names started_at (an hour repeats when
        -- clocks fall back, and "newest" would cut the list by wall-clock time)
        ORDER BY calls.started_at DESC, call_id
        LIMIT $limit
    """
    with read_only(source) as con:
        df = con.sql(sql, params=params).pl()
    total = int(df["selected"][0]) if df.height else 0
    return df.drop("selected").cast(CALL_LIST_SCHEMA), total


def journey_hops(source: Source, call_id: str, timezone: str) -> pl.DataFrame:
    """The hops of one call in order (Webex journeys; Asterisk calls have none), times local."""
    zone = timezone.replace("'", "''")
    sql = f"""
        SELECT hop_no, hop_type,
               coalesce(route_label, agent, user_name, queue) AS hop,
               queue, agent, key_pressed,
               timezone('{zone}', started_at)   AS started_at,
               ring_seconds::DOUBLE             AS ring_seconds,
               wait_seconds::DOUBLE             AS wait_seconds,
               talk_seconds::DOUBLE             AS talk_seconds,
               hold_seconds::DOUBLE             AS hold_seconds,
               duration_seconds::DOUBLE         AS duration_seconds,
               outcome
        FROM {HOPS}
        WHERE call_id = $call_id
        ORDER BY hop_no
    """
    with read_only(source) as con:
        return con.sql(sql, params={"call_id": call_id}).pl()
