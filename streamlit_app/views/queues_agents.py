"""Page "Queues & agents": queue KPIs, 15-minute traffic, agent table, pause reasons.

All numbers come from `streamlit_app.queries` (through the cached wrappers); this module
only lays them out. Phone numbers are never queried for this page.
"""

from __future__ import annotations

import math

import altair as alt
import polars as pl
import streamlit as st

from streamlit_app import cached
from streamlit_app import queries as q
from streamlit_app.formatting import DASH, fmt_count, fmt_days, fmt_duration, fmt_pct, fmt_timestamp
from streamlit_app.views.widgets import (
    no_data,
    other_zone_warning,
    page,
    seconds_to_timedelta,
    sidebar_days,
    tile_row,
)
from switchboard.settings import Settings

TITLE = "Queues & agents"
NO_VISITS_MESSAGE = "The published copy holds calls but no queue visit yet: its calls are on the Calls page."
DEFAULT_DAYS = 7
MEASURE_COLORS = {"offered": "#4C78A8", "answered": "#54A24B", "abandoned": "#E45756"}
# the chart's steps: label -> Polars duration (queries.coarser_intervals), and the axis' unit
STEPS = {"15 minutes": "15m", "Hour": "1h", "Day": "1d"}
STEP_UNITS = {"15 minutes": "15 min", "Hour": "hour", "Day": "day"}
AGENT_STATE_COLUMNS = ("member_seconds_in_selection", "logged_in_seconds", "paused_seconds", "occupancy")


def render() -> None:
    page(TITLE, _render, tables="fct_queue_visits, agg_agent_daily, agg_agent_queue_daily, agg_agent_pause_daily")


def _render(settings: Settings, copy: q.ServingCopy) -> None:
    overview = cached.overview(copy, copy.key, settings.timezone)
    if overview is None:
        # a copy with calls but no queue visit yet (outbound traffic only) is published all right
        calls = q.read_mart(copy, settings.timezone, "fct_calls",
                            lambda con: con.sql("SELECT count(*) FROM marts.fct_calls").fetchall()[0][0])
        no_data(NO_VISITS_MESSAGE if calls else q.NO_DATA_MESSAGE, copy.path)
        return

    other_zone_warning(overview.days_elsewhere, "queue visits", settings.timezone)
    start, end, queue_key, picked_labels = _sidebar(overview, settings)
    st.caption(
        f"{fmt_days(start, end)} · "
        f"{_queue_summary(picked_labels, len(overview.queues))} · "
        f"times in **{settings.timezone}** · published {fmt_timestamp(overview.published_at)}, "
        f"latest queue entry {fmt_timestamp(overview.latest_entry)}"
    )
    if queue_key == ():
        st.warning("Select at least one queue in the sidebar.")
        return

    kpis = cached.queue_kpis(copy, copy.key, start, end, queue_key, settings.sl_seconds)
    _kpi_tiles(kpis, settings)

    st.subheader("Calls over time")
    intervals = cached.interval_counts(copy, copy.key, start, end, queue_key)
    _interval_chart(intervals, settings.timezone, days=(end - start).days + 1)

    several_platforms = len(overview.platforms) > 1
    st.subheader("Agents")
    agents = cached.agent_table(copy, copy.key, start, end, queue_key)
    _agent_table(agents, several_platforms, restricted=queue_key is not None)

    st.subheader("Pause reasons")
    pauses = cached.pause_breakdown(copy, copy.key, start, end, queue_key)
    per_agent = cached.pauses_by_agent(copy, copy.key, start, end, queue_key)
    _pause_breakdown(pauses, per_agent, several_platforms)


# --------------------------------------------------------------------------- sidebar


def _sidebar(overview: q.Overview, settings: Settings):
    start, end = sidebar_days(overview.min_date, overview.max_date,
                              f"Queue-entry day in {settings.timezone}.", DEFAULT_DAYS)
    sb = st.sidebar

    labels = q.queue_labels(overview.queues)
    picked_labels = sb.multiselect(
        "Queues", options=list(labels), default=list(labels), placeholder="Choose queues",
        key="queues", bind="query-params",
    )
    if len(picked_labels) == len(labels):
        queue_key = None  # everything: no queue predicate at all
    else:
        queue_key = tuple(sorted((labels[x].platform, labels[x].queue) for x in picked_labels))
    sb.caption(
        f"Service level threshold {settings.sl_seconds} s · short abandon ≤ "
        f"{settings.short_abandon_seconds} s"
    )
    return start, end, queue_key, picked_labels


def _queue_summary(picked: list[str], total: int) -> str:
    if len(picked) == total > 1:  # (a site's only queue is named: "all 1 queues")
        return f"all {total} queues"
    if len(picked) <= 3:
        return ", ".join(picked) or "no queue"
    return f"{len(picked)} of {total} queues"


