"""Tests of the Issabel 4 / Asterisk 16 queue_log generator (simulator/asterisk_queue_log.py).

The checks re-read what the generator wrote with their own small parser: they never trust the
generator's internals, only its files.
"""

from __future__ import annotations

import csv
import gzip
from collections import defaultdict
from datetime import date, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import polars as pl
import pytest

from simulator.asterisk_queue_log import (
    EVENT_DATA_FIELDS,
    OUTCOMES,
    generate,
    queue_daily_from_visits,
)

TERMINAL_ANSWERED = {"COMPLETEAGENT", "COMPLETECALLER", "BLINDTRANSFER", "ATTENDEDTRANSFER"}
TERMINAL_UNANSWERED = {"ABANDON", "EXITWITHTIMEOUT", "EXITWITHKEY", "EXITEMPTY"}
OUTCOME_OF = {
    "ABANDON": "abandoned",
    "EXITWITHTIMEOUT": "timeout",
    "EXITWITHKEY": "exit_key",
    "EXITEMPTY": "exit_empty",
}


def read_lines(paths: list[Path]) -> list[list[str]]:
    rows: list[list[str]] = []
    for p in paths:
        opener = gzip.open if p.suffix == ".gz" else open
        with opener(p, "rt", encoding="utf-8", newline="\n") as fh:
            rows.extend(line.rstrip("\n").split("|") for line in fh)
    return rows


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    base = tmp_path_factory.mktemp("site")
    s = generate(base / "pbx", agents=12, days=3, seed=11, start=date(2025, 3, 6))  # Thu..Sat
    rows = read_lines(list(s.queue_log_files))
    visits = pl.read_parquet(s.visits_path)
    return s, rows, visits


def test_determinism(tmp_path):
    a = generate(tmp_path / "a" / "pbx", agents=6, days=2, seed=5)
    b = generate(tmp_path / "b" / "pbx", agents=6, days=2, seed=5)
    c = generate(tmp_path / "c" / "pbx", agents=6, days=2, seed=6)
    assert a.queue_log.read_bytes() == b.queue_log.read_bytes()
    assert a.master_csv.read_bytes() == b.master_csv.read_bytes()
    assert pl.read_parquet(a.visits_path).equals(pl.read_parquet(b.visits_path))
    assert pl.read_parquet(a.agent_daily_path).equals(pl.read_parquet(b.agent_daily_path))
    assert a.queue_log.read_bytes() != c.queue_log.read_bytes()
    # helper processes simulate the same days as the in-process path
    d = generate(tmp_path / "d" / "pbx", agents=6, days=2, seed=5, workers=1)
    assert d.queue_log.read_bytes() == a.queue_log.read_bytes()


def test_every_line_has_the_fields_of_its_event(site):
    s, rows, _ = site
    assert len(rows) == s.lines
    prev = 0
    for f in rows:
        assert f[4] in EVENT_DATA_FIELDS, f
        assert len(f) == 5 + EVENT_DATA_FIELDS[f[4]], f
        t = int(f[0])
        assert t >= prev, "lines must be in time order"
        prev = t
        if f[4] in ("QUEUESTART", "CONFIGRELOAD"):
            assert f[1:] == ["NONE", "NONE", "NONE", f[4], ""]
        if f[4] == "ENTERQUEUE":
            assert f[5] == "" and int(f[7]) >= 1
            assert f[6] == "" or f[6] == "anonymous" or (f[6].isdigit() and len(f[6]) == 10)
        if f[4] == "ADDMEMBER":
            assert f[1] == "MANAGER" and f[3].startswith("SIP/1")
    events = {f[4] for f in rows}
    for ev in (
        "QUEUESTART",
        "CONFIGRELOAD",
        "DID",
        "ENTERQUEUE",
        "CONNECT",
        "COMPLETEAGENT",
        "COMPLETECALLER",
        "ABANDON",
        "RINGNOANSWER",
        "ADDMEMBER",
        "REMOVEMEMBER",
        "PAUSEALL",
        "PAUSE",
        "UNPAUSEALL",
        "UNPAUSE",
    ):
        assert ev in events, ev
    assert rows[0][4] == "QUEUESTART"


