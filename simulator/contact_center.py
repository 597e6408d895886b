"""``simulate()``: one coherent bank contact center written in each provider's own format.

Writes the layout of ``simulator/README.md`` under ``out_dir``:

* ``webex/cdr/YYYY-MM-DD.jsonl`` — ``{"inserted_at": "...Z", "record": {87 keys}}`` per line,
  sorted by ``inserted_at``, one file per UTC day of ``inserted_at`` (a call's records land a
  minute or two after each leg ends; a few are inserted late — up to hours — as ``cdr_stream``
  backfills them). Streamed through a small reorder heap: memory holds only the calls in
  progress.
* ``webex/people.json``, ``locations.json``, ``call_queues.json``, ``auto_attendants.json``,
  ``virtual_lines.json``; ``webex/control_hub/*.csv`` (the first ``control_hub_days`` days).
* ``asterisk/<site>/queue_log``, ``Master.csv`` — a second, Issabel site
  (:func:`simulator.asterisk_queue_log.generate`), its truth under ``truth/asterisk/``.
* ``truth/`` — never read by the pipeline: ``customers``, ``agents``, ``journeys``,
  ``visits`` (Webex queue visits), ``offers`` (every agent offer of a visit), ``agent_states``
  (log-in sessions and pauses), ``kpi_queue_daily``, ``kpi_agent_daily`` (parquet) and
  ``meta.json`` (time zone of the days, thresholds, definitions).
* channels (ElevenLabs, recordings, WhatsApp, SMS): rendered by ``simulator.channels`` when that
  module exists, from the same population and call journeys.
* ``manifest.json`` — seed, sizes, dates, zones, counts per output, seconds, peak RSS.
"""

from __future__ import annotations

import contextlib
import ctypes
import gc
import heapq
import importlib
import importlib.util
import pickle
import resource
import shutil
import tempfile
import time
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import orjson
import polars as pl

from simulator.model import CallJourney, Population
from simulator.population import build_population
from simulator.webex_calls import JourneyOutput, SimConfig, WebexCallCenter
from simulator.webex_cdr import SPEC_SPELLING_SHARE, iso_ms, spec_spelled
from simulator.webex_export import write_control_hub_csv, write_directory

__all__ = ["DEFAULT_START", "simulate", "iter_journeys", "queue_daily_kpis", "agent_daily_kpis"]

DEFAULT_START = date(2026, 3, 2)  # a Monday
SITE_TZ = "America/Bogota"
ASTERISK_SITE = "cali"


def _malloc_trim() -> None:
    """glibc ``malloc_trim(0)``: without it RSS creeps up with fragmentation over many days."""
    with contextlib.suppress(OSError, AttributeError):  # not glibc: nothing to do
        ctypes.CDLL("libc.so.6").malloc_trim(0)


def _peak_rss_mb() -> float:
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)


# ---------------------------------------------------------------------------------------------
# CDR stream writer
# ---------------------------------------------------------------------------------------------


class CdrWriter:
    """Reorders records by ``inserted_at`` and writes them to per-UTC-day JSONL files.

    ``flush(watermark)`` writes every buffered record inserted before ``watermark`` (the
    simulator guarantees no later record will be inserted before it).
    """

    def __init__(self, out_dir: Path) -> None:
        self.dir = out_dir
        self.dir.mkdir(parents=True, exist_ok=True)
        self.heap: list[tuple[int, int, bytes]] = []
        self.seq = 0
        self.day: int | None = None
        self.fh = None
        self.counts: dict[str, int] = {}
        self.files: list[Path] = []
        self.total = 0
        self.spec_spelled = 0
        self.max_buffer = 0

    def add(self, inserted_ms: int, rec: dict) -> None:
        rid = rec["Report ID"]
        if int(rid[:8], 16) % 10_000 < SPEC_SPELLING_SHARE * 10_000:
            rec = spec_spelled(rec)
            self.spec_spelled += 1
        line = orjson.dumps({"inserted_at": iso_ms(inserted_ms), "record": rec})
        heapq.heappush(self.heap, (inserted_ms, self.seq, line))
        self.seq += 1
        if len(self.heap) > self.max_buffer:
            self.max_buffer = len(self.heap)

    def flush(self, watermark: int) -> None:
        h = self.heap
        while h and h[0][0] < watermark:
            ins, _, line = heapq.heappop(h)
            d = ins // 86_400_000
            if d != self.day:
                self._open(d)
            self.fh.write(line)
            self.fh.write(b"\n")
            self.counts[self.cur_name] += 1
            self.total += 1

    def _open(self, d: int) -> None:
        if self.fh is not None:
            self.fh.close()
        name = datetime.fromtimestamp(d * 86400, UTC).date().isoformat()
        path = self.dir / f"{name}.jsonl"
        self.fh = open(path, "ab")  # noqa: SIM115 - closed on the next day / close()
        self.files.append(path)
        self.cur_name = path.name
        self.counts.setdefault(path.name, 0)
        self.day = d

    def close(self) -> None:
        self.flush(1 << 62)
        if self.fh is not None:
            self.fh.close()


