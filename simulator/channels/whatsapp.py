"""BuilderBot Cloud (WhatsApp): the bank's WhatsApp bot conversations as the webhooks it posts.

``builderbot/webhooks.jsonl`` holds ``{"send_at": "...Z", "payload": {"eventName", "data"}}``
in ``send_at`` order (``reference/channels.md`` §3, evidence thin and marked there):

* ``message.incoming``: ``data = {body, name, from, attachment[], projectId}``; a voice note has
  ``body = "_event_voice_note__<uuid>"``, one ``attachment {url, mimetype}`` and
  ``urlTempFile``. ``from`` is the customer's WhatsApp id (digits, ``521…`` for Mexico,
  ``549…`` for Argentina), ``name`` the WhatsApp profile name (not always the legal name).
* ``message.outgoing``: the bot's reply with ``from`` = the customer's id; the text is in
  ``body`` (with ``name``, ``attachment``) or, in the variant some integrations see, in
  ``answer`` (``{answer, from, projectId}`` only).

No message id, timestamp or signature exists in these payloads; ``projectId`` is missing from a
share of them, as captures show.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path

from simulator.channels import dialogues as d
from simulator.channels.common import SortedJsonlWriter, iso_z, rng_for, uuid4_from
from simulator.model import TOPICS, Customer

TEMP_FILES = "https://files.builderbot.example/tmp"


@dataclass(slots=True)
class WhatsAppConversation:
    conversation_key: str  #: our own id for the truth table (BuilderBot has none)
    customer_id: str
    whatsapp_id: str
    topic: str
    started_at: datetime
    events: list[tuple[datetime, dict]] = field(default_factory=list)
    handed_off: bool = False


def profile_name(customer: Customer, rng: random.Random) -> str:
    """What the customer typed as WhatsApp name: full name, first name, or a nickname."""
    x = rng.random()
    if x < 0.45:
        return customer.name
    if x < 0.8:
        return customer.first_name
    if x < 0.92:
        return f"{customer.first_name} {customer.last_name.split()[0][0]}."
    return customer.first_name.lower() + rng.choice(("", " 🙂", "_", str(rng.randrange(70, 99))))


def render_conversation(customer: Customer, topic: str, at: datetime, key: str, seed: int,
                        project_id: str, end: datetime, line_number: str) -> WhatsAppConversation | None:
    """A WhatsApp exchange about ``topic`` starting at ``at`` (None if the customer has no
    WhatsApp). Events after ``end`` are dropped: the period closes mid-conversation."""
    if not customer.whatsapp_id or at > end:
        return None
    rng = rng_for(seed, "whatsapp", key)
    language = customer.language if customer.language in ("es", "en") else "es"
    sc = d.script(topic, language)
    slots = d.draw_slots(rng, language)
    name = profile_name(customer, rng)
    wa = customer.whatsapp_id
    conv = WhatsAppConversation(key, customer.customer_id, wa, topic, at)
    t = at

    def incoming(body: str, attachment: list | None = None, temp: str | None = None) -> None:
        data = {"body": body, "name": name, "from": wa, "attachment": attachment or []}
        if temp:
            data["urlTempFile"] = temp
        if rng.random() < 0.88:
            data["projectId"] = project_id
        conv.events.append((t, {"eventName": "message.incoming", "data": data}))

    def outgoing(text: str) -> None:
        if rng.random() < 0.15:
            data = {"answer": text, "from": wa}
        else:
            data = {"body": text, "name": name, "from": wa, "attachment": []}
        if rng.random() < 0.88:
            data["projectId"] = project_id
        conv.events.append((t, {"eventName": "message.outgoing", "data": data}))

    def wait(lo: float, hi: float) -> None:
        nonlocal t
        t = t + timedelta(seconds=rng.uniform(lo, hi))

    if rng.random() < 0.12:
        token = uuid4_from(rng)
        url = f"{TEMP_FILES}/{token}.ogg"
        incoming(f"_event_voice_note__{token}", [{"url": url, "mimetype": "audio/ogg; codecs=opus"}], url)
        wait(1, 4)
        outgoing(rng.choice(d.WHATSAPP_BOT_VOICE_NOTE[language]))
        wait(20, 180)
    incoming(d.fill(rng.choice(sc.whatsapp), slots))
    wait(1, 5)
    outgoing(d.fill(rng.choice(d.WHATSAPP_BOT_GREETING[language]), {"name": name.split()[0]}))
    wait(1, 6)
    resolvable = TOPICS[topic].ai_resolvable if topic in TOPICS else 0.5
    if rng.random() < resolvable:
        outgoing(d.fill(rng.choice(sc.answer), slots))
        wait(15, 300)
        if rng.random() < 0.7:
            incoming(rng.choice(d.WHATSAPP_THANKS[language]))
            wait(1, 4)
            outgoing(rng.choice(d.WHATSAPP_BOT_BYE[language]))
    else:
        conv.handed_off = True
        outgoing(d.fill(rng.choice(d.WHATSAPP_BOT_HANDOFF[language]), {"line": line_number}))
    conv.events = [(when, payload) for when, payload in conv.events if when <= end]
    return conv


class BuilderBotWriter:
    def __init__(self, out_dir: Path) -> None:
        self.webhooks = SortedJsonlWriter(out_dir / "builderbot" / "webhooks.jsonl")

    def add(self, conv: WhatsAppConversation) -> None:
        for at, payload in conv.events:
            self.webhooks.push(at, {"send_at": iso_z(at), "payload": payload})

    def advance(self, watermark: datetime) -> None:
        self.webhooks.advance(watermark)

    def close(self) -> None:
        self.webhooks.close()
