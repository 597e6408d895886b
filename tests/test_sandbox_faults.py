"""Faults on demand over real HTTP: 5xx bursts, slow responses, truncated bodies, repeated pages."""

from __future__ import annotations

import re
import socket
import time
from datetime import UTC, datetime, timedelta

import httpx
import orjson
import pytest

from simulator.sandbox import Fault, run_sandbox
from tests.sandbox_fixtures import build_fixture, iso_ms

LINK_NEXT = re.compile(r'<([^>]+)>\s*;\s*rel="next"')


@pytest.fixture(scope="module")
def fixture(tmp_path_factory):
    return build_fixture(tmp_path_factory.mktemp("sandbox_faults"), cdr_count=1200)


@pytest.fixture()
def sandbox(fixture):
    with run_sandbox(fixture.root, time_scale=60, limits=False) as running:
        yield running


def bearer(sandbox) -> dict:
    return {"Authorization": f"Bearer {sandbox.tokens.issue_access_token()}"}


def twilio_auth(sandbox) -> tuple[str, str]:
    return sandbox.credentials.twilio_account_sid, sandbox.credentials.twilio_auth_token


def twilio_messages_url(sandbox) -> str:
    return f"{sandbox.base_urls.twilio}/2010-04-01/Accounts/{sandbox.credentials.twilio_account_sid}/Messages.json"


def test_server_error_burst_hits_the_next_n_requests_of_that_endpoint_only(sandbox):
    sandbox.faults.set("webex.people", "server_error", count=2)
    sandbox.faults.set("twilio.*", "server_error", count=1, status=500)
    people = f"{sandbox.base_urls.webex_api}/people"
    headers = bearer(sandbox)
    assert httpx.get(f"{sandbox.base_urls.webex_api}/locations", headers=headers).status_code == 200
    statuses = [httpx.get(people, headers=headers).status_code for _ in range(3)]
    assert statuses == [503, 503, 200]
    failed = httpx.get(twilio_messages_url(sandbox), auth=twilio_auth(sandbox))
    assert failed.status_code == 500 and failed.json()["status"] == 500  # in Twilio's error shape
    assert httpx.get(twilio_messages_url(sandbox), auth=twilio_auth(sandbox)).status_code == 200
    assert sandbox.stats.status_count("webex.people", 503) == 2
    assert sandbox.faults.active() == []


def test_slow_responses_delay_by_real_seconds(sandbox):
    sandbox.faults.set("elevenlabs.conversations", "slow", count=2, delay_seconds=0.8)
    url = f"{sandbox.base_urls.elevenlabs}/v1/convai/conversations"
    headers = {"xi-api-key": sandbox.credentials.elevenlabs_api_key}
    with pytest.raises(httpx.ReadTimeout):
        httpx.get(url, headers=headers, timeout=0.1)
    started = time.monotonic()
    assert httpx.get(url, headers=headers).status_code == 200
    assert time.monotonic() - started >= 0.8
    started = time.monotonic()
    assert httpx.get(url, headers=headers).status_code == 200
    assert time.monotonic() - started < 0.8


def test_truncated_body_promises_the_full_length_then_closes(sandbox):
    sandbox.faults.set("webex.cdr_stream", "truncate", count=1, keep_fraction=0.3)
    now = datetime.now(UTC)
    params = {"startTime": iso_ms(now - timedelta(hours=2)), "endTime": iso_ms(now - timedelta(minutes=1))}
    url = f"{sandbox.base_urls.webex_analytics}/cdr_stream"
    headers = bearer(sandbox)
    with httpx.Client() as client:
        with client.stream("GET", url, params=params, headers=headers) as response:
            assert response.status_code == 200
            promised = int(response.headers["content-length"])
            with pytest.raises(httpx.RemoteProtocolError):
                response.read()
        whole = client.get(url, params=params, headers=headers)
    assert len(whole.content) == promised and orjson.loads(whole.content)["items"]


def test_truncated_body_with_consistent_framing_is_broken_json(sandbox):
    sandbox.faults.set("twilio.messages", "truncate", count=1, framing="complete")
    cut = httpx.get(twilio_messages_url(sandbox), auth=twilio_auth(sandbox))
    assert cut.status_code == 200 and int(cut.headers["content-length"]) == len(cut.content)
    with pytest.raises(orjson.JSONDecodeError):
        orjson.loads(cut.content)
    whole = httpx.get(twilio_messages_url(sandbox), auth=twilio_auth(sandbox))
    assert whole.content.startswith(cut.content) and len(cut.content) == len(whole.content) // 2


