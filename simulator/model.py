"""Plain data model of the simulated bank contact center ("Banco Andino", Colombia).

These dataclasses are the contract between the call simulator (``simulator.webex_calls``), the
channel renderers (``simulator.channels``: ElevenLabs conversations, Webex recordings with VTT
and audio, WhatsApp, SMS) and the ground truth. They hold no behaviour beyond small derived
properties, and no provider formatting: every renderer formats them its own way.

Conventions
-----------
* Times are timezone-aware ``datetime`` in UTC.
* Phone numbers are E.164 with ``+`` (``+573001234567``); internal numbers are bare extensions
  (``"2001"``). ``Customer.whatsapp_id`` is the WhatsApp id as BuilderBot/Meta deliver it
  (digits, no ``+``): ``57…`` for Colombia, ``521…`` (old mobile ``1`` kept) for Mexico,
  ``549…`` for Argentina, ``1…`` for the US — see ``reference/channels.md`` §4.
* Webex ids: ``*_uuid`` are raw CI UUIDs as they appear in CDRs (``User UUID``, ``Site UUID``,
  ``Org UUID``); the ``webex_id`` properties give the base64 public API id
  (``ciscospark://us/PEOPLE/<uuid>``), as ``/v1/people`` and ``/v1/locations`` return it.
* Everything is deterministic for a seed (``simulator.population``).
"""

from __future__ import annotations

import base64
from dataclasses import dataclass, field
from datetime import datetime

__all__ = [
    "AI_OUTCOMES",
    "TOPICS",
    "Agent",
    "CallJourney",
    "Customer",
    "Location",
    "PhoneNumber",
    "Population",
    "Queue",
    "RecordedLeg",
    "Service",
    "Topic",
    "match_key",
    "webex_id",
]

BANK_NAME = "Banco Andino"
BANK_DOMAIN = "bancoandino.com.co"


def webex_id(kind: str, uuid: str, region: str = "us") -> str:
    """Base64 public Webex id of a raw UUID: ``ciscospark://us/<KIND>/<uuid>``, no padding.

    ``kind`` is ``PEOPLE``, ``LOCATION``, ``ORGANIZATION``, ``CALL_QUEUE``, ``AUTO_ATTENDANT``,
    ``VIRTUAL_LINE``, … (Webex strips the ``=`` padding of these ids).
    """
    raw = f"ciscospark://{region}/{kind}/{uuid}".encode()
    return base64.b64encode(raw).decode().rstrip("=")


def match_key(e164_or_wa: str) -> str:
    """Digits with MX ``521``→``52`` and AR ``549``→``54`` folded (channels.md §4.3)."""
    d = "".join(ch for ch in e164_or_wa if ch.isdigit())
    if d.startswith("521") and len(d) == 13:
        return "52" + d[3:]
    if d.startswith("549"):
        return "54" + d[3:]
    return d


@dataclass(frozen=True, slots=True)
class PhoneNumber:
    e164: str  #: ``+573001234567``
    type: str  #: ``mobile`` | ``fixed_line``
    country: str  #: ISO 3166 alpha-2: ``CO``, ``MX``, ``AR``, ``US``
    primary: bool = False


@dataclass(frozen=True, slots=True)
class Customer:
    customer_id: str  #: ``C0000001``
    name: str
    first_name: str
    last_name: str
    language: str  #: ``es`` | ``en``
    phones: tuple[PhoneNumber, ...]  #: the primary first
    #: digits as WhatsApp sends them (``521…``, ``549…``, ``57…``); None = no WhatsApp
    whatsapp_id: str | None
    segment: str  #: ``personas`` | ``preferente`` | ``premium`` | ``pyme``
    email: str | None
    document_number: str  #: cédula (or passport for foreigners), digits
    country: str  #: country of the primary number

    @property
    def primary_phone(self) -> PhoneNumber:
        return self.phones[0]

    @property
    def mobile(self) -> PhoneNumber | None:
        return next((p for p in self.phones if p.type == "mobile"), None)


@dataclass(frozen=True, slots=True)
class Location:
    location_uuid: str  #: raw UUID = CDR ``Site UUID``
    name: str  #: CDR ``Location``
    city: str
    state: str
    address1: str
    postal_code: str
    main_number: str  #: CDR ``Site main number``
    time_zone: str  #: IANA
    utc_offset_minutes: int  #: CDR ``Site timezone`` (as a string there)
    latitude: float
    longitude: float

    @property
    def webex_id(self) -> str:
        return webex_id("LOCATION", self.location_uuid)


@dataclass(frozen=True, slots=True)
class Service:
    """A Webex virtual entity that owns CDR records: auto attendant, virtual line (AI agent)…"""

    key: str  #: ``aa_principal``, ``ai_agent``
    name: str  #: CDR ``User`` / ``Called line ID``
    uuid: str  #: CDR ``User UUID``
    user_type: str  #: CDR ``User type``: ``AutomatedAttendantVideo``, ``VirtualLine``
    number: str  #: E.164 DID
    extension: str
    location_uuid: str


