"""Small hand-built simulator folders (the simulator/README.md layout) for the sandbox tests.

Times are relative to the moment the fixture is written, because the sandbox applies the real
providers' window rules against wall-clock now."""

from __future__ import annotations

import base64
import json
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from pathlib import Path

ORG_UUID = "5f0e9a57-1c1d-4b6a-9d43-0a1b2c3d4e5f"
LOCATIONS = [("Bogota Centro", "1a7c3e55-0000-4000-8000-000000000001"),
             ("Medellin Norte", "1a7c3e55-0000-4000-8000-000000000002"),
             ("Cali Sur", "1a7c3e55-0000-4000-8000-000000000003")]


def webex_id(kind: str, raw_uuid: str) -> str:
    return base64.b64encode(f"ciscospark://us/{kind}/{raw_uuid}".encode()).decode().rstrip("=")


def iso_ms(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


@dataclass
class Fixture:
    root: Path
    now: datetime
    cdrs: list[dict] = field(default_factory=list)  # {"inserted_at", "record"} in file order
    people: list[dict] = field(default_factory=list)
    locations: list[dict] = field(default_factory=list)
    recordings: list[dict] = field(default_factory=list)
    conversations: list[dict] = field(default_factory=list)
    messages: list[dict] = field(default_factory=list)
    account_sid: str = "AC" + "3f" * 16


def cdr_record(number: int, start: datetime, location: str, site_uuid: str, user_uuid: str) -> dict:
    return {
        "Report ID": str(uuid.UUID(int=number + 1)),
        "Start time": iso_ms(start) if start else "",
        # written after the call ends, so its order differs from the start order
        "Report time": iso_ms(start + timedelta(seconds=8 + 30 + number % 200 + 5)) if start else "",
        "Answer time": iso_ms(start + timedelta(seconds=8)) if start else "",
        "Answered": "true" if number % 3 else "false",
        "Direction": "TERMINATING",
        "Calling number": f"+57300555{number:04d}",
        "Called number": "+576015550100",
        "Duration": 30 + number % 200,
        "Ring duration": str(number % 20),
        "Location": location,
        "Site UUID": site_uuid,
        "User UUID": user_uuid,
        "Org UUID": ORG_UUID,
        "Call transfer Time": "",  # spec spelling of a key whose case differs in real payloads
        "Called line ID": "NA",
        "Correlation ID": str(uuid.UUID(int=10_000 + number // 2)),
        "User": "Agente \"Uno\" / ñandú",  # escapes and non-ASCII survive byte-for-byte
    }


def build_fixture(root: Path, *, cdr_count: int = 1300, now: datetime | None = None) -> Fixture:
    """A folder with every provider's files. CDRs: `cdr_count` records whose start times step
    back 2 s from 10 minutes ago (pairs share a millisecond, a few have a blank Start time),
    inserted 90 s after they start; a few lines use another key order."""
    now = now or datetime.now(UTC)
    fixture = Fixture(root=root, now=now)
    (root / "webex" / "cdr").mkdir(parents=True)

    for name, raw in LOCATIONS:
        fixture.locations.append({"id": webex_id("LOCATION", raw), "name": name, "orgId": webex_id("ORGANIZATION", ORG_UUID),
                                  "timeZone": "America/Bogota", "address": {"city": name.split()[0], "country": "CO"}})
    for i in range(7):
        raw = f"9b2f4c10-0000-4000-8000-{i:012d}"
        fixture.people.append({"id": webex_id("PEOPLE", raw), "emails": [f"agente{i}@banco.example"],
                               "displayName": f"Agente {i}", "firstName": "Agente", "lastName": str(i),
                               "locationId": fixture.locations[i % 3]["id"],
                               "orgId": webex_id("ORGANIZATION", ORG_UUID), "type": "person"})
    people_uuids = [f"9b2f4c10-0000-4000-8000-{i:012d}" for i in range(7)]

    newest_start = now - timedelta(minutes=10)
    for number in range(cdr_count):
        # pairs of records share a start millisecond, so a page boundary can fall inside a tie
        start = newest_start - timedelta(seconds=2 * (number // 2), milliseconds=(number // 2) % 7)
        start = start.replace(microsecond=(start.microsecond // 1000) * 1000)
        location, site = LOCATIONS[number % 3]
        blank = number % 97 == 13
        record = cdr_record(number, None if blank else start, location, site, people_uuids[number % 7])
        fixture.cdrs.append({"inserted_at": iso_ms((start if not blank else newest_start - timedelta(minutes=5))
                                                   + timedelta(seconds=90)),
                             "record": record})
    fixture.cdrs.sort(key=lambda line: line["inserted_at"])
    by_day: dict[str, list[str]] = {}
    for index, line in enumerate(fixture.cdrs):
        if index % 50 == 7:  # another key order: the index must not depend on the wrapper's layout
            text = json.dumps({"record": line["record"], "inserted_at": line["inserted_at"]}, ensure_ascii=False)
        else:
            text = json.dumps(line, ensure_ascii=False)
        by_day.setdefault(line["inserted_at"][:10], []).append(text)
    for day, lines in by_day.items():
        (root / "webex" / "cdr" / f"{day}.jsonl").write_text("\n".join(lines) + "\n", encoding="utf-8")

    (root / "webex" / "people.json").write_text(json.dumps({"items": fixture.people}), encoding="utf-8")
    (root / "webex" / "locations.json").write_text(json.dumps(fixture.locations), encoding="utf-8")
    _write_recordings(fixture, people_uuids)
    _write_conversations(fixture)
    _write_messages(fixture)
    (root / "manifest.json").write_text(json.dumps({"seed": 0, "webex_org_id": ORG_UUID}), encoding="utf-8")
    return fixture


def _write_recordings(fixture: Fixture, owners: list[str]) -> None:
    folder = fixture.root / "webex" / "recordings" / "files"
    folder.mkdir(parents=True)
    for i in range(25):
        created = fixture.now - timedelta(hours=3 * i + 1)
        recording_id = f"c0ffee00-0000-4000-8000-{i:012d}"
        owner = owners[i % 2]
        fixture.recordings.append({
            "id": recording_id, "topic": f"Call with +57300555{i:04d}-{created:%Y%m%d %H%M}",
            "createTime": iso_ms(created), "timeRecorded": iso_ms(created - timedelta(minutes=4)),
            "format": "MP3", "serviceType": "calling", "durationSeconds": 200 + i, "sizeBytes": 1000 + i,
            "status": "deleted" if i == 3 else "available", "ownerId": owner, "ownerEmail": f"agente{i % 2}@banco.example",
            "ownerType": "user", "storageRegion": "US",
            "serviceData": {"locationId": fixture.locations[i % 3]["id"], "callSessionId": str(uuid.UUID(int=i))},
            "metadata": {"id": recording_id, "orgId": ORG_UUID, "ownerId": owner, "version": "1.2",
                         "serviceData": {"callId": f"callhalf-{1000 + i}:0", "personality": "terminator",
                                         "callActivity": [{"timeStamp": iso_ms(created),
                                                           "mediaStreams": [{"streamId": "1", "mode": "sendrecv"}],
                                                           "participants": [{"actor": {"type": "USER"}}]}]}},
        })
        (folder / f"{recording_id}.vtt").write_text(
            f'WEBVTT\n\n1 "Agente {i % 2}" (100{i}) ({owner})\n00:00:00.500 --> 00:00:02.000\nBuenos días.\n',
            encoding="utf-8")
        (folder / f"{recording_id}.wav").write_bytes(b"RIFF" + bytes([i]) * 40)
    with open(fixture.root / "webex" / "recordings" / "recordings.jsonl", "w", encoding="utf-8") as handle:
        for recording in fixture.recordings:
            handle.write(json.dumps(recording) + "\n")


def _write_conversations(fixture: Fixture) -> None:
    audio = fixture.root / "elevenlabs" / "audio"
    audio.mkdir(parents=True)
    base = int(fixture.now.timestamp()) - 86_400
    for i in range(73):
        conversation_id = f"conv_{i:04d}sandboxfixture"
        start = base + 600 * (i // 2)  # pairs share a start second: the cursor must break ties
        fixture.conversations.append({
            "agent_id": "agent_bank" if i % 4 else "agent_cards", "agent_name": "Asistente",
            "conversation_id": conversation_id, "status": "done" if i % 10 else "processing",
            "user_id": f"user{i % 5}",
            "transcript": [{"role": "agent", "message": "Hola, ¿en qué le ayudo?", "time_in_call_secs": 0},
                           {"role": "user", "message": "Mi saldo", "time_in_call_secs": 3},
                           {"role": "agent", "message": None, "time_in_call_secs": 4,
                            "tool_calls": [{"tool_name": "consultar_saldo", "request_id": f"r{i}"}]}],
            "metadata": {"start_time_unix_secs": start, "call_duration_secs": 60 + i,
                         "phone_call": {"type": "twilio", "direction": "inbound",
                                        "external_number": f"+57310555{i:04d}"}},
            "analysis": {"call_successful": ("success", "failure", "unknown")[i % 3],
                         "transcript_summary": f"Resumen {i}"},
            "has_audio": i % 3 != 0, "has_user_audio": False, "has_response_audio": False,
        })
        if i % 3 != 0:
            (audio / f"{conversation_id}.mp3").write_bytes(b"ID3" + bytes([i % 256]) * 64)
    with open(fixture.root / "elevenlabs" / "conversations.jsonl", "w", encoding="utf-8") as handle:
        for conversation in fixture.conversations:
            handle.write(json.dumps(conversation, ensure_ascii=False) + "\n")


def _write_messages(fixture: Fixture) -> None:
    (fixture.root / "twilio").mkdir(parents=True)
    day_start = (fixture.now - timedelta(days=3)).replace(hour=0, minute=0, second=0, microsecond=0)
    for i in range(57):
        sent = day_start + timedelta(hours=1, minutes=55 * i)  # spans about three days
        sid = f"SM{i:032x}"
        fixture.messages.append({
            "sid": sid, "account_sid": fixture.account_sid, "messaging_service_sid": None,
            "from": "+15005550006" if i % 4 else "+573105550199", "to": f"+57300555{i:04d}",
            "body": f"Su código es {100000 + i}", "status": "delivered" if i % 5 else "undelivered",
            "direction": "outbound-api", "num_segments": "2", "num_media": "0", "price": "-0.00750",
            "price_unit": "USD", "error_code": None if i % 5 else 30003, "error_message": None,
            "date_created": format_datetime(sent, usegmt=True).replace("GMT", "+0000"),
            "date_sent": format_datetime(sent, usegmt=True).replace("GMT", "+0000"),
            "date_updated": format_datetime(sent + timedelta(seconds=5), usegmt=True).replace("GMT", "+0000"),
            "api_version": "2010-04-01",
            "uri": f"/2010-04-01/Accounts/{fixture.account_sid}/Messages/{sid}.json",
            "subresource_uris": {"media": f"/2010-04-01/Accounts/{fixture.account_sid}/Messages/{sid}/Media.json"},
        })
    with open(fixture.root / "twilio" / "messages.jsonl", "w", encoding="utf-8") as handle:
        for message in fixture.messages:
            handle.write(json.dumps(message, ensure_ascii=False) + "\n")
