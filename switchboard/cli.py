"""The `switchboard` command.

    switchboard materialize [--select SELECTION] [--full-refresh]   materialize the asset graph in-process
    switchboard demo [--agents N --days D]         simulated site → full materialization → UIs
    switchboard settings                           every setting, its default and meaning; exit 2 if one is wrong
    switchboard simulate | sandbox | webhooks      the simulated contact center, its provider APIs, its webhooks
    switchboard backfill webex-cdr --since …       Webex CDRs of a past range through cdr_feed
"""

from __future__ import annotations

import argparse
import contextlib
import importlib
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterable
from pathlib import Path

from simulator.cli import positive_int
from switchboard.gc_freeze import existing_objects_frozen, skip_final_collections
from switchboard.paths import DEFAULT_DATA_DIR, PROJECT_ROOT, STREAMLIT_APP
from switchboard.settings import Settings, SettingsError, load_settings, setting_docs

# Subcommands that live beside their code. Each module has `add_command(subparsers)`, which
# registers one subcommand and sets `run=<callable(args) -> int>` as its default.
COMMAND_MODULES: tuple[str, ...] = ("simulator.sandbox.cli", "simulator.webhook_sender", "simulator.cli", "pipelines.webex.cli")


def run() -> None:
    """The `switchboard` command line: `main`, then the process ends without the interpreter's
    last collections walking Dagster's and dbt's objects once more (`skip_final_collections`)."""
    code = main()
    skip_final_collections()
    sys.exit(code)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="switchboard", description="Switchboard contact-center data platform")
    sub = parser.add_subparsers(dest="command", required=True)
    for module_name in COMMAND_MODULES:
        importlib.import_module(module_name).add_command(sub)

    mat = sub.add_parser(
        "materialize", help="materialize assets in-process with the environment's settings",
        description="Materialize the selected assets and their checks in this process, with the environment's "
                    "settings. Exit codes: 0 done, 1 a step or a blocking check failed, 2 a wrong setting or "
                    "selection (before any work).")
    mat.add_argument("--select", default="*", help="Dagster asset selection, e.g. 'key:raw/asterisk/*' (default: all)")
    mat.add_argument("--full-refresh", action="store_true",
                     help="rebuild the selected dbt models from scratch (dbt's --full-refresh), e.g. "
                          "--select 'key:marts/fct_calls+' where the CHANGELOG asks for it")

    demo = sub.add_parser(
        "demo", help="simulate a contact center, materialize everything, start the UIs",
        description="Simulate a bank's contact center, serve it from the sandbox provider APIs on loopback, "
                    "materialize every asset and start the Dagster UI and Streamlit. Isolated from your "
                    "configuration: it sets every setting itself, ignoring the environment and .env, and keeps "
                    "everything under data/demo/, which it deletes first (the previous demo's), and nothing "
                    "else. Ctrl-C or SIGTERM stops the UIs and every process they started.")
    demo.add_argument("--agents", type=positive_int, default=50, help="agents of the simulated center (default 50)")
    demo.add_argument("--days", type=positive_int, default=7, help="days simulated, up to yesterday (default 7)")
    demo.add_argument("--seed", type=int, default=7, help="another seed, another center (default 7)")
    demo.add_argument("--no-ui", action="store_true", help="stop after the materialization")
    demo.add_argument("--dagster-port", type=int, default=3000, help="Dagster UI port on 127.0.0.1 (default 3000)")
    demo.add_argument("--streamlit-port", type=int, default=8501, help="Streamlit port on 127.0.0.1 (default 8501)")

    sub.add_parser("settings", help="list every setting with its default, then check the environment's values")
    args = parser.parse_args(argv)

    try:
        if getattr(args, "run", None) is not None:
            return args.run(args)
        if args.command == "materialize":
            return materialize(args.select, full_refresh=args.full_refresh)
        if args.command == "demo":
            return demo_command(args)
        if args.command == "settings":
            return settings_command()
    except SettingsError as exc:
        print(f"switchboard: {exc}", file=sys.stderr)
        return 2
    except UsageError as exc:  # a wrong argument; any other error keeps its traceback
        print(f"switchboard: {exc}", file=sys.stderr)
        return 2
    return 1


