"""The sandbox: one Starlette app on one loopback port, each provider under its path prefix,
and `run_sandbox`, which serves it from a background thread for tests and benchmarks."""

from __future__ import annotations

import contextlib
import logging
import socket
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from email.utils import formatdate
from pathlib import Path

import uvicorn
from starlette.applications import Starlette

from simulator.sandbox import (
    elevenlabs,
    twilio,
    webex_cdr,
    webex_directory,
    webex_oauth,
    webex_recordings,
)
from simulator.sandbox.data import SandboxData, load_sandbox_data
from simulator.sandbox.faults import Fault, FaultPlan
from simulator.sandbox.rules import Clock
from simulator.sandbox.state import Credentials, SandboxState

LOOPBACK = "127.0.0.1"


def build_app(state: SandboxState):
    routes = []
    for module in (webex_oauth, webex_cdr, webex_directory, webex_recordings, elevenlabs, twilio):
        routes += module.routes(state)
    app = Starlette(routes=routes)
    app.state.sandbox = state
    return _DateFromClock(app, state.clock)


class _DateFromClock:
    """Every answer's `Date` header tells the sandbox's own clock, as a real API's tells its
    server's: a test that sets the clock off ours (`Clock.offset_seconds`) sees a server whose
    clock is off, in its window rules and in its headers alike. (uvicorn's own Date is off:
    `uvicorn_config`.)"""

    def __init__(self, app: Starlette, clock: Clock):
        self.app, self.clock = app, clock

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_dated(message) -> None:
            if message["type"] == "http.response.start":
                headers = [(k, v) for k, v in message.get("headers", []) if k.lower() != b"date"]
                headers.append((b"date", formatdate(self.clock.now(), usegmt=True).encode()))
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, send_dated)


def uvicorn_config(state: SandboxState, log_level: str = "warning") -> uvicorn.Config:
    return uvicorn.Config(build_app(state), log_level=log_level, access_log=False, lifespan="off",
                          date_header=False)


@dataclass(frozen=True)
class BaseUrls:
    webex_api: str  # people, locations, recordings, access_token
    webex_analytics: str  # cdr_feed / cdr_stream in the org's region
    webex_analytics_other_region: str  # answers 451 naming webex_analytics
    elevenlabs: str
    twilio: str


class Sandbox:
    """A running sandbox: where it is, its credentials, statistics and controls."""

    def __init__(self, state: SandboxState):
        self.state = state

    @property
    def base_url(self) -> str:
        return self.state.base_url

    @property
    def base_urls(self) -> BaseUrls:
        other = next(r for r in webex_cdr.REGIONS if r != self.state.webex_region)
        return BaseUrls(
            webex_api=f"{self.base_url}/webex/v1",
            webex_analytics=webex_cdr.analytics_base_url(self.state, self.state.webex_region),
            webex_analytics_other_region=webex_cdr.analytics_base_url(self.state, other),
            elevenlabs=f"{self.base_url}/elevenlabs",
            twilio=f"{self.base_url}/twilio",
        )

    @property
    def credentials(self) -> Credentials:
        return self.state.credentials

    @property
    def stats(self):
        return self.state.stats

    @property
    def faults(self) -> FaultPlan:
        return self.state.faults

    @property
    def tokens(self) -> webex_oauth.TokenStore:
        return self.state.tokens

    @property
    def clock(self) -> Clock:
        return self.state.clock

    def expire_access_tokens(self) -> None:
        """Every Webex access token issued so far answers 401 from now on."""
        self.state.tokens.expire_access_tokens()

    def reset_rate_limits(self) -> None:
        self.state.cdr_limiter.reset()

    def env(self) -> dict[str, str]:
        """The settings a client needs to use this sandbox instead of the real providers."""
        urls, creds = self.base_urls, self.credentials
        return {
            "WEBEX_API_BASE_URL": urls.webex_api,
            "WEBEX_ANALYTICS_BASE_URL": urls.webex_analytics,
            "WEBEX_CLIENT_ID": creds.webex_client_id,
            "WEBEX_CLIENT_SECRET": creds.webex_client_secret,
            "WEBEX_REFRESH_TOKEN": creds.webex_refresh_token,
            "ELEVENLABS_BASE_URL": urls.elevenlabs,
            "ELEVENLABS_API_KEY": creds.elevenlabs_api_key,
            "TWILIO_BASE_URL": urls.twilio,
            "TWILIO_ACCOUNT_SID": creds.twilio_account_sid,
            "TWILIO_AUTH_TOKEN": creds.twilio_auth_token,
        }


