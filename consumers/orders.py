"""The `orders` consumer:
OrderPlaced, OrderShipped and OrderCancelled: the order's terms, shipments and cancellation.

The rules are in `domain.order`; the loop, dead letters and offsets in `consumers.runtime`.
"""

from schemas import INBOUND_TOPICS

TOPIC = "orders"
RECORD_TYPES = INBOUND_TOPICS[TOPIC]
