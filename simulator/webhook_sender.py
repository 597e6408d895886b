"""Replays the simulated webhooks to a URL the way each provider delivers them.

``switchboard webhooks send --data DIR --url URL`` reads ``DIR/elevenlabs/webhooks.jsonl``,
``DIR/twilio/status_callbacks.jsonl`` and ``DIR/builderbot/webhooks.jsonl`` (each in
``send_at`` order), merges them by ``send_at`` and POSTs every event to
``URL/<provider>`` (``URL`` itself with ``--exact-url``):

* **ElevenLabs** (``reference/channels.md`` §1.5): JSON body, header
  ``ElevenLabs-Signature: t=<unix now>,v0=<hex HMAC-SHA256(secret, "<t>.<raw body>")>``, signed
  at each attempt. Retries only ``post_call_transcription``, only on 5xx, 429, 408 (and on a
  timeout or refused connection), up to 5 attempts: immediately, then 30 s, 2 min, 8 min,
  30 min after, each ±10 % jitter.
* **Twilio** (§2.4–2.5): ``application/x-www-form-urlencoded`` body, ``X-Twilio-Signature`` =
  base64 HMAC-SHA1(auth token, URL + each parameter name and value in sorted name order),
  ``I-Twilio-Idempotency-Token`` (the same on every attempt of one callback). Twilio's
  connection-override defaults: one retry (``rc=1``) when the connection fails (``rp=ct``);
  a ``#rc=…&rp=4xx,5xx,ct,rt,all`` fragment on the URL overrides them, as on Twilio, and is not
  sent (nor signed).
* **BuilderBot** (§3.1): JSON ``{"eventName", "data"}``, no signature (none is documented);
  with a secret, an ``x-webhook-secret`` header as some integrations configure. No retries
  (none documented).

``--duplicates RATE`` re-sends that share of delivered events once more, a moment later, as
byte-for-byte the same request (same body and headers): what at-least-once delivery produces.
``--speed X`` keeps the simulated gaps between events divided by X (retry back-offs too);
``--speed 0`` sends as fast as possible, keeping only the order.
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import heapq
import hmac
import os
import random
import sys
import time
import uuid
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import httpx
import orjson

PROVIDERS = ("elevenlabs", "twilio", "builderbot")
SOURCE_FILES = {
    "elevenlabs": Path("elevenlabs") / "webhooks.jsonl",
    "twilio": Path("twilio") / "status_callbacks.jsonl",
    "builderbot": Path("builderbot") / "webhooks.jsonl",
}
SECRET_ENV = {
    "elevenlabs": "ELEVENLABS_WEBHOOK_SECRET",
    "twilio": "TWILIO_AUTH_TOKEN",
    "builderbot": "BUILDERBOT_WEBHOOK_SECRET",
}

ELEVENLABS_RETRY_DELAYS = (0.0, 30.0, 120.0, 480.0, 1800.0)  # before attempts 1..5
ELEVENLABS_RETRY_STATUSES = frozenset({408, 429})  # and every 5xx
MAX_LOGGED_FAILURES = 10


# ---------------------------------------------------------------------------------------------
# Signatures (pure functions)
# ---------------------------------------------------------------------------------------------


def elevenlabs_signature(body: bytes, secret: str, timestamp: int) -> str:
    """``ElevenLabs-Signature`` header value for ``body`` signed at ``timestamp`` (unix s)."""
    digest = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
    return f"t={timestamp},v0={digest}"


def twilio_signature(url: str, params: dict[str, str], auth_token: str) -> str:
    """``X-Twilio-Signature`` of a form POST to ``url`` (the URL exactly as called)."""
    payload = url + "".join(name + params[name] for name in sorted(params))
    mac = hmac.new(auth_token.encode(), payload.encode(), hashlib.sha1)
    return base64.b64encode(mac.digest()).decode()


# ---------------------------------------------------------------------------------------------
# Events and retry policies
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class WebhookEvent:
    provider: str
    send_at: datetime
    event_type: str  #: ElevenLabs type, Twilio MessageStatus, BuilderBot eventName
    body: bytes
    content_type: str
    form: dict[str, str] | None  #: Twilio's form fields (signed one by one)
    event_id: str  #: stable identity of the event (idempotency token, logs)


def parse_event(provider: str, line: dict) -> WebhookEvent:
    send_at = datetime.fromisoformat(line["send_at"].replace("Z", "+00:00"))
    if provider == "twilio":
        params = {k: str(v) for k, v in line["params"].items()}
        token = uuid.uuid5(uuid.NAMESPACE_URL, f"{params.get('MessageSid')}:{params.get('MessageStatus')}")
        return WebhookEvent(provider, send_at, params.get("MessageStatus", ""),
                            urlencode(params).encode(), "application/x-www-form-urlencoded",
                            params, str(token))
    payload = line["payload"]
    body = orjson.dumps(payload)
    if provider == "elevenlabs":
        kind = line.get("type") or payload.get("type", "")
        cid = (payload.get("data") or {}).get("conversation_id", "")
        return WebhookEvent(provider, send_at, kind, body, "application/json", None, f"{kind}:{cid}")
    digest = hashlib.sha256(line["send_at"].encode() + body).hexdigest()[:16]
    return WebhookEvent(provider, send_at, payload.get("eventName", ""), body, "application/json",
                        None, digest)


def read_events(data_dir: Path, providers: Iterable[str]) -> Iterator[WebhookEvent]:
    """Every event of the chosen providers, merged in ``send_at`` order (files are streamed)."""

    def one(provider: str) -> Iterator[WebhookEvent]:
        path = data_dir / SOURCE_FILES[provider]
        if not path.exists():
            return
        with path.open("rb") as fh:
            for raw in fh:
                if raw.strip():
                    yield parse_event(provider, orjson.loads(raw))

    return heapq.merge(*(one(p) for p in providers), key=lambda e: e.send_at)


@dataclass(frozen=True, slots=True)
class Outcome:
    """What one attempt got: an HTTP status, or a connection-level failure."""

    status: int | None = None
    connect_error: bool = False  #: refused / unreachable / connect timeout
    read_timeout: bool = False  #: connected, no response in time

    @property
    def ok(self) -> bool:
        return self.status is not None and 200 <= self.status < 300


def elevenlabs_retry_delay(event_type: str, attempt: int, outcome: Outcome,
                           rng: random.Random) -> float | None:
    """Seconds before attempt ``attempt + 1`` of an ElevenLabs webhook, None = give up."""
    if event_type != "post_call_transcription" or attempt >= len(ELEVENLABS_RETRY_DELAYS):
        return None
    retryable = (outcome.connect_error or outcome.read_timeout
                 or outcome.status in ELEVENLABS_RETRY_STATUSES
                 or (outcome.status is not None and outcome.status >= 500))
    if not retryable:
        return None
    return ELEVENLABS_RETRY_DELAYS[attempt] * rng.uniform(0.9, 1.1)


@dataclass(frozen=True, slots=True)
class TwilioConnectionOverrides:
    """Twilio's webhook connection overrides (URL fragment), defaults as documented."""

    retry_count: int = 1  #: rc
    retry_policy: frozenset[str] = frozenset({"ct"})  #: rp: 4xx, 5xx, ct, rt, all
    connect_timeout_ms: int = 5000  #: ct
    read_timeout_ms: int = 15000  #: rt

    @classmethod
    def from_fragment(cls, fragment: str) -> TwilioConnectionOverrides:
        values = dict(parse_qsl(fragment))
        policy = frozenset(p.strip() for p in values.get("rp", "ct").split(",") if p.strip())
        return cls(retry_count=max(0, min(5, int(values.get("rc", 1)))), retry_policy=policy,
                   connect_timeout_ms=int(values.get("ct", 5000)), read_timeout_ms=int(values.get("rt", 15000)))


