"""Webex sandbox over real HTTP on loopback: CDR windows, paging, limits, regions, OAuth,
people/locations and converged recordings."""

from __future__ import annotations

import base64
import re
import time
from datetime import UTC, datetime, timedelta

import httpx
import orjson
import pytest

from simulator.sandbox import run_sandbox
from simulator.sandbox.data import load_sandbox_data
from tests.sandbox_fixtures import build_fixture, iso_ms

LINK_NEXT = re.compile(r'<([^>]+)>\s*;\s*rel="next"')
SCALE = 120  # a rate-limit "minute" lasts 0.5 s


@pytest.fixture(scope="module")
def fixture(tmp_path_factory):
    return build_fixture(tmp_path_factory.mktemp("sandbox_webex"))


@pytest.fixture(scope="module")
def sandbox(fixture):
    with run_sandbox(fixture.root, time_scale=SCALE) as running:
        yield running


def auth(sandbox) -> dict:
    """A fresh token per test: rate-limit budgets are per token."""
    return {"Authorization": f"Bearer {sandbox.tokens.issue_access_token()}"}


def feed_url(sandbox, kind="cdr_feed"):
    return f"{sandbox.base_urls.webex_analytics}/{kind}"


def window(now: datetime, start_ago: timedelta, end_ago: timedelta) -> dict:
    return {"startTime": iso_ms(now - start_ago), "endTime": iso_ms(now - end_ago)}


def fetch_all(client: httpx.Client, url: str, params: dict | None, headers: dict):
    """Follow `Link: rel="next"` verbatim; returns (items, responses)."""
    items, responses = [], []
    response = client.get(url, params=params, headers=headers)
    while True:
        responses.append(response)
        assert response.status_code == 200, response.text
        items += response.json()["items"]
        match = LINK_NEXT.search(response.headers.get("link", ""))
        if not match:
            return items, responses
        response = client.get(match.group(1), headers=headers)


def expected_feed(fixture, start: datetime, end: datetime, locations=None):
    chosen = [c["record"] for c in fixture.cdrs
              if c["record"]["Start time"] and iso_ms(start) <= c["record"]["Start time"] < iso_ms(end)
              and (locations is None or c["record"]["Location"] in locations)]
    return sorted(chosen, key=lambda r: r["Start time"])


# --- cdr_feed / cdr_stream rules ------------------------------------------------------------------

@pytest.mark.parametrize("params, message", [
    ({"endTime": "2026-01-01T00:00:00.000Z"}, "startTime is required"),
    ({"startTime": "2026-01-01T00:00:00Z", "endTime": "2026-01-01T01:00:00.000Z"}, "YYYY-MM-DDTHH:MM:SS.mmmZ"),
    ("end_before_start", "after startTime"),
    ("thirteen_hours", "12 hours"),
    ("too_recent", "5 minute"),
    ("older_than_30_days", "30 days"),
    ("max_not_a_number", "max must be an integer"),
    ("eleven_locations", "At most 10 locations"),
])
def test_cdr_feed_refuses_broken_windows_with_400(sandbox, params, message):
    now = datetime.now(UTC)
    named = {
        "end_before_start": window(now, timedelta(hours=1), timedelta(hours=2)),
        "thirteen_hours": window(now, timedelta(hours=14), timedelta(hours=1)),
        "too_recent": window(now, timedelta(hours=1), timedelta(minutes=2)),
        "older_than_30_days": window(now, timedelta(days=31), timedelta(days=30, hours=23)),
        "max_not_a_number": {**window(now, timedelta(hours=1), timedelta(minutes=6)), "max": "lots"},
        "eleven_locations": {**window(now, timedelta(hours=1), timedelta(minutes=6)),
                             "locations": ",".join(f"Sede {i}" for i in range(11))},
    }
    response = httpx.get(feed_url(sandbox), params=named[params] if isinstance(params, str) else params,
                         headers=auth(sandbox))
    assert response.status_code == 400
    body = response.json()
    assert message in body["message"] and body["errors"][0]["description"] == body["message"]
    assert body["trackingId"] and response.headers["trackingid"]


@pytest.mark.parametrize("delta, message", [
    ((timedelta(hours=3), timedelta(minutes=30)), "2 hours"),
    ((timedelta(minutes=30), timedelta(seconds=20)), "1 minute"),
    ((timedelta(hours=13), timedelta(hours=12, minutes=30)), "12 hours"),
])
def test_cdr_stream_refuses_broken_windows_with_400(sandbox, delta, message):
    params = window(datetime.now(UTC), *delta)
    response = httpx.get(feed_url(sandbox, "cdr_stream"), params=params, headers=auth(sandbox))
    assert response.status_code == 400 and message in response.json()["message"]


