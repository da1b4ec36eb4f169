"""Counters of one run, filled while files are read and reported in the run summary."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field


@dataclass
class RunStats:
    """What one run saw in the archive, by file and by record."""

    files_listed: int = 0
    files_read: int = 0
    files_unchanged: int = 0
    files_skipped: int = 0
    bytes_read: int = 0
    records_read: int = 0
    events_loaded: int = 0
    duplicates: int = 0
    rejected: Counter[str] = field(default_factory=Counter)
    loaded_by_table: Counter[str] = field(default_factory=Counter)
    skipped_examples: list[str] = field(default_factory=list)
    last_skipped: str | None = None
    # files read, by how their format was recognised: "name" or "content"
    files_by_recognition: Counter[str] = field(default_factory=Counter)

    @property
    def rejected_total(self) -> int:
        """All rejected records of the run, whatever the reason."""
        return sum(self.rejected.values())