def materialize(selection: str = "*", *, full_refresh: bool = False) -> int:
    """Run the selected assets (and their checks) in this process; non-zero exit on any failure.
    `full_refresh`: the selected dbt models are rebuilt from scratch (DbtBuildConfig)."""

    from assets.transform import DBT_OP_NAME
    from definitions import build_definitions

    settings = load_settings()
    check_destinations(settings)
    parsed = _parse_selection(selection)  # a typo fails here, before the definitions load
    defs = build_definitions(settings)
    graph = defs.resolve_asset_graph()
    keys = _select(selection, parsed, graph)
    if not keys:
        print(f"switchboard: --select {selection!r} matches no asset", file=sys.stderr)
        return 2
    dbt_steps = {graph.get(key).assets_def.op.name for key in keys} & {DBT_OP_NAME}
    if full_refresh and not dbt_steps:
        print(f"switchboard: --full-refresh: --select {selection!r} selects no dbt model", file=sys.stderr)
        return 2
    job = defs.resolve_implicit_global_asset_job_def()
    started = time.monotonic()
    # The definitions and everything imported so far live as long as the run: full collections
    # walking them were 9-12 s of a materialization in the slowest hour (switchboard/gc_freeze.py)
    with _instance(settings) as instance, existing_objects_frozen(), _run_chatter_shown(settings.log_level):
        # Dagster's console logger prints at DEBUG by default: an event per step and per dbt node
        # (~750 lines for the demo's first run) burying the load's counts and the errors
        console = {"console": {"config": {"log_level": settings.log_level.upper()}}}
        ops = {op: {"config": {"full_refresh": True}} for op in dbt_steps} if full_refresh else {}
        result = job.execute_in_process(instance=instance, asset_selection=list(keys), raise_on_error=False,
                                        run_config={"loggers": console, "ops": ops})
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
        for line in failed_check_details(check.metadata):
            print(f"    {line}")
    if not result.success:
        for event in result.all_events:
            if event.is_step_failure:
                print(f"  step failed: {event.step_key}: {root_cause_message(event.event_specific_data.error)}",
                      file=sys.stderr)
        return 1
    return 0


@contextlib.contextmanager
def _run_chatter_shown(log_level: str):
    """dlt's progress and dbt's log lines go to stdout whatever SWITCHBOARD_LOG_LEVEL says (~800
    lines for a small site, burying the counts and errors Dagster logs on stderr): shown at DEBUG
    only. Under the daemon they are the run's captured stdout, as before."""
    if log_level.upper() == "DEBUG":
        yield
        return
    with open(os.devnull, "w") as nowhere, contextlib.redirect_stdout(nowhere):
        yield


def failed_check_details(metadata: dict) -> list[str]:
    """What a failed check found, from its metadata: each failed expectation of a Great
    Expectations suite, or the failing row count of a dbt test (the check's name says the rule)."""
    values = {key: getattr(value, "value", value) for key, value in metadata.items()}
    lines = []
    for failed in values.get("failed_expectations") or []:
        column = f" on {failed['column']}" if failed.get("column") else ""
        found = failed["error"] or f"{failed['unexpected']:,} unexpected rows"
        described = f" ({failed['description']})" if failed.get("description") else ""
        lines.append(f"{failed['expectation']}{column}: {found}{described}")
    if values.get("dagster_dbt/failed_row_count") is not None:
        lines.append(f"{values['dagster_dbt/failed_row_count']:,} failing rows")
    return lines


# what dagster-dbt puts before the error lines of dbt's log in a failed invocation's message
DBT_ERRORS = "Errors parsed from dbt logs:"


def root_cause_message(error, limit: int = 500) -> str:
    """The innermost error of a Dagster SerializableErrorInfo, on one line. Dagster wraps what
    stopped a step (a DuckDB lock, a refused request) in its own errors, so the outer message only
    says that the op failed. An explicit cause is followed before an implicit context."""
    while (inner := error.cause or error.context) is not None:
        error = inner
    text = " ".join(error.message.split())
    if DBT_ERRORS in text:
        # dagster-dbt's message is dbt's whole command line (its --vars too) before what dbt said:
        # the lock or SQL error was cut off (independent upgrade audit)
        command, said = text.split(DBT_ERRORS, 1)
        code = re.search(r"exit code `?(\d+)", command)
        text = f"dbt failed{f' (exit code {code.group(1)})' if code else ''}: {said.strip()}"
    return text if len(text) <= limit else text[: limit - 1] + "…"



