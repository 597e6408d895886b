"""ElevenLabs Agents (Conversational AI): the bank's voice assistant's conversations.

Inbound: every journey with ``channel_entry == "ai_agent"`` is a conversation. The call reaches
ElevenLabs from the Webex virtual line over a SIP trunk (``phone_call.type = "sip_trunking"``,
``conversation_initiation_source = "sip_trunk"``); the assistant verifies the caller, sends an
SMS OTP through Twilio where the topic needs one (the message sid is in the tool result, and the
SMS really exists in ``twilio/messages.jsonl``), and either resolves the request (``end_call``)
or transfers to a human queue (``transfer_to_number``). Outbound: payment reminders the
assistant dials through Twilio (``phone_call.type = "twilio"``); calls that never connect end
as ``status = "failed"`` conversations with a ``call_initiation_failure`` webhook.

Outputs (``reference/channels.md`` §1):

``elevenlabs/conversations.jsonl``
    the detail object ``GET /v1/convai/conversations/{id}`` returns, one per line, as it stands
    at the end of the period (``processing`` with ``analysis: null`` when the analysis was not
    finished yet), in start-time order.
``elevenlabs/audio/<conversation_id>.mp3``
    where ``has_audio``: a short clip (see :mod:`simulator.channels.audio`).
``elevenlabs/webhooks.jsonl``
    ``{"send_at", "type", "payload"}``: ``post_call_transcription`` (payload ``{type,
    event_timestamp, data: <detail>}``), ``post_call_audio`` (``data = {agent_id,
    conversation_id, full_audio: <base64 MP3>}``) and ``call_initiation_failure``; in
    ``send_at`` order. Nothing due after the end of the period is written.
"""

from __future__ import annotations

import base64
import json
import random
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

from simulator.channels import dialogues as d
from simulator.channels.audio import AudioStore, silent_mp3
from simulator.channels.common import (
    SortedJsonlWriter,
    alnum_id,
    hex_id,
    iso_z,
    rfc2822,
    rng_for,
    unix,
)
from simulator.channels.twilio_sms import SentSms
from simulator.model import BANK_NAME, CallJourney, Customer

API_BASE = "https://api.bancoandino.example/asistente/v1"
AUDIO_CLIP_SECONDS = 2.0  # audio files are clips of the call's start (disk stays small)


@dataclass(frozen=True, slots=True)
class VoiceAgent:
    agent_id: str
    name: str
    phone_number_id: str


@dataclass(slots=True)
class Conversation:
    """One rendered conversation plus the facts the truth table needs."""

    detail: dict
    journey_id: str | None
    customer_id: str | None
    external_number: str
    sms_sids: list[str] = field(default_factory=list)
    webhooks: list[tuple[datetime, str, dict]] = field(default_factory=list)
    audio: bytes | None = None


def voice_agents(seed: int) -> dict[str, VoiceAgent]:
    r = rng_for(seed, "elevenlabs_agents")

    def agent(name: str) -> VoiceAgent:
        return VoiceAgent("agent_" + alnum_id(r, 26), name, "phnum_" + alnum_id(r, 26))

    return {
        "es": agent(f"Sara - {BANK_NAME} (servicio)"),
        "en": agent(f"Sara - {BANK_NAME} (English)"),
        "outbound": agent(f"Sara - {BANK_NAME} (recordatorios de pago)"),
    }


def _turn(role: str, message: str | None, t: int, *, tool_calls=(), tool_results=(),
          interrupted: bool = False, metrics: dict | None = None) -> dict:
    return {
        "role": role,
        "message": message,
        "tool_calls": list(tool_calls),
        "tool_results": list(tool_results),
        "feedback": None,
        "llm_override": None,
        "time_in_call_secs": t,
        "conversation_turn_metrics": metrics,
        "interrupted": interrupted,
        "original_message": None,
        "source_medium": "audio" if message is not None else None,
    }


def _webhook_tool(rng: random.Random, name: str, method: str, params: dict) -> tuple[dict, str]:
    request_id = f"{name}_{hex_id(rng, 6)}"
    body = json.dumps(params, ensure_ascii=False)
    call = {
        "type": "webhook",
        "request_id": request_id,
        "tool_name": name,
        "params_as_json": body,
        "tool_has_been_called": True,
        "tool_details": {
            "type": "webhook",
            "method": method,
            "url": f"{API_BASE}/{name.replace('_', '-')}",
            "headers": {},
            "path_params": {},
            "query_params": params if method == "GET" else {},
            "body": body if method != "GET" else None,
        },
    }
    return call, request_id


