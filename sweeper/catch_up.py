"""Catching up: while the consumers read a backlog, the sweeper decides in passes some
seconds apart instead of at every look.

While a backlog is read the watermark trails the consumers, and a pass at every look
decides what it passed bit by bit, taking about a quarter of the cores from the
consumers that the watermark waits for. Holding passes only makes those decisions later:
what a pass decides is behind the watermark either way, so decisions stand as they would.
"""

from __future__ import annotations

import math
from dataclasses import dataclass


@dataclass
class CatchUp:
    #: unread inbound records (every partition together) from which a backlog is being
    #: read; 0: never
    backlog: int
    #: the least time between the starts of two passes while one is, seconds
    spacing: float
    #: when the last pass began (time.monotonic())
    last_pass: float = -math.inf

    def holds(self, unread: int, now: float) -> bool:
        """Whether a pass is put off now, with `unread` records left to read."""
        return self.catching_up(unread) and now - self.last_pass < self.spacing

    def catching_up(self, unread: int) -> bool:
        return 0 < self.backlog <= unread