def settings_command() -> int:
    """The settings table; then the environment's values are checked as `materialize` checks them
    before any work (a pre-deploy check that passes where a run would stop is no check): the
    values, the destinations, and the places the sources read (built as the definitions are)."""
    for name, default, description in setting_docs():
        print(f"{name}={default}\n    {description}")
    settings = load_settings()
    _ = settings.webex_api_configured  # raises SettingsError naming a half-configured Webex
    check_destinations(settings)
    from definitions import build_definitions

    build_definitions(settings)  # a queue_log, Master.csv or Control Hub place that is missing
    from pipelines.asterisk.source import AsteriskConfig, check_places

    found = check_places(AsteriskConfig.from_settings(settings))  # the logs there: readable, PBXs told apart
    with _instance(settings):  # the instance file as materialize reads it (DAGSTER_PG_*)
        pass
    for line in found:
        print(line)
    print(f"settings OK: warehouse {settings.warehouse.redacted()}, serving copy {settings.serving_path}")
    return 0


def check_destinations(settings) -> None:
    """Fail before any work, naming the setting, when a run could not write its results: a
    Postgres warehouse that does not answer, a serving copy path that cannot be a file (found
    otherwise only at the last step, after every load and model), a state or landing folder that
    cannot be one, or a DAGSTER_HOME that is not a folder."""
    warehouse = settings.warehouse
    if warehouse.is_duckdb:
        _writable_file_path("SWITCHBOARD_WAREHOUSE_URL", warehouse.duckdb_path)
    else:
        import psycopg2

        try:
            connection = psycopg2.connect(warehouse.postgres_dsn(), connect_timeout=10)
        except psycopg2.OperationalError as exc:
            reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            raise SettingsError(
                f"SWITCHBOARD_WAREHOUSE_URL: cannot connect to {warehouse.redacted()}: {reason}") from None
        try:
            _may_create_the_schemas(connection)
        finally:
            connection.close()
    _writable_file_path("SWITCHBOARD_SERVING_PATH", Path(settings.serving_path))
    # (dlt's working files; the landing folder unless it is an fsspec URL: found otherwise by the
    # step that writes there, as a FileExistsError naming no setting)
    _folder_path("SWITCHBOARD_STATE_DIR", Path(settings.state_dir))
    if "://" not in settings.landing_dir:
        _folder_path("SWITCHBOARD_LANDING_DIR", Path(settings.landing_dir))
    # Dagster's own check comes only when the run starts, after the definitions load, as a traceback
    home = settings.dagster_home
    if home and not home.is_dir():
        raise SettingsError(f"DAGSTER_HOME: {home} is not a folder; create it, or unset DAGSTER_HOME for "
                            "runs that are not kept")


def _may_create_the_schemas(connection) -> None:
    """A role that may connect but not create schemas in the database failed the run at its first
    step ("permission denied for database"): refused here, naming what to grant. Granting CREATE
    on the schemas alone is not enough: `create schema if not exists` (dlt's datasets, dbt's
    hooks) needs the database's CREATE even when the schema is there."""
    with connection.cursor() as cur:
        cur.execute("select current_user, current_database(), "
                    "has_database_privilege(current_database(), 'CREATE')")
        role, database, may_create = cur.fetchone()
    if not may_create:
        raise SettingsError(
            f"SWITCHBOARD_WAREHOUSE_URL: role {role!r} may not create schemas in database {database!r}, "
            f'which every run does: GRANT CREATE ON DATABASE "{database}" TO "{role}", or make it the '
            "database's owner")


def _folder_path(setting: str, path: Path) -> None:
    blocking = next((p for p in (path, *path.parents) if p.exists()), None)
    if blocking is not None and not blocking.is_dir():
        raise SettingsError(f"{setting}: {blocking} is a file, so {path} cannot be a folder")


def _writable_file_path(setting: str, path: Path) -> None:
    if path.is_dir():
        raise SettingsError(f"{setting}: {path} is a folder; name a file in it")
    parent = next((p for p in path.parents if p.exists()), None)
    if parent is not None and not parent.is_dir():
        raise SettingsError(f"{setting}: {parent} is a file, so {path} cannot be created")
    if parent is not None and not os.access(parent, os.W_OK):
        raise SettingsError(f"{setting}: {parent} is not writable")


