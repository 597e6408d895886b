"""Webex CDR ingest benchmark: a simulator folder served by the sandbox (limits off) → raw_webex.cdr.

    python -m bench.webex_ingest --data DIR [--copies N] [--workdir DIR] [--warehouse duckdb|URL]

The sandbox runs in its own process (as the real API would be elsewhere); the load runs in
another, as `switchboard backfill webex-cdr` does it, over every day the folder's CDRs cover
(cdr_feed, 12 h windows, max=5000). Our own request budget is shortened to match a sandbox
without limits. Prints and returns: records read/loaded, seconds inside the load, records/s,
dlt's extract/normalize/load split, the load process's wall time (with imports), its CPU
seconds (all threads; on a shared machine the steadier figure), its peak RSS, and the sandbox's
CPU seconds (it shares the machine: the real API's would not).

`--copies N` serves N copies of every record (the copy k > 0 with ` #k` appended to its Report
ID, same times), written once to `DIR-xN/` next to DIR: e.g. a 204k-record simulation × 5 ≈ 1M.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import resource
import shutil
import subprocess
import sys
import time
from pathlib import Path

from switchboard.paths import DEFAULT_DATA_DIR, PROJECT_ROOT

LOAD = """
import json, sys, time
from datetime import UTC, datetime, timedelta
from switchboard.settings import load_settings
from pipelines.webex.pipeline import run_backfill, webex_pipeline
settings = load_settings()
now = datetime.now(UTC)
since = datetime.fromisoformat(sys.argv[1])
started = time.perf_counter()
report = run_backfill(settings, since, now)
seconds = time.perf_counter() - started
print("RESULT " + json.dumps({"records_read": report.cdr.records_read, "loaded": report.cdr.loaded,
      "rejected": report.cdr.rejected, "windows": report.cdr.windows, "pages": report.client.get("pages"),
      "load_seconds": round(seconds, 2), "records_per_second": round(report.cdr.records_read / seconds),
      "dlt_steps": {s.step: round((s.finished_at - s.started_at).total_seconds(), 1)
                    for s in webex_pipeline(settings, "webex_backfill").last_trace.steps}}))
"""


def start_sandbox(data: Path, env: dict[str, str]) -> tuple[subprocess.Popen, dict[str, str]]:
    proc = subprocess.Popen(
        [sys.executable, "-m", "switchboard.cli", "sandbox", "serve", "--data", str(data), "--port", "0",
         "--limits", "off", "--time-scale", "60"],
        env=env, cwd=PROJECT_ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    served: dict[str, str] = {}
    for line in proc.stdout:
        if line.startswith("#"):
            print(line.strip(), flush=True)
            break
        name, _, value = line.strip().partition("=")
        if name:
            served[name] = value
    else:
        raise SystemExit("the sandbox did not start")
    return proc, served


_REPORT_ID = re.compile(rb'("Report ID"\s*:\s*")((?:[^"\\]|\\.)*)"')


def with_copies(data: Path, copies: int) -> Path:
    """DIR-xN: N copies of every CDR line of DIR/webex/cdr (copy k's Report ID + " #k")."""
    if copies <= 1:
        return data
    out = data.parent / f"{data.name}-x{copies}"
    target = out / "webex" / "cdr"
    sources = sorted((data / "webex" / "cdr").glob("*.jsonl"))
    if target.is_dir() and sorted(p.name for p in target.glob("*.jsonl")) == [p.name for p in sources]:
        return out  # written before
    shutil.rmtree(out, ignore_errors=True)
    target.mkdir(parents=True)
    for path in sources:
        with path.open("rb") as src, (target / path.name).open("wb") as dst:
            for line in src:
                if not line.strip():
                    continue
                dst.write(line)
                for k in range(1, copies):
                    dst.write(_REPORT_ID.sub(lambda m, k=k: m.group(1) + m.group(2) + b" #%d\"" % k, line, count=1))
    return out


def run(data: Path, workdir: Path, warehouse: str | None = None) -> dict:
    from simulator.sandbox.data import iso_strings_to_epoch_ms  # noqa: F401  (fail early without the sandbox)

    shutil.rmtree(workdir, ignore_errors=True)
    workdir.mkdir(parents=True)
    base_env = {k: v for k, v in os.environ.items() if not k.startswith("WEBEX_")}
    base_env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{base_env.get('PATH', '')}"
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    children_cpu_before = before.ru_utime + before.ru_stime
    sandbox, served = start_sandbox(data, base_env)
    try:
        env = {
            **base_env, **{k: v for k, v in served.items() if k.startswith("WEBEX_")},
            "SWITCHBOARD_WAREHOUSE_URL": warehouse or f"duckdb:///{workdir / 'warehouse.duckdb'}",
            "SWITCHBOARD_STATE_DIR": str(workdir / "state"),
            "WEBEX_TOKEN_FILE": str(workdir / "secrets" / "webex_tokens.json"),
            "WEBEX_CDR_RATE_WINDOW_SECONDS": "0.001",  # the sandbox runs without limits
        }
        days = sorted(p.stem for p in (data / "webex" / "cdr").glob("*.jsonl"))
        since = f"{days[0]}T00:00:00+00:00" if days else "1970-01-01T00:00:00+00:00"
        started = time.perf_counter()
        proc = subprocess.Popen([sys.executable, "-c", LOAD, since], env=env, cwd=PROJECT_ROOT,
                                stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        _, status, usage = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - started
        output = proc.stdout.read()
        if os.waitstatus_to_exitcode(status) != 0:
            print(output[-4000:], file=sys.stderr)
            raise SystemExit("the Webex load failed")
        result = json.loads(next(line for line in output.splitlines() if line.startswith("RESULT "))[7:])
        cpu = usage.ru_utime + usage.ru_stime
        result.update({"process_seconds": round(wall, 2), "cpu_seconds": round(cpu, 1),
                       "cpu_user_sys_seconds": [round(usage.ru_utime, 1), round(usage.ru_stime, 1)],
                       "records_per_cpu_second": round(result["records_read"] / cpu),
                       "peak_rss_mb": round(usage.ru_maxrss / 1024, 1)})
    finally:
        sandbox.terminate()
        try:
            sandbox.wait(30)
        except subprocess.TimeoutExpired:
            sandbox.kill()
            sandbox.wait()
    # the sandbox's CPU (start-up, indexing the files and serving), on the same two cores
    served = resource.getrusage(resource.RUSAGE_CHILDREN)
    result["sandbox_cpu_seconds"] = round(served.ru_utime + served.ru_stime - children_cpu_before - cpu, 1)
    return result


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--data", type=Path, required=True, help="simulator output folder (switchboard simulate)")
    parser.add_argument("--copies", type=int, default=1, help="serve N copies of every record (see above)")
    parser.add_argument("--workdir", type=Path, default=DEFAULT_DATA_DIR / "bench" / "webex")
    parser.add_argument("--warehouse", default=None, help="warehouse URL (default: a DuckDB file in --workdir)")
    args = parser.parse_args()
    result = run(with_copies(args.data, args.copies), args.workdir, args.warehouse)
    print(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