def _tool_result(rng: random.Random, name: str, request_id: str, value: dict, *,
                 error: bool = False) -> dict:
    return {
        "request_id": request_id,
        "tool_name": name,
        "result_value": json.dumps(value, ensure_ascii=False),
        "is_error": error,
        "tool_has_been_called": True,
        "tool_latency_secs": round(rng.uniform(0.12, 1.4), 3),
        "dynamic_variable_updates": [],
        "type": "webhook",
    }


def _system_tool(rng: random.Random, name: str, params: dict, result: dict) -> tuple[dict, dict]:
    request_id = f"{name}_{hex_id(rng, 6)}"
    call = {
        "type": "system",
        "request_id": request_id,
        "tool_name": name,
        "params_as_json": json.dumps(params, ensure_ascii=False),
        "tool_has_been_called": True,
        "tool_details": None,
    }
    res = {
        "request_id": request_id,
        "tool_name": name,
        "result_value": json.dumps(result, ensure_ascii=False),
        "is_error": False,
        "tool_has_been_called": True,
        "tool_latency_secs": 0.0,
        "dynamic_variable_updates": [],
        "type": "system",
        "result": result,
    }
    return call, res


def _metrics(rng: random.Random) -> dict:
    ttfb = round(rng.uniform(0.25, 0.9), 3)
    return {"metrics": {"convai_llm_service_ttfb": {"elapsed_time": ttfb},
                        "convai_llm_service_ttf_sentence": {"elapsed_time": round(ttfb + rng.uniform(0.1, 0.5), 3)}}}


def _spread(n: int, duration: int) -> list[int]:
    """``n`` increasing whole-second offsets from 0 that fit in ``duration`` seconds."""
    if n <= 1:
        return [0] * n
    step = max(duration - 1, 0) / (n - 1)
    return [int(i * step) for i in range(n)]


SendSms = Callable[[str, str, str, datetime, str], SentSms]


