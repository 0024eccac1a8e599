"""The broker and database the benchmark runs against, fresh databases, and what the
kernel says about a process (CPU time, resident memory)."""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import psycopg
from psycopg import sql

REPO = Path(__file__).resolve().parent.parent
SERVICES_SH = REPO / "deploy" / "local" / "services.sh"
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


class BenchError(RuntimeError):
    """The benchmark cannot go on; the message says why."""


@dataclass(frozen=True)
class Services:
    bootstrap: str
    database_url: str
    #: where services.sh keeps them, when the benchmark started them itself
    state_dir: Path | None = None

    def postgres_pid(self) -> int | None:
        if self.state_dir is None:
            return None
        pid_file = self.state_dir / "postgres" / "data" / "postmaster.pid"
        return int(pid_file.read_text().split()[0]) if pid_file.exists() else None

    def kafka_pid(self) -> int | None:
        if self.state_dir is None:
            return None
        pid_file = self.state_dir / "kafka" / "pid"
        return int(pid_file.read_text().strip()) if pid_file.exists() else None


@contextmanager
def services() -> Iterator[Services]:
    """KAFKA_BOOTSTRAP_SERVERS and DATABASE_URL when both are set; otherwise a private
    broker and database (deploy/local/services.sh) for this run, stopped at its end."""
    bootstrap = os.environ.get("KAFKA_BOOTSTRAP_SERVERS", "").strip()
    url = os.environ.get("DATABASE_URL", "").strip()
    if bootstrap and url:
        yield Services(bootstrap, url)
        return
    state = Path(tempfile.mkdtemp(prefix="order-cases-bench-"))
    try:
        up = subprocess.run(["bash", str(SERVICES_SH), "up", str(state)], capture_output=True,
                            text=True, timeout=600)
        if up.returncode != 0:
            raise BenchError(f"services.sh up failed:\n{up.stderr[-2000:]}")
        env = dict(line.split("=", 1) for line in up.stdout.splitlines() if "=" in line)
        yield Services(env["KAFKA_BOOTSTRAP_SERVERS"], env["DATABASE_URL"], state)
    finally:
        subprocess.run(["bash", str(SERVICES_SH), "down", str(state)], capture_output=True,
                       timeout=180)
        shutil.rmtree(state, ignore_errors=True)


def database_url(url: str, name: str) -> str:
    parts = urlsplit(url)
    return urlunsplit(parts._replace(path=f"/{name}"))


def fresh_database(url: str, name: str) -> str:
    """An empty database `name` on the server of `url` (dropped first if it exists)."""
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(
            sql.Identifier(name)))
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    return database_url(url, name)


def drop_database(url: str, name: str) -> None:
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(
            sql.Identifier(name)))


# ---- /proc -------------------------------------------------------------------------------

def _stat_fields(pid: int) -> list[str]:
    text = Path(f"/proc/{pid}/stat").read_text()
    return text[text.rindex(")") + 2:].split()  # the fields after the command name


def cpu_seconds(pid: int, with_children: bool = False) -> float:
    """User + system CPU time of a process (and of its children it has waited for)."""
    fields = _stat_fields(pid)  # fields[11:15] = utime, stime, cutime, cstime
    ticks = int(fields[11]) + int(fields[12])
    if with_children:
        ticks += int(fields[13]) + int(fields[14])
    return ticks / CLOCK_TICKS


def children(pid: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if int(_stat_fields(int(entry.name))[1]) == pid:
                    found.append(int(entry.name))
            except (OSError, ValueError, IndexError):
                continue  # gone meanwhile
    return found


def tree_cpu_seconds(pid: int) -> float:
    """CPU time of a server and all its worker processes, past and present (PostgreSQL
    forks a backend per connection)."""
    total = cpu_seconds(pid, with_children=True)
    for child in children(pid):
        try:
            total += cpu_seconds(child)
        except OSError:
            continue
    return total


def memory_kib(pid: int) -> tuple[int, int]:
    """(current RSS, peak RSS) in KiB."""
    rss = hwm = 0
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            rss = int(line.split()[1])
        elif line.startswith("VmHWM:"):
            hwm = int(line.split()[1])
    return rss, hwm
