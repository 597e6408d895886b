#!/usr/bin/env bash
# Creates .venv and installs the locked dependency set plus this project (editable).
# Idempotent: re-running only installs what requirements.lock changed.
set -euo pipefail
cd "$(dirname "$0")/.."

PYTHON="${PYTHON:-python3.11}"
if ! command -v "$PYTHON" >/dev/null 2>&1; then
  echo "bootstrap: $PYTHON not found; Switchboard needs Python 3.11 (set PYTHON=/path/to/python3.11)" >&2
  exit 1
fi
if [ ! -x .venv/bin/python ]; then
  "$PYTHON" -m venv .venv
fi
# uv installs the lock (~180 packages) in seconds instead of minutes; it is itself pinned.
.venv/bin/python -m pip install --quiet --disable-pip-version-check "uv==0.13.9"
# Bytecode compiled once at install: uv writes no .pyc, so every dbt/Dagster/test process would
# otherwise recompile dlt, dbt and Dagster from source (~60 % of a small load, measured).
.venv/bin/uv pip sync --quiet --compile-bytecode --python .venv/bin/python requirements.lock
.venv/bin/uv pip install --quiet --python .venv/bin/python --no-deps -e .
