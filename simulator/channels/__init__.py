"""Non-telephony channels of the simulated bank, rendered from the call journeys.

:func:`render_channels` walks the journeys once (streaming) and writes, in each provider's own
format, the ElevenLabs voice-assistant conversations (:mod:`.elevenlabs`), the Webex converged
recordings with VTT transcripts and audio (:mod:`.recordings`), the Twilio SMS and status
callbacks (:mod:`.twilio_sms`) and the BuilderBot WhatsApp webhooks (:mod:`.whatsapp`), plus the
channels' ground truth in ``DIR/truth/``:

``channel_contacts.parquet``
    one row per channel object: ``channel`` (``elevenlabs`` | ``twilio`` | ``whatsapp`` |
    ``webex_recording``), ``object_id`` (conversation id, message sid, our conversation key,
    recording id), ``customer_id``, ``journey_id`` (the call it belongs to, if any),
    ``number_e164`` / ``whatsapp_id`` / ``match_key`` (the customer's address on that channel),
    ``at`` (UTC), ``kind`` (topic or SMS kind), ``status`` (final status, outcome),
    ``linked_object_id`` (an OTP's conversation, a conversation's first SMS…).
``customer_identities.parquet``
    per customer and number: ``customer_id``, ``number_e164``, ``number_type``, ``is_primary``,
    ``whatsapp_id``, ``match_key`` — how one person looks on every channel.

Traffic that is not a call (SMS notifications and app OTPs, the ``SALDO`` keyword, WhatsApp
chats, the assistant's outbound payment reminders) is drawn per journey, so its volume follows
the call curve of the simulated center, and some of it belongs to the journey's own customer
(a WhatsApp chat before calling, an OTP during the call, a payment link after a collections
call): the cross-channel identity the pipeline must rebuild.

``journeys`` may be an iterable of :class:`~simulator.model.CallJourney` or of day batches
(lists) of them. They must come in start-time order give or take :data:`JOURNEY_DISORDER`
(end-time order is fine): lines wait in a heap that long so every output file is written in
time order, and memory holds about an hour and a half of output, not the period. A journey
further out of order stops the run with an error rather than an unsorted file.
"""

from __future__ import annotations

import math
import random
from collections.abc import Iterable, Iterator
from datetime import datetime, timedelta
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from simulator.channels import dialogues as d
from simulator.channels.audio import AudioStore
from simulator.channels.common import rng_for, uuid4_from
from simulator.channels.elevenlabs import (
    ElevenLabsWriter,
    render_inbound,
    render_outbound_reminder,
    voice_agents,
)
from simulator.channels.recordings import RecordingsWriter, render_recording
from simulator.channels.twilio_sms import SentSms, TwilioSms
from simulator.channels.whatsapp import BuilderBotWriter, render_conversation
from simulator.model import BANK_NAME, TOPICS, CallJourney, Customer, Population, match_key

__all__ = ["LATENESS", "ChannelRates", "render_channels"]

#: how far out of start order journeys may come: the call simulator hands them over in the
#: order they *ended*, so by up to the longest call (well under an hour)
JOURNEY_DISORDER = timedelta(minutes=90)
#: WhatsApp chats that lead to a call start up to this long before it
PRE_CALL_WHATSAPP_MAX = timedelta(hours=2)
#: how long a line may wait in a writer's heap: everything a journey produces is at or after its
#: start, except the WhatsApp chat before it (so BuilderBot's window is longer)
LATENESS = JOURNEY_DISORDER
BUILDERBOT_LATENESS = JOURNEY_DISORDER + PRE_CALL_WHATSAPP_MAX
BACKGROUND_WINDOW = timedelta(minutes=60)

AI_REMINDER_NUMBER = "+576017460950"  # the assistant's outbound caller id (a Twilio number)

MERCHANTS = ("SUPERMERCADO EL ROBLE", "DROGUERIA SALUD 24", "ESTACION TERPEL NORTE", "TIENDA ONLINE MODA",
             "RESTAURANTE LA BRASA", "CINE CENTRO MAYOR", "FERRETERIA EL TORNILLO", "PASAJES AEREOS",
             "PLATAFORMA STREAMING", "ALMACEN HOGAR")


