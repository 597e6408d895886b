"""Webex converged recordings (webex.md §2): user and admin lists, details with temporary
download links that expire (3 h, scaled), metadata.

Each line of `webex/recordings/recordings.jsonl` is one recording: the list fields, optional
detail-only fields, and optionally `metadata` (the metadata document). The list shows the
object without `metadata`/`temporaryDirectDownloadLinks`; the details add fresh links to
`files/<id>.vtt` and `files/<id>.<wav|mp3>`. The sandbox token acts as a compliance officer
(its client is granted every scope unless `Credentials.webex_scopes` narrows it): links come
only to a token with `spark-compliance:recordings_read`, or with `spark:recordings_read` for
the token user's own recordings — an admin token with only `spark-admin:recordings_read` gets
details without `temporaryDirectDownloadLinks`.

List filters: `from` (inclusive) / `to` (exclusive) on `createTime`, defaults 7 days, at most 30
days apart; `status` (default available), `serviceType`, `format`, `ownerType`, `storageRegion`,
`locationId` (serviceData), `topic` (case-insensitive contains); admin only `ownerId`,
`ownerEmail`. Sorted by `createTime` descending, `max` 1–100 (default 10).
"""

from __future__ import annotations

import hashlib
import hmac
import time
from pathlib import Path

from starlette.requests import Request
from starlette.responses import FileResponse, Response
from starlette.routing import Route

from simulator.sandbox.rules import DAY_MS, format_webex_time, parse_lenient_iso
from simulator.sandbox.state import SandboxState, endpoint
from simulator.sandbox.webex_directory import parse_max, webex_page
from simulator.sandbox.webex_oauth import (
    ADMIN_RECORDING_SCOPES,
    ANY_RECORDING_SCOPES,
    USER_RECORDING_SCOPES,
    require_webex_token,
    webex_error,
    webex_json,
)

LINK_SECONDS = 3 * 3600  # links expire 3 h after the details request
HIDDEN_UNLESS_ALL_TYPES = ("mediaStreams", "participants", "redirectInfo", "redirectedCall")
AUDIO_TYPES = {".mp3": "audio/mpeg", ".wav": "audio/wav"}
LIST_ONLY_DROPS = ("metadata", "temporaryDirectDownloadLinks")


def list_view(recording: dict) -> dict:
    return {k: v for k, v in recording.items() if k not in LIST_ONLY_DROPS}


def filter_recordings(recordings: list[dict], query, now_ms: int, admin: bool, owner_id: str) -> list[dict]:
    """The recordings a list request returns, newest first; ValueError names a bad filter."""
    from_ms = parse_lenient_iso(query["from"]) if query.get("from") else None
    to_ms = parse_lenient_iso(query["to"]) if query.get("to") else None
    if (query.get("from") and from_ms is None) or (query.get("to") and to_ms is None):
        raise ValueError("from/to must be ISO-8601 date-times")
    if from_ms is None and to_ms is None:
        to_ms, from_ms = now_ms, now_ms - 7 * DAY_MS
    elif from_ms is None:
        from_ms = to_ms - 7 * DAY_MS
    elif to_ms is None:
        to_ms = from_ms + 7 * DAY_MS
    if to_ms - from_ms > 30 * DAY_MS:
        raise ValueError("The interval between from and to must not exceed 30 days")
    if to_ms <= from_ms:
        raise ValueError("to must be after from")
    wanted_status = query.get("status", "available")
    simple = {"serviceType": "serviceType", "format": "format", "ownerType": "ownerType",
              "storageRegion": "storageRegion"}
    if admin:
        simple.update({"ownerId": "ownerId", "ownerEmail": "ownerEmail"})
    out = []
    for recording in recordings:
        created = parse_lenient_iso(str(recording.get("createTime", "")))
        if created is None or not (from_ms <= created < to_ms):
            continue
        if recording.get("status", "available") != wanted_status:
            continue
        if not admin and recording.get("ownerId") != owner_id:
            continue
        if any(query.get(param) and str(recording.get(key, "")).lower() != query[param].lower()
               for param, key in simple.items()):
            continue
        if query.get("locationId") and (recording.get("serviceData") or {}).get("locationId") != query["locationId"]:
            continue
        if query.get("topic") and query["topic"].lower() not in str(recording.get("topic", "")).lower():
            continue
        out.append(recording)
    out.sort(key=lambda r: parse_lenient_iso(str(r.get("createTime"))), reverse=True)
    return [list_view(r) for r in out]


def hide_detail_types(metadata: dict) -> dict:
    """Metadata as returned without `showAllTypes=true`: callActivity entries lose their
    mediaStreams/participants/redirect details."""
    service_data = dict(metadata.get("serviceData") or {})
    if "callActivity" in service_data:
        service_data["callActivity"] = [{k: v for k, v in activity.items() if k not in HIDDEN_UNLESS_ALL_TYPES}
                                        for activity in service_data["callActivity"]]
    return {**metadata, "serviceData": service_data}


