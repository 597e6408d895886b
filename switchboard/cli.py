"""The `switchboard` command.

    switchboard materialize [--select SELECTION]   materialize the asset graph in-process
    switchboard demo [--agents N --days D]         simulated site → full materialization → UIs
    switchboard settings                           every setting, its default and meaning
"""

from __future__ import annotations

import argparse
import importlib
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

from switchboard.paths import DEFAULT_DATA_DIR, PROJECT_ROOT, STREAMLIT_APP
from switchboard.settings import SettingsError, load_settings, setting_docs

# Subcommands that live beside their code. Each module has `add_command(subparsers)`, which
# registers one subcommand and sets `run=<callable(args) -> int>` as its default.
COMMAND_MODULES: tuple[str, ...] = ("simulator.sandbox.cli", "simulator.webhook_sender", "simulator.cli", "pipelines.webex.cli")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="switchboard", description="Switchboard contact-center data platform")
    sub = parser.add_subparsers(dest="command", required=True)
    for module_name in COMMAND_MODULES:
        importlib.import_module(module_name).add_command(sub)

    mat = sub.add_parser("materialize", help="materialize assets in-process with the environment's settings")
    mat.add_argument("--select", default="*", help="Dagster asset selection, e.g. 'key:raw/asterisk/*' (default: all)")

    demo = sub.add_parser("demo", help="simulate a contact center, materialize everything, start the UIs")
    demo.add_argument("--agents", type=int, default=50)
    demo.add_argument("--days", type=int, default=7)
    demo.add_argument("--seed", type=int, default=7)
    demo.add_argument("--no-ui", action="store_true", help="stop after the materialization")
    demo.add_argument("--dagster-port", type=int, default=3000)
    demo.add_argument("--streamlit-port", type=int, default=8501)

    sub.add_parser("settings", help="list every setting with its default")
    args = parser.parse_args(argv)

    try:
        if getattr(args, "run", None) is not None:
            return args.run(args)
        if args.command == "materialize":
            return materialize(args.select)
        if args.command == "demo":
            return demo_command(args)
        if args.command == "settings":
            for name, default, description in setting_docs():
                print(f"{name}={default}\n    {description}")
            return 0
    except SettingsError as exc:
        print(f"switchboard: {exc}", file=sys.stderr)
        return 2
    except ValueError as exc:  # a setting whose value is well-formed but wrong (e.g. a missing folder)
        print(f"switchboard: {exc}", file=sys.stderr)
        return 2
    return 1


def materialize(selection: str = "*") -> int:
    """Run the selected assets (and their checks) in this process; non-zero exit on any failure."""

    from definitions import build_definitions

    settings = load_settings()
    check_destinations(settings)
    defs = build_definitions(settings)
    graph = defs.resolve_asset_graph()
    keys = _select(selection, graph)
    if not keys:
        print(f"switchboard: the selection {selection!r} matches no asset", file=sys.stderr)
        return 2
    job = defs.resolve_implicit_global_asset_job_def()
    started = time.monotonic()
    with _instance() as instance:
        result = job.execute_in_process(instance=instance, asset_selection=list(keys), raise_on_error=False)
    elapsed = time.monotonic() - started
    failed_checks = [
        e.event_specific_data
        for e in result.all_events
        if e.event_type_value == "ASSET_CHECK_EVALUATION" and not e.event_specific_data.passed
    ]
    if result.success:
        print(f"materialized {len(keys)} assets in {elapsed:.1f} s into {settings.warehouse.redacted()}")
    else:
        print(f"materialization of {len(keys)} assets failed after {elapsed:.1f} s ({settings.warehouse.redacted()})",
              file=sys.stderr)
    for check in failed_checks:
        print(f"  check failed: {check.asset_key.to_user_string()} {check.check_name}")
    if not result.success:
        for event in result.all_events:
            if event.is_step_failure:
                print(f"  step failed: {event.step_key}: {event.event_specific_data.error.message.strip()}",
                      file=sys.stderr)
        return 1
    return 0


def check_destinations(settings) -> None:
    """Fail before any work, naming the setting, when a run could not write its results: a
    Postgres warehouse that does not answer, or a serving copy path that cannot be a file (found
    otherwise only at the last step, after every load and model)."""
    warehouse = settings.warehouse
    if warehouse.is_duckdb:
        _writable_file_path("SWITCHBOARD_WAREHOUSE_URL", warehouse.duckdb_path)
    else:
        import psycopg2

        try:
            psycopg2.connect(warehouse.postgres_dsn(), connect_timeout=10).close()
        except psycopg2.OperationalError as exc:
            reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            raise SettingsError(
                f"SWITCHBOARD_WAREHOUSE_URL: cannot connect to {warehouse.redacted()}: {reason}") from None
    _writable_file_path("SWITCHBOARD_SERVING_PATH", Path(settings.serving_path))


def _writable_file_path(setting: str, path: Path) -> None:
    if path.is_dir():
        raise SettingsError(f"{setting}: {path} is a folder; name a file in it")
    parent = next((p for p in path.parents if p.exists()), None)
    if parent is not None and not parent.is_dir():
        raise SettingsError(f"{setting}: {parent} is a file, so {path} cannot be created")
    if parent is not None and not os.access(parent, os.W_OK):
        raise SettingsError(f"{setting}: {parent} is not writable")


def _select(selection: str, graph) -> set:
    import dagster as dg

    if selection.strip() in ("", "*"):
        return set(graph.materializable_asset_keys)
    return set(dg.AssetSelection.from_string(selection).resolve(graph)) & set(graph.materializable_asset_keys)


