"""Synthetic Issabel 4 / Asterisk 16 contact center: ``queue_log`` + cdr-csv ``Master.csv``.

The generator simulates a bank's inbound contact center (queues ``ventas``, ``soporte``,
``tarjetas`` by default) and writes what the PBX would write, plus the ground truth the
pipeline must reproduce (the pipeline never reads the truth).

Files written
-------------
``out_dir/queue_log``
    Asterisk 16 flat queue log, ``epoch|callid|queue|agent|EVENT|data…``, lines in file
    (= time) order, the events of one second in causal order (a log-in before a pause that
    starts in its second, a pause end before a log-out, …), epoch in UTC. With
    ``rotate=True`` every finished day goes into a logrotate ``dateext`` file
    ``queue_log-YYYYMMDD`` (named after the rotation date, i.e. the next morning; the oldest
    one gzip-compressed) and the current day stays in ``queue_log``.
``out_dir/Master.csv``
    cdr_csv rows (Asterisk's default 18 columns, quoted like ``cdr_csv`` does, local times),
    one per call leg, written at hang-up time.
``truth_dir/visits.parquet``, ``agent_daily.parquet``, ``queue_daily.parquet``
    Ground truth (``truth_dir`` defaults to ``out_dir/../truth``).

What the simulation models (see the team's queue_log reference, outside this repository)
----------------------------------------------------------------------------------------
* A nightly Asterisk restart (``QUEUESTART`` then ``CONFIGRELOAD``), a logrotate ``logger
  reload`` (``CONFIGRELOAD``) and a few admin reloads a day. Uniqueid sequences restart at
  ``.0`` after every ``QUEUESTART``.
* Agents (Spanish names, device members ``SIP/1xxx``) on shifts: ``ADDMEMBER`` (callid
  ``MANAGER``, agent = interface) for every queue they serve, then ``UNPAUSEALL <name>`` and
  one ``UNPAUSE`` per queue in the same second; pauses ``PAUSEALL``/``PAUSE`` with a reason
  (Break, Almuerzo, Baño, Capacitación) and the matching ``UNPAUSEALL``/``UNPAUSE``; some
  lunches are a log-out/log-in; ``REMOVEMEMBER`` at the end of the shift (after the call in
  progress). Some agents serve two queues.
* Calls: channel creation (= callid epoch) a few seconds of IVR before ``DID`` +
  ``ENTERQUEUE``; per-queue FIFO; callers have a patience (with a share of very short
  abandons), a queue timeout, an exit key; members ring 1–10 s (``CONNECT
  holdtime|member uniqueid|ringtime``), sometimes ring 15 s without answer
  (``RINGNOANSWER`` 15000 ms; elapsed ms when the timeout hits while ringing), ``RINGCANCELED``
  + ``ABANDON`` when the caller hangs up while a member rings, ``RINGNOANSWER`` 0/1000 noise from
  busy members, ``COMPLETEAGENT``/``COMPLETECALLER``, ``BLINDTRANSFER``, ``ATTENDEDTRANSFER``
  (``BRIDGE`` form), ``EXITWITHTIMEOUT`` (part of them overflow into the next queue with the
  same callid), ``EXITWITHKEY``, ``EXITEMPTY`` when the last member of a queue logs out with
  callers waiting, and join-empty calls (a ``DID`` line without ``ENTERQUEUE``: stock Asterisk
  logs nothing when ``joinempty`` refuses a caller, but Issabel's dialplan writes the ``DID``
  line before ``Queue()``). Callers who abandoned often call back.
* Demand follows the staffing plan (like a WFM forecast) with day/hour noise; small groups
  get square-root-staffing slack so service levels are alike at every size; Saturdays and
  Sundays are shorter and quieter. Callers' numbers are Colombian (mobiles ``3xx``, landlines
  ``60x``, some empty or ``anonymous``, a pool of frequent callers); DIDs are per queue.
* The log ends while one or two calls are still waiting / talking (their truth outcome is
  ``open`` or ``answered`` with ``talk_seconds`` null); CDR rows of those calls are not written
  yet (cdr_csv writes at hang-up).

Ground truth (the pipeline must never read it)
----------------------------------------------
``visits.parquet``: one row per (callid, queue) visit, ``outcome`` in :data:`OUTCOMES`
(``other`` is never produced). ``wait_seconds`` = CONNECT holdtime (answered) or the exit
event's waittime; null for ``open`` and ``join_empty``. ``talk_seconds`` = calltime of the
terminal event, null while still talking. ``ring_no_answer_count`` counts every
``RINGNOANSWER`` line of the visit, the 0/1000 ms noise included (``ring_no_answer_noise``
counts the noise alone). ``transferred`` = ended by BLIND/ATTENDEDTRANSFER. ``caller_number``
and ``did`` are the strings as logged ("" when empty). ``local_day`` = date of queue entry in
``timezone``. Extra columns: ``channel_epoch``, ``connect_epoch``, ``end_epoch``,
``end_event``, ``exit_position``, ``ring_canceled``.
``queue_daily.parquet``: see :func:`queue_daily_from_visits` (join-empty visits are offered:
in the file they are a ``DID`` line with no ``ENTERQUEUE``).
``agent_daily.parquet``: per member name and local day: answered visits (by entry day), their
talk seconds (ended calls), logged-in seconds (``ADDMEMBER`` → ``REMOVEMEMBER``, lunch
log-outs excluded) and paused seconds (``PAUSEALL`` → ``UNPAUSEALL``); sessions and pauses
still open at the end of the log are counted up to its last line.
"""

from __future__ import annotations

import argparse
import bisect
import contextlib
import functools
import gzip
import heapq
import itertools
import json
import math
import os
import pickle
import random
import resource
import shutil
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass
from datetime import date, datetime, timedelta
from datetime import time as dtime
from pathlib import Path
from zoneinfo import ZoneInfo

import numpy as np
import polars as pl
import pyarrow.parquet as pq

__all__ = [
    "EVENT_DATA_FIELDS",
    "OUTCOMES",
    "GeneratedSite",
    "generate",
    "main",
    "queue_daily_from_visits",
]

# ---------------------------------------------------------------------------------------------
# Event vocabulary (Asterisk 16 layouts, reference §2)
# ---------------------------------------------------------------------------------------------

EV_QUEUESTART = 0
EV_CONFIGRELOAD = 1
EV_DID = 2
EV_ENTERQUEUE = 3
EV_CONNECT = 4
EV_COMPLETEAGENT = 5
EV_COMPLETECALLER = 6
EV_ABANDON = 7
EV_EXITWITHTIMEOUT = 8
EV_EXITWITHKEY = 9
EV_EXITEMPTY = 10
EV_BLINDTRANSFER = 11
EV_ATTENDEDTRANSFER = 12
EV_RINGNOANSWER = 13
EV_RINGCANCELED = 14
EV_ADDMEMBER = 15
EV_REMOVEMEMBER = 16
EV_PAUSEALL = 17
EV_PAUSE = 18
EV_UNPAUSEALL = 19
EV_UNPAUSE = 20

EVENT_NAMES = {
    EV_QUEUESTART: "QUEUESTART",
    EV_CONFIGRELOAD: "CONFIGRELOAD",
    EV_DID: "DID",
    EV_ENTERQUEUE: "ENTERQUEUE",
    EV_CONNECT: "CONNECT",
    EV_COMPLETEAGENT: "COMPLETEAGENT",
    EV_COMPLETECALLER: "COMPLETECALLER",
    EV_ABANDON: "ABANDON",
    EV_EXITWITHTIMEOUT: "EXITWITHTIMEOUT",
    EV_EXITWITHKEY: "EXITWITHKEY",
    EV_EXITEMPTY: "EXITEMPTY",
    EV_BLINDTRANSFER: "BLINDTRANSFER",
    EV_ATTENDEDTRANSFER: "ATTENDEDTRANSFER",
    EV_RINGNOANSWER: "RINGNOANSWER",
    EV_RINGCANCELED: "RINGCANCELED",
    EV_ADDMEMBER: "ADDMEMBER",
    EV_REMOVEMEMBER: "REMOVEMEMBER",
    EV_PAUSEALL: "PAUSEALL",
    EV_PAUSE: "PAUSE",
    EV_UNPAUSEALL: "UNPAUSEALL",
    EV_UNPAUSE: "UNPAUSE",
}

#: Number of data fields after the event name for every event this generator writes
#: (a line has ``5 + n`` ``|``-separated fields; events without data end in ``|``).
EVENT_DATA_FIELDS: dict[str, int] = {
    "QUEUESTART": 1,
    "CONFIGRELOAD": 1,
    "DID": 1,
    "ENTERQUEUE": 3,  # url|callerid|position
    "CONNECT": 3,  # holdtime|member uniqueid|ringtime
    "COMPLETEAGENT": 3,  # holdtime|calltime|origposition
    "COMPLETECALLER": 3,
    "ABANDON": 3,  # position|origposition|waittime
    "EXITWITHTIMEOUT": 3,
    "EXITEMPTY": 3,
    "EXITWITHKEY": 4,  # key|position|origposition|waittime
    "BLINDTRANSFER": 5,  # exten|context|holdtime|calltime|origposition
    "ATTENDEDTRANSFER": 5,  # BRIDGE|bridge uniqueid|holdtime|calltime|origposition
    "RINGNOANSWER": 1,  # ms
    "RINGCANCELED": 1,  # ms
    "ADDMEMBER": 1,
    "REMOVEMEMBER": 1,
    "PAUSEALL": 1,  # reason
    "PAUSE": 1,
    "UNPAUSEALL": 1,
    "UNPAUSE": 1,
}

OUTCOMES = (
    "answered",
    "abandoned",
    "timeout",
    "exit_key",
    "exit_empty",
    "join_empty",
    "open",
    "other",
)
O_ANSWERED, O_ABANDONED, O_TIMEOUT, O_EXITKEY, O_EXITEMPTY, O_JOINEMPTY, O_OPEN, O_OTHER = range(8)

PAUSE_REASONS = ("Break", "Almuerzo", "Baño", "Capacitación")
R_BREAK, R_LUNCH, R_BANO, R_TRAINING = range(4)

# agent-event kinds produced by the simulation (expanded to per-queue lines when formatting)
G_LOGIN, G_LOGOFF, G_PAUSE, G_UNPAUSE = range(4)

# ordering phases of events sharing one second (file order is the only order inside a second),
# in causal order, so that a reader replaying the file in line order sees what the truth counts:
# * callers leave the queue (exit events, CONNECT) before newcomers' ENTERQUEUE of the same
#   second, so the ENTERQUEUE position always equals 1 + the callers still waiting in file order;
# * a ring that ends (RINGNOANSWER / RINGCANCELED) frees the member, who may pause or log out
#   in that second: call ends come before the member's pause / log-out;
# * a pause that ends (UNPAUSEALL) lets the member pause again or log out in the same second;
# * EXITEMPTY is caused by the REMOVEMEMBER of the queue's last member: it follows the log-outs;
# * a log-in (ADDMEMBER + its UNPAUSEALL/UNPAUSE) comes before a pause that starts in the same
#   second (back from a log-out lunch straight into a pause: the log-in's UNPAUSE lines must
#   not end that pause), and after the log-outs (a member replacing the last one does not
#   prevent the EXITEMPTY the simulation decided); members logged in at ENTERQUEUE count for
#   joinempty.
(
    PH_SYSTEM,
    PH_CALLEND,
    PH_CONNECT,
    PH_UNPAUSE,
    PH_LOGOFF,
    PH_EXITEMPTY,
    PH_LOGIN,
    PH_PAUSE,
    PH_ENTER,
    PH_NOISE,
) = range(10)

# attempt kinds
AT_CONNECT, AT_RNA, AT_CANCEL, AT_NOISE = range(4)

