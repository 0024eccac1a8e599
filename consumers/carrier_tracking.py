"""The `carrier-tracking` consumer:
TrackingUpdated: carriers' statuses, which can prove delivery (rule 3).

The rules are in `domain.order`; the loop, dead letters and offsets in `consumers.runtime`.
"""

from schemas import INBOUND_TOPICS

TOPIC = "carrier-tracking"
RECORD_TYPES = INBOUND_TOPICS[TOPIC]
