"""ElevenLabs conversational AI (channels.md §1): `xi-api-key`, cursor-paged conversation list,
details, audio. Served under `/elevenlabs`.

- The list is built from the detail objects in `elevenlabs/conversations.jsonl`.
- Order: `start_time_unix_secs` descending (then conversation_id), or ascending with
  `sort_direction=asc` — the reference states no order, the SDK offers the parameter.
- `call_start_after_unix` keeps start > value, `call_start_before_unix` keeps start ≤ value, so
  windows (a, b], (b, c] neither overlap nor leave gaps.
- The cursor is opaque (base64 of the last item's sort key); `has_more`/`next_cursor` as the API.
- Validation errors answer 422 with FastAPI's `detail` list, as the real (FastAPI) API does.
"""

from __future__ import annotations

import base64
import hmac

import orjson
from starlette.requests import Request
from starlette.responses import FileResponse, Response
from starlette.routing import Route

from simulator.sandbox.state import SandboxState, endpoint, json_response

PAGE_SIZE_DEFAULT, PAGE_SIZE_MAX = 30, 100
SUMMARY_FIELDS = ("agent_id", "branch_id", "version_id", "agent_name", "conversation_id")


def elevenlabs_error(status: int, message: str) -> Response:
    return json_response({"detail": {"status": "error", "message": message}}, status)


def _validation_error(param: str, message: str) -> Response:
    return json_response({"detail": [{"loc": ["query", param], "msg": message, "type": "value_error"}]}, 422)


def summarize(detail: dict) -> dict:
    """The list item (ConversationSummaryResponseModel) for one conversation detail."""
    metadata = detail.get("metadata") or {}
    analysis = detail.get("analysis") or {}
    transcript = detail.get("transcript") or []
    phone_call = metadata.get("phone_call") or {}
    summary = {key: detail[key] for key in SUMMARY_FIELDS if key in detail}
    summary.update({
        "start_time_unix_secs": metadata.get("start_time_unix_secs"),
        "call_duration_secs": metadata.get("call_duration_secs", 0),
        "cost": metadata.get("cost"),
        "tag_ids": detail.get("tag_ids"),
        "message_count": sum(1 for turn in transcript if turn.get("message")),
        "status": detail.get("status"),
        "call_successful": analysis.get("call_successful", "unknown"),
        "transcript_summary": analysis.get("transcript_summary"),
        "call_summary_title": analysis.get("call_summary_title"),
        "termination_reason": metadata.get("termination_reason"),
        "main_language": metadata.get("main_language"),
        "conversation_initiation_source": metadata.get("conversation_initiation_source"),
        "direction": phone_call.get("direction"),
    })
    return {k: v for k, v in summary.items() if v is not None or k in ("transcript_summary",)}


def _sort_key(summary: dict) -> tuple[int, str]:
    return (int(summary["start_time_unix_secs"] or 0), summary["conversation_id"])


def encode_cursor(key: tuple[int, str]) -> str:
    return base64.urlsafe_b64encode(orjson.dumps(list(key))).decode()


def decode_cursor(cursor: str) -> tuple[int, str]:
    start, conversation_id = orjson.loads(base64.urlsafe_b64decode(cursor.encode()))
    return int(start), str(conversation_id)


