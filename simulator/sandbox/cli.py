"""`switchboard sandbox serve --data DIR [--port P] [--time-scale X] [--faults SPEC] [--limits on|off]`

Serves a simulator folder on loopback and prints the environment lines a client needs."""

from __future__ import annotations

import argparse
import sys

from simulator.sandbox.faults import ENDPOINTS, parse_fault_spec


def add_command(subparsers) -> None:
    sandbox = subparsers.add_parser("sandbox", help="sandbox provider APIs (Webex, ElevenLabs, Twilio) on loopback")
    actions = sandbox.add_subparsers(dest="sandbox_command", required=True)
    serve = actions.add_parser("serve", help="serve a simulator output folder until Ctrl-C",
                               formatter_class=argparse.RawDescriptionHelpFormatter,
                               epilog="fault endpoints: " + ", ".join(ENDPOINTS))
    serve.add_argument("--data", required=True, help="simulator output folder (switchboard simulate --out)")
    serve.add_argument("--port", type=int, default=8765, help="loopback port (0 = any free port; default 8765)")
    serve.add_argument("--time-scale", type=float, default=1.0,
                       help="shorten durations (rate-limit minute, token lifetimes, link expiry) by this factor")
    serve.add_argument("--faults", default="",
                       help="ENDPOINT:KIND[:COUNT[:OPTION=VALUE...]],… KIND server_error|slow|truncate|"
                            "repeat_page|error_with_200, COUNT * = always; e.g. webex.cdr_feed:server_error:3")
    serve.add_argument("--limits", choices=("on", "off"), default="on", help="Webex CDR rate limits (off for benchmarks)")
    serve.add_argument("--webex-region", choices=("us", "eu"), default="us", help="region holding the org's CDRs")
    serve.add_argument("--cdr-feed-filter", choices=("start", "report"), default="start",
                       help="CDR time cdr_feed windows select on (the real column is uncertain)")
    serve.set_defaults(run=serve_command)


def serve_command(args: argparse.Namespace) -> int:
    import uvicorn

    from simulator.sandbox.app import (
        LOOPBACK,
        Sandbox,
        bind_loopback,
        make_state,
        quiet_expected_truncation_errors,
        uvicorn_config,
    )

    try:
        faults = parse_fault_spec(args.faults)
        state = make_state(args.data, time_scale=args.time_scale, limits=args.limits == "on", faults=faults,
                           webex_region=args.webex_region, cdr_feed_filter=args.cdr_feed_filter)
    except ValueError as exc:
        print(f"switchboard sandbox: {exc}", file=sys.stderr)
        return 2
    try:
        sock = bind_loopback(args.port)
    except OSError as exc:
        print(f"switchboard sandbox: cannot listen on {LOOPBACK}:{args.port}: {exc}", file=sys.stderr)
        return 2
    state.base_url = f"http://{LOOPBACK}:{sock.getsockname()[1]}"
    sandbox = Sandbox(state)
    for name, value in sandbox.env().items():
        print(f"{name}={value}")
    if args.time_scale != 1:  # the rate-limit minute lasts 60 / scale seconds here: clients must know it
        print(f"WEBEX_CDR_RATE_WINDOW_SECONDS={60.0 / args.time_scale:g}")
    print(f"# {len(state.data.cdr):,} CDRs, {len(state.data.recordings):,} recordings, "
          f"{len(state.data.conversations):,} conversations, {len(state.data.messages):,} messages; "
          f"time scale {args.time_scale:g}, limits {args.limits}; other Webex region (451): "
          f"{sandbox.base_urls.webex_analytics_other_region}", flush=True)
    server = uvicorn.Server(uvicorn_config(state))
    quiet_expected_truncation_errors()
    server.run(sockets=[sock])
    return 0
