"""Webex converged recordings of the recorded agent legs: objects, VTT transcripts and audio.

``webex/recordings/recordings.jsonl`` — one recording per line, in ``createTime`` order: the
list item's fields (= the details without ``temporaryDirectDownloadLinks``) plus ``metadata``,
the ``GET …/metadata?showAllTypes=true`` document (``reference/webex.md`` §2). The sandbox adds ``temporaryDirectDownloadLinks`` on a details
request and hides ``callActivity[].mediaStreams/participants`` unless ``showAllTypes=true``.
``ownerId`` is the agent's raw UUID (CDR ``User UUID``), ``serviceData.callSessionId`` the leg's
CDR ``Correlation ID`` and metadata ``callId`` = ``callhalf-<CDR Local call ID>`` (that id
already ends in ``:0``), which is
how the pipeline can join recordings to CDR legs. ``sizeBytes`` and ``format: "MP3"`` describe
the provider's file of the whole call; the file here is a short WAV clip ``files/<id>.wav`` made
by :func:`simulator.channels.audio.tone_wav`.

``files/<id>.vtt`` — the transcript as Webex delivers it (§6): the speaker in the cue-identifier
line (``3 "Ana Pérez" (2012345678) (<uuid>)``; the customer as ``"Unknown Speaker" (0)`` or
their number), or, in some files, plain numbered cues with ``<v Speaker>`` voice tags; some cue
texts start with ``Name: ``. Spanish, English for English-language calls. About one recording
in twenty has no transcript (transcription failed / not enabled): no ``.vtt`` file.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

from simulator.channels import dialogues as d
from simulator.channels.audio import AudioStore, tone_wav
from simulator.channels.common import SortedJsonlWriter, iso_z, rng_for, uuid4_from
from simulator.model import CallJourney, Customer, Population, RecordedLeg

WAV_CLIP_MAX_SECONDS = 3
WAV_VARIANTS = 12
SBC = "10.60.4.21"  # the trunk's SBC as it shows in SIP URIs


@dataclass(slots=True)
class RenderedRecording:
    recording_id: str
    line: dict
    vtt: str | None
    audio_seconds: int
    audio_variant: int
    created: datetime
    owner_agent_id: str


def vtt_timestamp(seconds: float) -> str:
    ms = int(round(seconds * 1000))
    h, rem = divmod(ms, 3_600_000)
    m, rem = divmod(rem, 60_000)
    s, ms = divmod(rem, 1000)
    return f"{h:02d}:{m:02d}:{s:02d}.{ms:03d}"


def dialogue_lines(journey: CallJourney, customer: Customer | None, agent_name: str,
                   rng: random.Random, transferred_in: bool) -> list[tuple[str, str]]:
    """``(speaker, text)`` of a human-agent call about the journey's topic; speaker is
    ``"agent"`` or ``"customer"``."""
    language = journey.language if journey.language in ("es", "en") else "es"
    sc = d.script(journey.topic, language)
    slots = d.draw_slots(rng, language)
    slots.update(agent=agent_name.split()[0], customer=customer.name if customer else "")
    pick = rng.choice
    out: list[tuple[str, str]] = []
    if journey.direction == "outbound" and not transferred_in:
        # the agent dialled: they open, name the customer and say why they call
        who = customer.first_name if customer else ""
        out.append(("agent", d.fill(pick(d.OUTBOUND_OPENING[language]), {**slots, "customer": who})))
        out.append(("customer", pick(d.OUTBOUND_ANSWER[language])))
        reason = d.OUTBOUND_REASON[language].get(journey.topic) or d.OUTBOUND_REASON[language]["_"]
        out.append(("agent", d.fill(reason, {**slots, "label": d.topic_label(journey.topic, language).lower()})))
        out.append(("agent", pick(d.OUTBOUND_ASK_ID[language])))
        doc = customer.document_number if customer else str(rng.randrange(10**7, 10**9))
        out.append(("customer", d.fill(pick(d.GIVE_ID[language]),
                                       {"document_spoken": d.spoken_digits(doc, language)})))
        out.append(("agent", d.fill(pick(sc.answer), slots)))
        out.append(("customer", pick(d.OUTBOUND_BYE_CUSTOMER[language])))
        out.append(("agent", pick(d.OUTBOUND_BYE_AGENT[language])))
        return out
    if transferred_in:
        out.append(("agent", d.fill("Buenas, le habla {agent}, me transfirieron su llamada. ¿Me confirma el motivo?"
                                    if language == "es" else
                                    "Hello, this is {agent}, your call was transferred to me. How can I help?", slots)))
    else:
        out.append(("agent", d.fill(pick(d.AGENT_GREETING[language]), slots)))
        if customer:
            out.append(("customer", d.fill(pick(d.CUSTOMER_NAME[language]), slots)))
    out.append(("customer", d.fill(pick(sc.ask), slots)))
    out.append(("agent", pick(d.ASK_ID[language])))
    doc = customer.document_number if customer else str(rng.randrange(10**7, 10**9))
    out.append(("customer", d.fill(pick(d.GIVE_ID[language]),
                                   {"document_spoken": d.spoken_digits(doc, language)})))
    out.append(("agent", pick(d.HOLD[language])))
    out.append(("agent", d.fill(pick(sc.answer), slots)))
    out.append(("agent", pick(d.ANYTHING_ELSE[language])))
    out.append(("customer", pick(d.BYE_CUSTOMER[language])))
    out.append(("agent", pick(d.BYE_AGENT[language])))
    return out


def render_vtt(lines: list[tuple[str, str]], duration: int, agent_name: str, agent_numeric_id: int,
               agent_uuid: str, customer_label: str, style: str) -> str:
    """WebVTT text. ``style``: ``cue_id`` (speaker in the cue line), ``voice`` (``<v>`` tags) or
    ``name_prefix`` (speaker in the cue line and ``Name: `` before the text)."""
    out = ["WEBVTT", ""]
    # a line lasts as long as it takes to say (about 2.6 words a second); the rest of the call
    # (holds, typing, silences) is spread between lines; long lines are squeezed to fit
    speech = [0.6 + len(text.split()) / 2.6 for _, text in lines]
    available = max(duration - 0.5, 1.0)
    scale = min(1.0, available * 0.9 / sum(speech))
    gap = (available - scale * sum(speech)) / len(lines)
    t = 0.48
    for i, (speaker, text) in enumerate(lines, start=1):
        start = t
        stop = start + speech[i - 1] * scale
        t = stop + gap
        name = agent_name if speaker == "agent" else customer_label
        if style == "voice":
            out.append(str(i))
        elif speaker == "agent":
            out.append(f'{i} "{agent_name}" ({agent_numeric_id}) ({agent_uuid})')
        else:
            out.append(f'{i} "{customer_label}" (0)')
        out.append(f"{vtt_timestamp(start)} --> {vtt_timestamp(stop)}")
        if style == "voice":
            out.append(f"<v {name}>{text}</v>")
        elif style == "name_prefix":
            out.append(f"{name}: {text}")
        else:
            out.append(text)
        out.append("")
    return "\n".join(out)


def _sip(number: str) -> str:
    return f"sip:{number}@{SBC};user=phone"


def render_recording(journey: CallJourney, leg: RecordedLeg, leg_index: int, population: Population,
                     seed: int, end: datetime) -> RenderedRecording | None:
    """The converged recording of one recorded leg (None if none is kept or not yet created)."""
    if leg.result != "successful":
        return None
    rng = rng_for(seed, "recording", leg.recording_id)
    created = leg.ended_at + timedelta(seconds=rng.uniform(20, 150))
    if created > end:
        return None
    agent = population.agent(leg.owner_agent_id)
    customer = population.customer(journey.customer_id) if journey.customer_id else None
    duration = max(1, leg.duration_seconds)
    location = population.location(leg.location_uuid)
    agent_number = agent.phone_number or agent.extension
    caller = journey.caller_number if journey.direction == "inbound" else journey.callee_number
    remote = leg.remote_party or caller
    local_topic_time = created.strftime("%Y%m%d %H%M")
    recording = {
        "id": leg.recording_id,
        "topic": f"Call with {remote}-{local_topic_time}",
        "createTime": iso_z(created, ms=False),
        "timeRecorded": iso_z(leg.started_at, ms=False),
        "ownerId": leg.owner_uuid,
        "ownerType": "user",
        "ownerEmail": leg.owner_email,
        "format": "MP3",
        "durationSeconds": duration,
        "sizeBytes": duration * 4000 + rng.randrange(0, 4000),  # a 32 kbit/s MP3 of the call
        "serviceType": "calling",
        "storageRegion": "US",
        "status": "available",
        "serviceData": {"locationId": location.location_uuid, "callSessionId": leg.correlation_id},
    }
    actor_agent = {"type": "USER", "id": leg.owner_uuid}
    agent_party = {"actor": actor_agent, "number": _sip(agent_number)}
    remote_party = {"number": _sip(remote)}
    originator = leg.personality == "originator"
    actions = []
    if duration > 120 and rng.random() < 0.15:  # the agent paused recording while a card number was read
        p = leg.started_at + timedelta(seconds=rng.uniform(30, duration - 60))
        actions = [{"action": "PAUSE", "time": iso_z(p, ms=False)},
                   {"action": "RESUME", "time": iso_z(p + timedelta(seconds=rng.uniform(10, 40)), ms=False)}]
    stream = uuid4_from(rng)
    metadata = {
        "id": leg.recording_id,
        "orgId": population.org_uuid,
        "ownerId": leg.owner_uuid,
        "ownerType": "USER",
        "ownerName": agent.name,
        "ownerEmail": leg.owner_email,
        "storageRegion": "US",
        "serviceType": "calling",
        "version": "1.2",
        "serviceData": {
            "callRecordingId": leg.recording_id,
            "locationId": location.location_uuid,
            "callSessionId": leg.correlation_id,
            "personality": leg.personality,
            "callingParty": agent_party if originator else remote_party,
            "calledParty": remote_party if originator else agent_party,
            # CDR "Local call ID" is already "<n>:0"; the metadata calls it "callhalf-<n>:0"
            "callId": f"callhalf-{leg.local_call_id}" if ":" in leg.local_call_id
            else f"callhalf-{leg.local_call_id}:0",
            "session": {"startTime": iso_z(leg.started_at, ms=False), "stopTime": iso_z(leg.ended_at, ms=False)},
            "recordingType": "alwaysON" if leg.trigger == "always" else "onDemand",
            "answererInfo": agent_party if not originator else remote_party,
            "recordingActions": actions,
            "callActivity": [{
                "timeStamp": iso_z(leg.started_at + timedelta(seconds=1), ms=False),
                "mediaStreams": [{"streamId": stream, "mode": "mixed", "mLineIndex": "0"}],
                "participants": [
                    {"actor": actor_agent, "aor": _sip(agent_number), "send": stream},
                    {"actor": {"type": "PSTN", "id": ""}, "aor": _sip(remote), "send": stream},
                ],
            }],
            "managedBy": agent_party,
            "connectedParty": remote_party,
        },
    }
    vtt = None
    if rng.random() >= 0.05:
        style = rng.choices(("cue_id", "voice", "name_prefix"), weights=(0.6, 0.3, 0.1))[0]
        customer_label = rng.choice(("Unknown Speaker", remote)) if customer else "Unknown Speaker"
        lines = dialogue_lines(journey, customer, agent.name, rng, transferred_in=leg_index > 0)
        numeric_id = int(agent.extension) * 1_000_003 % 2_147_483_647
        vtt = render_vtt(lines, duration, agent.name, numeric_id, leg.owner_uuid, customer_label, style)
    return RenderedRecording(
        recording_id=leg.recording_id,
        line={**recording, "metadata": metadata},
        vtt=vtt,
        audio_seconds=min(WAV_CLIP_MAX_SECONDS, duration),
        audio_variant=rng.randrange(WAV_VARIANTS),
        created=created,
        owner_agent_id=leg.owner_agent_id,
    )


class RecordingsWriter:
    def __init__(self, out_dir: Path, audio: AudioStore) -> None:
        self.dir = out_dir / "webex" / "recordings"
        self.files = self.dir / "files"
        self.files.mkdir(parents=True, exist_ok=True)
        self.lines = SortedJsonlWriter(self.dir / "recordings.jsonl")
        self.audio = audio
        self.transcripts = 0

    def add(self, rec: RenderedRecording) -> None:
        self.lines.push(rec.created, rec.line)
        if rec.vtt is not None:
            (self.files / f"{rec.recording_id}.vtt").write_text(rec.vtt, encoding="utf-8")
            self.transcripts += 1
        seconds, variant = rec.audio_seconds, rec.audio_variant
        self.audio.write(self.files / f"{rec.recording_id}.wav", "wav", (variant, seconds),
                         lambda: tone_wav(seconds, variant))

    def advance(self, watermark: datetime) -> None:
        self.lines.advance(watermark)

    def close(self) -> None:
        self.lines.close()
