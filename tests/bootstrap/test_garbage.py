"""The collector settled for a long-running component (in a child interpreter: settling
this one would change every test after it)."""

import subprocess
import sys

from bootstrap.garbage import YOUNG_COLLECTION_EVERY

PROBE = """
import gc
from bootstrap.garbage import settle_after_start_up
before = gc.get_threshold()
settle_after_start_up()
print(gc.get_freeze_count(), *before, *gc.get_threshold())
"""


def test_start_up_objects_are_frozen_and_young_collections_rarer() -> None:
    out = subprocess.run([sys.executable, "-c", PROBE], capture_output=True, text=True,
                         check=True).stdout.split()
    frozen, before, after = int(out[0]), tuple(map(int, out[1:4])), tuple(map(int, out[4:]))
    assert frozen > 1000  # every module's objects, out of the full collections' walk
    assert after == (YOUNG_COLLECTION_EVERY, *before[1:])
    assert before[0] < YOUNG_COLLECTION_EVERY
