"""Webex people/locations paging against the sandbox (real HTTP on loopback, rules on).

/people pages by offset: a person deleted while the listing is paged moves everyone after him
one place up, so the person at the next page's edge is never listed. The directory load checks
itself by id (`/people?id=`, ≤85 a request): the people stored before that a listing lacks, and
the people recent CDR legs name that the directory lacks.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import duckdb
import httpx
import pytest

from pipelines.webex import source
from pipelines.webex.directory import PEOPLE_PARAMS, webex_id_to_uuid
from pipelines.webex.pipeline import run_poll
from pipelines.webex.request_budget import INITIAL, RequestBudget
from pipelines.webex.source import WebexConfig
from simulator.sandbox import run_sandbox
from simulator.sandbox.faults import Fault
from tests.test_webex_ingest import TIME_SCALE, webex_settings
from tests.webex_fixtures import cdr_fixture, write_cdr_files, write_directory

N_PEOPLE = 230  # three /people pages of 100


@pytest.fixture
def data_dir(tmp_path):
    (tmp_path / "sim").mkdir()
    return tmp_path / "sim"


def fast(settings):
    return WebexConfig.from_settings(settings, backoff_seconds=0.05, cdr_page_size=500)


class Deleter:
    """An HTTP client for the poll that deletes a person from the sandbox right after it served
    the first page of a /people listing (offset paging: the next page starts one person late);
    it also records every /people request."""

    def __init__(self, sandbox):
        self.sandbox, self.victim, self.requests = sandbox, None, []
        self.http = httpx.Client(timeout=30, event_hooks={"response": [self._seen]})

    def _seen(self, response: httpx.Response) -> None:
        url = response.request.url
        if not url.path.endswith("/people"):
            return
        self.requests.append(url)
        listing_start = "cursor" not in url.params and "id" not in url.params
        if listing_start and self.victim is not None and response.status_code == 200:
            people = self.sandbox.state.data.people
            people.remove(next(p for p in people if p["id"] == self.victim))
            self.victim = None

    def id_lookups(self) -> list[list[str]]:
        return [url.params["id"].split(",") for url in self.requests if "id" in url.params]


def people_table(settings) -> dict[str, dict]:
    """raw_webex.people by person_uuid (every column, `deleted_at` too once it exists)."""
    if settings.warehouse.is_duckdb:
        with duckdb.connect(str(settings.warehouse.duckdb_path), read_only=True) as con:
            result = con.sql("select * from raw_webex.people")
            names, rows = result.columns, result.fetchall()
    else:
        import psycopg2

        with psycopg2.connect(settings.warehouse.postgres_dsn()) as con, con.cursor() as cur:
            cur.execute("select * from raw_webex.people")
            names, rows = [d[0] for d in cur.description], cur.fetchall()
    return {row[names.index("person_uuid")]: dict(zip(names, row, strict=True)) for row in rows}


def person(row: dict) -> tuple:
    return row["email"], row["display_name"], row["extension"]


def uuid_of(person: dict) -> str:
    return webex_id_to_uuid(person["id"])


@pytest.mark.parametrize("warehouse", ["duckdb", pytest.param("postgres", marks=pytest.mark.postgres)])
def test_a_person_deleted_while_people_are_paged_skips_no_one_and_is_then_marked_deleted(
        make_settings, data_dir, tmp_path, monkeypatch, request, warehouse):
    """Three polls, each listing the directory (refresh due every poll). In the second, a person
    of the first page is deleted after it was served: the person first on the second page is
    not listed. He was stored by the first poll, so the check by id finds him in the same run and
    the run reports the listing as changed. The third poll's listing lacks the deleted person:
    not found by id, his row stays (CDRs still name him) marked deleted."""
    monkeypatch.setattr(source, "DIRECTORY_REFRESH", timedelta(0))
    now = datetime.now(UTC)
    write_cdr_files(data_dir, cdr_fixture(now, 20, oldest=timedelta(hours=5), newest=timedelta(hours=4), seed=31,
                                          insert_delay=timedelta(minutes=30)))
    people, _ = write_directory(data_dir, n_people=N_PEOPLE)
    deleted, skipped = people[5], people[100]
    extra = {"SWITCHBOARD_WAREHOUSE_URL": request.getfixturevalue("postgres_url")} if warehouse == "postgres" else {}
    with run_sandbox(data_dir, time_scale=TIME_SCALE) as sandbox:
        settings = webex_settings(make_settings, sandbox, tmp_path, **extra)
        client = Deleter(sandbox)
        first = run_poll(settings, config=fast(settings), http=client.http, now=lambda: now)
        assert first.people.loaded == N_PEOPLE and "directory_checks" not in first.people.as_metadata()

        client.victim = deleted["id"]
        second_at = now + timedelta(seconds=3)
        second = run_poll(settings, config=fast(settings), http=client.http, now=lambda: second_at)
        assert client.victim is None  # the deletion happened, after the listing's first page
        after_second = people_table(settings)

        third_at = now + timedelta(seconds=6)
        third = run_poll(settings, config=fast(settings), http=client.http, now=lambda: third_at)
    # the second listing lacked the skipped person; found by id in the same run, loaded again
    assert person(after_second[uuid_of(skipped)]) == ("agent100@bank.example", "Agente 100", "2100")
    assert after_second[uuid_of(skipped)]["_loaded_at"] == second_at  # read in this run, not left from the first
    assert second.people.directory_checks["listing_missed"] == 1
    assert second.people.as_metadata()["directory_checks"]["listing_missed"] == 1
    assert second.people.loaded == N_PEOPLE and second.people.balanced
    assert after_second[uuid_of(deleted)].get("deleted_at") is None  # (listed before it was deleted)

    # the third listing lacks the deleted person: looked up, not found, marked — the row is kept whole
    stored = people_table(settings)
    assert len(stored) == N_PEOPLE
    assert person(stored[uuid_of(deleted)]) == ("agent5@bank.example", "Agente 5", "2005")
    assert stored[uuid_of(deleted)].get("deleted_at") == third_at
    assert [p for p, row in stored.items() if row["deleted_at"] is not None] == [uuid_of(deleted)]
    assert client.id_lookups()[-1] == [deleted["id"]]
    assert third.people.directory_checks.get("listing_missed", 0) == 0
    assert third.people.directory_checks["marked_deleted"] == 1


def test_a_person_the_first_listing_skipped_is_found_by_the_next_poll_through_his_cdr_legs(
        make_settings, data_dir, tmp_path):
    """The very first listing (nothing stored to compare with) loses the person at the second
    page's edge to a deletion while it is paged; his CDR legs load in the same poll. The next
    poll — the directory not due for an hour — finds him by id from his legs and reports the
    listing as having missed him. CDR users the API does not know are asked once, not every poll."""
    now = datetime.now(UTC)
    people, _ = write_directory(data_dir, n_people=N_PEOPLE)
    deleted, skipped = people[5], people[100]
    rows = cdr_fixture(now, 40, oldest=timedelta(hours=5), newest=timedelta(hours=4), seed=32,
                       insert_delay=timedelta(minutes=30))
    for i, (_, record) in enumerate(rows):
        if i % 4 == 0:
            record.update({"User UUID": uuid_of(skipped).upper(), "User type": "User", "User": "Agente 100"})
        elif i % 4 == 1:
            record.update({"User UUID": uuid_of(people[7]), "User type": "User"})
    unknown_users = {r["User UUID"].lower() for _, r in rows if r["User type"] == "User"} - {
        uuid_of(p) for p in people}
    assert unknown_users  # legs of users /people does not know (random UUIDs)
    write_cdr_files(data_dir, rows)
    with run_sandbox(data_dir, time_scale=TIME_SCALE) as sandbox:
        settings = webex_settings(make_settings, sandbox, tmp_path)
        client = Deleter(sandbox)
        client.victim = deleted["id"]
        first = run_poll(settings, config=fast(settings), http=client.http, now=lambda: now)
        assert client.victim is None and first.cdr.loaded == len(rows)
        assert uuid_of(skipped) not in people_table(settings)  # the listing skipped him
        assert len(people_table(settings)) == N_PEOPLE - 1  # everyone else, the deleted person included

        lookups_before = len(client.id_lookups())
        second = run_poll(settings, config=fast(settings), http=client.http, now=lambda: now + timedelta(seconds=3))
        asked = [i for ids in client.id_lookups()[lookups_before:] for i in ids]
        lookups_before = len(client.id_lookups())
        third = run_poll(settings, config=fast(settings), http=client.http, now=lambda: now + timedelta(seconds=6))
        assert len(client.id_lookups()) == lookups_before  # nothing left to ask
    assert person(people_table(settings)[uuid_of(skipped)]) == ("agent100@bank.example", "Agente 100", "2100")
    assert second.people.records_read == 1 and second.people.loaded == 1
    assert second.people.directory_checks["listing_missed"] == 1
    assert second.people.directory_checks["cdr_people_not_found"] == len(unknown_users)
    # the people CDRs name and the directory lacks, each once; people[7] is stored: not asked
    assert sorted(webex_id_to_uuid(i) for i in asked) == sorted(unknown_users | {uuid_of(skipped)})
    assert third.people.records_read == 0 and not third.people.directory_checks


def test_a_429_from_people_waits_itself_and_does_not_pause_the_cdr_request_budget(make_settings, data_dir, tmp_path):
    """§1.5's limit is the CDR endpoints' own: a 429 from /people (its own rate limit) makes that
    request wait Retry-After, but no CDR request of this or any other run."""
    write_directory(data_dir)
    faults = [Fault("webex.people", "server_error", count=1, status=429, retry_after="30")]
    with run_sandbox(data_dir, time_scale=TIME_SCALE, faults=faults) as sandbox, httpx.Client(timeout=30) as http:
        config = fast(webex_settings(make_settings, sandbox, tmp_path))
        client = config.build_client(http)
        slept = []
        client.sleep = slept.append
        items = [item for page in client.list_items("people", PEOPLE_PARAMS) for item in page.items]
    assert len(items) == 7 and slept == [30.0] and client.stats.rate_limited == 1

    def must_not_wait(seconds):
        raise AssertionError(f"the CDR budget was paused: a CDR request would wait {seconds:.1f} s")

    another_run = RequestBudget(config.budget_file, window_seconds=config.rate_window_seconds, sleep=must_not_wait)
    assert another_run.acquire(INITIAL) == 0.0
