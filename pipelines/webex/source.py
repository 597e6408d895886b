"""dlt source for Webex Calling: CDRs (API and Control Hub CSV), people and locations.

Tables in `raw_webex` (the contract, see simulator/README.md "raw tables"):
- `cdr`: one row per `report_id` (merge; the latest `report_time` wins, also across runs; a
  load whose rows are all new Report IDs is a plain append, which writes them once instead of
  twice),
  every CDR key normalised and typed, new keys kept as text, `raw_record`, derived phone columns,
  `_source`/`_window_*`/`_source_file`/`_loaded_at`;
- `cdr_rejects`: records (and pages/files/directory items) that could not be read, with the reason
  and the exact text (merge on a hash of source + text, so re-reading a window never doubles them);
- `people`, `locations`: the directory, merged on the decoded UUIDs.

Modes: `poll` (steady state: Control Hub CSV drops, then cdr_stream from the stored cursor — with
cdr_feed for a gap older than the stream keeps — then the directory when due) and `backfill`
(cdr_feed windows of a given range only). The stream cursor and the CSV files already read live in
dlt resource state, which dlt stores in the warehouse and commits only with the load: a run killed
at any point is repeated by the next one, and merging on Report ID makes that harmless.

Every table is created with its full column set even when Webex is not configured.
"""

from __future__ import annotations

import logging
import math
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import dlt
import httpx
import polars as pl
import pyarrow as pa
from dlt.common.destination.exceptions import DestinationUndefinedEntity
from dlt.destinations.exceptions import DatabaseUndefinedRelation

from pipelines.background import ahead
from pipelines.load_files import ParquetLoadFile, warehouse_takes_load_files
from pipelines.webex import directory
from pipelines.webex.cdr_normalize import (
    CDR_COLUMNS,
    FEW_VALUED_COLUMNS,
    REJECT_COLUMNS,
    UTC_TS,
    BatchContext,
    NormalizedBatch,
    empty_rejects,
    empty_rows,
    normalize_page,
    normalize_pages,
    page_text,
    parse_cdr_page,
    whole_page,
)
from pipelines.webex.client import WebexApiError, WebexClient, WindowRefused, may_receive_the_token
from pipelines.webex.control_hub_csv import csv_files, export_csvs, read_export
from pipelines.webex.oauth import TokenManager, TokenStore, WebexAuthError
from pipelines.webex.request_budget import RequestBudget
from pipelines.webex.windows import (
    FEED,
    STREAM,
    Gap,
    Plan,
    Window,
    carried_past,
    gaps_after,
    not_too_recent,
    plan_feed,
    plan_stream,
    still_served,
    with_gaps,
)
from switchboard.settings import SettingsError

log = logging.getLogger(__name__)

POLL, BACKFILL = "poll", "backfill"
CDR_KEY = ["report_id"]
REJECT_KEY = ["reject_key"]
DIRECTORY_REFRESH = timedelta(hours=1)
# A poll loads at most this many cdr_feed windows of a gap (5 days: ten minutes of the rate budget),
# oldest first; the gap stays in state and the next polls go on, each loading the stream first.
MAX_GAP_WINDOWS_PER_RUN = 10
# Records of fast-read pages normalised together, then written (pages are ≤ 5000). Larger
# batches pay Polars' cost per operation less often but hold more memory for longer: 50k rows
# wrote 1M CDRs ~5 % slower, with more page faults, than 10k (paired runs).
CDR_BATCH_ROWS = 10_000
STORED_LOOKUP_IDS = 50_000  # appended Report IDs looked up in the warehouse by one query
FETCH_AHEAD_PAGES = 2  # page bodies fetched ahead of the thread that reads them
# An API clock this far behind ours moves the windows' ends back; less, END_MARGIN absorbs it.
# (A clock ahead of ours only matters at the retention limits, where DEFAULT_MARGIN is 3 minutes:
# a window it refuses there is an error that names the clock.)
HEEDED_CLOCK_SKEW = 30.0


@dataclass(frozen=True)
class WebexConfig:
    """What the Webex source needs; built from Settings (see `from_settings`)."""

    api_configured: bool = False
    api_base_url: str = "https://webexapis.com/v1"
    analytics_base_url: str = "https://analytics-calling.webexapis.com/v1"
    client_id: str = ""
    client_secret: str = field(default="", repr=False)
    refresh_token: str = field(default="", repr=False)
    token_file: Path = Path("webex_tokens.json")
    budget_file: Path = Path("webex_cdr_budget.sqlite")
    control_hub_dir: Path | None = None
    rate_window_seconds: float = 60.0
    backoff_seconds: float = 1.0
    http_timeout_seconds: float = 60.0
    cdr_page_size: int = 5000  # `max`; the API serves 500–5000

    @classmethod
    def from_settings(cls, settings, **overrides) -> WebexConfig:
        folder = settings.webex_control_hub_dir.strip()
        if folder and not Path(folder).is_dir():
            raise SettingsError(f"WEBEX_CONTROL_HUB_DIR: {folder} is not a folder")
        return cls(
            api_configured=settings.webex_api_configured,
            api_base_url=settings.webex_api_base_url,
            analytics_base_url=settings.webex_analytics_base_url,
            client_id=settings.webex_client_id.strip(),
            client_secret=settings.webex_client_secret.get_secret_value().strip(),
            refresh_token=settings.webex_refresh_token.get_secret_value().strip(),
            token_file=Path(settings.webex_token_file),
            budget_file=Path(settings.state_dir) / "webex_cdr_budget.sqlite",
            control_hub_dir=Path(folder) if folder else None,
            rate_window_seconds=settings.webex_rate_window_seconds,
            **overrides,
        )

    def build_client(self, http: httpx.Client) -> WebexClient:
        tokens = TokenManager(
            token_url=f"{self.api_base_url.rstrip('/')}/access_token", client_id=self.client_id,
            client_secret=self.client_secret, refresh_token=self.refresh_token,
            store=TokenStore(self.token_file), http=http,
        )
        budget = RequestBudget(self.budget_file, window_seconds=self.rate_window_seconds)
        return WebexClient(api_base_url=self.api_base_url, analytics_base_url=self.analytics_base_url,
                           tokens=tokens, budget=budget, http=http, backoff_seconds=self.backoff_seconds)