# ---------------------------------------------------------------------------------------------
# Truth writers
# ---------------------------------------------------------------------------------------------

_MS = pl.Datetime("ms", "UTC")

VISIT_SCHEMA = {
    "journey_id": pl.String, "visit_no": pl.Int64, "queue": pl.String, "queue_name": pl.String,
    "queue_uuid": pl.String, "correlation_id": pl.String, "queue_report_id": pl.String,
    "queue_local_call_id": pl.String, "entered_at": pl.Int64, "answered_at": pl.Int64,
    "ended_at": pl.Int64, "wait_ms": pl.Int64, "talk_ms": pl.Int64, "hold_ms": pl.Int64,
    "wrapup_ms": pl.Int64, "outcome": pl.String, "agent_id": pl.String, "agent_report_id": pl.String,
    "ring_attempts": pl.Int64, "ring_no_answer": pl.Int64, "busy": pl.Int64, "transferred": pl.Boolean,
    "transfer_type": pl.String, "caller_number": pl.String, "customer_id": pl.String,
}  # fmt: skip
OFFER_SCHEMA = {
    "journey_id": pl.String, "visit_no": pl.Int64, "queue": pl.String, "agent_id": pl.String,
    "offered_at": pl.Int64, "ended_at": pl.Int64, "result": pl.String, "ring_ms": pl.Int64,
    "report_id": pl.String, "local_call_id": pl.String,
}  # fmt: skip
JOURNEY_SCHEMA = {
    "journey_id": pl.String, "customer_id": pl.String, "direction": pl.String, "call_type": pl.String,
    "channel_entry": pl.String, "started_at": pl.Int64, "ended_at": pl.Int64, "route": pl.String,
    "outcome": pl.String, "ai_outcome": pl.String, "first_queue": pl.String, "queues": pl.List(pl.String),
    "final_agent_id": pl.String, "final_agent_name": pl.String, "agent_ids": pl.List(pl.String),
    "aa_ms": pl.Int64, "ai_ms": pl.Int64, "queue_ms": pl.Int64, "agent_ms": pl.Int64, "hold_ms": pl.Int64,
    "correlation_ids": pl.List(pl.String), "interaction_id": pl.String, "report_ids": pl.List(pl.String),
    "n_records": pl.Int64, "caller_number": pl.String, "callee_number": pl.String, "aa_key": pl.String,
    "recorded": pl.Boolean, "language": pl.String, "topic": pl.String,
}  # fmt: skip
STATE_SCHEMA = {
    "agent_id": pl.String,
    "kind": pl.String,
    "reason": pl.String,
    "start": pl.Int64,
    "end": pl.Int64,
}

_TS_COLS = {"entered_at", "answered_at", "ended_at", "offered_at", "started_at", "start", "end"}


