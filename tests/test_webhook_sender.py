"""The webhook sender against a real HTTP server on loopback, checked with the providers' own
signature validators (twilio's ``RequestValidator``, the elevenlabs SDK's
``webhooks.construct_event``): accepted as sent, rejected when tampered; retries follow each
provider's policy; duplicates are byte-for-byte repeats.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qsl

import pytest
from elevenlabs.client import ElevenLabs
from elevenlabs.errors import BadRequestError
from twilio.request_validator import RequestValidator

from simulator.channels import render_channels
from simulator.population import build_population
from simulator.webhook_sender import (
    Outcome,
    Secrets,
    TwilioConnectionOverrides,
    WebhookSender,
    elevenlabs_retry_delay,
    elevenlabs_signature,
    read_events,
    twilio_retry_delay,
    twilio_signature,
)
from tests.channel_journeys import make_journeys

EL_SECRET = "wsec_switchboard_test_secret"
TWILIO_TOKEN = "twilio_test_auth_token_0123456789"
BB_SECRET = "bb-hook-secret"
SECRETS = Secrets(elevenlabs=EL_SECRET, twilio=TWILIO_TOKEN, builderbot=BB_SECRET)


class Receiver:
    """A real HTTP server on 127.0.0.1 that records every request; ``respond`` decides the
    status (and may sleep) per request."""

    def __init__(self, respond: Callable[[str, bytes, int], int] | None = None) -> None:
        self.requests: list[tuple[str, dict[str, str], bytes]] = []
        self.respond = respond or (lambda path, body, nth: 200)
        self._lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802 (http.server's name)
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                with receiver._lock:
                    receiver.requests.append((self.path, dict(self.headers.items()), body))
                    nth = sum(1 for _, _, b in receiver.requests if b == body)
                status = receiver.respond(self.path, body, nth)
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hooks"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> Receiver:
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("hooks")
    start = datetime(2026, 3, 2, tzinfo=UTC)
    population = build_population(5, 200, 20)
    days = make_journeys(population, 5, start, 1, 40)
    render_channels(out, population, days, 5, start, days[-1][-1].ended_at + timedelta(hours=4))
    return out


def _form(body: bytes) -> dict[str, str]:
    return dict(parse_qsl(body.decode(), keep_blank_values=True))


def test_signatures_match_the_documented_vectors():
    # Twilio's own unit-test vector (reference/channels.md §2.5)
    params = {"CallSid": "CA1234567890ABCDE", "Caller": "+14158675309", "Digits": "1234",
              "From": "+14158675309", "To": "+18005551212"}
    assert twilio_signature("https://mycompany.com/myapp.php?foo=1&bar=2", params, "12345") == \
        "RSOYDt4T1cUTdK1PDd93/VVr8B8="
    header = elevenlabs_signature(b'{"a":1}', "s3cret", 1_700_000_000)
    assert header.startswith("t=1700000000,v0=") and len(header.split("v0=")[1]) == 64


def test_every_request_is_accepted_by_the_official_validators_and_rejected_when_tampered(data_dir):
    expected = list(read_events(data_dir, ("elevenlabs", "twilio", "builderbot")))
    assert {e.provider for e in expected} == {"elevenlabs", "twilio", "builderbot"}
    with Receiver() as receiver:
        sender = WebhookSender(receiver.url, SECRETS, duplicates=0.0)
        report = sender.send(read_events(data_dir, ("elevenlabs", "twilio", "builderbot")))
        sender.close()
    assert report.events == len(expected) == report.delivered == len(receiver.requests)
    assert report.retries == report.duplicates == report.gave_up == 0
    webhooks = ElevenLabs(api_key="unused").webhooks
    validator = RequestValidator(TWILIO_TOKEN)
    base = receiver.url
    for (path, headers, body), event in zip(receiver.requests, expected, strict=True):
        assert body == event.body  # delivered in send_at order, one by one
        if event.provider == "elevenlabs":
            assert path == "/hooks/elevenlabs"
            sig = headers["ElevenLabs-Signature"]
            assert webhooks.construct_event(body.decode(), sig, EL_SECRET) == json.loads(body)
            with pytest.raises(BadRequestError):
                webhooks.construct_event(body.decode().replace('"', "'", 1), sig, EL_SECRET)
            with pytest.raises(BadRequestError):
                webhooks.construct_event(body.decode(), sig, "another secret")
        elif event.provider == "twilio":
            assert path == "/hooks/twilio"
            assert headers["Content-Type"] == "application/x-www-form-urlencoded"
            params = _form(body)
            assert params == event.form
            sig = headers["X-Twilio-Signature"]
            assert validator.validate(f"{base}/twilio", params, sig)
            tampered = dict(params, MessageStatus="delivered" if params["MessageStatus"] != "delivered" else "failed")
            assert not validator.validate(f"{base}/twilio", tampered, sig)
            assert not validator.validate(f"{base}/twilio-other", params, sig)
            assert headers["I-Twilio-Idempotency-Token"]
        else:
            assert path == "/hooks/builderbot"
            assert headers["x-webhook-secret"] == BB_SECRET
            assert set(json.loads(body)) == {"eventName", "data"}


def test_duplicates_are_exact_repeats_of_delivered_requests(data_dir):
    events = list(read_events(data_dir, ("twilio", "builderbot", "elevenlabs")))
    # BuilderBot payloads carry no id or time: two customers' identical "ok" are the same bytes
    alike = len(events) - len({e.body for e in events})
    with Receiver() as receiver:
        sender = WebhookSender(receiver.url, SECRETS, duplicates=0.3, seed=3)
        report = sender.send(events)
        sender.close()
    assert report.duplicates > 0
    assert len(receiver.requests) == report.events + report.duplicates
    seen: dict[bytes, tuple[str, dict]] = {}
    repeats = 0
    for path, headers, body in receiver.requests:
        if body in seen:
            first_path, first_headers = seen[body]
            assert path == first_path
            for name in ("X-Twilio-Signature", "ElevenLabs-Signature", "I-Twilio-Idempotency-Token"):
                assert headers.get(name) == first_headers.get(name)
            repeats += 1
        else:
            seen[body] = (path, headers)
    assert repeats == report.duplicates + alike


def test_elevenlabs_retries_transcriptions_on_5xx_and_twilio_only_as_its_overrides_say(data_dir):
    # every first delivery fails with 503; later attempts succeed
    with Receiver(lambda path, body, nth: 503 if nth == 1 else 200) as receiver:
        sender = WebhookSender(receiver.url, SECRETS, seed=1)
        events = list(read_events(data_dir, ("elevenlabs", "twilio")))
        report = sender.send(events)
        sender.close()
    transcriptions = [e for e in events if e.event_type == "post_call_transcription"]
    other_el = [e for e in events if e.provider == "elevenlabs" and e.event_type != "post_call_transcription"]
    twilio = [e for e in events if e.provider == "twilio"]
    assert transcriptions and other_el and twilio
    # ElevenLabs retries only post_call_transcription; Twilio's default policy (rp=ct) does not
    # retry an HTTP 5xx
    assert report.retries == len(transcriptions)
    assert report.gave_up == len(other_el) + len(twilio)
    bodies = [b for _, _, b in receiver.requests]
    for e in transcriptions:
        assert bodies.count(e.body) == 2
    for e in twilio:
        assert bodies.count(e.body) == 1
    # with a connection-override fragment Twilio retries the 5xx (rc=2) and the fragment is
    # neither sent nor signed
    with Receiver(lambda path, body, nth: 500 if nth <= 2 else 200) as receiver:
        sender = WebhookSender(receiver.url + "#rc=2&rp=5xx", SECRETS)
        report = sender.send(read_events(data_dir, ("twilio",)))
        sender.close()
    assert report.gave_up == 0 and report.retries == 2 * report.events
    validator = RequestValidator(TWILIO_TOKEN)
    for path, headers, body in receiver.requests:
        assert path == "/hooks/twilio"
        assert validator.validate(receiver.url + "/twilio", _form(body), headers["X-Twilio-Signature"])


def test_a_timeout_is_retried_and_a_dead_receiver_exhausts_the_schedule(data_dir):
    transcription = next(e for e in read_events(data_dir, ("elevenlabs",))
                         if e.event_type == "post_call_transcription")

    def slow_first(path, body, nth):
        if nth == 1:
            time.sleep(1.0)
        return 200

    with Receiver(slow_first) as receiver:
        sender = WebhookSender(receiver.url, SECRETS, timeout=0.3)
        report = sender.send([transcription])
        sender.close()
    assert report.retries == 1 and report.delivered == 1
    # nobody listening: ElevenLabs makes its 5 attempts, Twilio its 1 + rc=1
    with Receiver() as receiver:
        dead_url = receiver.url
    twilio_event = next(iter(read_events(data_dir, ("twilio",))))
    sender = WebhookSender(dead_url, SECRETS, timeout=0.5)
    report = sender.send([transcription, twilio_event])
    sender.close()
    assert report.requests == 5 + 2 and report.gave_up == 2


def test_speed_keeps_the_simulated_gaps(data_dir):
    events = list(read_events(data_dir, ("builderbot",)))[:2]
    gap = (events[1].send_at - events[0].send_at).total_seconds()
    assert gap > 0
    speed = gap / 0.4  # the simulated gap shrinks to 0.4 s of wall time
    with Receiver() as receiver:
        sender = WebhookSender(receiver.url, SECRETS, speed=speed)
        started = time.monotonic()
        sender.send(events)
        elapsed = time.monotonic() - started
        sender.close()
    assert 0.35 <= elapsed < 3


def test_retry_policies_as_pure_functions():
    import random

    rng = random.Random(0)
    delays = [elevenlabs_retry_delay("post_call_transcription", a, Outcome(status=500), rng) for a in range(1, 6)]
    assert delays[-1] is None
    for got, nominal in zip(delays[:4], (30, 120, 480, 1800), strict=True):
        assert nominal * 0.9 <= got <= nominal * 1.1
    assert elevenlabs_retry_delay("post_call_transcription", 1, Outcome(status=404), rng) is None
    assert 30 * 0.9 <= elevenlabs_retry_delay("post_call_transcription", 1, Outcome(status=429), rng) <= 30 * 1.1
    assert elevenlabs_retry_delay("post_call_audio", 1, Outcome(status=500), rng) is None
    default = TwilioConnectionOverrides()
    assert twilio_retry_delay(default, 1, Outcome(connect_error=True)) == 0.0
    assert twilio_retry_delay(default, 2, Outcome(connect_error=True)) is None
    assert twilio_retry_delay(default, 1, Outcome(status=500)) is None
    assert twilio_retry_delay(TwilioConnectionOverrides.from_fragment("rc=3&rp=4xx"), 3, Outcome(status=404)) == 0.0


def test_cli_needs_the_signing_secrets(data_dir, monkeypatch, capsys):
    from switchboard.cli import main

    monkeypatch.delenv("TWILIO_AUTH_TOKEN", raising=False)
    monkeypatch.delenv("ELEVENLABS_WEBHOOK_SECRET", raising=False)
    code = main(["webhooks", "send", "--data", str(data_dir), "--url", "http://127.0.0.1:9/x"])
    assert code == 2 and "ELEVENLABS_WEBHOOK_SECRET" in capsys.readouterr().err
    with Receiver() as receiver:
        monkeypatch.setenv("BUILDERBOT_WEBHOOK_SECRET", BB_SECRET)
        code = main(["webhooks", "send", "--data", str(data_dir), "--url", receiver.url,
                     "--provider", "builderbot", "--limit", "5"])
    assert code == 0 and len(receiver.requests) == 5
    assert "5 events" in capsys.readouterr().out
