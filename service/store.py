"""A consumer's batch: keep what was read, so the sweeper can decide it in event time.

Nothing is decided here. The records are stored at once and the partition's progress
moves with them, so the consumer's offsets can be committed right after and nothing is
held in memory while decisions wait for the watermark.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from service.unit_of_work import Inbound, PartitionStep, StoreUnitOfWork


@dataclass
class Stored:
    stored: int = 0
    duplicates: int = 0
    #: different records under an event_id already used: dead letters, with why
    conflicts: list[tuple[Inbound, str]] = field(default_factory=list)


def store_batch(uow: StoreUnitOfWork, items: list[Inbound],
                steps: list[PartitionStep]) -> Stored:
    """Store the batch's new records and how far it read; the caller commits."""
    claimed = uow.store(items)
    uow.advance(steps)
    return Stored(len(claimed.fresh), claimed.duplicates, claimed.conflicts)
