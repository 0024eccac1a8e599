"""The `messages` consumer:
MessageSent: problem reports (rule 2) and the seller taking part.

The rules are in `domain.order`; the loop, dead letters and offsets in `consumers.runtime`.
"""

from schemas import INBOUND_TOPICS

TOPIC = "messages"
RECORD_TYPES = INBOUND_TOPICS[TOPIC]
