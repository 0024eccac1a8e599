"""One run's own Kafka broker and PostgreSQL, through the project's local scripts.

Each run gets its own STATE_DIR, so the baseline and the chaos run never share data. The
scripts reuse a STATE_DIR's last ports on a restart, which is what lets the consumers
reconnect to the same address after an outage; `restart_*` checks that it did.
"""

from __future__ import annotations

import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
LOCAL = REPO / "deploy" / "local"


class ServiceError(RuntimeError):
    """A local service did not start, stop or come back where it was."""


def _script(name: str, *args: str, timeout: float = 300) -> str:
    done = subprocess.run(["bash", str(LOCAL / name), *args], capture_output=True,
                          text=True, timeout=timeout)
    if done.returncode != 0:
        raise ServiceError(f"{name} {' '.join(args)} failed (rc={done.returncode}): "
                           f"{done.stderr.strip()[-2000:]}")
    return done.stdout


@dataclass
class LocalServices:
    state_dir: Path
    env: dict[str, str] = field(default_factory=dict)

    def up(self) -> dict[str, str]:
        self.state_dir.mkdir(parents=True, exist_ok=True)
        out = _script("services.sh", "up", str(self.state_dir))
        self.env = dict(line.split("=", 1) for line in out.splitlines() if "=" in line)
        if set(self.env) != {"KAFKA_BOOTSTRAP_SERVERS", "DATABASE_URL"}:
            raise ServiceError(f"services.sh up printed {out!r}")
        return self.env

    def down(self) -> None:
        _script("services.sh", "down", str(self.state_dir))

    def restart_kafka(self, down_for: float = 0.0) -> None:
        """Stop the broker, keep it down `down_for` more seconds, start it again."""
        _script("kafka.sh", "stop", str(self.state_dir))
        time.sleep(down_for)
        address = _script("kafka.sh", "start", str(self.state_dir)).strip().splitlines()[-1]
        # the consumers only know the old address: a new port would strand them
        if address != self.env["KAFKA_BOOTSTRAP_SERVERS"]:
            raise ServiceError(f"the broker came back on {address}, not "
                               f"{self.env['KAFKA_BOOTSTRAP_SERVERS']}")

    def restart_postgres(self, down_for: float = 0.0) -> None:
        """Stop PostgreSQL (fast shutdown: sessions are cut), keep it down `down_for`
        more seconds, start it again."""
        _script("postgres.sh", "stop", str(self.state_dir))
        time.sleep(down_for)
        url = _script("postgres.sh", "start", str(self.state_dir)).strip().splitlines()[-1]
        if url != self.env["DATABASE_URL"]:
            raise ServiceError(f"PostgreSQL came back on {url}, not {self.env['DATABASE_URL']}")
