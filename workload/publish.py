"""Produce a workload to Kafka as upstream services would: keyed, Avro single-object
encoded, through an asynchronous idempotent producer (delivery callbacks, no flush per
record), either as fast as the broker takes it or at a steady rate.

A publish never hangs: a broker that does not take or acknowledge the records within
`timeout` seconds (a full local queue, the final flush) makes it raise PublishError,
and librdkafka gives each record up after that long too (`message.timeout.ms`)."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Iterator

from confluent_kafka import KafkaError, Message, Producer

from configuration import Settings
from schemas.codec import shared_codec
from workload.generator import Published

#: (topic, key, value): a record already encoded
Encoded = tuple[str, bytes, bytes]
#: called once per acknowledged record with its position in the input and the message
OnDelivered = Callable[[int, Message], None]


#: seconds a publish may wait for the broker at any one point before it gives up
DEFAULT_TIMEOUT = 120.0


class PublishError(RuntimeError):
    """Some records were not acknowledged by the broker."""


def encode(items: Iterable[Published]) -> Iterator[Encoded]:
    """Each record encoded once, as it will be produced."""
    codec = shared_codec()
    for item in items:
        yield item.topic, item.key.encode(), codec.encode(item.record)


def publish(settings: Settings, items: Iterable[Published], rate: float | None = None,
            *, on_delivered: OnDelivered | None = None,
            timeout: float = DEFAULT_TIMEOUT) -> int:
    """Produce every item; return how many the broker acknowledged (all, or it raises)."""
    return produce_encoded(settings, encode(items), rate, on_delivered=on_delivered,
                           timeout=timeout)


def produce_encoded(settings: Settings, messages: Iterable[Encoded],
                    rate: float | None = None, *,
                    on_delivered: OnDelivered | None = None,
                    timeout: float = DEFAULT_TIMEOUT) -> int:
    """Produce encoded records in order, at most `rate` per second when given. Raises
    PublishError when the broker keeps a record waiting more than `timeout` seconds
    (to be taken into the full local queue, or acknowledged at the end)."""
    if rate is not None and rate <= 0:
        raise ValueError("rate must be positive")
    if not timeout > 0:
        raise ValueError("timeout must be positive")
    producer = Producer(settings.kafka(**{
        "enable.idempotence": True, "linger.ms": 5, "compression.type": "lz4",
        # a record the broker has not acknowledged this long after it was produced
        # fails (its delivery report says so) rather than waiting for good
        "message.timeout.ms": int(timeout * 1000),
        # with nobody to tell of each delivery, librdkafka reports only the failures:
        # no Python callback per record (a bench publishes as fast as the broker takes)
        "delivery.report.only.error": on_delivered is None}))
    produced = 0
    failures: list[str] = []

    def delivered(position: int) -> Callable[[KafkaError | None, Message], None]:
        def report(err: KafkaError | None, msg: Message) -> None:
            if err is not None:
                failures.append(str(err))
            elif on_delivered is not None:
                on_delivered(position, msg)
        return report

    def failed(err: KafkaError | None, _msg: Message) -> None:
        if err is not None:
            failures.append(str(err))

    started = time.perf_counter()
    for position, (topic, key, value) in enumerate(messages):
        if rate is not None:  # steady: record n leaves at n / rate seconds
            while (wait := started + position / rate - time.perf_counter()) > 0:
                producer.poll(min(wait, 0.05))
        callback = failed if on_delivered is None else delivered(position)
        full_since: float | None = None
        while True:
            try:
                producer.produce(topic, key=key, value=value, on_delivery=callback)
                break
            except BufferError:  # the local queue is full: let deliveries drain it
                full_since = full_since or time.perf_counter()
                if time.perf_counter() - full_since > timeout:
                    raise PublishError(
                        f"the producer's queue stayed full for {timeout:.0f}s after "
                        f"{produced} record(s): the broker at "
                        f"{settings.kafka_bootstrap_servers} does not take records"
                        + (f" ({failures[0]})" if failures else "")) from None
                producer.poll(0.05)
        produced += 1
        producer.poll(0)  # serve delivery callbacks as we go
    remaining = producer.flush(timeout)
    if failures or remaining:
        raise PublishError(
            f"{len(failures) + remaining} of {produced} record(s) not acknowledged by the "
            f"broker at {settings.kafka_bootstrap_servers}: "
            + (failures[0] if failures else f"{remaining} still unanswered after waiting "
               f"{timeout:.0f}s for them"))
    return produced  # every one acknowledged: none failed and none is left
