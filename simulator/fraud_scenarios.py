"""Labelled fraud and misuse scenarios injected into the simulated Webex CDRs, plus the
legitimate look-alikes that must not alert (``reference/fraud.md`` §1.3, §1.4, §5.2).

Every scenario comes in a **blatant** variant (crosses the static thresholds of §1.4/§1.6 that
real fraud-management systems use) and a **subtle** one (stays under those thresholds, so only a
baseline- or behaviour-aware detector can find it):

=========================== ===================================================================
``pbx_hack_toll_fraud``     S1: a user's credentials registered on a rogue softphone at night;
                            parallel long calls to narrow tier-1 ranges, test calls first.
                            Subtle: a few night calls, one at a time, to a "low-risk" range.
``irsf_number_range``       S1/S2 in business hours from an agent line: many sequential numbers
                            of one tier-1 range in an hour. Subtle: slow drip, 1–2 calls/hour.
``wangiri``                 S5a+S5b: one-ring inbound calls from one foreign range to the DIDs,
                            then staff call the missed numbers back. Subtle: a trickle + one
                            callback.
``premium_rate``            S3: CO 1900 / ITU +979 calls (``SIP_PREMIUM``). Subtle: one call.
``authorization_code_misuse`` the international desk's authorization code used from other
                            users' lines (evening burst to Caribbean NANP ranges). Subtle: one
                            user, two calls to allowlisted countries.
``internal_misuse``         S9: an employee's personal calls abroad to an allowlisted country
                            (long calls, not on the international desk). Subtle: two short ones.
=========================== ===================================================================

Look-alikes (labelled, ``expected_alert`` false, no records of their own: they are the normal
simulation): ``collections_dialer`` (the dialer's mass outbound, every dialer day 07:30–19:45),
``authorised_international`` (the users allowed to call abroad), ``payday_peak`` (quincena).

Fraud calls are PSTN legs, so each is one record of the Webex user's side (webex.md §1.9): its
own ``Correlation ID``, ``Interaction ID``, ``Network call ID`` and ``Local call ID`` (from a
call-half range far above the normal simulation's, so they never collide), no ``Remote call
ID``. They are never queue visits, so the queue/agent truth is untouched. Everything is drawn
from streams named after the seed and the scenario: deterministic for a seed.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import phonenumbers

from simulator.model import Agent, Population
from simulator.population import rng_for
from simulator.webex_calls import INTL_CARRIER, ROUTE_GROUPS, TRUNKS, colombian_holidays, paydays
from simulator.webex_cdr import IdSource, Leg

__all__ = [
    "LOOKALIKES",
    "SCENARIOS",
    "FraudCall",
    "FraudFeeder",
    "FraudOutput",
    "Incident",
    "build_fraud",
    "plan_incidents",
    "plan_lookalikes",
    "render_call",
]

SCENARIOS = (
    "pbx_hack_toll_fraud",
    "irsf_number_range",
    "wangiri",
    "premium_rate",
    "authorization_code_misuse",
    "internal_misuse",
)
LOOKALIKES = ("collections_dialer", "authorised_international", "payday_peak")

# Narrow number ranges (prefix, digits after it), §2.1: CFCA terminating countries, Cuba, ITU
# non-geographic; the "low-risk country" ranges IRSF sellers now advertise; Caribbean NANP codes
# that look domestic to a human; allowlisted countries of the bank's international desk.
TIER1_RANGES = (("+2526155", 5), ("+537800", 4), ("+3716729", 4), ("+2327612", 4))
LOW_RISK_RANGES = (("+44207946", 4), ("+3225001", 3), ("+4122310", 4))
WANGIRI_RANGES = (("+2246212", 5), ("+1809555", 4))
CARIBBEAN_RANGES = (("+1809555", 4), ("+1876555", 4))
ALLOWLISTED = (("+1305", 7), ("+3461", 7))
PREMIUM_RANGES = (("+571900", 7), ("+9791", 8))
#: CO premium (1900/1901/1947/1948, fraud.md §5.1) and ITU International Premium Rate Service
PREMIUM_PREFIXES = ("+571900", "+571901", "+571947", "+571948", "+979")

#: call-half counter of fraud legs: above anything the normal simulation reaches
FRAUD_CALL_HALF_START = 1_500_000_000
ROGUE_CLIENT = {"Client type": "WXC_THIRD_PARTY", "Client version": "MicroSIP/3.21.3",
                "OS type": "windows", "Model": ""}  # fmt: skip


@dataclass(frozen=True, slots=True)
class FraudCall:
    """One fraudulent PSTN leg, seen from the Webex user's side."""

    direction: str  #: ``ORIGINATING`` (user dials out) | ``TERMINATING`` (inbound to the user)
    user_id: str  #: agent_id of the Webex user whose record it is
    far_number: str  #: E.164 of the PSTN party
    start_ms: int
    ring_ms: int
    talk_ms: int  #: 0 = not answered
    auth_code: str = ""
    rogue_device: bool = False  #: placed from a softphone registered with stolen credentials


