"""`cases run`: the components, each until SIGINT or SIGTERM; in this process when there
is one, else one process each (the work is CPU-bound Python, so processes use every
core), restarted by nobody: when one exits, the others are stopped and the supervisor
exits non-zero, so that the platform restarts the whole."""

from __future__ import annotations

import multiprocessing
import os
import shutil
import signal
import tempfile
import threading
from collections.abc import Callable
from types import FrameType

import psycopg
import structlog
from confluent_kafka import KafkaException
from prometheus_client import multiprocess

from bootstrap.components import run_component
from configuration import Settings, settings_from_env
from observability.http import serve
from observability.logging import configure_logging

log = structlog.get_logger("supervisor")


def stop_on_signals(stop: threading.Event) -> None:
    def handler(signum: int, _frame: FrameType | None) -> None:
        log.info("stopping", signal=signal.Signals(signum).name)
        stop.set()

    signal.signal(signal.SIGTERM, handler)
    signal.signal(signal.SIGINT, handler)


def _child(name: str, log_level: str) -> None:
    configure_logging(log_level, component=name)
    stop = threading.Event()
    stop_on_signals(stop)
    run_component(name, settings_from_env(), stop)


def when_reachable(settings: Settings, stop: threading.Event,
                   ready: Callable[[Settings], None]) -> bool:
    """`ready` (set-up, or the check that it was done), retried while Kafka or
    PostgreSQL cannot be reached; False if stopped first. A component (re)started
    during an outage then waits for its services, as a running one does, instead of
    exiting (a platform's crash back-off would turn repeated exits into minutes of
    downtime after the outage)."""
    delay = 0.5
    while not stop.is_set():
        try:
            ready(settings)
            return True
        except (psycopg.OperationalError, KafkaException) as exc:
            log.warning("waiting_for_services", error=type(exc).__name__,
                        reason=str(exc).strip().splitlines()[0] if str(exc) else "",
                        retry_in=delay)
            stop.wait(delay)
            delay = min(delay * 2, 10.0)
    return False


def supervise(components: list[str], settings: Settings, log_level: str,
              ready: Callable[[Settings], None]) -> int:
    stop = threading.Event()
    stop_on_signals(stop)
    metrics_dir = None
    if settings.http_port is not None:
        if len(components) > 1:
            # each component process writes its figures here; the endpoint adds them up
            metrics_dir = tempfile.mkdtemp(prefix="order-cases-metrics-")
            os.environ["PROMETHEUS_MULTIPROC_DIR"] = metrics_dir
        server = serve(settings.http_port, components)
    try:
        if not when_reachable(settings, stop, ready):
            return 0
        if len(components) == 1:
            run_component(components[0], settings, stop)
            return 0
        return _processes(components, log_level, stop)
    finally:
        if settings.http_port is not None:
            server.shutdown()
        if metrics_dir is not None:
            shutil.rmtree(metrics_dir, ignore_errors=True)


def _processes(components: list[str], log_level: str, stop: threading.Event) -> int:
    context = multiprocessing.get_context("spawn")
    children = {name: context.Process(target=_child, args=(name, log_level), name=name)
                for name in components}
    for child in children.values():
        child.start()
    status = 0
    while not stop.wait(0.5):
        dead = [n for n, c in children.items() if not c.is_alive()]
        if dead:
            log.error("component_exited", components=dead)
            status = 1
            break
    for child in children.values():
        if child.is_alive():
            child.terminate()  # SIGTERM: each stops after the batch in hand
    for child in children.values():
        child.join(60)
        if child.is_alive():
            child.kill()
        if os.environ.get("PROMETHEUS_MULTIPROC_DIR") and child.pid is not None:
            multiprocess.mark_process_dead(child.pid)
    return status

