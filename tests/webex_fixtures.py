"""Hand-built Webex fixture data for the ingestion tests (own data, not the simulator's).

Records use a realistic subset of the CDR keys with the API's quirks: case variants of a key
("Call transfer time" / "Call transfer Time"), "NA"/"na"/"" for missing values, "true"/"false"
booleans, "Ring duration" as a string, "Release time" without a zone, a new key.
"""

from __future__ import annotations

import base64
import random
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import orjson


def iso(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def cdr_record(rng: random.Random, start: datetime, *, report_id: str | None = None,
               report_time: datetime | None = None, variant: bool = False) -> dict:
    answered = rng.random() < 0.8
    duration = rng.randint(5, 600) if answered else 0
    ringing = rng.randint(0, 30)
    answer = start + timedelta(seconds=rng.randint(1, 20)) if answered else None
    # Duration is answer -> release (webex.md); an unanswered leg rings until it is released
    release = answer + timedelta(seconds=duration) if answered else start + timedelta(seconds=ringing)
    record = {
        "Answer time": iso(answer) if answered else "",
        "Answered": "true" if answered else "false",
        "Direction": rng.choice(["ORIGINATING", "TERMINATING"]),
        "Called line ID": "NA",
        "Call ID": f"SSE{rng.getrandbits(60)}@10.1.2.3",
        "Start time": iso(start),
        "Call type": rng.choice(["SIP_INBOUND", "SIP_NATIONAL", "SIP_MOBILE", "SIP_ENTERPRISE"]),
        "Correlation ID": str(uuid.UUID(int=rng.getrandbits(128))),
        "Duration": duration,
        "OS type": "na",
        "Report ID": report_id or str(uuid.UUID(int=rng.getrandbits(128))),
        "Report time": iso(report_time or release + timedelta(seconds=2)),
        "Site timezone": "-300",
        "User UUID": str(uuid.UUID(int=rng.getrandbits(128))),
        "User type": rng.choice(["User", "CallCenterStandard", "AutomatedAttendantVideo"]),
        "User": rng.choice(["Ana Pérez", "Tarjetas", "AA Principal"]),
        "Called number": rng.choice(["6015550100", "1001", "+576045550199"]),
        "Calling number": rng.choice(["3001234567", "+12125550147", "1002", "018000123456"]),
        "Location": "Bogotá",
        "Local SessionID": f"{rng.getrandbits(128):032x}",
        "Local call ID": f"{rng.randint(10**8, 10**9)}:0",
        "Ring duration": str(rng.randint(0, 30)),
        "Release time": release.strftime("%Y-%m-%d %H:%M:%S.") + f"{release.microsecond // 1000:03d}",
        "Auto Attendant Key Pressed": "NA",
        "Hold duration": rng.randint(0, 40),
        "Interaction ID": "",
        "Brand new 2027 key": "x" if rng.random() < 0.5 else "",
    }
    transfer_key = "Call transfer Time" if variant else "Call transfer time"
    record[transfer_key] = ""
    return record


def write_cdr_files(root: Path, rows: list[tuple[datetime, dict]]) -> None:
    """`root/webex/cdr/YYYY-MM-DD.jsonl` lines {"inserted_at", "record"}, sorted by inserted_at."""
    folder = root / "webex" / "cdr"
    folder.mkdir(parents=True, exist_ok=True)
    by_day: dict[str, list] = {}
    for inserted, record in sorted(rows, key=lambda r: r[0]):
        by_day.setdefault(inserted.strftime("%Y-%m-%d"), []).append(
            orjson.dumps({"inserted_at": iso(inserted), "record": record}))
    for old in folder.glob("*.jsonl"):
        old.unlink()
    for day, lines in by_day.items():
        (folder / f"{day}.jsonl").write_bytes(b"\n".join(lines) + b"\n")


def cdr_fixture(now: datetime, n: int, *, oldest: timedelta, newest: timedelta, seed: int = 1,
                insert_delay: timedelta = timedelta(minutes=2)) -> list[tuple[datetime, dict]]:
    """n records whose Start time is spread over [now - oldest, now - newest]."""
    rng = random.Random(seed)
    span = (oldest - newest).total_seconds()
    rows = []
    for i in range(n):
        start = now - oldest + timedelta(seconds=rng.random() * span)
        start = start.replace(microsecond=start.microsecond // 1000 * 1000)
        record = cdr_record(rng, start, variant=i % 7 == 0)
        rows.append((start + insert_delay + timedelta(seconds=record["Duration"]), record))
    return rows


def webex_id(kind: str, raw_uuid: str) -> str:
    return base64.b64encode(f"ciscospark://us/{kind}/{raw_uuid}".encode()).decode().rstrip("=")


def write_directory(root: Path, n_people: int = 7) -> tuple[list[dict], list[dict]]:
    rng = random.Random(5)
    locations = []
    for name, tz in (("Bogotá", "America/Bogota"), ("Medellín", "America/Bogota")):
        loc_uuid = str(uuid.UUID(int=rng.getrandbits(128)))
        locations.append({"id": webex_id("LOCATION", loc_uuid), "name": name, "timeZone": tz,
                          "address": {"address1": "Calle 1", "city": name, "country": "CO"},
                          "orgId": webex_id("ORGANIZATION", "0b1c0000-0000-4000-8000-000000000001")})
    people = []
    for i in range(n_people):
        person_uuid = str(uuid.UUID(int=rng.getrandbits(128)))
        people.append({"id": webex_id("PEOPLE", person_uuid), "emails": [f"agent{i}@bank.example"],
                       "displayName": f"Agente {i}", "firstName": "Agente", "lastName": str(i),
                       "extension": str(2000 + i), "locationId": locations[i % 2]["id"],
                       "phoneNumbers": [{"type": "work", "value": f"+57601555{i:04d}", "primary": True}],
                       "orgId": locations[0]["orgId"], "type": "person", "status": "active",
                       "created": "2026-01-05T10:00:00.000Z"})
    folder = root / "webex"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "people.json").write_bytes(orjson.dumps({"items": people}))
    (folder / "locations.json").write_bytes(orjson.dumps({"items": locations}))
    return people, locations
