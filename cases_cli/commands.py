"""What each `cases` command does; `main` parses the arguments and reports errors."""

from __future__ import annotations

import datetime as dt
import json
import multiprocessing
import signal
import sys
import threading
import time
import uuid
from collections.abc import Sequence
from pathlib import Path
from types import FrameType
from typing import Any, TextIO

import psycopg
import structlog
from confluent_kafka import (
    OFFSET_BEGINNING,
    OFFSET_END,
    Consumer,
    KafkaError,
    KafkaException,
    Producer,
    TopicPartition,
)

from cases_cli.preflight import NotSetUp, check_set_up
from configuration import Settings, settings_from_env
from configuration.logging import configure_logging
from consumers.runtime import TopicConsumer
from consumers.topics import create_topics, log_starts, oldest_record_time
from domain.order import Order
from relay.outbox import OutboxRelay
from schemas import CASE_EVENTS_TOPIC, INBOUND_TOPICS, dlq_topic, record_key
from schemas.codec import DecodeError, shared_codec
from schemas.json_form import ContractError, from_json, to_json
from service.sweep import sweep_due
from storage import state_json
from storage.inbox import prune_inbox
from storage.migrate import migrate
from storage.unit_of_work import unit_of_work

log = structlog.get_logger("cases")


class CommandError(Exception):
    """A problem the user can fix: printed as one line, exit status 1."""


# ---- setup and run ---------------------------------------------------------------------

def setup(partitions: int | None = None, settings: Settings | None = None,
          replication_factor: int | None = None) -> int:
    """Migrations and missing topics; partitions and replication factor by default from
    the settings (CASES_TOPIC_PARTITIONS, CASES_TOPIC_REPLICATION_FACTOR; unset: the
    broker's defaults)."""
    settings = settings or settings_from_env()
    ran = migrate(settings.database_url)
    created = create_topics(settings, partitions=partitions,
                            replication_factor=replication_factor)
    log.info("setup_done", migrations_applied=ran, topics_created=created)
    return 0


def _stop_on_signals(stop: threading.Event) -> None:
    def handler(signum: int, _frame: FrameType | None) -> None:
        log.info("stopping", signal=signal.Signals(signum).name)
        stop.set()

    signal.signal(signal.SIGTERM, handler)
    signal.signal(signal.SIGINT, handler)


def run_component(name: str, settings: Settings, stop: threading.Event) -> None:
    if name in INBOUND_TOPICS:
        TopicConsumer(name, settings, stop=stop).run()
    elif name == "relay":
        OutboxRelay(settings, stop).run()
    elif name == "sweeper":
        _run_sweeper(settings, stop)
    else:
        raise CommandError(f"unknown component {name}")


def _run_sweeper(settings: Settings, stop: threading.Event) -> None:
    """The time rules every CASES_SWEEP_INTERVAL_SECONDS and the inbox's retention every
    CASES_INBOX_RETENTION_INTERVAL_SECONDS (a retention pass that Kafka or PostgreSQL
    could not answer is tried again after the next sweep)."""
    retention_due = time.monotonic()
    while not stop.is_set():
        try:
            sweep_pass(settings, dt.datetime.now(dt.UTC))
        except psycopg.OperationalError as exc:
            log.warning("sweeper_database_unavailable", error=type(exc).__name__)
        if not stop.is_set() and time.monotonic() >= retention_due:
            try:
                inbox_retention_pass(settings, dt.datetime.now(dt.UTC))
                retention_due = time.monotonic() + settings.inbox_retention_interval
            except (psycopg.OperationalError, KafkaException) as exc:
                log.warning("inbox_retention_skipped", error=type(exc).__name__)
            except Exception:  # a fault of its own must not stop the time rules
                log.exception("inbox_retention_failed")
                retention_due = time.monotonic() + settings.inbox_retention_interval
        stop.wait(settings.sweep_interval)


def _child(name: str, log_level: str) -> None:
    configure_logging(log_level)
    stop = threading.Event()
    _stop_on_signals(stop)
    run_component(name, settings_from_env(), stop)


