"""The shared CDR request budget: 1 initial + 10 pages per window, across processes."""

import multiprocessing
import time

from pipelines.webex.request_budget import INITIAL, PAGE, RequestBudget


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
