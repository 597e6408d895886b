"""The bank's Webex Calling contact center as a discrete-event simulation → CDR legs + truth.

What happens (``reference/fraud.md`` §5.1 for the normal behaviour, ``reference/webex.md``
§1.9 for how the records of one call relate):

* **Inbound.** Callers dial the main number or the 01-8000 toll-free number and reach an auto
  attendant ("AA Principal" / "AA Línea Gratuita"): key 1 Tarjetas, 2 Créditos, 3 the AI voice
  agent (ElevenLabs, a Webex *virtual line* "Asistente Virtual IA" whose SIP endpoint is the
  ElevenLabs agent), 4 Fraude, 5 Bloqueo 24/7, 9 English Service, 0 an adviser (Cuentas). Some
  hang up in the menu. After hours, Sundays and Colombian holidays the AA plays the closed
  message and only key 5 (card blocking) works. The blocking line also has its own DID
  straight into its queue (24/7). The AI agent resolves part of the calls and transfers the
  rest (blind transfer) to the queue of the caller's intent.
* **Queues** (Webex call queues): a greeting, then agents are offered the call one at a time
  (longest idle first; "Bloqueo 24/7" rings up to three idle agents at once). Agents ring,
  answer, do not answer (ring-no-answer after the queue's ring time, then are away a while),
  or are busy on another line (``UserBusy``). Callers abandon when their patience runs out
  (some very short), queues time out after their max wait and overflow (Créditos → Cuentas,
  Fraude → Bloqueo, English → Cuentas) or disconnect. Abandoned callers often call again;
  some get a callback from an agent of the queue.
* **Agents** follow shifts (morning, afternoon, evening, night for the 24/7 line, Saturday
  mornings), log in a few minutes late or not at all, take breaks / lunch / training, have a
  wrap-up after every call. Talk times are log-normal per queue; some calls have hold; some are
  blind-transferred to another queue (misrouted intents), some consult a supervisor, some are
  consult-transferred to a supervisor or the back office.
* **Outbound.** Collections agents dial customers all day (answered, no answer after 20–30 s
  of ringing, busy, unreachable, voicemail); agents call back abandoned callers; supervisors and
  the back office make internal and national calls, and a few authorised users international
  ones.
* **Demand** follows the roster (a WFM plan) with an intraday shape (peaks 9–11 h and 14–16 h),
  Monday +12 %, quincena paydays (15th and last day of the month, moved to the previous
  business day) +25 %, day-after-holiday +15 %, and daily/hourly noise — so paydays run hot.

Records (one per leg and party, :mod:`simulator.webex_cdr`) share the journey's
``Correlation ID`` (a consult is its own call with its own Correlation ID) and
``Interaction ID``; ``Local``/``Remote call ID`` pair the two halves of internal legs;
``Related call ID`` + ``Related reason`` go from the AA to the queue or AI line it deflected to,
from a queue to the agent who answered (``CallQueue``) or the queue it overflowed into, from the
AI line or an agent to the queue they blind-transferred to (``Deflection``);
``Transfer related call ID`` + ``Call transfer time`` are mutual between the two calls of a
consultative transfer; the AA and queue records of the PSTN dialog share its ``Network call ID``.

The simulation emits, per finished journey, a :class:`JourneyOutput` to a sink; it never holds
more than the calls in progress.
"""

from __future__ import annotations

import functools
import heapq
import math
import random
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import phonenumbers

from simulator.model import (
    TOPICS,
    Agent,
    CallJourney,
    Customer,
    Population,
    Queue,
    RecordedLeg,
)
from simulator.population import co_landline, co_mobile, mx_mobile, rng_for, us_number
from simulator.webex_cdr import IdSource, Leg
from simulator.webex_cdr import iso_ms as _iso

__all__ = [
    "JourneyOutput",
    "SimConfig",
    "WebexCallCenter",
    "colombian_holidays",
    "paydays",
]

# ---------------------------------------------------------------------------------------------
# Calendar
# ---------------------------------------------------------------------------------------------


def _easter(y: int) -> date:
    a, b, c = y % 19, y // 100, y % 100
    d, e = b // 4, b % 4
    f = (b + 8) // 25
    g = (b - f + 1) // 3
    h = (19 * a + b - d - g + 15) % 30
    i, k = c // 4, c % 4
    l_ = (32 + 2 * e + 2 * i - h - k) % 7
    m = (a + 11 * h + 22 * l_) // 451
    month = (h + l_ - 7 * m + 114) // 31
    day = ((h + l_ - 7 * m + 114) % 31) + 1
    return date(y, month, day)


def _next_monday(d: date) -> date:
    return d + timedelta(days=(7 - d.weekday()) % 7)


@functools.lru_cache(maxsize=64)
def colombian_holidays(year: int) -> frozenset[date]:
    """Colombian public holidays ("festivos"), with the Ley Emiliani moves to Monday."""
    fixed = {date(year, 1, 1), date(year, 5, 1), date(year, 7, 20), date(year, 8, 7),
             date(year, 12, 8), date(year, 12, 25)}  # fmt: skip
    moved = {
        _next_monday(date(year, m, d))
        for m, d in ((1, 6), (3, 19), (6, 29), (8, 15), (10, 12), (11, 1), (11, 11))
    }
    e = _easter(year)
    easter = {e - timedelta(days=3), e - timedelta(days=2), e + timedelta(days=43),
              e + timedelta(days=64), e + timedelta(days=71)}  # fmt: skip
    return frozenset(fixed | moved | easter)


def _is_holiday(d: date) -> bool:
    return d in colombian_holidays(d.year)


def _business_day(d: date) -> bool:
    return d.weekday() < 6 and not _is_holiday(d)


