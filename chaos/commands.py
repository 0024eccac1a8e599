"""The `cases` command line, as the chaos run calls it (setup, sweep)."""

from __future__ import annotations

import os
import subprocess

from chaos.fleet import CASES


def cases(env: dict[str, str], *args: str, timeout: float = 300) -> None:
    done = subprocess.run([str(CASES), "--log-level", "WARNING", *args],
                          env={**os.environ, **env}, capture_output=True, text=True,
                          timeout=timeout)
    if done.returncode != 0:
        raise RuntimeError(f"cases {' '.join(args)} failed: {done.stderr.strip()[-2000:]}")
