"""Why a service could not be reached at start-up, in one line (what, where, never a
password), and whether waiting can help: a server that is down or restarting can come
back; a database that does not exist, a role the server does not know, a password it
refuses, a URL that cannot be read, a Kafka setting librdkafka refuses, cannot.

PostgreSQL reports why it refused a connection with a SQLSTATE (3D000 invalid_catalog_name,
28000 invalid_authorization_specification, 28P01 invalid_password, ...), but libpq keeps
only the message of a failed connection and psycopg has no SQLSTATE to give then. So a
refusal is asked once more, through the same libpq, with libpq's verbose error messages,
which carry the code (`PQsetErrorVerbosity`, through psycopg's documented
`PGconn.pgconn_ptr`); where that libpq cannot be found, the fault counts as one that may
pass, and the bounded wait ends it.
"""

from __future__ import annotations

import ctypes
import re
import select
import time
from dataclasses import dataclass
from functools import cache

import psycopg
from confluent_kafka import KafkaError, KafkaException
from psycopg import pq
from psycopg.conninfo import make_conninfo

from configuration import Settings, mask_database_url

#: what a server refusing the connection says that waiting does not change
LASTING_SQLSTATES = frozenset({
    "3D000",  # invalid_catalog_name: no such database
    "28000",  # invalid_authorization_specification: no such role, no pg_hba.conf entry
    "28P01",  # invalid_password
    "42501",  # insufficient_privilege: no CONNECT on the database, no USAGE, ...
})

#: librdkafka's errors that say the configuration, not the cluster's state, is wrong
LASTING_KAFKA_ERRORS = frozenset({
    KafkaError._INVALID_ARG, KafkaError._AUTHENTICATION, KafkaError._SSL,
    KafkaError.SASL_AUTHENTICATION_FAILED, KafkaError.TOPIC_AUTHORIZATION_FAILED,
    KafkaError.CLUSTER_AUTHORIZATION_FAILED, KafkaError.GROUP_AUTHORIZATION_FAILED,
})

PROBE_TIMEOUT_SECONDS = 5.0
_VERBOSE = 2  # PQERRORS_VERBOSE: "FATAL:  3D000: database ... does not exist"
_SQLSTATE = re.compile(r"\b(?:FATAL|ERROR|PANIC):\s+([0-9A-Z]{5}):")


@dataclass(frozen=True)
class Fault:
    """Why one service is out of reach."""

    service: str  # PostgreSQL, Kafka
    where: str  # the URL without its password, or the bootstrap servers
    reason: str  # one line
    lasting: bool  # waiting cannot help

    def line(self) -> str:
        return f"{self.service} at {self.where}: {self.reason}"


def fault_of(exc: BaseException, settings: Settings) -> Fault | None:
    """The fault `exc` stands for, or None when it is not a service's."""
    if isinstance(exc, psycopg.Error):
        return _database_fault(exc, settings.database_url)
    if isinstance(exc, KafkaException):
        error = exc.args[0] if exc.args else None
        if isinstance(error, KafkaError):
            lasting = error.fatal() or error.code() in LASTING_KAFKA_ERRORS
            reason = f"{error.str()} ({error.name()})"
        else:
            lasting, reason = False, str(exc)
        return Fault("Kafka", settings.kafka_bootstrap_servers, _one_line(reason), lasting)
    return None


def _database_fault(exc: psycopg.Error, url: str) -> Fault:
    where = mask_database_url(url)
    text = _one_line(str(exc).removeprefix("connection failed: ")
                     .removeprefix("connection is bad: "))
    if not isinstance(exc, psycopg.OperationalError):
        # a URL libpq cannot read, or a statement the server refuses (no privilege on
        # a table, say): neither changes by itself
        state = exc.sqlstate
        suffix = f" (SQLSTATE {state}, {type(exc).__name__})" if state else ""
        return Fault("PostgreSQL", where, _masked(text, url) + suffix, True)
    if str(exc).startswith("connection is bad: invalid"):  # e.g. port 99999
        return Fault("PostgreSQL", where, _masked(text, url), True)
    state = exc.sqlstate or (connection_sqlstate(url) if "FATAL:" in str(exc) else None)
    if state is None:
        return Fault("PostgreSQL", where, _masked(text, url), False)
    name = psycopg.errors.lookup(state).__name__ if _known(state) else "unknown"
    return Fault("PostgreSQL", where, f"{_masked(text, url)} (SQLSTATE {state}, {name})",
                 state in LASTING_SQLSTATES)


def _known(state: str) -> bool:
    try:
        psycopg.errors.lookup(state)
    except KeyError:
        return False
    return True


#: libpq's preamble, which `where` says already
_PREAMBLE = re.compile(r'^connection to server (?:at|on) "[^"]*"(?: \([^)]*\))?,? '
                       r'(?:port \d+ )?failed:\s*')


def _one_line(text: str) -> str:
    lines = [line.strip() for line in text.strip().splitlines() if line.strip()]
    return _PREAMBLE.sub("", re.sub(r"\s+", " ", lines[0])) if lines else "no reason given"


def _masked(text: str, url: str) -> str:
    """The text with the URL, should it quote it, masked."""
    return text.replace(url, mask_database_url(url)) if url else text


def connection_sqlstate(url: str, timeout: float = PROBE_TIMEOUT_SECONDS) -> str | None:
    """The SQLSTATE with which the server refuses a connection to `url` now; None when it
    accepts it, when no server answers, or when libpq cannot be asked."""
    libpq = _libpq()
    if libpq is None:
        return None
    try:
        conn = pq.PGconn.connect_start(make_conninfo(url, connect_timeout=int(timeout)
                                                     ).encode())
    except psycopg.Error:
        return None
    try:
        pointer = getattr(conn, "pgconn_ptr", None)  # documented; not in pq's protocol
        if pointer is None:
            return None
        libpq.PQsetErrorVerbosity(ctypes.c_void_p(pointer), _VERBOSE)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            status = conn.connect_poll()
            if status == pq.PollingStatus.READING:
                select.select([conn.socket], [], [], max(0.0, deadline - time.monotonic()))
            elif status == pq.PollingStatus.WRITING:
                select.select([], [conn.socket], [], max(0.0, deadline - time.monotonic()))
            else:
                break
        found = _SQLSTATE.search(conn.error_message.decode(errors="replace"))
        return found.group(1) if found else None
    except (psycopg.Error, OSError, ValueError):
        return None
    finally:
        conn.finish()


@cache
def _libpq() -> ctypes.CDLL | None:
    """The libpq psycopg itself uses (another copy's PGconn could be laid out otherwise):
    the Python implementation's own handle, else the library this process has loaded."""
    if pq.__impl__ == "python":
        from psycopg.pq import _pq_ctypes

        lib = getattr(_pq_ctypes, "pq", None)  # the library it loaded
        if not isinstance(lib, ctypes.CDLL):
            return None
    else:
        try:
            with open("/proc/self/maps") as maps:
                paths = {line.split()[-1] for line in maps if "/libpq" in line}
        except OSError:
            return None
        found = sorted(p for p in paths if re.search(r"/libpq[-.][^/]*\.so", p))
        if len(found) != 1:
            return None
        try:
            lib = ctypes.CDLL(found[0])
        except OSError:
            return None
    try:
        lib.PQsetErrorVerbosity.argtypes = [ctypes.c_void_p, ctypes.c_int]
        lib.PQsetErrorVerbosity.restype = ctypes.c_int
    except AttributeError:
        return None
    return lib
