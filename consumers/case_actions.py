"""The `case-actions` consumer: OpenCase, AddTracking, EscalateCase, CloseCase and
SupportAction, keyed by order id (rules 1, 3, 5 to 10: domain.case_actions,
domain.tracking, domain.support)."""

from consumers.spec import TopicSpec
from schemas import INBOUND_TOPICS

SPEC = TopicSpec("case-actions", INBOUND_TOPICS["case-actions"])
