"""What every sandbox provider shares: configuration, credentials, limits, faults, statistics,
and the endpoint wrapper that applies faults and counts requests."""

from __future__ import annotations

import asyncio
import secrets
import threading
import uuid
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field, fields

import orjson
from starlette.requests import Request
from starlette.responses import Response

from simulator.sandbox.data import SandboxData
from simulator.sandbox.faults import FaultPlan
from simulator.sandbox.rules import Clock, SlidingWindowLimiter


@dataclass
class Credentials:
    """Secrets the sandbox accepts. Unset ones are generated at start (random per run)."""

    webex_client_id: str = ""
    webex_client_secret: str = ""
    webex_refresh_token: str = ""  # the first refresh token; it rotates on use
    webex_user_id: str = ""  # whose recordings the user-scope list shows (default: first owner in the data)
    webex_scopes: str = ""  # space-separated scopes the OAuth client was granted (default: all it needs)
    elevenlabs_api_key: str = ""
    twilio_account_sid: str = ""  # default: the account_sid of the simulated messages
    twilio_auth_token: str = ""

    @classmethod
    def build(cls, overrides: dict | Credentials | None, data: SandboxData) -> Credentials:
        if isinstance(overrides, Credentials):
            overrides = {f.name: getattr(overrides, f.name) for f in fields(overrides)}
        unknown = set(overrides or {}) - {f.name for f in fields(cls)}
        if unknown:
            raise ValueError(f"unknown sandbox credential(s): {', '.join(sorted(unknown))}")
        creds = cls(**(overrides or {}))
        creds.webex_client_id = creds.webex_client_id or "C" + secrets.token_hex(32)
        creds.webex_client_secret = creds.webex_client_secret or secrets.token_hex(32)
        creds.webex_refresh_token = creds.webex_refresh_token or _webex_token()
        if not creds.webex_user_id:
            creds.webex_user_id = next((r.get("ownerId", "") for r in data.recordings if r.get("ownerId")), "")
        creds.elevenlabs_api_key = creds.elevenlabs_api_key or "sk_" + secrets.token_hex(24)
        if not creds.twilio_account_sid:
            creds.twilio_account_sid = next((m["account_sid"] for m in data.messages if m.get("account_sid")),
                                            "AC" + secrets.token_hex(16))
        creds.twilio_auth_token = creds.twilio_auth_token or secrets.token_hex(16)
        return creds


def _webex_token() -> str:
    # Webex tokens are long opaque strings with an org suffix; the shape does not matter to clients.
    return secrets.token_urlsafe(48) + "_PF84_" + str(uuid.uuid4())


class Stats:
    """Requests served per endpoint, responses per status, 429s, records served."""

    def __init__(self):
        self._lock = threading.Lock()
        self.requests: Counter = Counter()
        self.responses: Counter = Counter()  # (endpoint, status) → n
        self.rate_limited: Counter = Counter()
        self.records_served: Counter = Counter()

    def count(self, counter_name: str, key, n: int = 1) -> None:
        with self._lock:
            getattr(self, counter_name)[key] += n

    def snapshot(self) -> dict:
        with self._lock:
            return {
                "requests": dict(self.requests),
                "responses": {f"{endpoint} {status}": n for (endpoint, status), n in self.responses.items()},
                "rate_limited": dict(self.rate_limited),
                "records_served": dict(self.records_served),
            }

    def status_count(self, endpoint: str, status: int) -> int:
        with self._lock:
            return self.responses[(endpoint, status)]


