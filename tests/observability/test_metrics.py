"""What /metrics exports before anything happens, and how a gauge combines across the
processes of `cases run` (prometheus_client's multiprocess mode)."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from pathlib import Path

from prometheus_client import REGISTRY, CollectorRegistry
from prometheus_client.multiprocess import MultiProcessCollector

from bootstrap import components
from configuration import settings_from_env
from observability.health import Health
from schemas import CASE_EVENT_TYPES, INBOUND_TOPICS
from service.decide import DEADLINE_RULES

SETTINGS = settings_from_env({"KAFKA_BOOTSTRAP_SERVERS": "127.0.0.1:1",
                              "DATABASE_URL": "postgresql://127.0.0.1:1/cases"})


def exported(name: str, **labels: str) -> bool:
    return REGISTRY.get_sample_value(name, labels) is not None


def test_series_with_known_labels_are_exported_when_their_component_is_built() -> None:
    stop = threading.Event()
    components.consumer("payments", SETTINGS, stop, Health("payments"))
    components.sweeper(SETTINGS, stop, Health("sweeper"))
    components.relay(SETTINGS, stop, Health("relay"))

    for name in ("order_cases_records_stored_total", "order_cases_records_duplicate_total",
                 "order_cases_batch_duration_seconds_count",
                 "order_cases_batch_size_records_count"):
        assert exported(name, topic="payments"), name
    for component in ("payments", "sweeper", "relay"):
        assert exported("order_cases_database_retries_total", component=component)
    for rule in DEADLINE_RULES:
        assert exported("order_cases_deadlines_fired_total", rule=str(rule)), rule
    for topic in INBOUND_TOPICS:
        assert exported("order_cases_late_records_total", topic=topic), topic
    for kind in CASE_EVENT_TYPES:
        assert exported("order_cases_case_events_published_total", type=kind), kind


def test_the_watermark_delay_is_the_sweepers_whatever_the_other_processes_hold(
        tmp_path: Path) -> None:
    """Every process of `cases run` imports the metrics; only the sweeper's sets the
    delay. The endpoint must serve the sweeper's figure, not the others' zero."""
    env = {**os.environ, "PROMETHEUS_MULTIPROC_DIR": str(tmp_path)}
    importing = "import observability.metrics"
    sweeping = f"{importing} as m; m.WATERMARK_DELAY.set(42.5)"
    for code in (importing, sweeping, importing):
        subprocess.run([sys.executable, "-c", code], env=env, check=True, timeout=60)
    registry = CollectorRegistry()
    MultiProcessCollector(registry, path=str(tmp_path))
    assert registry.get_sample_value("order_cases_watermark_delay_seconds") == 42.5