def render_inbound(journey: CallJourney, customer: Customer | None, seed: int, end: datetime,
                   agents: dict[str, VoiceAgent], send_sms: SendSms,
                   audio_webhooks: bool = True, queue_numbers: dict[str, str] | None = None,
                   ) -> Conversation | None:
    """The conversation of an ``ai_agent`` journey (None when it started after ``end``).

    ``send_sms(to, country, body, at, key)`` sends the OTP through the Twilio renderer and
    returns a :class:`SentSms`. ``audio_webhooks``: the workspace also sends
    ``post_call_audio`` (a separate setting at ElevenLabs; off saves a base64 copy of each clip).
    """
    start = journey.ai_started_at or journey.started_at
    stop = journey.ai_ended_at or journey.ended_at
    if start > end:
        return None
    queue_numbers = queue_numbers or {}
    rng = rng_for(seed, "elevenlabs", journey.journey_id)
    language = journey.language if journey.language in ("es", "en") else "es"
    agent = agents["en" if language == "en" else "es"]
    conversation_id = "conv_" + alnum_id(rng, 26)
    sc = d.script(journey.topic, language)
    slots = d.draw_slots(rng, language)
    pick = rng.choice
    duration = max(1, int((stop - start).total_seconds()))
    outcome = journey.ai_outcome or "escalated"

    # (role, message, extra) — times are assigned once the length is known
    lines: list[tuple[str, str | None, dict]] = []
    sms_sids: list[str] = []
    verified: bool | None = None
    otp_ok: bool | None = None
    lines.append(("agent", pick(d.GREETING[language]), {}))
    lines.append(("user", d.fill(pick(sc.ask), slots), {}))
    mobile = customer.mobile.e164 if customer and customer.mobile else None
    tools_used: list[str] = []
    if outcome == "abandoned":
        lines.append(("agent", pick(d.ASK_ID[language]), {}))
        lines.append(("user", pick(d.HANGUP[language]), {"interrupted": True}))
    else:
        if sc.tool or sc.needs_otp:
            lines.append(("agent", pick(d.ASK_ID[language]), {}))
            doc = customer.document_number if customer else f"{rng.randrange(10**7, 10**9)}"
            lines.append(("user", d.fill(pick(d.GIVE_ID[language]),
                                         {"document_spoken": d.spoken_digits(doc, language)}), {}))
            verified = customer is not None
            call, rid = _webhook_tool(rng, "verificar_identidad", "POST",
                                      {"numero_documento": doc, "telefono": journey.caller_number})
            lines.append(("agent", None, {"tool_calls": [call]}))
            lines.append(("agent", None, {"tool_results": [_tool_result(
                rng, "verificar_identidad", rid,
                {"verificado": verified, "cliente_id": customer.customer_id if customer else None})]}))
            tools_used.append("verificar_identidad")
        if verified and sc.needs_otp and mobile:
            at = start + timedelta(seconds=min(duration - 1, int(duration * 0.35)))
            otp = slots["otp"]
            body = (f"{BANK_NAME}: your verification code is {otp}. It expires in 5 minutes. Never share it."
                    if language == "en" else
                    f"{BANK_NAME}: su código de verificación es {otp}. Vence en 5 minutos. No lo comparta con nadie.")
            sent = send_sms(mobile, customer.mobile.country, body, at, f"otp:{journey.journey_id}")
            sid = sent.sid
            sms_sids.append(sid)
            call, rid = _webhook_tool(rng, "enviar_otp", "POST", {"telefono": mobile, "canal": "sms"})
            lines.append(("agent", None, {"tool_calls": [call]}))
            lines.append(("agent", None, {"tool_results": [_tool_result(
                rng, "enviar_otp", rid, {"enviado": True, "twilio_message_sid": sid})]}))
            tools_used.append("enviar_otp")
            lines.append(("agent", pick(d.OTP_SENT[language]), {}))
            # the caller reads the code only if it reached the phone while they waited on the line
            if sent.delivered_at is not None and sent.delivered_at <= at + timedelta(seconds=45):
                lines.append(("user", d.fill(pick(d.OTP_READ[language]),
                                             {"otp_spoken": d.spoken_digits(otp, language)}), {}))
                call, rid = _webhook_tool(rng, "validar_otp", "POST", {"codigo": otp})
                lines.append(("agent", None, {"tool_calls": [call]}))
                otp_ok = True
                lines.append(("agent", None, {"tool_results": [_tool_result(
                    rng, "validar_otp", rid, {"valido": True})]}))
                tools_used.append("validar_otp")
            else:
                lines.append(("user", "No me ha llegado ningún mensaje." if language == "es"
                              else "I haven't received any text.", {}))
                otp_ok = False
                outcome = "escalated"  # without the code the assistant cannot act
        if outcome == "resolved" and (verified is not False):
            if sc.tool:
                method = "GET" if sc.tool.startswith("consultar") else "POST"
                call, rid = _webhook_tool(rng, sc.tool, method, {"cliente_id": customer.customer_id if customer else None})
                lines.append(("agent", None, {"tool_calls": [call]}))
                lines.append(("agent", None, {"tool_results": [_tool_result(
                    rng, sc.tool, rid, {"ok": True, **{k: slots[k] for k in ("last4", "amount", "ticket")}})]}))
                tools_used.append(sc.tool)
            lines.append(("agent", d.fill(pick(sc.answer), slots), {}))
            lines.append(("agent", pick(d.ANYTHING_ELSE[language]), {}))
            lines.append(("user", pick(d.BYE_CUSTOMER[language]), {}))
            lines.append(("agent", pick(d.BYE_AGENT[language]), {}))
            call, res = _system_tool(rng, "end_call", {"reason": "user_request_fulfilled"},
                                     {"result_type": "end_call_success", "status": "success",
                                      "reason": "user_request_fulfilled", "message": None})
            lines.append(("agent", None, {"tool_calls": [call]}))
            lines.append(("agent", None, {"tool_results": [res]}))
            tools_used.append("end_call")
            outcome = "resolved"
        else:
            outcome = "escalated"
            if rng.random() < 0.4:
                lines.append(("user", pick(d.WANT_HUMAN[language]), {}))
            lines.append(("agent", pick(d.TRANSFER[language]), {}))
            queue = journey.queues[0] if journey.queues else (journey.queue or "cuentas")
            target = queue_numbers.get(queue, queue)  # the queue's DID the call goes back to
            call, res = _system_tool(rng, "transfer_to_number",
                                     {"transfer_number": target, "reason": journey.topic},
                                     {"result_type": "transfer_to_number_success", "status": "success",
                                      "transfer_number": target, "reason": journey.topic})
            lines.append(("agent", None, {"tool_calls": [call]}))
            lines.append(("agent", None, {"tool_results": [res]}))
            tools_used.append("transfer_to_number")

    ongoing = stop > end
    times = _spread(len(lines), duration)
    transcript = []
    for (role, message, extra), t in zip(lines, times, strict=True):
        if ongoing and start + timedelta(seconds=t) > end:
            break
        metrics = _metrics(rng) if role == "agent" and message and rng.random() < 0.5 else None
        transcript.append(_turn(role, message, t, tool_calls=extra.get("tool_calls", ()),
                                tool_results=extra.get("tool_results", ()),
                                interrupted=extra.get("interrupted", False), metrics=metrics))

    success = {"resolved": "success", "escalated": "failure", "abandoned": "failure"}[outcome]
    if outcome == "escalated" and rng.random() < 0.3:
        success = "unknown"
    summary = _summary(outcome, sc, slots, language, customer)
    analysis = {
        "evaluation_criteria_results": {
            "identidad_verificada": _criterion(
                "identidad_verificada",
                "unknown" if verified is None else ("success" if verified else "failure"),
                "Se validó el documento con verificar_identidad." if verified
                else "No fue posible validar la identidad del cliente." if verified is False
                else "La llamada no llegó a la validación de identidad."),
            "resuelto_sin_asesor": _criterion(
                "resuelto_sin_asesor", "success" if outcome == "resolved" else "failure",
                "La asistente resolvió la solicitud." if outcome == "resolved"
                else "La solicitud requirió un asesor o el cliente colgó."),
            "sin_datos_sensibles": _criterion(
                "sin_datos_sensibles", "success" if rng.random() > 0.01 else "failure",
                "No se leyeron en voz alta datos completos de tarjetas ni códigos."),
        },
        "data_collection_results": {
            "motivo_contacto": _collected("motivo_contacto", journey.topic, "string",
                                          "Motivo principal de la llamada."),
            "requiere_asesor": _collected("requiere_asesor", outcome == "escalated", "boolean",
                                          "Si la llamada debió pasar a un asesor humano."),
            "otp_validado": _collected("otp_validado", otp_ok, "boolean",
                                       "Si el cliente superó la validación por OTP."),
        },
        "call_successful": success,
        "transcript_summary": summary,
        "call_summary_title": d.topic_label(journey.topic, language),
    }
    analysed_at = stop + timedelta(seconds=rng.uniform(4, 75))
    status = "in-progress" if ongoing else ("done" if analysed_at <= end else "processing")
    call_seconds = int(((end if ongoing else stop) - start).total_seconds())
    has_audio = status != "in-progress" and outcome != "abandoned" or (
        outcome == "abandoned" and call_seconds >= 5 and not ongoing)
    sip_call_id = f"{hex_id(rng, 32)}@webex.bancoandino.example"
    metadata = _metadata(rng, start, call_seconds, {
        "type": "sip_trunking",
        "direction": "inbound",
        "phone_number_id": agent.phone_number_id,
        "agent_number": journey.ai_line_number or journey.callee_number,
        "external_number": journey.caller_number,
        "call_sid": None,
        "call_id": sip_call_id,
        "sip_header_dynamic_variables": None,
    }, language, "sip_trunk",
        "end_call tool was called." if outcome == "resolved"
        else "transfer_to_number tool was called." if outcome == "escalated"
        else "Client disconnected: 1000", ongoing)
    detail = {
        "agent_id": agent.agent_id,
        "agent_name": agent.name,
        "conversation_id": conversation_id,
        "status": status,
        "user_id": None,
        "branch_id": None,
        "version_id": None,
        "environment": "production",
        "transcript": transcript,
        "metadata": metadata,
        "analysis": analysis if status == "done" else None,
        "conversation_initiation_client_data": _client_data(
            agent, conversation_id, journey.caller_number,
            journey.ai_line_number or journey.callee_number, start, language, "sip_trunk", None),
        "has_audio": has_audio,
        "has_user_audio": has_audio,
        "has_response_audio": has_audio,
        "tag_ids": [],
        "visited_agents": [],
    }
    conv = Conversation(detail, journey.journey_id, journey.customer_id, journey.caller_number,
                        sms_sids)
    if has_audio:
        conv.audio = silent_mp3(min(AUDIO_CLIP_SECONDS, call_seconds))
    if status == "done":
        conv.webhooks.append((analysed_at, "post_call_transcription", {
            "type": "post_call_transcription", "event_timestamp": unix(analysed_at), "data": detail}))
        audio_at = analysed_at + timedelta(seconds=rng.uniform(0.5, 6))
        if audio_webhooks and has_audio and audio_at <= end:
            conv.webhooks.append((audio_at, "post_call_audio", {
                "type": "post_call_audio", "event_timestamp": unix(audio_at),
                "data": {"agent_id": agent.agent_id, "conversation_id": conversation_id,
                         "full_audio": base64.b64encode(conv.audio).decode()}}))
    return conv