def test_every_visit_has_exactly_one_outcome(site):
    _, _, visits = site
    assert visits.height > 500
    assert visits["outcome"].null_count() == 0
    assert set(visits["outcome"].unique()) <= set(OUTCOMES)
    assert visits.select(pl.struct("callid", "queue").is_unique().all()).item()
    ans = visits.filter(pl.col("outcome") == "answered")
    assert ans["agent"].null_count() == 0 and ans["wait_seconds"].null_count() == 0
    assert (
        visits.filter(pl.col("outcome") != "answered")["agent"].null_count()
        == visits.height - ans.height
    )


def test_truth_agrees_with_the_log(site):
    """Every visit's outcome, wait, talk and agent can be read back from its own lines."""
    _, rows, visits = site
    enter, connect, term, dids = {}, {}, {}, set()
    for f in rows:
        key = (f[1], f[2])
        if f[4] == "DID":
            dids.add(key)
        elif f[4] == "ENTERQUEUE":
            enter[key] = (int(f[0]), f[6], int(f[7]))
        elif f[4] == "CONNECT":
            connect[key] = (f[3], int(f[5]))
        elif f[4] in TERMINAL_ANSWERED | TERMINAL_UNANSWERED:
            assert key not in term, "one terminal event per visit"
            term[key] = f
    assert len(enter) == visits.filter(pl.col("outcome") != "join_empty").height
    assert len(dids) == visits.height
    for v in visits.iter_rows(named=True):
        key = (v["callid"], v["queue"])
        if v["outcome"] == "join_empty":
            assert key not in enter and key in dids
            continue
        t_in, caller, pos = enter[key]
        assert (t_in, caller, pos) == (
            v["entered_epoch"],
            v["caller_number"],
            v["position_at_entry"],
        )
        f = term.get(key)
        if v["outcome"] == "answered":
            assert connect[key] == (v["agent"], v["wait_seconds"])
            if v["talk_seconds"] is None:  # still talking when the log ends
                assert f is None
            else:
                assert f[4] in TERMINAL_ANSWERED and f[3] == v["agent"]
                hold, talk = (f[5], f[6]) if f[4].startswith("COMPLETE") else (f[7], f[8])
                assert (int(hold), int(talk)) == (v["wait_seconds"], v["talk_seconds"])
                assert int(f[0]) - int(hold) - int(talk) == t_in
                assert v["transferred"] == (f[4] in ("BLINDTRANSFER", "ATTENDEDTRANSFER"))
        elif v["outcome"] == "open":
            assert f is None and key not in connect
        else:
            assert key not in connect and OUTCOME_OF[f[4]] == v["outcome"]
            assert int(f[-1]) == v["wait_seconds"] == int(f[0]) - t_in


def test_queue_daily_is_recomputed_from_visits(site):
    s, _, visits = site
    qd = pl.read_parquet(s.queue_daily_path)
    o, w = pl.col("outcome"), pl.col("wait_seconds")
    mine = (
        visits.group_by("queue", "local_day")
        .agg(
            pl.len().alias("offered"),
            (o == "answered").sum().alias("answered"),
            (o == "abandoned").sum().alias("abandoned"),
            ((o == "abandoned") & (w <= 5)).sum().alias("short_abandons"),
            (o == "timeout").sum().alias("timeouts"),
            ((o == "answered") & (w <= 20)).sum().alias("answered_within_sl"),
        )
        .with_columns(pl.exclude("queue", "local_day").cast(pl.Int64))
        .sort("local_day", "queue")
    )
    assert qd.select(mine.columns).sort("local_day", "queue").equals(mine)
    # local day = date of queue entry in America/Bogota (UTC-5)
    days = sorted(visits["local_day"].unique())
    assert days == [date(2025, 3, 6), date(2025, 3, 7), date(2025, 3, 8)]
    parts = [
        "answered",
        "abandoned",
        "timeouts",
        "exit_key",
        "exit_empty",
        "join_empty",
        "open_visits",
    ]
    assert qd.select(pl.col("offered") == pl.sum_horizontal(parts)).to_series().all()
    ad = pl.read_parquet(s.agent_daily_path)
    assert ad["answered"].sum() == (visits["outcome"] == "answered").sum()
    assert (ad["logged_in_seconds"] >= ad["paused_seconds"]).all()
    assert (ad["logged_in_seconds"] > ad["talk_seconds"]).all()


