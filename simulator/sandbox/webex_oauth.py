"""Webex OAuth: `POST /v1/access_token` with refresh-token rotation and expiry (webex.md §3),
bearer checks for every Webex API, and the Webex error body shared by the Webex modules."""

from __future__ import annotations

import base64
import threading
import uuid
from dataclasses import dataclass

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from simulator.sandbox.rules import Clock
from simulator.sandbox.state import Credentials, SandboxState, _webex_token, endpoint, json_response

ACCESS_TOKEN_SECONDS = 1_209_599  # ≈ 14 days, the usual Webex `expires_in`
REFRESH_TOKEN_SECONDS = 7_775_999  # ≈ 90 days
# What the sandbox's OAuth client was granted unless `Credentials.webex_scopes` says otherwise:
# everything the pipeline reads, with the compliance-officer scope that recording downloads need.
DEFAULT_SCOPES = ("spark:kms spark-admin:calling_cdr_read spark-admin:people_read spark-admin:locations_read "
                  "spark:recordings_read spark-admin:recordings_read spark-compliance:recordings_read")
CDR_SCOPES = ("spark-admin:calling_cdr_read",)
PEOPLE_SCOPES = ("spark-admin:people_read", "spark:people_read")
LOCATION_SCOPES = ("spark-admin:locations_read", "spark-admin:people_read", "spark-admin:device_read")
ADMIN_RECORDING_SCOPES = ("spark-admin:recordings_read", "spark-compliance:recordings_read")
USER_RECORDING_SCOPES = ("spark:recordings_read",)
ANY_RECORDING_SCOPES = ADMIN_RECORDING_SCOPES + USER_RECORDING_SCOPES


def webex_error(status: int, message: str, headers: dict | None = None, **extra) -> Response:
    """The standard Webex error shape plus a `trackingid` header (webex.md §5)."""
    tracking_id = f"ROUTER_{uuid.uuid4()}"
    body = {"message": message, "errors": [{"description": message}], "trackingId": tracking_id, **extra}
    return json_response(body, status, headers={"trackingid": tracking_id, **(headers or {})})


def webex_json(payload, headers: dict | None = None) -> Response:
    return json_response(payload, 200, headers={"trackingid": f"ROUTER_{uuid.uuid4()}", **(headers or {})})


@dataclass
class _Token:
    value: str
    expires_at: float  # monotonic seconds


