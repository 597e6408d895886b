"""The channel renderers' output: provider shapes, cross-channel consistency, determinism.

One small simulated period (two days, a few hundred journeys built with the simulator's own
data model) is rendered once per module; every test reads the files as a consumer would.
"""

from __future__ import annotations

import base64
import hashlib
import json
import wave
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime
from pathlib import Path

import polars as pl
import pytest
import webvtt

from simulator.channels import ChannelRates, render_channels
from simulator.channels.audio import mp3_frames
from simulator.channels.twilio_sms import STATUS_RANK, sms_segments
from simulator.model import match_key
from simulator.population import build_population
from tests.channel_journeys import make_journeys

SEED = 11
START = datetime(2026, 3, 2, tzinfo=UTC)


def _render(out: Path, seed: int = SEED):
    population = build_population(seed, 400, 30)
    days = make_journeys(population, seed, START, 2, 130)
    # the period ends 20 s into the last call the assistant took: it is still going on
    last_ai = max(j.ai_started_at for j in days[-1] if j.channel_entry == "ai_agent")
    end = last_ai + timedelta(seconds=20)
    rates = ChannelRates()
    rates.ai_reminders = 0.15  # enough outbound reminders in a small sample to see every outcome
    counts = render_channels(out, population, iter(days), seed, START, end, rates)
    return population, end, counts


@pytest.fixture(scope="module")
def rendered(tmp_path_factory):
    out = tmp_path_factory.mktemp("channels")
    population, end, counts = _render(out)
    return out, population, end, counts


def _jsonl(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line]