@dataclass(slots=True)
class Incident:
    incident_id: str
    scenario: str
    variant: str  #: ``blatant`` | ``subtle`` | ``lookalike``
    expected_alert: bool
    #: ``user`` | ``calling_range`` | ``authorization_code`` | ``users`` | ``center``
    entity_kind: str
    entity: str
    user_ids: tuple[str, ...]
    start_ms: int
    end_ms: int
    signature: str  #: what a detector should see (§1.3)
    calls: list[FraudCall] = field(default_factory=list)


@dataclass(slots=True)
class FraudOutput:
    records: list[tuple[int, dict]]  #: (inserted_at ms, record), sorted by inserted_at
    labels: list[dict]  #: one row per incident / look-alike (truth/fraud_labels.parquet)


class FraudFeeder:
    """Hands the fraud records to a CDR writer as the simulation's watermark passes them, so
    they land in the per-day files in ``inserted_at`` order without a second pass."""

    def __init__(self, records: list[tuple[int, dict]]) -> None:
        self.records = records
        self.pos = 0

    def feed(self, add, watermark: int) -> None:
        recs, i = self.records, self.pos
        while i < len(recs) and recs[i][0] < watermark:
            add(*recs[i])
            i += 1
        self.pos = i


# ---------------------------------------------------------------------------------------------
# Small helpers
# ---------------------------------------------------------------------------------------------


def _local_ms(d: date, hours: float, tz: ZoneInfo) -> int:
    dt = datetime(d.year, d.month, d.day, tzinfo=tz) + timedelta(hours=hours)
    return int(dt.timestamp() * 1000)


def _range_numbers(r: random.Random, rng: tuple[str, int], n: int) -> list[str]:
    """``n`` consecutive numbers of a range (IRSF ranges are dialled sequentially)."""
    prefix, digits = rng
    first = r.randrange(0, 10**digits - n - 1)
    return [f"{prefix}{first + k:0{digits}d}" for k in range(n)]


def _minutes(r: random.Random, lo: float, hi: float) -> int:
    return int(r.uniform(lo, hi) * 60_000)


def call_type_of(e164: str) -> tuple[str, str]:
    """Webex ``Call type`` and ``International country`` of a dialled PSTN number."""
    if e164.startswith(PREMIUM_PREFIXES):
        return "SIP_PREMIUM", "" if e164.startswith("+57") else "001"
    n = phonenumbers.parse(e164)
    if e164.startswith("+57"):
        return ("SIP_MOBILE" if e164[3] == "3" else "SIP_NATIONAL"), ""
    # by the country code: IRSF ranges are often unassigned, so validity cannot be asked
    return "SIP_INTERNATIONAL", phonenumbers.region_code_for_country_code(n.country_code)


def _pick(r: random.Random, people: list[Agent], used: set[str]) -> Agent:
    fresh = [a for a in people if a.agent_id not in used]
    a = r.choice(fresh or people)
    used.add(a.agent_id)
    return a


def _parallel_lines(
    r: random.Random, user: str, numbers: list[str], t0: int, t_end: int, lines: int,
    answer: float, talk: tuple[float, float], rogue: bool = False, auth: str = "",
) -> list[FraudCall]:  # fmt: skip
    """Calls placed on ``lines`` simultaneous channels until ``t_end`` or the numbers run out."""
    free = [t0 + k * r.randrange(2_000, 20_000) for k in range(lines)]
    calls: list[FraudCall] = []
    for num in numbers:
        k = min(range(lines), key=free.__getitem__)
        t = free[k]
        if t >= t_end:
            break
        ring = r.randrange(3_000, 12_000)
        talk_ms = _minutes(r, *talk) if r.random() < answer else 0
        calls.append(FraudCall("ORIGINATING", user, num, t, ring, talk_ms, auth, rogue))
        free[k] = t + ring + talk_ms + r.randrange(2_000, 9_000)
    return calls


