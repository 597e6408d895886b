"""``switchboard simulate``: write a simulated bank contact center (see ``simulator/README.md``).

    switchboard simulate --agents 200 --days 7 --seed 7 --out data/sim
    switchboard simulate --agents 50 --start 2026-03-02 --end 2026-03-09 --out data/sim

Also runnable as ``python -m simulator.cli …``. Prints the summary (also in ``manifest.json``).
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from datetime import date
from pathlib import Path

__all__ = ["add_command", "main", "run"]


def positive_int(text: str) -> int:
    """An argparse type: a whole number above 0 (0 agents or days made a traceback)."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


def _arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--out", type=Path, required=True, help="output folder (webex/, asterisk/, truth/, …)"
    )
    p.add_argument(
        "--agents", type=positive_int, default=50,
        help="call-handling agents (inbound + collections; default 50)"
    )
    p.add_argument(
        "--days",
        type=positive_int,
        default=7,
        help="local days to simulate (default 7; ignored with --start and --end)",
    )
    p.add_argument("--seed", type=int, default=7, help="another seed, another center (default 7)")
    p.add_argument(
        "--start", type=date.fromisoformat, default=None, help="first local day (YYYY-MM-DD; default: a fixed Monday, so that runs repeat)"
    )
    p.add_argument(
        "--end", type=date.fromisoformat, default=None, help="end day, exclusive (YYYY-MM-DD)"
    )
    p.add_argument(
        "--customers",
        type=int,
        default=None,
        help="customers (default: 60 per agent, at least 2000)",
    )
    p.add_argument(
        "--timezone",
        default=None,
        help="time zone of the Webex and channel truth's days (default: SWITCHBOARD_TIMEZONE, whose "
        "default is America/Bogota); the Asterisk site's truth keeps the site's own zone, America/Bogota",
    )
    p.add_argument("--no-asterisk", action="store_true", help="skip the Issabel/Asterisk site")
    p.add_argument(
        "--no-channels", action="store_true", help="skip ElevenLabs/recordings/WhatsApp/SMS"
    )
    p.add_argument(
        "--control-hub-days", type=int, default=1, help="days in the Control Hub CSV export"
    )
    p.add_argument(
        "--no-fraud",
        action="store_true",
        help="no labelled fraud/misuse scenarios in the CDRs (simulator/fraud_scenarios.py)",
    )


def run(args: argparse.Namespace) -> int:
    from simulator.contact_center import simulate
    from switchboard.settings import load_settings

    if args.start and args.end and args.end <= args.start:
        print("switchboard simulate: --end must be after --start", file=sys.stderr)
        return 2
    # the truth's days and thresholds are the deployment's, so it compares with its marts
    settings = load_settings()
    summary = simulate(
        args.out,
        agents=args.agents,
        days=args.days,
        seed=args.seed,
        start=args.start,
        end=args.end,
        customers=args.customers,
        timezone=args.timezone or settings.timezone,
        sl_seconds=settings.sl_seconds,
        short_abandon_seconds=settings.short_abandon_seconds,
        asterisk=not args.no_asterisk,
        channels=not args.no_channels,
        control_hub_days=args.control_hub_days,
        fraud=not args.no_fraud,
    )
    json.dump(summary, sys.stdout, indent=2, ensure_ascii=False, default=str)
    sys.stdout.write("\n")
    return 0


def add_command(subparsers) -> None:
    p = subparsers.add_parser(
        "simulate",
        help="write a simulated contact center (Webex, Asterisk, channels) with its truth",
    )
    _arguments(p)
    p.set_defaults(run=run)


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m simulator.cli", description=__doc__.splitlines()[0])
    _arguments(p)
    return run(p.parse_args(argv))


if __name__ == "__main__":
    raise SystemExit(main())
