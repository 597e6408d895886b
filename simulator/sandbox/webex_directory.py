"""Webex people and locations (webex.md §4): base64 ids, filters, `Link` paging.

The simulator writes the items with their base64 ids (`ciscospark://us/PEOPLE/<uuid>`); the
CDRs carry the raw UUIDs, which is what a client decodes them to.
"""

from __future__ import annotations

import base64
from urllib.parse import quote, urlencode

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from simulator.sandbox.state import SandboxState, endpoint
from simulator.sandbox.webex_oauth import (
    LOCATION_SCOPES,
    PEOPLE_SCOPES,
    require_webex_token,
    webex_error,
    webex_json,
)

MAX_IDS = 85


def encode_cursor(offset: int) -> str:
    return base64.urlsafe_b64encode(f"offset:{offset}".encode()).decode().rstrip("=")


def decode_cursor(cursor: str) -> int:
    padded = cursor + "=" * (-len(cursor) % 4)
    text = base64.urlsafe_b64decode(padded.encode()).decode()
    if not text.startswith("offset:"):
        raise ValueError("not a cursor")
    return int(text[len("offset:"):])


def webex_page(state: SandboxState, request: Request, name: str, items: list, page_size: int,
               extra: dict | None = None) -> Response:
    """One page of `items` at the request's `cursor`, with a `Link` to the next page that repeats
    the request's own parameters (clients follow it verbatim)."""
    try:
        offset = decode_cursor(request.query_params["cursor"]) if "cursor" in request.query_params else 0
    except (ValueError, UnicodeDecodeError):
        return webex_error(400, "Invalid cursor")
    page = items[offset: offset + page_size]
    headers = {}
    next_offset = offset if state.faults.take(name, "repeat_page") else offset + page_size
    if next_offset < len(items) and (page or next_offset != offset):
        params = [(k, v) for k, v in request.query_params.multi_items() if k != "cursor"]
        params.append(("cursor", encode_cursor(next_offset)))
        url = f"{state.base_url}{request.url.path}?{urlencode(params, quote_via=quote)}"
        headers["Link"] = f'<{url}>; rel="next"'
    state.stats.count("records_served", name, len(page))
    return webex_json({"items": page, **(extra or {})}, headers=headers)


def parse_max(request: Request, default: int, ceiling: int) -> int:
    """`max` silently capped at the endpoint maximum (webex.md §5); ValueError when not a number."""
    value = int(request.query_params.get("max", default))
    if value < 1:
        raise ValueError("max must be ≥ 1")
    return min(value, ceiling)


def routes(state: SandboxState) -> list[Route]:
    @endpoint(state, "webex.people", webex_error)
    async def people(request: Request) -> Response:
        _, denied = require_webex_token(state, request, PEOPLE_SCOPES)
        if denied:
            return denied
        query = request.query_params
        items = state.data.people
        not_found: list[str] = []
        if query.get("id"):
            wanted = [i for i in query["id"].split(",") if i]
            if len(wanted) > MAX_IDS:
                return webex_error(400, f"At most {MAX_IDS} ids may be requested")
            by_id = {p.get("id"): p for p in items}
            items = [by_id[i] for i in wanted if i in by_id]
            not_found = [i for i in wanted if i not in by_id]
        if query.get("email"):
            email = query["email"].lower()
            items = [p for p in items if email in (e.lower() for e in p.get("emails", []))]
        if query.get("displayName"):
            prefix = query["displayName"].lower()
            items = [p for p in items if str(p.get("displayName", "")).lower().startswith(prefix)]
        if query.get("locationId"):
            items = [p for p in items if p.get("locationId") == query["locationId"]]
        ceiling = 50 if query.get("locationId") else 100 if query.get("callingData") == "true" else 1000
        try:
            page_size = parse_max(request, 100, ceiling)
        except ValueError as exc:
            return webex_error(400, f"Invalid max: {exc}")
        return webex_page(state, request, "webex.people", items, page_size, {"notFoundIds": not_found})

    @endpoint(state, "webex.locations", webex_error)
    async def locations(request: Request) -> Response:
        _, denied = require_webex_token(state, request, LOCATION_SCOPES)
        if denied:
            return denied
        query = request.query_params
        items = state.data.locations
        if query.get("name"):
            needle = query["name"].lower()
            items = [loc for loc in items if needle in str(loc.get("name", "")).lower()]
        if query.get("id"):
            items = [loc for loc in items if loc.get("id") == query["id"]]
        try:
            page_size = parse_max(request, 100, 1000)
        except ValueError as exc:
            return webex_error(400, f"Invalid max: {exc}")
        return webex_page(state, request, "webex.locations", items, page_size)

    return [Route("/webex/v1/people", people, methods=["GET"]),
            Route("/webex/v1/locations", locations, methods=["GET"])]
