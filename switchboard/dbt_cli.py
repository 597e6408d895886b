"""`switchboard-dbt`: dbt's own command line, without Python's cyclic garbage collector, and with
a `--version` that stays offline.

dbt holds its whole manifest (every node, macro and compiled query) as Python objects, and
makes enough new ones per node that the collector runs thousands of times in a build, each full
collection walking all of it. In a `dbt build` of the 330 nodes on the 10M-line warehouse that was
a sixth of the process's time (1,604 + 146 + 8 collections, 18.5 of 105-111 s on a slow hour),
spent on one core under the GIL that every node's Python work waits for. Without it the build
took 88-91 s and 60 MB more memory: a dbt process lives for one command, and what reference
counting does not free it keeps until it exits.

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

ADAPTERS = ("duckdb", "postgres")


def main() -> int:
    if sys.argv[1:] == ["--version"]:
        print(installed_versions())
        return 0
    gc.disable()
    from dbt.cli.main import cli

    return cli()


def installed_versions() -> str:
    """dbt's `--version` text (the installed versions), without the latest release's lookup."""
    lines = ["Core:", f"  - installed: {version('dbt-core')}", "", "Plugins:"]
    for adapter in ADAPTERS:
        try:
            lines.append(f"  - {adapter}: {version(f'dbt-{adapter}')}")
        except PackageNotFoundError:
            continue
    return "\n".join(lines)
