"""`switchboard backfill webex-cdr --since … --until …`: load a range of Webex CDRs from cdr_feed.

Times are ISO-8601 (`2026-11-01`, `2026-11-01T06:00`, `2026-11-01T06:00:00-05:00`); without a
zone they are UTC. The feed keeps 30 days and needs records at least 5 minutes old: the part of
the range it cannot serve is reported (older data: drop Control Hub CSV exports in
WEBEX_CONTROL_HUB_DIR). Windows wait for the shared request budget, so a 30-day range takes
about an hour, as Webex's rate limit dictates.
"""

from __future__ import annotations

import argparse
import sys
from datetime import UTC, datetime


def parse_time(text: str) -> datetime:
    try:
        moment = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not an ISO-8601 date or time (e.g. 2026-11-01T06:00)") from None
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment


def add_command(subparsers) -> None:
    backfill = subparsers.choices.get("backfill")
    if backfill is None:
        backfill = subparsers.add_parser("backfill", help="load a past time range of a source")
        backfill.set_defaults(run=lambda args: (backfill.print_help(), 2)[1])
        backfill._switchboard_targets = backfill.add_subparsers(dest="backfill_target", metavar="SOURCE")
    targets = backfill._switchboard_targets
    cdr = targets.add_parser(
        "webex-cdr", help="Webex Calling CDRs from cdr_feed (≤30 days back)",
        description="Load the Webex Calling CDRs of a past range from cdr_feed (at most 30 days back) into "
                    "raw_webex.cdr, once each. Exit codes: 0 done, 2 a wrong argument or setting (before any "
                    "work), 3 the refresh token was refused (authorise the integration again), 4 the API "
                    "refused a request; with 3 or 4 after part of the range loaded, that part stays.")
    cdr.add_argument("--since", type=parse_time, required=True, help="start (inclusive), ISO-8601; UTC if no zone")
    cdr.add_argument("--until", type=parse_time, default=None, help="end (exclusive), ISO-8601; default: now")
    cdr.set_defaults(run=run_backfill_command)


def run_backfill_command(args) -> int:
    from pipelines.webex.client import WebexApiError
    from pipelines.webex.oauth import WebexAuthError
    from pipelines.webex.pipeline import WebexRunStopped, run_backfill
    from switchboard.settings import load_settings

    until = args.until or datetime.now(UTC)
    if until <= args.since:
        print(f"switchboard: --until ({until.isoformat()}) must be later than --since ({args.since.isoformat()})",
              file=sys.stderr)
        return 2
    settings = load_settings()
    if not settings.webex_api_configured:
        print("switchboard: the Webex API is not configured: set WEBEX_CLIENT_ID, WEBEX_CLIENT_SECRET and "
              "WEBEX_REFRESH_TOKEN", file=sys.stderr)
        return 2
    stopped = None
    try:
        report = run_backfill(settings, args.since, until)
    except WebexRunStopped as exc:  # part of the range was loaded
        report, stopped = exc.report, exc
    except (WebexAuthError, WebexApiError) as exc:
        print(f"switchboard: {exc}", file=sys.stderr)
        return _exit_code(exc)
    counts = report.cdr
    print(f"webex-cdr backfill {args.since.isoformat()} – {until.isoformat()}: {counts.summary_line()}")
    for part in counts.unavailable:
        print(f"  not available: {part}")
    if stopped is not None:
        print(f"switchboard: stopped part-way: {stopped}", file=sys.stderr)
        return _exit_code(stopped.cause)
    return 0


def _exit_code(error: Exception) -> int:
    """3: the token (authorise again); 4: the API refused a request."""
    from pipelines.webex.oauth import WebexAuthError

    return 3 if isinstance(error, WebexAuthError) else 4