class ChannelRates:
    """Expected channel objects drawn per journey (Poisson means)."""

    purchase_alerts = 0.6
    app_otps = 0.4
    saldo_keyword = 0.06
    whatsapp_background = 0.25
    ai_reminders = 0.04
    #: chances tied to the journey's own customer
    whatsapp_before_call = 0.12
    otp_during_human_call = 0.15
    payment_link_after_collections = 0.5
    #: the ElevenLabs workspace sends ``post_call_audio`` too (each is a base64 copy of the clip)
    elevenlabs_audio_webhooks = True


def _poisson(rng: random.Random, mean: float) -> int:
    # Knuth's method; means here are small
    limit, k, p = math.exp(-mean), 0, rng.random()
    while p > limit:
        k += 1
        p *= rng.random()
    return k


def _journeys(journeys: Iterable) -> Iterator[CallJourney]:
    for item in journeys:
        if isinstance(item, CallJourney):
            yield item
        else:  # a day batch
            yield from sorted(item, key=lambda j: (j.started_at, j.journey_id))


class _Truth:
    """Collects truth rows and writes them in row groups (bounded memory)."""

    COLUMNS = ("channel", "object_id", "customer_id", "journey_id", "number_e164", "whatsapp_id",
               "match_key", "at", "kind", "status", "linked_object_id")
    SCHEMA = pa.schema([(c, pa.timestamp("us", tz="UTC") if c == "at" else pa.string()) for c in COLUMNS])

    def __init__(self, truth_dir: Path) -> None:
        truth_dir.mkdir(parents=True, exist_ok=True)
        self.dir = truth_dir
        self._rows: dict[str, list] = {c: [] for c in self.COLUMNS}
        self._writer = pq.ParquetWriter(truth_dir / "channel_contacts.parquet", self.SCHEMA)
        self.count = 0

    def add(self, channel: str, object_id: str, customer_id: str | None, journey_id: str | None,
            number: str | None, whatsapp_id: str | None, at: datetime, kind: str, status: str,
            linked: str | None = None) -> None:
        address = number or whatsapp_id
        values = (channel, object_id, customer_id, journey_id, number, whatsapp_id,
                  match_key(address) if address else None, at, kind, status, linked)
        for c, v in zip(self.COLUMNS, values, strict=True):
            self._rows[c].append(v)
        self.count += 1
        if len(self._rows["channel"]) >= 50_000:
            self._flush()

    def _flush(self) -> None:
        if self._rows["channel"]:
            self._writer.write_table(pa.Table.from_pydict(self._rows, schema=self.SCHEMA))
            self._rows = {c: [] for c in self.COLUMNS}

    def close(self, population: Population) -> None:
        self._flush()
        self._writer.close()
        rows: dict[str, list] = {k: [] for k in ("customer_id", "number_e164", "number_type",
                                                 "is_primary", "whatsapp_id", "match_key")}
        for c in population.customers:
            for i, p in enumerate(c.phones):
                rows["customer_id"].append(c.customer_id)
                rows["number_e164"].append(p.e164)
                rows["number_type"].append(p.type)
                rows["is_primary"].append(i == 0)
                rows["whatsapp_id"].append(c.whatsapp_id if i == 0 else None)
                rows["match_key"].append(match_key(p.e164))
        pq.write_table(pa.Table.from_pydict(rows), self.dir / "customer_identities.parquet")


def _sms_texts(kind: str, customer: Customer, rng: random.Random) -> str:
    en = customer.language == "en"
    last4 = f"{rng.randrange(10_000):04d}"
    if kind == "purchase_alert":
        amount = f"{rng.randrange(3, 900) * 1000 + rng.choice((0, 900, 500)):,}".replace(",", ".")
        merchant = rng.choice(MERCHANTS)
        if en:
            return f"{BANK_NAME}: purchase approved for ${amount} at {merchant} with card *{last4}. Not you? Call 601 746 0000."
        return f"{BANK_NAME}: compra aprobada por ${amount} en {merchant} con su tarjeta *{last4}. ¿No fue usted? Llame al 601 746 0000."
    otp = f"{rng.randrange(10**6):06d}"
    if en:
        return f"{BANK_NAME}: your code to sign in to the app is {otp}. Do not share it."
    return f"{BANK_NAME}: su código para ingresar a la app es {otp}. No lo comparta."


