"""The `orders` consumer: OrderPlaced, OrderShipped, OrderCancelled, keyed by order id.
The rules that decide them are in domain.placing."""

from consumers.spec import TopicSpec
from schemas import INBOUND_TOPICS

SPEC = TopicSpec("orders", INBOUND_TOPICS["orders"])