def set_up(settings: Settings) -> None:
    """What `cases run` waits for: the database migrated and every topic there
    (preflight.py); it never migrates or creates them itself. What only `cases setup` can
    fix is a CommandError, one line."""
    try:
        check_set_up(settings)
    except NotSetUp as exc:
        raise CommandError(str(exc)) from None


def _setup_when_reachable(settings: Settings, stop: threading.Event) -> bool:
    """`set_up`, asked again while Kafka or PostgreSQL cannot be reached; False if
    stopped first. A component (re)started during an outage then waits for its services,
    as a running one does, instead of exiting (`make chaos` saw restarts during a database
    outage exit with status 1 again and again, which a platform's crash back-off would
    turn into minutes of downtime after the outage)."""
    delay = 0.5
    while not stop.is_set():
        try:
            set_up(settings)
            return True
        except (psycopg.OperationalError, KafkaException) as exc:
            log.warning("setup_waiting_for_services", error=type(exc).__name__,
                        retry_in=delay)
            stop.wait(delay)
            delay = min(delay * 2, 10.0)
    return False


def run(components: list[str], log_level: str = "INFO") -> int:
    """Run each component until SIGINT or SIGTERM: in this process when there is one,
    else one process each (the work is CPU-bound Python, so processes use every core)."""
    settings = settings_from_env()
    stop = threading.Event()
    _stop_on_signals(stop)
    if not _setup_when_reachable(settings, stop):
        return 0
    if len(components) == 1:
        run_component(components[0], settings, stop)
        return 0
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
    return status


# ---- publish and events ------------------------------------------------------------------

def _read_lines(file: str) -> list[str]:
    if file == "-":
        return sys.stdin.read().splitlines()
    try:
        return Path(file).read_text(encoding="utf-8").splitlines()
    except OSError as exc:
        raise CommandError(f"cannot read {file}: {exc.strerror}") from None
    except UnicodeDecodeError:
        raise CommandError(f"{file} is not UTF-8 text") from None


def check_lines(topic: str, lines: list[str]) -> tuple[list[dict[str, Any]], list[str]]:
    """Every line checked against the topic's schemas: the records, and the problems
    as 'line N: field F: what is wrong'."""
    records, problems = [], []
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            records.append(from_json(topic, json.loads(line)))
        except json.JSONDecodeError as exc:
            problems.append(f"line {number}: not JSON: {exc.msg} at column {exc.colno}")
        except ContractError as exc:
            problems.append(f"line {number}: {exc}")
    return records, problems


def publish(topic: str, file: str) -> int:
    if topic not in INBOUND_TOPICS:
        raise CommandError(f"{topic} is not an inbound topic ({', '.join(INBOUND_TOPICS)})")
    records, problems = check_lines(topic, _read_lines(file))
    if problems:
        for problem in problems:
            print(problem, file=sys.stderr)
        print(f"cases: {len(problems)} invalid line(s); nothing was sent", file=sys.stderr)
        return 1
    settings = settings_from_env(need_database=False)
    producer = Producer(settings.kafka(**{"enable.idempotence": True, "linger.ms": 5}))
    codec = shared_codec()
    failures: list[str] = []

    def delivered(err: KafkaError | None, _msg: Any) -> None:
        if err is not None:
            failures.append(str(err))

    for record in records:
        while True:
            try:
                producer.produce(topic, key=record_key(topic, record).encode(),
                                 value=codec.encode(record), on_delivery=delivered)
                break
            except BufferError:
                producer.poll(0.1)
    remaining = producer.flush(60)
    if failures or remaining:
        raise CommandError(f"{len(failures) + remaining} record(s) not acknowledged: "
                           f"{failures[:1] or 'timed out'}")
    print(f"published {len(records)} record(s) to {topic}", file=sys.stderr)
    return 0


