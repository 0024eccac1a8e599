"""`python -m workload publish|count`: a seeded workload, produced or counted."""

from __future__ import annotations

import argparse
import datetime as dt
import sys
import time
from collections import Counter
from collections.abc import Sequence

from confluent_kafka import KafkaException

from configuration import ConfigurationError, settings_from_env
from schemas import INBOUND_TOPICS
from workload.generator import Published, generate
from workload.publish import PublishError, publish


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if value <= 0:
        raise argparse.ArgumentTypeError(f"{text} is not positive")
    return value


def _int(text: str) -> int:
    try:
        return int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None


def _positive_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if not value > 0:
        raise argparse.ArgumentTypeError(f"{text} is not positive")
    return value


def _timestamp(text: str) -> dt.datetime:
    try:
        parsed = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not an ISO-8601 timestamp") from None
    if parsed.tzinfo is None:
        raise argparse.ArgumentTypeError(f"{text!r} needs a UTC offset, e.g. a trailing Z")
    return parsed.astimezone(dt.UTC)


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m workload",
                                description="A seeded marketplace workload for the inbound "
                                            "topics (see workload/generator.py).")
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name, text in (("publish", "produce the workload to the inbound topics "
                                   "(KAFKA_BOOTSTRAP_SERVERS)"),
                       ("count", "print how many records each topic would get")):
        cmd = sub.add_parser(name, help=text)
        cmd.add_argument("--seed", type=_int, required=True)
        cmd.add_argument("--orders", type=_positive_int, required=True)
        cmd.add_argument("--start", type=_timestamp, default=None, metavar="TIMESTAMP",
                         help="when the first order is placed (default 2026-03-02T08:00:00Z)")
    sub.choices["publish"].add_argument("--rate", type=_positive_float, default=None,
                                        help="records per second (default: as fast as "
                                             "the broker takes them)")
    return p


def counts(items: list[Published]) -> str:
    per_topic = Counter(i.topic for i in items)
    per_type = Counter((i.topic, i.record["type"]) for i in items)
    lines = []
    for topic in INBOUND_TOPICS:
        lines.append(f"{topic:<18}{per_topic[topic]:>10}")
        lines += [f"  {t:<16}{per_type[topic, t]:>10}" for t in INBOUND_TOPICS[topic]]
    lines.append(f"{'total':<18}{len(items):>10}")
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    args = parser().parse_args(argv)
    items = generate(args.seed, args.orders, args.start)
    if args.command == "count":
        print(counts(items))
        return 0
    try:
        settings = settings_from_env(need_database=False)
        started = time.perf_counter()
        sent = publish(settings, items, args.rate)
    except ConfigurationError as exc:
        print(f"workload: {exc}", file=sys.stderr)
        return 1
    except (KafkaException, PublishError) as exc:
        print(f"workload: Kafka: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
    seconds = time.perf_counter() - started
    print(f"published {sent} record(s) in {seconds:.1f}s ({sent / seconds:,.0f}/s)",
          file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