def render_outbound_reminder(customer: Customer, at: datetime, key: str, seed: int, end: datetime,
                             agents: dict[str, VoiceAgent], account_sid: str, send_sms: SendSms,
                             from_number: str) -> Conversation | None:
    """A payment reminder the assistant dials through Twilio; a share never connects."""
    mobile = customer.mobile
    if mobile is None or at > end:
        return None
    rng = rng_for(seed, "elevenlabs_out", key)
    agent = agents["outbound"]
    conversation_id = "conv_" + alnum_id(rng, 26)
    call_sid = "CA" + hex_id(rng)
    x = rng.random()
    failure = "no-answer" if x < 0.24 else "busy" if x < 0.31 else "failed" if x < 0.34 else None
    language = "es"
    if failure:
        ring = rng.uniform(18, 32) if failure == "no-answer" else rng.uniform(1, 6)
        fail_at = at + timedelta(seconds=ring)
        detail = {
            "agent_id": agent.agent_id, "agent_name": agent.name,
            "conversation_id": conversation_id, "status": "failed", "user_id": None,
            "branch_id": None, "version_id": None, "environment": "production",
            "transcript": [],
            "metadata": _metadata(rng, at, 0, _twilio_phone_call(agent, from_number, mobile.e164, call_sid, rng),
                                  language, "twilio", "", False,
                                  error={"code": 1002, "reason": failure}),
            "analysis": None,
            "conversation_initiation_client_data": _client_data(
                agent, conversation_id, mobile.e164, from_number, at, language, "twilio", call_sid),
            "has_audio": False, "has_user_audio": False, "has_response_audio": False,
            "tag_ids": [], "visited_agents": [],
        }
        conv = Conversation(detail, None, customer.customer_id, mobile.e164)
        if fail_at <= end:
            body = {
                "AccountSid": account_sid, "ApiVersion": "2010-04-01", "CallSid": call_sid,
                "CallStatus": failure, "CallbackSource": "call-progress-events",
                "Called": mobile.e164, "CallDuration": "0", "Caller": from_number,
                "Direction": "outbound-api", "Duration": "0", "From": from_number,
                "SequenceNumber": "2", "Timestamp": rfc2822(fail_at), "To": mobile.e164,
                "ToCountry": mobile.country, "FromCountry": "CO",
            }
            conv.webhooks.append((fail_at, "call_initiation_failure", {
                "type": "call_initiation_failure", "event_timestamp": unix(fail_at),
                "data": {"agent_id": agent.agent_id, "conversation_id": conversation_id,
                         "failure_reason": failure, "metadata": {"type": "twilio", "body": body}}}))
        return conv

    voicemail = rng.random() < 0.12
    slots = d.draw_slots(rng, language)
    greeting = (f"Hola {customer.first_name}, le habla Sara, asistente virtual de {BANK_NAME}. "
                f"Le recordamos que su cuota de {slots['amount']} pesos vence el {slots['day']}.")
    lines = [("agent", greeting, {})]
    sids: list[str] = []
    if voicemail:
        duration = int(rng.uniform(12, 25))
        summary = "La llamada fue contestada por el buzón de voz; se dejó el recordatorio de pago."
        success, reason = "failure", "end_call tool was called."
    else:
        duration = int(rng.uniform(40, 150))
        lines.append(("user", rng.choice(("Sí, ya sé, ¿me manda el enlace para pagar?",
                                          "Claro, ¿me puede enviar el link de pago?")), {}))
        link = f"https://pagos.bancoandino.example/l/{alnum_id(rng, 8)}"
        sms_at = at + timedelta(seconds=duration * 0.6)
        sid = send_sms(mobile.e164, mobile.country,
                          f"{BANK_NAME}: pague su cuota de ${slots['amount']} aqui: {link}",
                          sms_at, f"reminder_link:{key}").sid
        sids.append(sid)
        call, rid = _webhook_tool(rng, "enviar_link_pago", "POST", {"telefono": mobile.e164})
        lines.append(("agent", None, {"tool_calls": [call]}))
        lines.append(("agent", None, {"tool_results": [_tool_result(
            rng, "enviar_link_pago", rid, {"enviado": True, "twilio_message_sid": sid})]}))
        lines.append(("agent", "Listo, le envié el enlace por SMS. ¡Que tenga buen día!", {}))
        lines.append(("user", "Gracias.", {}))
        summary = f"Se recordó al cliente su cuota de {slots['amount']} pesos y se envió el enlace de pago por SMS."
        success, reason = "success", "end_call tool was called."
    stop = at + timedelta(seconds=duration)
    times = _spread(len(lines), duration)
    transcript = [_turn(role, m, t, tool_calls=e.get("tool_calls", ()), tool_results=e.get("tool_results", ()))
                  for (role, m, e), t in zip(lines, times, strict=True)]
    analysed_at = stop + timedelta(seconds=rng.uniform(4, 60))
    status = "done" if analysed_at <= end else "processing"
    detail = {
        "agent_id": agent.agent_id, "agent_name": agent.name, "conversation_id": conversation_id,
        "status": status, "user_id": None, "branch_id": None, "version_id": None,
        "environment": "production", "transcript": transcript,
        "metadata": _metadata(rng, at, duration, _twilio_phone_call(agent, from_number, mobile.e164, call_sid, rng),
                              language, "twilio", reason, False),
        "analysis": {
            "evaluation_criteria_results": {
                "recordatorio_entregado": _criterion("recordatorio_entregado", "success",
                                                     "Se informó el valor y la fecha de la cuota."),
            },
            "data_collection_results": {
                "motivo_contacto": _collected("motivo_contacto", "cobranza", "string", "Motivo de la llamada."),
                "buzon_de_voz": _collected("buzon_de_voz", voicemail, "boolean", "Si contestó un buzón de voz."),
            },
            "call_successful": success,
            "transcript_summary": summary,
            "call_summary_title": "Recordatorio de pago",
        } if status == "done" else None,
        "conversation_initiation_client_data": _client_data(
            agent, conversation_id, mobile.e164, from_number, at, language, "twilio", call_sid),
        "has_audio": True, "has_user_audio": True, "has_response_audio": True,
        "tag_ids": [], "visited_agents": [],
    }
    conv = Conversation(detail, None, customer.customer_id, mobile.e164, sids)
    conv.audio = silent_mp3(min(AUDIO_CLIP_SECONDS, duration))
    if status == "done":
        conv.webhooks.append((analysed_at, "post_call_transcription", {
            "type": "post_call_transcription", "event_timestamp": unix(analysed_at), "data": detail}))
    return conv