# --------------------------------------------------------------------------- KPI tiles


def _kpi_tiles(k: q.QueueKpis, settings: Settings) -> None:
    base = k.offered - k.short_abandons
    row1 = tile_row()
    row1.metric(
        "Offered",
        fmt_count(k.offered),
        border=True,
        help="Queue visits that entered in the selected days and queues "
        "(a call that visits two queues counts in each).",
    )
    row1.metric(
        "Answered",
        fmt_count(k.answered),
        border=True,
        help="Visits connected to an agent, including conversations still going on.",
    )
    row1.metric(
        "Abandoned",
        fmt_count(k.abandoned),
        border=True,
        help=f"Caller hung up while waiting. Short abandons among them (wait ≤ "
        f"{settings.short_abandon_seconds} s): {k.short_abandons:,}. Counted apart, not here: "
        f"timeouts {k.timeouts:,}, other exits (exit key, empty queue) {k.other_unanswered:,}.",
    )
    row1.metric(
        "Open now",
        fmt_count(k.open_visits),
        border=True,
        help="Visits that entered in the selected days and were still waiting — neither connected "
        "nor ended — when this copy was published (a range ending before today leaves out "
        "callers who entered later).",
    )
    row2 = tile_row()
    row2.metric(
        "Service level",
        fmt_pct(k.service_level),
        border=True,
        help=f"Answered within {settings.sl_seconds} s ÷ (offered − short abandons) = "
        f"{k.answered_within_sl:,} ÷ {base:,}.",
    )
    row2.metric(
        "ASA",
        fmt_duration(k.asa_seconds),
        border=True,
        help=f"Average speed of answer: mean wait of answered visits (mm:ss). "
        f"Longest wait of any visit: {fmt_duration(k.max_wait_seconds)}.",
    )
    row2.metric(
        "AHT",
        fmt_duration(k.aht_seconds),
        border=True,
        help="Average handle time: mean talk + hold + wrap-up of answered visits whose "
        "conversation has ended (mm:ss). Hold time is part of the talk time; wrap-up counts "
        "where the platform logs it (Wazo `WRAPUPSTART`), so on plain Asterisk AHT equals talk.",
    )
    row2.metric(
        "Abandon rate",
        fmt_pct(k.abandon_rate),
        border=True,
        help=f"(abandoned − short abandons) ÷ (offered − short abandons) = "
        f"{k.abandoned - k.short_abandons:,} ÷ {base:,}.",
    )


# --------------------------------------------------------------------------- traffic chart


def default_step(days: int, by_time_of_day: bool) -> str:
    """The chart's step for a range of `days`: a week of 15-minute steps is 672 of them, so
    hours beyond two days, and days beyond three months (six years of hours took the browser
    9 s to draw; independent app audit). A profile by time of day has no day step."""
    if days <= 2:
        return "15 minutes"
    return "Hour" if days <= 92 or by_time_of_day else "Day"


