"""The `case-actions` consumer:
OpenCase, AddTracking, EscalateCase, CloseCase and SupportAction (rules 1, 3, 5-10).

The rules are in `domain.order`; the loop, dead letters and offsets in `consumers.runtime`.
"""

from schemas import INBOUND_TOPICS

TOPIC = "case-actions"
RECORD_TYPES = INBOUND_TOPICS[TOPIC]
