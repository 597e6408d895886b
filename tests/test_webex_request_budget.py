"""The shared CDR request budget: 1 initial + 10 pages per window, across processes."""

import multiprocessing
import time
from datetime import UTC, datetime, timedelta

import httpx
import orjson

from pipelines.webex.client import WebexClient
from pipelines.webex.oauth import TokenManager, TokenStore
from pipelines.webex.request_budget import INITIAL, PAGE, RequestBudget
from pipelines.webex.windows import Window


class FakeClock:
    """Virtual time: sleeping advances it (the budget's logic, not wall-clock waiting, is tested)."""

    def __init__(self):
        self.now = 1_000_000.0
        self.sleeps = []

    def time(self):
        return self.now

    def sleep(self, seconds):
        self.sleeps.append(seconds)
        self.now += seconds


def test_one_initial_and_ten_pages_per_window(tmp_path):
    clock = FakeClock()
    budget = RequestBudget(tmp_path / "b.sqlite", window_seconds=60, safety=0, clock=clock.time, sleep=clock.sleep)
    start = clock.now
    assert budget.acquire(INITIAL) == 0
    for _ in range(10):
        assert budget.acquire(PAGE) == 0
    assert clock.now == start  # within budget: no wait
    budget.acquire(PAGE)  # the 11th page waits for the first page to leave the window
    assert clock.now - start >= 60
    budget.acquire(INITIAL)
    assert clock.now - start >= 60
    t = clock.now
    budget.acquire(INITIAL)
    assert clock.now - t >= 60 - 1e-6


def test_two_budget_objects_on_one_file_share_the_budget(tmp_path):
    clock = FakeClock()
    a = RequestBudget(tmp_path / "b.sqlite", window_seconds=60, safety=0, clock=clock.time, sleep=clock.sleep)
    b = RequestBudget(tmp_path / "b.sqlite", window_seconds=60, safety=0, clock=clock.time, sleep=clock.sleep)
    a.acquire(INITIAL)
    start = clock.now
    b.acquire(INITIAL)
    assert clock.now - start >= 60


def test_429_pause_holds_every_kind(tmp_path):
    clock = FakeClock()
    budget = RequestBudget(tmp_path / "b.sqlite", window_seconds=60, safety=0, clock=clock.time, sleep=clock.sleep)
    budget.pause(30)
    start = clock.now
    budget.acquire(PAGE)
    assert clock.now - start >= 30
    budget.pause(5)
    budget.pause(1)  # a shorter pause never shortens a longer one
    t = clock.now
    budget.acquire(PAGE)
    assert clock.now - t >= 5


def _worker(path, window, queue):
    # Stamp the clock reading the budget granted at, not the time after acquire() returned: on a
    # busy machine a process can be descheduled between the two, which shortened a measured gap.
    readings = []

    def clock():
        readings.append(time.time())
        return readings[-1]

    budget = RequestBudget(path, window_seconds=window, safety=0, clock=clock)
    for _ in range(2):
        budget.acquire(INITIAL)
        queue.put(readings[-1])  # the granting attempt is the last one that read the clock


def test_processes_share_the_budget_in_real_time(tmp_path):
    window = 0.4
    queue = multiprocessing.get_context("fork").Queue()
    procs = [multiprocessing.get_context("fork").Process(target=_worker, args=(tmp_path / "b.sqlite", window, queue))
             for _ in range(2)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(30)
    stamps = sorted(queue.get(timeout=5) for _ in range(4))
    gaps = [b - a for a, b in zip(stamps, stamps[1:], strict=False)]
    assert all(g >= window * 0.999 for g in gaps), gaps  # 4 initial requests, never 2 in one window


def test_a_slow_token_refresh_comes_before_the_budget_slot_not_between_it_and_the_request(tmp_path):
    """The token endpoint answers 429 (Retry-After: 3) once: the refresh waits 3 s. The CDR request
    must leave when its slot was recorded, so two initial requests still reach the API a whole
    window apart (independent audit: the second came 57 s after the first, and Webex answers 429).

    Both endpoints are httpx.MockTransport handlers, not the sandbox on loopback: the test needs
    the virtual clock (the budget's and the token manager's) to be what the server sees."""
    clock = FakeClock()
    token_calls, initial_requests_at = [], []

    def token_endpoint(request):
        token_calls.append(clock.now)
        if len(token_calls) == 1:
            return httpx.Response(429, headers={"Retry-After": "3"})
        return httpx.Response(200, content=orjson.dumps({
            "access_token": "access", "expires_in": 1_209_600, "refresh_token": "next",
            "refresh_token_expires_in": 7_776_000}))

    def cdr_api(request):
        initial_requests_at.append(clock.now)
        return httpx.Response(404, json={"message": "No CDRs found for the given time range"})

    tokens = TokenManager(token_url="https://webex.test/v1/access_token", client_id="id", client_secret="secret",
                          refresh_token="first", store=TokenStore(tmp_path / "tokens.json"),
                          http=httpx.Client(transport=httpx.MockTransport(token_endpoint)),
                          clock=clock.time, sleep=clock.sleep)
    budget = RequestBudget(tmp_path / "b.sqlite", window_seconds=60, safety=0, clock=clock.time, sleep=clock.sleep)
    client = WebexClient(api_base_url="https://webex.test/v1", analytics_base_url="https://analytics.webex.test/v1",
                         tokens=tokens, budget=budget, http=httpx.Client(transport=httpx.MockTransport(cdr_api)),
                         sleep=clock.sleep)
    start = datetime(2026, 11, 20, tzinfo=UTC)
    for hours in (0, 12):
        window = Window("cdr_feed", start + timedelta(hours=hours), start + timedelta(hours=hours + 12))
        assert list(client.cdr_pages(window)) == []  # 404: an empty window
    assert len(token_calls) == 2 and token_calls[1] - token_calls[0] == 3  # the refresh waited
    assert len(initial_requests_at) == 2
    assert initial_requests_at[1] - initial_requests_at[0] >= 60