def _interval_chart(intervals: pl.DataFrame, timezone: str, days: int) -> None:
    view = "Timeline"
    controls = st.columns(2)
    if days > 1:
        view = controls[0].radio(
            "View",
            ["Timeline", "By time of day"],
            horizontal=True,
            label_visibility="collapsed",
            help="By time of day adds up the selected days per slot.",
            key="view",
            bind="query-params",
        )
    by_time_of_day = view == "By time of day"
    steps = [s for s in STEPS if not (by_time_of_day and STEPS[s] == "1d")]
    default = steps.index(default_step(days, by_time_of_day))
    if st.session_state.get("step", steps[default]) not in steps:
        # Day is not offered by time of day: the step shown (and kept in the address) is the
        # default, not a Day the chart no longer draws
        st.session_state["step"] = steps[default]
    step = controls[1].radio("Step", steps, index=default, horizontal=True, key="step",
                             bind="query-params", label_visibility="collapsed", help="How long each point of the chart is.")
    data = q.coarser_intervals(intervals, STEPS[step])
    data = q.time_of_day_profile(data) if by_time_of_day else data
    if int(data["offered"].sum()) == 0:
        st.caption("No calls in this selection.")
        return
    data = q.with_closing_step(data, STEPS[step])
    ticks = {}  # Vega-Lite's choice
    # a range beyond a week names months (day numbers alone repeated: "Tue 01 … Thu 01"), one
    # over a year's end the year too (independent app audit)
    year = " %Y" if not by_time_of_day and data["interval_start"].dt.year().n_unique() > 1 else ""
    if STEPS[step] == "1d":
        axis_format = tooltip_format = "%a %d %b" + year
        # a tick a day (every few days beyond twelve): a day or two got hourly ticks, each
        # labelled with its day
        ticks = {"tickCount": alt.TickCount(interval="day", step=math.ceil(days / 12))}
    else:
        axis_format = ("%H:%M" if (by_time_of_day or days == 1) else "%a %d %H:%M" if days <= 7
                       else "%d %b" + year + " %H:%M")
        tooltip_format = "%H:%M" if by_time_of_day else "%a %d %b" + year + " %H:%M"
    per = f"Visits per {STEP_UNITS[step]}"
    long = data.unpivot(
        index="interval_start",
        on=list(q.INTERVAL_MEASURES),
        variable_name="measure",
        value_name="visits",
    ).to_pandas()
    # interval_start is the reporting zone's wall-clock time. Naive, the browser read it in its
    # own zone, whose DST nights then dropped or bent an hour of the axis (independent app audit);
    # handed over as UTC and drawn on a UTC scale, it reads the same in every browser.
    # (the tooltip's text is written here: Vega-Lite's UTC format of it showed "NaN")
    long["interval_label"] = long["interval_start"].dt.strftime(tooltip_format)
    long["interval_start"] = long["interval_start"].dt.tz_localize("UTC")
    base = alt.Chart(long).encode(
        x=alt.X(
            "interval_start:T",
            title=f"Queue entry ({timezone})",
            scale=alt.Scale(type="utc"),
            axis=alt.Axis(format=axis_format, **ticks),
        ),
        y=alt.Y(
            "visits:Q",
            title=f"{per}, {days} days added up" if by_time_of_day else per,
            axis=alt.Axis(tickMinStep=1, format="d"),  # whole visits
        ),
        color=alt.Color(
            "measure:N",
            title=None,
            scale=alt.Scale(domain=list(MEASURE_COLORS), range=list(MEASURE_COLORS.values())),
            legend=alt.Legend(orient="top"),
        ),
        tooltip=[
            alt.Tooltip("interval_label:N", title="Interval start"),
            alt.Tooltip("measure:N", title="Measure"),
            alt.Tooltip("visits:Q", title="Visits"),
        ],
    )
    # offered as a light area behind: where every visit was answered, its line lay under
    # the answered one and the offered series seemed missing
    offered = base.transform_filter(alt.datum.measure == "offered").mark_area(
        interpolate="step-after", opacity=0.3)
    outcomes = base.transform_filter(alt.datum.measure != "offered").mark_line(
        interpolate="step-after", strokeWidth=1.6)
    st.altair_chart(alt.layer(offered, outcomes).properties(height=300), width="stretch")


# --------------------------------------------------------------------------- agents


def _agent_table(agents: pl.DataFrame, several_platforms: bool, restricted: bool) -> None:
    if restricted:
        st.caption(
            "Agents who worked the selected queues: answered or were rung there, or were members "
            "(idle members included). Their figures cover all queues, except the two "
            "'selected queues' columns."
        )
    else:
        st.caption("All agents with activity in the selected days, over all queues.")
    if agents.is_empty():
        st.info("No agent activity in this selection.")
        return
    df = agents.to_pandas()
    df = seconds_to_timedelta(
        df,
        [c for c in ("talk_seconds", "wrapup_seconds", "aht_seconds", "member_seconds_in_selection",
                     "logged_in_seconds", "paused_seconds") if c in df.columns],
    )
    # agent is the name, told apart by its key where two agents share one
    df = df.drop(columns=["agent_key"] if several_platforms else ["platform", "agent_key"])
    # agent state no agent of the selection has (Webex CDRs carry none): columns of "None" only
    stateless = [c for c in AGENT_STATE_COLUMNS if c in df.columns and df[c].isna().all()]
    if stateless:
        df = df.drop(columns=stateless)
        st.caption("Logged-in, paused and occupancy figures are left out: no agent here has agent state "
                   "logged (Webex's CDRs carry none).")
    # wrap-up only Wazo logs: elsewhere the column read 00:00:00 for everyone, as if measured
    if "wrapup_seconds" in df.columns and not (agents["wrapup_seconds"].fill_null(0) != 0).any():
        df = df.drop(columns=["wrapup_seconds"])
        st.caption("Wrap-up is left out: none is logged here (only Wazo's `WRAPUPSTART` records it; "
                   "AHT is then talk time alone).")
    clock = "compact"  # elapsed-time clock (h:mm:ss) for timedelta columns
    st.dataframe(
        df,
        hide_index=True,
        width="stretch",
        column_config={
            "platform": st.column_config.TextColumn("Platform"),
            "agent": st.column_config.TextColumn("Agent"),
            "answered": st.column_config.NumberColumn(
                "Answered", format="localized", help="Calls answered (all queues)."
            ),
            "answered_in_selection": st.column_config.NumberColumn(
                "Answered (selected queues)", format="localized"
            ),
            "member_seconds_in_selection": st.column_config.NumberColumn(
                "Member (selected queues)",
                format=clock,
                help="Time as a member of the selected queues (Asterisk's ADDMEMBER → "
                f"REMOVEMEMBER; an AGENTLOGIN names no queue). {DASH} for Webex agents.",
            ),
            "talk_seconds": st.column_config.NumberColumn(
                "Talk", format=clock, help="Talk time of answered calls (hold included)."
            ),
            "wrapup_seconds": st.column_config.NumberColumn(
                "Wrap-up",
                format=clock,
                help="Wrap-up after answered calls, where the platform logs it "
                "(Wazo `WRAPUPSTART`); 0 elsewhere.",
            ),
            "aht_seconds": st.column_config.NumberColumn(
                "AHT",
                format=clock,
                help="Mean talk + hold + wrap-up of answered calls that have ended "
                "(hold is part of talk).",
            ),
            "ring_no_answer": st.column_config.NumberColumn(
                "Ring, no answer",
                format="localized",
                help="Times a call rang this agent without being picked up.",
            ),
            "transfers": st.column_config.NumberColumn("Transfers", format="localized"),
            "logged_in_seconds": st.column_config.NumberColumn(
                "Logged in",
                format=clock,
                help=f"Time logged in to any queue (Asterisk's member and login lines). {DASH} for "
                "Webex agents: Webex's CDRs carry no agent state.",
            ),
            "paused_seconds": st.column_config.NumberColumn(
                "Paused",
                format=clock,
                help=f"Time paused (Asterisk: every queue's pauses as one, a PAUSEALL once). {DASH} for Webex agents.",
            ),
            # a ratio as in agg_agent_daily, shown as a percentage: the table's CSV download
            # held 20.9 where the mart holds 0.209 (independent app audit)
            "occupancy": st.column_config.NumberColumn(
                "Occupancy",
                format="percent",
                help=f"(Talk + wrap-up) ÷ (logged in − paused); {DASH} where agent state is not "
                "logged (Webex) or no time was available.",
            ),
        },
        placeholder=DASH,
    )


