"""Webex Calling Detailed Call History: `cdr_feed` and `cdr_stream` (webex.md §1).

Served under `/webex-analytics/<region>/v1/`. The org's data lives in one region; any other
region answers 451 with a message naming the right base URL, as the real global host does.

- cdr_feed filters on the record's `Start time` (the reference is unsure whether the real
  filter column is `Start time` or `Report time`; the Dec-2025 Cisco blog says start time);
  `cdr_feed_filter="report"` makes it filter on `Report time`, to test a client against both;
  cdr_stream filters on `inserted_at`. Windows are start ≤ t < end. Neither serves a record
  before its `inserted_at` (the simulator makes some records hours late).
- Paging: `Link: <…>; rel="next"` carrying the server-added `startTimeForNextFetch`,
  `totalCount`, `max` and `orgId`. A page never splits records of the same millisecond (it
  grows past `max` instead), so a time cursor neither repeats nor loses records.
- Window-age rules are checked on the initial request only; a page request (one with
  `startTimeForNextFetch`) only needs well-formed times, so a slow client finishing its pages
  a few minutes later is not refused.
"""

from __future__ import annotations

import uuid
from urllib.parse import quote, urlencode

import numpy as np
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from simulator.sandbox.rules import (
    CDR_FEED_RULES,
    CDR_STREAM_RULES,
    WindowRules,
    check_window,
    clamp,
    format_webex_time,
    parse_webex_time,
)
from simulator.sandbox.state import SandboxState, endpoint
from simulator.sandbox.webex_oauth import CDR_SCOPES, require_webex_token, webex_error, webex_json

REGIONS = ("us", "eu")
MAX_DEFAULT, MAX_LOW, MAX_HIGH = 5000, 500, 5000
MAX_LOCATIONS = 10
NO_CDRS = "No CDRs for requested time range and filters"


def analytics_base_url(state: SandboxState, region: str) -> str:
    return f"{state.base_url}/webex-analytics/{region}/v1"


def page_bounds(times: np.ndarray, next_ms: int | None, page_size: int) -> tuple[int, int]:
    """[first, stop) positions of one page in time-sorted `times`: from the first time ≥ next_ms,
    `page_size` records, extended so that equal times stay on one page."""
    first = 0 if next_ms is None else int(np.searchsorted(times, next_ms, side="left"))
    stop = min(first + page_size, len(times))
    if 0 < stop < len(times) and times[stop] == times[stop - 1]:
        stop = int(np.searchsorted(times, times[stop - 1], side="right"))
    return first, stop


def link_header(url: str) -> str:
    return f'<{url}>; rel="next"'


def _page_url(base: str, name: str, start: str, end: str, locations: str | None, next_ms: int, total: int,
              page_size: int, org_id: str) -> str:
    params = [("endTime", end), ("startTime", start)]
    if locations:
        params.append(("locations", locations))
    params += [("startTimeForNextFetch", format_webex_time(next_ms)), ("totalCount", str(total)),
               ("max", str(page_size)), ("orgId", org_id)]
    return f"{base}/{name}?{urlencode(params, quote_via=quote, safe=':,')}"


def routes(state: SandboxState) -> list[Route]:
    def make(region: str, name: str, rules: WindowRules, column: str):
        @endpoint(state, f"webex.{name}", webex_error)
        async def handler(request: Request) -> Response:
            token, denied = require_webex_token(state, request, CDR_SCOPES)
            if denied:
                return denied
            if region != state.webex_region:
                right = analytics_base_url(state, state.webex_region)
                return webex_error(451, f"The organization's data is located in a different region. "
                                        f"Please use {right}")
            query = request.query_params
            is_page = "startTimeForNextFetch" in query
            decision = state.cdr_limiter.check(token, "page" if is_page else "initial")
            if not decision.allowed:
                state.stats.count("rate_limited", f"webex.{name}")
                # Retry-After is whole seconds (HTTP); with a large time scale the budget comes
                # back sooner, so the exact value is also given (header and body).
                precise = f"{decision.retry_after_seconds:.3f}"
                return webex_error(429, "Request rate exceeds threshold",
                                   headers={"Retry-After": decision.retry_after_header,
                                            "X-Sandbox-Retry-After": precise},
                                   retryAfterSeconds=float(precise))
            start_text, end_text = query.get("startTime"), query.get("endTime")
            for label, value in (("startTime", start_text), ("endTime", end_text)):
                if not value:
                    return webex_error(400, f"{label} is required")
            try:
                start_ms, end_ms = parse_webex_time(start_text), parse_webex_time(end_text)
                next_ms = parse_webex_time(query["startTimeForNextFetch"]) if is_page else None
            except ValueError as exc:
                return webex_error(400, f"Invalid time: {exc}")
            problem = (("endTime must be after startTime" if end_ms <= start_ms else None) if is_page
                       else check_window(rules, start_ms, end_ms, round(state.clock.now() * 1000)))
            if problem:
                return webex_error(400, problem)
            try:
                page_size = clamp(int(query.get("max", MAX_DEFAULT)), MAX_LOW, MAX_HIGH)
            except ValueError:
                return webex_error(400, f"max must be an integer, got {query.get('max')!r}")
            locations_text = query.get("locations")
            locations = [n.strip() for n in locations_text.split(",") if n.strip()] if locations_text else None
            if locations and len(locations) > MAX_LOCATIONS:
                return webex_error(400, f"At most {MAX_LOCATIONS} locations may be requested")

            # a record exists from its inserted_at on: cdr_feed, which filters on another time,
            # must not serve a late record before then (cdr_stream's filter is inserted_at itself)
            rows, times = state.data.cdr.select(state.cdr_feed_filter if column == "start" else column,
                                                start_ms, end_ms, locations,
                                                inserted_by_ms=round(state.clock.now() * 1000))
            first, stop = page_bounds(times, next_ms, page_size)
            if first >= stop:
                return webex_error(404, NO_CDRS)
            base = analytics_base_url(state, region)
            headers = {}
            if state.faults.take(f"webex.{name}", "repeat_page"):
                # The "next" link leads back to this very page: the client must notice or dedupe.
                headers["Link"] = link_header(_page_url(base, name, start_text, end_text, locations_text,
                                                        next_ms if is_page else start_ms, len(times),
                                                        page_size, state.org_id))
            elif stop < len(times):
                headers["Link"] = link_header(_page_url(base, name, start_text, end_text, locations_text,
                                                        int(times[stop]), len(times), page_size, state.org_id))
            state.stats.count("records_served", f"webex.{name}", stop - first)
            return Response(state.data.cdr.body(rows[first:stop]), media_type="application/json",
                            headers={"trackingid": f"ROUTER_{uuid.uuid4()}", **headers})

        handler.__name__ = f"{name}_{region}"
        return handler

    result = []
    for region in REGIONS:
        result.append(Route(f"/webex-analytics/{region}/v1/cdr_feed", make(region, "cdr_feed", CDR_FEED_RULES,
                                                                          "start"), methods=["GET"]))
        result.append(Route(f"/webex-analytics/{region}/v1/cdr_stream",
                            make(region, "cdr_stream", CDR_STREAM_RULES, "inserted"), methods=["GET"]))
    return result


__all__ = ["routes", "page_bounds", "analytics_base_url", "webex_json"]
