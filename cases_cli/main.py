"""`cases`: the operator's and the tests' way in (docs/contract.md, The command line)."""

from __future__ import annotations

import argparse
import datetime as dt
import os
import sys
from collections.abc import Sequence

import psycopg
from confluent_kafka import KafkaException

from bootstrap.components import COMPONENTS
from bootstrap.supervisor import CannotStart
from cases_cli.errors import CommandError
from configuration import ConfigurationError
from observability.logging import configure_logging
from schemas import INBOUND_TOPICS


def timestamp(text: str) -> dt.datetime:
    try:
        parsed = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"{text!r} is not an ISO-8601 timestamp such as 2026-03-01T10:00:00Z") from None
    if parsed.tzinfo is None:
        raise argparse.ArgumentTypeError(f"{text!r} needs a UTC offset, e.g. a trailing Z")
    return parsed.astimezone(dt.UTC)


def non_negative(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"{text} is negative")
    return value


def positive(text: str) -> int:
    value = non_negative(text)
    if value == 0:
        raise argparse.ArgumentTypeError("0 is not positive")
    return value


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="cases", description=__doc__)
    p.add_argument("--log-level", default=None,
                   help="DEBUG, INFO, WARNING (default: CASES_LOG_LEVEL, else INFO)")
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND")

    run = sub.add_parser("run", help="run consumers, the outbox relay and the sweeper")
    run.add_argument("components", nargs="*", metavar="CONSUMER",
                     help=f"any of {', '.join(COMPONENTS)} (default: all)")

    setup = sub.add_parser("setup", help="apply database migrations and create missing topics")
    setup.add_argument("--partitions", type=positive, default=None, metavar="N",
                       help="of each topic created (default: CASES_TOPIC_PARTITIONS, "
                       "else the broker's num.partitions)")
    setup.add_argument("--replication-factor", type=positive, default=None, metavar="N",
                       help="of each topic created (default: CASES_TOPIC_REPLICATION_FACTOR, "
                       "else the broker's default.replication.factor)")

    publish = sub.add_parser("publish", help="publish JSON-lines records to an inbound topic")
    publish.add_argument("topic", choices=list(INBOUND_TOPICS), metavar="TOPIC")
    publish.add_argument("file", metavar="FILE", help="a JSON-lines file, or - for stdin")

    events = sub.add_parser("events", help="print case-events as JSON lines")
    events.add_argument("--from-beginning", action="store_true")
    events.add_argument("--follow", action="store_true")

    show = sub.add_parser("show", help="an order's case, its state and its history")
    show.add_argument("order_id", metavar="ORDER_ID")
    show.add_argument("--json", action="store_true")

    sweep = sub.add_parser("sweep", help="one pass of the sweeper's decisions, up to the "
                           "watermark or --now")
    sweep.add_argument("--now", type=timestamp, default=None, metavar="TIMESTAMP")

    status = sub.add_parser("status", help="the service at a glance: lag, watermark, "
                            "outbox, dead letters, leaders")
    status.add_argument("--json", action="store_true")

    replay = sub.add_parser("replay", help="re-process inbound topics from an offset or a "
                            "time; what was already applied is skipped")
    replay.add_argument("topics", nargs="+", choices=list(INBOUND_TOPICS), metavar="TOPIC")
    start = replay.add_mutually_exclusive_group(required=True)
    start.add_argument("--from-offset", type=non_negative, metavar="N",
                       help="on every partition (0: the beginning)")
    start.add_argument("--from-time", type=timestamp, metavar="TIMESTAMP",
                       help="the first record at or after this time, per partition")

    dlq = sub.add_parser("dlq", help="dead letters of an inbound topic")
    dlq_sub = dlq.add_subparsers(dest="dlq_command", required=True, metavar="ACTION")
    dlq_list = dlq_sub.add_parser("list", help="each dead letter with its reason")
    dlq_list.add_argument("topic", choices=list(INBOUND_TOPICS), metavar="TOPIC")
    dlq_list.add_argument("--json", action="store_true")
    dlq_redrive = dlq_sub.add_parser(
        "redrive", help="send the dead letters not yet redriven back through the consumer")
    dlq_redrive.add_argument("topic", choices=list(INBOUND_TOPICS), metavar="TOPIC")
    return p


def main(argv: Sequence[str] | None = None) -> int:
    p = parser()
    args = p.parse_args(argv)
    if args.command == "run":
        unknown = [c for c in args.components if c not in COMPONENTS]
        if unknown:
            p.error(f"run: unknown consumer {unknown[0]!r} (choose from {', '.join(COMPONENTS)})")
    component = (args.components[0] if args.command == "run" and len(args.components) == 1
                 else "cases")
    configure_logging(args.log_level, component=component)
    try:
        return _command(args)
    except (ConfigurationError, CommandError, CannotStart) as exc:
        print(f"cases: {exc}", file=sys.stderr)
        if isinstance(exc, CannotStart) and exc.check_running:
            # its thread is inside librdkafka or libpq: the interpreter's shutdown around
            # it can crash the process (SIGSEGV was seen), so leave without one
            sys.stdout.flush()
            sys.stderr.flush()
            os._exit(1)
        return 1
    except psycopg.OperationalError as exc:
        print(f"cases: cannot reach PostgreSQL: {str(exc).strip().splitlines()[0]}",
              file=sys.stderr)
        return 1
    except KafkaException as exc:
        print(f"cases: Kafka: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130


def _command(args: argparse.Namespace) -> int:
    """Carry out a parsed command. Each imports its own module here: `cases run`, started
    once for each component, does not import what the operator's commands need."""
    if args.command in ("run", "setup", "sweep"):
        from cases_cli import commands
        if args.command == "run":
            return commands.run(args.components or COMPONENTS, args.log_level or "")
        if args.command == "setup":
            return commands.setup(args.partitions,
                                  replication_factor=args.replication_factor)
        return commands.sweep(args.now)
    if args.command in ("publish", "events"):
        from cases_cli import publishing
        return (publishing.publish(args.topic, args.file) if args.command == "publish"
                else publishing.events(args.from_beginning, args.follow))
    if args.command == "show":
        from cases_cli import show
        return show.show(args.order_id, args.json)
    if args.command == "status":
        from cases_cli import status
        return status.status(args.json)
    from cases_cli import recovery
    if args.command == "replay":
        return recovery.replay(args.topics, args.from_offset, args.from_time)
    if args.command == "dlq" and args.dlq_command == "list":
        return recovery.dlq_list(args.topic, args.json)
    if args.command == "dlq" and args.dlq_command == "redrive":
        return recovery.dlq_redrive(args.topic)
    raise AssertionError(f"unhandled command {args.command}")


if __name__ == "__main__":
    sys.exit(main())