def test_answers_tell_the_sandbox_clock_in_their_date_header(fixture):
    """A real API's `Date` is its server's clock; the sandbox's, set off ours, judges windows by it."""
    from email.utils import parsedate_to_datetime

    with run_sandbox(fixture.root, time_scale=SCALE) as behind:
        behind.clock.offset_seconds = -300
        now = datetime.now(UTC)
        response = httpx.get(feed_url(behind, "cdr_stream"), headers=auth(behind),
                             params=window(now, timedelta(minutes=30), timedelta(minutes=2)))
    assert response.status_code == 400 and "1 minute" in response.json()["message"]
    assert response.headers.get_list("date") == [response.headers["date"]]  # uvicorn's own is off
    told = parsedate_to_datetime(response.headers["date"])
    assert abs(told - (now - timedelta(minutes=5))) < timedelta(seconds=3)


def test_empty_window_is_404_with_the_documented_message(sandbox):
    params = window(datetime.now(UTC), timedelta(days=3), timedelta(days=2, hours=20))
    response = httpx.get(feed_url(sandbox), params=params, headers=auth(sandbox))
    assert response.status_code == 404
    assert response.json()["message"] == "No CDRs for requested time range and filters"


def test_cdr_feed_pages_follow_link_verbatim_and_return_exact_records(sandbox, fixture):
    start, end = fixture.now - timedelta(hours=1), fixture.now - timedelta(minutes=6)
    params = {"startTime": iso_ms(start), "endTime": iso_ms(end), "max": "10"}  # raised to 500
    with httpx.Client() as client:
        items, responses = fetch_all(client, feed_url(sandbox), params, auth(sandbox))
    expected = expected_feed(fixture, start, end)
    assert len(expected) > 1000
    assert items == expected  # same records, same bytes decoded, start-time order, none twice
    pages = [r.json()["items"] for r in responses]
    assert len(pages) == 3 and all(500 <= len(page) <= 502 for page in pages[:2])
    for page, following in zip(pages, pages[1:], strict=False):  # a page grows rather than split one millisecond
        assert page[-1]["Start time"] < following[0]["Start time"]
    assert len(pages[0]) == 501  # the fixture puts a tie on the 500th/501st record
    next_link = LINK_NEXT.search(responses[0].headers["link"]).group(1)
    assert next_link.startswith(feed_url(sandbox) + "?endTime=")
    assert f"totalCount={len(expected)}" in next_link and "max=500" in next_link
    assert "orgId=5f0e9a57-1c1d-4b6a-9d43-0a1b2c3d4e5f" in next_link
    assert re.search(r"startTimeForNextFetch=\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", next_link)
    assert "link" not in responses[-1].headers


def test_max_is_clamped_to_5000(sandbox, fixture):
    start, end = fixture.now - timedelta(hours=1), fixture.now - timedelta(minutes=6)
    response = httpx.get(feed_url(sandbox), params={"startTime": iso_ms(start), "endTime": iso_ms(end),
                                                    "max": "100000"}, headers=auth(sandbox))
    assert response.status_code == 200 and "link" not in response.headers
    assert len(response.json()["items"]) == len(expected_feed(fixture, start, end))


def test_cdr_feed_filters_location_names(sandbox, fixture):
    start, end = fixture.now - timedelta(hours=1), fixture.now - timedelta(minutes=6)
    params = {"startTime": iso_ms(start), "endTime": iso_ms(end), "locations": "Bogota Centro,Cali Sur", "max": "500"}
    with httpx.Client() as client:
        items, responses = fetch_all(client, feed_url(sandbox), params, auth(sandbox))
    assert items == expected_feed(fixture, start, end, {"Bogota Centro", "Cali Sur"})
    assert "locations=Bogota%20Centro,Cali%20Sur" in responses[0].headers["link"]