class _TableWriter:
    """Buffers truth rows and appends them to one parquet file in row groups."""

    def __init__(self, path: Path, schema: dict, tz: str, day_col: str | None, batch: int = 25_000):
        import pyarrow.parquet as pq

        self.path = path
        self.schema = schema
        self.tz = tz
        self.day_col = day_col
        self.batch = batch
        self.rows: list[dict] = []
        self.n = 0
        self._pq = pq
        self.writer = None

    def _frame(self, rows: list[dict]) -> pl.DataFrame:
        df = pl.DataFrame(
            rows,
            schema=self.schema,
            orient="row" if rows and not isinstance(rows[0], dict) else None,
        )
        casts = []
        for c in df.columns:
            if c in _TS_COLS:
                casts.append(pl.col(c).cast(_MS))
        df = df.with_columns(casts)
        if self.day_col is not None:
            df = df.with_columns(
                pl.col(self.day_col).dt.convert_time_zone(self.tz).dt.date().alias("local_day")
            )
        for c in (
            "wait_ms",
            "talk_ms",
            "hold_ms",
            "wrapup_ms",
            "ring_ms",
            "aa_ms",
            "ai_ms",
            "queue_ms",
            "agent_ms",
        ):
            if c in df.columns:
                df = df.with_columns((pl.col(c) / 1000).alias(c.replace("_ms", "_seconds"))).drop(c)
        return df

    def add(self, row: dict) -> None:
        self.rows.append(row)
        if len(self.rows) >= self.batch:
            self.flush()

    def flush(self) -> None:
        if not self.rows and self.writer is not None:
            return
        table = self._frame(self.rows).to_arrow()
        if self.writer is None:
            self.writer = self._pq.ParquetWriter(self.path, table.schema, compression="zstd")
        if self.rows:
            self.writer.write_table(table)
        self.n += len(self.rows)
        self.rows = []

    def close(self) -> None:
        self.flush()
        if self.writer is not None:
            self.writer.close()


