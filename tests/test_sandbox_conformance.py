"""The official `twilio` and `elevenlabs` Python clients against the sandbox, so the sandbox
cannot drift into a shape only our own code understands.

Pointing the clients at the sandbox:
- elevenlabs: `ElevenLabs(api_key=..., base_url=ELEVENLABS_BASE_URL)` (a base URL with a path
  prefix is supported: the SDK joins by string concatenation).
- twilio: `client = Client(sid, token); client.api.base_url = TWILIO_BASE_URL` — the `api`
  domain is created once and kept, and both first requests and `next_page_uri` pages are made
  absolute from its `base_url` (region/edge only rewrite `*.twilio.com` host names).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from email.utils import format_datetime, parsedate_to_datetime

import pytest
from elevenlabs import ElevenLabs
from elevenlabs.core.api_error import ApiError
from twilio.base.exceptions import TwilioException, TwilioRestException
from twilio.rest import Client

from simulator.sandbox import run_sandbox
from tests.sandbox_fixtures import build_fixture


@pytest.fixture(scope="module")
def fixture(tmp_path_factory):
    return build_fixture(tmp_path_factory.mktemp("sandbox_conformance"), cdr_count=10)


@pytest.fixture(scope="module")
def sandbox(fixture):
    with run_sandbox(fixture.root, time_scale=60) as running:
        yield running


def twilio_client(sandbox, token=None) -> Client:
    env = sandbox.env()
    client = Client(env["TWILIO_ACCOUNT_SID"], token or env["TWILIO_AUTH_TOKEN"])
    client.api.base_url = env["TWILIO_BASE_URL"]
    return client


def newest_first(messages):
    return sorted(messages, key=lambda m: (parsedate_to_datetime(m["date_sent"]), m["sid"]), reverse=True)


def test_twilio_client_lists_every_message_across_pages(sandbox, fixture):
    before = sandbox.stats.snapshot()["requests"].get("twilio.messages", 0)
    listed = twilio_client(sandbox).messages.list(page_size=10)
    assert [m.sid for m in listed] == [m["sid"] for m in newest_first(fixture.messages)]
    assert sandbox.stats.snapshot()["requests"]["twilio.messages"] - before == 6  # 57 messages, 10 a page
    by_sid = {m["sid"]: m for m in fixture.messages}
    for message in listed:
        assert as_written(message) == by_sid[message.sid]  # every field, as the SDK reads it


def as_written(message) -> dict:
    """A twilio MessageInstance back in the JSON shape it was served in."""
    fields = {}
    for name, value in vars(message).items():
        if name.startswith("_"):
            continue
        if name.startswith("date_") and value is not None:
            value = format_datetime(value).replace("-0000", "+0000")
        fields["from" if name == "from_" else name] = value
    return fields


def test_twilio_client_date_sent_filters(sandbox, fixture):
    client = twilio_client(sandbox)
    sent = [parsedate_to_datetime(m["date_sent"]) for m in fixture.messages]
    low = min(sent) + (max(sent) - min(sent)) / 3
    high = min(sent) + 2 * (max(sent) - min(sent)) / 3
    # the SDK sends datetimes as YYYY-MM-DDTHH:MM:SSZ: an inclusive instant on both sides
    between = client.messages.list(date_sent_after=low, date_sent_before=high, page_size=7)
    expected = [m for m, t in zip(fixture.messages, sent, strict=True)
                if low.replace(microsecond=0) <= t <= high.replace(microsecond=0)]
    assert [m.sid for m in between] == [m["sid"] for m in newest_first(expected)] and len(expected) > 10
    # a date-only string (GMT day) is compared by day
    day = sent[20].strftime("%Y-%m-%d")
    on_day = client.messages.list(date_sent_after=day, date_sent_before=day)
    assert {m.sid for m in on_day} == {m["sid"] for m, t in zip(fixture.messages, sent, strict=True)
                                       if t.strftime("%Y-%m-%d") == day}
    to_one = client.messages.list(to=fixture.messages[5]["to"])
    assert [m.sid for m in to_one] == [fixture.messages[5]["sid"]]


def test_twilio_client_fetches_one_message_and_honours_auth(sandbox, fixture):
    expected = fixture.messages[12]
    fetched = twilio_client(sandbox).messages(expected["sid"]).fetch()
    assert as_written(fetched) == expected
    with pytest.raises(TwilioRestException) as refused:
        twilio_client(sandbox, token="wrong").messages(expected["sid"]).fetch()
    assert refused.value.status == 401 and refused.value.code == 20003
    with pytest.raises(TwilioException, match="HTTP 401"):  # the list pager wraps the error
        twilio_client(sandbox, token="wrong").messages.list(limit=1)
    with pytest.raises(TwilioRestException) as missing:
        twilio_client(sandbox).messages("SM" + "f" * 32).fetch()
    assert missing.value.status == 404


def elevenlabs_client(sandbox, api_key=None) -> ElevenLabs:
    env = sandbox.env()
    return ElevenLabs(api_key=api_key or env["ELEVENLABS_API_KEY"], base_url=env["ELEVENLABS_BASE_URL"])


def test_elevenlabs_client_walks_cursor_pages(sandbox, fixture):
    client = elevenlabs_client(sandbox)
    seen, cursor, pages = [], None, 0
    while True:
        page = client.conversational_ai.conversations.list(page_size=20, cursor=cursor)
        pages += 1
        seen += page.conversations
        if not page.has_more:
            break
        cursor = page.next_cursor
    expected = sorted(fixture.conversations, key=lambda c: (c["metadata"]["start_time_unix_secs"],
                                                            c["conversation_id"]), reverse=True)
    assert [c.conversation_id for c in seen] == [c["conversation_id"] for c in expected] and pages == 4
    for summary, detail in zip(seen, expected, strict=True):
        assert summary.start_time_unix_secs == detail["metadata"]["start_time_unix_secs"]
        assert summary.call_successful == detail["analysis"]["call_successful"]
        assert summary.status == detail["status"] and summary.message_count == 2
        assert summary.direction == "inbound" and summary.agent_id == detail["agent_id"]


def test_elevenlabs_client_filters_and_fetches_detail_and_audio(sandbox, fixture):
    client = elevenlabs_client(sandbox)
    after = fixture.conversations[40]["metadata"]["start_time_unix_secs"]
    page = client.conversational_ai.conversations.list(call_start_after_unix=after, call_successful="failure",
                                                       agent_id="agent_bank", page_size=100)
    expected = {c["conversation_id"] for c in fixture.conversations
                if c["metadata"]["start_time_unix_secs"] > after and c["analysis"]["call_successful"] == "failure"
                and c["agent_id"] == "agent_bank"}
    assert {c.conversation_id for c in page.conversations} == expected and expected and not page.has_more

    wanted = fixture.conversations[7]
    detail = client.conversational_ai.conversations.get(wanted["conversation_id"])
    assert detail.model_dump(exclude_unset=True, by_alias=True, mode="json") == wanted  # the exact record
    assert detail.has_audio is True
    audio = b"".join(client.conversational_ai.conversations.audio.get(wanted["conversation_id"]))
    assert audio == (fixture.root / "elevenlabs" / "audio" / f"{wanted['conversation_id']}.mp3").read_bytes()

    without_audio = fixture.conversations[6]  # has_audio false
    with pytest.raises(ApiError) as no_audio:
        b"".join(client.conversational_ai.conversations.audio.get(without_audio["conversation_id"]))
    assert no_audio.value.status_code == 404


def test_elevenlabs_client_needs_the_api_key(sandbox):
    with pytest.raises(ApiError) as refused:
        elevenlabs_client(sandbox, api_key="sk_wrong").conversational_ai.conversations.list()
    assert refused.value.status_code == 401


def test_official_clients_on_a_fresh_day_window(sandbox, fixture):
    """The clients' first request of a day-window ingestion: yesterday's messages only."""
    yesterday = (datetime.now(UTC) - timedelta(days=1)).strftime("%Y-%m-%d")
    listed = twilio_client(sandbox).messages.list(date_sent_after=yesterday, date_sent_before=yesterday)
    expected = [m for m in fixture.messages
                if parsedate_to_datetime(m["date_sent"]).strftime("%Y-%m-%d") == yesterday]
    assert [m.sid for m in listed] == [m["sid"] for m in newest_first(expected)] and expected