def _instance():
    """The DAGSTER_HOME instance when there is one (runs show in the UI), else a throw-away one."""
    from dagster import DagsterInstance

    if os.environ.get("DAGSTER_HOME"):
        return DagsterInstance.get()
    return DagsterInstance.ephemeral()


def demo_command(args: argparse.Namespace) -> int:
    """Simulated bank contact center → sandbox provider APIs → full materialization → UIs.

    The sandbox runs in this process (a background thread) for as long as the demo does, so the
    Dagster UI's sensors and jobs keep reaching it; its time scale makes the Webex rate limit's
    minute last one second."""
    from contextlib import ExitStack
    from datetime import UTC, datetime, timedelta
    from zoneinfo import ZoneInfo

    from simulator.contact_center import simulate
    from simulator.sandbox import run_sandbox

    demo_dir = DEFAULT_DATA_DIR / "demo"
    sim_dir = demo_dir / "simulated"
    if demo_dir.exists():
        shutil.rmtree(demo_dir)
    for path in (DEFAULT_DATA_DIR / "warehouse.duckdb", DEFAULT_DATA_DIR / "serving.duckdb"):
        path.unlink(missing_ok=True)
    shutil.rmtree(DEFAULT_DATA_DIR / "state", ignore_errors=True)

    # The week that ended at last midnight in Bogotá: all of it is old enough for cdr_feed.
    today = datetime.now(ZoneInfo("America/Bogota")).date()
    start = today - timedelta(days=args.days)
    print(f"simulating {args.agents} agents × {args.days} days ({start} – {today}) into {sim_dir} …", flush=True)
    summary = simulate(sim_dir, agents=args.agents, days=args.days, seed=args.seed, start=start)
    webex = summary["webex"]
    print(f"  Webex: {webex['journeys']:,} calls, {webex['records']:,} CDRs; Asterisk site: "
          f"{summary['asterisk']['lines']:,} queue_log lines ({summary['seconds']['total']:.0f} s)", flush=True)

    time_scale = 60.0
    with ExitStack() as stack:
        sandbox = stack.enter_context(run_sandbox(sim_dir, time_scale=time_scale))
        os.environ.update(sandbox.env())
        os.environ["WEBEX_TOKEN_FILE"] = str(demo_dir / "secrets" / "webex_tokens.json")
        os.environ["WEBEX_CDR_RATE_WINDOW_SECONDS"] = str(60.0 / time_scale)
        os.environ["WEBEX_CONTROL_HUB_DIR"] = str(sim_dir / "webex" / "control_hub")
        site = Path(summary["asterisk"]["out_dir"])
        os.environ["SWITCHBOARD_QUEUE_LOG_DIRS"] = f"{site.name}={site}"
        os.environ["SWITCHBOARD_ASTERISK_CDR_DIRS"] = f"{site.name}={site}"
        home = DEFAULT_DATA_DIR / "dagster_home"
        home.mkdir(parents=True, exist_ok=True)
        shutil.copy(PROJECT_ROOT / "dagster.yaml", home / "dagster.yaml")
        os.environ["DAGSTER_HOME"] = str(home)
        print(f"sandbox provider APIs on {sandbox.state.base_url} (time scale {time_scale:g})", flush=True)

        code = _demo_webex_history(datetime.combine(start, datetime.min.time(), ZoneInfo("America/Bogota")),
                                   datetime.now(UTC))
        if code == 0:
            code = materialize("*")
        if code != 0 or args.no_ui:
            return code
        return _serve_uis(args.dagster_port, args.streamlit_port)


def _demo_webex_history(since, until) -> int:
    """The simulated week through cdr_feed, as `switchboard backfill webex-cdr` loads it."""
    from pipelines.dlt_logging import quiet_dlt_hints
    from pipelines.webex.pipeline import run_backfill

    quiet_dlt_hints()
    print(f"Webex CDR backfill {since.isoformat()} – {until.isoformat(timespec='seconds')} …", flush=True)
    counts = run_backfill(load_settings(), since, until).cdr
    print(f"  {counts.windows} windows, {counts.records_read:,} records read, {counts.loaded:,} loaded, "
          f"{counts.rejected:,} rejected", flush=True)
    return 0


def _serve_uis(dagster_port: int, streamlit_port: int) -> int:
    bin_dir = Path(sys.executable).parent
    procs = [
        subprocess.Popen([str(bin_dir / "dagster"), "dev", "-f", str(PROJECT_ROOT / "definitions.py"),
                          "-h", "127.0.0.1", "-p", str(dagster_port)], cwd=PROJECT_ROOT),
        subprocess.Popen([str(bin_dir / "streamlit"), "run", str(STREAMLIT_APP), "--server.address", "127.0.0.1",
                          "--server.port", str(streamlit_port), "--server.headless", "true",
                          "--browser.gatherUsageStats", "false"], cwd=PROJECT_ROOT),
    ]
    print(f"\nDagster UI:    http://127.0.0.1:{dagster_port}\nStreamlit app: http://127.0.0.1:{streamlit_port}\n"
          "Ctrl-C stops both.", flush=True)
    try:
        while all(p.poll() is None for p in procs):
            time.sleep(1)
    except KeyboardInterrupt:
        pass
    finally:
        for p in procs:
            if p.poll() is None:
                p.send_signal(signal.SIGINT)
        for p in procs:
            try:
                p.wait(timeout=20)
            except subprocess.TimeoutExpired:
                p.kill()
    return 0


if __name__ == "__main__":
    sys.exit(main())
