"""The channels rendered by the real call simulator (``simulate()``) line up with its Webex
output and truth: one ElevenLabs conversation per AI-agent journey, recordings that join to CDR
legs and people by the documented keys, SMS and WhatsApp on the customers' own numbers."""

from __future__ import annotations

import base64
import json
from pathlib import Path

import polars as pl
import pytest

from simulator.contact_center import simulate


@pytest.fixture(scope="module")
def site(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("site")
    simulate(out, agents=6, days=1, seed=4, asterisk=False)
    return out


def _jsonl(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line]


def test_one_conversation_per_ai_journey_from_the_callers_number(site):
    journeys = pl.read_parquet(site / "truth/journeys.parquet")
    contacts = pl.read_parquet(site / "truth/channel_contacts.parquet")
    conversations = {c["conversation_id"]: c for c in _jsonl(site / "elevenlabs/conversations.jsonl")}
    ai = journeys.filter(pl.col("channel_entry") == "ai_agent")
    assert ai.height > 10
    inbound = contacts.filter((pl.col("channel") == "elevenlabs") & pl.col("journey_id").is_not_null())
    assert sorted(inbound["journey_id"]) == sorted(ai["journey_id"])
    callers = dict(zip(ai["journey_id"], ai["caller_number"], strict=True))
    for journey_id, conversation_id in zip(inbound["journey_id"], inbound["object_id"], strict=True):
        phone_call = conversations[conversation_id]["metadata"]["phone_call"]
        assert phone_call["external_number"] == callers[journey_id]


def test_recordings_join_cdr_legs_and_people_by_the_documented_keys(site):
    records = [line["record"] for p in sorted((site / "webex/cdr").glob("*.jsonl")) for line in _jsonl(p)]
    correlation_ids = {r["Correlation ID"] for r in records}
    local_call_ids = {r["Local call ID"] for r in records}
    people = json.loads((site / "webex/people.json").read_text())
    person_uuids = {base64.b64decode(p["id"] + "==").decode().rsplit("/", 1)[1] for p in people}
    recordings = _jsonl(site / "webex/recordings/recordings.jsonl")
    assert len(recordings) > 10
    for r in recordings:
        assert r["ownerId"] in person_uuids
        assert r["serviceData"]["callSessionId"] in correlation_ids
        call_id = r["metadata"]["serviceData"]["callId"]
        assert call_id.startswith("callhalf-") and call_id.removeprefix("callhalf-") in local_call_ids


def test_messages_and_chats_reach_the_customers_own_numbers(site):
    customers = pl.read_parquet(site / "truth/customer_identities.parquet")
    numbers = set(customers["number_e164"])
    whatsapp_ids = set(customers["whatsapp_id"].drop_nulls())
    messages = _jsonl(site / "twilio/messages.jsonl")
    assert messages
    for m in messages:
        customer_side = m["from"] if m["direction"] == "inbound" else m["to"]
        assert customer_side in numbers
    for hook in _jsonl(site / "builderbot/webhooks.jsonl"):
        assert hook["payload"]["data"]["from"] in whatsapp_ids
