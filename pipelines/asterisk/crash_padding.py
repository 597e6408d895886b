"""The NUL runs an unclean shutdown leaves in a log Asterisk writes a line at a time (queue_log,
Master.csv: asterisk-queue-log.md §4.12), found the same way in both.

The file is padded with NULs from where the interrupted write stopped; the restarted Asterisk
writes on after the padding, often without a newline first. `CrashPadding(line_start)` knows a
log's line start (a regex), and with it:
- a NUL run after text and before the start of a new line ends the cut line there
  (`break_midline_runs`), so that the line after it is not lost in the cut one;
- a NUL run right after text that ends its line (at a newline, the end of the data or the start of
  a new line) marks that text as the line the crash cut (`cut_lines`). A run after a newline cut
  nothing; any other run inside a line cut nothing and is only stripped by the parsers.
Possessive runs: a long NUL padding is scanned once, not once per NUL.
"""

from __future__ import annotations

import re

import numpy as np


class CrashPadding:
    def __init__(self, line_start: bytes):
        self._before_a_new_line = re.compile(rb"(?<=[^\n\x00])\x00++(?=" + line_start + rb")")
        self._after_cut_text = re.compile(rb"(?<=[^\n\r\x00])\x00++(?=[\r\x00]*+(?:\n|\Z)|" + line_start + rb")")

    def break_midline_runs(self, data: bytes) -> bytes:
        """`data` with each NUL run between a cut line and the start of a new one turned into a
        line break, keeping every byte's offset (the run's first NUL becomes the newline)."""
        if b"\x00" not in data:
            return data
        return self._before_a_new_line.sub(lambda run: b"\n" + run.group()[1:], data)

    def cut_lines(self, data: bytes, newlines: np.ndarray) -> list[int]:
        """Chunk-relative numbers of the lines of `data` that a crash cut, as the parsers see the
        lines: `newlines` are the offsets of the line breaks in `break_midline_runs(data)` (the
        parser that has them already passes them, not a second scan)."""
        # Offsets are the same in both; a run's first NUL is still in the line it cuts, or is its newline.
        cut_at = [m.start() for m in self._after_cut_text.finditer(data)]
        return sorted({int(i) for i in np.searchsorted(newlines, cut_at)})
