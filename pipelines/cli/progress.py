"""A one-line progress display for long runs, shown only when stderr is a terminal."""

from __future__ import annotations

import sys
import time
from typing import TextIO

from pipelines.load.run_stats import RunStats


class Progress:
    """Rewrites one status line (files and records) at most a few times per second."""

    def __init__(self, stream: TextIO | None = None, interval: float = 0.25) -> None:
        self._stream = stream or sys.stderr
        self._enabled = self._stream.isatty()
        self._interval = interval
        self._last = 0.0
        self._shown = False

    def update(self, stats: RunStats) -> None:
        """Show the current counters if the terminal line is due for a refresh."""
        now = time.monotonic()
        if not self._enabled or now - self._last < self._interval:
            return
        self._last = now
        self._shown = True
        self._stream.write(
            f"\rreading archive: {stats.files_read} files, {stats.records_read:,} records, "
            f"{stats.events_loaded:,} new events, {stats.rejected_total:,} rejected "
        )
        self._stream.flush()

    def finish(self) -> None:
        """End the status line so that log lines start on a fresh line."""
        if self._shown:
            self._stream.write("\n")
            self._stream.flush()
            self._shown = False
