"""Streamlit-cached wrappers around `queries`.

Every wrapper takes the page's pinned serving copy (`queries.pinned`, not hashed: Streamlit
leaves out arguments named with a leading underscore) and its key, its path *and version*
(inode, mtime, size), so a newly published copy gets new cache entries while the old ones age
out. Only results are cached — never a connection: the copy's is closed after the render.

The other arguments are plain hashable values (dates, tuples) so Streamlit can hash them cheaply.
"""

from __future__ import annotations

from datetime import date

import polars as pl
import streamlit as st

from streamlit_app import call_queries as cq
from streamlit_app import queries as q

CopyKey = tuple[str, q.Version]  # queries.ServingCopy.key
QueueKey = tuple[tuple[str, str], ...] | None  # (platform, queue) pairs; None = all queues

_CACHE = {"show_spinner": False, "max_entries": 64}


def _filters(start: date, end: date, queues: QueueKey) -> q.Filters:
    refs = None if queues is None else tuple(q.QueueRef(p, name) for p, name in queues)
    return q.Filters(start=start, end=end, queues=refs)


@st.cache_data(**_CACHE)
def overview(_copy: q.ServingCopy, key: CopyKey, timezone: str) -> q.Overview | None:
    return q.load_overview(_copy, timezone)


@st.cache_data(**_CACHE)
def queue_kpis(
    _copy: q.ServingCopy, key: CopyKey, start: date, end: date, queues: QueueKey, sl_seconds: int
) -> q.QueueKpis:
    return q.queue_kpis(_copy, _filters(start, end, queues), sl_seconds)


@st.cache_data(**_CACHE)
def interval_counts(
    _copy: q.ServingCopy, key: CopyKey, start: date, end: date, queues: QueueKey
) -> pl.DataFrame:
    return q.interval_counts(_copy, _filters(start, end, queues))


@st.cache_data(**_CACHE)
def agent_table(
    _copy: q.ServingCopy, key: CopyKey, start: date, end: date, queues: QueueKey
) -> pl.DataFrame:
    return q.agent_table(_copy, _filters(start, end, queues))


@st.cache_data(**_CACHE)
def pause_breakdown(
    _copy: q.ServingCopy, key: CopyKey, start: date, end: date, queues: QueueKey
) -> pl.DataFrame:
    return q.pause_breakdown(_copy, _filters(start, end, queues))


@st.cache_data(**_CACHE)
def pauses_by_agent(
    _copy: q.ServingCopy, key: CopyKey, start: date, end: date, queues: QueueKey
) -> pl.DataFrame:
    return q.pauses_by_agent(_copy, _filters(start, end, queues))


# --------------------------------------------------------------------------- calls page
# (call_queries: the filters are a frozen dataclass of tuples, hashed by value)


@st.cache_data(**_CACHE)
def call_overview(_copy: q.ServingCopy, key: CopyKey, timezone: str) -> cq.CallOverview | None:
    return cq.load_call_overview(_copy, timezone)


@st.cache_data(**_CACHE)
def call_summary(_copy: q.ServingCopy, key: CopyKey, filters: cq.CallFilters) -> cq.CallSummary:
    return cq.call_summary(_copy, filters)


@st.cache_data(**_CACHE)
def calls_per_day(_copy: q.ServingCopy, key: CopyKey, filters: cq.CallFilters) -> pl.DataFrame:
    return cq.calls_per_day(_copy, filters)


@st.cache_data(**_CACHE)
def call_types(_copy: q.ServingCopy, key: CopyKey, filters: cq.CallFilters) -> pl.DataFrame:
    return cq.call_types(_copy, filters)


@st.cache_data(**_CACHE)
def call_list(_copy: q.ServingCopy, key: CopyKey, filters: cq.CallFilters, timezone: str,
              show_numbers: bool) -> tuple[pl.DataFrame, int]:
    return cq.call_list(_copy, filters, timezone, show_numbers=show_numbers)


@st.cache_data(**_CACHE)
def journey_hops(_copy: q.ServingCopy, key: CopyKey, call_id: str, timezone: str) -> pl.DataFrame:
    return cq.journey_hops(_copy, call_id, timezone)
