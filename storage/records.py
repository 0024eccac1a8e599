"""A consumer's batch on PostgreSQL: the records kept for the sweeper, which are also
the inbox that makes a record read twice a no-op, and how far each partition has been
read (service.unit_of_work.StoreUnitOfWork)."""

from __future__ import annotations

import base64
import datetime as dt
from typing import Any

from domain.records import OrderPlaced, SupportAction, TrackingUpdated
from domain.vocabulary import STANDING_ACTIONS
from service.unit_of_work import Claimed, Inbound, PartitionStep
from storage.transaction import Timed, dumps

#: the record types storing a record tells apart (by the type its fields name: the typed
#: record is not built to store one)
_REPORT, _PLACED, _SUPPORT = TrackingUpdated.__name__, OrderPlaced.__name__, SupportAction.__name__


def headers_json(headers: tuple[tuple[str, bytes | None], ...]) -> str | None:
    """Kafka headers as JSONB: [[name, base64 value or null], ...] (values are bytes)."""
    if not headers:
        return None
    return dumps([[name, None if value is None else base64.b64encode(value).decode()]
                  for name, value in headers])


def headers_from_json(value: Any) -> tuple[tuple[str, bytes | None], ...]:
    if not value:
        return ()
    return tuple((name, None if data is None else base64.b64decode(data))
                 for name, data in value)


