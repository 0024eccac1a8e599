"""`make chaos`: the same seeded workload, published before the service starts, drained
by an undisturbed fleet and by a fleet whose processes, broker and database are killed
and restarted while it drains; the figures say whether the faults lost, doubled or
changed anything (see `chaos/run.py`)."""