@functools.lru_cache(maxsize=256)
def paydays(year: int, month: int) -> frozenset[date]:
    """Quincena paydays: the 15th and the last day, moved back to a business day."""
    last = (
        (date(year + month // 12, month % 12 + 1, 1) - timedelta(days=1))
        if month < 12
        else date(year, 12, 31)
    )
    out = set()
    for d in (date(year, month, 15), last):
        while d.weekday() == 6 or _is_holiday(d):
            d -= timedelta(days=1)
        out.add(d)
    return frozenset(out)


# ---------------------------------------------------------------------------------------------
# Configuration
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class QueueBehaviour:
    talk_median_s: float
    talk_sigma: float
    wrap_s: int  #: the queue's wrap-up timer
    topics: tuple[tuple[str, float], ...]


BEHAVIOUR: dict[str, QueueBehaviour] = {
    "tarjetas": QueueBehaviour(210, 0.65, 20, (("pago_tarjeta", 0.35), ("cupo_tarjeta", 0.22), ("avance_tarjeta", 0.2), ("transaccion_no_reconocida", 0.11), ("bloqueo_tarjeta", 0.07), ("credito_libre_inversion", 0.05))),
    "creditos": QueueBehaviour(290, 0.7, 30, (("credito_libre_inversion", 0.45), ("estado_credito", 0.33), ("paz_y_salvo", 0.17), ("pago_tarjeta", 0.05))),
    "cuentas": QueueBehaviour(190, 0.65, 20, (("saldo_movimientos", 0.24), ("extracto", 0.16), ("clave_app", 0.34), ("certificado_bancario", 0.12), ("transaccion_no_reconocida", 0.06), ("pago_tarjeta", 0.05), ("estado_credito", 0.03))),
    "fraude": QueueBehaviour(360, 0.6, 45, (("transaccion_no_reconocida", 0.74), ("suplantacion", 0.22), ("bloqueo_tarjeta", 0.04))),
    "bloqueo": QueueBehaviour(150, 0.5, 20, (("bloqueo_tarjeta", 0.93), ("transaccion_no_reconocida", 0.07))),
    "english": QueueBehaviour(240, 0.65, 25, (("saldo_movimientos", 0.3), ("pago_tarjeta", 0.25), ("transaccion_no_reconocida", 0.15), ("clave_app", 0.2), ("extracto", 0.1))),
}  # fmt: skip

AI_KEY = "3"
#: intents of callers who choose the AI agent (key 3)
AI_TOPICS = (("saldo_movimientos", 0.3), ("extracto", 0.17), ("clave_app", 0.2), ("certificado_bancario", 0.1),
             ("pago_tarjeta", 0.12), ("estado_credito", 0.05), ("transaccion_no_reconocida", 0.04), ("bloqueo_tarjeta", 0.02))  # fmt: skip
# intraday demand shape (local hour → relative rate), peaks 9–11 h and 14–16 h, lull at lunch
SHAPE = {
    7: 0.75,
    8: 0.95,
    9: 1.15,
    10: 1.22,
    11: 1.1,
    12: 0.85,
    13: 0.88,
    14: 1.1,
    15: 1.15,
    16: 1.05,
    17: 0.92,
    18: 0.75,
}
BLOQUEO_SHAPE = [0.25, 0.2, 0.15, 0.15, 0.2, 0.35, 0.6, 0.85, 1.0, 1.1, 1.15, 1.1, 1.0, 1.0, 1.1, 1.1, 1.05, 1.0, 0.95, 0.9, 0.8, 0.7, 0.55, 0.4]  # fmt: skip
TRUNKS = {  # location index → inbound/outbound trunks
    0: ("TRK-BOG-CLARO", "TRK-BOG-MOVISTAR"),
    1: ("TRK-MED-TIGO", "TRK-MED-ETB"),
}
ROUTE_GROUPS = {0: "RG-BOGOTA", 1: "RG-MEDELLIN"}
COLLECTIONS_CLI = "+576017460300"
INTL = (
    ("US", 0.5),
    ("ES", 0.2),
    ("PA", 0.07),
    ("MX", 0.07),
    ("EC", 0.06),
    ("PE", 0.05),
    ("CL", 0.05),
)
INTL_CARRIER = ("005", "007", "009")


@dataclass(frozen=True)
class SimConfig:
    start: date
    days: int
    seed: int
    site_tz: str = "America/Bogota"
    occupancy: float = 0.78  #: target occupancy the demand is sized for
    calls_scale: float = 1.0  #: multiplies inbound demand
    late_record_share: float = 0.005  #: records inserted much later (backfilled by cdr_stream)


@dataclass(slots=True)
class JourneyOutput:
    """What a finished journey leaves behind: the journey, its CDRs and its truth rows."""

    journey: CallJourney
    records: list[tuple[int, dict]]  #: (inserted_at epoch ms, record) in creation order
    visits: list[dict]
    offers: list[dict]
    row: dict  #: journeys truth row


# ---------------------------------------------------------------------------------------------
# Runtime objects
# ---------------------------------------------------------------------------------------------

OFF, IDLE, RING, TALK, WRAP, PAUSE, AWAY = range(7)
(E_DAY, E_HOUR, E_ARRIVE, E_AA_DONE, E_AI_DONE, E_ELIGIBLE, E_ABANDON, E_TIMEOUT, E_RING_END,
 E_TALK_END, E_AFTER_CALL, E_WRAP_END, E_CONSULT, E_JOURNEY_END, E_SHIFT_START, E_SHIFT_END,
 E_PAUSE_START, E_PAUSE_END, E_AWAY_END, E_DIAL, E_CALLBACK, E_INTERNAL, E_OUT_END) = range(23)  # fmt: skip


class ART:
    """Runtime state of one person (agent, collections agent, supervisor, back office)."""

    __slots__ = ("a", "i", "base", "skills", "state", "pend_off", "pend_pause", "pause_end",
                 "pause_reason", "on_since", "paused_since", "rec_mode", "p_rna", "busy_until",
                 "in_shift", "shift_end", "loc_idx", "intl")  # fmt: skip

    def __init__(self, a: Agent, i: int) -> None:
        self.a = a
        self.i = i
        self.state = OFF
        self.pend_off = False
        self.pend_pause = False
        self.pause_end = 0
        self.rec_mode = ""
        self.pause_reason = ""
        self.on_since = 0
        self.paused_since = 0
        self.busy_until = 0
        self.in_shift = False
        self.shift_end = 0
        self.intl = False


class QRT:
    __slots__ = ("q", "i", "base", "waiting", "idle", "sim_ring", "b", "aht_s", "svc")

    def __init__(self, q: Queue, i: int) -> None:
        self.q = q
        self.i = i
        self.waiting: deque[Visit] = deque()
        self.idle: dict[ART, None] = {}
        self.sim_ring = 3 if q.key == "bloqueo" else 1
        self.b = BEHAVIOUR[q.key]


class Visit:
    __slots__ = ("j", "qr", "no", "leg", "entered", "state", "answered_at", "ended", "outcome",
                 "agent", "offers", "rna", "busy", "xfer", "token", "ring", "timeout_at",
                 "talk_end", "hold_ms", "wrap_ms", "agent_leg", "plan")  # fmt: skip

    def __init__(self, j: Journey, qr: QRT, no: int, leg: Leg, t: int) -> None:
        self.j = j
        self.qr = qr
        self.no = no
        self.leg = leg
        self.entered = t
        self.state = "G"  # greeting; W waiting; R ringing; A answered; D done
        self.answered_at: int | None = None
        self.ended: int | None = None
        self.outcome = ""
        self.agent: ART | None = None
        self.offers = 0
        self.rna = 0
        self.busy = 0
        self.xfer = ""
        self.token = 0
        self.ring: list = []
        self.hold_ms = 0
        self.wrap_ms = 0
        self.agent_leg: Leg | None = None
        self.plan: tuple = ()


class Journey:
    __slots__ = ("jid", "cust", "caller", "callee", "direction", "call_type", "start", "entry",
                 "ai_outcome", "ai_start", "ai_end", "hops", "visits", "agents_talked", "talk_ms",
                 "recs", "lang", "topic", "outcome", "corr", "corrs", "inter", "net", "legs",
                 "aa_key", "first_uuid", "first_reason", "trunk", "clid", "aa_ms", "svc",
                 "visited", "offers", "end", "final_agent", "pending", "parts", "patience_mult")  # fmt: skip

    def __init__(self) -> None:
        self.hops: list[str] = []
        self.visits: list[Visit] = []
        self.agents_talked: list[str] = []
        self.talk_ms = 0
        self.recs: list[RecordedLeg] = []
        self.legs: list[Leg] = []
        self.corrs: list[str] = []
        self.ai_outcome = None
        self.ai_start = None
        self.ai_end = None
        self.aa_key = None
        self.first_uuid = ""
        self.first_reason = ""
        self.trunk = ""
        self.aa_ms = 0
        self.visited: set[str] = set()
        self.offers: list[dict] = []
        self.final_agent: ART | None = None
        self.parts = 0
        self.patience_mult = 1.0
        self.outcome = ""
        self.svc = None
        self.pending = None


def _rr(r: random.Random, a: int, b: int | None = None) -> int:
    """``randrange`` without its argument checks (hot path)."""
    if b is None:
        return int(r.random() * a)
    return a + int(r.random() * (b - a))


def _lognorm(r: random.Random, median: float, sigma: float) -> float:
    return median * math.exp(sigma * r.gauss(0.0, 1.0))


def _weighted(r: random.Random, pairs) -> str:
    x = r.random() * sum(w for _, w in pairs)
    for k, w in pairs:
        x -= w
        if x < 0:
            return k
    return pairs[-1][0]


def _national(e164: str) -> str:
    """Digits an agent dials: national for Colombia, ``00<carrier><cc><number>`` abroad."""
    if e164.startswith("+57"):
        return e164[3:]
    return e164


def _clid(e164: str) -> str:
    return e164[3:] if e164.startswith("+57") else e164.lstrip("+")


def _call_type(e164: str) -> tuple[str, str]:
    """CDR ``Call type`` and ``International country`` of an outbound PSTN destination."""
    if not e164.startswith("+57"):
        region = phonenumbers.region_code_for_number(phonenumbers.parse(e164)) or ""
        return "SIP_INTERNATIONAL", region
    if e164.startswith("+571800"):
        return "SIP_TOLLFREE", ""
    if e164[3] == "3":
        return "SIP_MOBILE", ""
    return "SIP_NATIONAL", ""


def _intl_number(r: random.Random, country: str) -> str:
    makers = {
        "US": us_number,
        "MX": mx_mobile,
        "ES": lambda rr: f"+346{rr.randrange(10**7, 10**8)}",
        "PA": lambda rr: f"+5076{rr.randrange(10**6, 10**7)}",
        "EC": lambda rr: f"+5939{rr.randrange(6 * 10**7, 10**8)}",
        "PE": lambda rr: f"+519{rr.randrange(10**7, 10**8)}",
        "CL": lambda rr: f"+569{rr.randrange(10**7, 10**8)}",
    }
    for _ in range(50):
        n = makers[country](r)
        if phonenumbers.is_valid_number(phonenumbers.parse(n)):
            return n
    return n


# ---------------------------------------------------------------------------------------------
# The simulation
# ---------------------------------------------------------------------------------------------


@dataclass
class _Totals:
    journeys: int = 0
    records: int = 0
    visits: int = 0
    events: int = 0
    by_outcome: dict = field(default_factory=dict)


class WebexCallCenter:
    """Run with :meth:`run`; every finished journey goes to ``sink(JourneyOutput)``.

    ``watermark()`` is a time (epoch ms) before which no future record will have its
    ``inserted_at``: every record of a call in progress or still to come is inserted after it.
    ``agent_state_sink`` receives truth rows of log-in sessions and pauses.
    """

    def __init__(
        self,
        pop: Population,
        cfg: SimConfig,
        sink: Callable[[JourneyOutput], None],
        agent_state_sink: Callable[[dict], None] | None = None,
        on_advance: Callable[[int], None] | None = None,
    ) -> None:
        self.pop = pop
        self.cfg = cfg
        self.sink = sink
        self.state_sink = agent_state_sink or (lambda row: None)
        self.on_advance = on_advance
        self.tz = ZoneInfo(cfg.site_tz)
        self.r = rng_for(cfg.seed, "webex-sim")
        self.ids = IdSource(rng_for(cfg.seed, "webex-ids"))
        self.ev: list = []
        self.seq = 0
        self.now = 0
        self.start_ms = self._local_ms(cfg.start, 0)
        self.end_ms = self._local_ms(cfg.start + timedelta(days=cfg.days), 0)
        self.jseq = 0
        self.active: dict[str, int] = {}
        self.active_heap: list[tuple[int, str]] = []
        self.totals = _Totals()

        loc_idx = {loc.location_uuid: i for i, loc in enumerate(pop.locations)}
        self.loc_idx = loc_idx
        org = pop.org_uuid

        def site(loc_uuid: str) -> dict:
            loc = pop.locations[loc_idx[loc_uuid]]
            return {
                "Org UUID": org,
                "Location": loc.name,
                "Site UUID": loc.location_uuid,
                "Site main number": loc.main_number,
                "Site timezone": str(loc.utc_offset_minutes),
            }

        # services and queues
        self.svc = {s.key: s for s in pop.services}
        self.svc_base = {}
        for s in pop.services:
            b = site(s.location_uuid)
            b.update({"User UUID": s.uuid, "User type": s.user_type, "User": s.name,
                      "User number": s.number, "Called line ID": s.name, "Called number": s.number})  # fmt: skip
            if s.user_type == "VirtualLine":
                b.update({"Client type": "WXC_THIRD_PARTY", "Client version": ""})
            else:
                b.update({"Client type": "SIP"})
            self.svc_base[s.key] = b
        self.qr: dict[str, QRT] = {}
        for i, q in enumerate(pop.queues):
            qr = QRT(q, i)
            b = site(q.location_uuid)
            b.update({"User UUID": q.uuid, "User type": "CallCenterStandard", "User": q.name,
                      "User number": q.number, "Called line ID": q.name, "Called number": q.number,
                      "Client type": "SIP", "Queue type": "Call Queue"})  # fmt: skip
            qr.base = b
            mean_talk = qr.b.talk_median_s * math.exp(qr.b.talk_sigma**2 / 2)
            qr.aht_s = mean_talk + qr.b.wrap_s + 8 + 6 + 12  # + ring, greeting share, transfers
            qr.svc = None
            self.qr[q.key] = qr
        self.by_aa_key = {q.aa_key: q.key for q in pop.queues if q.aa_key}
        # expected routing shares (for sizing the demand): per AI arrival, escalations into each
        # queue; per direct arrival of a queue, blind transfers into each other queue
        tot = sum(w for _, w in AI_TOPICS)
        self.ai_escalation: dict[str, float] = {}
        for tk, w in AI_TOPICS:
            target = TOPICS[tk].queue or "cuentas"
            share = w / tot * 0.93 * (1 - 0.93 * TOPICS[tk].ai_resolvable) - 0.0
            self.ai_escalation[target] = self.ai_escalation.get(target, 0.0) + share
        self.transfer_share: dict[str, dict[str, float]] = {}
        for key in self.qr:
            mix = BEHAVIOUR[key].topics
            tot = sum(w for _, w in mix)
            shares: dict[str, float] = {}
            for tk, w in mix:
                target = TOPICS[tk].queue
                if target and target != key:
                    shares[target] = shares.get(target, 0.0) + w / tot * 0.85 * 0.88
            self.transfer_share[key] = shares

        # people
        pr = rng_for(cfg.seed, "people-runtime")
        self.people: list[ART] = []
        for i, a in enumerate(pop.agents):
            x = ART(a, i)
            b = site(a.location_uuid)
            mac = a.device_mac
            if a.client_type == "WXC_DEVICE":
                ver = {"Cisco 8851": "sip8851.14-3-1-0001-56", "Cisco 8845": "sip8845_65.14-3-1-0001-56",
                       "Cisco 9861": "sip9800.3-2-1-0001-95", "Cisco 8841": "sip8841.14-3-1-0001-56"}[a.device_model]  # fmt: skip
                os_type = "na"
            else:
                ver = f"45.{pr.choice((3, 5, 6))}.{pr.randrange(3)}.{pr.randrange(30000, 34000)}"
                os_type = "windows" if pr.random() < 0.82 else "mac"
            b.update({"User UUID": a.user_uuid, "User type": "User", "User": a.name,
                      "User number": a.user_number, "Client type": a.client_type,
                      "Client version": ver, "OS type": os_type, "Device MAC": mac, "Model": a.device_model})  # fmt: skip
            x.base = b
            x.loc_idx = loc_idx[a.location_uuid]
            x.skills = [self.qr[k] for k in a.skills if k in self.qr]
            if a.role == "agent" and a.shift == "evening" and "bloqueo" not in a.skills:
                x.skills.append(self.qr["bloqueo"])
            x.p_rna = 0.07 if pr.random() < 0.15 else 0.02
            if a.role == "collections" or any(k in ("fraude", "bloqueo") for k in a.skills):
                x.rec_mode = "always"
            else:
                u = pr.random()
                x.rec_mode = "always" if u < 0.3 else "on-demand" if u < 0.4 else ""
            self.people.append(x)
        self.collectors = [x for x in self.people if x.a.role == "collections"]
        self.staff = [x for x in self.people if x.a.role in ("supervisor", "backoffice")]
        self.supervisors = [x for x in self.people if x.a.role == "supervisor"] or self.staff
        for x in self.staff[:3]:
            x.intl = True  # the international desk
        for x in self.people:
            if (
                x.a.role == "agent"
                and ("english" in x.a.skills or "fraude" in x.a.skills)
                and pr.random() < 0.3
            ):
                x.intl = True

        # callers
        cs = pop.customers
        self.co_customers = [c for c in cs if c.country == "CO"] or list(cs)
        self.foreign_customers = [c for c in cs if c.country != "CO"]
        self.en_customers = [c for c in cs if c.language == "en"] or list(cs)
        k = max(1, len(cs) // 12)
        cr = rng_for(cfg.seed, "collections-portfolio")
        # the collections portfolio: customers with a Colombian number (the dialer never calls abroad)
        dialable = [c for c in cs if any(p.country == "CO" for p in c.phones)]
        self.portfolio = cr.sample(dialable, min(k, len(dialable))) if dialable else []
        self.day_plan: dict = {}

    # -------------------------------------------------------------------- time helpers
    def _local_ms(self, d: date, seconds: float) -> int:
        dt = datetime(d.year, d.month, d.day, tzinfo=self.tz) + timedelta(seconds=seconds)
        return int(dt.timestamp() * 1000)

    def _local(self, ms: int) -> datetime:
        return datetime.fromtimestamp(ms / 1000, self.tz)

    def push(self, t: int, kind: int, a=None, b=None) -> None:
        heapq.heappush(self.ev, (t, self.seq, kind, a, b))
        self.seq += 1

    def watermark(self) -> int:
        ah = self.active_heap
        while ah and ah[0][1] not in self.active:
            heapq.heappop(ah)
        return min(self.now, ah[0][0]) if ah else self.now

    # -------------------------------------------------------------------- run loop
    def run(self) -> _Totals:
        d0 = self.cfg.start
        self._plan_day(d0 - timedelta(days=1), clip_from=self.start_ms)
        for k in range(self.cfg.days):
            self.push(self._local_ms(d0 + timedelta(days=k), 0) - 1, E_DAY, d0 + timedelta(days=k))
        n = 0
        ev = self.ev
        handlers = self._event_handlers()
        while ev:
            t, _, kind, a, b = heapq.heappop(ev)
            self.now = t
            handlers[kind](a, b, t)
            n += 1
            if self.on_advance is not None and n % 2000 == 0:
                self.on_advance(self.watermark())
        self.totals.events = n
        if self.on_advance is not None:
            self.on_advance(1 << 62)
        return self.totals

    def _event_handlers(self) -> dict:
        """Event kind → handler taking (a, b, t): one dict lookup per event on the hot loop instead
        of a chain of comparisons; handlers that need no `b` are adapted."""
        return {
            E_RING_END: self._ring_end,
            E_ARRIVE: lambda a, _b, t, f=self._arrive: f(a, t),
            E_ELIGIBLE: lambda a, _b, t, f=self._eligible: f(a, t),
            E_ABANDON: lambda a, _b, t, f=self._abandon: f(a, t),
            E_TALK_END: lambda a, _b, t, f=self._talk_end: f(a, t),
            E_WRAP_END: lambda a, _b, t, f=self._wrap_end: f(a, t),
            E_AA_DONE: lambda a, _b, t, f=self._aa_done: f(a, t),
            E_AI_DONE: lambda a, _b, t, f=self._ai_done: f(a, t),
            E_TIMEOUT: lambda a, _b, t, f=self._timeout: f(a, t),
            E_AFTER_CALL: self._after_call,
            E_CONSULT: lambda a, _b, t, f=self._consult: f(a, t),
            E_JOURNEY_END: lambda a, _b, t, f=self._journey_part_done: f(a, t),
            E_DIAL: lambda a, _b, t, f=self._dial: f(a, t),
            E_OUT_END: self._out_end,
            E_CALLBACK: self._callback,
            E_INTERNAL: lambda a, _b, t, f=self._internal: f(a, t),
            E_SHIFT_START: self._shift_start,
            E_SHIFT_END: lambda a, _b, t, f=self._shift_end: f(a, t),
            E_PAUSE_START: self._pause_start,
            E_PAUSE_END: lambda a, _b, t, f=self._pause_end: f(a, t),
            E_AWAY_END: lambda a, _b, t, f=self._away_end: f(a, t),
            E_HOUR: self._hour,
            E_DAY: lambda a, _b, t, f=self._day: f(a, t),
        }

    # -------------------------------------------------------------------- roster and demand
    def _shift_window(self, x: ART, d: date, r: random.Random) -> tuple[float, float] | None:
        """(start, end) in local seconds from midnight of ``d``, or None when off that day."""
        a = x.a
        wd = d.weekday()
        hol = _is_holiday(d)
        if a.role in ("supervisor", "backoffice"):
            return (8 * 3600, 17 * 3600) if wd < 5 and not hol else None
        if a.role == "collections":
            if wd == 6 or hol:
                return None
            if wd == 5:
                return (8 * 3600, 14 * 3600) if (x.i + d.isocalendar()[1]) % 2 == 0 else None
            return (8 * 3600, 16 * 3600) if a.shift == "morning" else (11 * 3600, 19 * 3600)
        on_24_7 = a.shift in ("night", "evening") or (a.skills and a.skills[0] == "bloqueo")
        if on_24_7:
            if (d.toordinal() + x.i) % 7 in (0, 1):
                return None  # two days off a week, staggered
            return {"night": (23 * 3600, 31 * 3600), "evening": (15 * 3600, 23 * 3600),
                    "morning": (7 * 3600, 15 * 3600), "afternoon": (11 * 3600, 19 * 3600)}[a.shift]  # fmt: skip
        if wd == 6 or hol:
            return None
        if wd == 5:
            return (8 * 3600, 14 * 3600) if (x.i * 7 + d.isocalendar()[1]) % 9 < 4 else None
        return (7 * 3600, 15 * 3600) if a.shift == "morning" else (11 * 3600, 19 * 3600)

    def _plan_day(self, d: date, clip_from: int | None = None) -> None:
        """Schedule every person's shift and pauses for local day ``d``; store the demand plan."""
        r = rng_for(self.cfg.seed, "roster", d.isoformat())
        staff = {k: [0.0] * 24 for k in self.qr}
        for x in self.people:
            w = self._shift_window(x, d, r)
            absent = r.random() < 0.04
            if w is None or absent:
                continue
            s0 = w[0] + r.uniform(-120, 480)
            s1 = w[1] + r.uniform(-240, 420)
            t0, t1 = self._local_ms(d, s0), self._local_ms(d, s1)
            if clip_from is not None:
                if t1 <= clip_from:
                    continue
                t0 = max(t0, clip_from)
            pauses: list[tuple[float, float, str]] = []
            length = w[1] - w[0]
            if x.a.role not in ("supervisor", "backoffice"):
                if length >= 7 * 3600:
                    pauses.append((w[0] + 2 * 3600 + r.uniform(-1200, 1200), 900, "Break"))
                    lunch = 1800 if x.a.shift == "night" else r.choice((2700, 3600))
                    pauses.append((w[0] + r.uniform(3.4 * 3600, 5.0 * 3600), lunch, "Almuerzo"))
                    pauses.append((w[0] + 6 * 3600 + r.uniform(-1200, 1200), 900, "Break"))
                    if r.random() < 0.08:
                        pauses.append(
                            (w[0] + r.choice((1, 3, 5)) * 3600 + 1800, 3600, "Capacitación")
                        )
                else:
                    pauses.append((w[0] + 3 * 3600 + r.uniform(-900, 900), 1200, "Break"))
                if r.random() < 0.35:
                    pauses.append(
                        (w[0] + r.uniform(3600, length - 3600), r.uniform(180, 420), "Baño")
                    )
                pauses.sort()
                merged: list[tuple[float, float, str]] = []
                for p in pauses:  # drop overlaps
                    if merged and p[0] < merged[-1][0] + merged[-1][1] + 300:
                        continue
                    merged.append(p)
                pauses = merged
            self.push(t0, E_SHIFT_START, x, t1)
            for ps, pl, reason in pauses:
                pt = self._local_ms(d, ps)
                if t0 < pt < t1 - 600_000:
                    self.push(pt, E_PAUSE_START, x, (reason, pt + int(pl * 1000)))
            # expected staffed time per queue and local hour (the WFM plan behind the demand)
            if x.skills:
                ws = [0.75, 0.25] if len(x.skills) > 1 else [1.0]
                for h in range(24):
                    hs, he = h * 3600, (h + 1) * 3600
                    cover = max(0.0, min(he, s1) - max(hs, s0))
                    cover += max(0.0, min(he, s1 - 86400) - max(hs, s0 - 86400))  # night tail
                    for ps, pl, _ in pauses:
                        for off in (0, 86400):
                            cover -= max(0.0, min(he, ps + pl - off) - max(hs, ps - off, s0 - off))
                    if cover > 0:
                        for qr, wgt in zip(x.skills, ws, strict=False):
                            staff[qr.q.key][h] += wgt * cover / 3600
            if x.a.role in ("supervisor", "backoffice"):
                first = t0 + int(r.expovariate(1 / 1800) * 1000)
                if first < t1:
                    self.push(first, E_INTERNAL, x)
        self.day_plan[d] = staff

    def _day_multiplier(self, d: date) -> float:
        m = {0: 1.12, 1: 1.0, 2: 0.97, 3: 0.97, 4: 1.03, 5: 1.0, 6: 1.0}[d.weekday()]
        if d in paydays(d.year, d.month):
            m *= 1.25
        if _is_holiday(d - timedelta(days=1)) and _business_day(d):
            m *= 1.15
        return m

    def _open(self, qkey: str, d: date, hour: float) -> bool:
        if qkey == "bloqueo":
            return True
        if d.weekday() == 6 or _is_holiday(d):
            return False
        if d.weekday() == 5:
            return 8 <= hour < 14
        return 7 <= hour < 19

    def _day(self, d: date, t: int) -> None:
        self._plan_day(d)
        self.day_plan.pop(d - timedelta(days=2), None)
        r = rng_for(self.cfg.seed, "demand", d.isoformat())
        self.day_noise = {k: math.exp(r.gauss(0, 0.07)) for k in self.qr}
        for h in range(24):
            self.push(self._local_ms(d, h * 3600), E_HOUR, d, h)

    def _hour(self, d: date, h: int, t: int) -> None:
        """Draw this local hour's inbound arrivals (Poisson per stream, uniform in the hour)."""
        if t >= self.end_ms:
            return
        r = rng_for(self.cfg.seed, "arrivals", d.isoformat(), h)
        plan = self.day_plan.get(d)
        if plan is None:
            return
        mult = self._day_multiplier(d) * self.cfg.calls_scale
        t_end = min(self._local_ms(d, (h + 1) * 3600), self.end_ms)
        open_ = self._open("tarjetas", d, h)
        streams: list[tuple[str, float]] = []  # (route, rate per hour)
        shape_mean = sum(SHAPE.values()) / len(SHAPE)
        # calls per hour each queue's planned staff can answer at a decent service level
        # (square-root staffing: n agents carry a + beta*sqrt(a) = n Erlangs), times the day's
        # demand multiplier, the intraday shape and noise
        cap: dict[str, float] = {}
        for key, qr in self.qr.items():
            staff = plan[key][h]
            if staff <= 0 or not self._open(key, d, h):
                cap[key] = 0.0
                continue
            beta = 0.9
            erl = min(
                ((-beta + math.sqrt(beta * beta + 4 * staff)) / 2) ** 2, self.cfg.occupancy * staff
            )
            shape = BLOQUEO_SHAPE[h] / 0.75 if key == "bloqueo" else SHAPE.get(h, 0.7) / shape_mean
            noise = self.day_noise[key] * math.exp(r.gauss(0, 0.1))
            cap[key] = erl * 3600 / qr.aht_s * mult * shape * noise
        # split each queue's load into direct arrivals, AI escalations and transfers from others
        esc, xf = self.ai_escalation, self.transfer_share
        ai = 0.75 * cap["cuentas"] / esc["cuentas"] if esc.get("cuentas") else 0.0
        direct = dict(cap)
        direct["cuentas"] = 0.25 * cap["cuentas"]
        for _ in range(3):
            for key in self.qr:
                if key == "cuentas":
                    continue
                inflow = ai * esc.get(key, 0.0) + sum(
                    direct[p] * xf[p].get(key, 0.0) for p in self.qr
                )
                direct[key] = max(0.0, cap[key] - inflow)
        aa_total = ai
        streams.append(("aa:" + AI_KEY, ai))
        for key, lam in direct.items():
            if lam <= 0:
                continue
            if key == "bloqueo":
                streams.append(("direct:bloqueo", lam * 0.55))
                streams.append(("aa:5", lam * 0.45))
                aa_total += lam * 0.45
            else:
                streams.append((f"aa:{self.qr[key].q.aa_key}", lam))
                aa_total += lam
        if open_:
            streams.append(("aa:hangup", aa_total * 0.06))
        else:
            # closed menu: evenings / early mornings / Sundays a trickle of callers
            base = sum(self.day_plan.get(d, {}).get("tarjetas", [0] * 24)) * 0.4 + 5
            f = 0.05 if 6 <= h < 22 else 0.015
            streams.append(("aa:closed", base * f * mult))
        for route, lam in streams:
            n = self._poisson(r, lam * (t_end - self._local_ms(d, h * 3600)) / 3_600_000)
            t0 = self._local_ms(d, h * 3600)
            for _ in range(n):
                at = _rr(r, t0, t_end)
                self.push(at, E_ARRIVE, route, None)

    @staticmethod
    def _poisson(r: random.Random, lam: float) -> int:
        if lam <= 0:
            return 0
        if lam > 50:
            return max(0, int(round(r.gauss(lam, math.sqrt(lam)))))
        L, k, p = math.exp(-lam), 0, 1.0
        while True:
            p *= r.random()
            if p <= L:
                return k
            k += 1

    # -------------------------------------------------------------------- journeys
    def _new_journey(self, t: int, direction: str, call_type: str, entry: str, cust: Customer | None,
                     caller: str, callee: str, lang: str, topic: str) -> Journey:  # fmt: skip
        j = Journey()
        self.jseq += 1
        j.jid = f"J{self.cfg.seed % 1000:03d}{self.jseq:09d}"
        j.cust = cust
        j.caller = caller
        j.callee = callee
        j.direction = direction
        j.call_type = call_type
        j.start = t
        j.end = t
        j.entry = entry
        j.lang = lang
        j.topic = topic
        j.corr = self.ids.uuid()
        j.corrs.append(j.corr)
        j.inter = self.ids.uuid()
        j.net = self.ids.network_call_id(t)
        j.clid = _clid(caller) if direction == "inbound" else ""
        self.active[j.jid] = t
        heapq.heappush(self.active_heap, (t, j.jid))
        return j

    def _pick_customer(
        self, r: random.Random, lang: str | None = None
    ) -> tuple[Customer | None, str]:
        u = r.random()
        if lang == "en":
            c = self.en_customers[int(len(self.en_customers) * r.random() ** 1.3)]
        elif u < 0.05:  # not a customer (yet)
            return None, co_mobile(r) if r.random() < 0.8 else co_landline(r)
        elif u < 0.07 and self.foreign_customers:
            c = self.foreign_customers[int(len(self.foreign_customers) * r.random())]
        else:
            c = self.co_customers[int(len(self.co_customers) * r.random() ** 1.6)]
        number = c.phones[0].e164 if (len(c.phones) == 1 or r.random() < 0.85) else c.phones[1].e164
        return c, number

    def _arrive(self, route, t: int) -> None:
        r = self.r
        if isinstance(route, Journey):  # a retry of an earlier caller, prepared by _retry
            j = route
            kind, key = j.pending
        else:
            kind, key = route.split(":")
            if key == "closed" or key == "hangup":
                cust, num = self._pick_customer(r)
                topic = _weighted(r, AI_TOPICS)
            elif kind == "direct":
                cust, num = self._pick_customer(r)
                topic = _weighted(r, BEHAVIOUR["bloqueo"].topics)
            elif key == AI_KEY:
                cust, num = self._pick_customer(r)
                topic = _weighted(r, AI_TOPICS)
            else:
                qkey = self.by_aa_key[key]
                lang = "en" if qkey == "english" else None
                cust, num = self._pick_customer(r, lang)
                topic = _weighted(r, BEHAVIOUR[qkey].topics)
            lang = "en" if key == "9" else (cust.language if cust else "es")
            if lang == "en" and key not in ("9",) and r.random() < 0.7:
                lang = "es"  # English speakers who chose a Spanish menu option speak Spanish
            svc = self.svc["aa_tollfree"] if r.random() < 0.3 else self.svc["aa_principal"]
            callee = self.qr["bloqueo"].q.number if kind == "direct" else svc.number
            ctype = "card_block" if (kind == "direct" or key == "5") else "service"
            j = self._new_journey(t, "inbound", ctype, "pstn", cust, num, callee, lang, topic)
            j.svc = svc
        j.trunk = self.r.choice(TRUNKS[0])
        j.hops.append("PSTN")
        if kind == "direct":
            j.callee = self.qr["bloqueo"].q.number
            self._enter_queue(j, self.qr["bloqueo"], t, None)
            return
        # auto attendant
        svc = j.svc
        leg = self._svc_leg(j, svc.key, t)
        leg.answer = t + _rr(r, 120, 450)
        leg.f["Inbound trunk"] = j.trunk
        d = self._local(t)
        menu_open = self._open("tarjetas", d.date(), d.hour + d.minute / 60)
        if key == "hangup":
            dur = _lognorm(r, 9, 0.5)
            j.pending = ("hangup", None)
        elif key == "closed" or (not menu_open and key != "5"):
            if r.random() < 0.3:
                key = "5"
                j.call_type = "card_block"
                j.topic = "bloqueo_tarjeta"
                dur = _lognorm(r, 16, 0.3)
                j.pending = ("key", key)
            else:
                dur = _lognorm(r, 22, 0.25)
                j.pending = ("closed", None)
        else:
            dur = _lognorm(r, 13, 0.35) + (6 if r.random() < 0.08 else 0)  # some repeat the menu
            j.pending = ("key", key)
        j.aa_ms = int(dur * 1000)
        self.push(t + j.aa_ms, E_AA_DONE, (j, leg))

    def _svc_leg(self, j: Journey, key: str, t: int) -> Leg:
        f = dict(self.svc_base[key])
        f.update({"Direction": "TERMINATING", "Call type": "SIP_INBOUND", "Correlation ID": j.corr,
                  "Interaction ID": j.inter, "Local call ID": self.ids.call_half(), "Network call ID": j.net,
                  "Calling number": j.caller, "Calling line ID": j.clid, "Caller ID number": j.caller,
                  "Report ID": self.ids.uuid()})  # fmt: skip
        leg = Leg(f, t)
        j.legs.append(leg)
        return leg

    def _redirect_fields(self, j: Journey, f: dict, uuid: str, number: str, reason: str) -> None:
        if not j.first_uuid:
            j.first_uuid, j.first_reason = uuid, reason
        f["Original reason"] = j.first_reason
        f["Original called party UUID"] = j.first_uuid
        f["Redirect reason"] = reason
        f["Redirecting number"] = number
        f["Redirecting party UUID"] = uuid

    def _aa_done(self, arg, t: int) -> None:
        j, leg = arg
        r = self.r
        what, key = j.pending
        svc = j.svc
        leg.release = t
        if what in ("hangup", "closed"):
            leg.f["Releasing party"] = "Remote" if what == "hangup" else "Local"
            j.hops.append(svc.name)
            j.outcome = "aa_hangup" if what == "hangup" else "closed"
            if what == "closed" and r.random() < 0.15:
                self._retry(j, t + int(r.uniform(3600, 14 * 3600) * 1000), "aa:closed")
            self._finish(j, t)
            return
        leg.f["Releasing party"] = "Local"
        leg.f["Auto Attendant Key Pressed"] = key
        leg.f["Related reason"] = "Deflection"
        j.aa_key = key
        j.hops.append(f"{svc.name} [{key}]")
        if key == AI_KEY:
            self._ai_start(j, leg, t)
            return
        qr = self.qr[self.by_aa_key[key]]
        self._enter_queue(j, qr, t + _rr(r, 10, 60), (leg, svc.uuid, svc.number, "Deflection"))

    # -------------------------------------------------------------------- AI voice agent
    def _ai_start(self, j: Journey, aa_leg: Leg, t: int) -> None:
        r = self.r
        ai = self.svc["ai_agent"]
        f = dict(self.svc_base["ai_agent"])
        f.update({"Direction": "TERMINATING", "Call type": "SIP_ENTERPRISE", "Correlation ID": j.corr,
                  "Interaction ID": j.inter, "Local call ID": self.ids.call_half(),
                  "Network call ID": self.ids.network_call_id(t), "Call ID": self.ids.sip_call_id(t),
                  "Calling number": j.caller, "Calling line ID": j.clid, "Caller ID number": j.caller,
                  "Local SessionID": (sid := self.ids.session_id()), "Final local SessionID": sid,
                  "Report ID": self.ids.uuid()})  # fmt: skip
        self._redirect_fields(j, f, j.svc.uuid, j.svc.number, "Deflection")
        t1 = t + _rr(r, 40, 200)
        leg = Leg(f, t1)
        leg.ring_ms = _rr(r, 300, 1500)
        leg.answer = t1 + leg.ring_ms
        leg.answer_indicator = "Yes-PostRedirection"
        j.legs.append(leg)
        aa_leg.f["Related call ID"] = f["Local call ID"]
        j.entry = "ai_agent"
        j.ai_start = leg.answer
        j.hops.append(ai.name)
        topic = TOPICS[j.topic]
        u = r.random()
        if u < 0.07:
            j.ai_outcome, dur = "abandoned", _lognorm(r, 20, 0.5)
        elif u < 0.07 + 0.93 * topic.ai_resolvable:
            j.ai_outcome, dur = "resolved", _lognorm(r, 115, 0.45)
        else:
            j.ai_outcome, dur = "escalated", _lognorm(r, 65, 0.45)
        self.push(leg.answer + int(dur * 1000), E_AI_DONE, (j, leg))

    def _ai_done(self, arg, t: int) -> None:
        j, leg = arg
        r = self.r
        leg.release = t
        j.ai_end = t
        if j.ai_outcome != "escalated":
            leg.f["Releasing party"] = (
                "Remote" if (j.ai_outcome == "abandoned" or r.random() < 0.6) else "Local"
            )
            j.outcome = "ai_resolved" if j.ai_outcome == "resolved" else "abandoned"
            self._finish(j, t)
            return
        leg.f["Releasing party"] = "Local"
        leg.f["Related reason"] = "Deflection"
        leg.f["Call transfer time"] = _iso(t)
        target = TOPICS[j.topic].queue or "cuentas"
        d = self._local(t)
        if not self._open(target, d.date(), d.hour + d.minute / 60):
            target = "bloqueo" if target == "fraude" else "cuentas"
        ai = self.svc["ai_agent"]
        self._enter_queue(
            j, self.qr[target], t + _rr(r, 50, 400), (leg, ai.uuid, ai.number, "Deflection")
        )

    # -------------------------------------------------------------------- queues
    def _enter_queue(self, j: Journey, qr: QRT, t: int, redirect) -> None:
        r = self.r
        f = dict(qr.base)
        f.update({"Direction": "TERMINATING", "Call type": "SIP_INBOUND", "Correlation ID": j.corr,
                  "Interaction ID": j.inter, "Local call ID": self.ids.call_half(), "Network call ID": j.net,
                  "Calling number": j.caller, "Calling line ID": j.clid, "Caller ID number": j.caller,
                  "Inbound trunk": j.trunk, "Report ID": self.ids.uuid()})  # fmt: skip
        if redirect is not None:
            from_leg, uuid, number, reason = redirect
            from_leg.f["Related call ID"] = f["Local call ID"]
            self._redirect_fields(j, f, uuid, number, reason)
        leg = Leg(f, t)
        leg.answer = t + _rr(r, 150, 400)
        j.legs.append(leg)
        v = Visit(j, qr, len(j.visits) + 1, leg, t)
        j.visits.append(v)
        j.visited.add(qr.q.key)
        j.hops.append(qr.q.name)
        patience = _lognorm(r, 200 if qr.q.key == "bloqueo" else 150, 0.8) * j.patience_mult
        if r.random() < 0.04:  # hangs up as soon as the greeting starts
            patience = r.uniform(1.0, 7.0)
        v.timeout_at = t + qr.q.max_wait_s * 1000
        self.push(t + int(patience * 1000), E_ABANDON, v)
        self.push(v.timeout_at, E_TIMEOUT, v)
        self.push(t + _rr(r, 2500, 6500), E_ELIGIBLE, v)

    def _eligible(self, v: Visit, t: int) -> None:
        if v.state != "G":
            return
        v.state = "W"
        v.qr.waiting.append(v)
        self._try_dispatch(v.qr, t)

    def _try_dispatch(self, qr: QRT, t: int) -> None:
        w = qr.waiting
        while w and qr.idle:
            v = w[0]
            if v.state != "W":
                w.popleft()
                continue
            w.popleft()
            agents = []
            for x in qr.idle:
                agents.append(x)
                if len(agents) >= qr.sim_ring:
                    break
            self._offer(v, agents, t)
        while w and w[0].state != "W":
            w.popleft()

    def _make_idle(self, x: ART, t: int) -> None:
        x.state = IDLE
        for qr in x.skills:
            qr.idle[x] = None
        # serve the longest-waiting caller of its skills, primary skill first
        for qr in x.skills:
            w = qr.waiting
            while w and w[0].state != "W":
                w.popleft()
            if w:
                self._try_dispatch(qr, t)
                if x.state != IDLE:
                    return

    def _unidle(self, x: ART) -> None:
        for qr in x.skills:
            qr.idle.pop(x, None)

    def _offer(self, v: Visit, agents: list[ART], t: int) -> None:
        r = self.r
        j = v.j
        q = v.qr.q
        v.state = "R"
        v.token += 1
        ring = []
        best: tuple[int, int] | None = None
        max_dur = 0
        for x in agents:
            self._unidle(x)
            x.state = RING
            f = dict(x.base)
            f.update({"Direction": "TERMINATING", "Call type": "SIP_ENTERPRISE", "Correlation ID": j.corr,
                      "Interaction ID": j.inter, "Local call ID": self.ids.call_half(),
                      "Network call ID": self.ids.network_call_id(t), "Calling number": j.caller,
                      "Called number": x.a.user_number, "Called line ID": x.a.name, "Calling line ID": j.clid,
                      "Caller ID number": j.caller, "Related reason": "CallQueue", "Queue type": "Call Queue",
                      "Report ID": self.ids.uuid()})  # fmt: skip
            self._redirect_fields(j, f, q.uuid, q.number, "CallQueue")
            leg = Leg(f, t)
            j.legs.append(leg)
            u = r.random()
            if u < 0.012:
                kind, dur = "busy", _rr(r, 300, 2500)
            elif u < 0.012 + x.p_rna:
                kind, dur = "rna", q.ring_timeout_s * 1000 + _rr(r, 0, 250)
            else:
                kind, dur = (
                    "ans",
                    int(min(max(_lognorm(r, 4.2, 0.45), 1.0), q.ring_timeout_s - 0.5) * 1000),
                )
                if best is None or dur < best[0]:
                    best = (dur, len(ring))
            max_dur = max(max_dur, dur)
            ring.append((x, kind, dur, leg))
        v.ring = ring
        v.plan = best[1] if best is not None else None
        self.push(t + (best[0] if best is not None else max_dur), E_RING_END, v, v.token)

    def _close_offer(self, v: Visit, x: ART, kind: str, leg: Leg, t: int, result: str) -> None:
        leg.release = t
        leg.ring_ms = t - leg.start
        f = leg.f
        if x.a.client_type == "WXC_DEVICE" or result in ("answered",):
            f["Call ID"] = self.ids.sip_call_id(leg.start)
        if result == "busy":
            f["Call outcome reason"] = "UserBusy"
            f["Releasing party"] = "Local"
        elif result == "no_answer":
            f["Call outcome reason"] = "NoAnswer"
            f["Releasing party"] = "Remote"
            if x.a.client_type == "WXC_DEVICE":
                f["Local SessionID"] = f["Final local SessionID"] = self.ids.session_id(
                    x.a.device_mac
                )
        elif result == "answered_elsewhere":
            f["Answered elsewhere"] = "Yes"
            f["Releasing party"] = "Remote"
        elif result == "caller_hangup":
            f["Call outcome"] = "Refusal"
            f["Call outcome reason"] = "SIP487"
            f["Releasing party"] = "Remote"
        v.j.offers.append({
            "journey_id": v.j.jid, "visit_no": v.no, "queue": v.qr.q.key, "agent_id": x.a.agent_id,
            "offered_at": leg.start, "ended_at": t, "result": result, "ring_ms": leg.ring_ms,
            "report_id": f["Report ID"], "local_call_id": f["Local call ID"],
        })  # fmt: skip

    def _close_ring(self, v: Visit, t: int, skip: int | None, caller_gone: bool) -> None:
        """End the offers of a ring round at ``t`` (all but the winner ``skip``)."""
        r = self.r
        for i, (x, kind, dur, leg) in enumerate(v.ring):
            if i == skip:
                continue
            v.offers += 1
            if kind == "busy" and leg.start + dur <= t:
                v.busy += 1
                self._close_offer(v, x, kind, leg, leg.start + dur, "busy")
                self._go_away(x, t, _rr(r, 30_000, 90_000))
            elif kind == "rna" and leg.start + dur <= t:
                v.rna += 1
                self._close_offer(v, x, kind, leg, leg.start + dur, "no_answer")
                self._go_away(x, t, _rr(r, 60_000, 180_000))
            else:
                self._close_offer(
                    v, x, kind, leg, t, "caller_hangup" if caller_gone else "answered_elsewhere"
                )
                self._back_to_work(x, t)

    def _ring_end(self, v: Visit, token: int, t: int) -> None:
        if v.token != token or v.state != "R":
            return
        widx = v.plan
        self._close_ring(v, t, widx, False)
        if widx is None:
            v.ring = []
            v.state = "W"
            v.qr.waiting.appendleft(v)
            if t >= v.timeout_at:
                self._timeout(v, t)
            else:
                self._try_dispatch(v.qr, t)
            return
        x, _kind, _dur, leg = v.ring[widx]
        v.ring = []
        self._answer(v, x, leg, t)

    def _answer(self, v: Visit, x: ART, leg: Leg, t: int) -> None:
        r = self.r
        j = v.j
        leg.answer = t
        leg.ring_ms = t - leg.start
        leg.answer_indicator = "Yes-PostRedirection"
        f = leg.f
        f["Call ID"] = f.get("Call ID") or self.ids.sip_call_id(leg.start)
        f["Local SessionID"] = f["Final local SessionID"] = self.ids.session_id(x.a.device_mac)
        j.offers.append({
            "journey_id": j.jid, "visit_no": v.no, "queue": v.qr.q.key, "agent_id": x.a.agent_id,
            "offered_at": leg.start, "ended_at": t, "result": "answered", "ring_ms": leg.ring_ms,
            "report_id": f["Report ID"], "local_call_id": f["Local call ID"],
        })  # fmt: skip
        v.offers += 1
        v.state = "A"
        v.answered_at = t
        v.agent = x
        v.agent_leg = leg
        x.state = TALK
        v.leg.release = t
        v.leg.f["Related call ID"] = f["Local call ID"]
        v.leg.f["Related reason"] = "CallQueue"
        v.leg.f["Releasing party"] = "Local"
        j.hops.append(x.a.name)
        j.final_agent = x
        # recording
        if x.rec_mode == "always" or (x.rec_mode == "on-demand" and r.random() < 0.25):
            u = r.random()
            res = "successful" if u < 0.97 else "failed" if u < 0.99 else "successful but not kept"
            f["Call Recording Platform Name"] = "Webex"
            f["Call Recording Result"] = res
            f["Call Recording Trigger"] = x.rec_mode
        # the conversation plan
        b = v.qr.b
        talk = _lognorm(r, b.talk_median_s, b.talk_sigma)
        if j.topic in ("transaccion_no_reconocida", "suplantacion") and v.qr.q.key not in (
            "fraude",
            "bloqueo",
        ):
            talk *= 0.45  # identified quickly as a fraud case
        talk = min(max(talk, 12.0), 3600.0)
        hold = 0
        if r.random() < 0.28:
            hold = int(min(_lognorm(r, 40, 0.6), talk * 0.5) * 1000)
        v.hold_ms = hold
        # what happens at the end: transfer to the right queue, consult-transfer, or hang up
        right_q = TOPICS[j.topic].queue
        xfer = ""
        if right_q and right_q != v.qr.q.key and right_q not in j.visited and r.random() < 0.85:
            xfer = "blind"
        elif (
            r.random() < 0.035 and v.qr.q.key not in j.visited - {v.qr.q.key} and len(j.visits) < 3
        ):
            xfer = "consult_transfer"
        elif r.random() < 0.02 and len(j.visits) < 3:
            xfer = "blind"
        v.xfer = xfer
        end = t + int(talk * 1000)
        v.talk_end = end
        if not xfer and r.random() < 0.06 and talk > 90:
            self.push(t + int(talk * r.uniform(0.2, 0.6) * 1000), E_CONSULT, v)
        self.push(end, E_TALK_END, v)

    def _go_away(self, x: ART, t: int, ms: int) -> None:
        x.state = AWAY
        self.push(t + ms, E_AWAY_END, x)

    def _away_end(self, x: ART, t: int) -> None:
        if x.state == AWAY:
            self._back_to_work(x, t)

    def _back_to_work(self, x: ART, t: int) -> None:
        """After a call / ring / away: log out, pause or become idle as scheduled."""
        if x.pend_off:
            self._log_off(x, t)
        elif x.pend_pause and x.pause_end > t + 30_000:
            x.pend_pause = False
            x.state = PAUSE
            x.paused_since = t
        else:
            x.pend_pause = False
            if x.a.role == "collections":
                x.state = IDLE
                self.push(t + _rr(self.r, 3000, 15000), E_DIAL, x)
            else:
                self._make_idle(x, t)

    def _abandon(self, v: Visit, t: int) -> None:
        if v.state in ("G", "W"):
            pass
        elif v.state == "R":
            self._close_ring(v, t, None, True)
            v.ring = []
            v.token += 1
        else:
            return
        v.state = "D"
        v.outcome = "abandoned"
        v.ended = t
        v.leg.release = t
        v.leg.f["Releasing party"] = "Remote"
        j = v.j
        # a call an agent answered before this queue (then transferred here) stays answered
        j.outcome = "answered" if j.agents_talked else "abandoned"
        r = self.r
        wait = (t - v.entered) / 1000
        if wait > 5 and r.random() < 0.42:
            self._retry(j, t + int(r.uniform(60, 1500) * 1000), None)
        elif (
            wait > 20
            and r.random() < 0.3
            and v.qr.q.key != "bloqueo"
            and j.cust is not None
            and j.caller.startswith("+57")  # agents may not dial abroad
        ):
            self.push(
                t + int(r.uniform(600, 3600) * 1000),
                E_CALLBACK,
                (v.qr, j.cust, j.caller, j.topic, j.lang),
                0,
            )
        self._finish(j, t)

    def _retry(self, j: Journey, at: int, route: str | None) -> None:
        """The same caller calls again later (a new journey)."""
        if at >= self.end_ms:
            return
        if route is None:
            if j.call_type == "card_block" and not j.aa_key:
                route = "direct:bloqueo"
            elif j.aa_key:
                route = f"aa:{j.aa_key}"
            else:
                return
        kind, key = route.split(":")
        nj = self._new_journey(
            at, "inbound", j.call_type, "pstn", j.cust, j.caller, j.callee, j.lang, j.topic
        )
        nj.svc = j.svc if j.svc else self.svc["aa_principal"]
        nj.pending = (kind, key)
        nj.patience_mult = 1.4
        self.push(at, E_ARRIVE, nj)

    def _timeout(self, v: Visit, t: int) -> None:
        if v.state not in ("G", "W"):
            return
        j = v.j
        v.state = "D"
        v.outcome = "timeout"
        v.ended = t
        v.leg.release = t
        v.leg.f["Releasing party"] = "Local"
        nxt = v.qr.q.overflow_to
        if nxt and nxt not in j.visited:
            v.xfer = "overflow"
            self._enter_queue(j, self.qr[nxt], t + _rr(self.r, 50, 300),
                              (v.leg, v.qr.q.uuid, v.qr.q.number, "Deflection"))  # fmt: skip
            v.leg.f["Related reason"] = "Deflection"
            return
        j.outcome = "answered" if j.agents_talked else "timeout"
        self._finish(j, t)

    # -------------------------------------------------------------------- talking
    def _consult(self, v: Visit, t: int) -> None:
        """A mid-call consult with a supervisor (a second call; the customer is on hold)."""
        if v.state != "A" or v.xfer:
            return
        r = self.r
        x = v.agent
        sup = self._free_staff(t, self.supervisors)
        ring = _rr(r, 2500, 9000)
        talk = int(_lognorm(r, 45, 0.5) * 1000)
        if t + ring + talk + 5000 > v.talk_end:
            return
        target = sup or r.choice(self.supervisors)
        orig, term = self._internal_pair(v.j, x, target, t, consult=True)
        if sup is None:
            self._pair_fail(orig, term, t, _rr(r, 500, 2000), "UserBusy")
            return
        orig.answer = term.answer = t + ring
        orig.ring_ms = term.ring_ms = ring
        orig.release = term.release = t + ring + talk
        orig.f["Releasing party"] = "Local"
        term.f["Releasing party"] = "Remote"
        sup.busy_until = t + ring + talk
        v.hold_ms += ring + talk

    def _free_staff(self, t: int, pool: list[ART]) -> ART | None:
        if not pool:
            return None
        r = self.r
        for _ in range(6):
            s = pool[_rr(r, len(pool))]
            if s.in_shift and s.busy_until <= t and s.state != OFF:
                return s
        return None

    def _internal_pair(self, j: Journey, x: ART, y: ART, t: int, consult: bool) -> tuple[Leg, Leg]:
        """Both halves of an internal call from ``x`` to ``y`` (new Correlation ID when a consult)."""
        r = self.r
        corr = self.ids.uuid() if consult else j.corr
        if consult:
            j.corrs.append(corr)
        lo, lt = self.ids.call_half_pair()
        net = self.ids.network_call_id(t)
        so, st = self.ids.session_id(x.a.device_mac), self.ids.session_id(y.a.device_mac)
        fo = dict(x.base)
        fo.update({"Direction": "ORIGINATING", "Call type": "SIP_ENTERPRISE", "Correlation ID": corr,
                   "Interaction ID": j.inter, "Local call ID": lo, "Remote call ID": lt, "Network call ID": net,
                   "Call ID": self.ids.sip_call_id(t), "Called number": y.a.extension, "Calling number": x.a.user_number,
                   "Called line ID": y.a.name, "Calling line ID": x.a.name, "Dialed digits": y.a.extension,
                   "Caller ID number": x.a.extension, "Local SessionID": so, "Remote SessionID": st,
                   "Final local SessionID": so, "Final remote SessionID": st, "Report ID": self.ids.uuid()})  # fmt: skip
        ft = dict(y.base)
        ft.update({"Direction": "TERMINATING", "Call type": "SIP_ENTERPRISE", "Correlation ID": corr,
                   "Interaction ID": j.inter, "Local call ID": lt, "Remote call ID": lo, "Network call ID": net,
                   "Call ID": self.ids.sip_call_id(t + 40), "Called number": y.a.extension, "Calling number": x.a.extension,
                   "Called line ID": y.a.name, "Calling line ID": x.a.name, "Caller ID number": x.a.extension,
                   "Local SessionID": st, "Remote SessionID": so, "Final local SessionID": st,
                   "Final remote SessionID": so, "Report ID": self.ids.uuid()})  # fmt: skip
        o, m = Leg(fo, t), Leg(ft, t + _rr(r, 20, 80))
        j.legs.append(o)
        j.legs.append(m)
        return o, m

    def _pair_fail(self, o: Leg, m: Leg, t: int, ring: int, reason: str) -> None:
        for lg in (o, m):
            lg.release = t + ring
            lg.ring_ms = ring
            lg.f["Call outcome reason"] = reason
        o.f["Releasing party"] = "Remote"
        m.f["Releasing party"] = "Local" if reason == "UserBusy" else "Remote"

    def _talk_end(self, v: Visit, t: int) -> None:
        r = self.r
        j = v.j
        x = v.agent
        leg = v.agent_leg
        if v.xfer == "consult_transfer":
            sup = self._free_staff(t, self.staff)
            if sup is not None:
                ring = _rr(r, 2500, 9000)
                ctalk = int(_lognorm(r, 40, 0.5) * 1000)
                tx = t + ring + ctalk
                after = int(_lognorm(r, 150, 0.7) * 1000)
                orig, term = self._internal_pair(j, x, sup, t, consult=True)
                orig.ring_ms = term.ring_ms = ring
                orig.answer = term.answer = t + ring
                orig.release = tx
                term.release = tx + after
                xt = _iso(tx)
                for lg, other in ((leg, orig), (orig, leg)):
                    lg.f["Related reason"] = "ConsultativeTransfer"
                    lg.f["Transfer related call ID"] = other.f["Local call ID"]
                    lg.f["Call transfer time"] = xt
                    lg.f["Releasing party"] = "Local"
                term.f["Releasing party"] = "Remote" if r.random() < 0.8 else "Local"
                term.f["Final remote SessionID"] = ""
                leg.f["Final remote SessionID"] = ""
                leg.f["Hold duration"] = (v.hold_ms + ring + ctalk) // 1000
                leg.release = tx
                v.hold_ms += ring + ctalk
                sup.busy_until = tx + after
                j.hops.append(f"{sup.a.name} (transfer)")
                j.final_agent = sup
                j.agents_talked.append(x.a.agent_id)
                j.agents_talked.append(sup.a.agent_id)
                j.talk_ms += (tx - v.answered_at) + after
                self._rec_leg(j, sup, term, "terminator") if sup.rec_mode == "always" else None
                v.outcome = "answered"
                v.ended = tx
                v.state = "D"
                j.outcome = "answered"
                j.parts += 1
                self.push(tx, E_AFTER_CALL, x, v)
                self.push(tx + after, E_JOURNEY_END, j)
                return
            v.xfer = ""
        leg.release = t
        v.hold_ms = min(v.hold_ms, max(0, t - v.answered_at - 5000))
        leg.f["Hold duration"] = v.hold_ms // 1000
        v.ended = t
        v.state = "D"
        v.outcome = "answered"
        j.agents_talked.append(x.a.agent_id)
        j.talk_ms += t - v.answered_at
        if v.xfer == "blind":
            target = TOPICS[j.topic].queue
            if not target or target in j.visited:
                choices = [k for k in ("cuentas", "tarjetas", "creditos") if k not in j.visited]
                target = choices[0] if choices else ""
            d = self._local(t)
            if target and not self._open(target, d.date(), d.hour + d.minute / 60):
                target = "bloqueo" if "bloqueo" not in j.visited and target == "fraude" else ""
            if target:
                leg.f["Releasing party"] = "Local"
                leg.f["Related reason"] = "Deflection"
                leg.f["Call transfer time"] = _iso(t)
                self._enter_queue(j, self.qr[target], t + _rr(r, 100, 600),
                                  (leg, x.a.user_uuid, x.a.user_number, "Deflection"))  # fmt: skip
                self._after_call(x, v, t)
                return
            v.xfer = ""
        leg.f["Releasing party"] = "Remote" if r.random() < 0.68 else "Local"
        j.outcome = "answered"
        self._after_call(x, v, t)
        self._finish(j, t)

    def _rec_leg(self, j: Journey, x: ART, leg: Leg, personality: str) -> None:
        f = leg.f
        if leg.answer is None:
            return
        if not f.get("Call Recording Result"):
            f["Call Recording Platform Name"] = "Webex"
            f["Call Recording Result"] = "successful"
            f["Call Recording Trigger"] = "always"
        if f["Call Recording Result"] != "successful":
            return
        j.recs.append(RecordedLeg(
            recording_id=self.ids.hex32(), owner_agent_id=x.a.agent_id, owner_uuid=x.a.user_uuid,
            owner_email=x.a.email, location_uuid=x.a.location_uuid, correlation_id=f["Correlation ID"],
            local_call_id=f["Local call ID"], remote_party=j.caller if j.direction == "inbound" else j.callee,
            personality=personality, started_at=_dt(leg.answer), ended_at=_dt(leg.release),
            trigger=f["Call Recording Trigger"], result="successful",
        ))  # fmt: skip

    def _after_call(self, x: ART, v: Visit | None, t: int) -> None:
        if v is not None and v.agent_leg is not None and v.agent_leg.f.get("Call Recording Result"):
            self._rec_leg(v.j, x, v.agent_leg, "terminator")
        wrap = 0
        if v is not None:
            wrap = v.qr.b.wrap_s * 1000 + int(self.r.expovariate(1 / 8000))
            v.wrap_ms = wrap
        x.state = WRAP
        self.push(t + wrap, E_WRAP_END, x)

    def _wrap_end(self, x: ART, t: int) -> None:
        if x.state == WRAP:
            self._back_to_work(x, t)

    def _journey_part_done(self, j: Journey, t: int) -> None:
        j.parts -= 1
        if j.parts <= 0:
            self._finish(j, t)

    # -------------------------------------------------------------------- shifts
    def _shift_start(self, x: ART, t_end: int, t: int) -> None:
        if x.in_shift:  # still finishing an earlier shift: just extend it
            x.shift_end = t_end
            x.pend_off = False
            self.push(t_end, E_SHIFT_END, x)
            return
        x.in_shift = True
        x.shift_end = t_end
        x.pend_off = False
        x.on_since = t
        self.push(t_end, E_SHIFT_END, x)
        if x.a.role in ("supervisor", "backoffice"):
            x.state = IDLE
            return
        if x.a.role == "collections":
            x.state = IDLE
            self.push(t + _rr(self.r, 5000, 60000), E_DIAL, x)
            return
        self._make_idle(x, t)

    def _shift_end(self, x: ART, t: int) -> None:
        if not x.in_shift or x.shift_end != t:
            return
        if x.state in (IDLE, PAUSE, AWAY, OFF):
            self._log_off(x, t)
        else:
            x.pend_off = True

    def _log_off(self, x: ART, t: int) -> None:
        if x.state == PAUSE:
            self._emit_pause(x, t)
        self._unidle(x)
        if x.in_shift:
            self.state_sink(
                {
                    "agent_id": x.a.agent_id,
                    "kind": "login",
                    "reason": "",
                    "start": x.on_since,
                    "end": t,
                }
            )
        x.state = OFF
        x.in_shift = False
        x.pend_off = False
        x.pend_pause = False

    def _pause_start(self, x: ART, arg, t: int) -> None:
        reason, until = arg
        if not x.in_shift or x.a.role in ("supervisor", "backoffice"):
            return
        x.pause_end = until
        x.pause_reason = reason
        self.push(until, E_PAUSE_END, x)
        if x.state == IDLE:
            self._unidle(x)
            x.state = PAUSE
            x.paused_since = t
        elif x.state != OFF:
            x.pend_pause = True

    def _pause_end(self, x: ART, t: int) -> None:
        if x.pause_end != t:
            return
        x.pend_pause = False
        if x.state == PAUSE:
            self._emit_pause(x, t)
            self._back_to_work(x, t)

    def _emit_pause(self, x: ART, t: int) -> None:
        self.state_sink({"agent_id": x.a.agent_id, "kind": "pause", "reason": x.pause_reason,
                         "start": x.paused_since, "end": t})  # fmt: skip

    # -------------------------------------------------------------------- outbound
    def _out_leg(self, j: Journey, x: ART, t: int, dest: str, presented: str) -> Leg:
        ctype, country = _call_type(dest)
        dialed = _national(dest)
        if country:
            dialed = f"{self.r.choice(INTL_CARRIER)}{dest[1:]}"
        f = dict(x.base)
        sid = self.ids.session_id(x.a.device_mac)
        f.update({"Direction": "ORIGINATING", "Call type": ctype, "International country": country,
                  "Correlation ID": j.corr, "Interaction ID": j.inter, "Local call ID": self.ids.call_half(),
                  "Network call ID": self.ids.network_call_id(t), "Call ID": self.ids.sip_call_id(t),
                  "Called number": dest, "Calling number": x.a.user_number, "Called line ID": "NA",
                  "Calling line ID": x.a.name, "Dialed digits": dialed, "Caller ID number": presented,
                  "External caller ID number": presented, "Route group": ROUTE_GROUPS[x.loc_idx],
                  "Outbound trunk": self.r.choice(TRUNKS[x.loc_idx]), "Local SessionID": sid,
                  "Final local SessionID": sid, "Report ID": self.ids.uuid()})  # fmt: skip
        leg = Leg(f, t)
        j.legs.append(leg)
        return leg

    def _outcome_pstn(
        self, leg: Leg, t: int, p_answer: float, talk_median: float
    ) -> tuple[bool, int]:
        """Ring and answer (or not) an outbound PSTN leg; returns (answered, end time)."""
        r = self.r
        u = r.random()
        f = leg.f
        if u < p_answer:
            ring = _rr(r, 4000, 22000)
            leg.ring_ms = ring
            leg.answer = t + ring
            end = leg.answer + int(max(_lognorm(r, talk_median, 0.7), 5) * 1000)
            f["Releasing party"] = "Local" if r.random() < 0.5 else "Remote"
            leg.release = end
            return True, end
        if u < p_answer + 0.09:  # voicemail picks up: an answered (short) call in the CDR
            ring = _rr(r, 15000, 26000)
            leg.ring_ms = ring
            leg.answer = t + ring
            leg.release = leg.answer + _rr(r, 4000, 30000)
            f["Releasing party"] = "Local"
            return True, leg.release
        u2 = r.random()
        if u2 < 0.72:
            ring = _rr(r, 20000, 31000)
            f["Call outcome reason"] = "NoAnswer"
            f["Releasing party"] = "Local"
        elif u2 < 0.88:
            ring = _rr(r, 300, 3000)
            f["Call outcome reason"] = "UserBusy"
            f["Releasing party"] = "Remote"
        else:
            ring = _rr(r, 1000, 6000)
            f["Call outcome"] = "Refusal" if r.random() < 0.7 else "Failure"
            f["Call outcome reason"] = (
                r.choice(("Unreachable", "TemporarilyUnavailable", "SIP480"))
                if f["Call outcome"] == "Refusal"
                else r.choice(("NoRouteToDestination", "SIP503"))
            )
            f["Releasing party"] = "Remote"
        leg.ring_ms = ring
        leg.release = t + ring
        return False, leg.release

    def _dial(self, x: ART, t: int) -> None:
        if x.state != IDLE or not x.in_shift or t >= self.end_ms or x.pend_off:
            return
        if x.pend_pause:
            self._back_to_work(x, t)
            return
        r = self.r
        if not self.portfolio:
            return
        c = self.portfolio[_rr(r, len(self.portfolio))]
        co = [p.e164 for p in c.phones if p.country == "CO"]
        dest = co[0] if r.random() < 0.85 or len(co) == 1 else co[-1]
        j = self._new_journey(
            t, "outbound", "collections", "pstn", c, x.a.user_number, dest, c.language, "cobranza"
        )
        j.hops.extend((x.a.name, "PSTN"))
        leg = self._out_leg(j, x, t, dest, COLLECTIONS_CLI)
        ok, end = self._outcome_pstn(leg, t, 0.30, 140)
        x.state = TALK
        if ok:
            if x.rec_mode == "always":
                self._rec_leg(j, x, leg, "originator")
            j.agents_talked.append(x.a.agent_id)
            j.talk_ms += end - leg.answer
            j.final_agent = x
            j.outcome = "answered"
        else:
            j.outcome = (
                "busy"
                if leg.f["Call outcome reason"] == "UserBusy"
                else ("no_answer" if leg.f["Call outcome reason"] == "NoAnswer" else "failed")
            )
        self.push(end, E_OUT_END, x, (j, 1 if ok else 0))

    def _out_end(self, x: ART, arg, t: int) -> None:
        j, ok = arg
        self._finish(j, t)
        x.state = WRAP
        wrap = _rr(self.r, 8000, 35000) if ok else _rr(self.r, 1000, 4000)
        self.push(t + wrap, E_WRAP_END, x)

    def _callback(self, arg, tries: int, t: int) -> None:
        qr, cust, number, topic, lang = arg
        d = self._local(t)
        if t >= self.end_ms or not self._open(qr.q.key, d.date(), d.hour + d.minute / 60 + 0.25):
            return
        x = next(iter(qr.idle), None)
        if x is None or qr.waiting:
            if tries < 3:
                self.push(t + 300_000, E_CALLBACK, arg, tries + 1)
            return
        self._unidle(x)
        x.state = TALK
        j = self._new_journey(
            t, "outbound", "callback", "pstn", cust, x.a.user_number, number, lang, topic
        )
        j.hops.extend((x.a.name, "PSTN"))
        leg = self._out_leg(j, x, t, number, qr.q.number)
        ok, end = self._outcome_pstn(leg, t, 0.62, qr.b.talk_median_s)
        if ok:
            if x.rec_mode == "always":
                self._rec_leg(j, x, leg, "originator")
            j.agents_talked.append(x.a.agent_id)
            j.talk_ms += end - leg.answer
            j.final_agent = x
            j.outcome = "answered"
        else:
            j.outcome = "no_answer"
        self.push(end, E_OUT_END, x, (j, 1 if ok else 0))

    def _internal(self, x: ART, t: int) -> None:
        """A supervisor / back-office user places a call: internal, national or international."""
        r = self.r
        if not x.in_shift or t >= self.end_ms:
            return
        nxt = t + int(r.expovariate(1 / 2100) * 1000) + 60_000
        if nxt < x.shift_end:
            self.push(nxt, E_INTERNAL, x)
        if x.busy_until > t:
            return
        u = r.random()
        if u < 0.68 and len(self.staff) > 1:
            y = self.staff[_rr(r, len(self.staff))]
            if y is x:
                return
            j = self._new_journey(
                t,
                "internal",
                "internal",
                "internal",
                None,
                x.a.extension,
                y.a.extension,
                "es",
                "consulta_interna",
            )
            j.hops.extend((x.a.name, y.a.name))
            o, m = self._internal_pair(j, x, y, t, consult=False)
            ring = _rr(r, 2000, 12000)
            if not y.in_shift or y.busy_until > t:
                self._pair_fail(o, m, t, ring if not y.in_shift else _rr(r, 300, 1500),
                                "NoAnswer" if not y.in_shift else "UserBusy")  # fmt: skip
                j.outcome = "no_answer" if not y.in_shift else "busy"
                end = o.release
            else:
                o.ring_ms = m.ring_ms = ring
                o.answer = m.answer = t + ring
                end = t + ring + int(_lognorm(r, 95, 0.8) * 1000)
                o.release = m.release = end
                o.f["Releasing party"] = "Local" if r.random() < 0.5 else "Remote"
                m.f["Releasing party"] = "Remote" if o.f["Releasing party"] == "Local" else "Local"
                y.busy_until = end
                j.outcome = "answered"
                j.talk_ms = end - o.answer
            x.busy_until = end
            self.push(end, E_JOURNEY_END, j)
            j.parts = 1
            return
        if u < 0.97 or not x.intl:
            dest = co_mobile(r) if r.random() < 0.45 else co_landline(r)
            if self.co_customers and r.random() < 0.4:
                c = self.co_customers[_rr(r, len(self.co_customers))]
                cust, dest = c, c.phones[0].e164
            else:
                cust = None
            ctype = "national"
        else:
            dest = _intl_number(r, _weighted(r, INTL))
            cust = None
            ctype = "international"
        j = self._new_journey(
            t, "outbound", ctype, "pstn", cust, x.a.user_number, dest, "es", "consulta_interna"
        )
        j.hops.extend((x.a.name, "PSTN"))
        presented = x.a.phone_number or self.pop.locations[x.loc_idx].main_number
        leg = self._out_leg(j, x, t, dest, presented)
        ok, end = self._outcome_pstn(leg, t, 0.6, 200 if ctype == "international" else 110)
        if ok:
            j.talk_ms = end - leg.answer
            j.outcome = "answered"
        else:
            j.outcome = "no_answer"
        x.busy_until = end
        j.parts = 1
        self.push(end, E_JOURNEY_END, j)

    # -------------------------------------------------------------------- output
    def _finish(self, j: Journey, t: int) -> None:
        j.end = max(t, max((lg.release for lg in j.legs), default=t))
        self.active.pop(j.jid, None)
        r = self.r
        ids = self.ids
        records: list[tuple[int, dict]] = []
        late_share = self.cfg.late_record_share
        report_ids = []
        for lg in j.legs:
            lg.report = lg.release + _rr(r, 250, 2600)
            u = r.random()
            if u < late_share:
                ins = lg.report + _rr(r, 1_800_000, 8 * 3_600_000)
            elif u < late_share + 0.045:
                ins = lg.report + _rr(r, 120_000, 900_000)
            else:
                ins = lg.report + _rr(r, 25_000, 100_000)
            rec = lg.render()
            records.append((ins, rec))
            report_ids.append(rec["Report ID"])
        del ids
        self.totals.journeys += 1
        self.totals.records += len(records)
        self.totals.visits += len(j.visits)
        self.totals.by_outcome[j.outcome] = self.totals.by_outcome.get(j.outcome, 0) + 1
        visits = []
        for v in j.visits:
            wait_end = v.answered_at if v.answered_at is not None else v.ended
            talk = (v.agent_leg.release - v.answered_at) if v.answered_at is not None else None
            visits.append({
                "journey_id": j.jid, "visit_no": v.no, "queue": v.qr.q.key, "queue_name": v.qr.q.name,
                "queue_uuid": v.qr.q.uuid, "correlation_id": v.leg.f["Correlation ID"],
                "queue_report_id": v.leg.f["Report ID"], "queue_local_call_id": v.leg.f["Local call ID"],
                "entered_at": v.entered, "answered_at": v.answered_at, "ended_at": v.ended,
                "wait_ms": (wait_end - v.entered) if wait_end is not None else None,
                "talk_ms": talk, "hold_ms": v.hold_ms if v.answered_at is not None else None,
                "wrapup_ms": v.wrap_ms if v.answered_at is not None else None,
                "outcome": v.outcome, "agent_id": v.agent.a.agent_id if v.agent else None,
                "agent_report_id": v.agent_leg.f["Report ID"] if v.agent_leg else None,
                "ring_attempts": v.offers, "ring_no_answer": v.rna, "busy": v.busy,
                "transferred": bool(v.xfer) and v.xfer != "overflow", "transfer_type": v.xfer or None,
                "caller_number": j.caller, "customer_id": j.cust.customer_id if j.cust else None,
            })  # fmt: skip
        queues = tuple(v.qr.q.key for v in j.visits)
        aa_ms = j.aa_ms if j.aa_key is not None or j.outcome in ("aa_hangup", "closed") else 0
        ai_ms = (j.ai_end - j.ai_start) if j.ai_start is not None and j.ai_end is not None else 0
        queue_ms = sum(((v.answered_at or v.ended or v.entered) - v.entered) for v in j.visits)
        final = j.final_agent
        journey = CallJourney(
            journey_id=j.jid,
            customer_id=j.cust.customer_id if j.cust else None,
            caller_number=j.caller,
            callee_number=j.callee,
            direction=j.direction,
            call_type=j.call_type,
            started_at=_dt(j.start),
            ended_at=_dt(j.end),
            channel_entry=j.entry,
            ai_outcome=j.ai_outcome,
            ai_started_at=_dt(j.ai_start) if j.ai_start else None,
            ai_ended_at=_dt(j.ai_end) if j.ai_end else None,
            ai_line_number=self.svc["ai_agent"].number if j.ai_start else None,
            hops=tuple(j.hops),
            queue=queues[0] if queues else None,
            queues=queues,
            agent_id=final.a.agent_id if final else None,
            agent_ids=tuple(dict.fromkeys(j.agents_talked)),
            talk_seconds=j.talk_ms // 1000,
            recorded=bool(j.recs),
            recordings=tuple(j.recs),
            language=j.lang,
            topic=j.topic,
            outcome=j.outcome,
            correlation_ids=tuple(j.corrs),
            aa_key=j.aa_key,
        )
        row = {
            "journey_id": j.jid, "customer_id": journey.customer_id, "direction": j.direction,
            "call_type": j.call_type, "channel_entry": j.entry, "started_at": j.start, "ended_at": j.end,
            "route": journey.route, "outcome": j.outcome, "ai_outcome": j.ai_outcome,
            "first_queue": journey.queue, "queues": list(queues), "final_agent_id": journey.agent_id,
            "final_agent_name": final.a.name if final else None, "agent_ids": list(journey.agent_ids),
            "aa_ms": aa_ms, "ai_ms": ai_ms, "queue_ms": queue_ms, "agent_ms": j.talk_ms,
            "hold_ms": sum(v.hold_ms for v in j.visits if v.answered_at is not None),
            "correlation_ids": list(j.corrs), "interaction_id": j.inter, "report_ids": report_ids,
            "n_records": len(records), "caller_number": j.caller, "callee_number": j.callee,
            "aa_key": j.aa_key, "recorded": journey.recorded, "language": j.lang, "topic": j.topic,
        }  # fmt: skip
        self.sink(JourneyOutput(journey, records, visits, j.offers, row))
        # break the journey <-> visit cycles so the journey is freed by reference counting now,
        # not by a (rare, full) cyclic collection: memory stays flat however many days run
        for v in j.visits:
            v.j = None
            v.ring = []
            v.agent_leg = None
        j.visits = []
        j.legs = []


def _dt(ms: int) -> datetime:
    return datetime.fromtimestamp(ms / 1000, UTC)
