"""Smoke test: the sandbox serves what `simulator.contact_center.simulate` writes (a small
center, yesterday in Bogota, so the data ends shortly before now as in a demo)."""

from __future__ import annotations

import base64
import re
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import httpx
import orjson
import pytest
from elevenlabs import ElevenLabs
from twilio.rest import Client

from simulator.sandbox import run_sandbox
from tests.sandbox_fixtures import iso_ms

LINK_NEXT = re.compile(r'<([^>]+)>\s*;\s*rel="next"')


@pytest.fixture(scope="module")
def simulated(tmp_path_factory):
    from simulator.contact_center import simulate

    out = tmp_path_factory.mktemp("sandbox_simulated")
    # the last weekday that has ended in Bogota (it ends at local midnight, always in the past): a
    # weekend day carries a fifth of a weekday's calls, too few to fill the probe's page below, so
    # the fixture's day must not follow the calendar (the test failed on Mondays)
    end = datetime.now(ZoneInfo("America/Bogota")).date()
    while (end - timedelta(days=1)).weekday() >= 5:
        end -= timedelta(days=1)
    simulate(out, agents=6, days=1, end=end, seed=11, asterisk=False)
    return out


@pytest.fixture(scope="module")
def sandbox(simulated):
    with run_sandbox(simulated, time_scale=60, limits=False) as running:
        yield running


def written_cdrs(root):
    lines = []
    for path in sorted((root / "webex" / "cdr").glob("*.jsonl")):
        lines += [orjson.loads(line) for line in path.read_bytes().splitlines() if line.strip()]
    return lines


def walk(client, url, params, headers):
    items = []
    response = client.get(url, params=params, headers=headers)
    if response.status_code == 404:
        return items
    while True:
        assert response.status_code == 200, response.text
        items += response.json()["items"]
        match = LINK_NEXT.search(response.headers.get("link", ""))
        if not match:
            return items
        response = client.get(match.group(1), headers=headers)


def test_cdr_feed_serves_every_simulated_record_once(sandbox, simulated):
    lines = written_cdrs(simulated)
    starts = sorted(line["record"]["Start time"] for line in lines if line["record"].get("Start time"))
    first = datetime.strptime(starts[0], "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=UTC)
    last_allowed = datetime.now(UTC) - timedelta(minutes=6)
    headers = {"Authorization": f"Bearer {sandbox.tokens.issue_access_token()}"}
    served, cursor = [], first.replace(microsecond=0)
    with httpx.Client(timeout=30) as client:
        while cursor < last_allowed:
            end = min(cursor + timedelta(hours=12), last_allowed)
            served += walk(client, f"{sandbox.base_urls.webex_analytics}/cdr_feed",
                           {"startTime": iso_ms(cursor), "endTime": iso_ms(end), "max": "500"}, headers)
            cursor = end
        # the server-added orgId is the org's raw UUID, as the CDRs carry it
        busiest = max(starts[len(starts) // 2:len(starts) // 2 + 1])
        probe = datetime.strptime(busiest, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=UTC)
        page = client.get(f"{sandbox.base_urls.webex_analytics}/cdr_feed", headers=headers, params={
            "startTime": iso_ms(probe - timedelta(hours=6)), "endTime": iso_ms(min(probe + timedelta(hours=6), last_allowed)),
            "max": "500"})
        assert page.status_code == 200 and "link" in page.headers
        assert f"orgId={lines[0]['record']['Org UUID']}" in page.headers["link"]
    expected = [line["record"] for line in lines
                if line["record"].get("Start time") and line["record"]["Start time"] < iso_ms(last_allowed)]
    assert len(served) == len(expected) > 100
    assert sorted(orjson.dumps(r) for r in served) == sorted(orjson.dumps(r) for r in expected)


def test_people_ids_decode_to_cdr_user_uuids(sandbox, simulated):
    headers = {"Authorization": f"Bearer {sandbox.tokens.issue_access_token()}"}
    people = walk(httpx.Client(), f"{sandbox.base_urls.webex_api}/people", {"max": "2"}, headers)
    uuids = {base64.b64decode(p["id"] + "==").decode().rsplit("/", 1)[1] for p in people}
    agents_in_cdrs = {line["record"]["User UUID"] for line in written_cdrs(simulated)
                      if line["record"].get("User type") == "User"}
    assert agents_in_cdrs and agents_in_cdrs <= uuids


def test_recordings_conversations_and_messages_are_served(sandbox, simulated):
    headers = {"Authorization": f"Bearer {sandbox.tokens.issue_access_token()}"}
    written = [orjson.loads(line) for line in (simulated / "webex/recordings/recordings.jsonl").read_bytes().splitlines()]
    now = datetime.now(UTC)
    # a week back: the fixture's day is the last weekday that has ended, four days and more back on
    # a Monday (three days left Friday's morning out once Monday passed noon UTC)
    listed = walk(httpx.Client(), f"{sandbox.base_urls.webex_api}/admin/convergedRecordings",
                  {"from": iso_ms(now - timedelta(days=7)), "to": iso_ms(now), "max": "100"}, headers)
    assert {r["id"] for r in listed} == {r["id"] for r in written if r["status"] == "available"}
    details = httpx.get(f"{sandbox.base_urls.webex_api}/convergedRecordings/{written[0]['id']}", headers=headers).json()
    audio = httpx.get(details["temporaryDirectDownloadLinks"]["audioDownloadLink"])
    assert audio.status_code == 200 and audio.content[:4] == b"RIFF"

    env = sandbox.env()
    eleven = ElevenLabs(api_key=env["ELEVENLABS_API_KEY"], base_url=env["ELEVENLABS_BASE_URL"])
    conversations = [orjson.loads(line) for line in (simulated / "elevenlabs/conversations.jsonl").read_bytes().splitlines()]
    seen, cursor = [], None
    while True:
        page = eleven.conversational_ai.conversations.list(page_size=100, cursor=cursor)
        seen += [c.conversation_id for c in page.conversations]
        if not page.has_more:
            break
        cursor = page.next_cursor
    assert sorted(seen) == sorted(c["conversation_id"] for c in conversations)
    detail = eleven.conversational_ai.conversations.get(conversations[0]["conversation_id"])
    assert len(detail.transcript) == len(conversations[0]["transcript"])

    twilio = Client(env["TWILIO_ACCOUNT_SID"], env["TWILIO_AUTH_TOKEN"])
    twilio.api.base_url = env["TWILIO_BASE_URL"]
    messages = [orjson.loads(line) for line in (simulated / "twilio/messages.jsonl").read_bytes().splitlines()]
    assert sorted(m.sid for m in twilio.messages.list(page_size=1000)) == sorted(m["sid"] for m in messages)
