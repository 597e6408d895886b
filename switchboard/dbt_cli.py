"""`switchboard-dbt`: dbt's own command line, without Python's cyclic garbage collector, with a
`--version` that stays offline, and ending when the process that started it dies (Linux).

dbt holds its whole manifest (every node, macro and compiled query) as Python objects, and
makes enough new ones per node that the collector runs ~1,750 times in a build of the 330 nodes,
each full collection walking all of it, on one core under the GIL that every node's Python work
waits for. How much that costs depends on how fast this machine walks memory at the hour: in a
100k-line append's build 1.1 s of 16 s in a fast hour (wall time ~0.3-1 s shorter without it),
8.8 s of 65 s in the slowest hour recorded, when a no-change build on the 10M-line warehouse
spent 18.5 of 105-111 s in it and took 88-91 s without it. The cost is 60-140 MB more memory:
a dbt process lives for one command, and what reference counting does not free it keeps until
it exits, where the interpreter's last collections are skipped too (`skip_final_collections`: they
walked all of it once more, ~1 s of every command).

Dagster's dbt resource asks `dbt --version` before its first command of a run, to learn the
installed version; dbt's own answer also asks PyPI for the latest release (a request to the
internet, up to a second, from every run and every test that runs dbt through Dagster). Here it
is answered from the installed packages.

Dagster's dbt resource, the benchmarks and the tests run this instead of `dbt` (resources/dbt.py:
dbt_executable); every other command line is dbt's, with dbt's exit codes.
"""

from __future__ import annotations

import gc
import sys
from importlib.metadata import PackageNotFoundError, version

from switchboard.gc_freeze import skip_final_collections

ADAPTERS = ("duckdb", "postgres")


def main() -> int:
    if sys.argv[1:] == ["--version"]:
        print(installed_versions())
        return 0
    end_with_parent()
    gc.disable()
    from dbt.cli.main import cli

    try:
        return cli()  # dbt's click group ends the process itself (SystemExit)
    finally:
        skip_final_collections()


def end_with_parent() -> None:
    """Have Linux end this process (SIGTERM) when the process that started it dies. A Dagster run
    worker killed (out of memory, kill -9) left its dbt build running on its own: still writing
    the warehouse while the run's retry started, and holding DuckDB's write lock against it
    (independent check). dbt's models are transactions, so the retry builds from a consistent
    warehouse. Elsewhere (macOS) nothing is done."""
    if not sys.platform.startswith("linux"):
        return
    import ctypes
    import os
    import signal

    # The signal must be able to end this process: Dagster maps SIGTERM to SIGINT's handler in
    # the processes it runs in, which is SIG_IGN wherever SIGINT was ignored (a worker started in
    # the background by a shell), and an ignored or blocked signal stays so across exec.
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGTERM})
    parent = os.getppid()
    pr_set_pdeathsig = 1
    ctypes.CDLL(None, use_errno=True).prctl(pr_set_pdeathsig, signal.SIGTERM, 0, 0, 0)
    if os.getppid() != parent:  # the parent died before the request took effect
        os.kill(os.getpid(), signal.SIGTERM)


def installed_versions() -> str:
    """dbt's `--version` text (the installed versions), without the latest release's lookup."""
    lines = ["Core:", f"  - installed: {version('dbt-core')}", "", "Plugins:"]
    for adapter in ADAPTERS:
        try:
            lines.append(f"  - {adapter}: {version(f'dbt-{adapter}')}")
        except PackageNotFoundError:
            continue
    return "\n".join(lines)