class _JourneySpool:
    """Pickled :class:`CallJourney` objects in a temporary file, read back by :func:`iter_journeys`."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.fh = open(path, "wb")  # noqa: SIM115
        self.buf: list[CallJourney] = []
        self.n = 0

    def add(self, j: CallJourney) -> None:
        self.buf.append(j)
        if len(self.buf) >= 2000:
            self._dump()

    def _dump(self) -> None:
        if self.buf:
            pickle.dump(self.buf, self.fh, protocol=pickle.HIGHEST_PROTOCOL)
            self.n += len(self.buf)
            self.buf = []

    def close(self) -> None:
        self._dump()
        self.fh.close()


def iter_journeys(path: Path) -> Iterator[CallJourney]:
    """Iterate the journeys of a spool file (in the order they ended)."""
    with open(path, "rb") as fh:
        while True:
            try:
                batch = pickle.load(fh)
            except EOFError:
                return
            yield from batch


# ---------------------------------------------------------------------------------------------
# KPIs (DESIGN.md "Metric definitions")
# ---------------------------------------------------------------------------------------------


def queue_daily_kpis(
    visits: pl.LazyFrame, sl_seconds: float, short_abandon_seconds: float
) -> pl.DataFrame:
    """Per queue and local day of queue entry.

    offered = visits; answered = connected to an agent; abandoned = caller hung up while waiting
    or ringing; short_abandons = abandoned with wait <= short; timeouts = left by the queue's max
    wait (overflowed or disconnected); service_level = answered within SL / (offered − short
    abandons); asa = mean wait of answered; avg_talk = mean connected time of answered visits
    (answer → release of the agent leg; includes hold, as the CDR ``Duration`` does);
    aht = talk + wrap-up known to the simulator (not visible in CDRs).
    """
    o = pl.col("outcome")
    w = pl.col("wait_seconds")
    ans = o == "answered"
    return (
        visits.group_by("queue", "local_day")
        .agg(
            pl.len().cast(pl.Int64).alias("offered"),
            ans.sum().cast(pl.Int64).alias("answered"),
            (o == "abandoned").sum().cast(pl.Int64).alias("abandoned"),
            ((o == "abandoned") & (w <= short_abandon_seconds))
            .sum()
            .cast(pl.Int64)
            .alias("short_abandons"),
            (o == "timeout").sum().cast(pl.Int64).alias("timeouts"),
            (ans & (w <= sl_seconds)).sum().cast(pl.Int64).alias("answered_within_sl"),
            w.filter(ans).mean().alias("asa_seconds"),
            w.filter(ans).max().alias("max_wait_answered_seconds"),
            w.filter(o == "abandoned").mean().alias("avg_abandon_wait_seconds"),
            pl.col("talk_seconds").filter(ans).mean().alias("avg_talk_seconds"),
            pl.col("hold_seconds").filter(ans).mean().alias("avg_hold_seconds"),
            (pl.col("talk_seconds") + pl.col("wrapup_seconds"))
            .filter(ans)
            .mean()
            .alias("aht_seconds"),
            pl.col("transferred").sum().cast(pl.Int64).alias("transferred"),
            pl.col("ring_no_answer").sum().cast(pl.Int64).alias("ring_no_answer"),
        )
        .with_columns(
            (
                pl.col("answered_within_sl")
                / (pl.col("offered") - pl.col("short_abandons")).cast(pl.Float64)
            ).alias("service_level"),
            # DESIGN.md: short abandons are out of both sides, as in the service level
            (
                (pl.col("abandoned") - pl.col("short_abandons"))
                / (pl.col("offered") - pl.col("short_abandons")).cast(pl.Float64)
            ).alias("abandon_rate"),
        )
        .sort("local_day", "queue")
        .collect()
    )


def agent_daily_kpis(
    visits: pl.LazyFrame, offers: pl.LazyFrame, states: pl.LazyFrame, tz: str
) -> pl.DataFrame:
    """Per agent and local day: offers, answered, talk, hold, wrap-up, staffed and paused time.

    Offers and answered are bucketed by the visit's queue-entry day (like the queue KPIs);
    staffed/paused seconds by the local day the session or pause started.
    """
    ans = (
        visits.filter(pl.col("outcome") == "answered")
        .group_by("agent_id", "local_day")
        .agg(
            pl.len().cast(pl.Int64).alias("answered"),
            pl.col("talk_seconds").sum().alias("talk_seconds"),
            pl.col("hold_seconds").sum().alias("hold_seconds"),
            pl.col("wrapup_seconds").sum().alias("wrapup_seconds"),
        )
    )
    day_of_visit = visits.select("journey_id", "visit_no", "local_day")
    off = (
        offers.join(day_of_visit, on=["journey_id", "visit_no"], how="left")
        .group_by("agent_id", "local_day")
        .agg(
            pl.len().cast(pl.Int64).alias("offers"),
            (pl.col("result") == "no_answer").sum().cast(pl.Int64).alias("ring_no_answer"),
            (pl.col("result") == "busy").sum().cast(pl.Int64).alias("busy"),
        )
    )
    st = (
        states.with_columns(
            pl.col("start").dt.convert_time_zone(tz).dt.date().alias("local_day"),
            ((pl.col("end") - pl.col("start")).dt.total_milliseconds() / 1000).alias("secs"),
        )
        .group_by("agent_id", "local_day")
        .agg(
            pl.col("secs").filter(pl.col("kind") == "login").sum().alias("staffed_seconds"),
            pl.col("secs").filter(pl.col("kind") == "pause").sum().alias("paused_seconds"),
        )
    )
    keys = pl.concat(
        [
            ans.select("agent_id", "local_day"),
            off.select("agent_id", "local_day"),
            st.select("agent_id", "local_day"),
        ]
    ).unique()
    out = (
        keys.join(off, on=["agent_id", "local_day"], how="left")
        .join(ans, on=["agent_id", "local_day"], how="left")
        .join(st, on=["agent_id", "local_day"], how="left")
        .with_columns(
            pl.col("offers", "ring_no_answer", "busy", "answered").fill_null(0),
            pl.col(
                "talk_seconds",
                "hold_seconds",
                "wrapup_seconds",
                "staffed_seconds",
                "paused_seconds",
            ).fill_null(0.0),
        )
        .sort("local_day", "agent_id")
        .collect()
    )
    return out


# ---------------------------------------------------------------------------------------------
# Orchestration
# ---------------------------------------------------------------------------------------------


def _channels_module():
    if importlib.util.find_spec("simulator.channels") is None:
        return None
    mod = importlib.import_module("simulator.channels")
    return mod if hasattr(mod, "render_channels") else None


def simulate(
    out_dir: Path | str,
    *,
    agents: int = 50,
    days: int = 7,
    seed: int = 7,
    start: date | None = None,
    end: date | None = None,
    customers: int | None = None,
    timezone: str = SITE_TZ,
    sl_seconds: float = 20,
    short_abandon_seconds: float = 5,
    asterisk: bool = True,
    asterisk_agents: int | None = None,
    channels: bool = True,
    control_hub_days: int = 1,
    fraud: bool = False,
    progress=None,
) -> dict:
    """Simulate ``days`` local days (America/Bogota) from ``start`` and write ``out_dir``.

    ``end`` (exclusive) overrides ``days``; with only ``end``, ``start`` = ``end`` − ``days``.
    ``timezone`` is the reporting zone of the truth's days; ``sl_seconds`` /
    ``short_abandon_seconds`` are the thresholds of the truth's service level and short abandons
    (the settings' defaults; `switchboard simulate` passes the deployment's). Existing
    ``webex/``, ``truth/`` and ``asterisk/<site>/`` content under ``out_dir`` is replaced.
    ``fraud`` injects the labelled fraud and misuse scenarios of
    :mod:`simulator.fraud_scenarios` into the CDR files (``truth/fraud_labels.parquet``).
    Returns the summary also written to ``manifest.json``.
    """
    t_start = time.perf_counter()
    out = Path(out_dir)
    if start is None and end is None:
        start = DEFAULT_START
    if end is not None:
        if start is None:
            start = end - timedelta(days=days)
        days = (end - start).days
    assert start is not None
    if days < 1:
        raise ValueError("the simulated period must cover at least one day")
    if agents < 1:
        raise ValueError("agents must be >= 1")
    tz = timezone
    ZoneInfo(tz)
    sl, short = float(sl_seconds), float(short_abandon_seconds)
    n_customers = customers if customers is not None else max(2000, agents * 60)

    webex = out / "webex"
    truth = out / "truth"
    for p in (webex, truth):
        if p.exists():
            shutil.rmtree(p)
    out.mkdir(parents=True, exist_ok=True)
    truth.mkdir(parents=True)

    pop = build_population(seed, n_customers, agents)
    t_pop = time.perf_counter() - t_start

    cdr = CdrWriter(webex / "cdr")
    tw = {
        "visits": _TableWriter(truth / "visits.parquet", VISIT_SCHEMA, tz, "entered_at"),
        "offers": _TableWriter(truth / "offers.parquet", OFFER_SCHEMA, tz, "offered_at"),
        "journeys": _TableWriter(truth / "journeys.parquet", JOURNEY_SCHEMA, tz, "started_at"),
        "agent_states": _TableWriter(truth / "agent_states.parquet", STATE_SCHEMA, tz, "start"),
    }
    chan = _channels_module() if channels else None
    spool_dir = Path(tempfile.mkdtemp(prefix="switchboard-journeys-"))
    spool = _JourneySpool(spool_dir / "journeys.pkl") if chan is not None else None
    counts = {"recorded_legs": 0}

    def sink(o: JourneyOutput) -> None:
        for ins, rec in o.records:
            cdr.add(ins, rec)
        for v in o.visits:
            tw["visits"].add(v)
        for f in o.offers:
            tw["offers"].add(f)
        tw["journeys"].add(o.row)
        counts["recorded_legs"] += len(o.journey.recordings)
        if spool is not None:
            spool.add(o.journey)

    trim_day = [0]

    def advance(watermark: int) -> None:
        if feeder is not None:  # fraud legs enter the reorder heap before the watermark passes
            feeder.feed(cdr.add, watermark)
        cdr.flush(watermark)
        day = watermark // 86_400_000
        if day != trim_day[0]:  # once a simulated day: hand freed heap pages back to the OS
            trim_day[0] = day
            _malloc_trim()
        if progress is not None:
            progress(watermark)

    cfg = SimConfig(start=start, days=days, seed=seed, site_tz=SITE_TZ)
    sim = WebexCallCenter(pop, cfg, sink, tw["agent_states"].add, on_advance=advance)
    fraud_out, feeder = None, None
    if fraud:
        from simulator.fraud_scenarios import FraudFeeder, build_fraud

        # the simulation's own user fields and international desk, so look-alikes and fraud
        # legs from a user's phone are consistent with that user's normal legs
        fraud_out = build_fraud(
            pop, start, days, seed, SITE_TZ,
            authorised_intl=frozenset(x.a.agent_id for x in sim.people if x.intl),
            bases={x.a.agent_id: x.base for x in sim.people},
        )  # fmt: skip
        feeder = FraudFeeder(fraud_out.records)
    # the population lives for the whole run: keep it out of the cyclic GC's scans, and collect
    # less often (a run allocates millions of short-lived dicts; ~10 % faster)
    gc.collect()
    gc.freeze()
    old_threshold = gc.get_threshold()
    gc.set_threshold(50_000, 50, 100)
    try:
        totals = sim.run()
    finally:
        gc.set_threshold(*old_threshold)
        gc.unfreeze()
    cdr.close()
    for w in tw.values():
        w.close()
    if spool is not None:
        spool.close()
    t_sim = time.perf_counter() - t_start - t_pop

    # KPIs from the truth tables
    visits = pl.scan_parquet(truth / "visits.parquet")
    kq = queue_daily_kpis(visits, sl, short).with_columns(pl.lit(tz).alias("timezone"))
    kq.write_parquet(truth / "kpi_queue_daily.parquet")
    ka = agent_daily_kpis(
        visits,
        pl.scan_parquet(truth / "offers.parquet"),
        pl.scan_parquet(truth / "agent_states.parquet"),
        tz,
    ).with_columns(pl.lit(tz).alias("timezone"))
    ka.write_parquet(truth / "kpi_agent_daily.parquet")
    _write_people_truth(pop, truth)
    if fraud_out is not None:
        from simulator.fraud_scenarios import write_labels

        write_labels(fraud_out.labels, truth / "fraud_labels.parquet", tz)

    # directory, Control Hub export
    end_dt = datetime.fromtimestamp(sim.end_ms / 1000, UTC)
    directory = write_directory(pop, webex, as_of=end_dt)
    ch_days = [start + timedelta(days=i) for i in range(min(control_hub_days, days))]
    ch_path, ch_rows = (None, 0)
    if ch_days:
        last = ch_days[-1] + timedelta(days=2)
        files = sorted(p for p in cdr.files if date.fromisoformat(p.stem) <= last)
        ch_path, ch_rows = write_control_hub_csv(
            sorted(set(files)), webex / "control_hub", ch_days, SITE_TZ,
            report_id=f"{seed:04d}{start:%Y%m%d}"[-10:], downloaded=ch_days[-1] + timedelta(days=1),
        )  # fmt: skip

    # the Issabel / Asterisk site
    site_summary = None
    if asterisk:
        from simulator.asterisk_queue_log import generate

        site_dir = out / "asterisk" / ASTERISK_SITE
        site = generate(
            site_dir,
            agents=asterisk_agents or max(4, agents // 8),
            days=days,
            start=start,
            seed=seed,
            timezone=SITE_TZ,
            truth_dir=truth / "asterisk",
            sl_seconds=sl,
            short_abandon_seconds=short,
        )
        site_summary = site.summary()

    # channels (ElevenLabs, recordings, WhatsApp, SMS) from the same journeys
    channels_summary = None
    if chan is not None:
        # journeys come in the order they ended: within the renderer's lateness of start order
        channels_summary = chan.render_channels(
            out, pop, iter_journeys(spool.path), seed,
            datetime.fromtimestamp(sim.start_ms / 1000, UTC), datetime.fromtimestamp(sim.end_ms / 1000, UTC),
        )  # fmt: skip
    shutil.rmtree(spool_dir, ignore_errors=True)

    meta = {
        "timezone": tz,
        "site_timezone": SITE_TZ,
        "day_columns": "local_day = date in `timezone` of entered_at (visits), offered_at, started_at, start",
        "times": "UTC; *_seconds are float seconds with millisecond precision",
        "sl_seconds": sl,
        "short_abandon_seconds": short,
        "asterisk_truth": {"dir": "truth/asterisk", "timezone": SITE_TZ} if asterisk else None,
    }
    (truth / "meta.json").write_bytes(orjson.dumps(meta, option=orjson.OPT_INDENT_2))

    summary = {
        "seed": seed,
        "agents": agents,
        "people": len(pop.agents),
        "customers": len(pop.customers),
        "days": days,
        "start": start.isoformat(),
        "end": (start + timedelta(days=days)).isoformat(),
        "site_timezone": SITE_TZ,
        "truth_timezone": tz,
        "sl_seconds": sl,
        "short_abandon_seconds": short,
        "webex": {
            "journeys": totals.journeys,
            "records": totals.records,
            "spec_spelled_records": cdr.spec_spelled,
            "queue_visits": totals.visits,
            "recorded_legs": counts["recorded_legs"],
            "outcomes": dict(sorted(totals.by_outcome.items())),
            "cdr_files": {k: cdr.counts[k] for k in sorted(cdr.counts)},
            "max_reorder_buffer": cdr.max_buffer,
            "control_hub_csv": str(ch_path.relative_to(out)) if ch_path else None,
            "control_hub_rows": ch_rows,
            **directory,
        },
        "truth": {k: w.n for k, w in tw.items()},
        "fraud": _fraud_summary(fraud_out) if fraud_out is not None else None,
        "asterisk": site_summary,
        "channels": channels_summary
        if chan is not None
        else "simulator.channels not present: not rendered",
        "seconds": {
            "population": round(t_pop, 2),
            "webex": round(t_sim, 2),
            "total": round(time.perf_counter() - t_start, 2),
        },
        "events": totals.events,
        "peak_rss_mb": _peak_rss_mb(),
    }
    (out / "manifest.json").write_bytes(
        orjson.dumps(summary, option=orjson.OPT_INDENT_2, default=str)
    )
    return summary


def _fraud_summary(fraud_out) -> dict:
    by: dict[str, int] = {}
    for row in fraud_out.labels:
        k = f"{row['scenario']}/{row['variant']}"
        by[k] = by.get(k, 0) + 1
    return {
        "records": len(fraud_out.records),
        "incidents": sum(1 for row in fraud_out.labels if row["is_fraud"]),
        "lookalikes": sum(1 for row in fraud_out.labels if not row["is_fraud"]),
        "by_scenario": dict(sorted(by.items())),
    }


def _write_people_truth(pop: Population, truth: Path) -> None:
    from simulator.model import match_key

    rows = []
    for c in pop.customers:
        for p in c.phones:
            rows.append(
                {
                    "customer_id": c.customer_id, "name": c.name, "language": c.language,
                    "segment": c.segment, "country": c.country, "email": c.email,
                    "document_number": c.document_number, "phone_e164": p.e164, "phone_type": p.type,
                    "phone_country": p.country, "primary": p.primary, "whatsapp_id": c.whatsapp_id,
                    "match_key": match_key(p.e164),
                }
            )  # fmt: skip
    pl.DataFrame(rows, infer_schema_length=None).write_parquet(truth / "customers.parquet")
    pl.DataFrame(
        [
            {
                "agent_id": a.agent_id, "name": a.name, "email": a.email, "extension": a.extension,
                "user_uuid": a.user_uuid, "webex_id": a.webex_id, "location": a.location_name,
                "role": a.role, "shift": a.shift, "skills": list(a.skills), "phone_number": a.phone_number,
            }
            for a in pop.agents
        ],
        infer_schema_length=None,
    ).write_parquet(truth / "agents.parquet")  # fmt: skip