def _twilio_phone_call(agent: VoiceAgent, from_number: str, to: str, call_sid: str,
                       rng: random.Random) -> dict:
    return {"type": "twilio", "direction": "outbound", "phone_number_id": agent.phone_number_id,
            "agent_number": from_number, "external_number": to,
            "stream_sid": "MZ" + hex_id(rng), "call_sid": call_sid}


def _criterion(cid: str, result: str, rationale: str) -> dict:
    return {"criteria_id": cid, "result": result, "rationale": rationale}


def _collected(cid: str, value, kind: str, description: str) -> dict:
    return {"data_collection_id": cid, "value": value,
            "json_schema": {"type": kind, "description": description},
            "rationale": "Extraído de la conversación."}


def _summary(outcome: str, sc: d.TopicScript, slots: dict, language: str,
             customer: Customer | None) -> str:
    who = customer.first_name if customer else ("The caller" if language == "en" else "El cliente")
    base = d.fill(sc.summary, slots)
    if language == "en":
        tail = {"resolved": " The assistant resolved it.",
                "escalated": " The call was transferred to a human agent.",
                "abandoned": " The caller hung up early."}[outcome]
        return f"{who}: {base}{tail}"
    tail = {"resolved": " La asistente resolvió la solicitud.",
            "escalated": " La llamada se transfirió a un asesor.",
            "abandoned": " El cliente colgó antes de terminar."}[outcome]
    return f"{who}: {base}{tail}"


