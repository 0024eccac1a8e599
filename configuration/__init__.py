"""Settings of one deployment, read from the environment in one place.

Connections: KAFKA_BOOTSTRAP_SERVERS, DATABASE_URL. Kafka client settings such as security
pass through as CASES_KAFKA_<NAME> (e.g. CASES_KAFKA_SECURITY_PROTOCOL=SASL_SSL becomes
`security.protocol`). Policy numbers: CASES_POLICY_<FIELD> as plain durations in
seconds, minutes, hours or days (e.g. CASES_POLICY_ESCALATION_AFTER=3d). Event time:
CASES_ALLOWED_LATENESS and CASES_CLOCK_SKEW_TOLERANCE, durations too; so is
CASES_STARTUP_WAIT, how long `cases run` waits for Kafka and PostgreSQL to answer.

Secrets (the database password, Kafka passwords and keys) never leave through `repr`:
`Settings` masks them, so settings may be logged or shown in a traceback.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import structlog

from domain.policy import Policy
from schemas import INBOUND_TOPICS

log = structlog.get_logger("configuration")

#: librdkafka's own limit on a produced message unless `message.max.bytes` says otherwise
KAFKA_MESSAGE_MAX_BYTES = 1_000_000
#: room a dead letter needs beside the original key and value (its `kafka_dlt-*` headers)
DEAD_LETTER_HEADROOM = 64 * 1024
#: the largest inbound value processed by default; a larger one is a dead letter (half
#: the broker's default 1 MB limit, so its original bytes fit the DLQ with the headers)
DEFAULT_MAX_RECORD_BYTES = 512 * 1024

_SECRET_PARTS = ("password", "secret", "oauthbearer.config", "key.pem", "token")
_MASK = "***"


def is_secret(setting: str) -> bool:
    """A librdkafka setting whose value is a secret (`sasl.password`, `ssl.key.password`,
    `sasl.oauthbearer.client.secret`, `ssl.key.pem`, ...)."""
    return any(part in setting for part in _SECRET_PARTS)


def is_security(setting: str) -> bool:
    """A librdkafka setting about authentication or encryption."""
    return setting == "security.protocol" or setting.startswith(("sasl.", "ssl."))


#: `password=...` in a URL's query (up to the next &) or a libpq key=value string
_DSN_PASSWORD = re.compile(r"(password\s*=\s*)('(?:[^'\\]|\\.)*'|[^\s&]+)", re.IGNORECASE)


#: `scheme://user:password@` at the start of a URL urlsplit cannot read (`[bad`, say): the
#: password runs to the last '@'
_URL_PASSWORD = re.compile(r"^([A-Za-z][A-Za-z0-9+.-]*://[^:/@]*:)(.*)@")


def mask_database_url(url: str) -> str:
    """The URL (or libpq key=value string) with its password replaced by ***."""
    masked = _DSN_PASSWORD.sub(lambda m: m.group(1) + _MASK, url)
    try:
        parts = urlsplit(masked)
    except ValueError:
        return _URL_PASSWORD.sub(lambda m: m.group(1) + _MASK + "@", masked)
    if parts.password is None:
        return masked
    host = parts.netloc.rsplit("@", 1)[1]
    return urlunsplit(parts._replace(netloc=f"{parts.username or ''}:{_MASK}@{host}"))


class ConfigurationError(ValueError):
    """A setting that is missing or cannot be read."""


_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([smhd])\s*$")
_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days"}


def parse_duration(text: str) -> dt.timedelta:
    """'3d', '24h', '90m', '30s'."""
    match = _DURATION.match(text)
    if not match:
        raise ConfigurationError(f"{text!r} is not a duration such as 3d, 24h, 90m or 30s")
    return dt.timedelta(**{_UNITS[match.group(2)]: float(match.group(1))})


def policy_from_env(env: Mapping[str, str]) -> Policy:
    overrides = {}
    for f in dataclasses.fields(Policy):
        name = f"CASES_POLICY_{f.name.upper()}"
        if name in env:
            overrides[f.name] = parse_duration(env[name])
    return Policy(**overrides)


#: how late a record may reach Kafka (after it happened, or behind the records before it
#: in its partition) and still be decided in its place (docs/time.md says why 10 s)
DEFAULT_ALLOWED_LATENESS = dt.timedelta(seconds=10)
#: how far a record's time may be ahead of its Kafka timestamp before it is bad input
DEFAULT_CLOCK_SKEW = dt.timedelta(seconds=5)

#: how long `cases run` waits for its services at start-up (CASES_STARTUP_WAIT) before it
#: exits non-zero: as long as a component that has not started counts as alive
#: (observability.health.STARTUP_SECONDS), so a platform never kills one still waiting
DEFAULT_STARTUP_WAIT = dt.timedelta(minutes=5)

#: records per batch and transaction when nothing says otherwise
DEFAULT_BATCH_SIZE = 500
#: per inbound topic, where `make bench` measured better (README, Performance): a tracking
#: update mostly writes one row and touches no case, and in a backlog its consumer spent
#: much of its time waiting for parcels other consumers' transactions held; fewer, longer
#: batches wait fewer times
TOPIC_BATCH_SIZES: dict[str, int] = {"carrier-tracking": 2000}
#: at 1,000 records a second across the five topics, batches of one record cost a
#: consumer about 1 ms of CPU per record (a transaction and its progress row each);
#: gathering for 20 ms makes batches of several (docs/performance.md)
DEFAULT_BATCH_GATHER_SECONDS = 0.02
#: a backlog worth catching up on: some seconds of the consumers' reading, far above what
#: a steady stream leaves unread between two batches
DEFAULT_CATCH_UP_BACKLOG = 10_000
#: decisions are at most this much later while one is read
DEFAULT_CATCH_UP_PASS_SECONDS = 30.0


#: a topic's partitions or replication factor (CASES_TOPIC_PARTITIONS,
#: CASES_TOPIC_REPLICATION_FACTOR: what `cases setup` creates topics with) when the
#: deployment names none: the broker's own default (`num.partitions`,
#: `default.replication.factor`), as CreateTopics takes it
BROKER_DEFAULT = -1


def _topic_layout(env: Mapping[str, str], name: str) -> int:
    """CASES_TOPIC_PARTITIONS / CASES_TOPIC_REPLICATION_FACTOR: a positive number, or
    unset (or -1) for the broker's default."""
    text = env.get(name, "").strip()
    if not text:
        return BROKER_DEFAULT
    try:
        value = int(text)
    except ValueError:
        raise ConfigurationError(f"{name} must be a whole number, not {text!r}") from None
    if value < 1 and value != BROKER_DEFAULT:
        raise ConfigurationError(f"{name} must be at least 1 (or -1 for the broker's "
                                 f"default), not {value}")
    return value


