"""The components `cases run` starts: a consumer per inbound topic, the relay and the
sweeper, each built from `Settings` and run until `stop` is set."""

from __future__ import annotations

import threading

from configuration import Settings
from consumers import CONSUMERS
from consumers.loop import TopicConsumer
from relay.outbox import OutboxRelay
from schemas import INBOUND_TOPICS
from sweeper.loop import Sweeper

COMPONENTS: list[str] = [*INBOUND_TOPICS, "relay", "sweeper"]


class UnknownComponent(ValueError):
    pass


def run_component(name: str, settings: Settings, stop: threading.Event) -> None:
    if name in CONSUMERS:
        TopicConsumer(CONSUMERS[name], settings, stop=stop).run()
    elif name == "relay":
        OutboxRelay(settings, stop).run()
    elif name == "sweeper":
        Sweeper(settings, stop).run()
    else:
        raise UnknownComponent(f"unknown component {name}")