@dataclass
class CdrCounts:
    """records read = loaded + rejected + skipped (duplicates and versions no newer than stored)."""

    records_read: int = 0
    loaded: int = 0
    rejected: int = 0
    skipped_duplicate: int = 0
    read_by_source: dict[str, int] = field(default_factory=dict)
    rejects_by_reason: dict[str, int] = field(default_factory=dict)
    windows: int = 0
    files: int = 0
    unavailable: list[str] = field(default_factory=list)
    # people: what checking the directory by id found (see _check_people); reported when not empty
    directory_checks: dict[str, int] = field(default_factory=dict)

    @property
    def balanced(self) -> bool:
        return self.records_read == self.loaded + self.rejected + self.skipped_duplicate

    def summary_line(self) -> str:
        """The counts as read = loaded + rejected + skipped, so a reader sees them add up."""
        return (f"{self.windows} windows: {self.records_read:,} records read = {self.loaded:,} loaded "
                f"+ {self.rejected:,} rejected + {self.skipped_duplicate:,} skipped (duplicates or versions "
                "no newer than stored)")

    def as_metadata(self) -> dict[str, object]:
        return {
            "records_read": self.records_read, "loaded": self.loaded, "rejected": self.rejected,
            "skipped_duplicate": self.skipped_duplicate, "counts_balance": self.balanced,
            "read_by_source": dict(self.read_by_source), "rejects_by_reason": dict(self.rejects_by_reason),
            "windows": self.windows, "files": self.files, "unavailable": list(self.unavailable),
            **({"directory_checks": dict(self.directory_checks)} if self.directory_checks else {}),
        }


@dataclass
class WebexReport:
    cdr: CdrCounts = field(default_factory=CdrCounts)
    people: CdrCounts = field(default_factory=CdrCounts)
    locations: CdrCounts = field(default_factory=CdrCounts)
    client: dict[str, object] = field(default_factory=dict)
    stream_cursor: str | None = None
    load_id: str | None = None
    # what stopped a resource part-way (a request the API refused, a dead token): what was read
    # before it is still loaded, and the run then fails with it (pipeline.WebexRunStopped)
    errors: list[Exception] = field(default_factory=list)
    skipped: str | None = None  # why the run read nothing (pipeline.py: a poll while a backfill loads)


@dlt.source(name="webex", max_table_nesting=0)
def webex_source(
    config: WebexConfig,
    report: WebexReport | None = None,
    *,
    mode: str = POLL,
    since: datetime | None = None,
    until: datetime | None = None,
    now: Callable[[], datetime] = lambda: datetime.now(UTC),
    http: httpx.Client,
):
    """Webex's CDRs, People and locations. `http` is the run's client: the caller opens and
    closes it (pipeline.py)."""
    if mode not in (POLL, BACKFILL):
        raise ValueError(f"mode must be {POLL!r} or {BACKFILL!r}")
    if mode == BACKFILL and (since is None or until is None):
        raise ValueError("a backfill needs --since and --until")
    report = report or WebexReport()
    shared = _Shared(config, report, http)
    return (
        dlt.resource(_cdr(shared, mode, since, until, now), name="cdr", table_name="cdr", write_disposition="merge",
                     primary_key=CDR_KEY),
        dlt.resource(_directory(shared, "people", mode, now), name="people", table_name="people",
                     write_disposition="merge", primary_key=["person_uuid"]),
        dlt.resource(_directory(shared, "locations", mode, now), name="locations", table_name="locations",
                     write_disposition="merge", primary_key=["location_uuid"]),
    )


class _Shared:
    """One HTTP client and one token manager for every resource of a run."""

    def __init__(self, config: WebexConfig, report: WebexReport, http: httpx.Client):
        self.config, self.report = config, report
        self._http = http
        self._client: WebexClient | None = None
        # CDR pages are fetched on a thread of their own; every request of the run holds this
        # lock, so the client (tokens, budget, region switches) is never used by two at once.
        self.lock = threading.Lock()

    def client(self) -> WebexClient:
        if self._client is None:
            self._client = self.config.build_client(self._http)
        return self._client

    def record_client_stats(self) -> None:
        if self._client is not None:
            self.report.client = self._client.stats.as_metadata()


# ---------------------------------------------------------------------------------------------
# CDRs


