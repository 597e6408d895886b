"""`switchboard-dbt`: dbt's own command line, without Python's cyclic garbage collector.

dbt holds its whole manifest (every node, macro and compiled query) as Python objects, and
makes enough new ones per node that the collector runs thousands of times in a build, each full
collection walking all of it. In a `dbt build` of the 330 nodes on the 10M-line warehouse that was
a sixth of the process's time (1,604 + 146 + 8 collections, 18.5 of 105-111 s on a slow hour),
spent on one core under the GIL that every node's Python work waits for. Without it the build
took 88-91 s and 60 MB more memory: a dbt process lives for one command, and what reference
counting does not free it keeps until it exits.

Dagster's dbt resource and the benchmark run this instead of `dbt` (resources/dbt.py:
dbt_executable); arguments and exit codes are dbt's.
"""

from __future__ import annotations

import gc


def main() -> int:
    gc.disable()
    from dbt.cli.main import cli

    return cli()
