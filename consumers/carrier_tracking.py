"""The `carrier-tracking` consumer: TrackingUpdated, keyed by parcel (`carrier:tracking
number`). Reports are kept per parcel; the sweeper applies them to the cases that name
the parcel (rule 3, domain.tracking)."""

from consumers.spec import TopicSpec
from schemas import INBOUND_TOPICS

SPEC = TopicSpec("carrier-tracking", INBOUND_TOPICS["carrier-tracking"])