@dataclass(frozen=True, slots=True)
class Queue:
    """A Webex Calling call queue (CDR ``User type`` ``CallCenterStandard``)."""

    key: str  #: ``tarjetas``
    name: str  #: ``Tarjetas`` (CDR ``User``)
    uuid: str  #: CDR ``User UUID`` of the queue's records
    number: str  #: E.164 DID of the queue
    extension: str
    location_uuid: str
    #: key pressed in the main auto attendant to reach it (None: not in the menu)
    aa_key: str | None
    always_open: bool  #: 24/7 (card blocking) vs business hours
    language: str  #: ``es`` | ``en``
    ring_timeout_s: int  #: per-agent ring time before the next agent is tried
    max_wait_s: int  #: queue timeout (overflow/voicemail)
    overflow_to: str | None  #: queue key receiving timeouts (None = disconnect with message)


@dataclass(frozen=True, slots=True)
class Agent:
    agent_id: str  #: ``A0001``
    name: str
    first_name: str
    last_name: str
    email: str
    extension: str  #: ``2001``
    user_uuid: str  #: Webex CI UUID (CDR ``User UUID``; ``ownerId`` of recordings)
    location_uuid: str
    location_name: str
    phone_number: str | None  #: E.164 DID (None: extension only)
    skills: tuple[str, ...]  #: queue keys served, first = primary
    role: str  #: ``agent`` | ``collections`` | ``supervisor`` | ``backoffice``
    shift: str  #: ``morning`` | ``afternoon`` | ``day`` | ``night`` | ``saturday``
    languages: tuple[str, ...]  #: ``("es",)`` or ``("es", "en")``
    client_type: str  #: ``WXC_CLIENT`` (soft client) | ``WXC_DEVICE`` (desk phone)
    device_mac: str  #: 12 hex when a desk phone, else ""
    device_model: str  #: ``Cisco 8851`` … or ""
    created: datetime  #: account creation (people.json)

    @property
    def webex_id(self) -> str:
        return webex_id("PEOPLE", self.user_uuid)

    @property
    def user_number(self) -> str:
        """CDR ``User number``: the DID, else the extension."""
        return self.phone_number or self.extension


@dataclass(frozen=True, slots=True)
class Topic:
    key: str
    queue: str  #: queue key that handles it
    label_es: str
    label_en: str
    ai_resolvable: float  #: chance the AI voice agent resolves it on its own


# Intents of inbound calls (the topic of the conversation; renderers write transcripts from it)
# fmt: off
TOPICS: dict[str, Topic] = {
    t.key: t
    for t in (
        Topic("bloqueo_tarjeta", "bloqueo", "Bloqueo de tarjeta por pérdida o robo", "Block a lost or stolen card", 0.35),
        Topic("transaccion_no_reconocida", "fraude", "Transacción no reconocida", "Unrecognised transaction", 0.05),
        Topic("suplantacion", "fraude", "Posible suplantación / llamada sospechosa", "Suspected impersonation call", 0.0),
        Topic("pago_tarjeta", "tarjetas", "Pago de tarjeta de crédito", "Credit card payment", 0.7),
        Topic("cupo_tarjeta", "tarjetas", "Aumento de cupo de tarjeta", "Credit limit increase", 0.2),
        Topic("avance_tarjeta", "tarjetas", "Avance en efectivo", "Cash advance", 0.4),
        Topic("saldo_movimientos", "cuentas", "Consulta de saldo y movimientos", "Balance and transactions", 0.8),
        Topic("extracto", "cuentas", "Solicitud de extracto", "Account statement", 0.75),
        Topic("clave_app", "cuentas", "Desbloqueo de clave / app", "Password or app unlock", 0.3),
        Topic("certificado_bancario", "cuentas", "Certificado bancario", "Bank reference letter", 0.6),
        Topic("credito_libre_inversion", "creditos", "Crédito de libre inversión", "Personal loan", 0.15),
        Topic("estado_credito", "creditos", "Estado de solicitud de crédito", "Loan application status", 0.55),
        Topic("paz_y_salvo", "creditos", "Paz y salvo de crédito", "Loan clearance letter", 0.5),
        Topic("english_service", "english", "Atención en inglés", "Service in English", 0.4),
        Topic("cobranza", "", "Gestión de cobranza (acuerdo de pago)", "Collections (payment arrangement)", 0.0),
        Topic("devolucion_llamada", "", "Devolución de llamada", "Callback", 0.0),
        Topic("consulta_interna", "", "Consulta interna", "Internal consult", 0.0),
    )
}
# fmt: on

