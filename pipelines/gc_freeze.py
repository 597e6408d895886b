"""Python's garbage collector told to leave alone what existed before a load started."""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def existing_objects_frozen() -> Iterator[None]:
    """Objects alive at the start of the block (the modules, classes and functions of dlt, Polars,
    pyarrow, DuckDB, Dagster: hundreds of thousands) are not traversed by collections inside it.

    A load makes enough objects to trigger a full collection, and a full collection walks every
    object of the process: 0.3-0.7 s of a 10M-line queue_log load, on one core, for no garbage.
    Objects made inside the block are collected as usual; at its end the frozen ones go back to
    the oldest generation (`gc.unfreeze`), so a later collection and the interpreter's exit see
    them again.
    """
    gc.freeze()
    try:
        yield
    finally:
        gc.unfreeze()
