"""Webex people and locations → dimension rows (webex.md §4).

The public API's ids are base64 of `ciscospark://<region>/<TYPE>/<uuid>`; CDRs carry the bare
UUIDs (`User UUID`, `Site UUID`), so each id is decoded to the UUID the CDRs join on. An id that
does not decode is quarantined with the reason, like any malformed record.

People are also looked up by id (`/people?id=`, at most 85 a request: §4), to check a listing
against the people stored before and the people CDRs name (see source._check_people); the ids are
encoded back from the UUIDs like the org's own ids. `deleted_at` marks a stored person the API
no longer knows (a listed person has none).
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Sequence
from datetime import datetime

import orjson
import polars as pl

from pipelines.webex.cdr_normalize import (
    UTC_TS,
    BatchContext,
    empty_rejects,
    parse_timestamp,
    reject_rows,
)

PEOPLE_PATH, PEOPLE_PARAMS = "people", {"max": "100", "callingData": "true"}
PEOPLE_BY_ID_PARAMS = {"callingData": "true"}  # plus `id`
MAX_IDS_PER_REQUEST = 85  # /people?id= takes at most 85 comma-separated ids (webex.md §4)
LOCATIONS_PATH, LOCATIONS_PARAMS = "locations", {"max": "100"}

PEOPLE_COLUMNS: dict[str, pl.DataType] = {
    "person_uuid": pl.String(), "id": pl.String(), "email": pl.String(), "emails": pl.String(),
    "display_name": pl.String(), "first_name": pl.String(), "last_name": pl.String(), "nick_name": pl.String(),
    "extension": pl.String(), "work_number": pl.String(), "phone_numbers": pl.String(),
    "location_id": pl.String(), "location_uuid": pl.String(), "org_uuid": pl.String(),
    "department": pl.String(), "title": pl.String(), "status": pl.String(), "type": pl.String(),
    "created": UTC_TS, "last_modified": UTC_TS, "deleted_at": UTC_TS, "raw_record": pl.String(),
    "_loaded_at": UTC_TS,
}
LOCATION_COLUMNS: dict[str, pl.DataType] = {
    "location_uuid": pl.String(), "id": pl.String(), "name": pl.String(), "time_zone": pl.String(),
    "preferred_language": pl.String(), "announcement_language": pl.String(),
    "address1": pl.String(), "address2": pl.String(), "city": pl.String(), "state": pl.String(),
    "postal_code": pl.String(), "country": pl.String(), "latitude": pl.Float64(), "longitude": pl.Float64(),
    "org_uuid": pl.String(), "raw_record": pl.String(), "_loaded_at": UTC_TS,
}
_UUID = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")


def webex_id_to_uuid(webex_id: str | None) -> str | None:
    """`Y2lzY29zcGFyazovL3VzL1BFT1BMRS8…` → the UUID after the last `/`; a bare UUID stays as is."""
    if not webex_id or not isinstance(webex_id, str):
        return None
    text = webex_id.strip()
    if _UUID.match(text):
        return text.lower()
    padded = text + "=" * (-len(text) % 4)
    for decode in (base64.b64decode, base64.urlsafe_b64decode):
        try:
            decoded = decode(padded.encode()).decode("utf-8")
        except (binascii.Error, ValueError, UnicodeDecodeError):
            continue
        if decoded.startswith("ciscospark://"):
            tail = decoded.rstrip("/").rsplit("/", 1)[-1]
            return tail.lower() if _UUID.match(tail) else tail or None
    return None


def person_id(uuid: str, like: str | None = None) -> str:
    """The public id of the person with this UUID: base64 of `ciscospark://<region>/PEOPLE/<uuid>`,
    the region (and padding) as in `like`, another person's id of the org (else `us`)."""
    prefix, padded = "ciscospark://us/PEOPLE/", False
    if like:
        text = like.strip()
        try:
            decoded = base64.b64decode(text + "=" * (-len(text) % 4)).decode("utf-8")
        except (binascii.Error, ValueError, UnicodeDecodeError):
            decoded = ""
        if decoded.startswith("ciscospark://") and "/" in decoded.rstrip("/"):
            prefix, padded = decoded.rstrip("/").rsplit("/", 1)[0] + "/", text.endswith("=")
    encoded = base64.b64encode(f"{prefix}{uuid.lower()}".encode()).decode()
    return encoded if padded else encoded.rstrip("=")


def _text(value) -> str | None:
    if value is None:
        return None
    if isinstance(value, str):
        value = value.replace("\x00", "").strip()  # Postgres' text cannot hold a NUL (cdr_normalize)
        return value or None
    return str(value)


