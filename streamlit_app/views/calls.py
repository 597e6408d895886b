"""Page "Calls": every call on any platform (marts.fct_calls) and a Webex call's journey
(marts.fct_journey_hops).

All figures come from `streamlit_app.call_queries` (through the cached wrappers); this module
only lays them out. Phone numbers are masked by the query unless the signed-in viewer is listed
in SWITCHBOARD_APP_NUMBER_VIEWERS.
"""

from __future__ import annotations

from collections.abc import Mapping

import altair as alt
import polars as pl
import streamlit as st

from streamlit_app import cached
from streamlit_app import call_queries as cq
from streamlit_app import queries as q
from streamlit_app.formatting import DASH, fmt_count, fmt_days, fmt_duration, fmt_pct, fmt_timestamp
from streamlit_app.views.widgets import (
    no_data,
    other_zone_warning,
    page,
    seconds_to_timedelta,
    sidebar_days,
    sign_in_box,
    tile_row,
)
from switchboard.settings import Settings

TITLE = "Calls"
DEFAULT_DAYS = 7
NO_CALLS_MESSAGE = "No calls published yet — run `switchboard materialize`"
DIRECTION_COLORS = {"inbound": "#4C78A8", "outbound": "#F58518", "internal": "#9D9DA3"}
WEEK_DAYS = 7  # the per-day chart's bars are never wider than a week's


def render() -> None:
    page(TITLE, _render, tables="fct_calls, fct_journey_hops", no_data_message=NO_CALLS_MESSAGE)


def viewer_email() -> str | None:
    """The signed-in viewer's e-mail (Streamlit's OIDC login), else None."""
    return verified_email(st.user)


def verified_email(claims: Mapping[str, object]) -> str | None:
    """The e-mail of a signed-in viewer's identity-provider claims, unless the provider says it is
    not verified: where anyone may sign up, an unverified address listed in
    SWITCHBOARD_APP_NUMBER_VIEWERS showed numbers to whoever typed it (independent security
    audit). A provider that sends no `email_verified` (Microsoft Entra ID) is taken at its word;
    any value but true (`True`, "true") is not verified (`0`, "no", null: re-audit)."""
    verified = claims.get("email_verified", True)
    if not claims.get("is_logged_in") or not (verified is True or str(verified).lower() == "true"):
        return None
    email = claims.get("email")
    return email if isinstance(email, str) else None


def _render(settings: Settings, copy: q.ServingCopy) -> None:
    overview = cached.call_overview(copy, copy.key, settings.timezone)
    if overview is None:
        no_data(NO_CALLS_MESSAGE, copy.path)
        return
    other_zone_warning(overview.days_elsewhere, "calls", settings.timezone)
    show_numbers = settings.may_see_numbers(viewer_email())

    filters = _sidebar(overview, settings, show_numbers)
    st.caption(
        f"{fmt_days(filters.start, filters.end)} · times in **{settings.timezone}** · "
        f"latest call {fmt_timestamp(overview.latest_start)}"
        + ("" if show_numbers else " · phone numbers masked")
    )
    if filters.nothing_selected:
        st.warning("Select at least one value of every filter in the sidebar.")
        return

    _tiles(cached.call_summary(copy, copy.key, filters))

    st.subheader("Calls per day")
    _per_day_chart(cached.calls_per_day(copy, copy.key, filters), settings.timezone)

    st.subheader("Far ends")
    _call_types_table(cached.call_types(copy, copy.key, filters))

    st.subheader("Calls")
    calls, total = cached.call_list(copy, copy.key, filters, settings.timezone, show_numbers)
    selected = _call_table(calls, total, several_platforms=len(overview.platforms) > 1)

    st.subheader("Journey")
    _journey(copy, calls, settings.timezone, selected)


# --------------------------------------------------------------------------- sidebar