def test_queue_daily_uses_the_thresholds_given():
    """The truth counts short abandons and answers within the service level by the deployment's
    thresholds (`switchboard simulate` passes them), inclusive."""
    visits = pl.DataFrame({
        "queue": ["q"] * 5, "local_day": [date(2025, 3, 6)] * 5,
        "outcome": ["abandoned", "abandoned", "answered", "answered", "answered"],
        "wait_seconds": [5.0, 8.0, 20.0, 30.0, 31.0],
        "talk_seconds": [None, None, 60.0, 60.0, 60.0],
    })
    default = queue_daily_from_visits(visits).row(0, named=True)
    wider = queue_daily_from_visits(visits, sl_seconds=30, short_abandon_seconds=8).row(0, named=True)
    assert (default["short_abandons"], default["answered_within_sl"]) == (1, 1)
    assert (wider["short_abandons"], wider["answered_within_sl"]) == (2, 2)


def _agent_alias(rows: list[list[str]]) -> dict[str, str]:
    """interface -> member name, from 'ADDMEMBER SIP/x' followed in the same second by UNPAUSEALL."""
    alias = {}
    for i, f in enumerate(rows):
        if f[4] == "ADDMEMBER":
            j = i
            while rows[j][4] != "UNPAUSEALL":
                j += 1
            assert rows[j][0] == f[0]
            alias[f[3]] = rows[j][3]
    return alias


def test_agents_take_one_call_at_a_time_and_only_when_available(site):
    _, rows, _ = site
    alias = _agent_alias(rows)
    logged: dict[tuple[str, str], bool] = defaultdict(bool)
    paused: dict[tuple[str, str], bool] = defaultdict(bool)
    in_call: dict[str, tuple[str, str] | None] = defaultdict(lambda: None)
    calls = 0
    for f in rows:
        ev, q, who = f[4], f[2], f[3]
        if ev == "ADDMEMBER":
            logged[(alias[who], q)] = True
            assert in_call[alias[who]] is None
        elif ev == "REMOVEMEMBER":
            assert in_call[alias[who]] is None, "logged out during a call"
            logged[(alias[who], q)] = False
        elif ev == "PAUSE":
            assert in_call[who] is None, "paused during a call"
            paused[(who, q)] = True
        elif ev == "UNPAUSE":
            paused[(who, q)] = False
        elif ev == "CONNECT":
            assert logged[(who, q)] and not paused[(who, q)], f
            assert in_call[who] is None, f"{who} already talking"
            in_call[who] = (f[1], q)
            calls += 1
        elif ev in TERMINAL_ANSWERED:
            assert in_call[who] == (f[1], q)
            in_call[who] = None
        elif ev == "RINGNOANSWER" and f[5] in ("0", "1000"):
            assert in_call[who] is not None, "0/1000 ms ring noise comes from busy members"
    assert calls > 500


