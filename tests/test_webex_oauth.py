"""OAuth refresh against the sandbox's token endpoint: rotation persisted owner-only, shared by
processes through the token file, a new WEBEX_REFRESH_TOKEN wins, dead tokens say what to do."""

import os
import stat

import httpx
import orjson
import pytest

from pipelines.webex.oauth import TokenManager, TokenStore, WebexAuthError
from simulator.sandbox import run_sandbox


@pytest.fixture
def sandbox(tmp_path):
    (tmp_path / "sim" / "webex").mkdir(parents=True)
    with run_sandbox(tmp_path / "sim", time_scale=60.0) as running:
        yield running


def manager(sandbox, store, refresh_token=None, **kw):
    creds = sandbox.credentials
    return TokenManager(token_url=f"{sandbox.base_urls.webex_api}/access_token", client_id=creds.webex_client_id,
                        client_secret=kw.pop("client_secret", creds.webex_client_secret),
                        refresh_token=refresh_token if refresh_token is not None else creds.webex_refresh_token,
                        store=store, http=httpx.Client(timeout=10), **kw)


def test_rotation_is_persisted_atomically_and_owner_only(sandbox, tmp_path):
    store = TokenStore(tmp_path / "secrets" / "tokens.json")
    first = manager(sandbox, store)
    token = first.access_token()
    assert sandbox.tokens.is_valid(token)
    assert stat.S_IMODE(os.stat(store.path).st_mode) == 0o600
    saved = orjson.loads(store.path.read_bytes())
    assert saved["refresh_token"] == sandbox.tokens.current_refresh_token  # the rotated one
    assert not [p for p in store.path.parent.iterdir() if p.name.endswith(".tmp")]
    assert first.access_token() == token and sandbox.tokens.refreshes == 1  # valid: no second refresh
    shown = repr(store.load()) + repr(first)
    assert saved["refresh_token"] not in shown and saved["access_token"] not in shown


def test_a_second_process_uses_the_token_another_one_rotated(sandbox, tmp_path):
    store = TokenStore(tmp_path / "tokens.json")
    a, b = manager(sandbox, store), manager(sandbox, store)
    old = a.access_token()
    sandbox.expire_access_tokens()
    new = a.refresh(rejected=old)  # A saw a 401 and rotated
    # B's request with the old token was refused too: it must not rotate again (the refresh token
    # it would use is already dead) but take A's new token from the shared file.
    assert b.refresh(rejected=old) == new
    assert sandbox.tokens.refreshes == 2


def test_new_refresh_token_in_settings_wins_over_a_dead_stored_one(sandbox, tmp_path):
    store = TokenStore(tmp_path / "tokens.json")
    manager(sandbox, store).access_token()
    sandbox.tokens.expire_refresh_token()
    sandbox.expire_access_tokens()
    with pytest.raises(WebexAuthError, match="WEBEX_REFRESH_TOKEN"):
        manager(sandbox, store).refresh(rejected=orjson.loads(store.path.read_bytes())["access_token"])
    # A person re-authorises; the sandbox issues a fresh refresh token, set in WEBEX_REFRESH_TOKEN.
    with sandbox.tokens._lock:
        from simulator.sandbox.webex_oauth import _Token

        sandbox.tokens._refresh = _Token("fresh-from-admin", sandbox.clock.monotonic() + 3600)
    assert sandbox.tokens.is_valid(manager(sandbox, store, refresh_token="fresh-from-admin").access_token())


def test_wrong_client_secret_names_the_settings(sandbox, tmp_path):
    with pytest.raises(WebexAuthError, match="WEBEX_CLIENT_ID and WEBEX_CLIENT_SECRET"):
        manager(sandbox, TokenStore(tmp_path / "t.json"), client_secret="wrong").access_token()
    assert not (tmp_path / "t.json").exists()


