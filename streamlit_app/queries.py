"""Data access and KPI math for the analysts' app — plain functions, no Streamlit.

Every function takes the published serving copy (a DuckDB file) plus filters, and returns
polars frames or small dataclasses. The copy is its path (a short-lived read-only connection
per call) or a `ServingCopy`: the file as it was when a page began, open for that page's
render only, so that every figure of one page comes from one publication. Nothing stays open
longer: the pipeline replaces the file atomically, and a held connection would pin the old
file and block writers (see DESIGN.md, Storage).

KPIs over a selection are recomputed from counts and sums of `marts.fct_queue_visits`
(never averaged ratios), with the definitions of the marts (macro `queue_metric_columns`,
`agg_agent_daily.sql`), so that one day and one queue give exactly the mart's value:

* service level = answered within SL ÷ (offered − short abandons)
* ASA           = mean wait of answered visits whose wait is known
* AHT           = mean (talk + hold + wrap-up) of answered visits whose conversation has
                  ended; hold is inside talk_seconds (Webex) and wrap-up is wrapup_seconds
                  where the platform logs it (Wazo WRAPUPSTART), so handle = talk + wrap-up
* abandon rate  = (abandoned − short abandons) ÷ (offered − short abandons)
* occupancy     = (talk + wrap-up) ÷ (logged in − paused), from agg_agent_daily
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import TypeVar
from zoneinfo import ZoneInfo

import duckdb
import polars as pl

NO_DATA_MESSAGE = "No data published yet — run `switchboard materialize`"

FCT = "marts.fct_queue_visits"
AGENT_DAILY = "marts.agg_agent_daily"
AGENT_PAUSE_DAILY = "marts.agg_agent_pause_daily"
AGENT_QUEUE_DAILY = "marts.agg_agent_queue_daily"

T = TypeVar("T")


# --------------------------------------------------------------------------- errors


class ServingError(Exception):
    """The serving copy cannot be read; the message is meant for the app's user."""


class NoServingData(ServingError):
    """The serving copy does not exist (yet) or holds no queue visits."""

    def __init__(self, message: str = NO_DATA_MESSAGE) -> None:
        super().__init__(message)


class ServingBusy(ServingError):
    """Another process holds a write lock on the serving copy."""


# --------------------------------------------------------------------------- connection


Version = tuple[int, int, int]


@dataclass(frozen=True, eq=False)
class ServingCopy:
    """The serving copy as one file for the length of a page's render (`pinned`): `version`
    is that file's, and every query through `con` reads it, even once a newer copy has
    replaced it at `path`."""

    path: str
    version: Version
    con: duckdb.DuckDBPyConnection
    timezone: str = ""  # the connection's, set once: its configuration is locked (`pinned`)

    @property
    def key(self) -> tuple[str, Version]:
        """What results read from this copy are cached under."""
        return self.path, self.version


Source = str | Path | ServingCopy


def serving_version(source: Source) -> Version | None:
    """Identity of the file now at the path (inode, mtime ns, size), or None if it is missing;
    a pinned copy's is the file it holds.

    Used as part of every cache key: an atomic replace gives a new inode and mtime, so
    results cached for the old file are never served for the new one.
    """
    if isinstance(source, ServingCopy):
        return source.version
    try:
        st = os.stat(source)
    except FileNotFoundError:
        return None
    return (st.st_ino, st.st_mtime_ns, st.st_size)


def _opened(open_file: Callable[[], T], path: str, retries: int, backoff: float) -> T:
    """`open_file()` of the serving copy at `path`, its failures said for the app's user: a
    missing file raises NoServingData; a write lock held elsewhere is retried a few times (the
    publisher normally replaces the file atomically, so this is rare), then raises ServingBusy."""
    for attempt in range(retries + 1):
        try:
            return open_file()
        except duckdb.IOException as exc:
            text = str(exc)
            if "does not exist" in text:
                raise NoServingData() from None
            if "not a valid DuckDB database" in text or "Is a directory" in text:
                raise ServingError(
                    f"The serving copy at {path} is not a DuckDB database file"
                    + (" (it is a folder: SWITCHBOARD_SERVING_PATH names the file itself)."
                       if Path(path).is_dir() else ".")
                ) from None
            if "lock" not in text.lower():
                raise
            if attempt < retries:
                time.sleep(backoff * (attempt + 1))
    raise ServingBusy(
        "The serving copy is locked by another process (is something writing to it "
        "in place instead of publishing a copy?). Try again in a moment."
    )