def people_rows(items: Sequence[object], ctx: BatchContext) -> tuple[pl.DataFrame, pl.DataFrame]:
    """(rows, rejects) of one /people page."""
    rows, rejects = [], []
    for item in items:
        raw = orjson.dumps(item).decode()
        if not isinstance(item, dict):
            rejects.append(reject_rows("person is not a JSON object", raw, ctx))
            continue
        uuid = webex_id_to_uuid(item.get("id"))
        if uuid is None:
            rejects.append(reject_rows("person id is not a Webex id (base64 of ciscospark://…/PEOPLE/<uuid>)", raw, ctx))
            continue
        emails = item.get("emails") or []
        phones = item.get("phoneNumbers") or []
        work = next((p.get("value") for p in phones if isinstance(p, dict) and p.get("type") == "work"), None)
        rows.append({
            "person_uuid": uuid, "id": item.get("id"),
            "email": _text(emails[0]) if emails else None, "emails": orjson.dumps(emails).decode(),
            "display_name": _text(item.get("displayName")), "first_name": _text(item.get("firstName")),
            "last_name": _text(item.get("lastName")), "nick_name": _text(item.get("nickName")),
            "extension": _text(item.get("extension")), "work_number": _text(work),
            "phone_numbers": orjson.dumps(phones).decode(),
            "location_id": _text(item.get("locationId")), "location_uuid": webex_id_to_uuid(item.get("locationId")),
            "org_uuid": webex_id_to_uuid(item.get("orgId")), "department": _text(item.get("department")),
            "title": _text(item.get("title")), "status": _text(item.get("status")), "type": _text(item.get("type")),
            "created": _text(item.get("created")), "last_modified": _text(item.get("lastModified")),
            "deleted_at": None, "raw_record": raw,
        })
    return _frame(rows, PEOPLE_COLUMNS, ("created", "last_modified"), ctx.loaded_at), _rejects(rejects)


def location_rows(items: Sequence[object], ctx: BatchContext) -> tuple[pl.DataFrame, pl.DataFrame]:
    rows, rejects = [], []
    for item in items:
        raw = orjson.dumps(item).decode()
        if not isinstance(item, dict):
            rejects.append(reject_rows("location is not a JSON object", raw, ctx))
            continue
        uuid = webex_id_to_uuid(item.get("id"))
        if uuid is None:
            rejects.append(reject_rows("location id is not a Webex id (base64 of ciscospark://…/LOCATION/<uuid>)",
                                       raw, ctx))
            continue
        address = item.get("address") if isinstance(item.get("address"), dict) else {}
        rows.append({
            "location_uuid": uuid, "id": item.get("id"), "name": _text(item.get("name")),
            "time_zone": _text(item.get("timeZone")), "preferred_language": _text(item.get("preferredLanguage")),
            "announcement_language": _text(item.get("announcementLanguage")),
            "address1": _text(address.get("address1")), "address2": _text(address.get("address2")),
            "city": _text(address.get("city")), "state": _text(address.get("state")),
            "postal_code": _text(address.get("postalCode")), "country": _text(address.get("country")),
            "latitude": _float(item.get("latitude")), "longitude": _float(item.get("longitude")),
            "org_uuid": webex_id_to_uuid(item.get("orgId")), "raw_record": raw,
        })
    return _frame(rows, LOCATION_COLUMNS, (), ctx.loaded_at), _rejects(rejects)


def _float(value) -> float | None:
    try:
        return float(value) if value not in (None, "") else None
    except (TypeError, ValueError):
        return None


def _frame(rows: list[dict], columns: dict[str, pl.DataType], timestamps: tuple[str, ...],
           loaded_at: datetime) -> pl.DataFrame:
    text_schema = {c: (pl.String() if c in timestamps else t) for c, t in columns.items() if c != "_loaded_at"}
    frame = pl.DataFrame(rows, schema=text_schema) if rows else pl.DataFrame(schema=text_schema)
    frame = frame.with_columns(
        *[parse_timestamp(pl.col(c)).alias(c) for c in timestamps],
        pl.lit(loaded_at, UTC_TS).alias("_loaded_at"),
    )
    # one row per id even if a repeated page listed it twice
    key = next(iter(columns))
    return frame.unique(subset=[key], keep="first", maintain_order=True).select(
        [pl.col(c).cast(t) for c, t in columns.items()])


def _rejects(frames: list[pl.DataFrame]) -> pl.DataFrame:
    return pl.concat(frames) if frames else empty_rejects()
