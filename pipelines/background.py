"""Running a generator on a thread of its own, a few items ahead of the code that consumes it."""

from __future__ import annotations

import queue
import threading
from collections.abc import Iterable, Iterator
from typing import TypeVar

T = TypeVar("T")

_DONE = object()


class _Failure:
    def __init__(self, error: BaseException):
        self.error = error


def ahead(items: Iterable[T], *, depth: int, name: str) -> Iterator[T]:
    """The items of `items`, in order, produced on a thread named `name` up to `depth` items ahead.

    For producers whose work mostly runs outside the GIL (Polars, numpy, HTTP reads) next to a
    consumer that does the same (dlt writing parquet): the two overlap on two cores. An error in
    the producer is raised here, in its place in the sequence; closing this generator stops the
    producer at its next item.
    """
    out: queue.Queue = queue.Queue(maxsize=depth)
    stop = threading.Event()

    def put(item: object) -> bool:
        while not stop.is_set():
            try:
                out.put(item, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def produce() -> None:
        try:
            for item in items:
                if not put(item):
                    return
            put(_DONE)
        except BaseException as exc:  # noqa: BLE001 — handed to the consumer, raised there
            put(_Failure(exc))

    thread = threading.Thread(target=produce, name=name, daemon=True)
    thread.start()
    try:
        while True:
            item = out.get()
            if item is _DONE:
                return
            if isinstance(item, _Failure):
                raise item.error
            yield item
    finally:
        stop.set()
        thread.join(timeout=10)  # at most one item in the making; it is not waited for beyond that
