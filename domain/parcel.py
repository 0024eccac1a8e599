"""Parcels and what carriers report about them (rule 3, proof of shipping).

A parcel is named by two values, the carrier's code and its tracking number, and they
are never joined into one string inside the service: the database keeps them in two
columns and the code in `Parcel`. Only the `carrier-tracking` topic's key joins them
(`schemas.parcel_key`), which is unambiguous because a carrier code may not contain ':'.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from domain.records import Address, AddTracking, OrderShipped, TrackingUpdated


@dataclass(frozen=True, order=True)
class Parcel:
    carrier: str
    tracking_number: str

    @classmethod
    def of(cls, record: AddTracking | TrackingUpdated | OrderShipped) -> Parcel:
        return cls(record.carrier, record.tracking_number)


@dataclass(frozen=True)
class CarrierReport:
    """One status a carrier gave for a parcel."""

    status: str
    occurred_at: dt.datetime
    delivered_to: Address | None = None
    #: the TrackingUpdated that said it
    event_id: str = ""

    @classmethod
    def of(cls, update: TrackingUpdated) -> CarrierReport:
        return cls(update.status, update.occurred_at, update.delivered_to, update.event_id)


@dataclass
class ParcelStatus:
    """The latest report known for one parcel an order's case names."""

    carrier: str
    tracking_number: str
    report: CarrierReport

    @property
    def parcel(self) -> Parcel:
        return Parcel(self.carrier, self.tracking_number)