def list_page(summaries: list[dict], query, repeat: bool = False) -> tuple[int, dict | str]:
    """(status, page body or error message) for a list request over all summaries."""
    try:
        page_size = int(query.get("page_size", PAGE_SIZE_DEFAULT))
        after = int(query["call_start_after_unix"]) if query.get("call_start_after_unix") else None
        before = int(query["call_start_before_unix"]) if query.get("call_start_before_unix") else None
        shortest = int(query["call_duration_min_secs"]) if query.get("call_duration_min_secs") else None
        longest = int(query["call_duration_max_secs"]) if query.get("call_duration_max_secs") else None
    except ValueError:
        return 422, "page_size, call_start_*_unix and call_duration_*_secs must be integers"
    if not 1 <= page_size <= PAGE_SIZE_MAX:
        return 422, f"page_size must be between 1 and {PAGE_SIZE_MAX}"
    descending = query.get("sort_direction", "desc") != "asc"
    selected = [s for s in summaries
                if (after is None or s["start_time_unix_secs"] > after)
                and (before is None or s["start_time_unix_secs"] <= before)
                and (shortest is None or s["call_duration_secs"] >= shortest)
                and (longest is None or s["call_duration_secs"] <= longest)
                and (not query.get("agent_id") or s.get("agent_id") == query["agent_id"])
                and (not query.get("call_successful") or s.get("call_successful") == query["call_successful"])
                and (not query.get("user_id") or s.get("user_id") == query["user_id"])]
    selected.sort(key=_sort_key, reverse=descending)
    if query.get("cursor"):
        try:
            last = decode_cursor(query["cursor"])
        except (ValueError, TypeError):
            return 422, "invalid cursor"
        selected = [s for s in selected if (_sort_key(s) < last if descending else _sort_key(s) > last)]
    page = selected[:page_size]
    has_more = len(selected) > page_size
    exclude_summary = query.get("summary_mode", "exclude") != "include"
    page = [{k: (None if exclude_summary and k == "transcript_summary" else v) for k, v in s.items()
             if k != "user_id"} for s in page]  # user_id is kept only for its filter
    next_cursor = encode_cursor(_sort_key(page[-1])) if has_more and page else None
    if repeat and page:
        next_cursor, has_more = (query.get("cursor") or _before_first(page[0], descending)), True
    return 200, {"conversations": page, "has_more": has_more, "next_cursor": next_cursor}


def _before_first(first: dict, descending: bool) -> str:
    """A cursor that yields the same first page again (for the repeated-page fault)."""
    start, conversation_id = _sort_key(first)
    return encode_cursor((start, conversation_id + "~") if descending else (start, conversation_id[:-1]))


def routes(state: SandboxState) -> list[Route]:
    details = {c["conversation_id"]: c for c in state.data.conversations}
    summaries = []
    for conversation in state.data.conversations:
        summary = summarize(conversation)
        summary["user_id"] = conversation.get("user_id")
        summaries.append(summary)

    def authorized(request: Request) -> bool:
        return hmac.compare_digest(request.headers.get("xi-api-key", ""), state.credentials.elevenlabs_api_key)

    def unauthorized() -> Response:
        return json_response({"detail": {"status": "invalid_api_key", "message": "Invalid API key"}}, 401)

    @endpoint(state, "elevenlabs.conversations", elevenlabs_error)
    async def list_conversations(request: Request) -> Response:
        if not authorized(request):
            return unauthorized()
        repeat = bool(state.faults.take("elevenlabs.conversations", "repeat_page"))
        status, body = list_page(summaries, request.query_params, repeat)
        if status != 200:
            return _validation_error("query", body)
        state.stats.count("records_served", "elevenlabs.conversations", len(body["conversations"]))
        return json_response(body)

    @endpoint(state, "elevenlabs.conversation", elevenlabs_error)
    async def get_conversation(request: Request) -> Response:
        if not authorized(request):
            return unauthorized()
        conversation = details.get(request.path_params["conversation_id"])
        if conversation is None:
            return elevenlabs_error(404, "Conversation not found")
        state.stats.count("records_served", "elevenlabs.conversation")
        return json_response(conversation)

    @endpoint(state, "elevenlabs.audio", elevenlabs_error)
    async def get_audio(request: Request) -> Response:
        if not authorized(request):
            return unauthorized()
        conversation_id = request.path_params["conversation_id"]
        conversation = details.get(conversation_id)
        path = state.data.conversation_audio / f"{conversation_id}.mp3"
        if conversation is None or not conversation.get("has_audio") or not path.exists():
            return elevenlabs_error(404, "Audio not found for this conversation")
        return FileResponse(path, media_type="audio/mpeg")

    return [
        Route("/elevenlabs/v1/convai/conversations", list_conversations, methods=["GET"]),
        Route("/elevenlabs/v1/convai/conversations/{conversation_id}", get_conversation, methods=["GET"]),
        Route("/elevenlabs/v1/convai/conversations/{conversation_id}/audio", get_audio, methods=["GET"]),
    ]