def test_backfill_command_without_webex_settings_says_what_to_set(make_settings, capsys):
    from switchboard.cli import main

    make_settings()
    assert main(["backfill", "webex-cdr", "--since", "2026-11-01"]) == 2
    assert "WEBEX_CLIENT_ID" in capsys.readouterr().err


@pytest.mark.parametrize("until", ["2026-11-01", "2026-10-31T23:00:00"])
def test_backfill_command_with_an_empty_range_is_a_usage_error(make_settings, capsys, until):
    from switchboard.cli import main

    make_settings()
    assert main(["backfill", "webex-cdr", "--since", "2026-11-01", "--until", until]) == 2
    assert "--until" in capsys.readouterr().err


def test_a_short_lived_token_is_renewed_halfway_not_before_every_request(tmp_path):
    """An access token that lives less than the 5-minute refresh margin (a test server's) is used
    until half its life is over, not refreshed (and its refresh token rotated) at every request."""
    (tmp_path / "sim" / "webex").mkdir(parents=True)
    now = [1_000_000.0]
    with run_sandbox(tmp_path / "sim", time_scale=5000.0) as short_lived:  # access tokens live ~4 min
        tokens = manager(short_lived, TokenStore(tmp_path / "tokens.json"), clock=lambda: now[0])
        first = tokens.access_token()
        lifetime = tokens.store.load().expires_at - now[0]
        assert 60 < lifetime < 300  # shorter than the refresh margin
        now[0] += lifetime * 0.4
        assert tokens.access_token() == first and short_lived.tokens.refreshes == 1
        now[0] += lifetime * 0.2  # past half its life
        assert tokens.access_token() != first and short_lived.tokens.refreshes == 2


def _temp_files(store: TokenStore) -> list[str]:
    return sorted(p.name for p in store.path.parent.iterdir() if p.name.endswith(".tmp"))


def test_the_temp_file_of_a_process_killed_before_its_rename_is_removed_by_the_next_refresh(sandbox, tmp_path):
    """A process killed between writing the temp file and renaming it leaves a whole token set
    beside the token file. The next refresh (under the token lock) removes it; a temp file whose
    process still runs is left alone."""
    import signal
    import subprocess
    import sys

    store = TokenStore(tmp_path / "secrets" / "tokens.json")
    killed_in_rename = (
        "import os, signal, sys\n"
        "from pipelines.webex.oauth import TokenStore, Tokens\n"
        "os.replace = lambda *a: os.kill(os.getpid(), signal.SIGKILL)\n"
        "TokenStore(sys.argv[1]).save(Tokens(access_token='LIVE-ACCESS', expires_at=9e9, "
        "refresh_token='LIVE-REFRESH', refresh_expires_at=None, seed='s'))\n")
    child = subprocess.run([sys.executable, "-c", killed_in_rename, str(store.path)], cwd=os.getcwd())
    assert child.returncode == -signal.SIGKILL
    [left] = _temp_files(store)
    assert b"LIVE-REFRESH" in (store.path.parent / left).read_bytes()  # what the audit found

    writer = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        running = store.path.parent / f".{store.path.name}.{writer.pid}.tmp"
        running.write_bytes(b"{}")  # a live process's write in progress
        token = manager(sandbox, store).access_token()  # no token file yet: a refresh
        assert sandbox.tokens.is_valid(token)
        assert _temp_files(store) == [running.name]
    finally:
        writer.kill()
        writer.wait()
    assert orjson.loads(store.path.read_bytes())["access_token"] == token


def test_a_failed_write_leaves_no_temp_file_and_the_previous_tokens_in_place(tmp_path, monkeypatch):
    from pipelines.webex.oauth import Tokens

    store = TokenStore(tmp_path / "tokens.json")
    store.save(Tokens(access_token="A1", expires_at=1.0, refresh_token="R1", refresh_expires_at=None, seed="s"))

    def disk_full(fd):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "fsync", disk_full)
    with pytest.raises(OSError, match="No space"):
        store.save(Tokens(access_token="A2", expires_at=2.0, refresh_token="R2", refresh_expires_at=None, seed="s"))
    monkeypatch.undo()
    assert _temp_files(store) == []
    assert store.load().refresh_token == "R1"


