"""Layout helpers every page of the app shares."""

from __future__ import annotations

from datetime import date

import pandas as pd
import streamlit as st


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
        df[col] = pd.to_timedelta(df[col].astype("float64").round(0), unit="s")
    return df