def _cdr(shared: _Shared, mode: str, since, until, now) -> Iterator[object]:
    config, counts = shared.config, shared.report.cdr
    yield _cdr_table(empty_rows(), merge=False)
    yield _rejects_table(empty_rejects())
    loaded_at = now()
    stored = _StoredCdr()
    stored.open()  # before any batch is on the stack (see _StoredCdr)
    dedupe = _Deduper(stored.versions)
    state = dlt.current.resource_state()

    merge = {"needed": False}
    files = _CdrLoadFile() if warehouse_takes_load_files() else None
    unchecked: list[pl.Series] = []  # Report IDs appended, not yet looked up in the warehouse

    # Rows go in by plain append while every Report ID of the run is new — to the warehouse and
    # to the run (the deduper) — which writes them once; a row that replaces another switches the
    # table to merge for the whole load (dlt applies the table's final write disposition to every
    # file of the load, so the batches already written are merged too). So the warehouse can be
    # asked late: the appended rows' IDs are looked up STORED_LOOKUP_IDS at a time (a query per
    # lookup, a scan of the stored IDs) and the rest before the load's last word.
    def look_up_stored(*, rest: bool) -> None:
        if merge["needed"]:
            unchecked.clear()
        elif unchecked and (rest or sum(map(len, unchecked)) >= STORED_LOOKUP_IDS):
            merge["needed"] = stored.any_of(pl.concat(unchecked))
            unchecked.clear()

    def write(rows: pl.DataFrame) -> Iterator[object]:
        merge["needed"] = merge["needed"] or dedupe.reemitted
        if not merge["needed"]:
            unchecked.append(rows.get_column("report_id"))
            look_up_stored(rest=False)
        if files is None:
            yield _cdr_table(rows, merge=merge["needed"])
        else:
            yield from files.write(rows, merge=merge["needed"])

    texts: list[pl.DataFrame] = []  # pages read by the fast path, normalised together (normalize_pages)

    def count_read(records: int, source: str) -> None:
        counts.records_read += records
        counts.read_by_source[source] = counts.read_by_source.get(source, 0) + records

    def emit_texts() -> Iterator[object]:
        if texts:
            batch = normalize_pages(texts)
            texts.clear()
            yield from emit(batch)

    def emit(batch: NormalizedBatch) -> Iterator[object]:
        if batch.rejects.height:
            counts.rejected += batch.rejects.height
            for reason, n in batch.rejects.get_column("reason").value_counts().iter_rows():
                key = reason.split(":", 1)[0]
                counts.rejects_by_reason[key] = counts.rejects_by_reason.get(key, 0) + n
            yield _rejects_table(batch.rejects)
        rows = dedupe.keep(batch.rows)
        if rows.height:
            yield from write(rows)

    try:
        if mode == POLL and config.control_hub_dir is not None:
            seen = state.setdefault("control_hub_files", {})
            for path in csv_files(config.control_hub_dir):
                st = path.stat()
                version = [st.st_size, st.st_mtime_ns]
                if seen.get(path.name) == version:
                    continue
                for export in export_csvs(path):
                    batch = read_export(export, BatchContext("control_hub_csv", loaded_at, source_file=export.name))
                    count_read(batch.records_read, "control_hub_csv")
                    yield from emit(batch)
                counts.files += 1
                seen[path.name] = version

        if config.api_configured:
            client = shared.client()
            # The API judges windows by its own clock: when its answers' `Date` shows it behind
            # ours (this run's latest answer, else the last run's), windows end by its clock, or
            # it refuses every poll's newest window as too recent.
            last_behind = state.get("api_clock_behind_seconds", 0.0)

            def api_clock_offset() -> float | None:
                """How far the API's clock is ahead of ours (s; negative: behind), by its latest answer."""
                if client.server_clock is None:
                    return None
                server_time, received = client.server_clock
                return server_time - (now().timestamp() - (time.monotonic() - received))

            def api_clock_behind() -> float:
                offset = api_clock_offset()
                if offset is None:
                    return last_behind
                return -offset if -offset >= HEEDED_CLOCK_SKEW else 0.0

            def api_now() -> datetime:
                return now() - timedelta(seconds=api_clock_behind())

            cursor = None
            if mode == BACKFILL:
                plan = plan_feed(since, until, api_now())
            else:
                cursor = state.get("stream_cursor")
                cursor = datetime.fromisoformat(cursor) if cursor else None
                plan = plan_stream(cursor, api_now(), gaps=_stored_gaps(state.get("feed_gaps", [])))
                plan = _limit_gap_windows(plan)
                state["feed_gaps"] = _storable_gaps(plan.gaps)

            def unavailable(start: datetime, end: datetime, why: str) -> None:
                log.warning("Webex CDRs %s – %s cannot be fetched: %s", start.isoformat(), end.isoformat(), why)
                counts.unavailable.append(f"{start.isoformat()}–{end.isoformat()}: {why}")

            for part in plan.unavailable:
                unavailable(*part)
            # the stream's records this poll owes from (its cursor; without one, from where its
            # first window is sent), and the stream parts the retention check moves into cdr_feed gaps
            owed_from = cursor
            carried_gaps: list[Gap] = []

            def checked(planned: Window, sent: Window | None) -> None:
                nonlocal owed_from
                lost, gap = carried_past(planned, sent, owed_from=owed_from, gaps=plan.gaps)
                if planned.endpoint == STREAM and owed_from is None and sent is not None:
                    owed_from = sent.start
                if lost is not None:
                    unavailable(*lost, f"older than {planned.endpoint}'s retention by the time it was asked for")
                if gap is not None and mode == POLL:
                    log.info("Webex CDRs aged past cdr_stream's retention before they were asked for: cdr_feed "
                             "loads them (gap %s – %s) next poll", gap[0].isoformat(), gap[1].isoformat())
                    carried_gaps.append(gap)

            def too_recent(planned: Window, sent: Window | None) -> None:
                """`sent` is `planned` less its end, too recent by the API's clock: a stream poll
                or a feed gap goes on from `sent`'s end next poll; a backfill reports the rest."""
                start = planned.start if sent is None else sent.end
                log.warning("Webex's clock is %.0f s behind this machine's: CDRs %s – %s are asked for in a later "
                            "run", api_clock_behind(), start.isoformat(), planned.end.isoformat())
                if mode == BACKFILL:
                    unavailable(start, planned.end, f"younger than {planned.endpoint}'s minimum age by the API's "
                                                    "clock, which runs behind this machine's: run again later")
            # the regional host a 451 named in an earlier run (while the configured URL is the
            # same): each detour through the wrong region costs one initial request, a minute
            region = state.get("analytics_region") or {}
            if (region.get("configured") == config.analytics_base_url and region.get("named")
                    and may_receive_the_token(region["named"], config.analytics_base_url)):  # (state of older versions)
                client.analytics_base_url = region["named"]
            try:
                for window, page in _prefetched_pages(shared, client, plan.windows, config.cdr_page_size, api_now,
                                                      checked, too_recent):
                    if page is not None:
                        ctx = BatchContext(window.endpoint, loaded_at, window.start, window.end, page=page.url)
                        count_read(page.parsed.records, window.endpoint)
                        if page.parsed.text is None:  # read by the general path: normalised alone, in turn
                            yield from emit_texts()
                            yield from emit(normalize_page(page.parsed, ctx))
                            continue
                        texts.append(page_text(page.parsed, ctx))
                        if sum(t.height for t in texts) >= CDR_BATCH_ROWS:
                            yield from emit_texts()
                        continue
                    counts.windows += 1  # the window's last page was read
                    if mode == POLL and window.endpoint == STREAM:
                        state["stream_cursor"] = window.end.isoformat()
                        shared.report.stream_cursor = state["stream_cursor"]
                    elif mode == POLL:
                        state["feed_gaps"] = _storable_gaps(
                            gaps_after(_stored_gaps(state["feed_gaps"]), window))
            except (WebexApiError, WebexAuthError) as exc:
                # no later window is asked for; the pages read so far are loaded (the stream cursor
                # stays at the last whole window), then the run fails with this error
                offset = api_clock_offset()
                if isinstance(exc, WindowRefused) and offset is not None and offset >= HEEDED_CLOCK_SKEW:
                    # windows start up to DEFAULT_MARGIN inside the retention limits by our clock
                    exc = WebexApiError(
                        f"{exc} — Webex's clock is {offset:.0f} s ahead of this machine's (its answers' Date): a "
                        "window near the endpoint's retention limit is too old by its clock; synchronise this "
                        "machine's clock (NTP)")
                log.error("Webex CDRs stopped after %d whole windows: %s", counts.windows, exc)
                shared.report.errors.append(exc)
            finally:
                shared.record_client_stats()
                if client.server_clock is not None:
                    state["api_clock_behind_seconds"] = round(api_clock_behind(), 1)
                if carried_gaps:  # stored with the cursor that moved past them (one state, one commit)
                    state["feed_gaps"] = _storable_gaps(with_gaps(_stored_gaps(state["feed_gaps"]), carried_gaps))
                if client.analytics_base_url != config.analytics_base_url.rstrip("/"):
                    state["analytics_region"] = {"configured": config.analytics_base_url,
                                                 "named": client.analytics_base_url}
        yield from emit_texts()
        look_up_stored(rest=True)
        if files is not None:
            yield from files.imported(merge=merge["needed"])
        yield _cdr_table(empty_rows(), merge=merge["needed"])  # the table's final write disposition
    finally:
        stored.close()
    counts.loaded = dedupe.unique_loaded
    counts.skipped_duplicate = counts.records_read - counts.rejected - counts.loaded