def test_cdr_feed_can_filter_on_report_time_instead(fixture):
    start, end = fixture.now - timedelta(minutes=25), fixture.now - timedelta(minutes=6)
    with run_sandbox(fixture.root, time_scale=SCALE, cdr_feed_filter="report") as sandbox, httpx.Client() as client:
        items, _ = fetch_all(client, feed_url(sandbox), {"startTime": iso_ms(start), "endTime": iso_ms(end),
                                                         "max": "500"}, auth(sandbox))
    expected = [c["record"] for c in fixture.cdrs if iso_ms(start) <= c["record"]["Report time"] < iso_ms(end)]
    by_start = [c["record"] for c in fixture.cdrs if iso_ms(start) <= c["record"]["Start time"] < iso_ms(end)]
    assert sorted(r["Report ID"] for r in items) == sorted(r["Report ID"] for r in expected)
    assert {r["Report ID"] for r in expected} != {r["Report ID"] for r in by_start}  # a different selection
    assert [r["Report time"] for r in items] == sorted(r["Report time"] for r in items)


def test_cdr_feed_serves_no_record_before_webex_has_it(tmp_path):
    """The simulator makes some records hours late: cdr_feed, which filters on Start time, served
    them before their inserted_at, so a backfill of a recent range could never miss one and no
    test could catch a client that loses them (independent audit)."""
    import random

    from tests.webex_fixtures import cdr_record, write_cdr_files

    now = datetime.now(UTC)
    rng = random.Random(3)
    on_time, late = (cdr_record(rng, now - timedelta(hours=3, minutes=m)) for m in (1, 2))
    write_cdr_files(tmp_path, [(now - timedelta(hours=2), on_time), (now + timedelta(hours=1), late)])
    with run_sandbox(tmp_path, time_scale=SCALE) as sandbox, httpx.Client() as client:
        items, _ = fetch_all(client, feed_url(sandbox), window(now, timedelta(hours=4), timedelta(hours=2)),
                             auth(sandbox))
    assert [r["Report ID"] for r in items] == [on_time["Report ID"]]


def test_cdr_stream_filters_on_insertion_time(sandbox, fixture):
    now = datetime.now(UTC)
    start, end = now - timedelta(hours=2), now - timedelta(minutes=1)
    with httpx.Client() as client:
        items, _ = fetch_all(client, feed_url(sandbox, "cdr_stream"),
                             {"startTime": iso_ms(start), "endTime": iso_ms(end)}, auth(sandbox))
    expected = [c["record"] for c in fixture.cdrs if iso_ms(start) <= c["inserted_at"] < iso_ms(end)]
    assert items == expected  # insertion order, including records with a blank Start time
    assert any(not record["Start time"] for record in items)


def test_rate_limit_429_with_retry_after_then_budget_resets(fixture):
    scale = 20  # a rate-limit minute lasts 3 s: long enough for a loaded machine to stay inside it
    with run_sandbox(fixture.root, time_scale=scale) as sandbox:
        headers = auth(sandbox)
        params = {"startTime": iso_ms(fixture.now - timedelta(hours=1)),
                  "endTime": iso_ms(fixture.now - timedelta(minutes=6)), "max": "500"}
        with httpx.Client() as client:
            first = client.get(feed_url(sandbox), params=params, headers=headers)
            assert first.status_code == 200
            refused = client.get(feed_url(sandbox, "cdr_stream"), params=window(datetime.now(UTC),
                                 timedelta(hours=1), timedelta(minutes=2)), headers=headers)  # budget shared by both
            assert refused.status_code == 429
            assert refused.json()["message"] == "Request rate exceeds threshold"
            assert refused.headers["retry-after"] in ("1", "2", "3")  # whole seconds, at least 1
            precise = float(refused.headers["x-sandbox-retry-after"])
            assert 0 < precise <= 60 / scale and refused.json()["retryAfterSeconds"] == pytest.approx(precise)
            # page requests have their own budget of 10 per minute
            next_url = LINK_NEXT.search(first.headers["link"]).group(1)
            statuses = [client.get(next_url, headers=headers).status_code for _ in range(11)]
            assert statuses == [200] * 10 + [429]
            assert client.get(feed_url(sandbox), params=params, headers=auth(sandbox)).status_code == 200  # other token
            time.sleep(60 / scale + 0.05)  # one scaled minute after every accepted request
            assert client.get(feed_url(sandbox), params=params, headers=headers).status_code == 200
            assert client.get(next_url, headers=headers).status_code == 200
        assert sandbox.stats.snapshot()["rate_limited"] == {"webex.cdr_stream": 1, "webex.cdr_feed": 1}


def test_limits_off_serves_any_number_of_requests_from_data_loaded_once(fixture):
    data = load_sandbox_data(fixture.root)
    for _ in range(2):  # a loaded folder can back several sandboxes in turn
        with run_sandbox(data, time_scale=1, limits=False) as quiet:
            headers = auth(quiet)
            params = window(datetime.now(UTC), timedelta(hours=1), timedelta(minutes=6))
            assert {httpx.get(feed_url(quiet), params=params, headers=headers).status_code for _ in range(5)} == {200}
    data.close()