# --------------------------------------------------------------------------- pauses


def _pause_breakdown(
    pauses: pl.DataFrame, per_agent: pl.DataFrame, several_platforms: bool
) -> None:
    if pauses.is_empty():
        st.info("No pauses recorded in this selection.")
        return
    chart_col, table_col = st.columns([3, 2])
    chart_data = pauses.with_columns(
        (pl.col("paused_seconds") / 3600).alias("paused_hours"),
        pl.col("paused_seconds").map_elements(fmt_duration, return_dtype=pl.String).alias("paused"),
        pl.col("share").map_elements(fmt_pct, return_dtype=pl.String).alias("share_pct"),
    ).to_pandas()
    chart = (
        alt.Chart(chart_data)
        .mark_bar()
        .encode(
            y=alt.Y("reason:N", title=None, sort="-x"),
            x=alt.X("paused_hours:Q", title="Paused hours"),
            tooltip=[
                alt.Tooltip("reason:N", title="Reason"),
                alt.Tooltip("pauses:Q", title="Pauses"),
                alt.Tooltip("paused:N", title="Paused (h:mm:ss)"),
                alt.Tooltip("share_pct:N", title="Share of paused time"),
            ],
        )
        # the height Streamlit gives holds the axis too: ~60 px of it, then 32 px per reason, or
        # Vega-Lite hides the labels of bars that would overlap
        .properties(height=60 + 32 * len(chart_data))
    )
    chart_col.altair_chart(chart, width="stretch")

    table = seconds_to_timedelta(pauses.to_pandas(), ["paused_seconds"])
    table_col.dataframe(
        table,
        hide_index=True,
        width="stretch",
        column_config={
            "reason": st.column_config.TextColumn("Reason"),
            "pauses": st.column_config.NumberColumn("Pauses", format="localized"),
            "paused_seconds": st.column_config.NumberColumn("Paused", format="compact"),
            "share": st.column_config.NumberColumn("Share", format="percent"),
        },
        placeholder=DASH,
    )

    with st.expander("Paused time per agent and reason"):
        index = ["platform", "agent_key", "agent"]
        # one row per agent and reason already: "first" leaves a reason the agent never took
        # empty, where a sum made it 00:00:00
        wide = per_agent.pivot(
            on="reason", index=index, values="paused_seconds", aggregate_function="first"
        )
        reasons = [c for c in wide.columns if c not in index]
        shown = wide.drop("agent_key" if several_platforms else ["platform", "agent_key"])
        wide_pd = seconds_to_timedelta(shown.to_pandas(), reasons)
        st.dataframe(
            wide_pd,
            hide_index=True,
            width="stretch",
            column_config={
                "platform": st.column_config.TextColumn("Platform"),
                "agent": st.column_config.TextColumn("Agent"),
                **{r: st.column_config.NumberColumn(r, format="compact") for r in reasons},
            },
            placeholder=DASH,
        )