@contextmanager
def read_only(
    source: Source, timezone: str | None = None, *, retries: int = 5, backoff: float = 0.2
) -> Iterator[duckdb.DuckDBPyConnection]:
    """A read-only connection to the serving copy: a short-lived one, closed on exit, for a
    path; the pinned copy's own, left open, for a `ServingCopy`."""
    if isinstance(source, ServingCopy):
        if timezone and timezone != source.timezone:
            source.con.execute(f"SET TimeZone = '{_sql_str(timezone)}'")  # (fails: its configuration is locked)
        yield source.con
        return
    path = str(source)
    con = _opened(lambda: duckdb.connect(path, read_only=True), path, retries, backoff)
    try:
        if timezone:
            con.execute(f"SET TimeZone = '{_sql_str(timezone)}'")
        yield con
    finally:
        con.close()


@contextmanager
def pinned(path: str | Path, timezone: str, *, retries: int = 5, backoff: float = 0.2) -> Iterator[ServingCopy]:
    """The serving copy now at `path`, held for one page's render and closed after it.

    A page read its blocks (tiles, chart, agent table) through a connection each: a copy
    published between two of them split the page between two publications (independent app
    audit: tiles of one copy beside a chart of the next). The file is attached to a database of
    the render's own: one opened by path would be DuckDB's one instance per path in the process,
    which another session holding the old file would have handed over under the new file's
    version. Its version is the file's before and after attaching it, the same twice."""
    path = str(path)
    con = duckdb.connect()
    try:
        for _attempt in range(3):
            version = serving_version(path)
            if version is None:
                raise NoServingData()
            _opened(lambda: con.execute(f"ATTACH '{_sql_str(path)}' AS serving (READ_ONLY)"), path, retries, backoff)
            if serving_version(path) == version:
                break
            con.execute("DETACH serving")  # replaced while it was being attached: again
        else:
            raise ServingBusy("The serving copy is being replaced again and again. Try again in a moment.")
        con.execute("USE serving")
        con.execute(f"SET TimeZone = '{_sql_str(timezone)}'")
        # the app reads the copy and nothing else: no SQL through this connection may read or
        # attach a file of the machine (`read_csv('/etc/passwd')`), or turn that back on
        # (independent security audit: no injection reaches it; this keeps it so)
        con.execute("SET enable_external_access = false")
        con.execute("SET lock_configuration = true")
        yield ServingCopy(path, version, con, timezone)
    finally:
        con.close()


def has_mart(con: duckdb.DuckDBPyConnection, table: str) -> bool:
    """Whether the serving copy holds marts.`table` (a copy published by an older version may not)."""
    return con.sql(
        "SELECT count(*) FROM information_schema.tables WHERE table_schema = 'marts' AND table_name = $table",
        params={"table": table},
    ).fetchall()[0][0] > 0


def read_mart(source: Source, timezone: str, table: str, read: Callable[[duckdb.DuckDBPyConnection], T]) -> T | None:
    """`read(con)` on the serving copy when its marts hold `table`; None when they do not or when
    nothing is published."""
    try:
        with read_only(source, timezone) as con:
            return read(con) if has_mart(con, table) else None
    except NoServingData:
        return None


def _sql_str(value: str) -> str:
    return value.replace("'", "''")


# --------------------------------------------------------------------------- filters


@dataclass(frozen=True, order=True)
class QueueRef:
    platform: str
    queue: str


@dataclass(frozen=True)
class Filters:
    """What the user selected. `queues=None` means every queue (no queue predicate)."""

    start: date
    end: date
    queues: tuple[QueueRef, ...] | None = None

    @property
    def nothing_selected(self) -> bool:
        return self.queues is not None and len(self.queues) == 0