def test_wrong_region_answers_451_naming_the_right_base_url(sandbox):
    params = window(datetime.now(UTC), timedelta(hours=1), timedelta(minutes=6))
    response = httpx.get(f"{sandbox.base_urls.webex_analytics_other_region}/cdr_feed", params=params,
                         headers=auth(sandbox))
    assert response.status_code == 451
    assert sandbox.base_urls.webex_analytics in response.json()["message"]
    assert sandbox.base_urls.webex_analytics.endswith("/webex-analytics/us/v1")


def test_every_webex_api_needs_a_valid_token(sandbox):
    params = window(datetime.now(UTC), timedelta(hours=1), timedelta(minutes=6))
    for headers in ({}, {"Authorization": "Bearer not-a-token"}, {"Authorization": "Basic eDp5"}):
        assert httpx.get(feed_url(sandbox), params=params, headers=headers).status_code == 401
        assert httpx.get(f"{sandbox.base_urls.webex_api}/people", headers=headers).status_code == 401
        assert httpx.get(f"{sandbox.base_urls.webex_api}/admin/convergedRecordings",
                         headers=headers).status_code == 401


# --- OAuth -------------------------------------------------------------------------------------------

def refresh(sandbox, refresh_token, secret=None, basic=False):
    creds = sandbox.credentials
    form = {"grant_type": "refresh_token", "refresh_token": refresh_token}
    if basic:
        pair = f"{creds.webex_client_id}:{secret or creds.webex_client_secret}".encode()
        return httpx.post(f"{sandbox.base_urls.webex_api}/access_token", data=form,
                          headers={"Authorization": "Basic " + base64.b64encode(pair).decode()})
    form.update(client_id=creds.webex_client_id, client_secret=secret or creds.webex_client_secret)
    return httpx.post(f"{sandbox.base_urls.webex_api}/access_token", data=form)


def test_refresh_rotates_and_the_old_refresh_token_is_refused(fixture):
    with run_sandbox(fixture.root, time_scale=SCALE) as sandbox:
        wrong = refresh(sandbox, sandbox.credentials.webex_refresh_token, secret="nope")
        assert wrong.status_code == 400 and wrong.json()["error"] == "invalid_client"
        first = refresh(sandbox, sandbox.credentials.webex_refresh_token)
        assert first.status_code == 200
        body = first.json()
        assert set(body) >= {"access_token", "expires_in", "refresh_token", "refresh_token_expires_in", "token_type"}
        assert body["token_type"] == "Bearer" and body["refresh_token"] != sandbox.credentials.webex_refresh_token
        assert body["expires_in"] == int(1_209_599 / SCALE)  # lifetimes are scaled
        reused = refresh(sandbox, sandbox.credentials.webex_refresh_token)
        assert reused.status_code == 400 and reused.json()["error"] == "invalid_grant"
        second = refresh(sandbox, body["refresh_token"], basic=True)  # client credentials as HTTP Basic
        assert second.status_code == 200 and sandbox.tokens.current_refresh_token == second.json()["refresh_token"]
        people = f"{sandbox.base_urls.webex_api}/people"
        for token in (body["access_token"], second.json()["access_token"]):  # earlier access tokens stay valid
            assert httpx.get(people, headers={"Authorization": f"Bearer {token}"}).status_code == 200
        sandbox.expire_access_tokens()
        for token in (body["access_token"], second.json()["access_token"]):
            assert httpx.get(people, headers={"Authorization": f"Bearer {token}"}).status_code == 401
        third = refresh(sandbox, second.json()["refresh_token"])
        assert httpx.get(people, headers={"Authorization": f"Bearer {third.json()['access_token']}"}).status_code == 200


def test_tokens_expire_on_the_scaled_clock(fixture):
    scale = 1_209_599 / 2  # the 14-day access token lives 2 s, the 90-day refresh token ~13 s
    with run_sandbox(fixture.root, time_scale=scale) as sandbox:
        body = refresh(sandbox, sandbox.credentials.webex_refresh_token).json()
        assert body["expires_in"] == 2
        people = f"{sandbox.base_urls.webex_api}/people"
        headers = {"Authorization": f"Bearer {body['access_token']}"}
        assert httpx.get(people, headers=headers).status_code == 200
        time.sleep(2.05)
        assert httpx.get(people, headers=headers).status_code == 401
        sandbox.tokens.expire_refresh_token()
        expired = refresh(sandbox, body["refresh_token"])
        assert expired.status_code == 400 and "expired" in expired.json()["error_description"]