def _prefetched_pages(shared: _Shared, client: WebexClient, windows, page_size: int, now, checked, too_recent):
    """(window, page) for every page of every window in order, then (window, None) once the window
    is complete. Each window is checked against its endpoint's retention just before it is asked
    for (windows.still_served; `checked(planned, sent)` is told of every window, to judge what
    time has carried past it), and the window yielded is the one asked for. `now` is the API's
    clock: a window too recent by it is cut at its end or left out (`too_recent(planned, sent)`),
    also when the API refuses one (400) and its answer shows its clock further behind than known.
    Pages are fetched on one thread (FETCH_AHEAD_PAGES ahead) and read (parse_cdr_page) on
    another, while the caller normalises and writes the previous ones: the request loop only
    checks that a body can be whole (whole_page), so the next request goes out while this page is
    read. Pages are read up to a whole batch (CDR_BATCH_ROWS) ahead: the caller takes a batch's
    pages in a burst, then normalises and writes them for a while; with less room the reader
    stopped for that while and the caller then waited for it (batches of 50k, 1M CDRs, paired:
    45.5–47.8k records/s with two pages of room, 49.0–50.7k with ten). A body that passed that
    check but cannot be read is requested again in its place. An error on either thread is
    raised here; closing this generator stops both."""
    known_keys: dict = {}  # API keys seen in this run's pages (parse_cdr_page reads with them first)

    def decode(body: bytes):
        return parse_cdr_page(body, known_keys)

    def fetched():
        for planned in windows:
            window = still_served(planned, now())
            checked(planned, window)
            if window is not None:
                window = yield from pages_of(planned, window)
                if window is None:
                    continue  # none of it old enough yet: not complete
            yield window or planned, None

    def pages_of(planned: Window, window: Window):
        """Yields the window's pages; returns the window read (None: none of it)."""
        sent = not_too_recent(window, now())
        while True:
            if sent != window:
                too_recent(planned, sent)
            if sent is None:
                return None
            try:
                for page in _locked(shared, client.cdr_pages(sent, max_records=page_size, decode=whole_page)):
                    yield sent, page
                return sent
            except WindowRefused:
                # the refusal's own `Date` may show the API's clock further behind: asked again cut
                # to fit (each time shorter), else the refusal stands
                window, sent = sent, not_too_recent(sent, now())
                if sent == window:
                    raise

    def read(fetched_pages):
        for window, page in fetched_pages:
            if page is not None:
                parsed = decode(page.parsed)
                if parsed is None:
                    with shared.lock:
                        page = client.cdr_page_again(page, decode)
                    parsed = page.parsed
                page = replace(page, parsed=parsed)
            yield window, page

    pages = ahead(fetched(), depth=FETCH_AHEAD_PAGES, name="webex-cdr-pages")
    return ahead(read(pages), depth=max(FETCH_AHEAD_PAGES, math.ceil(CDR_BATCH_ROWS / page_size)),
                 name="webex-cdr-page-reads")


