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


def _read_bytes(file: str) -> bytes:
    if file == "-":
        return sys.stdin.buffer.read()
    try:
        return Path(file).read_bytes()
    except OSError as exc:
        raise CommandError(f"cannot read {file}: {exc.strerror}") from None


def split_lines(data: bytes) -> list[str | UnicodeDecodeError]:
    """The lines of a JSON-lines input, each decoded as UTF-8 on its own so that a bad
    byte is reported with its line (a leading byte-order mark is dropped)."""
    if data.startswith(b"\xef\xbb\xbf"):
        data = data[3:]
    lines: list[str | UnicodeDecodeError] = []
    for raw in data.split(b"\n"):
        try:
            lines.append(raw.removesuffix(b"\r").decode("utf-8"))
        except UnicodeDecodeError as exc:
            lines.append(exc)
    if lines and lines[-1] == "":
        lines.pop()  # the newline that ends the last line
    return lines


def _parse(line: str) -> Any:
    try:
        return json.loads(line)
    except json.JSONDecodeError as exc:
        raise ContractError("", f"not JSON: {exc.msg} at column {exc.colno}") from None
    except RecursionError:
        raise ContractError("", "not JSON this command reads: nested too deeply") from None
    except ValueError as exc:  # e.g. an integer of more digits than Python converts
        raise ContractError("", "not JSON this command reads: "
                                f"{str(exc).split(':')[0]}") from None


def check_lines(topic: str, lines: list[str | UnicodeDecodeError], max_record_bytes: int
                ) -> tuple[list[tuple[dict[str, Any], bytes]], list[str]]:
    """Every line checked against the topic's schemas and encoded: the records with their
    bytes, and the problems as 'line N: field F: what is wrong'. A record over the
    service's size limit (CASES_MAX_RECORD_BYTES) would only become a dead letter."""
    codec = shared_codec()
    records, problems = [], []
    for number, line in enumerate(lines, start=1):
        if isinstance(line, UnicodeDecodeError):
            problems.append(f"line {number}: not UTF-8 text (byte 0x{line.object[line.start]:02X}"
                            f" at byte {line.start + 1} of the line)")
            continue
        if not line.strip():
            continue
        try:
            record = from_json(topic, _parse(line))
            value = codec.encode(record)
        except ContractError as exc:
            problems.append(f"line {number}: {exc}")
            continue
        except (ValueError, OverflowError, TypeError) as exc:  # checked, yet not writable
            problems.append(f"line {number}: cannot be written as Avro: "
                            f"{type(exc).__name__}: {str(exc)[:200]}")
            continue
        if len(value) > max_record_bytes:
            problems.append(f"line {number}: the record takes {len(value)} bytes, over the "
                            f"{max_record_bytes}-byte limit of the service "
                            "(CASES_MAX_RECORD_BYTES): it would be a dead letter")
            continue
        records.append((record, value))
    return records, problems


def publish(topic: str, file: str) -> int:
    if topic not in INBOUND_TOPICS:
        raise CommandError(f"{topic} is not an inbound topic ({', '.join(INBOUND_TOPICS)})")
    limit = settings_from_env(need_kafka=False, need_database=False).max_record_bytes
    records, problems = check_lines(topic, split_lines(_read_bytes(file)), limit)
    if problems:
        for problem in problems:
            print(problem, file=sys.stderr)
        print(f"cases: {len(problems)} invalid line(s); nothing was sent", file=sys.stderr)
        return 1
    settings = settings_from_env(need_database=False)
    producer = kafka.producer(settings, "publish")
    failures: list[str] = []

    def delivered(err: KafkaError | None, _msg: Message) -> None:
        if err is not None:
            failures.append(str(err))

    for record, value in records:
        producer.produce(topic, value, key=record_key(topic, record).encode(),
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