_EXIT_EVENT = {
    O_ABANDONED: EV_ABANDON,
    O_TIMEOUT: EV_EXITWITHTIMEOUT,
    O_EXITKEY: EV_EXITWITHKEY,
    O_EXITEMPTY: EV_EXITEMPTY,
}
_END_EVENT = (EV_COMPLETECALLER, EV_COMPLETEAGENT, EV_BLINDTRANSFER, EV_ATTENDEDTRANSFER)

SHORT_ABANDON_S = 5
P_IMPATIENT = 0.10  # callers who hang up within 1-8 s if not answered at once
PATIENCE_MEDIAN_S = 140.0  # the others: lognormal patience
SERVICE_LEVEL_S = 20
DEFAULT_START = date(2025, 3, 3)  # a Monday
RNA_RING_S = 15  # member ring timeout
RETRY_S = 5  # queue "retry" between ring attempts
CUT_WINDOW_S = 3600  # the log's last day stops within this of its last call's end
INF = 1 << 40

# ---------------------------------------------------------------------------------------------
# Site description
# ---------------------------------------------------------------------------------------------

# fmt: off
_FIRST = (
    "Andrés", "Camila", "Juan", "Valentina", "Carlos", "Daniela", "Santiago", "Laura", "Felipe",
    "María", "Sebastián", "Natalia", "Diego", "Paola", "Julián", "Carolina", "Mateo", "Lorena",
    "Alejandro", "Diana", "Jorge", "Angélica", "Nicolás", "Sandra", "Óscar", "Marcela", "Javier",
    "Luisa", "Hernán", "Tatiana", "Mauricio", "Yuliana", "Cristian", "Viviana", "Fabián",
    "Adriana", "Ricardo", "Juliana", "Wilson", "Liliana", "Esteban", "Catalina", "Iván", "Mónica",
    "Gustavo", "Johana", "Édgar", "Gloria", "Camilo", "Ximena", "David", "Paula", "Manuel",
    "Alejandra", "Samuel", "Isabel", "Fernando", "Claudia", "Rubén", "Yesenia",
)
_LAST = (
    "Rodríguez", "Gómez", "González", "Martínez", "García", "López", "Hernández", "Sánchez",
    "Ramírez", "Pérez", "Díaz", "Muñoz", "Rojas", "Moreno", "Jiménez", "Vargas", "Castro",
    "Gutiérrez", "Torres", "Ortiz", "Suárez", "Ruiz", "Álvarez", "Romero", "Herrera", "Valencia",
    "Quintero", "Restrepo", "Cárdenas", "Salazar", "Mejía", "Ospina", "Zapata", "Cardona",
    "Osorio", "Arango", "Giraldo", "Londoño", "Pineda", "Bermúdez", "Peña", "Cortés", "Rincón",
    "Acosta", "Parra", "Guerrero", "Mendoza", "Cifuentes", "Beltrán", "Navarro",
)

# per-queue behaviour templates (cycled over the configured queue names)
_QUEUE_TEMPLATES = (
    # talk median s, talk sigma, wrapuptime s, queue timeout s, traffic share
    {"talk": 230.0, "sigma": 0.62, "wrap": 10, "timeout": 300, "share": 0.36},
    {"talk": 270.0, "sigma": 0.70, "wrap": 15, "timeout": 480, "share": 0.40},
    {"talk": 170.0, "sigma": 0.60, "wrap": 5, "timeout": 600, "share": 0.24},
)

_MOBILE_PREFIXES = np.array(
    [300, 301, 302, 304, 305, 310, 311, 312, 313, 314, 315, 316, 317, 318, 319, 320, 321, 322,
     323, 324, 350, 351], dtype=np.int64)
_LANDLINE_PREFIXES = np.array([601, 601, 601, 604, 604, 602, 605, 607, 606, 608], dtype=np.int64)
# fmt: on

# internal destinations of blind transfers: back office extensions and a survey IVR
_XFER_TARGETS = tuple(f"{7000 + i}" for i in range(1, 13)) + ("8500", "8500", "8500")
_XFER_CONTEXT = "from-internal"
_TRUNKS = ("troncal-movil", "troncal-fija")
_AMAFLAGS = "DOCUMENTATION"

# caller-number codes
CALLER_EMPTY = 0
CALLER_ANON = 1


@dataclass(frozen=True)
class _SiteSpec:
    seed: int
    queues: tuple[str, ...]
    tz: str
    start: date
    cph: float
    names: tuple[str, ...]
    exts: tuple[int, ...]
    agent_queues: tuple[tuple[int, ...], ...]
    home_shift: tuple[int, ...]
    p_rna: tuple[float, ...]
    dids: tuple[tuple[str, ...], ...]
    frequent: tuple[int, ...]


def _agent_names(n: int, rng: np.random.Generator) -> list[str]:
    combos = [(f, last) for f in _FIRST for last in _LAST]
    order = rng.permutation(len(combos))
    names: list[str] = []
    seen: set[str] = set()
    i = 0
    while len(names) < n:
        f, last = combos[order[i % len(combos)]]
        if i >= len(combos):  # more agents than first+last pairs: add a second surname
            last = f"{last} {_LAST[(i // len(combos) + int(order[i % len(combos)])) % len(_LAST)]}"
        name = f"{f} {last}"
        i += 1
        if name not in seen:
            seen.add(name)
            names.append(name)
    return names


def _make_site(
    seed: int, agents: int, queues: Sequence[str], tz: str, start: date, cph: float
) -> _SiteSpec:
    if agents < 1:
        raise ValueError("agents must be >= 1")
    if not queues:
        raise ValueError("at least one queue is needed")
    if len(set(queues)) != len(queues) or any(("|" in q or not q) for q in queues):
        raise ValueError(f"queue names must be unique, non-empty and contain no '|': {queues!r}")
    ZoneInfo(tz)  # fail fast on a bad zone
    rng = np.random.default_rng([seed, 1])
    nq = len(queues)
    shares = np.array([_QUEUE_TEMPLATES[i % 3]["share"] for i in range(nq)])
    shares = shares / shares.sum()
    # primary queue by share, round robin so that small sites still cover every queue
    counts = np.maximum(1, np.round(shares * agents)).astype(int) if agents >= nq else None
    prim: list[int] = []
    if counts is None:
        prim = [i % nq for i in range(agents)]
    else:
        while counts.sum() > agents:
            counts[int(np.argmax(counts))] -= 1
        while counts.sum() < agents:
            counts[int(np.argmin(counts / shares))] += 1
        for q, c in enumerate(counts):
            prim += [q] * int(c)
        prim = [prim[i] for i in rng.permutation(agents)]
    agent_queues = []
    for p in prim:
        if nq > 1 and rng.random() < 0.2:  # multi-skilled agent
            other = int((p + 1 + rng.integers(0, nq - 1)) % nq)
            agent_queues.append(tuple(sorted((p, other))))
        else:
            agent_queues.append((p,))
    names = _agent_names(agents, rng)
    exts = tuple(1001 + i for i in range(agents))
    home = tuple(int(x) for x in (np.arange(agents) + rng.integers(0, 3)) % 3)
    p_rna = tuple(float(x) for x in np.where(rng.random(agents) < 0.15, 0.09, 0.025))
    dids = []
    for qi in range(nq):
        base = 6017460000 + 100 * (qi + 1)
        dids.append(
            (str(base), str(base), str(base + 1), f"018000{(915100 + qi * 11) % 1000000:06d}")
        )
    freq = _numbers(rng, 1500)
    return _SiteSpec(
        seed=seed,
        queues=tuple(queues),
        tz=tz,
        start=start,
        cph=cph,
        names=tuple(names),
        exts=exts,
        agent_queues=tuple(agent_queues),
        home_shift=home,
        p_rna=p_rna,
        dids=tuple(dids),
        frequent=tuple(int(x) for x in freq),
    )


def _numbers(rng: np.random.Generator, n: int) -> np.ndarray:
    """Colombian caller numbers as int64 (mobiles 3xx xxxxxxx, landlines 60x xxxxxxx)."""
    mobile = rng.random(n) < 0.8
    pre = np.where(mobile, rng.choice(_MOBILE_PREFIXES, n), rng.choice(_LANDLINE_PREFIXES, n))
    sub = np.where(mobile, rng.integers(0, 10_000_000, n), rng.integers(2_000_000, 9_000_000, n))
    return pre * 10_000_000 + sub


# ---------------------------------------------------------------------------------------------
# One simulated day
# ---------------------------------------------------------------------------------------------


@dataclass
class _DaySim:
    k: int
    day: date
    midnight: int  # UTC epoch of local midnight
    system: np.ndarray  # (n, 2) int64: epoch, event code
    # calls
    c_create: np.ndarray
    c_caller: np.ndarray
    c_did: np.ndarray
    c_trunk: np.ndarray
    c_seq: np.ndarray
    c_chan: np.ndarray
    # visits (int64 columns)
    v: dict[str, np.ndarray]
    # ring attempts
    at: dict[str, np.ndarray]
    # agent events
    g: dict[str, np.ndarray]
    lines: int = 0


def _local_midnight(d: date, tz: ZoneInfo) -> int:
    noon = datetime.combine(d, dtime(12), tz).timestamp()
    return int(noon) - 43200


def _day_profile(d: date) -> tuple[int, int, float, float, tuple[tuple[int, int], ...]]:
    """(open, close, probability an agent works, volume factor, shift templates) in local s."""
    h = 3600
    wd = d.weekday()
    if wd < 5:
        shifts = ((7 * h, 15 * h), (10 * h, 18 * h), (13 * h, 21 * h))
        return 7 * h, 21 * h, 0.93, 1.12 if wd == 0 else 1.0, shifts
    if wd == 5:
        return 8 * h, 18 * h, 0.6, 0.6, ((8 * h, 14 * h), (12 * h, 18 * h), (8 * h, 14 * h))
    return 9 * h, 15 * h, 0.3, 0.35, ((9 * h, 15 * h),) * 3


