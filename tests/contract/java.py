"""The repository's Java tools (Maven projects), built once per content by
tools/java/build.sh and run here as the tests need them."""

from __future__ import annotations

import subprocess
from functools import cache
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


@cache
def classpath(project: str) -> str:
    built = subprocess.run(["bash", str(REPO / "tools" / "java" / "build.sh"),
                            str(REPO / project)], capture_output=True, text=True, timeout=900)
    assert built.returncode == 0, f"building {project} failed:\n{built.stderr[-3000:]}"
    return built.stdout.strip()


def run_java(project: str, main: str, *args: str, timeout: float = 300,
             env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["java", "-cp", classpath(project), main, *args],
                          capture_output=True, text=True, timeout=timeout, env=env)


def contract_check(avro_dir: Path) -> subprocess.CompletedProcess[str]:
    """tools/avro-contract's check: FULL_TRANSITIVE against every released version."""
    return run_java("tools/avro-contract", "aliberber.cases.contract.Main", "check",
                    str(avro_dir), timeout=120)
