"""The CDR API's request budget, shared by every run and process on this machine.

Webex allows 1 initial request plus 10 pagination requests per minute per token on cdr_feed and
cdr_stream together (webex.md §1.5). A stream poll, a sensor tick and a backfill may run at the
same time, so the budget lives in a small SQLite file (under the state directory): each request
first records itself there inside an IMMEDIATE transaction (SQLite's file lock serialises
processes), waiting while the sliding window is full. A 429 from Webex also pauses everyone
until its Retry-After has passed.

`window_seconds` is the length of the rate limit's "minute"; only a sandbox with a time scale
changes it.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Callable
from contextlib import closing
from pathlib import Path

INITIAL = "initial"
PAGE = "page"
DEFAULT_LIMITS = {INITIAL: 1, PAGE: 10}


class RequestBudget:
    def __init__(
        self,
        path: Path,
        *,
        window_seconds: float = 60.0,
        limits: dict[str, int] | None = None,
        safety: float = 0.03,
        clock: Callable[[], float] = time.time,
        sleep: Callable[[float], None] = time.sleep,
    ):
        self.path = Path(path)
        self.window = float(window_seconds)
        self.limits = dict(limits or DEFAULT_LIMITS)
        # Requests are recorded when sent but counted by Webex when they arrive: keep a small margin.
        self.spacing = self.window * (1 + safety)
        self.clock, self.sleep = clock, sleep
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with closing(self._connect()) as con, con:
            con.execute("create table if not exists sent (kind text not null, at real not null)")
            con.execute("create index if not exists sent_kind_at on sent (kind, at)")
            con.execute("create table if not exists paused (id integer primary key check (id = 1), until real)")

    def _connect(self) -> sqlite3.Connection:
        con = sqlite3.connect(self.path, timeout=60, isolation_level=None)
        con.execute("pragma journal_mode=wal")
        # No fsync per request (5 ms each): a machine crash may forget the last few requests, which
        # at worst costs a 429 and its wait.
        con.execute("pragma synchronous=normal")
        return con

    def acquire(self, kind: str) -> float:
        """Block until one request of `kind` fits; record it. Returns the seconds waited."""
        if kind not in self.limits:
            raise ValueError(f"unknown request kind {kind!r}")
        waited = 0.0
        while True:
            wait = self._try(kind)
            if wait <= 0:
                return waited
            self.sleep(wait)
            waited += wait

    def _try(self, kind: str) -> float:
        with closing(self._connect()) as con:
            con.execute("begin immediate")
            try:
                now = self.clock()
                con.execute("delete from sent where at <= ?", (now - self.spacing,))
                paused = con.execute("select until from paused where id = 1").fetchone()
                if paused and paused[0] and paused[0] > now:
                    return paused[0] - now
                times = [r[0] for r in con.execute(
                    "select at from sent where kind = ? order by at", (kind,)).fetchall()]
                if len(times) < self.limits[kind]:
                    con.execute("insert into sent (kind, at) values (?, ?)", (kind, now))
                    return 0.0
                return max(times[-self.limits[kind]] + self.spacing - now, 0.001)
            finally:
                con.execute("commit")

    def pause(self, seconds: float) -> None:
        """Webex said 429: nobody sends before `seconds` from now (a longer pause is kept)."""
        until = self.clock() + seconds
        with closing(self._connect()) as con:
            con.execute("begin immediate")
            con.execute(
                "insert into paused (id, until) values (1, ?) "
                "on conflict (id) do update set until = max(coalesce(until, 0), excluded.until)",
                (until,),
            )
            con.execute("commit")
