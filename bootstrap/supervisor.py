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
import time
from collections.abc import Callable
from types import FrameType

import structlog
from prometheus_client import multiprocess

from bootstrap.components import run_component
from bootstrap.faults import Fault, fault_of
from configuration import Settings, mask_database_url, settings_from_env
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


class CannotStart(Exception):
    """`cases run` gives up before starting a component, in one line: a service it needs
    cannot be reached and waiting will not change that, or the wait ran out, or it was
    stopped while waiting. `check_running`: a start-up check was left running in its
    thread (stopped in the middle of it)."""

    def __init__(self, message: str, check_running: bool = False) -> None:
        super().__init__(message)
        self.check_running = check_running


#: how often a wait for a check under way looks whether it was stopped
_STOP_POLL_SECONDS = 0.1


def _attempt(settings: Settings, stop: threading.Event,
             ready: Callable[[Settings], None]) -> BaseException | bool | None:
    """`ready` in a thread of its own, so that a stop is honoured at once even while a
    check waits for a server that does not answer (a connection timeout, a metadata
    request): None when it passed, its exception, or False when stopped first (the
    thread is left to end by itself)."""
    done = threading.Event()
    outcome: list[BaseException | None] = []

    def work() -> None:
        try:
            ready(settings)
            outcome.append(None)
        except BaseException as exc:  # handed to the caller, whatever it is
            outcome.append(exc)
        finally:
            done.set()

    threading.Thread(target=work, name="start-up-check", daemon=True).start()
    while not done.wait(_STOP_POLL_SECONDS):
        if stop.is_set():
            return False
    return outcome[0]


def when_reachable(settings: Settings, stop: threading.Event,
                   ready: Callable[[Settings], None],
                   clock: Callable[[], float] = time.monotonic) -> bool:
    """`ready` (set-up, or the check that it was done), retried while Kafka or
    PostgreSQL cannot be reached, for at most `settings.startup_wait`. A component
    (re)started during an outage then waits for its services, as a running one does,
    instead of exiting (a platform's crash back-off would turn repeated exits into
    minutes of downtime after the outage). CannotStart, in one line, at once for what
    waiting cannot change (a database or role that does not exist, a password or a
    setting refused), when the wait runs out, or when stopped first."""
    delay = 0.5
    deadline = clock() + settings.startup_wait.total_seconds()
    last: Fault | None = None
    while True:
        outcome = _attempt(settings, stop, ready)
        if outcome is None:
            return True
        if outcome is False:
            raise CannotStart("stopped before starting" + (
                f"; {last.line()}" if last else ", while checking Kafka and PostgreSQL"),
                check_running=True)
        assert isinstance(outcome, BaseException)
        fault = fault_of(outcome, settings)
        if fault is None:
            raise outcome
        if fault.lasting:
            log.error("cannot_start", service=fault.service, at=fault.where,
                      reason=fault.reason)
            raise CannotStart(f"{fault.line()} (waiting will not change this)")
        last = fault
        remaining = deadline - clock()
        if remaining <= 0:
            log.error("cannot_start", service=fault.service, at=fault.where,
                      reason=fault.reason, waited_seconds=round(
                          settings.startup_wait.total_seconds()))
            raise CannotStart(f"gave up after waiting "
                              f"{settings.startup_wait.total_seconds():g} s "
                              f"(CASES_STARTUP_WAIT); {fault.line()}")
        wait = min(delay, remaining)
        log.warning("waiting_for_services", service=fault.service, at=fault.where,
                    reason=fault.reason, retry_in=round(wait, 3))
        if stop.wait(wait):
            raise CannotStart(f"stopped before starting; {fault.line()}")
        delay = min(delay * 2, 10.0)


def supervise(components: list[str], settings: Settings, log_level: str,
              ready: Callable[[Settings], None]) -> int:
    stop = threading.Event()
    stop_on_signals(stop)
    log.info("starting", components=components, kafka=settings.kafka_bootstrap_servers,
             database=mask_database_url(settings.database_url),
             startup_wait_seconds=settings.startup_wait.total_seconds())
    metrics_dir = None
    if settings.http_port is not None:
        if len(components) > 1:
            # each component process writes its figures here; the endpoint adds them up
            metrics_dir = tempfile.mkdtemp(prefix="order-cases-metrics-")
            os.environ["PROMETHEUS_MULTIPROC_DIR"] = metrics_dir
        server = serve(settings.http_port, components)
    try:
        when_reachable(settings, stop, ready)
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