def _sidebar(overview: cq.CallOverview, settings: Settings, show_numbers: bool) -> cq.CallFilters:
    start, end = sidebar_days(overview.min_date, overview.max_date,
                              f"Day the call started, in {settings.timezone}.", DEFAULT_DAYS)
    sb = st.sidebar

    def choice(label: str, options: tuple[str, ...]) -> tuple[str, ...] | None:
        if len(options) <= 1:
            return None
        picked = sb.multiselect(label, options=list(options), default=list(options), placeholder="Choose",
                                format_func=readable, key=label.lower().replace(" ", "_"), bind="query-params")
        return None if len(picked) == len(options) else tuple(picked)

    platforms = choice("Platforms", overview.platforms)
    directions = choice("Direction", overview.directions)
    call_types = choice("Call type", overview.call_types)
    outcomes = choice("Outcome", overview.outcomes)
    number = None
    if show_numbers:
        # not bound to the URL like the other filters: a searched number would sit in browser
        # history and proxy logs
        number = sb.text_input("Number", placeholder="digits of the caller or callee",
                               help="Calls whose caller's or callee's number contains these digits.").strip()
        if number and not cq.digits_of(number):
            sb.warning("A number search needs digits: no call matches.")
    else:
        sb.caption("Phone numbers are masked for you (SWITCHBOARD_APP_NUMBER_VIEWERS), so there is "
                   "no search by number.")
    sign_in_box("Viewers listed in SWITCHBOARD_APP_NUMBER_VIEWERS see phone numbers in full once signed in.")
    return cq.CallFilters(start=start, end=end, platforms=platforms, directions=directions,
                          call_types=call_types, outcomes=outcomes, number=number or None)


# --------------------------------------------------------------------------- tiles and charts


def _tiles(s: cq.CallSummary) -> None:
    row1 = tile_row()
    row1.metric("Calls", fmt_count(s.calls), border=True,
                help="Calls that started in the selected days (one per call, however many queues "
                     "and agents it met).")
    row1.metric("Inbound", fmt_count(s.inbound), border=True)
    row1.metric("Outbound", fmt_count(s.outbound), border=True,
                help=f"Internal calls (between extensions), in neither: {s.internal:,}.")
    row1.metric("Answered, all calls", fmt_pct(s.answer_rate), border=True,
                help=f"Calls a person answered: {s.answered:,} of {s.calls:,}, outbound and internal "
                     f"calls and the {s.self_service:,} that ended in self-service included.")
    row1.metric("Queued calls answered", fmt_pct(s.queued_answer_rate), border=True,
                help=f"Calls that entered a queue and that an agent answered: {s.queued_answered:,} of "
                     f"{s.queued:,}.")
    row2 = tile_row()
    far_end = ("phonenumbers' type of the far end's number: the caller of inbound calls, the dialled "
               "number of outbound ones. Where toll fraud shows.")
    row2.metric("Self-service", fmt_count(s.self_service), border=True,
                help="Inbound calls that ended without a person: in an auto attendant or with the "
                     "virtual agent.")
    row2.metric("International", fmt_count(s.international), border=True,
                help=f"Calls whose far end is abroad ({far_end})")
    row2.metric("Premium", fmt_count(s.premium), border=True,
                help=f"Calls to or from a premium-rate number ({far_end})")
    row2.metric("Mean talk", fmt_duration(s.mean_talk_seconds), border=True,
                help=f"Talk with agents per answered call that has talk time (mm:ss); "
                     f"{fmt_duration(s.talk_seconds)} in all.")
    row2.metric("Mean queue wait", fmt_duration(s.mean_queue_seconds), border=True,
                help=f"Queue time per call that entered a queue ({s.queued:,} calls), all its "
                     "queues added up (mm:ss).")