# --- people and locations -----------------------------------------------------------------------------

def test_people_pages_and_base64_ids_decode_to_the_cdr_uuids(sandbox, fixture):
    with httpx.Client() as client:
        items, responses = fetch_all(client, f"{sandbox.base_urls.webex_api}/people", {"max": "3"}, auth(sandbox))
    assert items == fixture.people and len(responses) == 3
    uuids = {base64.b64decode(p["id"] + "==").decode().rsplit("/", 1)[1] for p in items}
    assert all(base64.b64decode(p["id"] + "==").decode().startswith("ciscospark://us/PEOPLE/") for p in items)
    assert uuids == {c["record"]["User UUID"] for c in fixture.cdrs}


def test_people_and_locations_filters(sandbox, fixture):
    api, headers = sandbox.base_urls.webex_api, auth(sandbox)
    by_email = httpx.get(f"{api}/people", params={"email": "AGENTE2@banco.example"}, headers=headers).json()
    assert [p["displayName"] for p in by_email["items"]] == ["Agente 2"]
    wanted = [fixture.people[1]["id"], "bm9wZQ"]
    by_id = httpx.get(f"{api}/people", params={"id": ",".join(wanted)}, headers=headers).json()
    assert by_id["items"] == [fixture.people[1]] and by_id["notFoundIds"] == ["bm9wZQ"]
    located = httpx.get(f"{api}/locations", params={"name": "medellin"}, headers=headers).json()["items"]
    assert located == [fixture.locations[1]]
    site_uuid = base64.b64decode(located[0]["id"] + "==").decode().rsplit("/", 1)[1]
    assert site_uuid in {c["record"]["Site UUID"] for c in fixture.cdrs if c["record"]["Location"] == "Medellin Norte"}


# --- converged recordings -------------------------------------------------------------------------------

def test_admin_and_user_recording_lists(sandbox, fixture):
    api = sandbox.base_urls.webex_api
    with httpx.Client() as client:
        admin, responses = fetch_all(client, f"{api}/admin/convergedRecordings", {"max": "10"}, auth(sandbox))
        expected = sorted((r for r in fixture.recordings if r["status"] == "available"),
                          key=lambda r: r["createTime"], reverse=True)
        assert [r["id"] for r in admin] == [r["id"] for r in expected] and len(responses) == 3
        assert all("metadata" not in r and "temporaryDirectDownloadLinks" not in r for r in admin)
        mine, _ = fetch_all(client, f"{api}/convergedRecordings", None, auth(sandbox))
        assert {r["id"] for r in mine} == {r["id"] for r in expected if r["ownerId"] == sandbox.credentials.webex_user_id}
        deleted, _ = fetch_all(client, f"{api}/admin/convergedRecordings", {"status": "deleted"}, auth(sandbox))
        assert [r["id"] for r in deleted] == [fixture.recordings[3]["id"]]
        by_owner, _ = fetch_all(client, f"{api}/admin/convergedRecordings",
                                {"ownerEmail": "agente1@banco.example", "topic": "CALL WITH"}, auth(sandbox))
        assert {r["id"] for r in by_owner} == {r["id"] for r in expected if r["ownerEmail"] == "agente1@banco.example"}
        windowed, _ = fetch_all(client, f"{api}/admin/convergedRecordings",
                                {"from": iso_ms(fixture.now - timedelta(hours=10)), "to": iso_ms(fixture.now)}, auth(sandbox))
        assert [r["id"] for r in windowed] == [r["id"] for r in expected if r["createTime"] >= iso_ms(fixture.now - timedelta(hours=10))]
        too_long = client.get(f"{api}/admin/convergedRecordings", headers=auth(sandbox),
                              params={"from": "2026-01-01T00:00:00Z", "to": "2026-03-01T00:00:00Z"})
        assert too_long.status_code == 400 and "30 days" in too_long.json()["message"]


