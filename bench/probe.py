"""How fast the machine is at a moment: a fixed piece of pure-Python work, timed.

On a shared virtual machine the same code takes up to half as long again from one minute
to the next, and a run's passes are minutes apart: its ratios set a pipeline pass
against raw passes measured at other moments. Each pass is preceded by a probe; figures
of two passes compare only where their probes are close. The CPU time says how much work
a CPU-second buys (what CPU per record is counted in); the elapsed time adds what the
machine's other processes and its host take from the benchmark's own.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

#: loop iterations of the probe: about 0.1 s of one core
WORK = 1_000_000


@dataclass(frozen=True)
class Probe:
    #: milliseconds of CPU and of elapsed time the work took, the fastest of the tries
    cpu_ms: float
    elapsed_ms: float

    def __str__(self) -> str:
        return f"{self.cpu_ms:.0f}/{self.elapsed_ms:.0f}"


def probe(tries: int = 3) -> Probe:
    """The work timed `tries` times (lower is faster)."""
    cpu = elapsed = float("inf")
    for _ in range(tries):
        started, started_cpu = time.perf_counter(), time.process_time()
        total = 0
        for i in range(WORK):
            total += i * i % 7
        cpu = min(cpu, time.process_time() - started_cpu)
        elapsed = min(elapsed, time.perf_counter() - started)
    return Probe(cpu * 1000, elapsed * 1000)