def events(from_beginning: bool, follow: bool, out: TextIO | None = None) -> int:
    out = out or sys.stdout
    settings = settings_from_env(need_database=False)
    consumer = Consumer(settings.kafka(**{
        "group.id": f"cases-events-{uuid.uuid4()}", "enable.auto.commit": False,
        "enable.partition.eof": True}))
    metadata = consumer.list_topics(CASE_EVENTS_TOPIC, timeout=30)
    topic = metadata.topics.get(CASE_EVENTS_TOPIC)
    if topic is None or topic.error is not None:
        consumer.close()
        raise CommandError(f"topic {CASE_EVENTS_TOPIC} does not exist (run `cases setup`)")
    start = OFFSET_BEGINNING if from_beginning else OFFSET_END
    consumer.assign([TopicPartition(CASE_EVENTS_TOPIC, p, start) for p in topic.partitions])
    pending = set(topic.partitions)
    codec = shared_codec()
    try:
        while follow or pending:
            msg = consumer.poll(0.5)
            if msg is None:
                continue
            if msg.error():
                if msg.error().code() == KafkaError._PARTITION_EOF:
                    pending.discard(msg.partition())
                    continue
                raise CommandError(f"Kafka: {msg.error()}")
            try:
                record = to_json(codec.decode(msg.value()))
            except DecodeError as exc:
                record = {"undecodable": str(exc), "offset": msg.offset()}
            out.write(json.dumps(record) + "\n")
            out.flush()
    except BrokenPipeError:
        pass
    finally:
        consumer.close()
    return 0


# ---- show and sweep --------------------------------------------------------------------

def sweep_pass(settings: Settings, now: dt.datetime, limit: int = 500) -> int:
    """Sweep every due order, `limit` per transaction; return how many were swept."""
    swept = 0
    with psycopg.connect(settings.database_url, autocommit=True) as conn:
        while True:
            with unit_of_work(conn, settings.policy) as uow:
                count = sweep_due(uow, now, settings.policy, limit)
            swept += count
            if count < limit:
                break
    log.info("sweep_done", now=now.isoformat(), orders=swept)
    return swept


def sweep(now: dt.datetime | None) -> int:
    settings = settings_from_env(need_kafka=False)
    swept = sweep_pass(settings, now or dt.datetime.now(dt.UTC))
    print(f"swept {swept} order(s)", file=sys.stderr)
    return 0


# ---- inbox retention -------------------------------------------------------------------

#: room for the clocks of the service's hosts and of the database to disagree
CLOCK_SLACK = dt.timedelta(hours=1)


def inbox_retention_pass(settings: Settings, now: dt.datetime,
                         topics: Sequence[str] = tuple(INBOUND_TOPICS)) -> int:
    """Delete the inbox rows of records that no topic can deliver again (storage/inbox.py):
    below their partition's log start, written before the oldest dead letter still kept
    (a redrive could bring that record back) and before the hold (a held action's case
    events name its position from the inbox). Nothing is deleted when Kafka cannot say."""
    starts = log_starts(settings, topics)
    before = now - settings.policy.unknown_order_hold - CLOCK_SLACK
    oldest_dead_letter = oldest_record_time(settings, [dlq_topic(t) for t in topics])
    if oldest_dead_letter is not None:
        before = min(before, oldest_dead_letter - CLOCK_SLACK)
    with psycopg.connect(settings.database_url, autocommit=True) as conn:
        pruned = prune_inbox(conn, starts, before)
    log.info("inbox_pruned", rows=pruned, processed_before=before.isoformat())
    return pruned


def prune_inbox_command() -> int:
    settings = settings_from_env()
    pruned = inbox_retention_pass(settings, dt.datetime.now(dt.UTC))
    print(f"deleted {pruned} inbox row(s) of records no topic can deliver again",
          file=sys.stderr)
    return 0


