"""How fast the sandbox serves CDRs: `python -m simulator.sandbox.bench --data DIR [--parse]`.

Indexes DIR, then walks `cdr_feed` over every 12-hour window from the oldest servable
`Start time` to now − 6 min with `httpx` in this process (rate limits off), following the
`Link` pages, and prints index time and records per second. `--parse` also decodes each page
with orjson, as an ingestion client would."""

from __future__ import annotations

import argparse
import time
from datetime import UTC, datetime

import httpx
import numpy as np
import orjson

from pipelines.webex.client import next_link  # the ingestion client's own reading of Link
from simulator.sandbox.app import run_sandbox
from simulator.sandbox.data import load_sandbox_data
from simulator.sandbox.rules import format_webex_time


def walk_cdr_feed(sandbox, parse: bool) -> tuple[int, int]:
    """(records, bytes) served for every 12-hour window the feed rules allow."""
    starts = sandbox.state.data.cdr.start_ms[sandbox.state.data.cdr.by_start]
    now_ms = round(time.time() * 1000)
    if not len(starts):
        return 0, 0
    cursor = max(int(np.min(starts)), now_ms - 30 * 86_400_000 + 60_000)
    last = now_ms - 6 * 60_000
    headers = {"Authorization": f"Bearer {sandbox.tokens.issue_access_token()}"}
    records = size = 0
    with httpx.Client(timeout=120) as client:
        while cursor < last:
            end = min(cursor + 12 * 3_600_000, last)
            response = client.get(f"{sandbox.base_urls.webex_analytics}/cdr_feed", headers=headers,
                                  params={"startTime": format_webex_time(cursor), "endTime": format_webex_time(end)})
            while response.status_code == 200:
                size += len(response.content)
                records += (len(orjson.loads(response.content)["items"]) if parse
                            else response.content.count(b'"Report ID"'))
                link = next_link(response.headers, str(response.url))
                if not link:
                    break
                response = client.get(link, headers=headers)
            cursor = end
    return records, size


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", required=True)
    parser.add_argument("--parse", action="store_true", help="decode every page with orjson")
    args = parser.parse_args(argv)
    started = time.perf_counter()
    data = load_sandbox_data(args.data)
    indexed = time.perf_counter() - started
    print(f"indexed {len(data.cdr):,} CDRs in {indexed:.1f} s", flush=True)
    with run_sandbox(data, time_scale=1, limits=False) as sandbox:
        started = time.perf_counter()
        records, size = walk_cdr_feed(sandbox, args.parse)
        elapsed = time.perf_counter() - started
    print(f"served {records:,} records ({size / 1e9:.2f} GB) in {elapsed:.1f} s = "
          f"{records / max(elapsed, 1e-9):,.0f} records/s{' (parsed)' if args.parse else ''}; "
          f"at {datetime.now(UTC):%H:%M} UTC")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