def render_channels(out_dir: Path | str, population: Population, journeys: Iterable, seed: int,
                    start: datetime, end: datetime, rates: ChannelRates | None = None) -> dict[str, int]:
    """Render every non-telephony output for ``journeys`` into ``out_dir``; returns counts."""
    out_dir = Path(out_dir)
    rates = rates or ChannelRates()
    audio = AudioStore()
    sms = TwilioSms(out_dir, seed, end)
    eleven = ElevenLabsWriter(out_dir, audio)
    builderbot = BuilderBotWriter(out_dir)
    recordings = RecordingsWriter(out_dir, audio)
    truth = _Truth(out_dir / "truth")
    agents = voice_agents(seed)
    project_id = uuid4_from(rng_for(seed, "builderbot_project"))
    reachable = [c for c in population.customers if c.mobile is not None]
    on_whatsapp = [c for c in population.customers if c.whatsapp_id]
    ai_line = next((s.number for s in population.services if s.key == "ai_agent"), "+576017460900")
    queue_numbers = {q.key: q.number for q in population.queues}
    counts = {"journeys": 0, "whatsapp_conversations": 0}
    latest_start = start

    def send_sms(to: str, country: str, body: str, at: datetime, key: str, *, customer_id: str | None,
                 journey_id: str | None, kind: str, linked: str | None = None) -> SentSms:
        sent = sms.send(to, country, body, at, key)
        truth.add("twilio", sent.sid, customer_id, journey_id, to, None, at, kind, sent.status, linked)
        return sent

    def add_conversation(conv, kind: str) -> None:
        eleven.add(conv)
        meta = conv.detail["metadata"]
        at = datetime.fromtimestamp(meta["start_time_unix_secs"], tz=start.tzinfo)
        outcome = (conv.detail["analysis"] or {}).get("call_successful") or conv.detail["status"]
        truth.add("elevenlabs", conv.detail["conversation_id"], conv.customer_id, conv.journey_id,
                  conv.external_number, None, at, kind, outcome, conv.sms_sids[0] if conv.sms_sids else None)

    def add_whatsapp(customer: Customer, topic: str, at: datetime, key: str, journey_id: str | None) -> None:
        conv = render_conversation(customer, topic, at, key, seed, project_id, end, ai_line)
        if conv is None or not conv.events:
            return
        builderbot.add(conv)
        counts["whatsapp_conversations"] += 1
        truth.add("whatsapp", f"wa:{key}", customer.customer_id, journey_id, None, customer.whatsapp_id,
                  at, topic, "handed_off" if conv.handed_off else "bot_answered")

    for journey in _journeys(journeys):
        if journey.started_at > end:
            continue
        counts["journeys"] += 1
        latest_start = max(latest_start, journey.started_at)
        for writer in (sms, eleven, recordings):
            writer.advance(latest_start - LATENESS)
        builderbot.advance(latest_start - BUILDERBOT_LATENESS)
        jid = journey.journey_id
        rng = rng_for(seed, "journey_channels", jid)
        customer = population.customer(journey.customer_id) if journey.customer_id else None

        # the customer wrote on WhatsApp before calling about the same thing
        if (customer and customer.whatsapp_id and journey.direction == "inbound"
                and rng.random() < rates.whatsapp_before_call):
            at = journey.started_at - timedelta(seconds=rng.uniform(300, PRE_CALL_WHATSAPP_MAX.total_seconds()))
            if at >= start:
                add_whatsapp(customer, journey.topic, at, f"pre:{jid}", jid)

        if journey.channel_entry == "ai_agent":
            conv = render_inbound(
                journey, customer, seed, end, agents,
                lambda to, country, body, at, key, j=journey: send_sms(
                    to, country, body, at, key, customer_id=j.customer_id, journey_id=j.journey_id,
                    kind="otp"),
                audio_webhooks=rates.elevenlabs_audio_webhooks, queue_numbers=queue_numbers)
            if conv is not None:
                add_conversation(conv, journey.topic)

        for i, leg in enumerate(journey.recordings):
            rec = render_recording(journey, leg, i, population, seed, end)
            if rec is not None:
                recordings.add(rec)
                truth.add("webex_recording", rec.recording_id, journey.customer_id, jid,
                          journey.caller_number if journey.direction == "inbound" else journey.callee_number,
                          None, leg.started_at, journey.topic,
                          "transcribed" if rec.vtt else "audio_only", leg.owner_agent_id)

        if customer and customer.mobile and journey.outcome == "answered":
            mobile = customer.mobile
            if journey.call_type == "collections" and rng.random() < rates.payment_link_after_collections:
                at = journey.ended_at + timedelta(seconds=rng.uniform(5, 90))
                if at <= end:
                    link = f"https://pagos.bancoandino.example/l/{rng.randrange(16**8):08x}"
                    send_sms(mobile.e164, mobile.country,
                             f"{BANK_NAME}: pague su cuota aqui: {link} (valido 48 h).", at, f"link:{jid}",
                             customer_id=customer.customer_id, journey_id=jid, kind="payment_link")
            elif journey.channel_entry == "pstn" and rng.random() < rates.otp_during_human_call:
                at = journey.started_at + (journey.ended_at - journey.started_at) * rng.uniform(0.3, 0.6)
                if at <= end:
                    send_sms(mobile.e164, mobile.country, d.fill(
                        "{bank}: su código de verificación es {otp}. Vence en 5 minutos. No lo comparta con nadie.",
                        {"bank": BANK_NAME, "otp": f"{rng.randrange(10**6):06d}"}), at, f"otp_human:{jid}",
                        customer_id=customer.customer_id, journey_id=jid, kind="otp")

        # background traffic drawn by this journey: times in the hour after its start
        def when(j: CallJourney = journey, r: random.Random = rng) -> datetime:
            return j.started_at + BACKGROUND_WINDOW * r.random()

        for kind, mean in (("purchase_alert", rates.purchase_alerts), ("app_otp", rates.app_otps)):
            for n in range(_poisson(rng, mean)):
                if not reachable:
                    break
                c = rng.choice(reachable)
                at = when()
                if at <= end:
                    send_sms(c.mobile.e164, c.mobile.country, _sms_texts(kind, c, rng), at,
                             f"{kind}:{jid}:{n}", customer_id=c.customer_id, journey_id=None, kind=kind)
        for n in range(_poisson(rng, rates.saldo_keyword)):
            c = rng.choice(reachable) if reachable else None
            at = when()
            if c is None or at > end or not c.mobile.e164.startswith("+57"):
                continue
            in_sid = sms.receive(c.mobile.e164, rng.choice(("SALDO", "Saldo", "saldo ")), at, f"saldo:{jid}:{n}")
            truth.add("twilio", in_sid, c.customer_id, None, c.mobile.e164, None, at, "saldo_keyword", "received")
            amount = f"{rng.randrange(10, 9_000) * 1000:,}".replace(",", ".")
            reply_at = at + timedelta(seconds=rng.uniform(2, 12))
            if reply_at <= end:
                sent = sms.reply(c.mobile.e164, c.mobile.country,
                                 f"{BANK_NAME}: el saldo disponible de su cuenta *{rng.randrange(10_000):04d} es ${amount}.",
                                 reply_at, f"saldo_reply:{jid}:{n}")
                truth.add("twilio", sent.sid, c.customer_id, None, c.mobile.e164, None, reply_at, "saldo_reply",
                          sent.status, in_sid)
        for n in range(_poisson(rng, rates.whatsapp_background)):
            if on_whatsapp:
                c = rng.choice(on_whatsapp)
                topic = rng.choice([k for k in TOPICS if k not in ("consulta_interna", "devolucion_llamada", "cobranza")])
                add_whatsapp(c, topic, when(), f"bg:{jid}:{n}", None)
        for n in range(_poisson(rng, rates.ai_reminders)):
            at = when()
            local_hour = (at.hour - 5) % 24  # Bogotá is UTC-5 all year; reminders only 8–19 h
            if reachable and 8 <= local_hour < 19:
                c = rng.choice(reachable)
                conv = render_outbound_reminder(
                    c, at, f"{jid}:{n}", seed, end, agents, sms.account_sid,
                    lambda to, country, body, at_, key, c=c: send_sms(
                        to, country, body, at_, key, customer_id=c.customer_id, journey_id=None,
                        kind="payment_link"),
                    AI_REMINDER_NUMBER)
                if conv is not None:
                    add_conversation(conv, "recordatorio_pago")

    for writer in (sms, eleven, builderbot, recordings):
        writer.close()
    truth.close(population)
    counts.update(
        elevenlabs_conversations=eleven.conversations.count,
        elevenlabs_webhooks=eleven.webhooks.count,
        elevenlabs_audio_files=eleven.audio_files,
        twilio_messages=sms.messages.count,
        twilio_status_callbacks=sms.callbacks.count,
        builderbot_webhooks=builderbot.webhooks.count,
        webex_recordings=recordings.lines.count,
        webex_transcripts=recordings.transcripts,
        audio_files=audio.files,
        audio_distinct_bytes=audio.bytes_written,
        truth_channel_contacts=truth.count,
    )
    return counts