def _replay_member_seconds(rows: list[list[str]], tz: str) -> tuple[dict, dict]:
    """Logged-in and paused seconds per (member name, local day), replaying the ADDMEMBER /
    REMOVEMEMBER / PAUSEALL / PAUSE / UNPAUSEALL / UNPAUSE lines in file order, as a reader of
    the file would (DESIGN: logged in = ADDMEMBER -> REMOVEMEMBER, paused = PAUSEALL ->
    UNPAUSEALL; what is still open at the end of the log counts up to its last line).

    Per-queue PAUSE/UNPAUSE and ADDMEMBER/REMOVEMEMBER must give the same seconds as the
    member-level lines. Returns ``({(name, day): [logged, paused]}, coverage counters)``.
    """
    zone = ZoneInfo(tz)
    alias = _agent_alias(rows)
    last = int(rows[-1][0])
    member: dict[tuple[str, str], int] = {}  # (name, queue) -> ADDMEMBER epoch
    session: dict[str, int] = {}  # name -> first ADDMEMBER of the session
    pause_all: dict[str, int] = {}  # name -> PAUSEALL epoch
    pause_q: dict[tuple[str, str], int] = {}  # (name, queue) -> PAUSE epoch
    login_second: dict[str, int] = {}
    total: dict[tuple[str, date], list[int]] = defaultdict(lambda: [0, 0])
    per_queue: dict[tuple[str, str, date], list[int]] = defaultdict(lambda: [0, 0])
    queues_of: dict[str, set[str]] = defaultdict(set)
    sessions: dict[tuple[str, date], int] = defaultdict(int)
    seen = {"pause_at_login_second": 0, "lunch_logouts": 0}

    def day(t: int) -> date:
        return datetime.fromtimestamp(t, zone).date()

    def credit(table: dict, key: tuple, i: int, start: int, end: int) -> None:
        assert day(start) == day(max(start, end - 1)), f"{key} spans midnight"
        table[(*key, day(start))][i] += end - start

    for f in rows:
        t, q, ev = int(f[0]), f[2], f[4]
        if ev == "ADDMEMBER":
            name = alias[f[3]]
            assert (name, q) not in member, f"{f}: already a member"
            if not any((name, qq) in member for qq in queues_of[name]):
                session[name] = t
                sessions[(name, day(t))] += 1
            queues_of[name].add(q)
            member[(name, q)] = t
            login_second[name] = t
        elif ev == "REMOVEMEMBER":
            name = alias[f[3]]
            assert (name, q) in member, f"{f}: not a member"
            assert name not in pause_all and (name, q) not in pause_q, f"{f}: logged out paused"
            credit(per_queue, (name, q), 0, member.pop((name, q)), t)
            if not any((name, qq) in member for qq in queues_of[name]):
                credit(total, (name,), 0, session.pop(name), t)
        elif ev == "PAUSEALL":
            name = f[3]
            assert any((name, qq) in member for qq in queues_of[name]), f"{f}: not logged in"
            assert name not in pause_all, f"{f}: already paused"
            pause_all[name] = t
            seen["pause_at_login_second"] += login_second.get(name) == t
        elif ev == "PAUSE":
            name = f[3]
            assert (name, q) in member and name in pause_all, f"{f}: PAUSE without PAUSEALL"
            pause_q[(name, q)] = t
        elif ev == "UNPAUSEALL":
            name = f[3]
            assert any((name, qq) in member for qq in queues_of[name]), f"{f}: not logged in"
            if name in pause_all:
                credit(total, (name,), 1, pause_all.pop(name), t)
        elif ev == "UNPAUSE":
            name = f[3]
            assert (name, q) in member, f"{f}: not a member"
            assert name not in pause_all, f"{f}: UNPAUSE before UNPAUSEALL"
            if (name, q) in pause_q:
                credit(per_queue, (name, q), 1, pause_q.pop((name, q)), t)
    for (name, q), t in member.items():
        credit(per_queue, (name, q), 0, t, last)
    for name, t in session.items():
        credit(total, (name,), 0, t, last)
    for name, t in pause_all.items():
        credit(total, (name,), 1, t, last)
    for (name, q), t in pause_q.items():
        credit(per_queue, (name, q), 1, t, last)
    for (name, d), secs in total.items():
        for q in queues_of[name]:
            assert per_queue[(name, q, d)] == secs, (name, q, d)
    seen["lunch_logouts"] = sum(n - 1 for n in sessions.values())
    return dict(total), seen