class UsageError(ValueError):
    """A command's argument is wrong (a selection, a port); main() prints it on one line (exit 2)."""


class SelectionError(UsageError):
    """--select names no valid selection."""


def _parse_selection(selection: str):
    """The AssetSelection, or None for everything."""
    import dagster as dg

    if selection.strip() in ("", "*"):
        return None
    try:
        return dg.AssetSelection.from_string(selection)
    except dg.DagsterError:
        raise SelectionError(f"--select {selection!r} is not a valid asset selection "
                             "(e.g. 'key:raw/asterisk/*', '+key:marts/fct_calls', 'kind:dbt')") from None


def _select(selection: str, parsed, graph) -> set:
    import dagster as dg

    if parsed is None:
        return set(graph.materializable_asset_keys)
    from dagster._check import CheckError

    try:
        # an asset that one step writes with others (asterisk_raw's tables) brings them along
        keys = parsed.required_multi_asset_neighbors().resolve(graph)
    # a key that no asset has; or a selection Dagster parses but cannot resolve outside its UI and
    # daemon (status:, changed_in_branch:, code_location:)
    except (dg.DagsterError, CheckError, NotImplementedError) as exc:
        text = str(exc).strip().removeprefix("Invariant failed. Description: ")
        reason = text.splitlines()[0] if text else "a filter Dagster resolves only in its UI and daemon"
        raise SelectionError(f"--select {selection!r}: {reason}") from None
    return set(keys) & set(graph.materializable_asset_keys)


def _instance(settings: Settings):
    """The DAGSTER_HOME instance when there is one (runs show in the UI), else a throw-away one.

    Its dagster.yaml is read as Dagster's own commands (the daemon, the webserver) read it: with the
    working folder's .env in the environment, where a deployment keeps DAGSTER_PG_PASSWORD beside
    its settings (the process's own variables win, as for the settings). A variable it names that
    is still unset, or a wrong value, is a SettingsError naming the file (it was a traceback)."""
    from dagster import DagsterInstance
    from dagster._config.errors import PostProcessingError
    from dagster._core.errors import DagsterInvalidConfigError
    from dagster_postgres.utils import DagsterPostgresException
    from dotenv import dotenv_values

    if not settings.dagster_home:
        return DagsterInstance.ephemeral()
    config = settings.dagster_home.resolve() / "dagster.yaml"
    missing = {k: v for k, v in dotenv_values(".env").items() if v is not None and k not in os.environ}
    os.environ.update(missing)
    try:
        return DagsterInstance.from_config(str(config.parent))
    except (PostProcessingError, DagsterInvalidConfigError) as exc:
        unset = re.search(r'environment variable "([^"]+)" which is not set', str(exc))
        reason = (f"names the environment variable {unset.group(1)}, which is set neither in the environment "
                  "nor in .env" if unset else " ".join(str(exc).split())[:300])
        raise SettingsError(f"DAGSTER_HOME: {config} {reason}") from None
    except DagsterPostgresException as exc:  # after Dagster's own retries
        raise SettingsError(f"DAGSTER_HOME: {config}: cannot reach its Postgres ({exc})") from None
    finally:
        for name in missing:
            os.environ.pop(name, None)


# The sandbox's clock runs this many times faster than the real one: Webex's rate-limit minute lasts a second.
DEMO_TIME_SCALE = 60.0


