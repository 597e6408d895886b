"""Twilio Programmable Messaging (channels.md §2): HTTP Basic `AccountSid:AuthToken`,
`Messages.json` with `next_page_uri` paging and `DateSent` filters, single message fetch.
Served under `/twilio` (so `TWILIO_BASE_URL` replaces `https://api.twilio.com`).

- Order: newest `date_sent` first (then sid); messages never sent (no `date_sent`) use
  `date_created` for order and filters.
- `DateSent=D`, `DateSent>=D`, `DateSent<=D` (query keys `DateSent`, `DateSent>`, `DateSent<`):
  a date-only value (GMT `YYYY-MM-DD`) compares by day, both bounds inclusive; a date-time
  (`YYYY-MM-DDTHH:MM:SSZ`, what the Python SDK sends) compares by instant, inclusive.
- `PageSize` 1–1000 (larger is capped at 1000), default 50. `next_page_uri` carries
  `PageToken=PA<last sid of this page>`, `previous_page_uri` `PageToken=PB<first sid>`; all
  URIs are relative to the base URL, as Twilio's are.
"""

from __future__ import annotations

import base64
import hmac
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime
from urllib.parse import quote, urlencode

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from simulator.sandbox.state import SandboxState, endpoint, json_response

API = "/2010-04-01"
PAGE_SIZE_DEFAULT, PAGE_SIZE_MAX = 50, 1000
FILTER_KEYS = ("To", "From", "DateSent", "DateSent<", "DateSent>")


def twilio_error(status: int, message: str, code: int | None = None) -> Response:
    code = code or {401: 20003, 404: 20404}.get(status, 20500 if status >= 500 else 20001)
    body = {"code": code, "message": message, "more_info": f"https://www.twilio.com/docs/errors/{code}",
            "status": status}
    headers = {"WWW-Authenticate": 'Basic realm="Twilio API"'} if status == 401 else None
    return json_response(body, status, headers=headers)


def message_time(message: dict) -> datetime:
    text = message.get("date_sent") or message.get("date_created")
    return parsedate_to_datetime(text).astimezone(UTC) if text else datetime.min.replace(tzinfo=UTC)


def parse_date_bound(text: str) -> tuple[datetime, bool]:
    """(moment, is_date_only) of a DateSent filter value; ValueError when neither form."""
    text = text.strip()
    if len(text) == 10:
        return datetime.strptime(text, "%Y-%m-%d").replace(tzinfo=UTC), True
    return datetime.fromisoformat(text.replace("Z", "+00:00")).astimezone(UTC), False


def date_filter(query) -> callable:
    """A predicate on a message's send time for the request's DateSent filters."""
    checks = []
    if query.get("DateSent"):
        day, date_only = parse_date_bound(query["DateSent"])
        checks.append((lambda t, d=day: d <= t < d + timedelta(days=1)) if date_only
                      else (lambda t, d=day: t == d))
    if query.get("DateSent>"):
        low, _ = parse_date_bound(query["DateSent>"])
        checks.append(lambda t, d=low: t >= d)
    if query.get("DateSent<"):
        high, date_only = parse_date_bound(query["DateSent<"])
        checks.append((lambda t, d=high: t < d + timedelta(days=1)) if date_only else (lambda t, d=high: t <= d))
    return lambda moment: all(check(moment) for check in checks)