def test_member_lines_replayed_in_file_order_give_the_truth_seconds(tmp_path):
    """Logged-in and paused seconds of every agent-day, read back from the file in line order,
    equal the truth. Events of one member sharing a second are written in causal order: a log-in
    back from a log-out lunch (ADDMEMBER, UNPAUSEALL, UNPAUSE) precedes a pause starting in that
    second, a pause end precedes a new pause or a log-out of that second."""
    tz = "America/Bogota"
    seen_total = {"pause_at_login_second": 0, "lunch_logouts": 0}
    for agents, days, seed, start in (
        (12, 3, 5, date(2025, 3, 3)),  # the end-to-end ground-truth test's site
        (6, 2, 5, date(2025, 3, 3)),
        (12, 3, 86, date(2025, 3, 3)),
        (40, 2, 3, date(2025, 3, 4)),
        (25, 3, 7, date(2025, 3, 6)),  # Thu..Sat
        (3, 3, 3, date(2025, 3, 6)),  # the log ends on a quiet Saturday, after its last call
    ):
        s = generate(
            tmp_path / f"{agents}-{seed}" / "pbx",
            agents=agents,
            days=days,
            seed=seed,
            start=start,
            rotate=True,
            timezone=tz,
        )
        rows = read_lines(list(s.queue_log_files))
        replayed, seen = _replay_member_seconds(rows, tz)
        assert seen["lunch_logouts"] > 0, "every site has log-out lunches"
        for k in seen_total:
            seen_total[k] += seen[k]
        truth = {
            (r["agent"], r["local_day"]): [r["logged_in_seconds"], r["paused_seconds"]]
            for r in pl.read_parquet(s.agent_daily_path).iter_rows(named=True)
        }
        wrong = {
            k: (replayed.get(k, [0, 0]), truth.get(k, [0, 0]))
            for k in replayed.keys() | truth.keys()
            if replayed.get(k, [0, 0]) != truth.get(k, [0, 0])
        }
        assert not wrong, f"{(agents, days, seed, start)}: file [logged, paused] != truth: {wrong}"
    assert seen_total["pause_at_login_second"] > 0, "no pause starts in a log-in's second any more"


def test_callers_are_served_fifo_per_queue(site):
    """In ENTERQUEUE order, the moment a member starts ringing for a caller never goes back."""
    _, rows, _ = site
    order: dict[str, list[tuple[str, str]]] = defaultdict(list)
    ring_start, retried = {}, set()
    for f in rows:
        key = (f[1], f[2])
        if f[4] == "ENTERQUEUE":
            order[f[2]].append(key)
        elif f[4] == "CONNECT":
            ring_start[key] = int(f[0]) - int(f[7])
        elif (f[4] == "RINGNOANSWER" and f[5] not in ("0", "1000")) or f[4] == "RINGCANCELED":
            retried.add(key)
    for q, keys in order.items():
        starts = [ring_start[k] for k in keys if k in ring_start and k not in retried]
        assert len(starts) > 50
        assert starts == sorted(starts), q


def test_positions_count_the_callers_ahead(site):
    _, rows, _ = site
    waiting: dict[str, set] = defaultdict(set)
    for f in rows:
        key = (f[1], f[2])
        if f[4] == "ENTERQUEUE":
            assert int(f[7]) == len(waiting[f[2]]) + 1
            waiting[f[2]].add(key)
        elif f[4] == "CONNECT" or f[4] in TERMINAL_UNANSWERED:
            waiting[f[2]].discard(key)


