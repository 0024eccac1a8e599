"""One consumer per inbound topic, each in its own consumer group, and the runtime they share."""

from consumers import carrier_tracking, case_actions, messages, orders, payments

CONSUMERS = {m.TOPIC: m for m in (orders, messages, carrier_tracking, payments, case_actions)}
