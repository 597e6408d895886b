"""Webex OAuth2 refresh-token flow with a rotated-token store (webex.md §3).

- The first refresh token comes from WEBEX_REFRESH_TOKEN; every refresh may return a new one,
  which is written at once to WEBEX_TOKEN_FILE (owner-only 0600, temp file + rename, so a crash
  never leaves a half-written file and no other user can read it). A write that fails removes
  its temp file; the temp file of a process killed before its rename (it holds whole tokens) is
  removed by the next refresh or save, once no live process owns it.
- The access token is refreshed shortly before it expires and once when the API answers 401.
- Several processes may share the file: refreshing happens under an exclusive file lock and
  re-reads the file first, so a token another process just rotated is used, not rotated again.
- When WEBEX_REFRESH_TOKEN is changed (a person re-authorised), the new value wins over the file.
- A refresh token Webex refuses (`invalid_grant`) stops the run with what to do; tokens are
  never logged or put in exception messages.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import httpx
import orjson

from pipelines.file_lock import FileLock
from pipelines.http_retry import retry_after_seconds

log = logging.getLogger(__name__)

# what the integration is authorised for (README: WEBEX_REFRESH_TOKEN): CDRs, and the people and
# locations they name
SCOPES = ("spark-admin:calling_cdr_read", "spark-admin:people_read", "spark-admin:locations_read")


class WebexAuthError(RuntimeError):
    """The integration cannot get a token; the message says what a person must do."""


@dataclass(frozen=True)
class Tokens:
    access_token: str
    expires_at: float
    refresh_token: str
    refresh_expires_at: float | None
    seed: str  # fingerprint of the WEBEX_REFRESH_TOKEN this chain started from
    issued_at: float | None = None  # when the access token was issued (None: stored by an older version)

    def __repr__(self) -> str:  # never print a token
        return f"Tokens(expires_at={self.expires_at:.0f}, refresh_expires_at={self.refresh_expires_at}, seed={self.seed})"


def fingerprint(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()[:16]


class TokenStore:
    """The rotated tokens, as a JSON file readable by its owner only."""

    def __init__(self, path: Path):
        self.path = Path(path)

    def load(self) -> Tokens | None:
        try:
            data = orjson.loads(self.path.read_bytes())
        except FileNotFoundError:
            return None
        except orjson.JSONDecodeError:
            log.warning("Webex token file %s is unreadable; starting again from WEBEX_REFRESH_TOKEN", self.path)
            return None
        return Tokens(
            access_token=data.get("access_token", ""),
            expires_at=float(data.get("expires_at", 0)),
            refresh_token=data.get("refresh_token", ""),
            refresh_expires_at=data.get("refresh_expires_at"),
            seed=data.get("seed", ""),
            issued_at=data.get("issued_at"),
        )

    def save(self, tokens: Tokens) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        self.remove_stale_temp_files()
        tmp = self._temp_file(os.getpid())
        body = orjson.dumps({
            "access_token": tokens.access_token, "expires_at": tokens.expires_at,
            "refresh_token": tokens.refresh_token, "refresh_expires_at": tokens.refresh_expires_at,
            "seed": tokens.seed, "issued_at": tokens.issued_at,
        })
        try:
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            try:
                os.fchmod(fd, 0o600)  # even if a stale temp file had other permissions
                view = memoryview(body)
                while view:
                    view = view[os.write(fd, view):]
                os.fsync(fd)
            finally:
                os.close(fd)
            os.replace(tmp, self.path)
        except BaseException:
            # a full disk, an interrupt: no copy of the tokens is left beside the file
            with contextlib.suppress(OSError):
                os.unlink(tmp)
            raise
        dir_fd = os.open(self.path.parent, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)

    def lock(self):
        return FileLock(self.path.with_name(self.path.name + ".lock"))

    def _temp_file(self, pid: int) -> Path:
        return self.path.with_name(f".{self.path.name}.{pid}.tmp")

    def remove_stale_temp_files(self) -> int:
        """Removes the temp files (`.<file>.<pid>.tmp`) of processes killed between writing and
        renaming them: each holds a whole token set. A file whose process still runs (it may be
        writing it) is left alone. Returns how many were removed."""
        removed = 0
        prefix, suffix = f".{self.path.name}.", ".tmp"
        try:
            names = os.listdir(self.path.parent)
        except FileNotFoundError:
            return 0
        for name in names:
            pid = name[len(prefix):-len(suffix)] if name.startswith(prefix) and name.endswith(suffix) else ""
            if not pid.isdigit() or int(pid) == os.getpid() or _process_alive(int(pid)):
                continue
            with contextlib.suppress(FileNotFoundError):
                os.unlink(self.path.parent / name)
                removed += 1
        if removed:
            log.info("removed %d temp file(s) of killed processes beside %s", removed, self.path)
        return removed


def _process_alive(pid: int) -> bool:
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:  # another user's process (EPERM): alive
        return True
    return True


class TokenManager:
    """Hands out a valid access token; refreshes (and persists the rotation) when needed."""

    def __init__(
        self,
        *,
        token_url: str,
        client_id: str,
        client_secret: str,
        refresh_token: str,
        store: TokenStore,
        http: httpx.Client,
        clock: Callable[[], float] = time.time,
        sleep: Callable[[float], None] = time.sleep,
        refresh_margin_seconds: float = 300.0,
    ):
        self.token_url = token_url
        self.client_id = client_id
        self._client_secret = client_secret
        self._seed_token = refresh_token
        self.store = store
        self.http = http
        self.clock, self.sleep = clock, sleep
        self.refresh_margin = refresh_margin_seconds

    def __repr__(self) -> str:
        return f"TokenManager(token_url={self.token_url!r}, store={str(self.store.path)!r})"

    def access_token(self) -> str:
        tokens = self._current()
        if tokens is None or self._expiring(tokens):
            return self.refresh(rejected=tokens.access_token if tokens else None)
        return tokens.access_token

    def refresh(self, *, rejected: str | None = None) -> str:
        """A new access token. `rejected` is the token the API just refused: if another process
        has already replaced it, that replacement is used instead of rotating again."""
        with self.store.lock():
            self.store.remove_stale_temp_files()  # also when the refresh then fails (a dead token)
            tokens = self._current()
            if tokens is not None and tokens.access_token != rejected and not self._expiring(tokens):
                return tokens.access_token
            refresh_token, seed = self._refresh_token_to_use(tokens)
            fresh = self._call_token_endpoint(refresh_token, seed)
            self.store.save(fresh)
            log.info("Webex access token refreshed (valid %.0f s); rotated refresh token saved to %s",
                     fresh.expires_at - self.clock(), self.store.path)
            return fresh.access_token

    def _current(self) -> Tokens | None:
        tokens = self.store.load()
        if tokens is None:
            return None
        if self._seed_token and tokens.seed != fingerprint(self._seed_token):
            return None  # WEBEX_REFRESH_TOKEN was changed: a person re-authorised; start from it
        return tokens

    def _expiring(self, tokens: Tokens) -> bool:
        margin = self.refresh_margin
        if tokens.issued_at is not None:
            # a token that lives less than twice the margin is renewed halfway through its life, not
            # before every request (Webex's live ~14 days; a test server's may live minutes)
            margin = min(margin, (tokens.expires_at - tokens.issued_at) / 2)
        return not tokens.access_token or tokens.expires_at - self.clock() <= margin

    def _refresh_token_to_use(self, tokens: Tokens | None) -> tuple[str, str]:
        if tokens is not None and tokens.refresh_token:
            if tokens.refresh_expires_at is not None and tokens.refresh_expires_at <= self.clock():
                raise WebexAuthError(self._dead_message("the stored refresh token has expired"))
            return tokens.refresh_token, tokens.seed
        if not self._seed_token:
            raise WebexAuthError(
                "no Webex refresh token: set WEBEX_REFRESH_TOKEN to the refresh token of an authorised "
                f"integration (rotated tokens are then kept in {self.store.path})"
            )
        return self._seed_token, fingerprint(self._seed_token)

    def _call_token_endpoint(self, refresh_token: str, seed: str) -> Tokens:
        form = {
            "grant_type": "refresh_token",
            "client_id": self.client_id,
            "client_secret": self._client_secret,
            "refresh_token": refresh_token,
        }
        for attempt in range(6):
            try:
                response = self.http.post(self.token_url, data=form, headers={"Accept": "application/json"})
            except httpx.TransportError as exc:
                if attempt == 5:
                    raise WebexAuthError(f"Webex token endpoint {self.token_url} unreachable: {type(exc).__name__}") from None
                self.sleep(min(2 ** attempt * 0.5, 10))
                continue
            if response.status_code == 429 or response.status_code >= 500:
                self.sleep(retry_after_seconds(response, default=min(2 ** attempt * 0.5, 10)))
                continue
            break
        else:
            raise WebexAuthError(f"Webex token endpoint {self.token_url} kept failing (HTTP {response.status_code})")
        if response.status_code in (400, 401, 403):
            error = _oauth_error(response)
            if "invalid_client" in error:
                raise WebexAuthError(
                    f"Webex refused the client credentials ({error}): check WEBEX_CLIENT_ID and WEBEX_CLIENT_SECRET"
                )
            raise WebexAuthError(self._dead_message(f"Webex refused the refresh token ({error})"))
        if response.status_code != 200:
            raise WebexAuthError(f"Webex token endpoint {self.token_url} answered HTTP {response.status_code}")
        try:
            body = orjson.loads(response.content)
            access, expires_in = body["access_token"], float(body.get("expires_in", 0))
        except (orjson.JSONDecodeError, KeyError, TypeError, ValueError):
            raise WebexAuthError(f"Webex token endpoint {self.token_url} sent an unreadable answer") from None
        now = self.clock()
        refresh_in = body.get("refresh_token_expires_in")
        return Tokens(
            access_token=access,
            expires_at=now + expires_in,
            # Webex may return the unchanged refresh token, or none; keep using the one we have.
            refresh_token=body.get("refresh_token") or refresh_token,
            refresh_expires_at=now + float(refresh_in) if refresh_in is not None else None,
            seed=seed,
            issued_at=now,
        )

    def _dead_message(self, what: str) -> str:
        return (
            f"{what}. The integration must be authorised again by a Webex admin: obtain a new refresh token "
            f"(OAuth authorization-code grant with the scopes {' '.join(SCOPES)}) and set WEBEX_REFRESH_TOKEN "
            f"to it; the stale rotated token in {self.store.path} is replaced automatically on the next run."
        )


def _oauth_error(response: httpx.Response) -> str:
    try:
        body = orjson.loads(response.content)
    except orjson.JSONDecodeError:
        return f"HTTP {response.status_code}"
    if not isinstance(body, dict):
        return f"HTTP {response.status_code}"
    parts = [str(body[k]) for k in ("error", "message") if body.get(k)]
    return f"HTTP {response.status_code}: " + "; ".join(parts) if parts else f"HTTP {response.status_code}"