class TokenStore:
    """One OAuth client with one live refresh token at a time.

    Rotation: every refresh returns a new refresh token and kills the one used, with no grace
    period (the reference documents none) — a client that does not persist the latest token
    is locked out, as it would be by `invalid_grant`. Access tokens issued earlier stay valid
    until they expire. Lifetimes are scaled by the clock."""

    def __init__(self, clock: Clock, credentials: Credentials,
                 access_seconds: float = ACCESS_TOKEN_SECONDS, refresh_seconds: float = REFRESH_TOKEN_SECONDS):
        self.clock = clock
        self.credentials = credentials
        self.access_seconds = access_seconds
        self.refresh_seconds = refresh_seconds
        self._lock = threading.Lock()
        self._refresh = _Token(credentials.webex_refresh_token,
                               clock.monotonic() + clock.real_seconds(refresh_seconds))
        self._access: dict[str, float] = {}
        self._scopes: dict[str, frozenset[str]] = {}
        self.granted_scopes = frozenset((credentials.webex_scopes or DEFAULT_SCOPES).split())
        self.refreshes = 0

    @property
    def current_refresh_token(self) -> str:
        return self._refresh.value

    def refresh(self, client_id: str, client_secret: str, refresh_token: str) -> tuple[int, dict]:
        """(status, body) of a refresh-grant request."""
        if client_id != self.credentials.webex_client_id or client_secret != self.credentials.webex_client_secret:
            return 400, _oauth_error("invalid_client", "The client credentials are invalid")
        with self._lock:
            now = self.clock.monotonic()
            if refresh_token != self._refresh.value:
                return 400, _oauth_error("invalid_grant", "The refresh token provided is invalid or was already used")
            if now >= self._refresh.expires_at:
                return 400, _oauth_error("invalid_grant", "The refresh token provided is expired")
            access = _webex_token()
            access_real = self.clock.real_seconds(self.access_seconds)
            refresh_real = self.clock.real_seconds(self.refresh_seconds)
            self._access[access] = now + access_real
            self._scopes[access] = self.granted_scopes
            self._refresh = _Token(_webex_token(), now + refresh_real)
            self.refreshes += 1
            return 200, {
                # Lifetimes in real seconds of this sandbox (scaled), so a client that plans its
                # refresh from `expires_in` meets the expiry it was told about.
                "access_token": access,
                "expires_in": max(1, int(access_real)),
                "refresh_token": self._refresh.value,
                "refresh_token_expires_in": max(1, int(refresh_real)),
                "token_type": "Bearer",
                "scope": " ".join(sorted(self.granted_scopes)),
            }

    def issue_access_token(self, scopes: str | None = None) -> str:
        """A valid access token without the refresh dance (for tests of other rules); `scopes`
        (space-separated) narrows it, e.g. to an admin without the compliance scope."""
        token = _webex_token()
        with self._lock:
            self._access[token] = self.clock.monotonic() + self.clock.real_seconds(self.access_seconds)
            self._scopes[token] = frozenset(scopes.split()) if scopes is not None else self.granted_scopes
        return token

    def has_scope(self, access_token: str, any_of: tuple[str, ...]) -> bool:
        return bool(self._scopes.get(access_token, frozenset()) & set(any_of))

    def is_valid(self, access_token: str) -> bool:
        expires_at = self._access.get(access_token)
        return expires_at is not None and self.clock.monotonic() < expires_at

    def expire_access_tokens(self) -> None:
        """Test control: every access token issued so far is expired from now on."""
        with self._lock:
            now = self.clock.monotonic()
            self._access = {token: min(expires, now) for token, expires in self._access.items()}

    def expire_refresh_token(self) -> None:
        with self._lock:
            self._refresh = _Token(self._refresh.value, self.clock.monotonic())


def _oauth_error(error: str, description: str) -> dict:
    return {"error": error, "error_description": description, "message": description,
            "errors": [{"description": description}], "trackingId": f"ROUTER_{uuid.uuid4()}"}


def bearer_token(request: Request) -> str | None:
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    return token.strip() if scheme.lower() == "bearer" and token.strip() else None


def require_webex_token(state: SandboxState, request: Request,
                        scopes: tuple[str, ...] = ()) -> tuple[str | None, Response | None]:
    """(token, None) when the bearer token is valid and holds one of `scopes` (if given), else
    (None, 401 for a missing/unknown/expired token or 403 for a missing scope)."""
    token = bearer_token(request)
    if token is None or not state.tokens.is_valid(token):
        return None, webex_error(401, "The request requires a valid access token set in the Authorization "
                                      "request header.")
    if scopes and not state.tokens.has_scope(token, scopes):
        return None, webex_error(403, "The server understood the request, but refused to fulfill it because "
                                      f"the access token is missing required scopes: one of {', '.join(scopes)}.")
    return token, None


def routes(state: SandboxState) -> list[Route]:
    @endpoint(state, "webex.access_token", webex_error)
    async def access_token(request: Request) -> Response:
        form = await request.form()
        client_id, client_secret = form.get("client_id", ""), form.get("client_secret", "")
        basic = request.headers.get("authorization", "")
        if basic.lower().startswith("basic "):  # client credentials may come as HTTP Basic
            decoded = base64.b64decode(basic[6:].strip()).decode(errors="replace")
            client_id, _, client_secret = decoded.partition(":")
        grant_type = form.get("grant_type", "")
        if grant_type != "refresh_token":
            body = _oauth_error("unsupported_grant_type", f"grant_type {grant_type!r} is not supported here")
            return json_response(body, 400)
        if not form.get("refresh_token"):
            return json_response(_oauth_error("invalid_request", "refresh_token is required"), 400)
        status, body = state.tokens.refresh(client_id, client_secret, form["refresh_token"])
        return json_response(body, status, headers={"trackingid": body.get("trackingId", f"ROUTER_{uuid.uuid4()}")})

    return [Route("/webex/v1/access_token", access_token, methods=["POST"])]