def _visit_where(filters: Filters, date_col: str = "entered_date") -> tuple[str, dict[str, object]]:
    """WHERE clause (without the keyword) and parameters for a filtered fct_queue_visits scan."""
    params: dict[str, object] = {"start": filters.start, "end": filters.end}
    clause = f"{date_col} BETWEEN $start AND $end"
    if filters.queues is not None:
        params["sel"] = [{"platform": q.platform, "queue": q.queue} for q in filters.queues]
        clause += (
            " AND (platform, queue) IN "
            "(SELECT (s.platform, s.queue) FROM (SELECT unnest($sel, recursive := true)) s)"
        )
    return clause, params


# --------------------------------------------------------------------------- overview


@dataclass(frozen=True)
class Overview:
    """What the serving copy holds: bounds for the filters and when it was published."""

    min_date: date
    max_date: date
    queues: tuple[QueueRef, ...]
    visits: int
    latest_entry: datetime | None  # latest queue entry, in the reporting time zone
    published_at: datetime  # file modification time, in the reporting time zone
    # visits whose day in the app's time zone is not the day the copy gives them: the copy was
    # built with another SWITCHBOARD_TIMEZONE (its days, intervals and agent days are that zone's)
    days_elsewhere: int = 0

    @property
    def platforms(self) -> tuple[str, ...]:
        return tuple(sorted({q.platform for q in self.queues}))


def load_overview(source: Source, timezone: str) -> Overview | None:
    """Date bounds and queue list of the serving copy; None when nothing is published yet."""
    version = serving_version(source)
    if version is None:
        return None
    read = read_mart(source, timezone, "fct_queue_visits", lambda con: (
        con.sql(f"SELECT min(entered_date), max(entered_date), count(*), max(entered_at), "
                f"{DAYS_ELSEWHERE_SQL.format(day='entered_date', at='entered_at')} FROM {FCT}").fetchall()[0],
        con.sql(f"SELECT DISTINCT platform, queue FROM {FCT} ORDER BY platform, queue").fetchall(),
    ))
    if read is None:
        return None
    (min_date, max_date, visits, latest, days_elsewhere), queues = read
    if not visits or min_date is None:
        return None
    zone = ZoneInfo(timezone)
    return Overview(
        min_date=min_date,
        max_date=max_date,
        queues=tuple(QueueRef(p, q) for p, q in queues),
        visits=visits,
        latest_entry=latest.astimezone(zone) if latest is not None else None,
        published_at=datetime.fromtimestamp(version[1] / 1e9, zone),
        days_elsewhere=days_elsewhere,
    )


# rows whose local day in the connection's time zone (the app's) is not the day the copy stored
DAYS_ELSEWHERE_SQL = "count(*) FILTER (WHERE {day} <> CAST({at} AS DATE))"


# --------------------------------------------------------------------------- queue KPIs


@dataclass(frozen=True)
class QueueCounts:
    """Additive counts and sums over a selection of visits (the inputs of every KPI)."""

    offered: int = 0
    answered: int = 0
    abandoned: int = 0
    short_abandons: int = 0
    timeouts: int = 0
    other_unanswered: int = 0
    open_visits: int = 0
    answered_within_sl: int = 0
    answered_waited: int = 0  # answered visits whose wait is known (ASA's denominator)
    answered_wait_seconds: float = 0.0
    ended_answered: int = 0  # answered visits whose conversation ended (AHT's denominator)
    ended_handle_seconds: float = 0.0  # talk (hold inside) + wrap-up of those visits
    max_wait_seconds: float | None = None
    transfers: int = 0


@dataclass(frozen=True)
class QueueKpis:
    offered: int
    answered: int
    abandoned: int
    short_abandons: int
    open_visits: int
    answered_within_sl: int
    service_level: float | None  # 0..1
    asa_seconds: float | None
    aht_seconds: float | None
    abandon_rate: float | None  # 0..1
    max_wait_seconds: float | None
    timeouts: int
    other_unanswered: int
    transfers: int


def _ratio(numerator: float, denominator: float) -> float | None:
    return numerator / denominator if denominator else None


