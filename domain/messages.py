"""Messages (rule 2): a buyer's problem report, and a seller taking part in the case."""

from __future__ import annotations

from domain.case_events import ProblemReported
from domain.decision import Decision
from domain.records import MessageSent
from domain.vocabulary import MessageKind, Role, Rule


def message(d: Decision, sent: MessageSent) -> None:
    terms = d.order.terms
    assert terms is not None  # the timeline holds a message until its order is known
    if sent.sender_role == Role.SELLER and sent.sender_id == terms.seller_id:
        d.seller_took_part(sent.occurred_at)
    elif (sent.kind == MessageKind.PROBLEM_REPORT and sent.sender_role == Role.BUYER
          and sent.sender_id == terms.buyer_id):
        d.emit(ProblemReported, sent.event_id, Rule.PROBLEM_REPORT, sent.occurred_at)
