"""Opening a file a listing has judged without following a link in its last component.

The folders Switchboard reads (a PBX's log share, the Control Hub drop folder) are written by
others: a link judged at listing time can be re-pointed, or a file swapped for a link, before the
read. Reading the path the listing resolved, opened so, reads what was judged or fails with
ELOOP (independent security re-audit)."""

from __future__ import annotations

import errno
import os
from pathlib import Path
from typing import BinaryIO


def open_without_following(path: Path) -> BinaryIO:
    """`path` opened for reading; OSError with errno ELOOP (`is_a_link`) when it is a link now."""
    return os.fdopen(os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC), "rb")


def is_a_link(error: OSError) -> bool:
    return error.errno == errno.ELOOP
