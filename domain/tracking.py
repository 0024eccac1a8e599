"""Proof of shipping (rule 3): tracking added to a case, carrier reports, and the
non-delivery case that closes once its tracking shows delivery to the buyer's address.

A carrier report can come before or after the tracking is added and before or after the
case is opened: the order keeps the latest report of each parcel it may need, and the
case closes when both are known, at the later of the two moments.
"""

from __future__ import annotations

import datetime as dt

from domain.address import addresses_match
from domain.case_events import TrackingAdded
from domain.decision import Decision
from domain.order import ProofOfShipping
from domain.parcel import CarrierReport, Parcel
from domain.records import AddTracking, TrackingUpdated
from domain.rejections import Rejection
from domain.vocabulary import CarrierStatus, CaseReason, CloseReason, Role, Rule


def carrier_report(d: Decision, update: TrackingUpdated) -> None:
    # Kept whatever the parcel (a case may name it later), but only a report on a parcel
    # the case names decides anything: another parcel's must not close a case again that
    # support reopened after its delivery.
    parcel = Parcel.of(update)
    if (d.order.keep_report(parcel, CarrierReport.of(update))
            and parcel in d.order.tracked_parcels()):
        close_if_delivered(d, update.event_id, update.occurred_at)


def add_tracking(d: Decision, action: AddTracking) -> None:
    order = d.order
    assert order.terms is not None
    if action.actor_role != Role.SELLER or action.actor_id != order.terms.seller_id:
        d.reject(action, Rejection.NOT_ORDER_SELLER, Rule.WHO_MAY_ACT)
        return
    case = order.case
    if case is None:
        d.reject(action, Rejection.NO_CASE, Rule.PROOF_OF_SHIPPING)
        return
    if not case.live:
        d.reject(action, Rejection.CASE_CLOSED, Rule.PROOF_OF_SHIPPING)
        return
    proof = ProofOfShipping(action.carrier, action.tracking_number, action.proof)
    if proof not in case.proofs:
        case.proofs.append(proof)
    d.seller_took_part(action.occurred_at)
    d.emit(TrackingAdded, action.event_id, Rule.PROOF_OF_SHIPPING, action.occurred_at,
           carrier=action.carrier, tracking_number=action.tracking_number, proof=action.proof)
    close_if_delivered(d, action.event_id, action.occurred_at)


def close_if_delivered(d: Decision, cause_id: str, at: dt.datetime) -> None:
    """Close a live non-delivery case whose tracking shows delivery to the buyer."""
    order, case, terms = d.order, d.order.case, d.order.terms
    if case is None or terms is None or not case.live or case.reason != CaseReason.NON_DELIVERY:
        return
    for proof in case.proofs:
        report = order.report_for(proof.parcel)
        if (report is not None and report.status == CarrierStatus.DELIVERED
                and report.occurred_at <= at
                and report.delivered_to is not None
                and addresses_match(report.delivered_to, terms.shipping_address)):
            d.close(CloseReason.DELIVERED, cause_id, Rule.PROOF_OF_DELIVERY, at)
            return