@dataclass
class SandboxState:
    data: SandboxData
    clock: Clock
    credentials: Credentials
    limits: bool = True
    webex_region: str = "us"  # the region the org's CDRs live in; the others answer 451
    cdr_feed_filter: str = "start"  # the CDR time cdr_feed windows select on: "start" or "report"
    base_url: str = ""  # http://127.0.0.1:PORT, set once the socket is bound
    faults: FaultPlan = field(default_factory=FaultPlan)
    stats: Stats = field(default_factory=Stats)
    signing_key: bytes = field(default_factory=lambda: secrets.token_bytes(32))
    cdr_limiter: SlidingWindowLimiter = field(init=False)
    tokens: object = field(init=False)  # webex_oauth.TokenStore

    def __post_init__(self):
        from simulator.sandbox.webex_oauth import TokenStore

        # webex.md §1.5: 1 initial + 10 page requests per minute per token, both endpoints.
        self.cdr_limiter = SlidingWindowLimiter(budget={"initial": 1, "page": 10},
                                                window_seconds=self.clock.real_seconds(60), enabled=self.limits)
        self.tokens = TokenStore(self.clock, self.credentials)

    @property
    def org_id(self) -> str:
        """The org's raw UUID for the CDR `orgId` link parameter: the manifest's, else the CDRs'
        `Org UUID`, else the people/locations `orgId`."""
        if not hasattr(self, "_org_id"):
            self._org_id = str(self.data.manifest.get("webex_org_id") or self._org_from_data())
        return self._org_id

    def _org_from_data(self) -> str:
        cdr = self.data.cdr
        if len(cdr):
            first = orjson.loads(cdr.body(cdr.by_inserted[:1]))["items"][0]
            if first.get("Org UUID"):
                return first["Org UUID"]
        for item in self.data.people + self.data.locations:
            if item.get("orgId"):
                return item["orgId"]
        return "00000000-0000-0000-0000-000000000000"


Handler = Callable[[Request], Awaitable[Response]]
ErrorBody = Callable[[int, str], Response]


def json_response(payload, status: int = 200, headers: dict | None = None) -> Response:
    return Response(orjson.dumps(payload), status_code=status, headers=headers, media_type="application/json")


class TruncatedResponse(Response):
    """A body cut mid-way. `framing="close"` announces the full Content-Length and closes the
    connection after part of it (what a broken proxy does: the client sees a short read);
    `framing="complete"` sends the short body with a matching Content-Length."""

    def __init__(self, original: Response, keep_fraction: float, framing: str):
        self.full_body = bytes(original.body)
        self.kept = self.full_body[: int(len(self.full_body) * keep_fraction)]
        self.framing = framing
        super().__init__(self.kept, status_code=original.status_code, media_type=original.media_type)
        for name, value in original.headers.items():
            if name.lower() not in ("content-length", "content-type"):
                self.headers[name] = value
        if framing == "close":
            self.headers["content-length"] = str(len(self.full_body))

    async def __call__(self, scope, receive, send) -> None:
        if self.framing == "complete":
            await super().__call__(scope, receive, send)
            return
        await send({"type": "http.response.start", "status": self.status_code, "headers": self.raw_headers})
        await send({"type": "http.response.body", "body": self.kept, "more_body": True})
        # Returning without the final body message makes uvicorn close the connection: the
        # client has Content-Length bytes promised and fewer delivered.


def endpoint(state: SandboxState, name: str, error_body: ErrorBody) -> Callable[[Handler], Handler]:
    """Wrap a handler with the armed faults (5xx, delay, error body with 200, truncation) and request
    statistics."""

    def wrap(handler: Handler) -> Handler:
        async def wrapped(request: Request) -> Response:
            state.stats.count("requests", name)
            fault = state.faults.take(name, "server_error")
            if fault:
                response = error_body(fault.status, "Service temporarily unavailable (sandbox fault)")
                if fault.retry_after is not None:
                    response.headers["Retry-After"] = fault.retry_after
            else:
                slow = state.faults.take(name, "slow")
                if slow:
                    await asyncio.sleep(slow.delay_seconds)
                response = await handler(request)
                degraded = state.faults.take(name, "error_with_200")
                if degraded:
                    response = error_body(200, "Service temporarily degraded (sandbox fault)")
                cut = state.faults.take(name, "truncate")
                if cut and hasattr(response, "body"):
                    response = TruncatedResponse(response, cut.keep_fraction, cut.framing)
            state.stats.count("responses", (name, response.status_code))
            return response

        wrapped.__name__ = handler.__name__
        return wrapped

    return wrap