class PostgresStore(Timed):
    # ---- records: the inbox ------------------------------------------------------------

    def store(self, items: list[Inbound]) -> Claimed:
        """Keep the new records and queue them for the sweeper (in the statement that
        inserts them); sort out the rest by their fingerprints. An event_id is taken in
        either table: a record is not stored when the other already holds its id."""
        # Inserted in event_id order (a stable sort: of two records with one event_id,
        # the first is kept): two sessions storing overlapping batches, as the members
        # of a group do while a slow one's partitions move, take the rows' locks in the
        # same order and wait for each other instead of deadlocking.
        by_id = sorted(items, key=lambda i: i.cause.event_id)
        fresh = self._store_order_records(
            [i for i in by_id if i.fields["type"] != _REPORT])
        fresh |= self._store_reports([i for i in by_id if i.fields["type"] == _REPORT])
        claimed = Claimed()
        seen: list[Inbound] = []
        for item in items:  # a batch may hold an event_id twice: the first is the record
            if item.cause.event_id in fresh:
                fresh.discard(item.cause.event_id)
                claimed.fresh.append(item)
            else:
                seen.append(item)
        if seen:
            self._sort_out(seen, claimed)
        return claimed

    def _sort_out(self, seen: list[Inbound], claimed: Claimed) -> None:
        known = {event_id: (fingerprint, topic, partition, offset)
                 for event_id, fingerprint, topic, partition, offset in self.rows(
                     'SELECT i.event_id, i.fingerprint, i.topic, i."partition", i."offset" '
                     "FROM unnest(%b::text[]) AS k(id), LATERAL (SELECT * FROM inbox "
                     "WHERE event_id = k.id OFFSET 0) AS i",
                     (sorted({i.cause.event_id for i in seen}),))}
        for item in seen:
            fingerprint, topic, partition, offset = known[item.cause.event_id]
            # no fingerprint: stored before records kept one, and Kafka cannot deliver
            # it again; taken as the same record
            if fingerprint is None or bytes(fingerprint) == item.fingerprint:
                claimed.duplicates += 1
            else:
                claimed.conflicts.append((item, (
                    f"event_id {item.cause.event_id!r} already names another record (read "
                    f"at {topic}[{partition}]@{offset}): a reused event_id with other "
                    "content")))

    def _store_order_records(self, orders: list[Inbound]) -> set[str]:
        if not orders:
            return set()
        return {r[0] for r in self.rows(
            """
            WITH stored AS (
                INSERT INTO order_records (event_id, order_id, occurred_at, record_type,
                    seller_id, standing, topic, "partition", "offset", "timestamp",
                    payload, headers, fingerprint)
                SELECT * FROM unnest(%b::text[], %b::text[], %b::timestamptz[],
                    %b::text[], %b::text[], %b::boolean[], %b::text[], %b::int[],
                    %b::bigint[], %b::bigint[], %b::bytea[], %b::jsonb[], %b::bytea[])
                    AS v(event_id, order_id, occurred_at, record_type, seller_id, standing,
                         topic, "partition", "offset", "timestamp", payload, headers,
                         fingerprint)
                WHERE NOT EXISTS (SELECT FROM parcel_reports p WHERE p.event_id = v.event_id)
                ON CONFLICT (event_id) DO NOTHING
                RETURNING order_id, occurred_at, event_id, standing),
            queued AS (
                INSERT INTO undecided_records (order_id, occurred_at, event_id, standing)
                SELECT * FROM stored)
            SELECT event_id FROM stored
            """,
            ([i.cause.event_id for i in orders],
             [i.fields["order_id"] for i in orders],
             [i.fields["occurred_at"] for i in orders],
             [i.fields["type"] for i in orders],
             [i.fields["seller_id"] if i.fields["type"] == _PLACED else None
              for i in orders],
             [i.fields["type"] == _SUPPORT and i.fields["action"] in STANDING_ACTIONS
              for i in orders],
             [i.cause.topic for i in orders], [i.cause.partition for i in orders],
             [i.cause.offset for i in orders], [i.timestamp for i in orders],
             [i.payload for i in orders], [headers_json(i.headers) for i in orders],
             [i.fingerprint for i in orders]))}

    def _store_reports(self, reports: list[Inbound]) -> set[str]:
        if not reports:
            return set()
        updates = [i.fields for i in reports]
        return {r[0] for r in self.rows(
            """
            WITH stored AS (
                INSERT INTO parcel_reports (carrier, tracking_number, occurred_at,
                    event_id, topic, "partition", "offset", "timestamp", payload, headers,
                    fingerprint)
                SELECT * FROM unnest(%b::text[], %b::text[], %b::timestamptz[],
                    %b::text[], %b::text[], %b::int[], %b::bigint[], %b::bigint[],
                    %b::bytea[], %b::jsonb[], %b::bytea[])
                    AS v(carrier, tracking_number, occurred_at, event_id, topic,
                         "partition", "offset", "timestamp", payload, headers, fingerprint)
                WHERE NOT EXISTS (SELECT FROM order_records o WHERE o.event_id = v.event_id)
                ON CONFLICT DO NOTHING
                RETURNING event_id, carrier, tracking_number, occurred_at),
            queued AS (
                INSERT INTO undecided_reports (event_id, carrier, tracking_number,
                                               occurred_at)
                SELECT * FROM stored)
            SELECT event_id FROM stored
            """,
            ([u["carrier"] for u in updates], [u["tracking_number"] for u in updates],
             [u["occurred_at"] for u in updates], [u["event_id"] for u in updates],
             [i.cause.topic for i in reports], [i.cause.partition for i in reports],
             [i.cause.offset for i in reports], [i.timestamp for i in reports],
             [i.payload for i in reports], [headers_json(i.headers) for i in reports],
             [i.fingerprint for i in reports]))}

    def advance(self, steps: list[PartitionStep]) -> None:
        if not steps:
            return
        # No NOTIFY for the sweeper: it looks every sweep interval, and a notifying
        # commit would wait for every other notifying commit (storage.transaction).
        frontiers: list[dt.datetime | None] = [s.frontier for s in steps]
        self.execute(
            """
            INSERT INTO inbound_progress (topic, "partition", next_offset, frontier)
            SELECT * FROM unnest(%b::text[], %b::int[], %b::bigint[], %b::timestamptz[])
            ON CONFLICT (topic, "partition") DO UPDATE
            SET next_offset = greatest(inbound_progress.next_offset, excluded.next_offset),
                frontier = greatest(inbound_progress.frontier, excluded.frontier),
                updated_at = now()
            """,
            ([s.topic for s in steps], [s.partition for s in steps],
             [s.next_offset for s in steps], frontiers))
