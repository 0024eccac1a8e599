"""The unit of work on PostgreSQL: one transaction, set-based statements, no round trip
per record (each method is one or two statements whatever the batch size).

Arrays go as binary parameters (`%b`): in the text form psycopg escapes every quote of
every JSON document and every byte of every payload in Python, which cost more than the
statements themselves.

Rows are fetched one index lookup per id, `unnest(ids)` with a LATERAL subquery that the
planner cannot turn into a join (it locks, or has OFFSET 0): statements are prepared,
and with `= ANY(ids)` or a plain join the plan could be a scan of the whole table (a
generic plan made while the table was small, or a hash join the cost model prefers
over a few hundred lookups), 15 ms a batch instead of 2 once the table had grown. The
ids come sorted, and a nested loop keeps their order, so rows are locked in that order.
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from typing import Any

import orjson
import psycopg
from psycopg.types.json import set_json_loads

from domain.order import CarrierReport, Order, SellerStanding, tracking_key
from domain.policy import Policy
from domain.records import Address
from schemas.codec import shared_codec
from schemas.json_form import to_json as record_to_json
from service.unit_of_work import Inbound, RecordedEvent
from storage import state_json
from storage.planner import prefer_key_lookups

#: relays LISTEN on this channel; a commit that adds case events NOTIFYs it
CASE_EVENTS_CHANNEL = "case_events"


# Every locked order's JSONB state is parsed on the way in: orjson does it in well under
# half the time of the standard library's json.loads that psycopg uses by default. Set for
# the whole process, as psycopg's adapters are.
set_json_loads(orjson.loads)


def _dumps(value: Any) -> str:
    # orjson: a few times faster than json.dumps, and every touched order is dumped
    return orjson.dumps(value).decode()


class PostgresUnitOfWork:
    def __init__(self, conn: psycopg.Connection, policy: Policy) -> None:
        self.conn = conn
        self.policy = policy
        self.codec = shared_codec()
        #: time spent in statements and in (de)serialising state, for the batch report
        self.sql_seconds = 0.0
        self.state_seconds = 0.0
        #: each locked seller's standing as read, so only changed ones are written
        self._sellers_as_loaded: dict[str, tuple[bool, str | None]] = {}

    def _execute(self, sql: str, params: tuple[Any, ...], prepare: bool | None = True
                 ) -> psycopg.Cursor[Any]:
        started = time.perf_counter()
        try:
            return self.conn.execute(sql, params, prepare=prepare)
        finally:
            self.sql_seconds += time.perf_counter() - started

    def _rows(self, sql: str, params: tuple[Any, ...]) -> list[tuple[Any, ...]]:
        started = time.perf_counter()
        try:
            return self.conn.execute(sql, params, prepare=True).fetchall()
        finally:
            self.sql_seconds += time.perf_counter() - started

    # ---- inbox -------------------------------------------------------------------------

    def claim(self, items: list[Inbound]) -> list[Inbound]:
        if not items:
            return []
        rows = self._rows(
            """
            INSERT INTO inbox (event_id, topic, "partition", "offset")
            SELECT * FROM unnest(%b::text[], %b::text[], %b::int[], %b::bigint[])
            ON CONFLICT (event_id) DO NOTHING
            RETURNING event_id
            """,
            ([i.cause.event_id for i in items], [i.cause.topic for i in items],
             [i.cause.partition for i in items], [i.cause.offset for i in items]),
        )
        new = {r[0] for r in rows}
        fresh = []
        for item in items:  # a batch may hold the same event_id twice: keep the first
            if item.cause.event_id in new:
                new.discard(item.cause.event_id)
                fresh.append(item)
        return fresh

    def unclaim(self, event_ids: Iterable[str]) -> None:
        ids = list(event_ids)
        if ids:
            self._execute("DELETE FROM inbox WHERE event_id = ANY(%b::text[])", (ids,))

    # ---- locks and loads ---------------------------------------------------------------

    def history_tracking_keys(self, order_ids: Iterable[str]) -> set[str]:
        ids = list(order_ids)
        if not ids:
            return set()
        rows = self._rows(
            "SELECT h->>'carrier', h->>'tracking_number' FROM unnest(%b::text[]) AS k(id), "
            "LATERAL (SELECT state FROM orders WHERE order_id = k.id OFFSET 0) AS o, "
            "jsonb_array_elements(o.state->'timeline') AS h "
            "WHERE h->>'type' = 'AddTracking'", (ids,))
        return {tracking_key(carrier, number) for carrier, number in rows}

    def record_carrier_reports(self, reports: dict[str, CarrierReport]) -> None:
        keys = sorted(reports)  # rows are locked in this order
        if not keys:
            return
        started = time.perf_counter()
        rows = (keys, [reports[k].status for k in keys], [reports[k].occurred_at for k in keys],
                [_dumps(state_json.to_json(reports[k].delivered_to))
                 if reports[k].delivered_to else None for k in keys],
                [reports[k].event_id for k in keys])
        self.state_seconds += time.perf_counter() - started
        # a row the WHERE keeps as it is is locked all the same
        self._execute(
            """
            INSERT INTO carrier_reports (tracking_key, status, occurred_at, delivered_to,
                                         event_id)
            SELECT * FROM unnest(%b::text[], %b::text[], %b::timestamptz[], %b::jsonb[],
                                 %b::text[])
            ON CONFLICT (tracking_key) DO UPDATE
            SET status = excluded.status, occurred_at = excluded.occurred_at,
                delivered_to = excluded.delivered_to, event_id = excluded.event_id
            WHERE carrier_reports.occurred_at IS NULL
               OR excluded.occurred_at >= carrier_reports.occurred_at
            """, rows)

    def lock_carrier_reports(self, keys: Iterable[str]) -> dict[str, CarrierReport]:
        keys = sorted(keys)
        if not keys:
            return {}
        self._execute(
            "INSERT INTO carrier_reports (tracking_key) SELECT unnest(%b::text[]) "
            "ON CONFLICT DO NOTHING", (keys,), prepare=True)
        rows = self._rows(
            "SELECT c.* FROM unnest(%b::text[]) AS k(key), LATERAL ("
            "SELECT tracking_key, status, occurred_at, delivered_to, event_id "
            "FROM carrier_reports WHERE tracking_key = k.key FOR UPDATE) AS c", (keys,))
        return {
            key: CarrierReport(status, occurred_at,
                               Address(**delivered_to) if delivered_to else None, event_id or "")
            for key, status, occurred_at, delivered_to, event_id in rows if status is not None
        }

    def orders_with_proof(self, keys: Iterable[str]) -> dict[str, list[str]]:
        keys = list(keys)
        if not keys:
            return {}
        linked: dict[str, list[str]] = {}
        for key, order_id in self._rows(
                "SELECT tracking_key, order_id "
                "FROM unnest(%b::text[]) AS k(key) JOIN case_proofs ON tracking_key = k.key",
                (keys,)):
            linked.setdefault(key, []).append(order_id)
        return linked

    def lock_orders(self, order_ids: Iterable[str]) -> dict[str, Order]:
        ids = sorted(order_ids)
        if not ids:
            return {}
        self._execute(
            "INSERT INTO orders (order_id, state) SELECT unnest(%b::text[]), '{}'::jsonb "
            "ON CONFLICT DO NOTHING", (ids,), prepare=True)
        rows = self._rows(
            "SELECT o.* FROM unnest(%b::text[]) AS k(id), LATERAL ("
            "SELECT order_id, state FROM orders WHERE order_id = k.id FOR UPDATE) AS o",
            (ids,))
        return self._orders(rows)

    def lock_due_orders(self, now: dt.datetime, limit: int) -> dict[str, Order]:
        rows = self._rows(
            "SELECT order_id, state FROM orders WHERE due_at <= %s "
            "ORDER BY order_id LIMIT %s FOR UPDATE SKIP LOCKED", (now, limit))
        return self._orders(rows)

    def _orders(self, rows: list[tuple[Any, ...]]) -> dict[str, Order]:
        started = time.perf_counter()
        orders = {order_id: _order(order_id, state) for order_id, state in rows}
        self.state_seconds += time.perf_counter() - started
        return orders

    def lock_sellers(self, seller_ids: Iterable[str], exclusive: bool = True
                     ) -> dict[str, SellerStanding]:
        ids = sorted(seller_ids)
        if not ids:
            return {}
        self._execute(
            "INSERT INTO sellers (seller_id) SELECT unnest(%b::text[]) ON CONFLICT DO NOTHING",
            (ids,), prepare=True)
        if exclusive:
            rows = self._rows(_LOCK_SELLERS_FOR_UPDATE, (ids,))
        else:
            rows = self._rows(_LOCK_SELLERS_FOR_SHARE, (ids,))
        self._sellers_as_loaded.update({sid: (suspended, reason)
                                        for sid, suspended, reason in rows})
        return {sid: SellerStanding(sid, suspended, reason) for sid, suspended, reason in rows}

    # ---- writes ------------------------------------------------------------------------

    def save(
        self,
        orders: Iterable[Order],
        sellers: Iterable[SellerStanding],
        proofs: Iterable[tuple[str, str]],
        events: list[RecordedEvent],
    ) -> None:
        started = time.perf_counter()
        orders = list(orders)
        order_rows = ([o.order_id for o in orders],
                      [_dumps(state_json.to_json(o)) for o in orders],
                      [o.case.state if o.case else None for o in orders],
                      [o.due_at(self.policy) for o in orders])
        event_rows = self._event_rows(events) if events else None
        self.state_seconds += time.perf_counter() - started

        if orders:
            self._execute(
                """
                UPDATE orders SET state = v.state, case_state = v.case_state,
                                  due_at = v.due_at, updated_at = now()
                FROM unnest(%b::text[], %b::jsonb[], %b::text[], %b::timestamptz[])
                     AS v(order_id, state, case_state, due_at)
                WHERE orders.order_id = v.order_id
                """, order_rows)
        sellers = [s for s in sellers
                   if (s.suspended, s.reason) != self._sellers_as_loaded.get(s.seller_id)]
        if sellers:
            self._execute(
                """
                UPDATE sellers SET suspended = v.suspended, reason = v.reason
                FROM unnest(%b::text[], %b::boolean[], %b::text[])
                     AS v(seller_id, suspended, reason)
                WHERE sellers.seller_id = v.seller_id
                """,
                ([s.seller_id for s in sellers], [s.suspended for s in sellers],
                 [s.reason for s in sellers]))
        proofs = sorted(set(proofs))
        if proofs:
            self._execute(
                "INSERT INTO case_proofs (tracking_key, order_id) "
                "SELECT * FROM unnest(%b::text[], %b::text[]) ON CONFLICT DO NOTHING",
                ([k for k, _ in proofs], [o for _, o in proofs]))
        if event_rows is not None:
            self._execute(
                """
                INSERT INTO case_events (event_id, order_id, type, occurred_at, record,
                                         payload, rule, cause_topic, cause_partition,
                                         cause_offset, cause_event_id)
                SELECT v.event_id, v.order_id, v.type, v.occurred_at, v.record, v.payload,
                       v.rule,
                       -- a held action's position is in the inbox, not in the record that
                       -- released it
                       coalesce(i.topic, v.topic), coalesce(i."partition", v."partition"),
                       coalesce(i."offset", v."offset"), v.cause_event_id
                FROM unnest(%b::text[], %b::text[], %b::text[], %b::timestamptz[],
                            %b::jsonb[], %b::bytea[], %b::text[], %b::text[], %b::int[],
                            %b::bigint[], %b::text[])
                     WITH ORDINALITY AS v(event_id, order_id, type, occurred_at, record,
                                          payload, rule, topic, "partition", "offset",
                                          cause_event_id, n)
                LEFT JOIN inbox i ON i.event_id = v.cause_event_id
                ORDER BY v.n  -- seq follows the order the rules produced the events in
                ON CONFLICT (event_id) DO NOTHING
                """, event_rows)
            self._execute("SELECT pg_notify(%s, '')", (CASE_EVENTS_CHANNEL,))

    def _event_rows(self, events: list[RecordedEvent]) -> tuple[list[Any], ...]:
        records = [r.event.to_record() for r in events]
        return ([r["event_id"] for r in records], [r["order_id"] for r in records],
                [r["type"] for r in records], [r["occurred_at"] for r in records],
                [_dumps(record_to_json(r)) for r in records],
                [self.codec.encode(r) for r in records], [e.event.rule for e in events],
                [e.cause.topic for e in events], [e.cause.partition for e in events],
                [e.cause.offset for e in events], [e.cause.event_id for e in events])


_LOCK_SELLERS_FOR_UPDATE = (
    "SELECT s.* FROM unnest(%b::text[]) AS k(id), LATERAL ("
    "SELECT seller_id, suspended, reason FROM sellers WHERE seller_id = k.id "
    "FOR UPDATE) AS s")
_LOCK_SELLERS_FOR_SHARE = (
    "SELECT s.* FROM unnest(%b::text[]) AS k(id), LATERAL ("
    "SELECT seller_id, suspended, reason FROM sellers WHERE seller_id = k.id "
    "FOR SHARE) AS s")


def _order(order_id: str, state: dict[str, Any]) -> Order:
    if not state:
        return Order(order_id)
    order: Order = state_json.from_json(Order, state)
    return order


@contextmanager
def unit_of_work(conn: psycopg.Connection, policy: Policy) -> Iterator[PostgresUnitOfWork]:
    """A transaction on `conn`: committed when the block ends, rolled back on error.

    In pipeline mode: a statement whose result the batch does not read (the writes, the
    inserts before a locking select, BEGIN and COMMIT) goes out with the next one that is
    read, so a batch costs a round trip per read, not per statement. Under load the
    round trips, not the statements, were what a batch waited for: each one waits for
    the backend and then the consumer to get a core back."""
    with conn.pipeline(), conn.transaction():
        prefer_key_lookups(conn, transaction_only=True)
        yield PostgresUnitOfWork(conn, policy)

