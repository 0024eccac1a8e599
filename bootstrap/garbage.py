"""The cyclic garbage collector set for a long-running component.

A component allocates a few objects per record and frees nearly all of them by their
reference counts; the cyclic collector finds little. With CPython's defaults it still
ran a young collection every 700 allocations and, every few seconds under load, a full
one walking every object imported at start-up (about 30 ms of CPU each): 6-9% of each
component's CPU in all.
"""

from __future__ import annotations

import gc

#: allocations (less deallocations) of tracked objects between two young collections;
#: CPython's default is 700
YOUNG_COLLECTION_EVERY = 20_000


def settle_after_start_up() -> None:
    """Call once the component's modules are imported and its settings read: what exists
    then lives as long as the process, and full collections stop walking it."""
    gc.collect()
    gc.freeze()
    _, middle, old = gc.get_threshold()
    gc.set_threshold(YOUNG_COLLECTION_EVERY, middle, old)
