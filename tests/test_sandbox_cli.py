"""`switchboard sandbox serve` as a user runs it: a real process printing the env lines, serving
on loopback until stopped."""

from __future__ import annotations

import os
import queue
import signal
import subprocess
import sys
import threading
import time

import httpx

from switchboard.cli import main
from tests.sandbox_fixtures import build_fixture

ENV_NAMES = ["WEBEX_API_BASE_URL", "WEBEX_ANALYTICS_BASE_URL", "WEBEX_CLIENT_ID", "WEBEX_CLIENT_SECRET",
             "WEBEX_REFRESH_TOKEN", "ELEVENLABS_BASE_URL", "ELEVENLABS_API_KEY", "TWILIO_BASE_URL",
             "TWILIO_ACCOUNT_SID", "TWILIO_AUTH_TOKEN"]


def read_env_lines(process: subprocess.Popen, timeout: float = 60) -> dict[str, str]:
    """The NAME=value lines the server prints first (read on a thread so a hung server fails)."""
    lines: queue.Queue = queue.Queue()
    threading.Thread(target=lambda: [lines.put(line) for line in process.stdout], daemon=True).start()
    env: dict[str, str] = {}
    deadline = time.monotonic() + timeout
    while len(env) < len(ENV_NAMES) and time.monotonic() < deadline:
        try:
            line = lines.get(timeout=0.5)
        except queue.Empty:
            if process.poll() is not None:
                break
            continue
        name, _, value = line.strip().partition("=")
        env[name] = value
    return env


def test_serve_prints_env_lines_and_serves_until_stopped(tmp_path):
    build_fixture(tmp_path, cdr_count=20)
    process = subprocess.Popen(
        [sys.executable, "-m", "switchboard.cli", "sandbox", "serve", "--data", str(tmp_path), "--port", "0",
         "--time-scale", "60", "--faults", "webex.locations:server_error:1"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env={**os.environ, "PYTHONUNBUFFERED": "1"})
    try:
        env = read_env_lines(process)
        assert list(env) == ENV_NAMES, process.stderr.read() if process.poll() is not None else env
        assert env["WEBEX_API_BASE_URL"].startswith("http://127.0.0.1:")
        token = httpx.post(f"{env['WEBEX_API_BASE_URL']}/access_token", data={
            "grant_type": "refresh_token", "client_id": env["WEBEX_CLIENT_ID"],
            "client_secret": env["WEBEX_CLIENT_SECRET"], "refresh_token": env["WEBEX_REFRESH_TOKEN"]}).json()
        headers = {"Authorization": f"Bearer {token['access_token']}"}
        assert httpx.get(f"{env['WEBEX_API_BASE_URL']}/locations", headers=headers).status_code == 503  # --faults
        assert len(httpx.get(f"{env['WEBEX_API_BASE_URL']}/locations", headers=headers).json()["items"]) == 3
        messages = httpx.get(f"{env['TWILIO_BASE_URL']}/2010-04-01/Accounts/{env['TWILIO_ACCOUNT_SID']}/Messages.json",
                             auth=(env["TWILIO_ACCOUNT_SID"], env["TWILIO_AUTH_TOKEN"]))
        assert messages.status_code == 200 and len(messages.json()["messages"]) == 50
    finally:
        process.send_signal(signal.SIGINT)
        process.wait(timeout=20)
        process.stdout.close()
        process.stderr.close()


def test_serve_refuses_a_bad_fault_spec_and_a_missing_folder(tmp_path, capsys):
    assert main(["sandbox", "serve", "--data", str(tmp_path / "nope"), "--port", "0"]) == 2
    assert "does not exist" in capsys.readouterr().err
    assert main(["sandbox", "serve", "--data", str(tmp_path), "--port", "0", "--faults", "webex.cdr_feed:boom"]) == 2
    assert "unknown fault kind" in capsys.readouterr().err