def _batch_size_variable(topic: str) -> str:
    return f"CASES_BATCH_SIZE_{topic.upper().replace('-', '_')}"


@dataclass(frozen=True)
class Settings:
    kafka_bootstrap_servers: str
    database_url: str
    policy: Policy = field(default_factory=Policy)
    #: extra librdkafka settings for every client (security, client.id, ...)
    kafka_extra: dict[str, Any] = field(default_factory=dict)
    #: the most records per batch and transaction, for a topic `topic_batch_sizes` leaves out
    batch_size: int = DEFAULT_BATCH_SIZE
    topic_batch_sizes: dict[str, int] = field(default_factory=lambda: dict(TOPIC_BATCH_SIZES))
    poll_timeout: float = 0.5
    #: how long a consumer gathers records for a batch once the first has arrived (up to
    #: a full batch): a light load then makes batches of a few records, not one each,
    #: for a few milliseconds more on each record's way
    batch_gather: float = DEFAULT_BATCH_GATHER_SECONDS
    #: how often the sweeper looks for something due (one indexed query), and so the
    #: least time between the starts of two passes
    sweep_interval: float = 0.05
    #: unread inbound records from which the sweeper takes a backlog to be read (0: never)
    #: and passes at most every `catch_up_pass_seconds` (sweeper.catch_up)
    catch_up_backlog: int = DEFAULT_CATCH_UP_BACKLOG
    catch_up_pass_seconds: float = DEFAULT_CATCH_UP_PASS_SECONDS
    allowed_lateness: dt.timedelta = DEFAULT_ALLOWED_LATENESS
    clock_skew: dt.timedelta = DEFAULT_CLOCK_SKEW
    #: how long `cases run` waits for Kafka and PostgreSQL to answer before it gives up
    startup_wait: dt.timedelta = DEFAULT_STARTUP_WAIT
    #: the port of /healthz, /readyz and /metrics (None: not served)
    http_port: int | None = None
    #: an inbound value larger than this is a dead letter, checked before decoding
    max_record_bytes: int = DEFAULT_MAX_RECORD_BYTES
    #: what `cases setup` creates topics with; -1: the broker's default
    topic_partitions: int = BROKER_DEFAULT
    topic_replication_factor: int = BROKER_DEFAULT

    def kafka(self, defaults: Mapping[str, Any] | None = None,
              **overrides: Any) -> dict[str, Any]:
        """librdkafka configuration for one client: `defaults` give way to the
        CASES_KAFKA_* settings (tuning such as max.poll.interval.ms); `overrides` are what
        a guarantee rests on (such as enable.auto.offset.store) and win, except over the
        deployment's security settings (security.protocol, sasl.*, ssl.*). An override
        that replaces a deployment setting is logged by name (never its value), so no
        setting is dropped silently."""
        config = {"bootstrap.servers": self.kafka_bootstrap_servers, **(defaults or {}),
                  **self.kafka_extra}
        for name, value in overrides.items():
            if name in self.kafka_extra and self.kafka_extra[name] != value:
                if is_security(name):
                    continue
                log.warning("kafka_setting_overridden", setting=name)
            config[name] = value
        return config

    def batch_size_for(self, topic: str) -> int:
        """The most records one batch of `topic` takes (a batch takes what has arrived)."""
        return self.topic_batch_sizes.get(topic, self.batch_size)

    def __repr__(self) -> str:
        kafka = {k: _MASK if is_secret(k) else v for k, v in self.kafka_extra.items()}
        return (f"Settings(kafka_bootstrap_servers={self.kafka_bootstrap_servers!r}, "
                f"database_url={mask_database_url(self.database_url)!r}, "
                f"policy={self.policy!r}, kafka_extra={kafka!r}, "
                f"batch_size={self.batch_size!r}, "
                f"topic_batch_sizes={self.topic_batch_sizes!r}, "
                f"poll_timeout={self.poll_timeout!r}, "
                f"sweep_interval={self.sweep_interval!r}, "
                f"catch_up_backlog={self.catch_up_backlog!r}, "
                f"catch_up_pass_seconds={self.catch_up_pass_seconds!r}, "
                f"allowed_lateness={self.allowed_lateness!r}, "
                f"clock_skew={self.clock_skew!r}, startup_wait={self.startup_wait!r}, "
                f"http_port={self.http_port!r}, "
                f"max_record_bytes={self.max_record_bytes!r}, "
                f"topic_partitions={self.topic_partitions!r}, "
                f"topic_replication_factor={self.topic_replication_factor!r})")

    __str__ = __repr__


