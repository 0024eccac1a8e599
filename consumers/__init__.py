"""One consumer per inbound topic, each in its own consumer group (a module per topic),
and the parts they share: the poll loop (`loop`), the batch's decoding and checks
(`batch`), storing it (`storing`), dead letters (`dead_letters`), offsets (`offsets`);
`replay` and `redrive` compose the same parts over a fixed range."""

from consumers import carrier_tracking, case_actions, messages, orders, payments
from consumers.spec import TopicSpec

CONSUMERS: dict[str, TopicSpec] = {
    m.SPEC.topic: m.SPEC for m in (orders, messages, carrier_tracking, payments, case_actions)}