def kpis_from_counts(c: QueueCounts) -> QueueKpis:
    """The KPI definitions, applied to summed counts (never to averaged ratios)."""
    base = c.offered - c.short_abandons
    return QueueKpis(
        offered=c.offered,
        answered=c.answered,
        abandoned=c.abandoned,
        short_abandons=c.short_abandons,
        open_visits=c.open_visits,
        answered_within_sl=c.answered_within_sl,
        service_level=_ratio(c.answered_within_sl, base),
        asa_seconds=_ratio(c.answered_wait_seconds, c.answered_waited),
        aht_seconds=_ratio(c.ended_handle_seconds, c.ended_answered),
        abandon_rate=_ratio(c.abandoned - c.short_abandons, base),
        max_wait_seconds=c.max_wait_seconds,
        timeouts=c.timeouts,
        other_unanswered=c.other_unanswered,
        transfers=c.transfers,
    )


def queue_counts(source: Source, filters: Filters, sl_seconds: int) -> QueueCounts:
    """Counts and sums of the selected visits (answered within SL uses wait ≤ sl_seconds).

    The additive inputs of the columns of the marts macro `queue_metric_columns`:
    short abandons are `is_short_abandon`, ASA averages the known waits of answered visits,
    AHT's handle time is talk + wrap-up (hold is inside talk), max wait is the longest known."""
    if filters.nothing_selected:
        return QueueCounts()
    where, params = _visit_where(filters)
    params["sl"] = sl_seconds
    sql = f"""
        SELECT
            count(*)                                                            AS offered,
            count(*) FILTER (WHERE outcome = 'answered')                        AS answered,
            count(*) FILTER (WHERE outcome = 'abandoned')                       AS abandoned,
            count(*) FILTER (WHERE is_short_abandon)                            AS short_abandons,
            count(*) FILTER (WHERE outcome = 'timeout')                         AS timeouts,
            count(*) FILTER (WHERE outcome IN ('exit_key', 'exit_empty', 'join_empty', 'other'))
                                                                                AS other_unanswered,
            count(*) FILTER (WHERE outcome = 'open')                            AS open_visits,
            count(*) FILTER (WHERE outcome = 'answered' AND wait_seconds <= $sl)
                                                                                AS answered_within_sl,
            count(wait_seconds) FILTER (WHERE outcome = 'answered')             AS answered_waited,
            coalesce(sum(wait_seconds) FILTER (WHERE outcome = 'answered'), 0)  AS answered_wait_seconds,
            count(*) FILTER (WHERE outcome = 'answered' AND talk_seconds IS NOT NULL)
                                                                                AS ended_answered,
            coalesce(sum(talk_seconds + coalesce(wrapup_seconds, 0))
                     FILTER (WHERE outcome = 'answered'), 0)                    AS ended_handle_seconds,
            max(wait_seconds)                                                   AS max_wait_seconds,
            count(*) FILTER (WHERE transferred)                                 AS transfers
        FROM {FCT}
        WHERE {where}
    """
    with read_only(source) as con:
        rel = con.sql(sql, params=params)
        names = rel.columns
        row = rel.fetchall()[0]
    values = dict(zip(names, row, strict=True))
    for key in ("answered_wait_seconds", "ended_handle_seconds"):
        values[key] = float(values[key])
    if values["max_wait_seconds"] is not None:
        values["max_wait_seconds"] = float(values["max_wait_seconds"])
    return QueueCounts(**values)


def queue_kpis(source: Source, filters: Filters, sl_seconds: int) -> QueueKpis:
    return kpis_from_counts(queue_counts(source, filters, sl_seconds))


# --------------------------------------------------------------------------- intervals

INTERVAL_MEASURES = ("offered", "answered", "abandoned")


def interval_counts(source: Source, filters: Filters) -> pl.DataFrame:
    """Offered/answered/abandoned per 15-minute interval (local time), every interval of
    the selected days present (zeros where nothing happened) so charts show quiet periods.
    The intervals are those the reporting zone's clock showed (a pinned copy's zone): the hour
    a spring-forward night skips is left out, not drawn as a quiet hour (independent audit)."""
    where, params = _visit_where(filters)
    if filters.nothing_selected:
        where = "false"
    sql = f"""
        SELECT entered_interval_start AS interval_start,
               count(*)::BIGINT                                       AS offered,
               count(*) FILTER (WHERE outcome = 'answered')::BIGINT   AS answered,
               count(*) FILTER (WHERE outcome = 'abandoned')::BIGINT  AS abandoned
        FROM {FCT}
        WHERE {where}
        GROUP BY 1
    """
    with read_only(source) as con:
        counts = con.sql(sql, params=params).pl()
    zone = source.timezone if isinstance(source, ServingCopy) else ""
    grid = pl.DataFrame({"interval_start": local_quarters(filters.start, filters.end, zone)})
    return (
        grid.join(counts, on="interval_start", how="left")
        .with_columns(pl.col(m).fill_null(0) for m in INTERVAL_MEASURES)
        .sort("interval_start")
    )


