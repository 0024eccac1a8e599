"""One log format for everything a process writes: structlog's, the standard library's
and librdkafka's (the Kafka clients hand their lines to a `logging` logger, see
bootstrap.kafka). Each line carries its component and its logger.

JSON lines on standard error by default (what a platform collects); a readable console
format when standard error is a terminal (`make run`). CASES_LOG_LEVEL sets the level.
Log calls pass ids, positions and counts, never message bodies or addresses.
"""

from __future__ import annotations

import logging
import os
import sys
from collections.abc import MutableMapping
from typing import Any

import structlog


def level_from(text: str | None) -> int:
    mapping = logging.getLevelNamesMapping()
    return mapping.get((text or "INFO").upper(), logging.INFO)


def configure_logging(level: str | None = None, component: str | None = None,
                      console: bool | None = None) -> None:
    """Route every logger through structlog's renderer on standard error."""
    level_number = level_from(level or os.environ.get("CASES_LOG_LEVEL"))
    if console is None:
        console = sys.stderr.isatty() and not os.environ.get("CASES_LOG_JSON")
    renderer: Any = (structlog.dev.ConsoleRenderer(colors=True) if console
                     else structlog.processors.JSONRenderer())
    shared: list[Any] = [
        structlog.contextvars.merge_contextvars,
        structlog.stdlib.add_log_level,
        structlog.stdlib.add_logger_name,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
    ]
    if component:
        structlog.contextvars.bind_contextvars(component=component)
    structlog.configure(
        processors=[*shared, structlog.processors.format_exc_info,
                    structlog.stdlib.ProcessorFormatter.wrap_for_formatter],
        wrapper_class=structlog.make_filtering_bound_logger(level_number),
        logger_factory=structlog.stdlib.LoggerFactory(),
        cache_logger_on_first_use=True,
    )
    handler = logging.StreamHandler(sys.stderr)
    # librdkafka repeats a connection failure every second or so: one line per client
    # and text a minute is plenty (the clients' errors reach the code as exceptions too)
    handler.addFilter(_Throttle("librdkafka", 60.0))
    handler.setFormatter(structlog.stdlib.ProcessorFormatter(
        processors=[structlog.stdlib.ProcessorFormatter.remove_processors_meta,
                    _librdkafka_fields, renderer],
        foreign_pre_chain=[*shared, structlog.processors.format_exc_info]))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level_number)


def _librdkafka_fields(_logger: Any, _name: str,
                       event: MutableMapping[str, Any]) -> MutableMapping[str, Any]:
    """librdkafka's lines arrive as 'FAC [client] message': keep the facility apart."""
    if str(event.get("logger", "")).startswith("librdkafka") and isinstance(
            event.get("event"), str):
        text: str = event["event"]
        facility, _, rest = text.partition(" ")
        if facility.isupper() and rest:
            event["facility"], event["event"] = facility, rest
    return event


class _Throttle(logging.Filter):
    """Lets one line per (logger, text) of the loggers under `prefix` through per
    `seconds`."""

    def __init__(self, prefix: str, seconds: float) -> None:
        super().__init__()
        self.prefix, self.seconds = prefix, seconds
        self.last: dict[tuple[str, str], float] = {}

    def filter(self, record: logging.LogRecord) -> bool:
        if not record.name.startswith(self.prefix):
            return True
        key = (record.name, record.getMessage()[:80])
        seen = self.last.get(key)
        if seen is not None and record.created - seen < self.seconds:
            return False
        self.last[key] = record.created
        if len(self.last) > 1000:
            self.last.clear()
        return True