def _stored_gaps(stored: list) -> tuple[Gap, ...]:
    return tuple((datetime.fromisoformat(start), datetime.fromisoformat(end)) for start, end in stored)


def _storable_gaps(gaps: tuple[Gap, ...]) -> list[list[str]]:
    return [[start.isoformat(), end.isoformat()] for start, end in gaps]


def _limit_gap_windows(plan: Plan) -> Plan:
    feed = [w for w in plan.windows if w.endpoint == FEED]
    if len(feed) <= MAX_GAP_WINDOWS_PER_RUN:
        return plan
    keep = set(feed[:MAX_GAP_WINDOWS_PER_RUN])
    return Plan(tuple(w for w in plan.windows if w.endpoint == STREAM or w in keep), plan.unavailable, plan.gaps)


class _Deduper:
    """Keeps only the newest version of each Report ID, against this run and the warehouse.

    Versions of one record share their Report ID and differ in Report time; a version is written
    only when it is newer than every version seen in this run and stored before. Stored versions
    are fetched lazily, only those with a report time at or after the oldest one in the batch
    (or with none): an older stored version can never beat a batch row.
    """

    def __init__(self, query: Callable[[datetime | None, datetime | None], pl.DataFrame] | None):
        self.query = query
        self.seen: dict[str, int | None] = {}  # Report ID -> newest report time seen (epoch us)
        self.stored = pl.DataFrame(schema={"report_id": pl.String, "stored_time": CDR_COLUMNS["report_time"]})
        self.stored_from: datetime | None = None  # stored versions at or after this are cached
        self.fetched_nulls = False
        self.reemitted = False

    @property
    def unique_loaded(self) -> int:
        return len(self.seen)

    def keep(self, rows: pl.DataFrame) -> pl.DataFrame:
        if rows.height == 0:
            return rows
        if rows.get_column("report_id").n_unique() != rows.height:
            # the newest version of each Report ID in the batch, chosen on the two key columns
            # (sorting the whole batch would copy every column, the raw text among them)
            newest = (rows.select("report_id", "report_time").with_row_index("_row")
                      .sort("report_time", descending=True, nulls_last=True, maintain_order=True)
                      .unique(subset=["report_id"], keep="first", maintain_order=True))
            rows = rows[newest.get_column("_row").sort()]
        if self.query is not None:
            rows = self._against_stored(rows)
        ids = rows.get_column("report_id").to_list()
        # times as epoch microseconds: Python ints compare as the times do, and a million of them
        # come out of Polars ~10x faster than datetime objects (2.4 s of a 1M-record backfill)
        times = rows.get_column("report_time").dt.epoch("us").to_list()
        seen = self.seen
        if seen.keys().isdisjoint(ids):  # the usual batch: every Report ID is new to the run
            seen.update(zip(ids, times, strict=True))
            return rows
        keep_mask = []
        for report_id, reported in zip(ids, times, strict=True):
            if report_id in seen:
                before = seen[report_id]
                newer = reported is not None and (before is None or reported > before)
                keep_mask.append(newer)
                if newer:
                    seen[report_id] = reported
                    self.reemitted = True  # a second version of one Report ID in this run
            else:
                seen[report_id] = reported
                keep_mask.append(True)
        return rows.filter(pl.Series(keep_mask, dtype=pl.Boolean))

    def _against_stored(self, rows: pl.DataFrame) -> pl.DataFrame:
        oldest = rows.get_column("report_time").min()
        if not self.fetched_nulls:
            first = self.query(None, None)  # versions without a report time, once
            if first is None:
                self.query = None
                return rows
            self.stored = pl.concat([self.stored, first])
            self.fetched_nulls = True
        if oldest is not None and (self.stored_from is None or oldest < self.stored_from):
            more = self.query(oldest, self.stored_from)
            if more is None:
                self.query = None
                return rows
            self.stored = pl.concat([self.stored, more])
            self.stored_from = oldest
        if self.stored.height == 0:
            return rows
        joined = rows.join(self.stored.unique(subset=["report_id"], keep="first"), on="report_id", how="left")
        stale = pl.col("stored_time").is_not_null() & (
            pl.col("report_time").is_null() | (pl.col("report_time") <= pl.col("stored_time")))
        stored_null = self.stored.filter(pl.col("stored_time").is_null()).get_column("report_id")
        both_null = pl.col("report_time").is_null() & pl.col("report_id").is_in(stored_null.implode())
        return joined.filter(~(stale | both_null)).drop("stored_time")