def local_quarters(start: date, end: date, zone: str = "") -> pl.Series:
    """Every quarter hour's start from `start` 00:00 to `end` 23:45 as a naive local time in
    `zone`, without those its clocks skip (02:00-02:45 on Europe/Madrid's spring-forward day);
    the repeated hour of a fall-back night is one set of quarters. No zone: every quarter."""
    quarters = pl.datetime_range(
        datetime(start.year, start.month, start.day), datetime(end.year, end.month, end.day, 23, 45),
        "15m", time_unit="us", eager=True,
    ).alias("interval_start")
    if not zone:
        return quarters
    exists = quarters.dt.replace_time_zone(zone, ambiguous="earliest", non_existent="null").is_not_null()
    return quarters.filter(exists)


def coarser_intervals(intervals: pl.DataFrame, every: str) -> pl.DataFrame:
    """The 15-minute counts added up into steps of `every` (a Polars duration: "1h", "1d");
    "15m" leaves them as they are."""
    if every == "15m":
        return intervals
    return _added_up(intervals, pl.col("interval_start").dt.truncate(every))


def time_of_day_profile(intervals: pl.DataFrame) -> pl.DataFrame:
    """Sum the interval counts of all selected days by time of day.

    `interval_start` becomes that time on 2000-01-01 (a plain datetime that charts can put
    on a time axis)."""
    tod = pl.lit(datetime(2000, 1, 1)) + (
        pl.col("interval_start") - pl.col("interval_start").dt.truncate("1d")
    )
    return _added_up(intervals, tod)


def with_closing_step(data: pl.DataFrame, every: str) -> pl.DataFrame:
    """The chart's rows and one more at the end of the last step (`every` after its start) with
    its counts: a step-after line ends at its last point, so the last step was not drawn (a
    single day's chart was empty)."""
    if data.is_empty():
        return data
    last = data.tail(1)
    return pl.concat([data, last.with_columns(pl.col("interval_start").dt.offset_by(every))])


def _added_up(intervals: pl.DataFrame, start: pl.Expr) -> pl.DataFrame:
    """The interval counts summed per value of `start`, which becomes their interval_start."""
    return (
        intervals.group_by(start.alias("interval_start"))
        .agg(pl.col(m).sum() for m in INTERVAL_MEASURES)
        .sort("interval_start")
    )


# --------------------------------------------------------------------------- agents


def _agent_scope(con: duckdb.DuckDBPyConnection, filters: Filters) -> tuple[str, bool, dict[str, object]]:
    """A `scope` CTE listing the agents (platform, agent_key) who worked the selected queues in
    the range — answered there, were rung there or were members (idle members included) — with
    their answered calls and member time in those queues (empty string when all queues are
    selected: then every agent is in scope). A copy published before agg_agent_queue_daily
    existed scopes by answered calls alone, with no member time."""
    if filters.queues is None:
        return "", False, _visit_where(filters)[1]
    if has_mart(con, "agg_agent_queue_daily"):
        where, params = _visit_where(filters, date_col="day")
        source = f"""
            SELECT platform, agent_key, sum(answered)::BIGINT AS answered_in_selection,
                   sum(member_seconds)::DOUBLE AS member_seconds_in_selection
            FROM {AGENT_QUEUE_DAILY}
            WHERE {where}"""
    else:
        where, params = _visit_where(filters)
        source = f"""
            SELECT platform, agent_key, count(*) AS answered_in_selection,
                   NULL::DOUBLE AS member_seconds_in_selection
            FROM {FCT}
            WHERE outcome = 'answered' AND agent_key IS NOT NULL AND {where}"""
    return f""", scope AS ({source}
            GROUP BY ALL
        )""", True, params