def test_truncate_on_a_raw_socket_sees_fewer_bytes_than_content_length(sandbox):
    """What a broken proxy looks like on the wire, without any client library in between."""
    sandbox.faults.set("webex.locations", "truncate", count=1)
    host, port = sandbox.base_url.removeprefix("http://").split(":")
    token = sandbox.tokens.issue_access_token()
    with socket.create_connection((host, int(port)), timeout=5) as conn:
        conn.sendall(f"GET /webex/v1/locations HTTP/1.1\r\nHost: {host}\r\nAuthorization: Bearer {token}\r\n\r\n"
                     .encode())
        received = b""
        while chunk := conn.recv(65536):
            received += chunk
    head, _, body = received.partition(b"\r\n\r\n")
    length = int(re.search(rb"content-length: (\d+)", head, re.IGNORECASE).group(1))
    assert 0 < len(body) < length


def test_repeated_cdr_page_returns_the_same_records_again(sandbox, fixture):
    start, end = fixture.now - timedelta(hours=1), fixture.now - timedelta(minutes=6)
    params = {"startTime": iso_ms(start), "endTime": iso_ms(end), "max": "500"}
    url = f"{sandbox.base_urls.webex_analytics}/cdr_feed"
    headers = bearer(sandbox)
    with httpx.Client() as client:
        clean_pages = []
        response = client.get(url, params=params, headers=headers)
        while True:
            clean_pages.append(response.json()["items"])
            match = LINK_NEXT.search(response.headers.get("link", ""))
            if not match:
                break
            response = client.get(match.group(1), headers=headers)
        sandbox.faults.set("webex.cdr_feed", "repeat_page", count=2)
        pages = []
        response = client.get(url, params=params, headers=headers)
        while True:
            pages.append(response.json()["items"])
            match = LINK_NEXT.search(response.headers.get("link", ""))
            if not match:
                break
            response = client.get(match.group(1), headers=headers)
    # first page served three times (initial + two repeats), then the rest as usual
    assert pages == [clean_pages[0]] * 3 + clean_pages[1:]


def test_repeated_pages_for_elevenlabs_and_twilio(sandbox, fixture):
    url = f"{sandbox.base_urls.elevenlabs}/v1/convai/conversations"
    headers = {"xi-api-key": sandbox.credentials.elevenlabs_api_key}
    first = httpx.get(url, params={"page_size": 10}, headers=headers).json()
    sandbox.faults.set("elevenlabs.conversations", "repeat_page", count=1)
    second = httpx.get(url, params={"page_size": 10, "cursor": first["next_cursor"]}, headers=headers).json()
    again = httpx.get(url, params={"page_size": 10, "cursor": second["next_cursor"]}, headers=headers).json()
    assert again["conversations"] == second["conversations"] and again["has_more"]
    following = httpx.get(url, params={"page_size": 10, "cursor": again["next_cursor"]}, headers=headers).json()
    assert {c["conversation_id"] for c in following["conversations"]}.isdisjoint(
        c["conversation_id"] for c in second["conversations"])

    sandbox.faults.set("twilio.messages", "repeat_page", count=1)
    page = httpx.get(twilio_messages_url(sandbox), params={"PageSize": 20}, auth=twilio_auth(sandbox)).json()
    repeated = httpx.get(f"{sandbox.base_urls.twilio}{page['next_page_uri']}", auth=twilio_auth(sandbox)).json()
    assert repeated["messages"] == page["messages"]
    onward = httpx.get(f"{sandbox.base_urls.twilio}{repeated['next_page_uri']}", auth=twilio_auth(sandbox)).json()
    assert onward["messages"][0]["sid"] != page["messages"][0]["sid"]


def test_faults_given_at_start_and_statistics(fixture):
    with run_sandbox(fixture.root, faults=[Fault("elevenlabs.*", "server_error", count=None, status=502)]) as sandbox:
        headers = {"xi-api-key": sandbox.credentials.elevenlabs_api_key}
        url = f"{sandbox.base_urls.elevenlabs}/v1/convai/conversations"
        assert {httpx.get(url, headers=headers).status_code for _ in range(3)} == {502}
        sandbox.faults.clear()
        assert httpx.get(url, headers=headers).status_code == 200
        snapshot = sandbox.stats.snapshot()
        assert snapshot["requests"]["elevenlabs.conversations"] == 4
        assert snapshot["responses"] == {"elevenlabs.conversations 502": 3, "elevenlabs.conversations 200": 1}
        assert snapshot["records_served"]["elevenlabs.conversations"] == 30