def sign_link(key: bytes, recording_id: str, kind: str, expires_ms: int) -> str:
    message = f"{recording_id}|{kind}|{expires_ms}".encode()
    return hmac.new(key, message, hashlib.sha256).hexdigest()


def _recording_file(folder: Path, recording_id: str, kind: str) -> Path | None:
    if kind == "transcript":
        path = folder / f"{recording_id}.vtt"
        return path if path.exists() else None
    for suffix in AUDIO_TYPES:
        path = folder / f"{recording_id}{suffix}"
        if path.exists():
            return path
    return None


def routes(state: SandboxState) -> list[Route]:
    by_id = {r["id"]: r for r in state.data.recordings if r.get("id")}

    def make_list(name: str, admin: bool):
        @endpoint(state, name, webex_error)
        async def handler(request: Request) -> Response:
            _, denied = require_webex_token(state, request, ADMIN_RECORDING_SCOPES if admin else ANY_RECORDING_SCOPES)
            if denied:
                return denied
            try:
                page_size = parse_max(request, 10, 100)
                items = filter_recordings(state.data.recordings, request.query_params,
                                          round(state.clock.now() * 1000), admin, state.credentials.webex_user_id)
            except ValueError as exc:
                return webex_error(400, str(exc))
            return webex_page(state, request, name, items, page_size)

        handler.__name__ = name.replace(".", "_")
        return handler

    @endpoint(state, "webex.recording_details", webex_error)
    async def details(request: Request) -> Response:
        token, denied = require_webex_token(state, request, ANY_RECORDING_SCOPES)
        if denied:
            return denied
        recording = by_id.get(request.path_params["recording_id"])
        if recording is None:
            return webex_error(404, "The requested resource could not be found.")
        own = (recording.get("ownerId") == state.credentials.webex_user_id
               and state.tokens.has_scope(token, USER_RECORDING_SCOPES))
        if not own and not state.tokens.has_scope(token, ("spark-compliance:recordings_read",)):
            # webex.md §2: no links for an admin token with only spark-admin:recordings_read
            return webex_json(list_view(recording))
        real_seconds = state.clock.real_seconds(LINK_SECONDS)
        expires_ms = round((time.time() + real_seconds) * 1000)
        links = {}
        for kind, field in (("audio", "audioDownloadLink"), ("transcript", "transcriptDownloadLink")):
            if _recording_file(state.data.recording_files, recording["id"], kind):
                signature = sign_link(state.signing_key, recording["id"], kind, expires_ms)
                links[field] = (f"{state.base_url}/webex-downloads/recordings/{recording['id']}/{kind}"
                                f"?expires={expires_ms}&signature={signature}")
        links["expiration"] = format_webex_time(expires_ms)
        return webex_json({**list_view(recording), "temporaryDirectDownloadLinks": links})

    @endpoint(state, "webex.recording_metadata", webex_error)
    async def metadata(request: Request) -> Response:
        _, denied = require_webex_token(state, request, ANY_RECORDING_SCOPES)
        if denied:
            return denied
        recording = by_id.get(request.path_params["recording_id"])
        if recording is None or not recording.get("metadata"):
            return webex_error(404, "The requested resource could not be found.")
        document = recording["metadata"]
        if request.query_params.get("showAllTypes", "false").lower() != "true":
            document = hide_detail_types(document)
        return webex_json(document)

    @endpoint(state, "webex.recording_download", webex_error)
    async def download(request: Request) -> Response:
        # Direct links: no bearer token, the signature and expiry in the URL are the credential.
        recording_id, kind = request.path_params["recording_id"], request.path_params["kind"]
        try:
            expires_ms = int(request.query_params.get("expires", ""))
        except ValueError:
            return webex_error(403, "Invalid download link")
        expected = sign_link(state.signing_key, recording_id, kind, expires_ms)
        if not hmac.compare_digest(expected, request.query_params.get("signature", "")):
            return webex_error(403, "Invalid download link")
        if time.time() * 1000 >= expires_ms:
            return webex_error(403, "The download link has expired")
        path = _recording_file(state.data.recording_files, recording_id, kind)
        if path is None:
            return webex_error(404, "The requested resource could not be found.")
        media_type = "text/vtt" if kind == "transcript" else AUDIO_TYPES[path.suffix]
        return FileResponse(path, media_type=media_type)

    return [
        Route("/webex/v1/convergedRecordings", make_list("webex.recordings", admin=False), methods=["GET"]),
        Route("/webex/v1/admin/convergedRecordings", make_list("webex.admin_recordings", admin=True),
              methods=["GET"]),
        Route("/webex/v1/convergedRecordings/{recording_id}", details, methods=["GET"]),
        Route("/webex/v1/convergedRecordings/{recording_id}/metadata", metadata, methods=["GET"]),
        Route("/webex-downloads/recordings/{recording_id}/{kind:str}", download, methods=["GET"]),
    ]