# An agent is its identity (platform, agent_key), as in the marts: two people may share a display
# name (two Webex users, two directory entries). The name shown is the latest in the range, with
# the key added where another identity of the range has the same name.
_AGENT_NAMES_CTE = f"""
        agent_names AS (
            SELECT platform, agent_key,
                   CASE WHEN count(*) OVER (PARTITION BY platform, latest_name) > 1
                        THEN latest_name || ' (' || agent_key || ')'
                        ELSE latest_name
                   END AS agent
            FROM (
                SELECT platform, agent_key, arg_max(agent, day) AS latest_name
                FROM {AGENT_DAILY}
                WHERE day BETWEEN $start AND $end
                GROUP BY ALL
            )
        )"""


def agent_table(source: Source, filters: Filters) -> pl.DataFrame:
    """One row per agent over the date range, over all queues (an agent's logged-in and pause
    time belong to no single queue). With a queue selection, only the agents who worked those
    queues are listed (idle members included), with two extra columns: `answered_in_selection`
    and `member_seconds_in_selection` (time as a member of the selected queues).

    Sums come from agg_agent_daily, so one day gives the mart's figures: occupancy =
    (talk + wrap-up) ÷ (logged in − paused), null when that is not positive (and on Webex rows,
    which carry no agent state). AHT is the queue AHT's definition over the agent's answered
    visits that have ended (from fct_queue_visits): mean talk (hold inside) + wrap-up."""
    if filters.nothing_selected:
        return _empty_agents(with_selection=True)
    with read_only(source) as con:
        scope_cte, restricted, params = _agent_scope(con, filters)
        extra = ", scope.answered_in_selection, scope.member_seconds_in_selection" if restricted else ""
        scope_join = "JOIN scope USING (platform, agent_key)" if restricted else ""
        # with a queue selection, who answered most there first (not most in all queues)
        order = "scope.answered_in_selection DESC, a.answered DESC" if restricted else "a.answered DESC"
        df = con.sql(_agent_table_sql(scope_cte, extra, scope_join, order), params=params).pl()
    # a non-positive available time gives no meaningful occupancy
    return df.with_columns(
        pl.when(pl.col("logged_in_seconds") - pl.col("paused_seconds") > 0)
        .then(pl.col("occupancy"))
        .otherwise(None)
        .alias("occupancy")
    )


def _agent_table_sql(scope_cte: str, extra: str, scope_join: str, order: str) -> str:
    return f"""
        WITH a AS (
            SELECT platform, agent_key,
                   sum(answered)::BIGINT          AS answered,
                   sum(talk_seconds)::DOUBLE      AS talk_seconds,
                   sum(wrapup_seconds)::DOUBLE    AS wrapup_seconds,
                   sum(ring_no_answer)::BIGINT    AS ring_no_answer,
                   sum(transfers)::BIGINT         AS transfers,
                   sum(logged_in_seconds)::DOUBLE AS logged_in_seconds,
                   sum(paused_seconds)::DOUBLE    AS paused_seconds
            FROM {AGENT_DAILY}
            WHERE day BETWEEN $start AND $end
            GROUP BY ALL
        ), ended AS (
            SELECT platform, agent_key, count(*) AS ended_calls,
                   sum(talk_seconds + coalesce(wrapup_seconds, 0)) AS ended_handle
            FROM {FCT}
            WHERE outcome = 'answered' AND talk_seconds IS NOT NULL AND agent_key IS NOT NULL
              AND entered_date BETWEEN $start AND $end
            GROUP BY ALL
        ),{_AGENT_NAMES_CTE}{scope_cte}
        SELECT a.platform, agent_names.agent, a.agent_key, a.answered{extra},
               a.talk_seconds, a.wrapup_seconds,
               ended.ended_handle / nullif(ended.ended_calls, 0)            AS aht_seconds,
               a.ring_no_answer, a.transfers,
               a.logged_in_seconds, a.paused_seconds,
               CASE WHEN a.logged_in_seconds - a.paused_seconds > 0
                    THEN (a.talk_seconds + a.wrapup_seconds) / (a.logged_in_seconds - a.paused_seconds)
               END                                                          AS occupancy
        FROM a
        JOIN agent_names USING (platform, agent_key)
        LEFT JOIN ended USING (platform, agent_key)
        {scope_join}
        ORDER BY {order}, agent_names.agent
    """


