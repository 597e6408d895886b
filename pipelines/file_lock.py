"""An exclusive advisory lock on a file (flock), held for a `with` block: one process at a time,
across the processes of one machine (a run worker, a backfill command, the daemon's sensor)."""

from __future__ import annotations

import fcntl
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


class LockHeld(RuntimeError):
    """Another process holds the lock (FileLock with wait=False)."""


class FileLock:
    def __init__(self, path: Path, *, wait: bool = True):
        self.path, self.wait = path, wait

    def __enter__(self) -> FileLock:
        self.path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        self.fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            # waits for the holder, or raises LockHeld at once when told not to wait
            fcntl.flock(self.fd, fcntl.LOCK_EX | (0 if self.wait else fcntl.LOCK_NB))
        except BlockingIOError:
            os.close(self.fd)
            raise LockHeld(f"{self.path} is held by another process") from None
        return self

    def __exit__(self, *exc) -> None:
        fcntl.flock(self.fd, fcntl.LOCK_UN)
        os.close(self.fd)


@contextmanager
def shared_unless_held(path: Path) -> Iterator[bool]:
    """A shared lock on an existing lock file, without waiting: yields False when a FileLock holds
    it (nothing is locked then), True while the block reads what the holder would rewrite."""
    fd = os.open(path, os.O_RDONLY)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except BlockingIOError:
            yield False
            return
        yield True
    finally:
        os.close(fd)  # (releases the lock)