class _StoredCdr:
    """Reads raw_webex.cdr during the extract through one dlt SQL client, opened before the first
    batch and closed with the extract.

    One client for the run, not one per query: opening a client resolves dlt's configuration,
    which leaves exception cycles holding the caller's frames - with them the batch being
    written - until the cyclic collector runs; a 1M-record backfill grew by ~0.5 GB a batch."""

    def __init__(self):
        self._pipeline = dlt.current.pipeline()
        self._client = None
        self._missing = False  # the table does not exist: it will not appear before this run's load
        self._empty: bool | None = None  # the table had no rows when first asked (see any_of)

    def open(self) -> None:
        if self._client is None:
            client = self._pipeline.sql_client()
            client.open_connection()
            self._client = client

    def close(self) -> None:
        if self._client is not None:
            client, self._client = self._client, None
            client.close_connection()

    def _fetch(self, sql_on_table: str, *args) -> list | None:
        if self._missing:
            return None
        try:
            self.open()
            sql = sql_on_table.format(table=self._client.make_qualified_table_name("cdr"))
            with self._client.execute_query(sql, *args) as cursor:
                return cursor.fetchall()
        except (DatabaseUndefinedRelation, DestinationUndefinedEntity):
            self._missing = True
            return None

    def versions(self, start: datetime | None, end: datetime | None) -> pl.DataFrame | None:
        """Stored (report_id, stored_time) with start <= report_time < end (both None: the
        versions without a report time); None when the table does not exist yet."""
        if start is None:
            rows = self._fetch("select report_id, report_time from {table} where report_time is null")
        elif end is None:
            rows = self._fetch("select report_id, report_time from {table} where report_time >= %s", start)
        else:
            rows = self._fetch("select report_id, report_time from {table} where report_time >= %s "
                               "and report_time < %s", start, end)
        if rows is None:
            return None
        epoch = datetime(1970, 1, 1, tzinfo=UTC)
        micros = [None if t is None else (_as_utc(t) - epoch) // timedelta(microseconds=1) for _, t in rows]
        return pl.DataFrame({
            "report_id": pl.Series([r[0] for r in rows], dtype=pl.String),
            "stored_time": pl.Series(micros, dtype=pl.Int64).cast(pl.Datetime("us")).dt.replace_time_zone("UTC"),
        })

    def any_of(self, ids: pl.Series) -> bool:
        """Whether any of these report_ids is stored already (False without the table)."""
        if self._empty is None:
            # dlt loads this run's rows only after the extract: a table empty now stays so until
            # then, and its batches need no lookup (a backfill into a new warehouse spent 1.6 s
            # handing the database 50k ids a lookup)
            rows = self._fetch("select count(*) from (select 1 from {table} limit 1) as one_row")
            self._empty = not (rows and rows[0][0])
        if self._empty:
            return False
        rows = self._fetch("select count(*) from {table} where report_id in (select unnest(%s))", ids.to_list())
        return bool(rows and rows[0][0] > 0)


def _as_utc(moment: datetime) -> datetime:
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment


# ---------------------------------------------------------------------------------------------
# people and locations


# People named by CDR legs that started this recently are looked up by id when the directory
# lacks them; one not found is not asked again for as long.
CDR_PEOPLE_LOOKBACK = timedelta(days=2)
# /people?id= requests of one run (85 ids each); the ids left over are asked by the next poll
MAX_ID_LOOKUPS_PER_RUN = 12


def _directory(shared: _Shared, kind: str, mode: str, now) -> Iterator[object]:
    columns = directory.PEOPLE_COLUMNS if kind == "people" else directory.LOCATION_COLUMNS
    key = ["person_uuid"] if kind == "people" else ["location_uuid"]
    yield _to_table(kind, pl.DataFrame(schema=columns), key)
    yield _rejects_table(empty_rejects())
    config = shared.config
    if mode != POLL or not config.api_configured:
        return
    state = dlt.current.resource_state()
    moment = now()
    last = state.get("loaded_at")
    due = not last or moment - datetime.fromisoformat(last) >= DIRECTORY_REFRESH
    if not due and kind != "people":
        return
    counts = shared.report.people if kind == "people" else shared.report.locations
    path, params = (directory.PEOPLE_PATH, directory.PEOPLE_PARAMS) if kind == "people" else (
        directory.LOCATIONS_PATH, directory.LOCATIONS_PARAMS)
    convert = directory.people_rows if kind == "people" else directory.location_rows
    ids: set[str] = set()
    sample_id = None  # an id of the org, the model for ids encoded from UUIDs
    try:
        if due:
            for page in _locked(shared, shared.client().list_items(path, params)):
                ctx = BatchContext(f"webex_{kind}", moment, page=page.url)
                rows, rejects = convert(page.items, ctx)
                counts.records_read += len(page.items)
                counts.rejected += rejects.height
                if rejects.height:
                    yield _rejects_table(rejects)
                fresh = rows.filter(~pl.col(key[0]).is_in(list(ids)))
                ids.update(fresh.get_column(key[0]).to_list())
                sample_id = sample_id or next(iter(fresh.get_column("id").to_list()), None)
                if fresh.height:
                    yield _to_table(kind, fresh, key)
            state["loaded_at"] = moment.isoformat()
        if kind == "people":
            listed_at = moment if due else datetime.fromisoformat(last)
            yield from _check_people(shared, state, moment, listed=due, listed_at=listed_at, ids=ids,
                                     sample_id=sample_id, counts=counts)
    except WebexAuthError as exc:  # no request of the run can succeed: the run stops with it
        log.error("Webex %s stopped part-way: %s", kind, exc)
        shared.report.errors.append(exc)
    except WebexApiError as exc:
        # People and locations only name who and where: a directory the API refuses (a token
        # without the people/locations scopes: 403) must not stop the CDRs' load nor the models
        # built from them. The pages read are loaded; the next poll asks again.
        log.warning("Webex %s unavailable (CDRs are loaded without it; asked again next poll): %s", kind, exc)
        counts.unavailable.append(str(exc))
    finally:
        shared.record_client_stats()
    counts.loaded = len(ids)
    counts.skipped_duplicate = counts.records_read - counts.rejected - counts.loaded


def _check_people(shared: _Shared, state: dict, moment: datetime, *, listed: bool, listed_at: datetime,
                  ids: set[str], sample_id: str | None, counts: CdrCounts) -> Iterator[object]:
    """The people the directory lacks, looked up by id (`/people?id=`, 85 a request: §4).

    /people pages by offset: a person deleted while the listing is paged moves everyone after
    him one place up, and the person at the next page's edge is never listed. So:
    - after a whole listing (`listed`), the people stored before that it lacks: found, they are
      loaded and the listing is reported as changed while paged (`listing_missed`); not found,
      they were deleted from Webex: the stored row stays (CDRs still name them) with `deleted_at`;
    - every poll, the people that CDR legs of the last CDR_PEOPLE_LOOKBACK name (`User UUID` of
      user type User) and the directory lacks: a person skipped by a listing (also the first one,
      when nothing was stored) or created since. Found, they are loaded — and counted in
      `listing_missed` when a leg of theirs is older than the listing that lacked them; not
      found (a deleted person's legs), they are not asked again for CDR_PEOPLE_LOOKBACK.
    """
    checks = counts.directory_checks
    not_found = state.setdefault("people_not_found", {})  # UUID -> when asked (CDR-named only)
    since = moment - CDR_PEOPLE_LOOKBACK
    for uuid, asked in list(not_found.items()):
        if datetime.fromisoformat(asked) < since:
            del not_found[uuid]
    with _StoredDirectory() as stored:
        unlisted = {uuid: webex_id for uuid, webex_id in stored.people_ids().items() if uuid not in ids} if listed else {}
        named = {uuid: first_leg for uuid, first_leg in stored.people_named_by_cdrs(since).items()
                 if uuid not in ids and uuid not in unlisted and uuid not in not_found}
        if not unlisted and not named:
            return
        sample_id = sample_id or next((i for i in unlisted.values() if i), None) or stored.any_person_id()
        wanted = [(uuid, webex_id or directory.person_id(uuid, sample_id)) for uuid, webex_id in unlisted.items()]
        wanted += [(uuid, directory.person_id(uuid, sample_id)) for uuid in named]
        size = directory.MAX_IDS_PER_REQUEST
        chunks = [wanted[i:i + size] for i in range(0, len(wanted), size)]
        if len(chunks) > MAX_ID_LOOKUPS_PER_RUN:
            left = sum(len(c) for c in chunks[MAX_ID_LOOKUPS_PER_RUN:])
            checks["left_for_next_poll"] = left
            log.info("Webex people: %d ids to check are left for the next poll (%d requests a run)",
                     left, MAX_ID_LOOKUPS_PER_RUN)
            chunks = chunks[:MAX_ID_LOOKUPS_PER_RUN]
        for chunk in chunks:
            found: set[str] = set()
            params = {**directory.PEOPLE_BY_ID_PARAMS, "id": ",".join(webex_id for _, webex_id in chunk)}
            for page in _locked(shared, shared.client().list_items(directory.PEOPLE_PATH, params)):
                rows, rejects = directory.people_rows(page.items, BatchContext("webex_people", moment, page=page.url))
                counts.records_read += len(page.items)
                counts.rejected += rejects.height
                if rejects.height:
                    yield _rejects_table(rejects)
                found.update(rows.get_column("person_uuid").to_list())
                fresh = rows.filter(~pl.col("person_uuid").is_in(list(ids)))
                ids.update(fresh.get_column("person_uuid").to_list())
                if fresh.height:
                    yield _to_table("people", fresh, ["person_uuid"])
            asked = [uuid for uuid, _ in chunk]
            missed = [u for u in asked if u in found and (u in unlisted or named[u] < listed_at)]
            deleted = [u for u in asked if u in unlisted and u not in found]
            for u in asked:
                if u in named and u not in found:
                    not_found[u] = moment.isoformat()
            _add(checks, "listing_missed", len(missed))
            _add(checks, "found_by_id", len(found))
            _add(checks, "cdr_people_not_found", sum(1 for u in asked if u in named and u not in found))
            if deleted:
                marked = stored.people_rows(deleted).with_columns(pl.lit(moment, UTC_TS).alias("deleted_at"))
                _add(checks, "marked_deleted", marked.height)
                yield _to_table("people", marked, ["person_uuid"])
    if checks.get("listing_missed"):
        log.warning("Webex people: the directory listing lacked %d person(s) who exist (the listing changed while "
                    "it was paged: a person deleted meanwhile shifts the offsets); loaded them by id",
                    checks["listing_missed"])
    if checks.get("found_by_id", 0) > checks.get("listing_missed", 0):
        log.info("Webex people: %d person(s) named by recent CDRs and new since the last listing loaded by id",
                 checks["found_by_id"] - checks["listing_missed"])
    if checks.get("marked_deleted"):
        log.info("Webex people: %d person(s) no longer in Webex kept with deleted_at", checks["marked_deleted"])


def _add(checks: dict[str, int], name: str, n: int) -> None:
    if n:
        checks[name] = checks.get(name, 0) + n


class _StoredDirectory:
    """Reads raw_webex.people and raw_webex.cdr for _check_people through one dlt SQL client.
    A table that does not exist yet reads as empty."""

    def __init__(self):
        self._client = dlt.current.pipeline().sql_client()

    def __enter__(self) -> _StoredDirectory:
        self._client.open_connection()
        return self

    def __exit__(self, *exc) -> None:
        self._client.close_connection()

    def _query(self, sql: str, *args, **tables: str) -> tuple[list[str], list[tuple]] | None:
        try:
            sql = sql.format(**{k: self._client.make_qualified_table_name(t) for k, t in tables.items()})
            with self._client.execute_query(sql, *args) as cursor:
                return [d[0] for d in cursor.description], cursor.fetchall()
        except (DatabaseUndefinedRelation, DestinationUndefinedEntity):
            return None

    def _people_columns(self) -> list[str]:
        result = self._query("select * from {people} limit 0", people="people")
        return result[0] if result else []

    def people_ids(self) -> dict[str, str | None]:
        """person_uuid -> id of the stored people not marked deleted."""
        columns = self._people_columns()
        if not columns:
            return {}
        live = " where deleted_at is null" if "deleted_at" in columns else ""
        _, rows = self._query("select person_uuid, id from {people}" + live, people="people")
        return {uuid: webex_id for uuid, webex_id in rows if uuid}

    def any_person_id(self) -> str | None:
        result = self._query("select id from {people} where id is not null limit 1", people="people")
        return result[1][0][0] if result and result[1] else None

    def people_named_by_cdrs(self, since: datetime) -> dict[str, datetime]:
        """The UUIDs of the people (user type User) CDR legs started since `since` name and
        raw_webex.people lacks, with the start of each one's first such leg."""
        legs = ("select lower(user_uuid) as person, min(start_time) as first_leg from {cdr} "
                "where start_time >= %s and lower(user_type) = 'user' and user_uuid is not null and user_uuid <> ''")
        if self._people_columns():
            result = self._query(legs + " and lower(user_uuid) not in (select person_uuid from {people} "
                                 "where person_uuid is not null) group by 1", since, cdr="cdr", people="people")
        else:
            result = self._query(legs + " group by 1", since, cdr="cdr")
        return {uuid: _as_utc(first) for uuid, first in (result[1] if result else [])}

    def people_rows(self, uuids: list[str]) -> pl.DataFrame:
        """The stored rows of these people, as PEOPLE_COLUMNS."""
        result = self._query("select * from {people} where person_uuid in (select unnest(%s))", uuids,
                             people="people")
        columns, rows = result if result else ([], [])
        at = {name: i for i, name in enumerate(columns)}
        schema = directory.PEOPLE_COLUMNS
        data = {name: [row[at[name]] if name in at else None for row in rows] for name in schema}
        return pl.DataFrame({name: pl.Series(name, values, dtype=schema[name], strict=False)
                             for name, values in data.items()})


# ---------------------------------------------------------------------------------------------
# helpers


def _locked(shared: _Shared, pages: Iterator) -> Iterator:
    """Pages of `pages`, each fetched holding the run's client lock."""
    while True:
        with shared.lock:
            page = next(pages, None)
        if page is None:
            return
        yield page


_CDR_HINTS = {"primary_key": CDR_KEY, "columns": {"report_time": {"dedup_sort": "desc"}}}


def _cdr_table(frame: pl.DataFrame, *, merge: bool) -> object:
    return _to_table("cdr", frame, CDR_KEY, columns=_CDR_HINTS["columns"],
                     write_disposition="merge" if merge else "append")


class _CdrLoadFile:
    """A run's CDR rows as parquet load files (pipelines/load_files.py; DuckDB only).

    One file while the batches' keys stay among the file's columns; a batch with a key the file
    lacks (a new API key: schema evolution) closes it and starts another, whose columns beyond
    CDR_COLUMNS are first declared to dlt by an empty Arrow table. A batch without some key of the
    file gets it as nulls."""

    def __init__(self):
        self.file = ParquetLoadFile("cdr", FEW_VALUED_COLUMNS, required=CDR_KEY, compressed_columns=["raw_record"])
        self.columns: list[str] = []

    def write(self, rows: pl.DataFrame, *, merge: bool) -> Iterator[object]:
        if self.file.schema is not None and not set(rows.columns) <= set(self.columns):
            yield from self.imported(merge=merge)
        if self.file.schema is None:
            self.columns = rows.columns
            if not set(rows.columns) <= CDR_COLUMNS.keys():
                yield _cdr_table(rows.clear(), merge=merge)
        elif rows.columns != self.columns:
            rows = rows.with_columns(
                pl.lit(None, pl.String).alias(c) for c in self.columns if c not in rows.columns).select(self.columns)
        self.file.write(rows.to_arrow(compat_level=pl.CompatLevel.newest()))

    def imported(self, *, merge: bool) -> Iterator[object]:
        yield from self.file.imported(write_disposition="merge" if merge else "append", **_CDR_HINTS)


def _rejects_table(frame: pl.DataFrame) -> object:
    return _to_table("cdr_rejects", frame.select([pl.col(c).cast(t) for c, t in REJECT_COLUMNS.items()]), REJECT_KEY)


def _to_table(table: str, frame: pl.DataFrame, key: list[str], columns: dict | None = None,
              write_disposition: str = "merge") -> object:
    arrow: pa.Table = frame.to_arrow()
    # Literal columns come out NOT NULL; batches of one table must share one (nullable) schema.
    # Plain 32-bit-offset strings: the type Arrow gives the null column it adds when a batch
    # lacks a key another batch of the run has, so merged batches agree on every type.
    arrow = arrow.cast(pa.schema([
        (f.with_type(pa.string()) if pa.types.is_large_string(f.type) or pa.types.is_string_view(f.type) else f)
        .with_nullable(True) for f in arrow.schema]))
    hints = dlt.mark.make_hints(table_name=table, write_disposition=write_disposition, primary_key=key,
                                columns=columns or None)
    return dlt.mark.with_hints(arrow, hints, create_table_variant=True)
