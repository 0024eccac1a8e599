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
    "DecisionSuperseded",
)

TOPICS: dict[str, tuple[str, ...]] = {**INBOUND_TOPICS, CASE_EVENTS_TOPIC: CASE_EVENT_TYPES}


def dlq_topic(topic: str) -> str:
    return f"{topic}.dlq"


def record_key(topic: str, record: dict) -> str:
    """The Kafka key a record of this topic is produced with (docs/contract.md, Topics)."""
    if topic == "carrier-tracking":
        return parcel_key(record["carrier"], record["tracking_number"])
    return str(record["order_id"])


def parcel_key(carrier: str, tracking_number: str) -> str:
    """The `carrier-tracking` key of a parcel: the only place the carrier's code and the
    tracking number are joined. A carrier code cannot contain ':' (the contract checks
    it), so the key reads back unambiguously: the carrier is everything before the first
    ':'."""
    return f"{carrier}:{tracking_number}"