def _iso(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def test_every_output_exists_and_counts_match_the_files(rendered):
    out, _, _, counts = rendered
    assert counts["elevenlabs_conversations"] == len(_jsonl(out / "elevenlabs/conversations.jsonl")) > 50
    assert counts["elevenlabs_webhooks"] == len(_jsonl(out / "elevenlabs/webhooks.jsonl")) > 50
    assert counts["twilio_messages"] == len(_jsonl(out / "twilio/messages.jsonl")) > 200
    assert counts["twilio_status_callbacks"] == len(_jsonl(out / "twilio/status_callbacks.jsonl"))
    assert counts["builderbot_webhooks"] == len(_jsonl(out / "builderbot/webhooks.jsonl")) > 20
    assert counts["webex_recordings"] == len(_jsonl(out / "webex/recordings/recordings.jsonl")) > 50
    assert counts["webex_transcripts"] == len(list((out / "webex/recordings/files").glob("*.vtt")))


def test_every_file_is_in_time_order(rendered):
    out = rendered[0]
    keys = {
        "elevenlabs/conversations.jsonl": lambda r: r["metadata"]["start_time_unix_secs"],
        "elevenlabs/webhooks.jsonl": lambda r: _iso(r["send_at"]).timestamp(),
        "twilio/messages.jsonl": lambda r: parsedate_to_datetime(r["date_created"]).timestamp(),
        "twilio/status_callbacks.jsonl": lambda r: _iso(r["send_at"]).timestamp(),
        "builderbot/webhooks.jsonl": lambda r: _iso(r["send_at"]).timestamp(),
        "webex/recordings/recordings.jsonl": lambda r: _iso(r["createTime"]).timestamp(),
    }
    for name, key in keys.items():
        values = [key(r) for r in _jsonl(out / name)]
        assert values == sorted(values), name


def test_the_same_seed_gives_the_same_bytes_and_another_seed_does_not(rendered, tmp_path):
    out = rendered[0]
    _render(tmp_path / "again")
    _render(tmp_path / "other", seed=SEED + 1)

    def digest(root: Path) -> dict[str, str]:
        return {str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
                for p in sorted(root.rglob("*")) if p.is_file()}

    first = digest(out)
    assert first == digest(tmp_path / "again")
    other = digest(tmp_path / "other")
    assert first["twilio/messages.jsonl"] != other["twilio/messages.jsonl"]


# ------------------------------------------------------------------------------------ Twilio


def test_every_sms_has_one_final_status_consistent_with_its_callbacks(rendered):
    out, _, end, _ = rendered
    messages = _jsonl(out / "twilio/messages.jsonl")
    callbacks: dict[str, list[dict]] = {}
    for cb in _jsonl(out / "twilio/status_callbacks.jsonl"):
        assert _iso(cb["send_at"]) <= end
        p = cb["params"]
        assert p["MessageSid"] == p["SmsSid"] and p["MessageStatus"] == p["SmsStatus"]
        callbacks.setdefault(p["MessageSid"], []).append(cb)
    sids = [m["sid"] for m in messages]
    assert len(sids) == len(set(sids))
    statuses = {m["status"] for m in messages}
    assert {"delivered", "undelivered", "received"} <= statuses
    for m in messages:
        assert m["sid"].startswith("SM") and len(m["sid"]) == 34
        assert m["num_segments"] == str(sms_segments(m["body"]))
        for f in ("date_created", "date_updated"):
            assert parsedate_to_datetime(m[f]).utcoffset() == timedelta(0)
        cbs = callbacks.get(m["sid"], [])
        if m["direction"] == "inbound":
            assert m["status"] == "received" and not cbs
            continue
        # the status a pipeline gets by merging callbacks by rank, whatever their order
        merged = max((c["params"]["MessageStatus"] for c in cbs), key=STATUS_RANK.__getitem__, default="accepted")
        assert m["status"] == merged, m["sid"]
        assert "initial" not in {c["params"]["MessageStatus"] for c in cbs}
        assert (m["error_code"] is not None) == (m["status"] in ("undelivered", "failed"))
        for c in cbs:
            p = c["params"]
            assert p["To"] == m["to"] and p["From"] == m["from"] and p["AccountSid"] == m["account_sid"]
            if p["MessageStatus"] in ("undelivered", "failed"):
                assert int(p["ErrorCode"]) == m["error_code"]
            if p["MessageStatus"] in ("delivered", "undelivered"):
                assert len(p["RawDlrDoneDate"]) == 10 and p["RawDlrDoneDate"].isdigit()
        if m["status"] in ("delivered", "undelivered"):
            assert m["price"] is not None and float(m["price"]) < 0
    # some callbacks really arrive out of order ("sent" after the final status)
    late = 0
    for cbs in callbacks.values():
        names = [c["params"]["MessageStatus"] for c in cbs]
        if "sent" in names and names[-1] == "sent" and len(names) > 2:
            late += 1
    assert late > 0


# -------------------------------------------------------------------------------- ElevenLabs


def test_conversations_are_complete_detail_objects_linked_to_sms_and_webhooks(rendered):
    out, population, end, _ = rendered
    conversations = _jsonl(out / "elevenlabs/conversations.jsonl")
    webhooks = _jsonl(out / "elevenlabs/webhooks.jsonl")
    messages = {m["sid"]: m for m in _jsonl(out / "twilio/messages.jsonl")}
    transcription = {w["payload"]["data"]["conversation_id"]: w for w in webhooks
                     if w["type"] == "post_call_transcription"}
    audio_hooks = {w["payload"]["data"]["conversation_id"]: w for w in webhooks if w["type"] == "post_call_audio"}
    failures = {w["payload"]["data"]["conversation_id"]: w for w in webhooks if w["type"] == "call_initiation_failure"}
    assert transcription and audio_hooks and failures
    ids = [c["conversation_id"] for c in conversations]
    assert len(ids) == len(set(ids))
    seen_status = set()
    otp_links = transfers = 0
    queue_numbers = {q.number for q in population.queues}
    for c in conversations:
        seen_status.add(c["status"])
        for key in ("agent_id", "conversation_id", "status", "transcript", "metadata", "analysis",
                    "has_audio", "has_user_audio", "has_response_audio", "conversation_initiation_client_data"):
            assert key in c
        meta = c["metadata"]
        times = [t["time_in_call_secs"] for t in c["transcript"]]
        assert times == sorted(times) and all(0 <= t <= max(meta["call_duration_secs"], 0) for t in times)
        assert meta["phone_call"]["type"] in ("sip_trunking", "twilio")
        assert meta["phone_call"]["external_number"].startswith("+")
        if c["status"] == "done":
            assert c["analysis"]["call_successful"] in ("success", "failure", "unknown")
            assert c["analysis"]["transcript_summary"]
            # the webhook carries the same object the API returns
            assert transcription[c["conversation_id"]]["payload"]["data"] == c
        else:
            assert c["analysis"] is None and c["conversation_id"] not in transcription
        if c["status"] == "failed":
            assert c["conversation_id"] in failures and c["transcript"] == []
        audio = out / "elevenlabs/audio" / f"{c['conversation_id']}.mp3"
        assert audio.exists() == c["has_audio"]
        if c["has_audio"]:
            assert mp3_frames(audio.read_bytes())
            if c["conversation_id"] in audio_hooks:
                data = audio_hooks[c["conversation_id"]]["payload"]["data"]
                assert set(data) == {"agent_id", "conversation_id", "full_audio"}
                assert base64.b64decode(data["full_audio"]) == audio.read_bytes()
        for turn in c["transcript"]:
            for call in turn["tool_calls"]:
                if call["tool_name"] == "transfer_to_number":  # escalations go back to a queue's DID
                    assert json.loads(call["params_as_json"])["transfer_number"] in queue_numbers
                    transfers += 1
            for result in turn["tool_results"]:
                if result["tool_name"] in ("enviar_otp", "enviar_link_pago"):
                    sid = json.loads(result["result_value"])["twilio_message_sid"]
                    sms = messages[sid]  # the OTP the assistant sent really exists
                    assert sms["to"] == meta["phone_call"]["external_number"] or sms["to"].startswith("+")
                    otp_links += 1
    assert {"done", "failed"} <= seen_status
    assert seen_status & {"processing", "in-progress"}, "the period ends while calls are still analysed"
    assert otp_links > 5 and transfers > 5
    for w in webhooks:
        assert _iso(w["send_at"]) <= end
        assert w["payload"]["type"] == w["type"]


# -------------------------------------------------------------------------------- recordings


def test_recordings_have_list_metadata_fields_and_valid_vtt_and_wav(rendered):
    out, population, _, _ = rendered
    files = out / "webex/recordings/files"
    lines = _jsonl(out / "webex/recordings/recordings.jsonl")
    styles = set()
    languages = set()
    outbound = 0
    for r in lines:
        for key in ("id", "topic", "createTime", "timeRecorded", "ownerId", "ownerEmail", "ownerType",
                    "format", "durationSeconds", "sizeBytes", "serviceType", "storageRegion", "status",
                    "serviceData"):
            assert key in r
        assert r["topic"].startswith("Call with ")
        meta = r["metadata"]
        sd = meta["serviceData"]
        # the remote party is the called party when the agent dialled (webex.md §2)
        remote = sd["calledParty"] if sd["personality"] == "originator" else sd["callingParty"]
        assert "actor" not in remote and remote["number"].startswith("sip:+")
        assert meta["id"] == r["id"] and meta["ownerId"] == r["ownerId"]
        assert meta["serviceData"]["callId"].startswith("callhalf-")
        assert meta["serviceData"]["callSessionId"] == r["serviceData"]["callSessionId"]
        agent_uuids = {a.user_uuid for a in population.agents}
        assert r["ownerId"] in agent_uuids
        with wave.open(str(files / f"{r['id']}.wav")) as w:
            assert w.getnchannels() == 1 and w.getframerate() == 8000 and w.getnframes() > 0
        vtt_path = files / f"{r['id']}.vtt"
        if not vtt_path.exists():
            continue
        vtt = webvtt.read(str(vtt_path))
        assert len(vtt.captions) >= 5
        ends = [c.end_in_seconds for c in vtt.captions]
        assert ends == sorted(ends) and ends[-1] <= r["durationSeconds"] + 0.01
        first = vtt.captions[0]
        if first.voice:
            styles.add("voice")
            assert all(c.voice for c in vtt.captions)
        else:
            assert first.identifier.startswith('1 "')
            styles.add("cue_id")
        text = " ".join(c.text for c in vtt.captions)
        languages.add("en" if " the " in f" {text} " else "es")
        if sd["personality"] == "originator":  # an outbound call: the agent opens by naming the customer
            outbound += 1
            assert "?" in vtt.captions[0].text and "Banco Andino" in vtt.captions[0].text
    assert styles == {"voice", "cue_id"}
    assert languages == {"es", "en"}
    assert outbound > 0


# ---------------------------------------------------------------------------------- WhatsApp


def test_builderbot_webhooks_have_the_observed_shapes(rendered):
    out, population, _, _ = rendered
    by_wa = {c.whatsapp_id: c for c in population.customers if c.whatsapp_id}
    hooks = _jsonl(out / "builderbot/webhooks.jsonl")
    kinds = set()
    for h in hooks:
        p = h["payload"]
        data = p["data"]
        assert p["eventName"] in ("message.incoming", "message.outgoing")
        assert data["from"].isdigit() and data["from"] in by_wa
        if p["eventName"] == "message.incoming":
            assert {"body", "name", "from", "attachment"} <= set(data)
            if data["body"].startswith("_event_voice_note__"):
                kinds.add("voice_note")
                assert data["attachment"][0]["mimetype"].startswith("audio/ogg")
                assert data["urlTempFile"] == data["attachment"][0]["url"]
            else:
                kinds.add("text")
        else:
            assert ("body" in data) != ("answer" in data)
            kinds.add("answer" if "answer" in data else "body")
    assert kinds == {"voice_note", "text", "answer", "body"}


# ------------------------------------------------------------------------------------- truth


def test_identity_truth_agrees_with_every_channel(rendered):
    out, population, _, _ = rendered
    truth = pl.read_parquet(out / "truth/channel_contacts.parquet")
    identities = pl.read_parquet(out / "truth/customer_identities.parquet")
    assert identities.height == sum(len(c.phones) for c in population.customers)
    conversations = {c["conversation_id"]: c for c in _jsonl(out / "elevenlabs/conversations.jsonl")}
    messages = {m["sid"]: m for m in _jsonl(out / "twilio/messages.jsonl")}
    wa_senders = {h["payload"]["data"]["from"] for h in _jsonl(out / "builderbot/webhooks.jsonl")}
    recordings = {r["id"] for r in _jsonl(out / "webex/recordings/recordings.jsonl")}
    phones = {c.customer_id: {p.e164 for p in c.phones} for c in population.customers}
    assert set(truth.filter(pl.col("channel") == "elevenlabs")["object_id"]) == set(conversations)
    assert set(truth.filter(pl.col("channel") == "twilio")["object_id"]) == set(messages)
    assert set(truth.filter(pl.col("channel") == "webex_recording")["object_id"]) == recordings
    mx_folded = 0
    for row in truth.iter_rows(named=True):
        cid = row["customer_id"]
        if row["channel"] == "elevenlabs":
            assert conversations[row["object_id"]]["metadata"]["phone_call"]["external_number"] == row["number_e164"]
        elif row["channel"] == "twilio":
            m = messages[row["object_id"]]
            assert row["number_e164"] in (m["to"], m["from"])
            assert row["number_e164"] in phones[cid]
            assert m["status"] == row["status"]
        elif row["channel"] == "whatsapp":
            customer = population.customer(cid)
            assert row["whatsapp_id"] == customer.whatsapp_id and row["whatsapp_id"] in wa_senders
            # the WhatsApp id and the dialable number fold to one match key (521… / 549…)
            assert row["match_key"] == match_key(customer.primary_phone.e164)
            mx_folded += row["whatsapp_id"].startswith("521")
        if cid and row["journey_id"] and row["channel"] in ("elevenlabs", "webex_recording"):
            assert row["number_e164"] in phones[cid]  # the call came from the customer's own phone
    assert mx_folded > 0
    otp_rows = truth.filter((pl.col("channel") == "twilio") & (pl.col("kind") == "otp") & pl.col("journey_id").is_not_null())
    assert otp_rows.height > 0