def test_callids_restart_after_queuestart(site):
    _, rows, _ = site
    segments: list[set[tuple[int, int]]] = []
    for f in rows:
        if f[4] == "QUEUESTART":
            segments.append(set())
        elif f[4] == "DID":  # every call, also those refused by joinempty
            e, sq = f[1].split(".")
            segments[-1].add((int(e), int(sq)))
    assert len(segments) == 3
    for seg in segments:
        seqs = [sq for _, sq in sorted(seg)]
        assert seqs[0] == 0, "the first channel after a restart is .0"
        assert seqs == sorted(seqs), "uniqueid sequence grows with channel creation time"
        assert len(set(seqs)) == len(seqs)
    seen = set()
    for f in rows:
        if f[4] == "ENTERQUEUE" and f[1] not in seen:  # first queue of the call (later: overflow)
            seen.add(f[1])
            assert 1 <= int(f[0]) - int(f[1].split(".")[0]) <= 100, "IVR time before the queue"


def test_log_ends_with_calls_in_progress(site):
    s, rows, visits = site
    in_progress = visits.filter(
        (pl.col("outcome") == "open")
        | ((pl.col("outcome") == "answered") & pl.col("talk_seconds").is_null())
    )
    assert 1 <= in_progress.height <= 2
    assert s.open_visits + s.talking_visits == in_progress.height
    assert int(rows[-1][0]) == s.last_epoch


def test_master_csv_layout(site):
    s, rows, visits = site
    with open(s.master_csv, newline="", encoding="utf-8") as fh:
        cdr = list(csv.reader(fh))
    assert len(cdr) == s.cdr_rows > 0
    assert all(len(r) == 18 for r in cdr)
    raw = s.master_csv.read_text(encoding="utf-8").splitlines()[0]
    assert raw.startswith('"","') and raw.endswith('",""')
    queue_legs = {r[16]: r for r in cdr if r[7] == "Queue"}
    callids = {f[1] for f in rows if f[4] == "ENTERQUEUE"}
    assert set(queue_legs) <= callids | set(visits["callid"])
    abandoned = visits.filter(pl.col("outcome") == "abandoned")["callid"].to_list()
    legs = [queue_legs[c] for c in abandoned if c in queue_legs]
    assert legs and all(r[14] == "ANSWERED" for r in legs), "Queue() answers the channel"
    for r in cdr:
        assert int(r[12]) >= int(r[13]) >= 0  # duration >= billsec
        assert r[9] <= r[10] <= r[11]  # local start <= answer <= end
        assert r[15] == "DOCUMENTATION"


def test_rotate_writes_dateext_files_and_one_gzip(tmp_path):
    plain = generate(tmp_path / "plain" / "pbx", agents=6, days=4, seed=3)
    rot = generate(tmp_path / "rot" / "pbx", agents=6, days=4, seed=3, rotate=True)
    names = [p.name for p in rot.queue_log_files]
    assert names == [
        "queue_log-20250304.gz",
        "queue_log-20250305",
        "queue_log-20250306",
        "queue_log",
    ]
    assert sorted(p.name for p in (tmp_path / "rot" / "pbx").iterdir()) == sorted(
        [*names, "Master.csv"]
    )
    joined = b"".join(
        gzip.decompress(p.read_bytes()) if p.suffix == ".gz" else p.read_bytes()
        for p in rot.queue_log_files
    )
    assert joined == plain.queue_log.read_bytes()
    for p in rot.queue_log_files[1:]:
        first = (gzip.decompress(p.read_bytes()) if p.suffix == ".gz" else p.read_bytes()).split(
            b"\n"
        )[0]
        assert first.endswith(b"|NONE|NONE|NONE|CONFIGRELOAD|"), (
            "new file starts at the logger reload"
        )


def test_target_lines_within_ten_percent(tmp_path):
    s = generate(tmp_path / "pbx", target_lines=200_000, seed=1)
    n = s.queue_log.read_bytes().count(b"\n")
    assert n == s.lines
    assert abs(n - 200_000) <= 20_000
