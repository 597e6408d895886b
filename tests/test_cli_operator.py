"""What an operator sees from the `switchboard` command: the demo's isolation and ports, and
one-line answers for a bad selection, a failed step and invalid settings."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from pipelines.webex.source import CdrCounts
from switchboard import cli
from switchboard.paths import DEFAULT_DATA_DIR, PROJECT_ROOT
from switchboard.settings import Settings, load_settings


def test_demo_settings_ignore_the_operators_environment_and_dotenv(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    prod = tmp_path / "prod"
    (tmp_path / ".env").write_text(
        f"SWITCHBOARD_SERVING_PATH={prod}/serving.duckdb\n"
        f"SWITCHBOARD_LANDING_DIR={prod}/landing\n"
        "SWITCHBOARD_TIMEZONE=Europe/Madrid\n"
        f"WEBEX_TOKEN_FILE={prod}/tokens.json\n")
    monkeypatch.setenv("SWITCHBOARD_WAREHOUSE_URL", f"duckdb:///{prod}/prod.duckdb")
    monkeypatch.setenv("SWITCHBOARD_STATE_DIR", str(prod / "state"))
    monkeypatch.setenv("SWITCHBOARD_SL_SECONDS", "not a number")  # a wrong value the demo does not use either
    monkeypatch.setenv("DAGSTER_HOME", str(prod / "dagster"))
    demo_dir = tmp_path / "data" / "demo"

    env = cli.demo_environment(demo_dir, time_scale=60.0)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    settings = load_settings()

    assert settings.warehouse.is_duckdb and settings.warehouse.duckdb_path == demo_dir / "warehouse.duckdb"
    assert settings.serving_path == demo_dir / "serving.duckdb"
    assert settings.state_dir == demo_dir / "state"
    assert Path(settings.landing_dir) == demo_dir / "landing"
    assert settings.webex_token_file == demo_dir / "secrets" / "webex_tokens.json"
    assert Path(env["DAGSTER_HOME"]) == demo_dir / "dagster_home"
    assert (settings.timezone, settings.sl_seconds) == ("America/Bogota", 20)  # the code's defaults
    assert settings.queue_log_dirs.endswith(str(demo_dir / "simulated" / "asterisk" / "cali"))
    assert settings.webex_rate_window_seconds == 1.0
    # Every setting is the demo's, and any path one whose default is under data/ moves under data/demo.
    assert set(env) >= {info.alias for info in Settings.model_fields.values()}
    for info in Settings.model_fields.values():
        if str(DEFAULT_DATA_DIR) in str(info.default):
            assert str(demo_dir) in env[info.alias], info.alias
    assert not any(str(prod) in value for value in env.values())


def _free_port() -> int:
    with contextlib.closing(socket.socket()) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_a_taken_ui_port_is_refused_naming_the_flag():
    with socket.socket() as server:  # someone else's server
        server.bind(("127.0.0.1", 0))
        server.listen()
        taken, free = server.getsockname()[1], _free_port()
        for args, flag in (((taken, free), "--dagster-port"), ((free, taken), "--streamlit-port")):
            try:
                cli.check_ui_ports(*args)
            except ValueError as exc:
                message = str(exc)
            else:
                raise AssertionError(f"port {taken} is in use but was accepted")
            assert flag in message and str(taken) in message and "\n" not in message
    cli.check_ui_ports(taken, free)  # free again once that server is gone
    try:
        cli.check_ui_ports(free, free)
    except ValueError as exc:
        assert "--streamlit-port" in str(exc)
    else:
        raise AssertionError("one port for both UIs was accepted")


def test_make_demo_passes_the_port_variables():
    out = subprocess.run(["make", "-n", "demo", "DAGSTER_PORT=3101", "STREAMLIT_PORT=8601"], cwd=PROJECT_ROOT,
                         capture_output=True, text=True, check=True).stdout
    assert "switchboard demo --dagster-port 3101 --streamlit-port 8601" in out


@pytest.mark.parametrize(("ignoring_ctrl_c", "stop_requests"), [(False, 1), (True, 1), (False, 3)],
                         ids=["from a terminal", "as a background job", "asked to stop three times"])
def test_a_terminated_demo_stops_its_uis_and_what_they_started(tmp_path, ignoring_ctrl_c, stop_requests):
    """`kill`, `timeout` or a service manager stop the demo with SIGTERM, not Ctrl-C: the UIs it
    started, and the processes they started (`dagster dev`'s webserver, daemon and code server),
    must not be left running, holding their ports. Real processes stand in for the Dagster UI and
    Streamlit, each with a child of its own (the real ones take ~15 s to start and are supervised
    the same way). Each writes a file when Ctrl-C reaches it: stopped by it, not by the SIGKILL
    that follows 20 s later. A background job of a script (`make demo &`) starts with SIGINT
    ignored, which a UI would inherit. `make` passes its SIGTERM on to the demo, so a `kill` of
    make's process group stops the demo twice, and an impatient user presses Ctrl-C again while
    the UIs stop (each takes a second here): the UIs must still be stopped."""
    ui = ("import subprocess, sys, time\n"
          "child = subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(120)'])\n"
          "try:\n    print(child.pid, flush=True)\n    time.sleep(120)\nexcept KeyboardInterrupt:\n"
          "    time.sleep(1)\n    child.wait()\n    open(sys.argv[1], 'w').close()\n")
    # a background job of a script starts with SIGINT ignored: here the demo ignores it itself
    ignore = "import signal; signal.signal(signal.SIGINT, signal.SIG_IGN)\n" if ignoring_ctrl_c else ""
    script = ignore + (
        "import subprocess, sys\n"
        "from switchboard import cli\n"
        f"uis = {{n: lambda n=n: cli.start_ui([sys.executable, '-c', {ui!r}, f'{tmp_path}/{{n}}.interrupted'], "
        "stdout=subprocess.PIPE, text=True) for n in ('ui', 'app')}\n"
        "def started(procs):\n"
        "    print(*(pid for p in procs.values() for pid in (p.pid, p.stdout.readline().strip())), flush=True)\n"
        "sys.exit(cli.supervise(uis, on_started=started))\n")
    demo = subprocess.Popen([sys.executable, "-c", script], cwd=PROJECT_ROOT, stdout=subprocess.PIPE, text=True)
    pids = [int(pid) for pid in demo.stdout.readline().split()]
    assert len(pids) == 4
    demo.send_signal(signal.SIGTERM)
    for again in (signal.SIGTERM, signal.SIGINT)[:stop_requests - 1]:
        time.sleep(0.3)
        demo.send_signal(again)
    assert demo.wait(timeout=30) == 0
    for pid in pids:  # stopped and reaped: no such process any more
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, 0)
            raise AssertionError(f"process {pid} was left running")
    assert sorted(p.name for p in tmp_path.glob("*.interrupted")) == ["app.interrupted", "ui.interrupted"]


def test_the_addresses_wait_until_the_uis_listen():
    """The demo prints the UIs' addresses once they answer: `dagster dev` listens ~10 s after it
    starts, and an address printed before led to a refused connection (acceptance check)."""
    alive = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    try:
        with socket.socket() as server:
            server.bind(("127.0.0.1", 0))
            server.listen()
            port = server.getsockname()[1]
            assert cli.wait_until_listening([port], [alive], timeout=5)
        # nothing listens there any more: not ready within the time given
        started = time.monotonic()
        assert not cli.wait_until_listening([port], [alive], timeout=1)
        assert time.monotonic() - started < 5
    finally:
        alive.kill()
        alive.wait()
    # a UI that exited will not come up: no waiting for the time out
    started = time.monotonic()
    assert not cli.wait_until_listening([port], [alive], timeout=60)
    assert time.monotonic() - started < 5


def test_the_ui_banner_names_the_queue_log_folder_the_sensor_watches(tmp_path):
    site = tmp_path / "cali"
    site.mkdir()
    (site / "queue_log").write_text("")
    banner = cli.ui_banner(3001, 8502, f"cali={site}")
    assert "http://127.0.0.1:3001" in banner and "http://127.0.0.1:8502" in banner
    watched = [line for line in banner.splitlines() if str(site) in line]
    assert len(watched) == 1 and "asterisk_files_sensor" in watched[0]


def test_backfill_summary_adds_up():
    counts = CdrCounts(records_read=69_901, loaded=69_221, rejected=0, skipped_duplicate=680, windows=14)
    line = counts.summary_line()
    assert "69,901 records read = 69,221 loaded + 0 rejected + 680 skipped" in line


def test_a_bad_selection_is_one_line_naming_it(make_settings, capsys):
    make_settings()
    assert cli.main(["materialize", "--select", "garbage(("]) == 2
    err = capsys.readouterr().err.strip()
    assert "'garbage(('" in err and "\n" not in err and "Traceback" not in err
    # a key no asset has; a pattern matching none; filters only Dagster's UI and daemon can resolve
    for selection in ("no_such_asset", "key:no/such/*", "status:healthy", "changed_in_branch:main",
                      "code_location:x"):
        assert cli.main(["materialize", "--select", selection]) == 2
        err = capsys.readouterr().err.strip().splitlines()
        assert err[-1].startswith(f"switchboard: --select {selection!r}")


def test_selecting_one_table_of_a_step_selects_the_tables_it_writes_with(make_settings):
    from definitions import build_definitions

    graph = build_definitions(make_settings()).resolve_asset_graph()
    selection = "key:raw/asterisk/queue_log"  # asterisk_raw writes all of raw/asterisk in one step
    keys = cli._select(selection, cli._parse_selection(selection), graph)
    assert {k.to_user_string() for k in keys} == {f"raw/asterisk/{t}" for t in (
        "queue_log", "queue_log_rejects", "log_streams", "queue_log_table", "cdr", "cdr_rejects", "phone_numbers")}


def test_a_failed_step_is_summarised_by_its_root_cause(make_settings, tmp_path, capsys):
    settings = make_settings(SWITCHBOARD_QUEUE_LOG_DIRS=f"lab={tmp_path}")
    # Another process holds the warehouse open for writing, as a forgotten `duckdb` shell would.
    holder = subprocess.Popen(
        [sys.executable, "-c", "import duckdb, sys; con = duckdb.connect(sys.argv[1]); "
         "print('open', flush=True); sys.stdin.read()", str(settings.warehouse.duckdb_path)],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "open"
        assert cli.main(["materialize", "--select", "key:raw/asterisk/*"]) == 1
    finally:
        holder.communicate("")
    failed = [line for line in capsys.readouterr().err.splitlines() if line.startswith("  step failed: ")]
    assert len(failed) == 1, failed
    assert failed[0].startswith("  step failed: asterisk_raw: ") and "Could not set lock on file" in failed[0]


def test_root_cause_follows_causes_then_contexts():
    from dagster._utils.error import serializable_error_info_from_exc_info

    try:
        try:
            try:
                raise OSError("disk full\n  while writing")
            except OSError:
                raise KeyError("lookup") from None  # an explicit cause of None hides the OSError
        except KeyError as inner:
            raise RuntimeError("step failed") from inner
    except RuntimeError:
        info = serializable_error_info_from_exc_info(sys.exc_info())
    assert cli.root_cause_message(info) == "KeyError: 'lookup'"

    try:
        try:
            raise OSError("disk full\n  while writing")
        except OSError:
            raise RuntimeError("step failed")  # noqa: B904 — an implicit context, as dlt raises some
    except RuntimeError:
        info = serializable_error_info_from_exc_info(sys.exc_info())
    assert cli.root_cause_message(info) == "OSError: disk full while writing"


def test_a_failed_dbt_build_is_summed_up_by_what_dbt_said(tmp_path):
    """dagster-dbt's error begins with dbt's command line (~400 characters with the --vars): cut
    at 500, the summary lost the lock error dbt reported after it (independent upgrade audit)."""
    from dagster._utils.error import serializable_error_info_from_exc_info
    from dagster_dbt.errors import DagsterDbtCliRuntimeError

    command = f"{tmp_path}/.venv/bin/switchboard-dbt build --full-refresh --vars " + json.dumps({f"v{i}": "x" * 20 for i in range(15)})
    lock = f'Runtime Error IO Error: Could not set lock on file "{tmp_path}/warehouse.duckdb": Conflicting lock is held'
    try:
        raise DagsterDbtCliRuntimeError(
            description=f"The dbt CLI process with command\n\n`{command}`\n\nfailed with exit code `2`. Check the "
                        f"stdout in the Dagster compute logs for the full information about the error.\n\n"
                        f"Errors parsed from dbt logs:\n\n{lock}")
    except DagsterDbtCliRuntimeError:
        info = serializable_error_info_from_exc_info(sys.exc_info())
    assert cli.root_cause_message(info) == f"dbt failed (exit code 2): {lock}"


def test_settings_exits_2_naming_an_invalid_value(make_settings, monkeypatch, capsys):
    make_settings()
    assert cli.main(["settings"]) == 0
    assert capsys.readouterr().out.splitlines()[-1].startswith("settings OK: warehouse duckdb:///")
    monkeypatch.setenv("SWITCHBOARD_SL_SECONDS", "twenty")
    assert cli.main(["settings"]) == 2
    assert "SWITCHBOARD_SL_SECONDS" in capsys.readouterr().err
    monkeypatch.delenv("SWITCHBOARD_SL_SECONDS")
    # what `materialize` refuses before any work, `settings` refuses too (an independent audit found
    # it passing them): a place to read that is missing, a destination that cannot be written
    for name, value in (("SWITCHBOARD_QUEUE_LOG_DIRS", "/no/such/folder"), ("SWITCHBOARD_ASTERISK_CDR_DIRS", "/no/such"),
                        ("WEBEX_CONTROL_HUB_DIR", "/no/such"), ("SWITCHBOARD_SERVING_PATH", "/")):
        monkeypatch.setenv(name, value)
        assert cli.main(["settings"]) == 2
        assert name in capsys.readouterr().err
        monkeypatch.delenv(name)
    assert cli.main(["settings"]) == 0


def test_settings_lists_the_logs_as_a_run_does(make_settings, tmp_path, monkeypatch, capsys):
    """A layout whose PBXs cannot be told apart (or a log this process may not read) stopped the
    first run while `settings` passed (independent audit): it is listed, and refused, before."""
    make_settings()
    for pbx in ("a", "b"):
        folder = tmp_path / pbx / "asterisk"
        folder.mkdir(parents=True)
        (folder / "queue_log").write_text("1|x|q|NONE|ENTERQUEUE||1|1\n")
    monkeypatch.setenv("SWITCHBOARD_QUEUE_LOG_DIRS", f"{tmp_path / 'a' / 'asterisk'},{tmp_path / 'b' / 'asterisk'}")
    assert cli.main(["settings"]) == 2
    assert "SWITCHBOARD_QUEUE_LOG_DIRS: the folders" in capsys.readouterr().err
    monkeypatch.setenv("SWITCHBOARD_QUEUE_LOG_DIRS", f"a={tmp_path / 'a' / 'asterisk'},b={tmp_path / 'b' / 'asterisk'}")
    capsys.readouterr()
    assert cli.main(["settings"]) == 0
    # and says what it found, as the run will read it (it printed only "settings OK": independent audit)
    assert "SWITCHBOARD_QUEUE_LOG_DIRS: PBX a: 1 file, PBX b: 1 file\n" in capsys.readouterr().out
    (tmp_path / "c").mkdir()
    monkeypatch.setenv("SWITCHBOARD_QUEUE_LOG_DIRS", f"a={tmp_path / 'a' / 'asterisk'},c={tmp_path / 'c'}")
    assert cli.main(["settings"]) == 0
    assert f"SWITCHBOARD_QUEUE_LOG_DIRS: PBX a: 1 file; nothing to read in {tmp_path / 'c'}\n" in capsys.readouterr().out


@pytest.mark.postgres
def test_settings_refuse_a_warehouse_role_that_may_not_create_schemas(make_settings, postgres_server, capsys):
    """A role that could connect but not create schemas passed `settings`, then failed the run at
    its first step with "permission denied for database" (independent audit). Schemas granted to
    it one by one are not enough (dbt's hooks and dlt run `create schema if not exists`, which
    needs the database's CREATE): only the database's CREATE is."""
    import psycopg2

    from tests.postgres_databases import create_database

    facts = create_database(postgres_server, "narrow_role")
    with psycopg2.connect(**facts) as admin, admin.cursor() as cur:
        cur.execute("drop role if exists narrow; create role narrow login; "
                    "revoke create on database narrow_role from public; create schema marts; "
                    "grant usage, create on schema marts to narrow")
    make_settings(SWITCHBOARD_WAREHOUSE_URL=f"postgresql://narrow:x@{facts['host']}:{facts['port']}/narrow_role")
    assert cli.main(["settings"]) == 2
    err = capsys.readouterr().err
    assert "SWITCHBOARD_WAREHOUSE_URL: role 'narrow' may not create schemas in database 'narrow_role'" in err
    assert 'GRANT CREATE ON DATABASE "narrow_role" TO "narrow"' in err
    with psycopg2.connect(**facts) as admin, admin.cursor() as cur:
        cur.execute("grant create on database narrow_role to narrow")
    assert cli.main(["settings"]) == 0


@pytest.mark.parametrize("argv", [["demo", "--agents", "0", "--no-ui"], ["demo", "--days", "-1", "--no-ui"],
                                  ["simulate", "--out", "never-written", "--days", "0"]])
def test_no_agents_or_days_is_refused_before_any_work(argv, tmp_path, monkeypatch, capsys):
    """`demo --agents 0` ended in a traceback after deleting the previous demo's data/demo
    (independent audit): refused by the argument parser, exit 2, naming the argument."""
    monkeypatch.chdir(tmp_path)
    with pytest.raises(SystemExit) as stopped:
        cli.main(argv)
    assert stopped.value.code == 2
    assert f"argument {argv[1] if argv[0] == 'demo' else '--days'}: must be at least 1" in capsys.readouterr().err
    assert not (tmp_path / "never-written").exists()
