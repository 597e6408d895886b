"""Streamlit-cached wrappers around `queries`.

Every wrapper takes the serving copy's path *and its current version* (inode, mtime, size
from `queries.serving_version`), so a newly published copy gets new cache entries while the
old ones age out. Only results are cached — never a connection: each call opens and closes
its own read-only connection inside `queries`.

Arguments are plain hashable values (dates, tuples) so Streamlit can hash them cheaply.
"""

from __future__ import annotations

from datetime import date

import polars as pl
import streamlit as st

from streamlit_app import call_queries as cq
from streamlit_app import queries as q

Version = tuple[int, int, int]
QueueKey = tuple[tuple[str, str], ...] | None  # (platform, queue) pairs; None = all queues

_CACHE = {"show_spinner": False, "max_entries": 64}


def _filters(start: date, end: date, queues: QueueKey) -> q.Filters:
    refs = None if queues is None else tuple(q.QueueRef(p, name) for p, name in queues)
    return q.Filters(start=start, end=end, queues=refs)


@st.cache_data(**_CACHE)
def overview(path: str, version: Version, timezone: str) -> q.Overview | None:
    return q.load_overview(path, timezone)


@st.cache_data(**_CACHE)
def queue_kpis(
    path: str, version: Version, start: date, end: date, queues: QueueKey, sl_seconds: int
) -> q.QueueKpis:
    return q.queue_kpis(path, _filters(start, end, queues), sl_seconds)


@st.cache_data(**_CACHE)
def interval_counts(
    path: str, version: Version, start: date, end: date, queues: QueueKey
) -> pl.DataFrame:
    return q.interval_counts(path, _filters(start, end, queues))


@st.cache_data(**_CACHE)
def agent_table(
    path: str, version: Version, start: date, end: date, queues: QueueKey
) -> pl.DataFrame:
    return q.agent_table(path, _filters(start, end, queues))


@st.cache_data(**_CACHE)
def pause_breakdown(
    path: str, version: Version, start: date, end: date, queues: QueueKey
) -> pl.DataFrame:
    return q.pause_breakdown(path, _filters(start, end, queues))


@st.cache_data(**_CACHE)
def pauses_by_agent(
    path: str, version: Version, start: date, end: date, queues: QueueKey
) -> pl.DataFrame:
    return q.pauses_by_agent(path, _filters(start, end, queues))


# --------------------------------------------------------------------------- calls page
# (call_queries: the filters are a frozen dataclass of tuples, hashed by value)


@st.cache_data(**_CACHE)
def call_overview(path: str, version: Version, timezone: str) -> cq.CallOverview | None:
    return cq.load_call_overview(path, timezone)


@st.cache_data(**_CACHE)
def call_summary(path: str, version: Version, filters: cq.CallFilters) -> cq.CallSummary:
    return cq.call_summary(path, filters)


@st.cache_data(**_CACHE)
def calls_per_day(path: str, version: Version, filters: cq.CallFilters) -> pl.DataFrame:
    return cq.calls_per_day(path, filters)


@st.cache_data(**_CACHE)
def call_types(path: str, version: Version, filters: cq.CallFilters) -> pl.DataFrame:
    return cq.call_types(path, filters)


@st.cache_data(**_CACHE)
def call_list(path: str, version: Version, filters: cq.CallFilters, timezone: str,
              show_numbers: bool) -> tuple[pl.DataFrame, int]:
    return cq.call_list(path, filters, timezone, show_numbers=show_numbers)


@st.cache_data(**_CACHE)
def journey_hops(path: str, version: Version, call_id: str, timezone: str) -> pl.DataFrame:
    return cq.journey_hops(path, call_id, timezone)