def demo_command(args: argparse.Namespace) -> int:
    """Simulated bank contact center → sandbox provider APIs → full materialization → UIs.

    Everything the demo writes is under data/demo and its settings are its own (see
    demo_environment): the operator's warehouse, serving copy and state are never touched.
    The sandbox runs in this process (a background thread) for as long as the demo does, so the
    Dagster UI's sensors and jobs keep reaching it."""
    from contextlib import ExitStack
    from datetime import datetime, timedelta
    from zoneinfo import ZoneInfo

    from simulator.contact_center import simulate
    from simulator.sandbox import run_sandbox

    if not args.no_ui:
        check_ui_ports(args.dagster_port, args.streamlit_port)  # before any work, so nothing is lost
    demo_dir = DEFAULT_DATA_DIR / "demo"
    env = demo_environment(demo_dir, time_scale=DEMO_TIME_SCALE)
    sim_dir = demo_dir / "simulated"
    if demo_dir.exists():
        shutil.rmtree(demo_dir)  # only the previous demo's files
    os.environ.update(env)
    home = Path(env["DAGSTER_HOME"])
    home.mkdir(parents=True)
    shutil.copy(PROJECT_ROOT / "dagster.yaml", home / "dagster.yaml")
    print(f"demo: warehouse, serving copy, dlt state and Dagster home are under {demo_dir}; the settings in "
          "the environment and .env are not used (the demo sets its own)", flush=True)

    # The week that ended at last midnight in Bogotá: all of it is old enough for cdr_feed.
    today = datetime.now(ZoneInfo("America/Bogota")).date()
    start = today - timedelta(days=args.days)
    print(f"simulating {args.agents} agents × {args.days} days ({start} – {today - timedelta(days=1)}) into {sim_dir} …",
          flush=True)
    summary = simulate(sim_dir, agents=args.agents, days=args.days, seed=args.seed, start=start)
    webex = summary["webex"]
    print(f"  Webex: {webex['journeys']:,} calls, {webex['records']:,} CDRs; Asterisk site: "
          f"{summary['asterisk']['lines']:,} queue_log lines ({summary['seconds']['total']:.0f} s)", flush=True)

    with ExitStack() as stack:
        sandbox = stack.enter_context(run_sandbox(sim_dir, time_scale=DEMO_TIME_SCALE))
        os.environ.update(sandbox.env())
        print(f"sandbox provider APIs on {sandbox.state.base_url} (time scale {DEMO_TIME_SCALE:g})", flush=True)

        # the simulated days, midnight to midnight in Bogotá (today's minutes are the poll's)
        bogota = ZoneInfo("America/Bogota")
        _demo_webex_history(datetime.combine(start, datetime.min.time(), bogota),
                            datetime.combine(today, datetime.min.time(), bogota))
        code = materialize("*")
        if code != 0 or args.no_ui:
            return code
        return _serve_uis(args.dagster_port, args.streamlit_port, env=dict(os.environ), dagster_cwd=demo_dir,
                          watched=env["SWITCHBOARD_QUEUE_LOG_DIRS"])


def demo_environment(demo_dir: Path, *, time_scale: float) -> dict[str, str]:
    """Every setting the demo runs with, and DAGSTER_HOME: its own files under demo_dir, the
    simulated site as the only Asterisk source, the code's defaults for the rest. All are set in
    the environment, which wins over .env, so an operator's warehouse (a production DuckDB file
    or Postgres) is never written by the demo. The sandbox's Webex URLs and credentials are added
    once it is listening."""
    from pydantic import SecretStr

    from simulator.contact_center import ASTERISK_SITE
    from switchboard.settings import Settings

    env = {}
    for info in Settings.model_fields.values():
        default = info.default.get_secret_value() if isinstance(info.default, SecretStr) else info.default
        env[info.alias] = "" if default is None else str(default)
    sim_dir = demo_dir / "simulated"
    site = sim_dir / "asterisk" / ASTERISK_SITE
    env.update({
        "SWITCHBOARD_WAREHOUSE_URL": f"duckdb:///{demo_dir / 'warehouse.duckdb'}",
        "SWITCHBOARD_SERVING_PATH": str(demo_dir / "serving.duckdb"),
        "SWITCHBOARD_LANDING_DIR": str(demo_dir / "landing"),
        "SWITCHBOARD_STATE_DIR": str(demo_dir / "state"),
        "SWITCHBOARD_QUEUE_LOG_DIRS": f"{site.name}={site}",
        "SWITCHBOARD_ASTERISK_CDR_DIRS": f"{site.name}={site}",
        "WEBEX_TOKEN_FILE": str(demo_dir / "secrets" / "webex_tokens.json"),
        "WEBEX_CONTROL_HUB_DIR": str(sim_dir / "webex" / "control_hub"),
        "WEBEX_CDR_RATE_WINDOW_SECONDS": str(60.0 / time_scale),
        "DAGSTER_HOME": str(demo_dir / "dagster_home"),
    })
    return env