def _empty_agents(with_selection: bool) -> pl.DataFrame:
    schema: dict[str, pl.DataType] = {
        "platform": pl.String(),
        "agent": pl.String(),
        "agent_key": pl.String(),
        "answered": pl.Int64(),
    }
    if with_selection:
        schema["answered_in_selection"] = pl.Int64()
        schema["member_seconds_in_selection"] = pl.Float64()
    for col in ("talk_seconds", "wrapup_seconds", "aht_seconds"):
        schema[col] = pl.Float64()
    schema["ring_no_answer"] = pl.Int64()
    schema["transfers"] = pl.Int64()
    for col in ("logged_in_seconds", "paused_seconds", "occupancy"):
        schema[col] = pl.Float64()
    return pl.DataFrame(schema=schema)


def _read_pauses(source: Source, filters: Filters, select: str) -> pl.DataFrame:
    """`select` run over the range's pause rows, CTE `p` (reason '(no reason)' where none was
    logged), with `{scope_join}` in it replaced by the join that keeps agent_table's agents
    (nothing when every agent is in scope)."""
    with read_only(source) as con:
        scope_cte, restricted, params = _agent_scope(con, filters)
        scope_join = "SEMI JOIN scope USING (platform, agent_key)" if restricted else ""
        sql = f"""
            WITH p AS (
                SELECT platform, agent_key, agent, coalesce(reason, '(no reason)') AS reason, pauses,
                       paused_seconds
                FROM {AGENT_PAUSE_DAILY}
                WHERE day BETWEEN $start AND $end
            ),{_AGENT_NAMES_CTE}{scope_cte}
            {select.format(scope_join=scope_join)}"""
        return con.sql(sql, params=params).pl()


def pause_breakdown(source: Source, filters: Filters) -> pl.DataFrame:
    """Pauses and paused time per reason over the range (same agents as agent_table),
    with each reason's share of all paused time."""
    if filters.nothing_selected:
        return pl.DataFrame(
            schema={
                "reason": pl.String(),
                "pauses": pl.Int64(),
                "paused_seconds": pl.Float64(),
                "share": pl.Float64(),
            }
        )
    return _read_pauses(source, filters, """
        SELECT reason,
               sum(pauses)::BIGINT          AS pauses,
               sum(paused_seconds)::DOUBLE  AS paused_seconds,
               sum(paused_seconds) / nullif(sum(sum(paused_seconds)) OVER (), 0) AS share
        FROM p
        {scope_join}
        GROUP BY reason
        ORDER BY paused_seconds DESC, reason
    """)


def pauses_by_agent(source: Source, filters: Filters) -> pl.DataFrame:
    """Paused time per agent and reason over the range (same agents as agent_table)."""
    if filters.nothing_selected:
        return pl.DataFrame(
            schema={
                "platform": pl.String(),
                "agent": pl.String(),
                "agent_key": pl.String(),
                "reason": pl.String(),
                "pauses": pl.Int64(),
                "paused_seconds": pl.Float64(),
            }
        )
    # (the name agent_table shows; a pause outside any logged-in day keeps its own)
    return _read_pauses(source, filters, """
        SELECT p.platform, coalesce(any_value(agent_names.agent), max(p.agent)) AS agent, p.agent_key,
               p.reason, sum(p.pauses)::BIGINT AS pauses, sum(p.paused_seconds)::DOUBLE AS paused_seconds
        FROM p
        LEFT JOIN agent_names USING (platform, agent_key)
        {scope_join}
        GROUP BY p.platform, p.agent_key, p.reason
        ORDER BY agent, p.platform, paused_seconds DESC
    """)


def queue_labels(queues: Sequence[QueueRef]) -> dict[str, QueueRef]:
    """User-facing labels for the queue picker: the queue name, plus its platform when more
    than one platform is published (two platforms may both have a queue called 'sales')."""
    several = len({q.platform for q in queues}) > 1
    return {(f"{q.queue} ({q.platform})" if several else q.queue): q for q in queues}
