"""The Avro contracts of every topic and their wire format.

`TOPICS` says which record types each topic carries; `codec` encodes and decodes them
(Avro single-object encoding); `json_form` converts the JSON form people and tools write.
"""

INBOUND_TOPICS: dict[str, tuple[str, ...]] = {
    "orders": ("OrderPlaced", "OrderShipped", "OrderCancelled"),
    "messages": ("MessageSent",),
    "carrier-tracking": ("TrackingUpdated",),
    "payments": ("PaymentCaptured", "RefundIssued"),
    "case-actions": ("OpenCase", "AddTracking", "EscalateCase", "CloseCase", "SupportAction"),
}

CASE_EVENTS_TOPIC = "case-events"

CASE_EVENT_TYPES: tuple[str, ...] = (
    "CaseOpened",
    "ProblemReported",
    "TrackingAdded",
    "RefundRecorded",
    "EscalationAvailable",
    "CaseEscalated",
    "CaseClosed",
    "CaseReopened",
    "LateDelivery",
    "SupportRefundRequested",
    "SellerSuspended",
    "SellerReinstatementEligible",
    "SellerReinstated",
    "ActionRejected",
)

TOPICS: dict[str, tuple[str, ...]] = {**INBOUND_TOPICS, CASE_EVENTS_TOPIC: CASE_EVENT_TYPES}


def dlq_topic(topic: str) -> str:
    return f"{topic}.dlq"


def record_key(topic: str, record: dict) -> str:
    """The Kafka key a record of this topic is produced with (DESIGN.md, Topics)."""
    if topic == "carrier-tracking":
        return f"{record['carrier']}:{record['tracking_number']}"
    return str(record["order_id"])