def check_ui_ports(dagster_port: int, streamlit_port: int) -> None:
    """Raise UsageError naming the flag when a UI's port on 127.0.0.1 is taken: the UI would fail
    to start while the printed address reached whatever server holds the port."""
    import socket

    if dagster_port == streamlit_port:
        raise UsageError(f"--dagster-port and --streamlit-port are both {dagster_port}: give them different ports")
    for flag, port, variable in (("--dagster-port", dagster_port, "DAGSTER_PORT"),
                                 ("--streamlit-port", streamlit_port, "STREAMLIT_PORT")):
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
            # as the servers bind: a closed connection's TIME_WAIT does not make the port taken
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                probe.bind(("127.0.0.1", port))
            except OSError as exc:
                raise UsageError(f"port {port} on 127.0.0.1 is not available ({exc.strerror}): choose another "
                                 f"with {flag} PORT (make demo {variable}=PORT)") from None


def _demo_webex_history(since, until) -> None:
    """The simulated week through cdr_feed, as `switchboard backfill webex-cdr` loads it (a failure
    raises)."""
    from pipelines.dlt_logging import quiet_dlt_hints
    from pipelines.webex.pipeline import run_backfill

    quiet_dlt_hints()
    print(f"Webex CDR backfill {since.isoformat()} – {until.isoformat(timespec='seconds')} …", flush=True)
    settings = load_settings()
    with _run_chatter_shown(settings.log_level):  # dlt's progress blocks, as in a materialization
        report = run_backfill(settings, since, until)
    print("  " + report.cdr.summary_line(), flush=True)


def ui_banner(dagster_port: int, streamlit_port: int, queue_log_dirs: str) -> str:
    """The addresses, and the folders asterisk_files_sensor watches: lines appended to a
    queue_log there start a run (the sensor looks every 30 s)."""
    from pipelines.asterisk.log_streams import parse_locations

    lines = ["", f"Dagster UI:    http://127.0.0.1:{dagster_port}", f"Streamlit app: http://127.0.0.1:{streamlit_port}"]
    for location in parse_locations(queue_log_dirs):
        pbx = f" (PBX {location.pbx})" if location.pbx else ""
        lines.append(f"queue_log watched by asterisk_files_sensor{pbx}: {location.pattern} — append lines to its "
                     "queue_log to start a run")
    lines.append("Ctrl-C stops both.")
    return "\n".join(lines)


# `dagster dev` tells at every start that it is superseded by `dg dev` (the dagster-dg-cli
# package and a project laid out for it); the demo runs it as it is, without that notice.
_QUIET_DEV = "ignore:Function `dev_command` is superseded:FutureWarning"


def _serve_uis(dagster_port: int, streamlit_port: int, *, env: dict[str, str], dagster_cwd: Path,
               watched: str) -> int:
    bin_dir = Path(sys.executable).parent
    # `dagster dev` loads the .env of its working directory over the environment, so it runs
    # outside the project (the code still loads from it, -d) to keep the demo's settings.
    uis = {
        "the Dagster UI": lambda: start_ui(
            [str(bin_dir / "dagster"), "dev", "-f", str(PROJECT_ROOT / "definitions.py"), "-d", str(PROJECT_ROOT),
             "-h", "127.0.0.1", "-p", str(dagster_port)], cwd=dagster_cwd, env={**env, "PYTHONWARNINGS": _QUIET_DEV}),
        "Streamlit": lambda: start_ui(
            [str(bin_dir / "streamlit"), "run", str(STREAMLIT_APP), "--server.address", "127.0.0.1",
             "--server.port", str(streamlit_port), "--server.headless", "true",
             "--browser.gatherUsageStats", "false"], cwd=PROJECT_ROOT, env=env),
    }

    def announce(procs: dict[str, subprocess.Popen]) -> None:
        # the addresses once they answer (`dagster dev` listens ~10 s after it starts)
        ready = wait_until_listening((dagster_port, streamlit_port), procs.values())
        if ready or all(p.poll() is None for p in procs.values()):  # else supervise says which exited
            print(ui_banner(dagster_port, streamlit_port, watched)
                  + ("" if ready else "\n(the UIs do not answer yet: give them a moment)"), flush=True)

    return supervise(uis, on_started=announce)


def wait_until_listening(ports: Iterable[int], procs: Iterable[subprocess.Popen], timeout: float = 120) -> bool:
    """Whether every one of `ports` on 127.0.0.1 accepts connections within `timeout` seconds;
    False as soon as one of `procs` has exited."""
    import socket

    procs = list(procs)
    waiting = set(ports)
    deadline = time.monotonic() + timeout
    while waiting:
        if any(p.poll() is not None for p in procs) or time.monotonic() > deadline:
            return False
        for port in sorted(waiting):
            with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=0.5):
                waiting.discard(port)
        if waiting:
            time.sleep(0.5)
    return True