def case_report(conn: psycopg.Connection, order_id: str, settings: Settings) -> dict[str, Any]:
    row = conn.execute("SELECT state FROM orders WHERE order_id = %s", (order_id,)).fetchone()
    if row is None:
        raise CommandError(f"no order {order_id!r} is known")
    order: Order = state_json.from_json(Order, row[0]) if row[0] else Order(order_id)
    history = conn.execute(
        "SELECT record, rule, cause_topic, cause_partition, cause_offset, cause_event_id, "
        "published_at IS NOT NULL FROM case_events WHERE order_id = %s ORDER BY seq",
        (order_id,)).fetchall()
    policy = settings.policy
    report: dict[str, Any] = {"order_id": order_id, "order": None, "case": None,
                              "deadlines": {}, "held_actions": len(order.held)}
    if order.terms is not None:
        terms = order.terms
        report["order"] = {
            "buyer_id": terms.buyer_id, "seller_id": terms.seller_id,
            "total": state_json.to_json(terms.total), "payment_method": terms.payment_method,
            "placed_at": terms.placed_at.isoformat(), "cancelled": order.cancelled,
            "refunded": state_json.to_json(order.refunded_total()),
        }
        opens, closes = terms.opening_window(policy)
        report["deadlines"]["case_window_opens_at"] = opens.isoformat()
        report["deadlines"]["case_window_closes_at"] = closes.isoformat()
    if order.case is not None:
        case = order.case
        report["case"] = {"case_id": case.case_id, "reason": case.reason, "state": case.state,
                          "opened_at": case.opened_at.isoformat(),
                          "close_reason": case.close_reason}
        report["deadlines"].update({
            "escalation_available_at": case.escalation_available_at(policy).isoformat(),
            "seller_response_due_at": case.seller_response_due_at(policy).isoformat(),
            "late_delivery_at": case.late_delivery_at(policy).isoformat(),
        })
    report["timeline"] = [
        {"event": record, "rule": rule,
         "cause": {"topic": topic, "partition": partition, "offset": offset,
                   "event_id": event_id},
         "published": published}
        for record, rule, topic, partition, offset, event_id, published in history
    ]
    return report


_COMMON = {"event_id", "type", "occurred_at", "order_id", "case_id", "buyer_id", "seller_id",
           "state"}


def _human(report: dict[str, Any]) -> str:
    lines = [f"order {report['order_id']}"]
    order = report["order"]
    if order is None:
        lines.append("  not placed yet (OrderPlaced not seen)")
    else:
        total = order["total"]
        lines.append(f"  buyer {order['buyer_id']}, seller {order['seller_id']}, total "
                     f"{total['amount_minor']} {total['currency']} ({order['payment_method']})"
                     + (", cancelled" if order["cancelled"] else ""))
    case = report["case"]
    if case is None:
        lines.append("case: none")
    else:
        closed = f" ({case['close_reason']})" if case["close_reason"] else ""
        lines.append(f"case {case['case_id']}: {case['state'].upper()}{closed}, "
                     f"{case['reason']}, opened {case['opened_at']}")
    if report["held_actions"]:
        lines.append(f"held actions waiting for the order: {report['held_actions']}")
    if report["deadlines"]:
        lines.append("deadlines:")
        lines += [f"  {name.replace('_', ' ')}: {at}" for name, at in report["deadlines"].items()]
    lines.append("timeline:")
    for step in report["timeline"]:
        event, cause = step["event"], step["cause"]
        details = ", ".join(f"{k}={json.dumps(v)}" for k, v in event.items()
                            if k not in _COMMON and v is not None)
        where = ("sweeper" if cause["topic"] == "sweeper"
                 else f"{cause['topic']}[{cause['partition']}]@{cause['offset']}")
        lines.append(f"  {event['occurred_at']}  {event['type']:<27} state={event['state']}"
                     + (f"  {details}" if details else ""))
        lines.append(f"      by {step['rule']}; cause {where} event {cause['event_id']}")
    if not report["timeline"]:
        lines.append("  (no case events)")
    return "\n".join(lines)


def show(order_id: str, as_json: bool) -> int:
    settings = settings_from_env(need_kafka=False)
    with psycopg.connect(settings.database_url, autocommit=True) as conn:
        report = case_report(conn, order_id, settings)
    print(json.dumps(report, indent=2) if as_json else _human(report))
    return 0
