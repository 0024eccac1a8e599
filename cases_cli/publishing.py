"""`cases publish` (JSON lines to an inbound topic, all checked before any is sent) and
`cases events` (case-events as JSON lines)."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any, TextIO

from confluent_kafka import OFFSET_BEGINNING, OFFSET_END, KafkaError, Message, TopicPartition

from bootstrap import kafka
from cases_cli.errors import CommandError
from configuration import settings_from_env
from schemas import CASE_EVENTS_TOPIC, INBOUND_TOPICS, record_key
from schemas.codec import DecodeError, shared_codec
from schemas.json_form import ContractError, from_json, to_json


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
    producer = kafka.producer(settings, "publish")
    codec = shared_codec()
    failures: list[str] = []

    def delivered(err: KafkaError | None, _msg: Message) -> None:
        if err is not None:
            failures.append(str(err))

    for record in records:
        producer.produce(topic, codec.encode(record), key=record_key(topic, record).encode(),
                         on_delivery=delivered)
    remaining = producer.flush(60)
    if failures or remaining:
        raise CommandError(f"{len(failures) + remaining} record(s) not acknowledged: "
                           f"{failures[:1] or 'timed out'}")
    print(f"published {len(records)} record(s) to {topic}", file=sys.stderr)
    return 0


def events(from_beginning: bool, follow: bool, out: TextIO | None = None) -> int:
    out = out or sys.stdout
    settings = settings_from_env(need_database=False)
    consumer = kafka.private_consumer(settings, overrides={"enable.partition.eof": True})
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
            error = msg.error()
            if error is not None:
                if error.code() == KafkaError._PARTITION_EOF:
                    pending.discard(msg.partition())
                    continue
                raise CommandError(f"Kafka: {error}")
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