#: ``CallJourney.ai_outcome`` values (None when the AI agent did not take the call)
AI_OUTCOMES = ("resolved", "escalated", "abandoned")


@dataclass(frozen=True, slots=True)
class RecordedLeg:
    """One recorded Webex leg (a converged recording is made per recorded user leg)."""

    recording_id: str  #: 32 hex, stable for the seed
    owner_agent_id: str
    owner_uuid: str  #: recording ``ownerId`` = CDR ``User UUID``
    owner_email: str
    location_uuid: str
    correlation_id: str  #: CDR ``Correlation ID`` of the leg
    local_call_id: str  #: CDR ``Local call ID`` (metadata ``callId`` = ``callhalf-<id>``)
    remote_party: str  #: number/name of the other party
    personality: str  #: ``terminator`` (agent received the call) | ``originator``
    started_at: datetime  #: = leg ``Answer time``
    ended_at: datetime  #: = leg ``Release time``
    trigger: str  #: ``always`` | ``on-demand``
    result: str  #: ``successful`` | ``failed`` | ``successful but not kept``

    @property
    def duration_seconds(self) -> int:
        return int((self.ended_at - self.started_at).total_seconds())


@dataclass(frozen=True, slots=True)
class CallJourney:
    """One customer (or internal) call end to end, as a person would describe it.

    ``direction``: ``inbound`` | ``outbound`` | ``internal``.
    ``channel_entry``: ``pstn`` (inbound, auto attendant / queue, or outbound PSTN),
    ``ai_agent`` (inbound answered first by the ElevenLabs voice agent), ``internal``.
    ``outcome``: ``answered`` (a human agent talked), ``ai_resolved``, ``abandoned`` (hung up
    waiting in a queue or while ringing), ``aa_hangup`` (left in the auto attendant),
    ``timeout`` (queue max wait, disconnected), ``closed`` (after hours message),
    ``no_answer`` / ``busy`` / ``failed`` (outbound not answered).
    ``hops``: readable route, e.g. ``("PSTN", "AA Principal [3]", "Asistente Virtual IA",
    "Cuentas", "Ana Pérez")``; ``route`` joins them with `` → ``.
    ``talk_seconds``: seconds human agents were connected (all agents of the journey).
    """

    journey_id: str  #: ``J…`` stable for the seed
    customer_id: str | None
    caller_number: str
    callee_number: str
    direction: str
    call_type: str  #: ``service`` | ``card_block`` | ``collections`` | ``callback`` | ``internal`` | ``international``
    started_at: datetime
    ended_at: datetime
    channel_entry: str
    ai_outcome: str | None
    ai_started_at: datetime | None
    ai_ended_at: datetime | None
    ai_line_number: str | None  #: number of the AI agent's line (ElevenLabs ``agent_number``)
    hops: tuple[str, ...]
    queue: str | None  #: first queue key
    queues: tuple[str, ...]  #: every queue visited, in order
    agent_id: str | None  #: final answering agent
    agent_ids: tuple[str, ...]  #: every agent who talked, in order
    talk_seconds: int
    recorded: bool
    recordings: tuple[RecordedLeg, ...]
    language: str  #: ``es`` | ``en``
    topic: str  #: key of :data:`TOPICS`
    outcome: str
    correlation_ids: tuple[str, ...] = field(default=())
    aa_key: str | None = None  #: last key pressed in the auto attendant

    @property
    def route(self) -> str:
        return " → ".join(self.hops)

    @property
    def duration_seconds(self) -> int:
        return int((self.ended_at - self.started_at).total_seconds())


@dataclass(slots=True)
class Population:
    """Everything that exists before the first call: org, locations, services, queues, people."""

    seed: int
    org_uuid: str
    org_name: str
    domain: str
    locations: tuple[Location, ...]
    queues: tuple[Queue, ...]
    services: tuple[Service, ...]
    agents: tuple[Agent, ...]
    customers: tuple[Customer, ...]
    _by_customer: dict[str, Customer] = field(default_factory=dict, repr=False)
    _by_agent: dict[str, Agent] = field(default_factory=dict, repr=False)

    def __post_init__(self) -> None:
        self._by_customer = {c.customer_id: c for c in self.customers}
        self._by_agent = {a.agent_id: a for a in self.agents}

    def customer(self, customer_id: str) -> Customer:
        return self._by_customer[customer_id]

    def agent(self, agent_id: str) -> Agent:
        return self._by_agent[agent_id]

    def queue(self, key: str) -> Queue:
        return next(q for q in self.queues if q.key == key)

    def service(self, key: str) -> Service:
        return next(s for s in self.services if s.key == key)

    def location(self, location_uuid: str) -> Location:
        return next(loc for loc in self.locations if loc.location_uuid == location_uuid)

    @property
    def org_webex_id(self) -> str:
        return webex_id("ORGANIZATION", self.org_uuid)
