"""The `payments` consumer:
PaymentCaptured and RefundIssued: captures and refunds (rule 4).

The rules are in `domain.order`; the loop, dead letters and offsets in `consumers.runtime`.
"""

from schemas import INBOUND_TOPICS

TOPIC = "payments"
RECORD_TYPES = INBOUND_TOPICS[TOPIC]