def routes(state: SandboxState) -> list[Route]:
    ordered = sorted(state.data.messages, key=lambda m: (message_time(m), m.get("sid", "")), reverse=True)
    times = [message_time(m) for m in ordered]
    by_sid = {m["sid"]: m for m in ordered}

    def authenticate(request: Request) -> Response | None:
        header = request.headers.get("authorization", "")
        if not header.lower().startswith("basic "):
            return twilio_error(401, "Authentication Error - No credentials provided")
        try:
            user, _, password = base64.b64decode(header[6:].strip()).decode().partition(":")
        except (ValueError, UnicodeDecodeError):
            return twilio_error(401, "Authentication Error - invalid username")
        sid_ok = hmac.compare_digest(user, state.credentials.twilio_account_sid)
        token_ok = hmac.compare_digest(password, state.credentials.twilio_auth_token)
        if not (sid_ok and token_ok):
            return twilio_error(401, "Authenticate")
        if request.path_params["account_sid"] != state.credentials.twilio_account_sid:
            return twilio_error(404, f"The requested resource {request.url.path} was not found")
        return None

    @endpoint(state, "twilio.messages", twilio_error)
    async def list_messages(request: Request) -> Response:
        denied = authenticate(request)
        if denied:
            return denied
        query = request.query_params
        try:
            page_size = min(int(query.get("PageSize", PAGE_SIZE_DEFAULT)), PAGE_SIZE_MAX)
            page_number = int(query.get("Page", 0))
            keep_time = date_filter(query)
        except ValueError as exc:
            return twilio_error(400, f"Invalid paging or DateSent parameter: {exc}", 20001)
        if page_size < 1 or page_number < 0:
            return twilio_error(400, "PageSize must be ≥ 1 and Page ≥ 0", 20001)
        selected = [m for m, t in zip(ordered, times, strict=True)
                    if keep_time(t)
                    and (not query.get("To") or m.get("to") == query["To"])
                    and (not query.get("From") or m.get("from") == query["From"])]
        token = query.get("PageToken", "")
        positions = {m["sid"]: i for i, m in enumerate(selected)}
        if token.startswith("PA") and token[2:] in positions:
            first = positions[token[2:]] + 1
        elif token.startswith("PB") and token[2:] in positions:
            first = max(0, positions[token[2:]] - page_size)
        elif token:
            return twilio_error(400, f"Invalid PageToken {token!r}", 20001)
        else:
            first = 0
        page = selected[first: first + page_size]

        path = f"{API}/Accounts/{state.credentials.twilio_account_sid}/Messages.json"
        filters = [(k, query[k]) for k in FILTER_KEYS if query.get(k)]

        def uri(page_no: int, page_token: str | None) -> str:
            params = filters + [("PageSize", page_size), ("Page", page_no)]
            if page_token:
                params.append(("PageToken", page_token))
            return f"{path}?{urlencode(params, quote_via=quote)}"

        next_uri = None
        if page and first + page_size < len(selected):
            next_uri = uri(page_number + 1, f"PA{page[-1]['sid']}")
        if page and state.faults.take("twilio.messages", "repeat_page"):
            next_uri = uri(page_number + 1, token or None)  # leads back to this same page
        previous_uri = uri(page_number - 1, f"PB{page[0]['sid']}") if page and first > 0 else None
        state.stats.count("records_served", "twilio.messages", len(page))
        start = page_number * page_size
        return json_response({
            "messages": page,
            "page": page_number,
            "page_size": page_size,
            "start": start,
            "end": start + max(len(page) - 1, 0),
            "uri": uri(page_number, token or None),
            "first_page_uri": uri(0, None),
            "next_page_uri": next_uri,
            "previous_page_uri": previous_uri,
        })

    @endpoint(state, "twilio.message", twilio_error)
    async def fetch_message(request: Request) -> Response:
        denied = authenticate(request)
        if denied:
            return denied
        message = by_sid.get(request.path_params["message_sid"])
        if message is None:
            return twilio_error(404, f"The requested resource {request.url.path} was not found")
        return json_response(message)

    return [
        Route(f"/twilio{API}/Accounts/{{account_sid}}/Messages.json", list_messages, methods=["GET"]),
        Route(f"/twilio{API}/Accounts/{{account_sid}}/Messages/{{message_sid}}.json", fetch_message,
              methods=["GET"]),
    ]


__all__ = ["routes", "date_filter", "message_time", "parse_date_bound"]