def twilio_retry_delay(overrides: TwilioConnectionOverrides, attempt: int, outcome: Outcome) -> float | None:
    if attempt > overrides.retry_count:
        return None
    p = overrides.retry_policy
    retry = ("all" in p
             or (outcome.connect_error and "ct" in p)
             or (outcome.read_timeout and "rt" in p)
             or (outcome.status is not None and 500 <= outcome.status < 600 and "5xx" in p)
             or (outcome.status is not None and 400 <= outcome.status < 500 and "4xx" in p))
    return 0.0 if retry else None  # Twilio retries at once: the overrides have no back-off


# ---------------------------------------------------------------------------------------------
# The sender
# ---------------------------------------------------------------------------------------------


@dataclass(slots=True)
class Secrets:
    elevenlabs: str | None = None
    twilio: str | None = None
    builderbot: str | None = None

    @classmethod
    def from_env(cls) -> Secrets:
        return cls(*(os.environ.get(SECRET_ENV[p]) or None for p in PROVIDERS))


@dataclass(slots=True)
class SendReport:
    events: int = 0
    requests: int = 0
    delivered: int = 0
    retries: int = 0
    duplicates: int = 0
    gave_up: int = 0
    by_provider: Counter = field(default_factory=Counter)
    statuses: Counter = field(default_factory=Counter)

    def summary(self) -> str:
        per = ", ".join(f"{p} {n}" for p, n in sorted(self.by_provider.items()))
        return (f"{self.events} events ({per}): {self.requests} requests, {self.delivered} delivered, "
                f"{self.retries} retries, {self.duplicates} duplicates, {self.gave_up} given up")


