"""The `payments` consumer: PaymentCaptured and RefundIssued, keyed by order id (rule 4,
domain.payments)."""

from consumers.spec import TopicSpec
from schemas import INBOUND_TOPICS

SPEC = TopicSpec("payments", INBOUND_TOPICS["payments"])
