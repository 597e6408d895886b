"""Webex side files besides the CDR stream: people, locations, call features, Control Hub CSV.

* ``people.json`` — ``GET /v1/people`` items (``callingData=true`` shape): base64 ``id``
  (``ciscospark://us/PEOPLE/<uuid>``, the UUID is the CDR ``User UUID``), ``locationId``
  (base64 of the CDR ``Site UUID``), ``extension``, ``phoneNumbers``…
* ``locations.json`` — ``GET /v1/locations`` items (``name`` = CDR ``Location``).
* ``call_queues.json`` / ``auto_attendants.json`` / ``virtual_lines.json`` — the
  ``/v1/telephony/config/{queues,autoAttendants,virtualLines}`` list bodies, so a loader can
  name the service UUIDs it meets in CDRs.
* ``control_hub/Calling Detailed Call History_<id>_<date>.csv`` — the Control Hub report
  ("Calling Detailed Call History" template) for one or more local days: UTF-8 with a BOM,
  a header of the same 87 field names as the API (wxcadm reads report lines with the API key
  names), one row per record whose ``Start time`` falls in the report's days (in the org's time
  zone), in the order the records were inserted, values as the API gives them (``true``/
  ``false``, ``NA``, empty strings).
"""

from __future__ import annotations

import csv
import hashlib
from collections.abc import Iterable
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import orjson

from simulator.model import Population, webex_id
from simulator.webex_cdr import KEYS, SPEC_SPELLING

__all__ = ["write_control_hub_csv", "write_directory"]

_TITLES = {
    "agent": "Asesor de servicio",
    "collections": "Gestor de cobranza",
    "supervisor": "Supervisor de centro de contacto",
    "backoffice": "Analista de back office",
}
_DEPARTMENTS = {
    "agent": "Servicio al Cliente",
    "collections": "Cobranza",
    "supervisor": "Servicio al Cliente",
    "backoffice": "Operaciones",
}