@dataclass(order=True, slots=True)
class _Pending:
    due: float  #: simulated unix time
    seq: int
    event: WebhookEvent = field(compare=False)
    attempt: int = field(compare=False, default=1)
    #: a duplicate re-sends exactly this earlier request
    repeat_of: tuple[str, dict[str, str], bytes] | None = field(compare=False, default=None)


class WebhookSender:
    """Delivers events in ``send_at`` order with provider-faithful signing, retries, duplicates."""

    def __init__(self, base_url: str, secrets: Secrets, *, exact_url: bool = False,
                 duplicates: float = 0.0, speed: float = 0.0, seed: int = 0, timeout: float = 10.0,
                 retries: bool = True, client: httpx.Client | None = None,
                 log=None) -> None:
        self.base_url = base_url
        self.exact_url = exact_url
        self.secrets = secrets
        self.duplicates = duplicates
        self.speed = speed
        self.retries = retries
        self.rng = random.Random(f"webhook_sender:{seed}")
        self.timeout = timeout
        self._client = client or httpx.Client(timeout=timeout)
        self._own_client = client is None
        self.report = SendReport()
        self.log = log or (lambda message: None)

    def url_for(self, provider: str) -> tuple[str, str]:
        """(URL to call and to sign, URL fragment with Twilio connection overrides)."""
        base = self.base_url
        parts = urlsplit(base)
        fragment = parts.fragment
        base = urlunsplit(parts._replace(fragment=""))
        if not self.exact_url:
            p = urlsplit(base)
            base = urlunsplit(p._replace(path=p.path.rstrip("/") + "/" + provider))
        return base, fragment

    def _request(self, event: WebhookEvent) -> tuple[str, dict[str, str], bytes]:
        url, _ = self.url_for(event.provider)
        headers = {"Content-Type": event.content_type}
        if event.provider == "elevenlabs":
            if not self.secrets.elevenlabs:
                raise ValueError(f"{SECRET_ENV['elevenlabs']} is not set: ElevenLabs webhooks are signed with it")
            headers["ElevenLabs-Signature"] = elevenlabs_signature(event.body, self.secrets.elevenlabs,
                                                                   int(time.time()))
        elif event.provider == "twilio":
            if not self.secrets.twilio:
                raise ValueError(f"{SECRET_ENV['twilio']} is not set: Twilio callbacks are signed with it")
            headers["X-Twilio-Signature"] = twilio_signature(url, event.form or {}, self.secrets.twilio)
            headers["I-Twilio-Idempotency-Token"] = event.event_id
            headers["User-Agent"] = "TwilioProxy/1.1"
        elif self.secrets.builderbot:
            headers["x-webhook-secret"] = self.secrets.builderbot
        return url, headers, event.body

    def _post(self, url: str, headers: dict[str, str], body: bytes, timeout: httpx.Timeout) -> Outcome:
        self.report.requests += 1
        try:
            response = self._client.post(url, content=body, headers=headers, timeout=timeout)
        except httpx.ConnectError:
            return Outcome(connect_error=True)
        except httpx.ConnectTimeout:
            return Outcome(connect_error=True)
        except (httpx.ReadTimeout, httpx.WriteTimeout, httpx.PoolTimeout):
            return Outcome(read_timeout=True)
        except httpx.RemoteProtocolError:
            return Outcome(read_timeout=True)
        self.report.statuses[response.status_code] += 1
        return Outcome(status=response.status_code)

    def _retry_delay(self, pending: _Pending, outcome: Outcome) -> float | None:
        if not self.retries:
            return None
        event = pending.event
        if event.provider == "elevenlabs":
            return elevenlabs_retry_delay(event.event_type, pending.attempt, outcome, self.rng)
        if event.provider == "twilio":
            _, fragment = self.url_for("twilio")
            return twilio_retry_delay(TwilioConnectionOverrides.from_fragment(fragment), pending.attempt, outcome)
        return None

    def _timeout_for(self, provider: str) -> httpx.Timeout:
        if provider == "twilio":
            _, fragment = self.url_for("twilio")
            o = TwilioConnectionOverrides.from_fragment(fragment)
            return httpx.Timeout(min(self.timeout, o.read_timeout_ms / 1000),
                                 connect=min(self.timeout, o.connect_timeout_ms / 1000))
        return httpx.Timeout(self.timeout)

    def send(self, events: Iterable[WebhookEvent], limit: int | None = None) -> SendReport:
        """Deliver ``events`` (in ``send_at`` order); returns the report."""
        source = iter(events)
        heap: list[_Pending] = []
        seq = 0
        wall_start = time.monotonic()
        sim_start: float | None = None

        def pull() -> _Pending | None:
            nonlocal seq, sim_start
            if limit is not None and self.report.events >= limit:
                return None
            event = next(source, None)
            if event is None:
                return None
            self.report.events += 1
            self.report.by_provider[event.provider] += 1
            due = event.send_at.timestamp()
            sim_start = due if sim_start is None else sim_start
            seq += 1
            return _Pending(due, seq, event)

        upcoming = pull()
        while heap or upcoming is not None:
            # the source is read lazily: only retries and duplicates wait in the heap
            if upcoming is not None and (not heap or upcoming.due <= heap[0].due):
                heapq.heappush(heap, upcoming)
                upcoming = pull()
                continue
            pending = heapq.heappop(heap)
            if self.speed > 0 and sim_start is not None:
                wait = (pending.due - sim_start) / self.speed - (time.monotonic() - wall_start)
                if wait > 0:
                    time.sleep(wait)
            event = pending.event
            if pending.repeat_of is not None:
                url, headers, body = pending.repeat_of
                self._post(url, headers, body, self._timeout_for(event.provider))
                self.report.duplicates += 1
                continue
            url, headers, body = self._request(event)
            outcome = self._post(url, headers, body, self._timeout_for(event.provider))
            if outcome.ok:
                self.report.delivered += 1
                if self.duplicates > 0 and self.rng.random() < self.duplicates:
                    seq += 1
                    heapq.heappush(heap, _Pending(pending.due + self.rng.uniform(0.2, 5.0), seq, event,
                                                  pending.attempt, (url, dict(headers), body)))
                continue
            delay = self._retry_delay(pending, outcome)
            if delay is None:
                self.report.gave_up += 1
                if self.report.gave_up <= MAX_LOGGED_FAILURES:  # a dead receiver must not flood the log
                    self.log(f"gave up {event.provider} {event.event_type} {event.event_id} after "
                             f"{pending.attempt} attempt(s): {outcome}")
                if self.report.gave_up == MAX_LOGGED_FAILURES:
                    self.log("… further events given up are only counted")
                continue
            self.report.retries += 1
            seq += 1
            heapq.heappush(heap, _Pending(pending.due + delay, seq, event, pending.attempt + 1))
        return self.report

    def close(self) -> None:
        if self._own_client:
            self._client.close()