def _metadata(rng: random.Random, start: datetime, seconds: int, phone_call: dict, language: str,
              source: str, termination_reason: str, ongoing: bool, error: dict | None = None) -> dict:
    credits = int(seconds * rng.uniform(6.2, 7.2))
    llm = int(credits * rng.uniform(0.02, 0.05))
    return {
        "start_time_unix_secs": unix(start),
        "accepted_time_unix_secs": unix(start),
        "call_duration_secs": seconds,
        "cost": None if ongoing else credits,
        "cost_fiat": None if ongoing else round(seconds / 60 * 0.08, 4),
        "deletion_settings": {
            "deletion_time_unix_secs": None, "deleted_logs_at_time_unix_secs": None,
            "deleted_audio_at_time_unix_secs": None, "deleted_transcript_at_time_unix_secs": None,
            "delete_transcript_and_pii": False, "delete_audio": False,
        },
        "feedback": {"overall_score": None, "likes": 0, "dislikes": 0},
        "charging": {"dev_discount": False, "tier": "business", "llm_charge": llm,
                     "call_charge": credits - llm},
        "phone_call": phone_call,
        "batch_call": None,
        "termination_reason": termination_reason,
        "error": error,
        "warnings": [],
        "main_language": language,
        "rag_usage": None,
        "text_only": False,
        "conversation_initiation_source": source,
        "conversation_initiation_source_version": None,
        "timezone": None,
    }