def start_ui(argv: list[str], **popen_args) -> subprocess.Popen:
    """A UI's process, leading a process group of its own: supervise stops it together with the
    processes it starts (`dagster dev` runs its webserver, daemon and code server as children).

    It starts with Ctrl-C's default action even where this process ignores SIGINT, as a
    background job of a script does (`make demo &`): exec keeps an ignored signal ignored, so the
    UI would ignore supervise's SIGINT and be stopped only by SIGKILL, 20 s later. A handled
    signal is reset to its default by exec, so SIGINT is handled (by doing nothing) while the
    process starts."""
    if signal.getsignal(signal.SIGINT) is not signal.SIG_IGN:
        return subprocess.Popen(argv, process_group=0, **popen_args)
    signal.signal(signal.SIGINT, _ignore)
    try:
        return subprocess.Popen(argv, process_group=0, **popen_args)
    finally:
        signal.signal(signal.SIGINT, signal.SIG_IGN)


def supervise(uis: dict[str, Callable[[], subprocess.Popen]],
              on_started: Callable[[dict[str, subprocess.Popen]], None] = lambda _: None) -> int:
    """Starts each of `uis` (a start_ui call), calls `on_started` and waits while all run; when one
    exits, or on Ctrl-C, or when this process is terminated (`kill`, a service manager,
    `timeout`), stops each started one's whole process group as a terminal's Ctrl-C would (SIGINT,
    SIGKILL after 20 s) and waits for it: no UI or process of one is left holding a port. They are
    started once SIGTERM is handled, so a stop while they start stops those already running (a UI
    leads its own process group: a terminal's Ctrl-C does not reach it). 1 when one exited with an
    error, else 0."""
    code = 0
    procs: dict[str, subprocess.Popen] = {}
    previous = signal.signal(signal.SIGTERM, _interrupt)
    try:
        for name, start in uis.items():
            procs[name] = start()
        on_started(procs)
        while True:
            stopped = next(((name, p.returncode) for name, p in procs.items() if p.poll() is not None), None)
            if stopped is not None:  # one UI alone is not the demo: stop the other too
                name, code = stopped
                if code != 0:  # 0: it was stopped, e.g. by a Ctrl-C that reached it first
                    print(f"switchboard: {name} exited with code {code}; stopping the demo", file=sys.stderr)
                break
            time.sleep(1)
    except KeyboardInterrupt:
        pass
    finally:
        # Stop requests that come while the UIs stop are ignored: `make` passes its SIGTERM on to
        # the demo, so a kill of make's process group delivers two, and a second Ctrl-C is common;
        # either one cut this clean-up short and left the UIs running (independent check).
        # The clean-up ends on its own: SIGKILL follows 20 s after Ctrl-C's SIGINT.
        previous_sigint = signal.signal(signal.SIGINT, _ignore)
        signal.signal(signal.SIGTERM, _ignore)
        try:
            for p in procs.values():
                _signal_group(p, signal.SIGINT)
            deadline = time.monotonic() + 20
            for p in procs.values():
                while _group_alive(p) and time.monotonic() < deadline:
                    time.sleep(0.2)
                _signal_group(p, signal.SIGKILL)
                p.wait()
        finally:
            signal.signal(signal.SIGINT, previous_sigint)
            signal.signal(signal.SIGTERM, previous)
    return 1 if code else 0


def _signal_group(p: subprocess.Popen, signum: int) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(p.pid, signum)


def _group_alive(p: subprocess.Popen) -> bool:
    p.poll()  # the leader, once it has exited, is reaped (a zombie still counts as in the group)
    try:
        os.killpg(p.pid, 0)
    except ProcessLookupError:
        return False
    return True


def _interrupt(_signum, _frame) -> None:
    # a second SIGTERM before supervise's clean-up starts must not interrupt it either
    signal.signal(signal.SIGTERM, _ignore)
    raise KeyboardInterrupt


def _ignore(_signum, _frame) -> None:
    pass


if __name__ == "__main__":
    sys.exit(main())