def _iso(dt: datetime) -> str:
    return dt.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.") + f"{dt.microsecond // 1000:03d}Z"


def _lic(org: str, name: str) -> str:
    h = hashlib.sha1(f"{org}:{name}".encode()).hexdigest()
    return webex_id("LICENSE", f"{name}_{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:32]}")


def write_directory(pop: Population, out_dir: Path, *, as_of: datetime) -> dict[str, int]:
    """Write people, locations and the call features; returns item counts."""
    out_dir.mkdir(parents=True, exist_ok=True)
    org = pop.org_webex_id
    loc_by = {loc.location_uuid: loc for loc in pop.locations}
    calling = _lic(pop.org_uuid, "BCBASIC")
    pro = _lic(pop.org_uuid, "BCPRO")
    msg = _lic(pop.org_uuid, "MS")
    people = []
    for a in pop.agents:
        loc = loc_by[a.location_uuid]
        phones = (
            [{"type": "work", "value": a.phone_number, "primary": True}] if a.phone_number else []
        )
        people.append(
            {
                "id": a.webex_id,
                "emails": [a.email],
                "phoneNumbers": phones,
                "extension": a.extension,
                "locationId": loc.webex_id,
                "displayName": a.name,
                "nickName": a.first_name,
                "firstName": a.first_name,
                "lastName": a.last_name,
                "orgId": org,
                "roles": [],
                "licenses": [pro if a.role in ("supervisor", "backoffice") else calling, msg],
                "department": _DEPARTMENTS[a.role],
                "title": _TITLES[a.role],
                "created": _iso(a.created),
                "lastModified": _iso(a.created + timedelta(days=30)),
                "timezone": loc.time_zone,
                "lastActivity": _iso(as_of - timedelta(minutes=7 + int(a.user_uuid[:4], 16) % 600)),
                "sipAddresses": [
                    {
                        "type": "personal-room",
                        "value": f"{a.email.split('@')[0]}@bancoandino.webex.com",
                        "primary": False,
                    }
                ],
                "status": "inactive",
                "invitePending": False,
                "loginEnabled": True,
                "type": "person",
            }
        )
    locations = [
        {
            "id": loc.webex_id,
            "name": loc.name,
            "orgId": org,
            "timeZone": loc.time_zone,
            "preferredLanguage": "es_co",
            "announcementLanguage": "es_es",
            "address": {
                "address1": loc.address1,
                "address2": "",
                "city": loc.city,
                "state": loc.state,
                "postalCode": loc.postal_code,
                "country": "CO",
            },
            "latitude": f"{loc.latitude}",
            "longitude": f"{loc.longitude}",
            "notes": "",
        }
        for loc in pop.locations
    ]
    queues = {
        "queues": [
            {
                "id": webex_id("CALL_QUEUE", q.uuid),
                "name": q.name,
                "locationName": loc_by[q.location_uuid].name,
                "locationId": loc_by[q.location_uuid].webex_id,
                "phoneNumber": q.number,
                "extension": q.extension,
                "routingType": "PRIORITY_BASED",
                "policy": "SIMULTANEOUS" if q.key == "bloqueo" else "UNIFORM",
                "callQueueType": "CALL_QUEUE",
                "enabled": True,
            }
            for q in pop.queues
        ]
    }
    aas = {
        "autoAttendants": [
            {
                "id": webex_id("AUTO_ATTENDANT", s.uuid),
                "name": s.name,
                "locationName": loc_by[s.location_uuid].name,
                "locationId": loc_by[s.location_uuid].webex_id,
                "phoneNumber": s.number,
                "extension": s.extension,
                "tollFreeNumber": s.number.startswith("+571800"),
            }
            for s in pop.services
            if s.user_type == "AutomatedAttendantVideo"
        ]
    }
    vls = {
        "virtualLines": [
            {
                "id": webex_id("VIRTUAL_LINE", s.uuid),
                "firstName": "Asistente",
                "lastName": "Virtual IA",
                "displayName": s.name,
                "callerIdLastName": "Virtual IA",
                "callerIdFirstName": "Asistente",
                "number": {"external": s.number, "extension": s.extension, "primary": True},
                "location": {
                    "id": loc_by[s.location_uuid].webex_id,
                    "name": loc_by[s.location_uuid].name,
                },
                "numberOfDevicesAssigned": 1,
                "billingPlan": "BCOCP1",
            }
            for s in pop.services
            if s.user_type == "VirtualLine"
        ]
    }
    opt = orjson.OPT_INDENT_2
    (out_dir / "people.json").write_bytes(orjson.dumps(people, option=opt))
    (out_dir / "locations.json").write_bytes(orjson.dumps(locations, option=opt))
    (out_dir / "call_queues.json").write_bytes(orjson.dumps(queues, option=opt))
    (out_dir / "auto_attendants.json").write_bytes(orjson.dumps(aas, option=opt))
    (out_dir / "virtual_lines.json").write_bytes(orjson.dumps(vls, option=opt))
    return {
        "people": len(people),
        "locations": len(locations),
        "call_queues": len(queues["queues"]),
        "auto_attendants": len(aas["autoAttendants"]),
        "virtual_lines": len(vls["virtualLines"]),
    }


_SPEC_BACK = {v: k for k, v in SPEC_SPELLING.items()}


def write_control_hub_csv(
    cdr_files: Iterable[Path],
    out_dir: Path,
    days: list[date],
    tz: str,
    *,
    report_id: str,
    downloaded: date,
) -> tuple[Path, int]:
    """The Control Hub "Calling Detailed Call History" CSV for the local ``days``.

    Reads the CDR day files (``{"inserted_at", "record"}`` lines) in order and keeps the records
    whose ``Start time`` falls in ``days`` in ``tz``. Streams: constant memory.
    """
    out_dir.mkdir(parents=True, exist_ok=True)
    zone = ZoneInfo(tz)
    lo = datetime(days[0].year, days[0].month, days[0].day, tzinfo=zone).astimezone(UTC)
    last = days[-1] + timedelta(days=1)
    hi = datetime(last.year, last.month, last.day, tzinfo=zone).astimezone(UTC)
    lo_s, hi_s = lo.strftime("%Y-%m-%dT%H:%M:%S"), hi.strftime("%Y-%m-%dT%H:%M:%S")
    path = out_dir / f"Calling Detailed Call History_{report_id}_{downloaded.isoformat()}.csv"
    n = 0
    with open(path, "w", encoding="utf-8-sig", newline="") as fh:
        w = csv.writer(fh, lineterminator="\r\n")
        w.writerow(KEYS)
        for p in cdr_files:
            with open(p, "rb") as src:
                for line in src:
                    rec = orjson.loads(line)["record"]
                    st = rec.get("Start time", "")
                    if not (lo_s <= st[:19] < hi_s):
                        continue
                    if (
                        "Call transfer Time" in rec
                    ):  # spec-spelled record: the report has one header
                        rec = {_SPEC_BACK.get(k, k): v for k, v in rec.items()}
                    w.writerow([rec[k] for k in KEYS])
                    n += 1
    return path, n