def _client_data(agent: VoiceAgent, conversation_id: str, caller: str, called: str,
                 start: datetime, language: str, source: str, call_sid: str | None) -> dict:
    variables = {
        "system__agent_id": agent.agent_id,
        "system__conversation_id": conversation_id,
        "system__caller_id": caller,
        "system__called_number": called,
        "system__time_utc": iso_z(start),
    }
    if call_sid:
        variables["system__call_sid"] = call_sid
    return {
        "conversation_config_override": {"agent": {"prompt": None, "first_message": None,
                                                   "language": language},
                                         "tts": {"voice_id": None}},
        "custom_llm_extra_body": {},
        "user_id": None,
        "source_info": {"source": source, "version": None},
        "dynamic_variables": variables,
    }


class ElevenLabsWriter:
    """Streams conversations, their audio clips and webhooks to ``DIR/elevenlabs``."""

    def __init__(self, out_dir: Path, audio: AudioStore) -> None:
        self.dir = out_dir / "elevenlabs"
        self.conversations = SortedJsonlWriter(self.dir / "conversations.jsonl")
        self.webhooks = SortedJsonlWriter(self.dir / "webhooks.jsonl")
        self.audio = audio
        self.audio_files = 0

    def add(self, conv: Conversation) -> None:
        start = datetime.fromtimestamp(conv.detail["metadata"]["start_time_unix_secs"], tz=UTC)
        self.conversations.push(start, conv.detail)
        for at, kind, payload in conv.webhooks:
            self.webhooks.push(at, {"send_at": iso_z(at), "type": kind, "payload": payload})
        if conv.audio is not None:
            self.audio.write(self.dir / "audio" / f"{conv.detail['conversation_id']}.mp3", "mp3",
                             len(conv.audio), lambda: conv.audio)
            self.audio_files += 1

    def advance(self, watermark: datetime) -> None:
        self.conversations.advance(watermark)
        self.webhooks.advance(watermark)

    def close(self) -> None:
        self.conversations.close()
        self.webhooks.close()