def _one_at_a_time(
    r: random.Random, user: str, numbers: list[str], t0: int, gap: tuple[float, float],
    talk: tuple[float, float], auth: str = "", rogue: bool = False,
) -> list[FraudCall]:  # fmt: skip
    """Calls that never overlap: each starts ``gap`` minutes after the previous one ended."""
    calls, t = [], t0
    for num in numbers:
        ring = r.randrange(4_000, 15_000)
        talk_ms = _minutes(r, *talk)
        calls.append(FraudCall("ORIGINATING", user, num, t, ring, talk_ms, auth, rogue))
        t += ring + talk_ms + _minutes(r, *gap)
    return calls


# ---------------------------------------------------------------------------------------------
# Planning (pure: population, calendar and seed in, incidents out)
# ---------------------------------------------------------------------------------------------


def plan_incidents(
    pop: Population, start: date, days: int, seed: int, tz: str = "America/Bogota",
    authorised_intl: frozenset[str] = frozenset(),
) -> list[Incident]:  # fmt: skip
    """Every scenario × variant once per simulated week (started or partial), on a day of that
    week, with its calls. Users on the international desk (``authorised_intl``) are never the
    compromised entity, except as the owner of the misused authorization code."""
    z = ZoneInfo(tz)
    people = list(pop.agents)
    clean = [a for a in people if a.agent_id not in authorised_intl] or people
    agents = [a for a in clean if a.role == "agent"] or clean
    staff = [a for a in clean if a.role in ("supervisor", "backoffice")] or clean
    dids = [a for a in people if a.phone_number] or people
    desk = [a for a in people if a.agent_id in authorised_intl] or people
    out: list[Incident] = []
    for week in range((days + 6) // 7):
        week_days = [start + timedelta(days=week * 7 + k) for k in range(min(7, days - week * 7))]
        used: set[str] = set()
        for scenario in SCENARIOS:
            for variant in ("blatant", "subtle"):
                r = rng_for(seed, "fraud", scenario, variant, week)
                d = r.choice(week_days)
                iid = f"F{week:02d}-{scenario}-{variant}"
                if scenario == "pbx_hack_toll_fraud":
                    inc = _pbx_hack(r, iid, variant, _pick(r, staff + agents, used), d, z)
                elif scenario == "irsf_number_range":
                    inc = _irsf_range(r, iid, variant, _pick(r, agents, used), d, z)
                elif scenario == "wangiri":
                    inc = _wangiri(r, iid, variant, dids, d, z)
                elif scenario == "premium_rate":
                    inc = _premium(r, iid, variant, _pick(r, staff, used), d, z)
                elif scenario == "authorization_code_misuse":
                    inc = _auth_code(r, iid, variant, r.choice(desk), clean, used, d, z)
                else:
                    inc = _internal_misuse(r, iid, variant, _pick(r, staff, used), d, z)
                inc.start_ms = min(c.start_ms for c in inc.calls)
                inc.end_ms = max(c.start_ms + c.ring_ms + c.talk_ms for c in inc.calls)
                out.append(inc)
    return out


def _inc(iid, scenario, variant, kind, entity, users, signature) -> Incident:
    return Incident(iid, scenario, variant, True, kind, entity, tuple(users), 0, 0, signature)


def _pbx_hack(r, iid, variant, user: Agent, d: date, z: ZoneInfo) -> Incident:
    if variant == "blatant":
        ranges = r.sample(TIER1_RANGES, 2)
        t0 = _local_ms(d, r.uniform(1.0, 1.5), z)
        # test calls first (§5.2 S1): short, to the same ranges, an hour or so before
        tests = [FraudCall("ORIGINATING", user.agent_id, _range_numbers(r, rg, 1)[0],
                           t0 - _minutes(r, 40, 70) + k * 120_000, 5_000, r.randrange(8_000, 25_000),
                           rogue_device=True) for k, rg in enumerate(ranges)]  # fmt: skip
        numbers = [n for rg in ranges for n in _range_numbers(r, rg, 60)]
        calls = tests + _parallel_lines(r, user.agent_id, numbers, t0, t0 + 4 * 3_600_000,
                                        lines=r.randrange(6, 10), answer=0.85, talk=(4, 55),
                                        rogue=True)  # fmt: skip
        sig = "night burst of parallel long calls to tier-1 ranges from a new softphone"
    else:
        rg = r.choice(LOW_RISK_RANGES)
        numbers = _range_numbers(r, rg, r.randrange(5, 9))
        calls = _one_at_a_time(r, user.agent_id, numbers, _local_ms(d, r.uniform(0.5, 1.5), z),
                               gap=(3, 12), talk=(10, 28), rogue=True)  # fmt: skip
        sig = "a few night calls, one at a time, to one low-risk-country range, new softphone"
    inc = _inc(iid, "pbx_hack_toll_fraud", variant, "user", user.user_uuid, [user.agent_id], sig)
    inc.calls = calls
    return inc


def _irsf_range(r, iid, variant, user: Agent, d: date, z: ZoneInfo) -> Incident:
    rg = r.choice(TIER1_RANGES)
    if variant == "blatant":
        t0 = _local_ms(d, r.uniform(9.5, 11.0), z)
        calls = _parallel_lines(r, user.agent_id, _range_numbers(r, rg, r.randrange(30, 45)),
                                t0, t0 + 3_600_000, lines=3, answer=0.8, talk=(1, 6))  # fmt: skip
        sig = "dozens of consecutive numbers of one tier-1 range within an hour, business hours"
    else:
        numbers = _range_numbers(r, rg, r.randrange(10, 15))
        t = _local_ms(d, r.uniform(8.0, 8.5), z)
        calls = []
        for num in numbers:  # slow drip: never concurrent, at most 2 an hour
            talk = _minutes(r, 5, 15)
            calls.append(FraudCall("ORIGINATING", user.agent_id, num, t, 6_000, talk))
            t += 6_000 + talk + _minutes(r, 25, 45)
        sig = "slow drip (≤ 2 calls an hour) to one tier-1 range, never concurrent"
    inc = _inc(iid, "irsf_number_range", variant, "user", user.user_uuid, [user.agent_id], sig)
    inc.calls = calls
    return inc


def _wangiri(r, iid, variant, dids: list[Agent], d: date, z: ZoneInfo) -> Incident:
    rg = r.choice(WANGIRI_RANGES)
    if variant == "blatant":
        n = r.randrange(100, 150)
        t0 = _local_ms(d, r.uniform(19.0, 21.0), z)
        starts = sorted(t0 + r.randrange(0, 45 * 60_000) for _ in range(n))
        n_back = r.randrange(3, 7)
    else:
        n = r.randrange(20, 31)
        t0 = _local_ms(d, 8.0, z)
        step = 12 * 3_600_000 // n  # a trickle over the day: ≤ 2 in any 15 minutes
        starts = [t0 + k * step + r.randrange(0, step // 3) for k in range(n)]
        n_back = 1
    clis = _range_numbers(r, rg, n)
    r.shuffle(clis)  # many distinct CLIs of one range, not dialled in order
    calls = [FraudCall("TERMINATING", r.choice(dids).agent_id, cli, s, r.randrange(1_000, 3_000), 0)
             for cli, s in zip(clis, starts, strict=True)]  # fmt: skip
    # callbacks (S5b): the called users return the missed calls, a premium message keeps them
    last = starts[-1]
    for k, miss in enumerate(r.sample(calls, n_back)):
        t = last + _minutes(r, 20, 90) + k * _minutes(r, 3, 10)
        calls.append(FraudCall("ORIGINATING", miss.user_id, miss.far_number, t,
                               r.randrange(3_000, 8_000), _minutes(r, 1, 12)))  # fmt: skip
    users = sorted({c.user_id for c in calls})
    sig = (
        "one-ring (≤ 3 s) unanswered inbound calls from one foreign range, then callbacks"
        if variant == "blatant"
        else "a day-long trickle of one-ring calls and one callback"
    )
    inc = _inc(iid, "wangiri", variant, "calling_range", rg[0], users, sig)
    inc.calls = calls
    return inc


def _premium(r, iid, variant, user: Agent, d: date, z: ZoneInfo) -> Incident:
    t0 = _local_ms(d, r.uniform(9.0, 15.0), z)
    if variant == "blatant":
        numbers = [_range_numbers(r, PREMIUM_RANGES[k % 2], 1)[0] for k in range(r.randrange(4, 7))]
        calls = _one_at_a_time(r, user.agent_id, numbers, t0, gap=(0.5, 2), talk=(3, 7))
        sig = "several premium-rate calls (CO 1900, +979) within an hour"
    else:
        calls = _one_at_a_time(r, user.agent_id, _range_numbers(r, PREMIUM_RANGES[0], 1), t0,
                               gap=(1, 2), talk=(10, 30))  # fmt: skip
        sig = "one premium-rate call (CO 1900)"
    inc = _inc(iid, "premium_rate", variant, "user", user.user_uuid, [user.agent_id], sig)
    inc.calls = calls
    return inc


def _auth_code(r, iid, variant, owner: Agent, clean, used, d, z) -> Incident:
    code = f"{r.randrange(10**7, 10**8)}"
    others = [a for a in clean if a.agent_id != owner.agent_id] or clean
    if variant == "blatant":
        users = r.sample(others, min(len(others), r.randrange(3, 5)))
        t0 = _local_ms(d, r.uniform(19.5, 20.5), z)
        calls = []
        for k, u in enumerate(users):
            numbers = _range_numbers(r, CARIBBEAN_RANGES[k % 2], r.randrange(5, 8))
            calls += _parallel_lines(r, u.agent_id, numbers, t0 + k * 90_000,
                                     t0 + 2 * 3_600_000, lines=2, answer=0.8, talk=(2, 10),
                                     auth=code)  # fmt: skip
        sig = "one authorization code on many users' lines, evening burst to Caribbean ranges"
    else:
        users = [_pick(r, others, used)]
        numbers = [_range_numbers(r, rg, 1)[0] for rg in ALLOWLISTED]
        calls = _one_at_a_time(r, users[0].agent_id, numbers, _local_ms(d, r.uniform(10, 15), z),
                               gap=(40, 90), talk=(4, 12), auth=code)  # fmt: skip
        sig = "another user's authorization code on two calls to allowlisted countries"
    inc = _inc(iid, "authorization_code_misuse", variant, "authorization_code", code,
               [u.agent_id for u in users], sig)  # fmt: skip
    inc.calls = calls
    return inc


def _internal_misuse(r, iid, variant, user: Agent, d: date, z: ZoneInfo) -> Incident:
    # personal calls abroad from a user who is not on the international desk (S9): the
    # destination is allowlisted, so destination rules miss it; duration and the user do not
    home = _range_numbers(r, r.choice(ALLOWLISTED), 1)[0]
    t0 = _local_ms(d, r.uniform(9.0, 11.0), z)
    if variant == "blatant":
        calls = [FraudCall("ORIGINATING", user.agent_id, home, t0, 9_000, _minutes(r, 65, 110))]
        t = t0 + calls[0].ring_ms + calls[0].talk_ms + _minutes(r, 30, 60)
        calls += _one_at_a_time(r, user.agent_id, [home] * r.randrange(3, 5), t, gap=(20, 60),
                                talk=(15, 35))  # fmt: skip
        sig = "an employee's long personal calls to one number abroad (allowlisted country)"
    else:
        calls = _one_at_a_time(r, user.agent_id, [home, home], t0, gap=(120, 200), talk=(8, 15))
        sig = "two personal calls abroad by a user outside the international desk"
    inc = _inc(iid, "internal_misuse", variant, "user", user.user_uuid, [user.agent_id], sig)
    inc.calls = calls
    return inc


def plan_lookalikes(
    pop: Population, start: date, days: int, tz: str = "America/Bogota",
    authorised_intl: frozenset[str] = frozenset(),
) -> list[Incident]:  # fmt: skip
    """Legitimate periods that look like fraud to a naive rule; labelled so a detector that
    alerts on them is charged a false alert."""
    z = ZoneInfo(tz)
    end_ms = _local_ms(start + timedelta(days=days), 0, z)
    start_ms = _local_ms(start, 0, z)
    out: list[Incident] = []
    collectors = tuple(a.agent_id for a in pop.agents if a.role == "collections")
    for k in range(days):
        d = start + timedelta(days=k)
        if collectors and d.weekday() < 6 and d not in colombian_holidays(d.year):
            # the dialer's shifts run 08–19 h; the margin covers log-in drift and the calls
            # still in progress when a shift ends
            out.append(Incident(f"L-collections_dialer-{d:%Y%m%d}", "collections_dialer",
                                "lookalike", False, "users", "collections", collectors,
                                _local_ms(d, 7.5, z), _local_ms(d, 19.75, z),
                                "mass outbound dialing by the collections dialer"))  # fmt: skip
        if d in paydays(d.year, d.month):
            out.append(Incident(f"L-payday_peak-{d:%Y%m%d}", "payday_peak", "lookalike", False,
                                "center", "all", (), _local_ms(d, 0, z), _local_ms(d, 24, z),
                                "quincena payday: inbound demand +25 %"))  # fmt: skip
    for a in pop.agents:
        if a.agent_id in authorised_intl:
            out.append(Incident(f"L-authorised_international-{a.agent_id}",
                                "authorised_international", "lookalike", False, "user",
                                a.user_uuid, (a.agent_id,), start_ms, end_ms,
                                "a user allowed to call abroad (US, ES, PA, MX, EC, PE, CL)"))  # fmt: skip
    return out


# ---------------------------------------------------------------------------------------------
# Rendering (records through the simulator's own Leg builder)
# ---------------------------------------------------------------------------------------------


def user_fields(pop: Population, a: Agent) -> dict:
    """Site and user fields of a user's records when the simulation's own are not given."""
    loc = pop.location(a.location_uuid)
    return {"Org UUID": pop.org_uuid, "Location": loc.name, "Site UUID": loc.location_uuid,
            "Site main number": loc.main_number, "Site timezone": str(loc.utc_offset_minutes),
            "User UUID": a.user_uuid, "User type": "User", "User": a.name,
            "User number": a.user_number, "Client type": a.client_type,
            "OS type": "na" if a.device_mac else "windows", "Device MAC": a.device_mac,
            "Model": a.device_model}  # fmt: skip


def render_call(
    c: FraudCall, base: dict, a: Agent, loc_idx: int, main_number: str, ids: IdSource,
    r: random.Random,
) -> tuple[int, dict]:  # fmt: skip
    """The Webex record of one fraud leg and its ``inserted_at`` (ms)."""
    f = dict(base)
    if c.rogue_device:
        f.update(ROGUE_CLIENT)
        f["Device MAC"] = "".join(f"{r.randrange(256):02X}" for _ in range(6))
    common = {"Correlation ID": ids.uuid(), "Interaction ID": ids.uuid(),
              "Local call ID": ids.call_half(), "Network call ID": ids.network_call_id(c.start_ms),
              "Call ID": ids.sip_call_id(c.start_ms), "Report ID": ids.uuid()}  # fmt: skip
    f.update(common)
    leg = Leg(f, c.start_ms)
    leg.ring_ms = c.ring_ms
    if c.direction == "ORIGINATING":
        ctype, country = call_type_of(c.far_number)
        dialed = c.far_number[3:] if c.far_number.startswith("+57") else (
            f"{r.choice(INTL_CARRIER)}{c.far_number[1:]}")  # fmt: skip
        presented = a.phone_number or main_number
        sid = ids.session_id(f["Device MAC"])
        f.update({"Direction": "ORIGINATING", "Call type": ctype, "International country": country,
                  "Called number": c.far_number, "Calling number": a.user_number,
                  "Called line ID": "NA", "Calling line ID": a.name, "Dialed digits": dialed,
                  "Caller ID number": presented, "External caller ID number": presented,
                  "Route group": ROUTE_GROUPS[loc_idx], "Outbound trunk": r.choice(TRUNKS[loc_idx]),
                  "Local SessionID": sid, "Final local SessionID": sid,
                  "Authorization code": c.auth_code})  # fmt: skip
        if c.talk_ms:
            f["Releasing party"] = "Remote"  # the revenue-share end keeps the line and hangs up
        else:
            f["Call outcome reason"] = "NoAnswer"
            f["Releasing party"] = "Local"
    else:  # an inbound one-ring call: the caller hangs up before anyone can answer
        f.update({"Direction": "TERMINATING", "Call type": "SIP_INBOUND",
                  "Called number": a.user_number, "Calling number": c.far_number,
                  "Called line ID": a.name, "Calling line ID": c.far_number.lstrip("+"),
                  "Caller ID number": c.far_number, "Inbound trunk": r.choice(TRUNKS[loc_idx]),
                  "Call outcome": "Refusal", "Call outcome reason": "SIP487",
                  "Releasing party": "Remote"})  # fmt: skip
    if c.talk_ms:
        leg.answer = c.start_ms + c.ring_ms
        leg.release = leg.answer + c.talk_ms
    else:
        leg.release = c.start_ms + c.ring_ms
    leg.report = leg.release + r.randrange(250, 2600)
    inserted = leg.report + r.randrange(25_000, 100_000)
    return inserted, leg.render()


def build_fraud(
    pop: Population, start: date, days: int, seed: int, tz: str = "America/Bogota",
    *, authorised_intl: frozenset[str] = frozenset(), bases: dict[str, dict] | None = None,
) -> FraudOutput:  # fmt: skip
    """Plan, render and label every incident and look-alike of the period.

    ``bases``: agent_id → the simulation's own user/site fields of that user (client version,
    OS…), so fraud legs from a user's own phone look like the user's normal legs.
    """
    incidents = plan_incidents(pop, start, days, seed, tz, authorised_intl)
    ids = IdSource(rng_for(seed, "fraud-ids"))
    ids._call_half = FRAUD_CALL_HALF_START
    r = rng_for(seed, "fraud-render")
    loc_idx = {loc.location_uuid: i for i, loc in enumerate(pop.locations)}
    records: list[tuple[int, dict]] = []
    labels: list[dict] = []
    for inc in incidents:
        rids, corrs, numbers = [], [], []
        for c in sorted(inc.calls, key=lambda c: c.start_ms):
            a = pop.agent(c.user_id)
            base = (bases or {}).get(a.agent_id) or user_fields(pop, a)
            li = loc_idx[a.location_uuid]
            ins, rec = render_call(c, base, a, li, pop.locations[li].main_number, ids, r)
            records.append((ins, rec))
            rids.append(rec["Report ID"])
            corrs.append(rec["Correlation ID"])
            numbers.append(c.far_number)
        labels.append(_label(inc, pop, rids, corrs, numbers))
    for inc in plan_lookalikes(pop, start, days, tz, authorised_intl):
        labels.append(_label(inc, pop, [], [], []))
    records.sort(key=lambda x: x[0])
    return FraudOutput(records, labels)


def _label(inc: Incident, pop: Population, rids, corrs, numbers) -> dict:
    return {
        "incident_id": inc.incident_id, "scenario": inc.scenario, "variant": inc.variant,
        "is_fraud": inc.variant != "lookalike", "expected_alert": inc.expected_alert,
        "entity_kind": inc.entity_kind, "entity": inc.entity, "start": inc.start_ms,
        "end": inc.end_ms, "user_ids": list(inc.user_ids),
        "user_uuids": [pop.agent(u).user_uuid for u in inc.user_ids],
        "numbers": list(dict.fromkeys(numbers)), "report_ids": rids, "correlation_ids": corrs,
        "n_calls": len(rids),
        "answered_calls": sum(1 for c in inc.calls if c.talk_ms),
        "talk_seconds": sum(c.talk_ms for c in inc.calls) / 1000,
        "signature": inc.signature,
    }  # fmt: skip


def write_labels(labels: list[dict], path, tz: str) -> None:
    """``truth/fraud_labels.parquet``: one row per incident and look-alike, times UTC,
    ``local_day`` of the start in the truth's zone."""
    import polars as pl

    ts = pl.Datetime("ms", "UTC")
    schema = {
        "incident_id": pl.String, "scenario": pl.String, "variant": pl.String,
        "is_fraud": pl.Boolean, "expected_alert": pl.Boolean, "entity_kind": pl.String,
        "entity": pl.String, "start": pl.Int64, "end": pl.Int64, "user_ids": pl.List(pl.String),
        "user_uuids": pl.List(pl.String), "numbers": pl.List(pl.String),
        "report_ids": pl.List(pl.String), "correlation_ids": pl.List(pl.String),
        "n_calls": pl.Int64, "answered_calls": pl.Int64, "talk_seconds": pl.Float64,
        "signature": pl.String,
    }  # fmt: skip
    df = pl.DataFrame(labels, schema=schema).with_columns(
        pl.col("start").cast(ts), pl.col("end").cast(ts)
    )
    df = df.with_columns(pl.col("start").dt.convert_time_zone(tz).dt.date().alias("local_day"))
    df.write_parquet(path)
