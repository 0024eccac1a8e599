"""`make chaos`: the same seeded workload through an undisturbed run and through a run
whose processes, broker and database are killed and restarted mid-stream; the figures
say whether the faults lost, doubled or changed anything (see `chaos/run.py`)."""