# ---------------------------------------------------------------------------------------------
# CLI: switchboard webhooks send
# ---------------------------------------------------------------------------------------------


def add_command(subparsers) -> None:
    parser = subparsers.add_parser("webhooks", help="replay simulated provider webhooks")
    sub = parser.add_subparsers(dest="webhooks_command", required=True)
    send = sub.add_parser("send", help="POST the simulated webhooks to a URL, signed as each provider signs")
    send.add_argument("--data", required=True, type=Path, help="simulator output folder")
    send.add_argument("--url", required=True,
                      help="receiver base URL; events go to URL/<provider> (see --exact-url). A "
                           "'#rc=…&rp=…' fragment sets Twilio's connection overrides")
    send.add_argument("--provider", action="append", choices=PROVIDERS,
                      help="only this provider (repeatable; default: all)")
    send.add_argument("--exact-url", action="store_true", help="post every event to URL itself")
    send.add_argument("--duplicates", type=float, default=0.0,
                      help="share of delivered events sent a second time, identically (default 0)")
    send.add_argument("--speed", type=float, default=0.0,
                      help="replay at X times real time; 0 = as fast as possible (default)")
    send.add_argument("--timeout", type=float, default=10.0, help="per-request timeout, seconds")
    send.add_argument("--no-retries", action="store_true", help="never retry a failed delivery")
    send.add_argument("--limit", type=int, help="stop after this many events")
    send.add_argument("--seed", type=int, default=0, help="seed for jitter and duplicates")
    for provider in PROVIDERS:
        send.add_argument(f"--{provider}-secret", help=f"default: ${SECRET_ENV[provider]}")
    send.set_defaults(run=run_send)


