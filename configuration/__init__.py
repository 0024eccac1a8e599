"""Settings of one deployment, read from the environment in one place.

Connections: KAFKA_BOOTSTRAP_SERVERS, DATABASE_URL. Kafka client settings such as security
pass through as CASES_KAFKA_<NAME> (e.g. CASES_KAFKA_SECURITY_PROTOCOL=SASL_SSL becomes
`security.protocol`). Policy numbers: CASES_POLICY_<FIELD> as ISO-8601-free plain
durations in seconds, hours or days (e.g. CASES_POLICY_ESCALATION_AFTER=3d).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from domain.policy import Policy


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


@dataclass(frozen=True)
class Settings:
    kafka_bootstrap_servers: str
    database_url: str
    policy: Policy = field(default_factory=Policy)
    #: extra librdkafka settings for every client (security, client.id, ...)
    kafka_extra: dict[str, Any] = field(default_factory=dict)
    batch_size: int = 500
    poll_timeout: float = 0.5
    sweep_interval: float = 30.0

    def kafka(self, defaults: Mapping[str, Any] | None = None,
              **overrides: Any) -> dict[str, Any]:
        """librdkafka configuration for one client: `defaults` give way to the
        CASES_KAFKA_* settings (tuning such as max.poll.interval.ms), `overrides` do not
        (what a guarantee rests on, such as enable.auto.offset.store)."""
        return {"bootstrap.servers": self.kafka_bootstrap_servers, **(defaults or {}),
                **self.kafka_extra, **overrides}


def _required(env: Mapping[str, str], name: str) -> str:
    value = env.get(name, "").strip()
    if not value:
        raise ConfigurationError(f"{name} is not set (see README, Configuration)")
    return value


def settings_from_env(env: Mapping[str, str] | None = None, *, need_kafka: bool = True,
                      need_database: bool = True) -> Settings:
    env = os.environ if env is None else env
    extra = {name[len("CASES_KAFKA_"):].lower().replace("_", "."): value
             for name, value in env.items() if name.startswith("CASES_KAFKA_")}
    try:
        batch_size = int(env.get("CASES_BATCH_SIZE", "500"))
        sweep_interval = float(env.get("CASES_SWEEP_INTERVAL_SECONDS", "30"))
    except ValueError as exc:
        raise ConfigurationError(f"bad number in the environment: {exc}") from None
    return Settings(
        kafka_bootstrap_servers=_required(env, "KAFKA_BOOTSTRAP_SERVERS") if need_kafka
        else env.get("KAFKA_BOOTSTRAP_SERVERS", ""),
        database_url=_required(env, "DATABASE_URL") if need_database
        else env.get("DATABASE_URL", ""),
        policy=policy_from_env(env),
        kafka_extra=extra,
        batch_size=batch_size,
        sweep_interval=sweep_interval,
    )