def test_a_dead_refresh_token_names_every_scope_the_integration_needs(sandbox, tmp_path):
    store = TokenStore(tmp_path / "tokens.json")
    manager(sandbox, store).access_token()
    sandbox.tokens.expire_refresh_token()
    sandbox.expire_access_tokens()
    with pytest.raises(WebexAuthError) as error:
        manager(sandbox, store).refresh(rejected=store.load().access_token)
    for scope in ("spark-admin:calling_cdr_read", "spark-admin:people_read", "spark-admin:locations_read"):
        assert scope in str(error.value)


def test_a_next_link_to_another_host_is_not_followed_with_the_token(tmp_path):
    """Every request carries the bearer token, so paging follows a next link only on the page's
    own host. (httpx's in-process transport stands in for the two hosts: the test is about which
    host a request is sent to, which it records exactly.)"""
    from pipelines.webex.client import WebexApiError, WebexClient

    seen: list[tuple[str, str | None]] = []

    def hosts(request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith("/access_token"):
            return httpx.Response(200, content=orjson.dumps({
                "access_token": "secret-access", "expires_in": 1_209_600, "refresh_token": "next",
                "refresh_token_expires_in": 7_776_000}))
        seen.append((request.url.host, request.headers.get("authorization")))
        if request.url.host == "webex.test" and "page" not in request.url.params:
            return httpx.Response(200, json={"items": [{"id": "p1"}]},
                                  headers={"Link": '<https://webex.test/v1/people?page=2>; rel="next"'})
        if request.url.host == "webex.test":
            return httpx.Response(200, json={"items": [{"id": "p2"}]},
                                  headers={"Link": '<https://collector.example/v1/people?page=3>; rel="next"'})
        return httpx.Response(200, json={"items": []})

    http = httpx.Client(transport=httpx.MockTransport(hosts))
    tokens = TokenManager(token_url="https://webex.test/v1/access_token", client_id="id", client_secret="s",
                          refresh_token="first", store=TokenStore(tmp_path / "tokens.json"), http=http)
    client = WebexClient(api_base_url="https://webex.test/v1", analytics_base_url="https://webex.test/v1",
                         tokens=tokens, budget=None, http=http)
    pages = client.list_items("people", {})
    assert [item["id"] for item in next(pages).items] == ["p1"]
    assert [item["id"] for item in next(pages).items] == ["p2"]  # a next link on the same host is followed
    with pytest.raises(WebexApiError, match="another host"):
        next(pages)
    assert [host for host, _ in seen] == ["webex.test", "webex.test"]
    assert all(auth == "Bearer secret-access" for _, auth in seen)


def test_a_token_rejected_again_after_its_refresh_says_to_authorise_again(sandbox, tmp_path):
    """401 means Webex does not accept the token (a missing scope is a 403): one refresh, and when
    the fresh token is refused too, the run stops saying to authorise again, not to add scopes.
    The sandbox revokes every token it has issued, the fresh one included, before each request."""
    from pipelines.webex.client import WebexApiError, WebexClient

    def revoke_all(request: httpx.Request) -> None:
        sandbox.expire_access_tokens()

    http = httpx.Client(timeout=10, event_hooks={"request": [revoke_all]})
    client = WebexClient(api_base_url=sandbox.base_urls.webex_api, analytics_base_url=sandbox.base_urls.webex_analytics,
                         tokens=manager(sandbox, TokenStore(tmp_path / "tokens.json")), budget=None, http=http)
    with pytest.raises(WebexApiError) as error:
        next(client.list_items("people", {}))
    assert "401" in str(error.value) and "authorise again" in str(error.value)
    assert "scope" not in str(error.value)
    assert client.stats.token_refreshes_after_401 == 1