def _per_day_chart(per_day: pl.DataFrame, timezone: str) -> None:
    if int(per_day["calls"].sum()) == 0:
        st.caption("No calls in this selection.")
        return
    # one bar per day: the days as labels in their order (a time axis draws thin bars and
    # repeats a day's label at every tick)
    one_year = per_day["day"].dt.year().n_unique() <= 1
    # fewer days than a week get a week's bar width, centred in their day: one day's bar was a
    # block across the page
    bar_share = min(1.0, per_day["day"].n_unique() / WEEK_DAYS)
    data = per_day.with_columns(
        pl.col("day").dt.strftime("%a %d %b" if one_year else "%d %b %Y").alias("label")).to_pandas()
    chart = (
        alt.Chart(data)
        .mark_bar(width=alt.RelativeBandSize(bar_share))
        .encode(
            x=alt.X("label:O", title=f"Day ({timezone})", sort=list(dict.fromkeys(data["label"])),
                    axis=alt.Axis(labelAngle=0)),
            y=alt.Y("calls:Q", title="Calls", stack=True),
            color=alt.Color("direction:N", title=None, legend=alt.Legend(orient="top"),
                            scale=alt.Scale(domain=list(DIRECTION_COLORS),
                                            range=list(DIRECTION_COLORS.values()))),
            tooltip=[alt.Tooltip("label:O", title="Day"),
                     alt.Tooltip("direction:N", title="Direction"),
                     alt.Tooltip("calls:Q", title="Calls")],
        )
        .properties(height=260)
    )
    st.altair_chart(chart, width="stretch")


def _call_types_table(types: pl.DataFrame) -> None:
    if types.is_empty():
        st.info("No calls in this selection.")
        return
    st.caption("The far end's number: the caller of inbound calls, the dialled number of outbound ones.")
    st.dataframe(
        seconds_to_timedelta(readable_codes(types, "call_type").to_pandas(), ["talk_seconds"]),
        hide_index=True,
        width="stretch",
        column_config={
            "call_type": st.column_config.TextColumn("Call type"),
            "country": st.column_config.TextColumn("Country", help="ISO 3166 region of the far end's number."),
            "calls": st.column_config.NumberColumn("Calls", format="localized"),
            "answered": st.column_config.NumberColumn("Answered", format="localized"),
            "talk_seconds": st.column_config.NumberColumn("Talk", format="compact"),
        },
        placeholder=DASH,
    )


# --------------------------------------------------------------------------- calls and journey


def _call_table(calls: pl.DataFrame, total: int, several_platforms: bool) -> str | None:
    """The call list; the call_id of the row the user selected, if any."""
    if calls.is_empty():
        st.info("No calls in this selection.")
        return None
    shown = f"the newest {calls.height:,} of {total:,}" if total > calls.height else f"all {total:,}"
    st.caption(f"Calls of the selection, newest first: {shown}. Select a row to see its journey below.")
    df = seconds_to_timedelta(readable_codes(calls.drop("call_id"), "direction", "call_type", "outcome").to_pandas(),
                               ["queue_seconds", "talk_seconds", "hold_seconds"])
    if not several_platforms:
        df = df.drop(columns=["platform"])
    clock = "compact"
    event = st.dataframe(
        df,
        hide_index=True,
        width="stretch",
        on_select="rerun",
        selection_mode="single-row",
        key="call_list",
        column_config={
            "platform": st.column_config.TextColumn("Platform"),
            "started_at": st.column_config.DatetimeColumn("Started", format="YYYY-MM-DD HH:mm:ss"),
            "direction": st.column_config.TextColumn("Direction"),
            "caller_number": st.column_config.TextColumn("Caller"),
            "callee_number": st.column_config.TextColumn("Callee"),
            "call_type": st.column_config.TextColumn("Call type"),
            "country": st.column_config.TextColumn("Country"),
            "first_queue": st.column_config.TextColumn("First queue"),
            "final_agent": st.column_config.TextColumn("Final agent"),
            "outcome": st.column_config.TextColumn("Outcome"),
            "route": st.column_config.TextColumn("Route", help="Webex: the journey's hops; see below."),
            "queue_seconds": st.column_config.NumberColumn("Queue", format=clock),
            "talk_seconds": st.column_config.NumberColumn("Talk", format=clock),
            "hold_seconds": st.column_config.NumberColumn("Hold", format=clock),
            "transferred": st.column_config.CheckboxColumn("Transferred"),
            "recorded": st.column_config.CheckboxColumn("Recorded"),
        },
        placeholder=DASH,
    )
    rows = event.selection.rows
    return calls["call_id"][rows[0]] if rows and rows[0] < calls.height else None