def make_state(data: SandboxData | str | Path, *, time_scale: float = 1.0, limits: bool = True,
               faults: list[Fault] | None = None, credentials: dict | Credentials | None = None,
               webex_region: str = "us", cdr_feed_filter: str = "start") -> SandboxState:
    if cdr_feed_filter not in ("start", "report"):
        raise ValueError(f"cdr_feed_filter must be 'start' or 'report', got {cdr_feed_filter!r}")
    if webex_region not in webex_cdr.REGIONS:
        raise ValueError(f"webex region must be one of {', '.join(webex_cdr.REGIONS)}, got {webex_region!r}")
    if not isinstance(data, SandboxData):
        data = load_sandbox_data(data)
    return SandboxState(data=data, clock=Clock(time_scale), credentials=Credentials.build(credentials, data),
                        limits=limits, webex_region=webex_region, faults=FaultPlan(faults),
                        cdr_feed_filter=cdr_feed_filter)


def bind_loopback(port: int = 0, host: str = LOOPBACK) -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    # Listening now (not when uvicorn starts) lets clients that read the printed settings
    # connect at once: their connections wait in the backlog instead of being refused.
    sock.listen(2048)
    return sock


class _DropTruncationNotice(logging.Filter):
    """A truncated-body fault makes uvicorn log "ASGI callable returned without completing
    response." — that is the fault working, not an error; everything else still logs."""

    def filter(self, record: logging.LogRecord) -> bool:
        return "returned without completing response" not in record.getMessage()


def quiet_expected_truncation_errors() -> None:
    logger = logging.getLogger("uvicorn.error")
    if not any(isinstance(f, _DropTruncationNotice) for f in logger.filters):
        logger.addFilter(_DropTruncationNotice())


class _Server(uvicorn.Server):
    def install_signal_handlers(self) -> None:  # a background thread cannot own signals
        pass


@contextlib.contextmanager
def run_sandbox(data_dir: SandboxData | str | Path, time_scale: float = 60.0, limits: bool = True,
                faults: list[Fault] | None = None, credentials: dict | Credentials | None = None,
                *, port: int = 0, webex_region: str = "us", cdr_feed_filter: str = "start",
                log_level: str = "warning") -> Iterator[Sandbox]:
    """Serve `data_dir` on loopback from a background thread for the duration of the block.
    Data passed already loaded (`SandboxData`) stays open for the caller to reuse."""
    owns_data = not isinstance(data_dir, SandboxData)
    state = make_state(data_dir, time_scale=time_scale, limits=limits, faults=faults, credentials=credentials,
                       webex_region=webex_region, cdr_feed_filter=cdr_feed_filter)
    sock = bind_loopback(port)
    state.base_url = f"http://{LOOPBACK}:{sock.getsockname()[1]}"
    quiet_expected_truncation_errors()
    server = _Server(uvicorn_config(state, log_level))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, name="sandbox", daemon=True)
    thread.start()
    try:
        while not server.started:
            if not thread.is_alive():
                raise RuntimeError("the sandbox server did not start")
            thread.join(0.01)
        yield Sandbox(state)
    finally:
        server.should_exit = True
        thread.join(10)
        sock.close()
        if owns_data:
            state.data.close()