def _simulate_day(spec: _SiteSpec, k: int) -> _DaySim:  # noqa: C901 - one tight loop
    tz = ZoneInfo(spec.tz)
    d = spec.start + timedelta(days=k)
    M = _local_midnight(d, tz)
    rng = np.random.default_rng([spec.seed, 2, k])
    pyr = random.Random(spec.seed * 1_000_003 + k * 7919 + 17)
    nq = len(spec.queues)
    A = len(spec.names)
    open_s, close_s, work_p, vol, shifts = _day_profile(d)
    qt = [_QUEUE_TEMPLATES[i % 3] for i in range(nq)]
    wrap = [int(t["wrap"]) for t in qt]
    qtimeout = [int(t["timeout"]) for t in qt]

    # ---- system lines: logrotate reload (not on the first day), nightly restart, admin reloads
    system: list[tuple[int, int]] = []
    rot = M + int(rng.integers(3 * 3600 + 300, 3 * 3600 + 2400))
    restart = M + int(rng.integers(4 * 3600, 4 * 3600 + 600))
    if k > 0:
        system.append((rot, EV_CONFIGRELOAD))
    system.append((restart, EV_QUEUESTART))
    system.append((restart + 1, EV_CONFIGRELOAD))
    for _ in range(int(rng.integers(0, 4))):
        system.append((M + int(rng.integers(open_s + 1800, close_s - 600)), EV_CONFIGRELOAD))
    system.sort()

    # ---- agent schedules
    working = rng.random(A) < work_p
    if not working.any():
        working[int(rng.integers(0, A))] = True
    tmpl_pick = np.where(rng.random(A) < 0.1, rng.integers(0, 3, A), np.array(spec.home_shift))
    jit_in = np.where(rng.random(A) < 0.1, rng.integers(240, 900, A), rng.integers(-360, 240, A))
    jit_out = rng.integers(-150, 200, A)  # some leave a little early, most a little late
    a_start = [0] * A
    a_end = [0] * A
    a_pl: list[list[tuple[int, int, int, bool]]] = [[] for _ in range(A)]
    sched_s = np.zeros(A, dtype=np.int64)
    sched_e = np.zeros(A, dtype=np.int64)
    for a in range(A):
        if not working[a]:
            continue
        s0, e0 = shifts[int(tmpl_pick[a])]
        sched_s[a], sched_e[a] = s0, e0
        st = M + s0 + int(jit_in[a])
        en = M + e0 + int(jit_out[a])
        a_start[a], a_end[a] = st, en
        L = en - st
        pl_: list[tuple[int, int, int, bool]] = []
        pl_.append(
            (st + int(L * 0.25) + pyr.randint(-1200, 1200), pyr.randint(600, 1080), R_BREAK, False)
        )
        if L >= 6 * 3600:
            pl_.append(
                (
                    st + int(L * 0.5) + pyr.randint(-1800, 1800),
                    pyr.randint(2400, 3600),
                    R_LUNCH,
                    pyr.random() < 0.15,
                )
            )
            pl_.append(
                (
                    st + int(L * 0.78) + pyr.randint(-1200, 1200),
                    pyr.randint(600, 1080),
                    R_BREAK,
                    False,
                )
            )
        for _ in range(min(3, int(pyr.expovariate(1 / 1.2)))):
            pl_.append(
                (st + pyr.randint(1800, max(1801, L - 1800)), pyr.randint(180, 480), R_BANO, False)
            )
        if pyr.random() < 0.08:
            pl_.append(
                (
                    st + pyr.randint(1800, max(1801, L - 3600)),
                    pyr.randint(1800, 3600),
                    R_TRAINING,
                    False,
                )
            )
        pl_.sort()
        a_pl[a] = [p for p in pl_ if p[0] < en - 600]

    # ---- arrivals: rate follows the planned staffing of each queue, with noise
    bin_s = 300
    nb = (close_s - open_s) // bin_s
    mids = open_s + bin_s * np.arange(nb) + bin_s // 2
    staffed = np.zeros((nq, nb))
    for a in np.flatnonzero(working):
        on = (mids >= sched_s[a]) & (mids < sched_e[a])
        qs = spec.agent_queues[a]
        for q in qs:
            staffed[q] += on / len(qs)
    hours = mids / 3600.0
    wiggle = (
        1.0
        + 0.12 * np.sin((hours - 8.0) / 4.0 * math.pi)
        + 0.08 * np.sin((hours - 7.0) / 1.5 * math.pi)
    )
    day_noise = float(rng.lognormal(0.0, 0.08))
    hour_noise = rng.lognormal(0.0, 0.15, size=(nq, (nb * bin_s) // 3600 + 1))
    # demand follows the staffing plan, like a WFM forecast: small groups are planned with more
    # slack (square-root staffing), so every site size gets a similar service level. A small
    # floor brings callers to unstaffed queues too (they find the queue empty: join-empty).
    n_eff = staffed + 0.25
    slack = np.clip((1.0 - 0.9 / np.sqrt(n_eff)) / (1.0 - 0.9 / math.sqrt(40.0)), 0.3, 1.0)
    lam = n_eff * slack * (spec.cph / 3600.0) * vol * day_noise * wiggle
    lam = lam * hour_noise[:, (np.arange(nb) * bin_s) // 3600]
    counts = rng.poisson(lam * bin_s)
    qs_arr = np.repeat(np.repeat(np.arange(nq), nb), counts.ravel())
    bins = np.tile(np.arange(nb), nq)
    b_arr = np.repeat(bins, counts.ravel())
    # channel creation (start of the IVR) inside the opening hours; ENTERQUEUE after the IVR
    create = M + open_s + b_arr * bin_s + rng.integers(0, bin_s, b_arr.size)
    n = create.size
    ivr = np.minimum(2 + rng.gamma(2.0, 6.0, n).astype(np.int64), 95)
    enter = create + ivr
    order = np.lexsort((qs_arr, enter))
    create, ivr, enter, qs_arr = create[order], ivr[order], enter[order], qs_arr[order]
    pat, keyt, key, talk, rt, endtype, xt = _visit_draws(rng, n, qs_arr, qt)
    freq = np.array(spec.frequent, dtype=np.int64)
    caller = _numbers(rng, n)
    u = rng.random(n)
    caller = np.where(u < 0.10, freq[rng.integers(0, freq.size, n)], caller)
    caller = np.where(u > 0.985, CALLER_EMPTY, caller)
    caller = np.where((u > 0.975) & (u <= 0.985), CALLER_ANON, caller)
    did_i = rng.integers(0, 4, n)
    did_i = np.where(rng.random(n) < 0.01, -1, did_i)  # a few calls arrive without FROM_DID
    trunk = (caller // 1_000_000_000 != 3).astype(np.int64)  # landlines on the fixed trunk
    pre = list(
        zip(
            enter.tolist(),
            range(n),
            qs_arr.tolist(),
            [-1] * n,
            caller.tolist(),
            did_i.tolist(),
            ivr.tolist(),
            pat.tolist(),
            keyt.tolist(),
            key.tolist(),
            talk.tolist(),
            rt.tolist(),
            endtype.tolist(),
            xt.tolist(),
            trunk.tolist(),
            strict=True,
        )
    )
    del enter, create, ivr, qs_arr, pat, keyt, key, talk, rt, endtype, xt, caller, did_i, trunk

    # ---- state
    a_q = spec.agent_queues
    p_rna = spec.p_rna
    a_free = [INF] * A
    a_ver = [0] * A
    a_pi = [0] * A
    a_np = [INF] * A
    a_lc = [-1] * A
    a_le = [-1] * A
    a_on = [False] * A
    heaps: list[list[tuple[int, int, int]]] = [[] for _ in range(nq)]
    members: list[list[int]] = [[] for _ in range(nq)]
    lastoff = [-1] * nq
    a_off = [INF] * A
    g_t: list[int] = []
    g_a: list[int] = []
    g_k: list[int] = []
    g_r: list[int] = []
    hpush = heapq.heappush
    hpop = heapq.heappop
    hreplace = heapq.heapreplace

    for a in range(A):
        if not working[a]:
            continue
        st = a_start[a]
        a_free[a] = st
        a_on[a] = True
        a_np[a] = a_pl[a][0][0] if a_pl[a] else INF
        g_t.append(st)
        g_a.append(a)
        g_k.append(G_LOGIN)
        g_r.append(-1)
        for q in a_q[a]:
            hpush(heaps[q], (st, a, 0))
            members[q].append(a)

    def set_free(a: int, f: int, top_of: int = -1) -> None:
        """New availability of ``a``; ``top_of`` = a queue whose heap top is ``a`` right now."""
        a_free[a] = f
        v = a_ver[a] + 1
        a_ver[a] = v
        e = (f, a, v)
        for qq in a_q[a]:
            if qq == top_of:
                hreplace(heaps[qq], e)
            else:
                hpush(heaps[qq], e)

    def start_pause(a: int, top_of: int = -1) -> None:
        pls = a_pl[a]
        i = a_pi[a]
        planned, dur, reason, logoff = pls[i]
        a_pi[a] = i + 1
        a_np[a] = pls[i + 1][0] if i + 1 < len(pls) else INF
        f = a_free[a]
        st = planned if planned > f else f
        if st >= a_end[a] - 300:
            a_np[a] = INF
            return
        if logoff:  # lunch as a log-out / log-in
            g_t.extend((st, st + dur))
            g_a.extend((a, a))
            g_k.extend((G_LOGOFF, G_LOGIN))
            g_r.extend((reason, reason))
        else:
            g_t.extend((st, st + dur))
            g_a.extend((a, a))
            g_k.extend((G_PAUSE, G_UNPAUSE))
            g_r.extend((reason, reason))
        set_free(a, st + dur, top_of)

    def logoff(a: int) -> None:
        e = a_end[a]
        f = a_free[a]
        off = e if f < e else f + pyr.randint(2, 45)
        g_t.append(off)
        g_a.append(a)
        g_k.append(G_LOGOFF)
        g_r.append(-1)
        a_ver[a] += 1
        a_on[a] = False
        a_off[a] = off
        for qq in a_q[a]:
            if off > lastoff[qq]:
                lastoff[qq] = off

    def pick(q: int, t: int) -> tuple[int, int]:
        h = heaps[q]
        while h:
            f, a, v = h[0]
            if v != a_ver[a]:
                hpop(h)
                continue
            s = f if f > t else t
            if a_np[a] <= s:
                start_pause(a, q)
                continue
            if a_end[a] <= s:
                hpop(h)
                logoff(a)
                continue
            return a, s
        return -1, 0

    # membership clock: who is logged in when a caller arrives (joinempty / leavewhenempty)
    shift_starts = sorted((a_start[a], a) for a in range(A) if working[a])
    shift_ends = sorted((a_end[a], a) for a in range(A) if working[a])
    clock = [0, 0]  # next index in shift_starts / shift_ends
    n_sched = [0] * nq  # members inside their shift
    finishing: list[list[int]] = [[] for _ in range(nq)]  # log-out times of members past shift end

    def advance(t: int) -> None:
        """Apply shift starts/ends up to ``t``. Callers arrive in time order, so a member whose
        shift ended can no longer be given a call: its pauses and log-out are final now."""
        i0, i1 = clock
        while i0 < len(shift_starts) and shift_starts[i0][0] <= t:
            for qq in a_q[shift_starts[i0][1]]:
                n_sched[qq] += 1
            i0 += 1
        while i1 < len(shift_ends) and shift_ends[i1][0] <= t:
            a = shift_ends[i1][1]
            i1 += 1
            if a_on[a]:
                while a_np[a] < a_end[a]:
                    start_pause(a)
                logoff(a)
            for qq in a_q[a]:
                n_sched[qq] -= 1
                if a_off[a] > t:
                    finishing[qq].append(a_off[a])
        clock[0], clock[1] = i0, i1

    # outputs
    calls: list[tuple[int, int, int, int]] = []  # create, caller, did, trunk
    V: list[tuple] = []
    AT: list[
        tuple[int, int, int, int, int, int]
    ] = []  # visit, agent, ring start, log time, kind, ms
    at_add = AT.append
    inq: list[list[int]] = [[] for _ in range(nq)]
    dyn: list[tuple] = []
    overflowed: set[int] = set()
    dyn_ord = n
    close_t = M + close_s
    i = 0
    rand = pyr.random
    randint = pyr.randint
    p_noise = 0.08
    n_did = len(spec.dids[0])

    def gap_start(q: int, a: int, t: int) -> int:
        """When the queue became empty before member ``a`` logs in (INF if it never did)."""
        last = -1
        for b in members[q]:
            if b == a or a_start[b] >= a_start[a]:
                continue
            if a_on[b]:  # still logged in, and busy until after ``a`` logs in
                return INF
            if a_off[b] > last:
                last = a_off[b]
        return last if last > t else t

    def ring_ms(secs: int) -> int:
        """Elapsed ring time in ms (second-resolution clock around it); never exactly 0 or
        1000, the values busy/unavailable members produce."""
        ms = max(1, secs * 1000 + randint(-499, 499))
        return ms + 1 if ms == 1000 else ms

    def stop_ringing(vi: int, a: int, q: int, r: int, dl: int, kind: int) -> None:
        """The caller leaves at ``dl`` (gives up or times out) while member ``a`` rings since
        ``r``: the ring ends with them and the member is free again."""
        if kind == O_ABANDONED:
            at_add((vi, a, r, dl, AT_CANCEL, ring_ms(dl - r)))
        elif kind == O_TIMEOUT:
            at_add((vi, a, r, dl, AT_RNA, ring_ms(dl - r)))
        set_free(a, dl, q)

    while True:
        if dyn and (i >= n or dyn[0] < pre[i]):
            item = hpop(dyn)
        elif i < n:
            item = pre[i]
            i += 1
        else:
            break
        (t_in, _o, q, call, cnum, did, ivr_s, pat_s, key_s, key_d, talk_s, rt_s, et, xtg, trk) = (
            item
        )
        vi = len(V)
        if call < 0:
            call = len(calls)
            # FROM_DID belongs to the call (an overflow keeps the DID it came in on)
            calls.append((t_in - ivr_s, cnum, q * n_did + did if did >= 0 else -1, trk))
        L = inq[q]
        j = bisect.bisect_right(L, t_in)
        if j:
            del L[:j]
        pos = len(L) + 1
        advance(t_in)
        fin = finishing[q]
        if fin:
            fin[:] = [x for x in fin if x > t_in]
        if n_sched[q] == 0 and not fin:
            # joinempty: no member logged in, Queue() refuses the caller; only Issabel's DID
            # line (written by the dialplan before Queue()) is logged
            V.append((call, q, t_in, -1, O_JOINEMPTY, -1, -1, -1, -1, -1, t_in, -1, -1, -1, -1))
            continue
        # leavewhenempty: when the members still logged in are all past their shift end, the
        # queue empties once the last of them logs out
        empty_at = INF if n_sched[q] else max(fin)
        a, s = pick(q, t_in)
        dl_ab = t_in + pat_s
        dl = dl_ab
        kind = O_ABANDONED
        if key_s > 0 and t_in + key_s < dl:
            dl = t_in + key_s
            kind = O_EXITKEY
        if t_in + qtimeout[q] < dl:
            dl = t_in + qtimeout[q]
            kind = O_TIMEOUT
        t = t_in
        first = True
        res = None
        while True:
            if not first:
                a, s = pick(q, t)
            first = False
            if a < 0:
                xe = lastoff[q] if lastoff[q] > t else t
                res = (kind, dl) if dl <= xe else (O_EXITEMPTY, xe)
                break
            if s >= empty_at and empty_at < dl:
                res = (O_EXITEMPTY, empty_at)
                break
            if a_start[a] > t:  # only a member not yet logged in can take the caller
                gap = gap_start(q, a, t)
                if gap < dl and gap < s:
                    res = (O_EXITEMPTY, gap)
                    break
            if s >= dl:
                res = (kind, dl)
                break
            r = s
            if rand() < p_rna[a]:
                re_ = r + RNA_RING_S
                if dl < re_:
                    stop_ringing(vi, a, q, r, dl, kind)
                    res = (kind, dl)
                    break
                at_add((vi, a, r, re_, AT_RNA, 15000 + (randint(0, 20) if rand() < 0.3 else 0)))
                set_free(a, re_, q)
                t = re_ + RETRY_S
                continue
            c = r + rt_s
            if dl < c:
                stop_ringing(vi, a, q, r, dl, kind)
                res = (kind, dl)
                break
            # connected
            end = c + talk_s
            set_free(a, end + wrap[q], q)
            a_lc[a] = c
            a_le[a] = end
            at_add((vi, a, r, c, AT_CONNECT, 0))
            if rand() < p_noise:
                mem = members[q]
                b = mem[randint(0, len(mem) - 1)]
                if b != a and a_on[b] and a_lc[b] <= r < a_le[b]:
                    at_add((vi, b, r, r, AT_NOISE, 0 if rand() < 0.7 else 1000))
            endev = _END_EVENT[et]
            V.append(
                (call, q, t_in, pos, O_ANSWERED, endev, a, r, c, rt_s, end, -1, -1, xtg, c - t_in)
            )
            res = None
            j = bisect.bisect_right(L, c)
            L.insert(j, c)
            break
        if res is None:
            continue
        kind, xe = res
        xpos = len(L) - bisect.bisect_right(L, xe) + 1
        endev = _EXIT_EVENT[kind]
        V.append(
            (
                call,
                q,
                t_in,
                pos,
                kind,
                endev,
                -1,
                -1,
                -1,
                -1,
                xe,
                xpos,
                key_d if kind == O_EXITKEY else -1,
                -1,
                xe - t_in,
            )
        )
        L.insert(bisect.bisect_right(L, xe), xe)
        # what the caller does next
        if kind == O_TIMEOUT and nq > 1 and call not in overflowed and rand() < 0.6:
            overflowed.add(call)
            q2 = (q + 1) % nq
            dyn_ord += 1
            hpush(dyn, (xe + 1, dyn_ord, q2, call, cnum, did, 0) + _dyn_draws(pyr, qt[q2]) + (trk,))
        elif (
            kind in (O_ABANDONED, O_TIMEOUT, O_EXITEMPTY)
            and xe - t_in > SHORT_ABANDON_S
            and cnum > CALLER_ANON
            and rand() < 0.25
        ):
            back = xe + randint(45, 1500)
            ivr2 = 3 + randint(0, 25)
            if back < close_t - 60:
                dyn_ord += 1
                hpush(
                    dyn,
                    (back + ivr2, dyn_ord, q, -1, cnum, did, ivr2)
                    + _dyn_draws(pyr, qt[q])
                    + (trk,),
                )

    # ---- end of day: pending pauses and log-outs of everybody still logged in
    for a in range(A):
        if not a_on[a]:
            continue
        while a_np[a] < a_end[a]:
            start_pause(a)
        logoff(a)

    # ---- arrays
    va = np.fromiter(itertools.chain.from_iterable(V), dtype=np.int64, count=15 * len(V)).reshape(
        -1, 15
    )
    cols = (
        "call",
        "q",
        "enter",
        "pos",
        "out",
        "endev",
        "agent",
        "ring",
        "connect",
        "ringtime",
        "end",
        "xpos",
        "key",
        "xt",
        "hold",
    )
    v = {c: np.ascontiguousarray(va[:, i]) for i, c in enumerate(cols)}
    ca = np.array(calls, dtype=np.int64) if calls else np.zeros((0, 4), dtype=np.int64)
    ata = np.fromiter(itertools.chain.from_iterable(AT), dtype=np.int64, count=6 * len(AT)).reshape(
        -1, 6
    )
    at = {
        c: np.ascontiguousarray(ata[:, i])
        for i, c in enumerate(("visit", "agent", "ring", "t", "kind", "ms"))
    }
    g = {
        "t": np.array(g_t, dtype=np.int64),
        "agent": np.array(g_a, dtype=np.int64),
        "kind": np.array(g_k, dtype=np.int64),
        "reason": np.array(g_r, dtype=np.int64),
    }

    # ---- uniqueid sequence and channel numbers: restart at 0 after the QUEUESTART
    c_create = ca[:, 0]
    xfer_mask = (v["endev"] == EV_BLINDTRANSFER) | (v["endev"] == EV_ATTENDEDTRANSFER)
    ring_mask = at["kind"] != AT_NOISE
    ev_t = np.concatenate([c_create, at["ring"][ring_mask], v["end"][xfer_mask] - 1])
    ev_src = np.concatenate(
        [
            np.zeros(c_create.size, np.int64),
            np.ones(int(ring_mask.sum()), np.int64),
            np.full(int(xfer_mask.sum()), 2, np.int64),
        ]
    )
    order = np.lexsort((ev_src, ev_t))
    extra = rng.poisson(0.7, ev_t.size)
    inc = 1 + extra
    seq_sorted = np.cumsum(inc) - inc
    chan_inc = 1 + extra // 2
    chan_sorted = np.cumsum(chan_inc) - chan_inc
    seq = np.empty_like(seq_sorted)
    seq[order] = seq_sorted
    chan = np.empty_like(chan_sorted)
    chan[order] = chan_sorted
    nc = c_create.size
    nr = int(ring_mask.sum())
    c_seq, c_chan = seq[:nc], chan[:nc]
    at_seq = np.full(at["kind"].size, -1, np.int64)
    at_chan = np.full(at["kind"].size, -1, np.int64)
    at_seq[ring_mask] = seq[nc : nc + nr]
    at_chan[ring_mask] = chan[nc : nc + nr]
    at["seq"] = at_seq
    at["chan"] = at_chan
    x_chan = np.full(v["end"].size, -1, np.int64)
    x_chan[xfer_mask] = chan[nc + nr :]
    v["xchan"] = x_chan
    # transfer extras: a bridge id for attended transfers, post-transfer talk for the CDR leg
    v["xtalk"] = np.where(xfer_mask, rng.integers(20, 400, v["end"].size), -1)
    v["bridge"] = rng.integers(0, 1 << 62, v["end"].size, dtype=np.int64)
    sim = _DaySim(
        k=k,
        day=d,
        midnight=M,
        system=np.array(system, dtype=np.int64).reshape(-1, 2),
        c_create=c_create,
        c_caller=ca[:, 1],
        c_did=ca[:, 2],
        c_trunk=ca[:, 3],
        c_seq=c_seq,
        c_chan=c_chan,
        v=v,
        at=at,
        g=g,
    )
    sim.lines = _count_lines(sim, spec)
    return sim


def _visit_draws(
    rng: np.random.Generator, n: int, qs: np.ndarray, qt: list[dict]
) -> tuple[np.ndarray, ...]:
    impatient = rng.random(n) < P_IMPATIENT
    pat = np.where(
        impatient,
        rng.integers(1, 9, n),
        np.exp(rng.normal(math.log(PATIENCE_MEDIAN_S), 0.9, n)).astype(np.int64),
    )
    pat = np.maximum(pat, 1)
    haskey = rng.random(n) < 0.025
    keyt = np.where(haskey, rng.integers(25, 240, n), 0)
    key = np.where(rng.random(n) < 0.6, 0, 1)
    med = np.array([t["talk"] for t in qt])[qs]
    sig = np.array([t["sigma"] for t in qt])[qs]
    talk = np.exp(rng.normal(np.log(med), sig)).astype(np.int64)
    talk = np.where(rng.random(n) < 0.03, rng.integers(2, 9, n), talk)
    talk = np.clip(talk, 2, 3600)
    rt = np.clip(1 + rng.gamma(2.0, 1.6, n).astype(np.int64), 1, 12)
    u = rng.random(n)
    endtype = np.where(u < 0.03, 2, np.where(u < 0.042, 3, np.where(rng.random(n) < 0.42, 1, 0)))
    xt = rng.integers(0, len(_XFER_TARGETS), n)
    return pat, keyt, key, talk, rt, endtype, xt


def _dyn_draws(pyr: random.Random, t: dict) -> tuple:
    pat = (
        pyr.randint(1, 8)
        if pyr.random() < P_IMPATIENT
        else max(1, int(pyr.lognormvariate(math.log(PATIENCE_MEDIAN_S), 0.9)))
    )
    keyt = pyr.randint(25, 239) if pyr.random() < 0.025 else 0
    key = 0 if pyr.random() < 0.6 else 1
    talk = (
        pyr.randint(2, 8)
        if pyr.random() < 0.03
        else int(pyr.lognormvariate(math.log(t["talk"]), t["sigma"]))
    )
    talk = min(max(talk, 2), 3600)
    rt = min(max(1 + int(pyr.gammavariate(2.0, 1.6)), 1), 12)
    u = pyr.random()
    et = 2 if u < 0.03 else 3 if u < 0.042 else (1 if pyr.random() < 0.42 else 0)
    return (pat, keyt, key, talk, rt, et, pyr.randint(0, len(_XFER_TARGETS) - 1))


def _count_lines(sim: _DaySim, spec: _SiteSpec) -> int:
    """Number of queue_log lines the day produces when it is not cut."""
    v = sim.v
    nqa = np.array([len(x) for x in spec.agent_queues], dtype=np.int64)
    gq = nqa[sim.g["agent"]]
    gk = sim.g["kind"]
    g_lines = int(np.where(gk == G_LOGIN, 2 * gq + 1, np.where(gk == G_LOGOFF, gq, gq + 1)).sum())
    n_vis = v["call"].size
    return (
        sim.system.shape[0]
        + 2 * n_vis
        - int((v["out"] == O_JOINEMPTY).sum())
        + int((v["out"] == O_ANSWERED).sum())
        + int((v["endev"] >= 0).sum())
        + int((sim.at["kind"] != AT_CONNECT).sum())
        + g_lines
    )


# ---------------------------------------------------------------------------------------------
# Formatting one day (vectorised)
# ---------------------------------------------------------------------------------------------


def _key(
    t: np.ndarray, M: int, phase: int | np.ndarray, ent: np.ndarray, sub: int | np.ndarray
) -> np.ndarray:
    return (
        ((t - M) << 40)
        | (np.asarray(phase, np.int64) << 36)
        | (ent << 8)
        | np.asarray(sub, np.int64)
    )


def _cut_time(sim: _DaySim) -> int | None:
    """A late moment of the day at which one or two queue visits are still in progress: within
    the last hour of its calls (a quiet day's 400 latest ends went back to the early afternoon,
    and the log stopped hours before the other platforms' data).

    Preference: a caller still waiting, then two calls in progress, then the latest moment.
    """
    v = sim.v
    live = v["out"] != O_JOINEMPTY
    enter, end = v["enter"][live], v["end"][live]
    conn = np.where(v["connect"][live] >= 0, v["connect"][live], INF)
    if enter.size == 0:
        return None
    ends = np.unique(end)[::-1]
    ends = ends[ends >= ends[0] - CUT_WINDOW_S]
    best: tuple | None = None
    for rank, T in enumerate(ends[1:400]):
        inside = (enter <= T) & (end > T)
        n_in = int(inside.sum())
        if n_in not in (1, 2):
            continue
        waiting = bool((inside & (conn > T)).any())
        score = (waiting, n_in == 2, -rank)
        if best is None or score > best[0]:
            best = (score, int(T))
    if best is not None:
        return best[1]
    return int(ends[0]) - 1 if ends[0] - 1 >= enter.min() else None


@dataclass
class _DayOut:
    lines: pl.DataFrame  # key, line
    cdr: pl.DataFrame  # key, line
    visits: pl.DataFrame
    agent_daily: pl.DataFrame
    first_epoch: int
    last_epoch: int


def _finalize_day(sim: _DaySim, spec: _SiteSpec, cut: int | None) -> _DayOut:  # noqa: C901
    M = sim.midnight
    T = INF if cut is None else cut
    qnames = pl.Series(spec.queues, dtype=pl.String)
    anames = pl.Series(spec.names, dtype=pl.String)
    ifaces = pl.Series([f"SIP/{e}" for e in spec.exts], dtype=pl.String)
    v = sim.v
    at = sim.at
    g = sim.g
    nv = v["call"].size
    vid = np.arange(nv, dtype=np.int64)
    call = v["call"]
    cid_e = sim.c_create[call]
    cid_s = sim.c_seq[call]
    frames: list[pl.DataFrame] = []

    def Q(c: str = "q") -> pl.Expr:
        return pl.lit(qnames).gather(pl.col(c))

    def AG(c: str = "a") -> pl.Expr:
        return pl.lit(anames).gather(pl.col(c))

    def add(mask: np.ndarray | None, cols: dict[str, np.ndarray], parts: list) -> None:
        if mask is not None:
            cols = {k: x[mask] for k, x in cols.items()}
        if next(iter(cols.values())).size == 0:
            return
        df = pl.DataFrame(cols)
        frames.append(df.select(pl.col("key"), pl.concat_str(parts).alias("line")))

    sep = pl.lit("|")

    def call_line(event: str, *data: pl.Expr, agent: bool = False) -> list[pl.Expr]:
        """``time|callid|queue|agent|EVENT|data…`` of a call's line: the callid from the row's
        ``ce``.``cs``, the agent its member (column ``a``) or NONE."""
        parts = [pl.col("t"), sep, pl.col("ce"), pl.lit("."), pl.col("cs"), sep, Q(), sep]
        parts += [AG() if agent else pl.lit("NONE"), pl.lit(f"|{event}")]
        for field in data:
            parts += [sep, field]
        return parts

    # system lines
    sy = sim.system
    keep = sy[:, 0] <= T
    for code in (EV_QUEUESTART, EV_CONFIGRELOAD):
        m = keep & (sy[:, 1] == code)
        add(
            m,
            {"key": _key(sy[:, 0], M, PH_SYSTEM, np.zeros(len(sy), np.int64), 0), "t": sy[:, 0]},
            [pl.col("t"), pl.lit(f"|NONE|NONE|NONE|{EVENT_NAMES[code]}|")],
        )

    # DID + ENTERQUEUE
    did_flat, did_idx = _did_lookup(spec, sim.c_did[call])
    m_in = v["enter"] <= T
    add(
        m_in,
        {
            "key": _key(v["enter"], M, PH_ENTER, vid, 0),
            "t": v["enter"],
            "ce": cid_e,
            "cs": cid_s,
            "q": v["q"],
            "di": did_idx,
        },
        call_line("DID", pl.lit(did_flat).gather(pl.col("di"))),
    )
    caller = sim.c_caller[call]
    m_eq = m_in & (v["out"] != O_JOINEMPTY)
    cdf_cols = {
        "key": _key(v["enter"], M, PH_ENTER, vid, 1),
        "t": v["enter"],
        "ce": cid_e,
        "cs": cid_s,
        "q": v["q"],
        "cn": caller,
        "pos": v["pos"],
    }
    cn_expr = (
        pl.when(pl.col("cn") == CALLER_EMPTY)
        .then(pl.lit(""))
        .when(pl.col("cn") == CALLER_ANON)
        .then(pl.lit("anonymous"))
        .otherwise(pl.col("cn").cast(pl.String))
    )
    add(
        m_eq,
        cdf_cols,
        call_line("ENTERQUEUE", pl.lit(""), cn_expr, pl.col("pos")),
    )

    # CONNECT (member uniqueid = ring start epoch . seq of the member channel)
    con = at["kind"] == AT_CONNECT
    con_v = at["visit"][con]
    mem_uid_e = np.zeros(nv, np.int64)
    mem_uid_s = np.zeros(nv, np.int64)
    mem_chan = np.full(nv, -1, np.int64)
    mem_uid_e[con_v] = at["ring"][con]
    mem_uid_s[con_v] = at["seq"][con]
    mem_chan[con_v] = at["chan"][con]
    ans = v["out"] == O_ANSWERED
    m_con = ans & (v["connect"] <= T)
    add(
        m_con,
        {
            "key": _key(v["connect"], M, PH_CONNECT, vid, 0),
            "t": v["connect"],
            "ce": cid_e,
            "cs": cid_s,
            "q": v["q"],
            "a": v["agent"],
            "h": v["hold"],
            "me": mem_uid_e,
            "ms": mem_uid_s,
            "rt": v["ringtime"],
        },
        call_line(
            "CONNECT",
            pl.col("h"),
            pl.concat_str([pl.col("me"), pl.lit("."), pl.col("ms")]),
            pl.col("rt"),
            agent=True,
        ),
    )

    # terminal events
    talk = v["end"] - v["connect"]
    m_end = (v["endev"] >= 0) & (v["end"] <= T)
    end_phase = np.where(v["endev"] == EV_EXITEMPTY, PH_EXITEMPTY, PH_CALLEND)
    endkey = _key(v["end"], M, end_phase, vid, 1)
    common = {
        "key": endkey,
        "t": v["end"],
        "ce": cid_e,
        "cs": cid_s,
        "q": v["q"],
        "a": v["agent"],
        "h": v["hold"],
        "tk": talk,
        "pos": v["pos"],
        "xp": v["xpos"],
        "ky": v["key"],
        "xt": v["xt"],
        "br": v["bridge"],
    }
    talked = (pl.col("h"), pl.col("tk"), pl.col("pos"))  # holdtime, talk time, entry position
    for code in (EV_COMPLETEAGENT, EV_COMPLETECALLER):
        add(
            m_end & (v["endev"] == code),
            common,
            call_line(EVENT_NAMES[code], *talked, agent=True),
        )
    xts = pl.Series(_XFER_TARGETS, dtype=pl.String)
    add(
        m_end & (v["endev"] == EV_BLINDTRANSFER),
        common,
        call_line(
            "BLINDTRANSFER",
            pl.lit(xts).gather(pl.col("xt")),
            pl.lit(_XFER_CONTEXT),
            *talked,
            agent=True,
        ),
    )
    m_att = m_end & (v["endev"] == EV_ATTENDEDTRANSFER)
    if m_att.any():
        df = pl.DataFrame({k: x[m_att] for k, x in common.items()}).with_columns(
            bid=pl.Series(_bridge_ids(v["bridge"][m_att]), dtype=pl.String)
        )
        frames.append(
            df.select(
                pl.col("key"),
                pl.concat_str(
                    call_line(
                        "ATTENDEDTRANSFER", pl.lit("BRIDGE"), pl.col("bid"), *talked, agent=True
                    )
                ).alias("line"),
            )
        )
    for code in (EV_ABANDON, EV_EXITWITHTIMEOUT, EV_EXITEMPTY):
        add(
            m_end & (v["endev"] == code),
            common,
            call_line(EVENT_NAMES[code], pl.col("xp"), pl.col("pos"), pl.col("h")),
        )
    add(
        m_end & (v["endev"] == EV_EXITWITHKEY),
        common,
        call_line("EXITWITHKEY", pl.col("ky"), pl.col("xp"), pl.col("pos"), pl.col("h")),
    )

    # ring attempts
    av = at["visit"]
    a_cols = {
        "t": at["t"],
        "ce": cid_e[av] if av.size else av,
        "cs": cid_s[av] if av.size else av,
        "q": v["q"][av] if av.size else av,
        "a": at["agent"],
        "ms": at["ms"],
    }
    m_at = at["t"] <= T
    for kind, code, phase, sub in (
        (AT_RNA, EV_RINGNOANSWER, PH_CALLEND, 0),
        (AT_CANCEL, EV_RINGCANCELED, PH_CALLEND, 0),
        (AT_NOISE, EV_RINGNOANSWER, PH_NOISE, 0),
    ):
        m = m_at & (at["kind"] == kind)
        add(
            m,
            {**a_cols, "key": _key(at["t"], M, phase, av, sub)},
            call_line(EVENT_NAMES[code], pl.col("ms"), agent=True),
        )

    # agent events, expanded per queue
    gm = g["t"] <= T
    gt, ga, gk, gr = g["t"][gm], g["agent"][gm], g["kind"][gm], g["reason"][gm]
    gent = np.arange(gt.size, dtype=np.int64)
    reasons = pl.Series(PAUSE_REASONS, dtype=pl.String)
    nqa = np.array([len(x) for x in spec.agent_queues], dtype=np.int64)
    maxq = int(nqa.max())
    aq = np.full((len(spec.agent_queues), maxq), -1, np.int64)
    for a, qs in enumerate(spec.agent_queues):
        aq[a, : len(qs)] = qs
    for kind, phase in (
        (G_LOGIN, PH_LOGIN),
        (G_LOGOFF, PH_LOGOFF),
        (G_PAUSE, PH_PAUSE),
        (G_UNPAUSE, PH_UNPAUSE),
    ):
        m = gk == kind
        if not m.any():
            continue
        t_, a_, r_, e_ = gt[m], ga[m], gr[m], gent[m]
        if kind in (G_PAUSE, G_UNPAUSE):
            allname = "PAUSEALL" if kind == G_PAUSE else "UNPAUSEALL"
            one = "PAUSE" if kind == G_PAUSE else "UNPAUSE"
            rs = r_ if kind == G_PAUSE else np.full(r_.size, -1, np.int64)
            rexpr = (
                pl.when(pl.col("r") >= 0)
                .then(pl.lit(reasons).gather(pl.col("r").clip(0)))
                .otherwise(pl.lit(""))
            )
            add(
                None,
                {"key": _key(t_, M, phase, e_, 0), "t": t_, "a": a_, "r": rs},
                [pl.col("t"), pl.lit("|NONE|NONE|"), AG(), pl.lit(f"|{allname}|"), rexpr],
            )
            for j in range(maxq):
                qj = aq[a_, j]
                mj = qj >= 0
                add(
                    mj,
                    {"key": _key(t_, M, phase, e_, 1 + j), "t": t_, "a": a_, "q": qj, "r": rs},
                    [pl.col("t"), pl.lit("|NONE|"), Q(), sep, AG(), pl.lit(f"|{one}|"), rexpr],
                )
        else:
            ev = "ADDMEMBER" if kind == G_LOGIN else "REMOVEMEMBER"
            for j in range(maxq):
                qj = aq[a_, j]
                mj = qj >= 0
                add(
                    mj,
                    {"key": _key(t_, M, phase, e_, j), "t": t_, "a": a_, "q": qj},
                    [
                        pl.col("t"),
                        pl.lit("|MANAGER|"),
                        Q(),
                        sep,
                        pl.lit(ifaces).gather(pl.col("a")),
                        pl.lit(f"|{ev}|"),
                    ],
                )
            if kind == G_LOGIN:
                add(
                    None,
                    {"key": _key(t_, M, phase, e_, 16), "t": t_, "a": a_},
                    [pl.col("t"), pl.lit("|NONE|NONE|"), AG(), pl.lit("|UNPAUSEALL|")],
                )
                for j in range(maxq):
                    qj = aq[a_, j]
                    add(
                        qj >= 0,
                        {"key": _key(t_, M, phase, e_, 17 + j), "t": t_, "a": a_, "q": qj},
                        [pl.col("t"), pl.lit("|NONE|"), Q(), sep, AG(), pl.lit("|UNPAUSE|")],
                    )

    lines = (
        pl.concat(frames, how="vertical").sort("key")
        if frames
        else pl.DataFrame(
            {"key": pl.Series([], dtype=pl.Int64), "line": pl.Series([], dtype=pl.String)}
        )
    )
    first_epoch = (int(lines["key"][0]) >> 40) + M if lines.height else M
    last_epoch = (int(lines["key"][-1]) >> 40) + M if lines.height else M

    # ---- CDR (cdr-csv Master.csv), one row per call leg, written when the leg ends
    cdr = _cdr_rows(sim, spec, T, mem_chan)

    # ---- truth
    visits = _truth_visits(sim, spec, T, cid_e, cid_s)
    agent_daily = _truth_agents(sim, spec, T, last_epoch, visits)
    return _DayOut(
        lines=lines,
        cdr=cdr,
        visits=visits,
        agent_daily=agent_daily,
        first_epoch=first_epoch,
        last_epoch=last_epoch,
    )


def _did_lookup(spec: _SiteSpec, did: np.ndarray) -> tuple[pl.Series, np.ndarray]:
    """Flat DID table + index into it of the calls' DIDs (the last entry is the empty DID)."""
    flat = pl.Series([x for row in spec.dids for x in row] + [""], dtype=pl.String)
    return flat, np.where(did >= 0, did, len(flat) - 1)


def _bridge_ids(x: np.ndarray) -> list[str]:
    """Deterministic UUID-looking bridge ids (Asterisk bridge uniqueids are UUIDs)."""
    out = []
    for b in x.tolist():
        h = (b * 0x9E3779B97F4A7C15) & ((1 << 64) - 1)
        out.append(str(uuid.UUID(int=(b << 64 | h) & ((1 << 128) - 1), version=4)))
    return out


@functools.cache
def _time_of_day_strings() -> pl.Series:
    return pl.Series(
        [f"{h:02d}:{m:02d}:{x:02d}" for h in range(24) for m in range(60) for x in range(60)],
        dtype=pl.String,
    )


def _local_str(col: str, day: date, M: int) -> pl.Expr:
    """``YYYY-MM-DD HH:MM:SS`` local time of an epoch column, by table lookup.

    ``M`` is the epoch of the day's local midnight as seen from local noon, so daytime values
    are exact even on DST-change days (the change happens at night).
    """
    dates = pl.Series(
        [f"{day + timedelta(days=i):%Y-%m-%d} " for i in range(-1, 3)], dtype=pl.String
    )
    rel = pl.col(col) - M
    return pl.concat_str(
        [
            pl.lit(dates).gather((rel // 86400 + 1).clip(0, 3)),
            pl.lit(_time_of_day_strings()).gather(rel % 86400),
        ]
    )


def _cdr_rows(sim: _DaySim, spec: _SiteSpec, T: int, mem_chan: np.ndarray) -> pl.DataFrame:
    v = sim.v
    nv = v["call"].size
    empty = pl.DataFrame(
        {"key": pl.Series([], dtype=pl.Int64), "line": pl.Series([], dtype=pl.String)}
    )
    if nv == 0:
        return empty
    call = v["call"]
    # the last visit of each call carries the caller leg (lastapp Queue of the last queue)
    last = np.ones(nv, dtype=bool)
    last[:-1] = call[:-1] != call[1:]
    # visits of one call are not necessarily adjacent (overflow happens later): use max index
    last_idx = np.full(sim.c_create.size, -1, np.int64)
    np.maximum.at(last_idx, call, np.arange(nv))
    last = np.zeros(nv, dtype=bool)
    last[last_idx[last_idx >= 0]] = True
    endt = np.where(v["out"] == O_JOINEMPTY, v["enter"] + 6 + (v["enter"] % 5), v["end"])
    m = last & (endt <= T)
    idx = np.flatnonzero(m)
    c = call[idx]
    create = sim.c_create[c]
    answer = create + (create % 3 == 0)  # IVR answers the channel right away (sometimes 1 s later)
    end = endt[idx]
    caller = sim.c_caller[c]
    ans = v["out"][idx] == O_ANSWERED
    exts = np.array(spec.exts, dtype=np.int64)
    agent = v["agent"][idx]
    dst_ext = np.where(ans, exts[np.maximum(agent, 0)], 0)
    day, M = sim.day, sim.midnight
    qnames = pl.Series(spec.queues, dtype=pl.String)
    trunks = pl.Series([f"SIP/{t}" for t in _TRUNKS], dtype=pl.String)
    df = pl.DataFrame(
        {
            "key": (end - sim.midnight) << 24 | np.arange(idx.size),
            "cn": caller,
            "q": v["q"][idx],
            "tr": sim.c_trunk[c],
            "ch": sim.c_chan[c],
            "ans": ans,
            "dext": dst_ext,
            "dch": mem_chan[idx],
            "st": create,
            "an": answer,
            "en": end,
            "ce": create,
            "cs": sim.c_seq[c],
        }
    )
    src = (
        pl.when(pl.col("cn") == CALLER_EMPTY)
        .then(pl.lit(""))
        .when(pl.col("cn") == CALLER_ANON)
        .then(pl.lit("anonymous"))
        .otherwise(pl.col("cn").cast(pl.String))
    )
    clid = (
        pl.when(pl.col("cn") == CALLER_EMPTY)
        .then(pl.lit('""'))
        .otherwise(pl.concat_str([pl.lit('"""'), src, pl.lit('"" <'), src, pl.lit('>"')]))
    )
    dstch = (
        pl.when(pl.col("ans"))
        .then(
            pl.concat_str([pl.lit('"SIP/'), pl.col("dext"), pl.lit("-"), _hex8("dch"), pl.lit('"')])
        )
        .otherwise(pl.lit('""'))
    )
    Qn = pl.lit(qnames).gather(pl.col("q"))
    caller_channel = pl.concat_str([pl.lit(trunks).gather(pl.col("tr")), pl.lit("-"), _hex8("ch")])
    q_rows = df.select(
        pl.col("key"),
        _master_csv_line(
            [
                pl.lit('"","'),
                src,
                pl.lit('","'),
                Qn,
                pl.lit('","ext-queues",'),
                clid,
                pl.lit(',"'),
                caller_channel,
                pl.lit('",'),
                dstch,
                pl.lit(',"Queue","'),
                Qn,
                pl.lit(',t,,,,,,,,","'),
            ],
            day,
            M,
        ).alias("line"),
    )
    # transfer legs: caller channel bridged with the transfer target
    xm = (v["endev"] == EV_BLINDTRANSFER) | (v["endev"] == EV_ATTENDEDTRANSFER)
    xs = v["end"]
    xe = xs + v["xtalk"]
    xidx = np.flatnonzero(xm & (xe <= T))
    if xidx.size:
        c2 = call[xidx]
        ring = 2 + (xs[xidx] % 7)
        dfx = pl.DataFrame(
            {
                "key": (xe[xidx] - sim.midnight) << 24 | (1 << 23) | np.arange(xidx.size),
                "cn": sim.c_caller[c2],
                "tr": sim.c_trunk[c2],
                "ch": sim.c_chan[c2],
                "xt": v["xt"][xidx],
                "dch": v["xchan"][xidx],
                "st": xs[xidx],
                "an": xs[xidx] + ring,
                "en": xe[xidx],
                "ce": sim.c_create[c2],
                "cs": sim.c_seq[c2],
            }
        )
        xts = pl.Series(_XFER_TARGETS, dtype=pl.String)
        X = pl.lit(xts).gather(pl.col("xt"))
        x_rows = dfx.select(
            pl.col("key"),
            _master_csv_line(
                [
                    pl.lit('"","'),
                    src,
                    pl.lit('","'),
                    X,
                    pl.lit(f'","{_XFER_CONTEXT}",'),
                    clid,
                    pl.lit(',"'),
                    caller_channel,
                    pl.lit('","SIP/'),
                    X,
                    pl.lit("-"),
                    _hex8("dch"),
                    pl.lit('","Dial","SIP/'),
                    X,
                    pl.lit(',,tr","'),
                ],
                day,
                M,
            ).alias("line"),
        )
        q_rows = pl.concat([q_rows, x_rows])
    return q_rows.sort("key") if q_rows.height else empty


def _master_csv_line(fields: list[pl.Expr], day: date, M: int) -> pl.Expr:
    """A Master.csv record of an answered leg: ``fields`` from accountcode to the opening quote
    of ``start``, then the times, durations, disposition, amaflags, uniqueid and an empty
    userfield from the row's ``st``/``an``/``en`` epochs and ``ce``.``cs`` channel id."""
    return pl.concat_str(
        [
            *fields,
            _local_str("st", day, M),
            pl.lit('","'),
            _local_str("an", day, M),
            pl.lit('","'),
            _local_str("en", day, M),
            pl.lit('",'),
            (pl.col("en") - pl.col("st")),
            pl.lit(","),
            (pl.col("en") - pl.col("an")),
            pl.lit(f',"ANSWERED","{_AMAFLAGS}","'),
            pl.col("ce"),
            pl.lit("."),
            pl.col("cs"),
            pl.lit('",""'),
        ]
    )


def _hex8(col: str) -> pl.Expr:
    lut = pl.Series(list("0123456789abcdef"), dtype=pl.String)
    x = pl.col(col).cast(pl.Int64)
    return pl.concat_str([pl.lit(lut).gather((x // (16**i)) % 16) for i in range(7, -1, -1)])


_VISIT_SCHEMA = {
    "callid": pl.String,
    "queue": pl.String,
    "entered_epoch": pl.Int64,
    "local_day": pl.Date,
    "outcome": pl.String,
    "agent": pl.String,
    "wait_seconds": pl.Int64,
    "talk_seconds": pl.Int64,
    "ring_no_answer_count": pl.Int64,
    "transferred": pl.Boolean,
    "caller_number": pl.String,
    "did": pl.String,
    "position_at_entry": pl.Int64,
    "channel_epoch": pl.Int64,
    "connect_epoch": pl.Int64,
    "end_epoch": pl.Int64,
    "end_event": pl.String,
    "exit_position": pl.Int64,
    "ring_no_answer_noise": pl.Int64,
    "ring_canceled": pl.Boolean,
}


def _truth_visits(
    sim: _DaySim, spec: _SiteSpec, T: int, cid_e: np.ndarray, cid_s: np.ndarray
) -> pl.DataFrame:
    v = sim.v
    keep = v["enter"] <= T
    idx = np.flatnonzero(keep)
    out = v["out"][idx].copy()
    endt = v["end"][idx]
    con = v["connect"][idx]
    ended = (endt <= T) & (out != O_JOINEMPTY)
    talking = (out == O_ANSWERED) & ~ended & (con <= T)
    waiting = (out != O_JOINEMPTY) & ~ended & ~talking
    out[waiting] = O_OPEN
    is_ans = out == O_ANSWERED
    wait = np.where(is_ans | (ended & (out != O_OPEN)), v["hold"][idx], -1)
    talk = np.where(is_ans & ended, endt - con, -1)
    endev = np.where(ended, v["endev"][idx], -1)
    xfer = ended & ((endev == EV_BLINDTRANSFER) | (endev == EV_ATTENDEDTRANSFER))
    at = sim.at
    am = at["t"] <= T
    nv = v["call"].size
    rna = np.bincount(at["visit"][am & (at["kind"] == AT_RNA)], minlength=nv)
    noise = np.bincount(at["visit"][am & (at["kind"] == AT_NOISE)], minlength=nv)
    canc = np.bincount(at["visit"][am & (at["kind"] == AT_CANCEL)], minlength=nv)
    call = v["call"][idx]
    did_flat, did_idx = _did_lookup(spec, sim.c_did[call])
    evn = pl.Series([EVENT_NAMES.get(i, "") for i in range(21)], dtype=pl.String)
    df = pl.DataFrame(
        {
            "ce": cid_e[idx],
            "cs": cid_s[idx],
            "q": v["q"][idx],
            "entered_epoch": v["enter"][idx],
            "o": out,
            "a": np.where(is_ans, v["agent"][idx], -1),
            "wait_seconds": wait,
            "talk_seconds": talk,
            "ring_no_answer_count": rna[idx] + noise[idx],
            "transferred": xfer,
            "cn": sim.c_caller[call],
            "di": did_idx,
            "position_at_entry": v["pos"][idx],
            "channel_epoch": sim.c_create[call],
            "connect_epoch": np.where(is_ans, con, -1),
            "end_epoch": np.where(ended, endt, -1),
            "ev": endev,
            "exit_position": np.where(ended, v["xpos"][idx], -1),
            "ring_no_answer_noise": noise[idx],
            "ring_canceled": canc[idx] > 0,
        }
    )
    outs = pl.Series(OUTCOMES, dtype=pl.String)
    neg_null = [
        "wait_seconds",
        "talk_seconds",
        "position_at_entry",
        "connect_epoch",
        "end_epoch",
        "exit_position",
    ]
    df = df.select(
        pl.concat_str([pl.col("ce"), pl.lit("."), pl.col("cs")]).alias("callid"),
        pl.lit(pl.Series(spec.queues, dtype=pl.String)).gather(pl.col("q")).alias("queue"),
        pl.col("entered_epoch"),
        pl.from_epoch(pl.col("entered_epoch"), time_unit="s")
        .dt.replace_time_zone("UTC")
        .dt.convert_time_zone(spec.tz)
        .dt.date()
        .alias("local_day"),
        pl.lit(outs).gather(pl.col("o")).alias("outcome"),
        pl.when(pl.col("a") >= 0)
        .then(pl.lit(pl.Series(spec.names, dtype=pl.String)).gather(pl.col("a").clip(0)))
        .otherwise(None)
        .alias("agent"),
        *[pl.when(pl.col(c) >= 0).then(pl.col(c)).otherwise(None).alias(c) for c in neg_null[:2]],
        pl.col("ring_no_answer_count"),
        pl.col("transferred"),
        pl.when(pl.col("cn") == CALLER_EMPTY)
        .then(pl.lit(""))
        .when(pl.col("cn") == CALLER_ANON)
        .then(pl.lit("anonymous"))
        .otherwise(pl.col("cn").cast(pl.String))
        .alias("caller_number"),
        pl.lit(did_flat).gather(pl.col("di")).alias("did"),
        *[pl.when(pl.col(c) >= 0).then(pl.col(c)).otherwise(None).alias(c) for c in neg_null[2:4]],
        pl.col("channel_epoch"),
        pl.when(pl.col("end_epoch") >= 0)
        .then(pl.col("end_epoch"))
        .otherwise(None)
        .alias("end_epoch"),
        pl.when(pl.col("ev") >= 0)
        .then(pl.lit(evn).gather(pl.col("ev").clip(0)))
        .otherwise(None)
        .alias("end_event"),
        pl.when(pl.col("exit_position") >= 0)
        .then(pl.col("exit_position"))
        .otherwise(None)
        .alias("exit_position"),
        pl.col("ring_no_answer_noise"),
        pl.col("ring_canceled"),
    )
    return df.select([pl.col(c).cast(t) for c, t in _VISIT_SCHEMA.items()])


def _truth_agents(
    sim: _DaySim, spec: _SiteSpec, T: int, last_epoch: int, visits: pl.DataFrame
) -> pl.DataFrame:
    """Per member and day; ``T`` = the cut (INF: none), ``last_epoch`` = the day's last line."""
    g = sim.g
    A = len(spec.names)
    logged = np.zeros(A, np.int64)
    paused = np.zeros(A, np.int64)
    phase_of = np.array([PH_LOGIN, PH_LOGOFF, PH_PAUSE, PH_UNPAUSE], dtype=np.int64)
    order = np.lexsort((np.arange(g["t"].size), phase_of[g["kind"]], g["t"]))
    t_login = [-1] * A
    t_pause = [-1] * A
    for t, a, kd in zip(
        g["t"][order].tolist(), g["agent"][order].tolist(), g["kind"][order].tolist(), strict=True
    ):
        if t > T:
            break
        if kd == G_LOGIN:
            t_login[a] = t
        elif kd == G_LOGOFF:
            if t_login[a] >= 0:
                logged[a] += t - t_login[a]
                t_login[a] = -1
        elif kd == G_PAUSE:
            t_pause[a] = t
        elif t_pause[a] >= 0:
            paused[a] += t - t_pause[a]
            t_pause[a] = -1
    if T < INF:  # sessions and pauses still open when the log ends: up to its last line
        for a in range(A):
            if t_login[a] >= 0:
                logged[a] += last_epoch - t_login[a]
            if t_pause[a] >= 0:
                paused[a] += last_epoch - t_pause[a]
    worked = np.zeros(A, bool)
    worked[np.unique(g["agent"][g["t"] <= T])] = True
    base = (
        pl.DataFrame(
            {
                "agent": pl.Series(spec.names, dtype=pl.String),
                "local_day": [sim.day] * A,
                "logged_in_seconds": logged,
                "paused_seconds": paused,
                "w": worked,
            }
        )
        .filter(pl.col("w"))
        .drop("w")
    )
    ans = (
        visits.filter(pl.col("outcome") == "answered")
        .group_by("agent", "local_day")
        .agg(
            pl.len().cast(pl.Int64).alias("answered"),
            pl.col("talk_seconds").fill_null(0).sum().cast(pl.Int64).alias("talk_seconds"),
        )
    )
    out = base.join(ans, on=["agent", "local_day"], how="full", coalesce=True).with_columns(
        pl.col("answered").fill_null(0),
        pl.col("talk_seconds").fill_null(0),
        pl.col("logged_in_seconds").fill_null(0),
        pl.col("paused_seconds").fill_null(0),
    )
    return out.select(
        "agent", "local_day", "answered", "talk_seconds", "logged_in_seconds", "paused_seconds"
    ).sort("agent")


def queue_daily_from_visits(visits: pl.DataFrame | pl.LazyFrame, sl_seconds: float = SERVICE_LEVEL_S,
                            short_abandon_seconds: float = SHORT_ABANDON_S) -> pl.DataFrame:
    """Daily queue KPIs from a visits table (the truth definition, DESIGN.md "Metric definitions").

    ``offered`` counts every visit, join-empty ones included (Wazo's "received" = answered +
    abandoned + blocked); the outcome columns are counted apart, so ``offered`` = answered +
    abandoned + timeouts + exit_key + exit_empty + join_empty + open_visits. Short abandons:
    wait <= ``short_abandon_seconds``; answered within SL: wait <= ``sl_seconds`` (both inclusive).
    """
    lf = visits.lazy()
    o = pl.col("outcome")
    w = pl.col("wait_seconds")
    return (
        lf.group_by("queue", "local_day")
        .agg(
            pl.len().cast(pl.Int64).alias("offered"),
            (o == "answered").sum().cast(pl.Int64).alias("answered"),
            (o == "abandoned").sum().cast(pl.Int64).alias("abandoned"),
            ((o == "abandoned") & (w <= short_abandon_seconds))
            .sum()
            .cast(pl.Int64)
            .alias("short_abandons"),
            (o == "timeout").sum().cast(pl.Int64).alias("timeouts"),
            ((o == "answered") & (w <= sl_seconds))
            .sum()
            .cast(pl.Int64)
            .alias("answered_within_sl"),
            (o == "exit_key").sum().cast(pl.Int64).alias("exit_key"),
            (o == "exit_empty").sum().cast(pl.Int64).alias("exit_empty"),
            (o == "join_empty").sum().cast(pl.Int64).alias("join_empty"),
            (o == "open").sum().cast(pl.Int64).alias("open_visits"),
        )
        .sort("local_day", "queue")
        .collect()
    )


# ---------------------------------------------------------------------------------------------
# Driver
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class GeneratedSite:
    """What :func:`generate` wrote (paths) and how much (counts)."""

    out_dir: Path
    queue_log: Path  #: the current (newest) file
    queue_log_files: tuple[Path, ...]  #: every queue_log file, oldest content first
    master_csv: Path
    truth_dir: Path
    visits_path: Path
    agent_daily_path: Path
    queue_daily_path: Path
    lines: int
    cdr_rows: int
    visits: int
    calls: int
    agents: int
    queues: tuple[str, ...]
    days: int
    start: date
    timezone: str
    seed: int
    first_epoch: int
    last_epoch: int
    open_visits: int  #: still waiting when the log ends
    talking_visits: int  #: answered, conversation still going when the log ends
    seconds: float = 0.0

    def summary(self) -> dict:
        d = asdict(self)
        return {
            k: (
                str(x)
                if isinstance(x, (Path, date))
                else list(map(str, x))
                if k == "queue_log_files"
                else x
            )
            for k, x in d.items()
        }


def _day_iter(spec: _SiteSpec, n_days: int | None, workers: int) -> Iterator[_DaySim]:
    """Simulated days in order; ``n_days=None`` means endless (the caller stops).

    ``workers`` = 0 simulates in this process; N > 0 uses N helper processes (plain
    ``python -c`` subprocesses speaking pickle over pipes: no ``__main__`` re-import, so callers
    need no ``if __name__ == "__main__"`` guard) while this process formats and writes.
    """
    if workers <= 0:
        k = 0
        while n_days is None or k < n_days:
            yield _simulate_day(spec, k)
            k += 1
        return
    env = dict(os.environ)
    root = str(Path(__file__).resolve().parents[1])
    env["PYTHONPATH"] = root + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
    procs = [
        subprocess.Popen(
            [
                sys.executable,
                "-c",
                "from simulator.asterisk_queue_log import _worker_main; _worker_main()",
            ],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            env=env,
        )
        for _ in range(workers)
    ]
    try:
        for p in procs:
            pickle.dump(spec, p.stdin, protocol=pickle.HIGHEST_PROTOCOL)
            p.stdin.flush()
        ahead = 2  # requests in flight per worker
        sent = 0
        k = 0

        def request() -> None:
            nonlocal sent
            p = procs[sent % workers]
            pickle.dump(sent, p.stdin)
            p.stdin.flush()
            sent += 1

        while n_days is None or k < n_days:
            while sent < k + ahead * workers and (n_days is None or sent < n_days):
                request()
            p = procs[k % workers]
            try:
                sim = pickle.load(p.stdout)
            except EOFError as e:
                raise RuntimeError(
                    f"simulation worker for day {k} died (exit code {p.poll()})"
                ) from e
            yield sim
            k += 1
    finally:
        # results still in flight are not wanted: stop the helpers instead of draining them
        for p in procs:
            p.kill()
            p.wait()
            for fh in (p.stdin, p.stdout):
                with contextlib.suppress(BrokenPipeError, OSError):
                    fh.close()


def _worker_main() -> None:
    """Helper process: read the site, then day numbers; answer each with its pickled _DaySim."""
    inp, out = sys.stdin.buffer, sys.stdout.buffer
    spec = pickle.load(inp)
    while True:
        k = pickle.load(inp)
        if k is None:
            return
        pickle.dump(_simulate_day(spec, k), out, protocol=pickle.HIGHEST_PROTOCOL)
        out.flush()


def generate(
    out_dir: Path,
    *,
    agents: int = 20,
    queues: Sequence[str] = ("ventas", "soporte", "tarjetas"),
    days: int = 3,
    start: date = DEFAULT_START,
    calls_per_agent_hour: float = 7.0,
    seed: int = 0,
    timezone: str = "America/Bogota",
    rotate: bool = False,
    target_lines: int | None = None,
    truth_dir: Path | None = None,
    workers: int = 0,
    sl_seconds: float = SERVICE_LEVEL_S,
    short_abandon_seconds: float = SHORT_ABANDON_S,
) -> GeneratedSite:
    """Write a simulated Issabel 4 site's ``queue_log`` + ``Master.csv`` and its ground truth.

    ``calls_per_agent_hour`` is the offered load per *scheduled* agent hour (arrivals follow the
    staffing plan, with daily/hourly noise). With ``target_lines`` the number of days (and, for
    large targets, of agents) is chosen so that the log has about that many lines: days are
    generated until the total is closest to the target (``days`` is then only a lower bound for
    the plan, not a promise). ``workers`` > 0 simulates days in that many helper processes
    while this one formats and writes; the default 0 simulates in-process, which measured
    faster on a shared 2-core machine (Polars already uses both cores when formatting). The
    output does not depend on it. ``sl_seconds`` and ``short_abandon_seconds`` are the truth's
    thresholds (``queue_daily.parquet``). Existing ``queue_log*`` files and ``Master.csv`` in
    ``out_dir`` are replaced.
    """
    t_start = time.perf_counter()
    out_dir = Path(out_dir)
    truth_dir = Path(truth_dir) if truth_dir is not None else out_dir.parent / "truth"
    if days < 1:
        raise ValueError("days must be >= 1")
    if target_lines is not None and target_lines < 1:
        raise ValueError("target_lines must be positive")
    if calls_per_agent_hour <= 0:
        raise ValueError("calls_per_agent_hour must be > 0")
    spec = _make_site(seed, agents, tuple(queues), timezone, start, float(calls_per_agent_hour))

    n_days: int | None = days
    if target_lines is not None:
        # size the site: a weekly average day should have ~target/max_days lines at most
        max_days = max(days, 28)

        def weight(d: date) -> float:  # relative volume of a weekday (arrivals follow staffing)
            _, _, work_p, vol, _ = _day_profile(d)
            return work_p * vol

        week = sum(weight(start + timedelta(days=i)) for i in range(7)) / 7
        for step in range(2):  # pilot, rescale, pilot again (lines per agent grow with size)
            pilot = _simulate_day(spec, 0)
            days_needed = target_lines / (max(pilot.lines, 1) * week / weight(start))
            if step == 0 and days_needed <= max_days:
                break  # the requested site is big enough: only the number of days grows
            n_agents = max(agents, math.ceil(len(spec.names) * days_needed / max_days))
            if n_agents == len(spec.names):
                break
            spec = _make_site(
                seed, n_agents, tuple(queues), timezone, start, float(calls_per_agent_hour)
            )
        n_days = None

    out_dir.mkdir(parents=True, exist_ok=True)
    truth_dir.mkdir(parents=True, exist_ok=True)
    for p in list(out_dir.glob("queue_log*")) + [out_dir / "Master.csv"]:
        if p.is_file():
            p.unlink()
    tmp_dir = out_dir / ".queue_log.parts"
    if tmp_dir.exists():
        shutil.rmtree(tmp_dir)
    if rotate:
        tmp_dir.mkdir()

    visits_path = truth_dir / "visits.parquet"
    agent_path = truth_dir / "agent_daily.parquet"
    queue_path = truth_dir / "queue_daily.parquet"
    vis_schema = pl.DataFrame(schema=_VISIT_SCHEMA).to_arrow().schema
    vis_writer = pq.ParquetWriter(visits_path, vis_schema)
    qlog_path = out_dir / "queue_log"
    cdr_path = out_dir / "Master.csv"
    qlog_fh = None if rotate else open(qlog_path, "wb")  # noqa: SIM115
    cdr_fh = open(cdr_path, "wb")  # noqa: SIM115
    day_files: list[tuple[date, Path]] = []
    agent_frames: list[pl.DataFrame] = []
    queue_frames: list[pl.DataFrame] = []
    totals = {"lines": 0, "cdr": 0, "visits": 0, "calls": 0, "open": 0, "talking": 0}
    first_epoch = last_epoch = 0
    n_written = 0

    def write_day(sim: _DaySim, last_day: bool) -> None:
        nonlocal first_epoch, last_epoch, n_written
        cut = _cut_time(sim) if last_day else None
        out = _finalize_day(sim, spec, cut)
        if rotate:
            path = tmp_dir / f"{sim.k:06d}"
            with open(path, "wb") as fh:
                out.lines.select("line").write_csv(fh, include_header=False, quote_style="never")
            day_files.append((sim.day, path))
        else:
            out.lines.select("line").write_csv(qlog_fh, include_header=False, quote_style="never")
        out.cdr.select("line").write_csv(cdr_fh, include_header=False, quote_style="never")
        vis_writer.write_table(out.visits.to_arrow().cast(vis_schema))
        agent_frames.append(out.agent_daily)
        queue_frames.append(queue_daily_from_visits(out.visits, sl_seconds, short_abandon_seconds))
        totals["lines"] += out.lines.height
        totals["cdr"] += out.cdr.height
        totals["visits"] += out.visits.height
        totals["calls"] += (
            int(out.visits.select(pl.col("callid").n_unique()).item()) if out.visits.height else 0
        )
        totals["open"] += int((out.visits["outcome"] == "open").sum())
        totals["talking"] += int(
            ((out.visits["outcome"] == "answered") & out.visits["talk_seconds"].is_null()).sum()
        )
        if n_written == 0:
            first_epoch = out.first_epoch
        last_epoch = out.last_epoch
        n_written += 1

    try:
        prev: _DaySim | None = None
        cum = 0
        days_it = _day_iter(spec, n_days, workers)
        for sim in days_it:
            if prev is not None:
                if target_lines is not None and cum + prev.lines + sim.lines / 2 >= target_lines:
                    break
                cum += prev.lines
                write_day(prev, last_day=False)
            prev = sim
            if target_lines is None and sim.k == (n_days or 0) - 1:
                break
        days_it.close()
        assert prev is not None
        write_day(prev, last_day=True)
    finally:
        vis_writer.close()
        if qlog_fh is not None:
            qlog_fh.close()
        cdr_fh.close()

    files: list[Path] = []
    if rotate:
        # dateext rotation: a day's lines are rotated out the next morning -> named by that date
        for i, (d, part) in enumerate(day_files):
            if i == len(day_files) - 1:
                dest = qlog_path
                part.replace(dest)
            elif i == 0 and len(day_files) > 1:
                dest = out_dir / f"queue_log-{(d + timedelta(days=1)):%Y%m%d}.gz"
                with open(part, "rb") as src, gzip.open(dest, "wb", compresslevel=6) as gz:
                    shutil.copyfileobj(src, gz, 1 << 20)
                part.unlink()
            else:
                dest = out_dir / f"queue_log-{(d + timedelta(days=1)):%Y%m%d}"
                part.replace(dest)
            files.append(dest)
        shutil.rmtree(tmp_dir, ignore_errors=True)
    else:
        files.append(qlog_path)

    agent_daily = pl.concat(agent_frames) if agent_frames else pl.DataFrame()
    agent_daily.write_parquet(agent_path)
    queue_daily = (
        pl.concat(queue_frames).sort("local_day", "queue") if queue_frames else pl.DataFrame()
    )
    queue_daily.write_parquet(queue_path)

    return GeneratedSite(
        out_dir=out_dir,
        queue_log=qlog_path,
        queue_log_files=tuple(files),
        master_csv=cdr_path,
        truth_dir=truth_dir,
        visits_path=visits_path,
        agent_daily_path=agent_path,
        queue_daily_path=queue_path,
        lines=totals["lines"],
        cdr_rows=totals["cdr"],
        visits=totals["visits"],
        calls=totals["calls"],
        agents=len(spec.names),
        queues=spec.queues,
        days=n_written,
        start=start,
        timezone=timezone,
        seed=seed,
        first_epoch=first_epoch,
        last_epoch=last_epoch,
        open_visits=totals["open"],
        talking_visits=totals["talking"],
        seconds=time.perf_counter() - t_start,
    )


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(
        prog="python -m simulator.asterisk_queue_log",
        description="Generate an Issabel 4 / Asterisk 16 queue_log + Master.csv with truth.",
    )
    p.add_argument(
        "--out", type=Path, required=True, help="output folder for queue_log* and Master.csv"
    )
    p.add_argument(
        "--truth-dir", type=Path, default=None, help="truth folder (default: OUT/../truth)"
    )
    p.add_argument("--agents", type=int, default=20)
    p.add_argument(
        "--queues", default="ventas,soporte,tarjetas", help="comma-separated queue names"
    )
    p.add_argument("--days", type=int, default=3)
    p.add_argument("--start", type=date.fromisoformat, default=DEFAULT_START)
    p.add_argument("--calls-per-agent-hour", type=float, default=7.0)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--timezone", default="America/Bogota")
    p.add_argument("--target-lines", type=int, default=None)
    p.add_argument("--rotate", action="store_true")
    p.add_argument(
        "--workers", type=int, default=0, help="helper processes for the simulation (0 = none)"
    )
    a = p.parse_args(argv)
    site = generate(
        a.out,
        agents=a.agents,
        queues=[q for q in a.queues.split(",") if q],
        days=a.days,
        start=a.start,
        calls_per_agent_hour=a.calls_per_agent_hour,
        seed=a.seed,
        timezone=a.timezone,
        rotate=a.rotate,
        target_lines=a.target_lines,
        truth_dir=a.truth_dir,
        workers=a.workers,
    )
    s = site.summary()
    s["lines_per_second"] = round(site.lines / site.seconds) if site.seconds else None
    s["max_rss_mb"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)
    json.dump(s, sys.stdout, indent=2, ensure_ascii=False)
    sys.stdout.write("\n")
    return 0


if __name__ == "__main__":
    # import through the package so that worker processes pickle functions by their real module
    from simulator import asterisk_queue_log as _m

    raise SystemExit(_m.main())