def readable(code: str) -> str:
    """A mart's code as the filters show it: 'self_service' -> 'self-service', 'toll_free' ->
    'toll-free' (the values filtered on stay the codes BI tools see)."""
    return code.replace("_", "-")


def readable_codes(frame: pl.DataFrame, *columns: str) -> pl.DataFrame:
    """The code `columns` of a table as the filters show them (`readable`)."""
    return frame.with_columns(pl.col(c).str.replace_all("_", "-", literal=True) for c in columns)


def journey_label(row: dict) -> str:
    """How a call is named in the journey picker: its local start, direction and route."""
    started = row["started_at"].strftime("%Y-%m-%d %H:%M:%S") if row["started_at"] else "?"
    return f"{started} · {row['direction']} · {row['route'] or row['call_id']}"


def journey_labels(rows) -> dict[str, str]:
    """call_id -> its journey_label, in the rows' order; calls that would read the same (the same
    second, direction and route: a burst of fraud calls) are numbered, so each can be picked."""
    labels: dict[str, str] = {}
    seen: dict[str, int] = {}
    for row in rows:
        label = journey_label(row)
        seen[label] = seen.get(label, 0) + 1
        labels[row["call_id"]] = label if seen[label] == 1 else f"{label} ({seen[label]})"
    return labels


def _journey(copy: q.ServingCopy, calls: pl.DataFrame, timezone: str, selected: str | None) -> None:
    with_route = calls.filter(pl.col("route").is_not_null())
    if with_route.is_empty():
        st.caption("Journeys are recorded for Webex calls; none in the list above.")
        return
    labels = journey_labels(with_route.iter_rows(named=True))
    options = list(labels)
    if selected is not None and selected not in labels:
        st.caption("The selected call has no journey: journeys are recorded for Webex calls.")
    picked = st.selectbox("Call", options=options, format_func=labels.__getitem__,
                          index=options.index(selected) if selected in labels else 0,
                          help="A Webex call of the list above (or select its row there).")
    hops = cached.journey_hops(copy, copy.key, picked, timezone)
    if hops.is_empty():
        st.info("No hops recorded for this call.")
        return
    df = seconds_to_timedelta(
        readable_codes(hops, "hop_type", "outcome").to_pandas(),
        ["ring_seconds", "wait_seconds", "talk_seconds", "hold_seconds", "duration_seconds"],
    )
    clock = "compact"
    st.dataframe(
        df,
        hide_index=True,
        width="stretch",
        column_config={
            "hop_no": st.column_config.NumberColumn("#", format="%d"),
            "hop_type": st.column_config.TextColumn("Hop"),
            "hop": st.column_config.TextColumn("Who / what"),
            "queue": st.column_config.TextColumn("Queue"),
            "agent": st.column_config.TextColumn("Agent"),
            "key_pressed": st.column_config.TextColumn("Key"),
            "started_at": st.column_config.DatetimeColumn("Started", format="HH:mm:ss"),
            "ring_seconds": st.column_config.NumberColumn("Ring", format=clock),
            "wait_seconds": st.column_config.NumberColumn("Wait", format=clock),
            "talk_seconds": st.column_config.NumberColumn("Talk", format=clock),
            "hold_seconds": st.column_config.NumberColumn("Hold", format=clock),
            "duration_seconds": st.column_config.NumberColumn(
                "Share of the call", format=clock,
                help="The hop's share of the journey's time (auto attendant: until the next hop; "
                     "queue: wait; agent: talk; offer: ringing)."),
            "outcome": st.column_config.TextColumn("Outcome"),
        },
        placeholder=DASH,
    )