def test_recording_details_links_download_then_expire(fixture):
    with run_sandbox(fixture.root, time_scale=3 * 3600 / 3) as sandbox:  # links live 3 s instead of 3 h
        recording = fixture.recordings[0]
        headers = auth(sandbox)
        asked = datetime.now(UTC)
        details = httpx.get(f"{sandbox.base_urls.webex_api}/convergedRecordings/{recording['id']}", headers=headers)
        assert details.status_code == 200
        body = details.json()
        links = body.pop("temporaryDirectDownloadLinks")
        assert body == {k: v for k, v in recording.items() if k != "metadata"}
        audio = httpx.get(links["audioDownloadLink"])  # direct link: no token needed
        assert audio.status_code == 200 and audio.content == (fixture.root / "webex/recordings/files"
                                                              / f"{recording['id']}.wav").read_bytes()
        transcript = httpx.get(links["transcriptDownloadLink"])
        assert transcript.headers["content-type"].startswith("text/vtt") and transcript.text.startswith("WEBVTT")
        tampered = httpx.get(links["audioDownloadLink"].replace("/audio?", "/transcript?"))
        assert tampered.status_code == 403
        expiration = datetime.strptime(links["expiration"], "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=UTC)
        assert asked + timedelta(seconds=2.9) <= expiration <= datetime.now(UTC) + timedelta(seconds=3)
        time.sleep(max(0.0, (expiration - datetime.now(UTC)).total_seconds()) + 0.05)
        expired = httpx.get(links["audioDownloadLink"])
        assert expired.status_code == 403 and "expired" in expired.json()["message"]
        fresh = httpx.get(f"{sandbox.base_urls.webex_api}/convergedRecordings/{recording['id']}", headers=headers)
        assert httpx.get(fresh.json()["temporaryDirectDownloadLinks"]["audioDownloadLink"]).status_code == 200


def test_recording_metadata_and_unknown_recording(sandbox, fixture):
    recording = fixture.recordings[1]
    url = f"{sandbox.base_urls.webex_api}/convergedRecordings/{recording['id']}/metadata"
    short = httpx.get(url, headers=auth(sandbox)).json()
    assert short["serviceData"]["callActivity"] == [{"timeStamp": recording["metadata"]["serviceData"]["callActivity"][0]["timeStamp"]}]
    full = httpx.get(url, params={"showAllTypes": "true"}, headers=auth(sandbox)).json()
    assert full == orjson.loads(orjson.dumps(recording["metadata"]))
    missing = httpx.get(f"{sandbox.base_urls.webex_api}/convergedRecordings/nope", headers=auth(sandbox))
    assert missing.status_code == 404


def test_scopes_gate_apis_and_recording_download_links(sandbox, fixture):
    api = sandbox.base_urls.webex_api
    admin_only = {"Authorization": "Bearer " + sandbox.tokens.issue_access_token(
        "spark-admin:recordings_read spark-admin:people_read")}
    assert httpx.get(f"{api}/people", headers=admin_only).status_code == 200
    listed = httpx.get(f"{api}/admin/convergedRecordings", headers=admin_only)
    assert listed.status_code == 200 and listed.json()["items"]
    someone_else = next(r for r in fixture.recordings if r["ownerId"] != sandbox.credentials.webex_user_id)
    details = httpx.get(f"{api}/convergedRecordings/{someone_else['id']}", headers=admin_only)
    assert details.status_code == 200 and "temporaryDirectDownloadLinks" not in details.json()
    params = window(datetime.now(UTC), timedelta(hours=1), timedelta(minutes=6))
    refused = httpx.get(feed_url(sandbox), params=params, headers=admin_only)
    assert refused.status_code == 403 and "spark-admin:calling_cdr_read" in refused.json()["message"]

    user = {"Authorization": "Bearer " + sandbox.tokens.issue_access_token("spark:recordings_read")}
    assert httpx.get(f"{api}/admin/convergedRecordings", headers=user).status_code == 403
    own = next(r for r in fixture.recordings if r["ownerId"] == sandbox.credentials.webex_user_id)
    assert "temporaryDirectDownloadLinks" in httpx.get(f"{api}/convergedRecordings/{own['id']}", headers=user).json()
    assert "temporaryDirectDownloadLinks" not in httpx.get(f"{api}/convergedRecordings/{someone_else['id']}",
                                                           headers=user).json()


def test_oauth_client_scopes_come_from_the_credentials(fixture):
    with run_sandbox(fixture.root, credentials={"webex_scopes": "spark-admin:people_read"}) as narrow:
        body = refresh(narrow, narrow.credentials.webex_refresh_token).json()
        assert body["scope"] == "spark-admin:people_read"
        headers = {"Authorization": f"Bearer {body['access_token']}"}
        assert httpx.get(f"{narrow.base_urls.webex_api}/people", headers=headers).status_code == 200
        assert httpx.get(f"{narrow.base_urls.webex_api}/admin/convergedRecordings", headers=headers).status_code == 403
