"""What to publish when a late record made an order's history be decided again.

Published case events cannot be taken back, so the stream is corrected forward: a
decision the new history no longer takes, or takes with other content, gets a
`DecisionSuperseded` naming it; a changed decision is published again under a revision
id; a decision the old history did not take is published as usual. A decision taken
alike keeps its published event and nothing is sent for it.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from domain.case_events import CaseEvent, DecisionSuperseded
from domain.order import Order
from domain.records import InboundRecord
from domain.vocabulary import Rule


@dataclass(frozen=True)
class PublishedDecision:
    """A case event already given out that still stands."""

    event_id: str
    type: str
    #: what the event says (anything that compares equal for equal content)
    content: object


def revise(order: Order, published: Mapping[str, PublishedDecision],
           decided: list[CaseEvent], late: InboundRecord,
           content: Callable[[CaseEvent], object]) -> list[CaseEvent]:
    """The events that turn the published stream (`published`, by decision key) into
    the history `decided` (the order as decided again, after `late`)."""
    out: list[CaseEvent] = []
    kept: set[str] = set()
    fresh: list[CaseEvent] = []
    for event in decided:
        before = published.get(event.decision_key)
        if before is not None and before.content == content(event):
            kept.add(event.decision_key)
        elif before is not None:
            fresh.append(dataclasses.replace(event, revision=late.event_id))
        else:
            fresh.append(event)
    for key, before in published.items():
        if key not in kept:
            out.append(_superseded(order, before, late))
    return out + fresh


def _superseded(order: Order, before: PublishedDecision, late: InboundRecord
                ) -> DecisionSuperseded:
    case, terms = order.case, order.terms
    return DecisionSuperseded(
        occurred_at=late.occurred_at, order_id=order.order_id,
        case_id=case.case_id if case else None,
        buyer_id=terms.buyer_id if terms else None,
        seller_id=terms.seller_id if terms else None,
        state=case.state if case else None,
        cause_id=before.event_id, rule=Rule.LATE_RECORD,
        superseded_event_id=before.event_id, superseded_type=before.type,
        late_event_id=late.event_id)
