"""Layout helpers every page of the app shares."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, timedelta

import duckdb
import numpy as np
import pandas as pd
import streamlit as st

from streamlit_app import queries as q
from switchboard.settings import Settings, SettingsError, load_settings


def page(title: str, body: Callable[[Settings, q.ServingCopy], None], *, tables: str,
         no_data_message: str | None = None) -> None:
    """A page of the app: its title, then `body(settings, serving copy)` on the copy as it is
    when the page begins (`queries.pinned`: every figure of the page from one publication),
    with what can go wrong around it shown as a message instead of a traceback (settings, a
    missing, busy or unreadable serving copy, a copy whose marts lack the `tables` the page
    reads)."""
    st.title(title)
    try:
        settings = load_settings()
    except SettingsError as exc:
        st.error(str(exc))
        return
    path = str(settings.serving_path)
    try:
        with q.pinned(path, settings.timezone) as copy:
            body(settings, copy)
    except q.NoServingData as exc:
        no_data(no_data_message or str(exc), path)
    except q.ServingBusy as exc:
        st.warning(str(exc), icon=":material/lock_clock:")
    except q.ServingError as exc:
        st.error(str(exc))
    except duckdb.Error as exc:
        st.error(
            "The serving copy does not match the `marts` contract this page expects "
            f"(tables/columns of {tables}).\n\n`{exc}`"
        )


def other_zone_warning(rows: int, what: str, timezone: str) -> None:
    """Said when the copy's days are not the app's zone's: it was built with another
    SWITCHBOARD_TIMEZONE, and its days, intervals and times were labelled as this one's
    (independent app audit)."""
    if rows:
        st.warning(f"{rows:,} {what} of this copy fall on another day in {timezone} than the copy counts them "
                   "on: the pipeline built it with another `SWITCHBOARD_TIMEZONE`. Run the app with the "
                   "pipeline's value; until then days and times here are the pipeline's zone's, labelled "
                   f"{timezone}.", icon=":material/schedule:")


def no_data(message: str, path: str) -> None:
    st.info(message, icon=":material/hourglass_empty:")
    st.caption(f"Looked for the serving copy at `{path}` (SWITCHBOARD_SERVING_PATH).")


def date_range(picked, default_start: date, default_end: date) -> tuple[date, date]:
    """date_input returns a 1-tuple while the user is between the two clicks of a range."""
    if isinstance(picked, date):
        return picked, picked
    values = [d for d in (picked or ()) if d is not None]
    if not values:
        return default_start, default_end
    return min(values), max(values)


def seconds_to_timedelta(df: pd.DataFrame, cols: list[str]) -> pd.DataFrame:
    """Seconds columns as timedeltas, which st.dataframe shows as elapsed-time clocks."""
    for col in cols:
        values = df[col].astype("float64")  # to the second, halves away from zero (fmt_duration)
        df[col] = pd.to_timedelta(np.sign(values) * np.floor(values.abs() + 0.5), unit="s")
    return df


def sidebar_days(min_date: date, max_date: date, what: str, default_days: int = 7) -> tuple[date, date]:
    """The sidebar's filter header and its range of days (default: the last `default_days` days
    with data); `what` says which day a row counts on."""
    sb = st.sidebar
    sb.header("Filters")
    default_start = max(min_date, max_date - timedelta(days=default_days - 1))
    picked = sb.date_input(
        "Days",
        value=(default_start, max_date),
        min_value=min_date,
        max_value=max_date,
        help=f"{what} Default: the last {default_days} days with data.",
        key="days",
        bind="query-params",
    )
    return date_range(picked, default_start, max_date)


def tile_row():
    """A row of KPI tiles that wraps onto more lines where the page is too narrow for them (a
    laptop with the sidebar open cut columns of tiles down to "14…")."""
    return st.container(horizontal=True)


def sign_in_box(why: str) -> None:
    """Sign in and out in the sidebar, where the deployment configured Streamlit's OIDC login
    (an `[auth]` section in its secrets); nothing where it did not."""
    user = st.user
    signed_in = user.get("is_logged_in")
    if signed_in is None:  # no login configured
        return
    sb = st.sidebar
    if signed_in:
        sb.caption(f"Signed in as {user.get('email') or user.get('name') or 'you'}")
        sb.button("Sign out", on_click=st.logout)
    else:
        sb.button("Sign in", on_click=st.login, help=why)