def run_send(args: argparse.Namespace) -> int:
    providers = tuple(args.provider or PROVIDERS)
    env = Secrets.from_env()
    secrets = Secrets(
        elevenlabs=args.elevenlabs_secret or env.elevenlabs,
        twilio=args.twilio_secret or env.twilio,
        builderbot=args.builderbot_secret or env.builderbot,
    )
    for provider in ("elevenlabs", "twilio"):
        if provider in providers and not getattr(secrets, provider) and (args.data / SOURCE_FILES[provider]).exists():
            print(f"switchboard: {SECRET_ENV[provider]} (or --{provider}-secret) is required to sign "
                  f"{provider} webhooks", file=sys.stderr)
            return 2
    if not args.data.is_dir():
        print(f"switchboard: --data {args.data} is not a folder", file=sys.stderr)
        return 2
    sender = WebhookSender(args.url, secrets, exact_url=args.exact_url, duplicates=args.duplicates,
                           speed=args.speed, seed=args.seed, timeout=args.timeout,
                           retries=not args.no_retries,
                           log=lambda message: print(message, file=sys.stderr))
    started = time.monotonic()
    try:
        report = sender.send(read_events(args.data, providers), limit=args.limit)
    finally:
        sender.close()
    print(f"{report.summary()} in {time.monotonic() - started:.1f} s")
    return 0 if report.gave_up == 0 else 1