def _required(env: Mapping[str, str], name: str) -> str:
    value = env.get(name, "").strip()
    if not value:
        raise ConfigurationError(f"{name} is not set (see README, Configuration)")
    return value


def _database_url(url: str) -> str:
    """DATABASE_URL, once libpq can read it (a URL, or key=value pairs): a malformed one
    is a configuration error at once, never a connection retried for ever."""
    from psycopg import Error
    from psycopg.conninfo import conninfo_to_dict

    try:
        conninfo_to_dict(url)
    except Error as exc:
        why = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        masked = mask_database_url(url)
        raise ConfigurationError(f"DATABASE_URL {masked!r} cannot be read as a PostgreSQL "
                                 f"URL or key=value string: {why.replace(url, masked)}"
                                 ) from None
    return url


def settings_from_env(env: Mapping[str, str] | None = None, *, need_kafka: bool = True,
                      need_database: bool = True) -> Settings:
    env = os.environ if env is None else env
    extra = {name[len("CASES_KAFKA_"):].lower().replace("_", "."): value
             for name, value in env.items() if name.startswith("CASES_KAFKA_")}
    try:
        batch_size = int(env.get("CASES_BATCH_SIZE", DEFAULT_BATCH_SIZE))
        # CASES_BATCH_SIZE sets every topic's; CASES_BATCH_SIZE_<TOPIC> one topic's
        topic_batch_sizes = {} if "CASES_BATCH_SIZE" in env else dict(TOPIC_BATCH_SIZES)
        topic_batch_sizes.update({topic: int(env[_batch_size_variable(topic)])
                                  for topic in INBOUND_TOPICS
                                  if _batch_size_variable(topic) in env})
        sweep_interval = float(env.get("CASES_SWEEP_INTERVAL_SECONDS", "0.05"))
        catch_up_backlog = int(env.get("CASES_CATCH_UP_BACKLOG_RECORDS",
                                       DEFAULT_CATCH_UP_BACKLOG))
        catch_up_pass_seconds = float(env.get("CASES_CATCH_UP_PASS_SECONDS",
                                              str(DEFAULT_CATCH_UP_PASS_SECONDS)))
        batch_gather = float(env.get("CASES_BATCH_GATHER_SECONDS",
                                     str(DEFAULT_BATCH_GATHER_SECONDS)))
        http_port = int(env["CASES_HTTP_PORT"]) if env.get("CASES_HTTP_PORT") else None
        max_record_bytes = int(env.get("CASES_MAX_RECORD_BYTES", DEFAULT_MAX_RECORD_BYTES))
        message_max_bytes = int(extra.get("message.max.bytes", KAFKA_MESSAGE_MAX_BYTES))
    except ValueError as exc:
        raise ConfigurationError(f"bad number in the environment: {exc}") from None
    for name, size in [("CASES_BATCH_SIZE", batch_size),
                       *((_batch_size_variable(t), n) for t, n in topic_batch_sizes.items())]:
        if size < 1:
            raise ConfigurationError(f"{name} must be at least 1, not {size}")
    if not sweep_interval > 0:
        raise ConfigurationError("CASES_SWEEP_INTERVAL_SECONDS must be a positive number of "
                                 f"seconds, not {sweep_interval}")
    if catch_up_backlog < 0:
        raise ConfigurationError("CASES_CATCH_UP_BACKLOG_RECORDS must be a number of records "
                                 f"(0 turns catching up off), not {catch_up_backlog}")
    if not 0 < catch_up_pass_seconds < float("inf"):
        raise ConfigurationError("CASES_CATCH_UP_PASS_SECONDS must be a positive number of "
                                 f"seconds, not {catch_up_pass_seconds}")
    if not 0 <= batch_gather <= 1:
        raise ConfigurationError("CASES_BATCH_GATHER_SECONDS must be between 0 and 1 "
                                 f"second, not {batch_gather}")
    if http_port is not None and not 0 <= http_port <= 65535:
        raise ConfigurationError(f"CASES_HTTP_PORT must be a port number, not {http_port}")
    allowed_lateness = parse_duration(env.get("CASES_ALLOWED_LATENESS", "")) if env.get(
        "CASES_ALLOWED_LATENESS") else DEFAULT_ALLOWED_LATENESS
    clock_skew = parse_duration(env.get("CASES_CLOCK_SKEW_TOLERANCE", "")) if env.get(
        "CASES_CLOCK_SKEW_TOLERANCE") else DEFAULT_CLOCK_SKEW
    startup_wait = parse_duration(env.get("CASES_STARTUP_WAIT", "")) if env.get(
        "CASES_STARTUP_WAIT") else DEFAULT_STARTUP_WAIT
    # a record just under the limit that breaks the contract must still fit the DLQ
    ceiling = message_max_bytes - DEAD_LETTER_HEADROOM
    if not 1 <= max_record_bytes <= ceiling:
        raise ConfigurationError(
            f"CASES_MAX_RECORD_BYTES must be between 1 and {ceiling} (the Kafka message "
            f"limit {message_max_bytes} less {DEAD_LETTER_HEADROOM} for dead-letter headers)")
    return Settings(
        kafka_bootstrap_servers=_required(env, "KAFKA_BOOTSTRAP_SERVERS") if need_kafka
        else env.get("KAFKA_BOOTSTRAP_SERVERS", ""),
        database_url=_database_url(_required(env, "DATABASE_URL")) if need_database
        else env.get("DATABASE_URL", ""),
        policy=policy_from_env(env),
        kafka_extra=extra,
        batch_size=batch_size,
        topic_batch_sizes=topic_batch_sizes,
        sweep_interval=sweep_interval,
        catch_up_backlog=catch_up_backlog,
        catch_up_pass_seconds=catch_up_pass_seconds,
        batch_gather=batch_gather,
        allowed_lateness=allowed_lateness,
        clock_skew=clock_skew,
        startup_wait=startup_wait,
        http_port=http_port,
        max_record_bytes=max_record_bytes,
        topic_partitions=_topic_layout(env, "CASES_TOPIC_PARTITIONS"),
        topic_replication_factor=_topic_layout(env, "CASES_TOPIC_REPLICATION_FACTOR"),
    )
