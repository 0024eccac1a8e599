"""The sweeper's decisions on PostgreSQL (service.unit_of_work.DecideUnitOfWork): the
orders to decide and their records, their new state, the dead letters and the outbox."""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Collection, Iterable, Mapping
from typing import Any

import orjson

from domain.case_events import CaseEvent
from domain.deadlines import next_deadline
from domain.decision import SellerStanding, StandingDecision
from domain.order import Order, OrderTerms
from domain.parcel import Parcel
from domain.policy import Policy
from domain.records import InboundRecord, from_record
from domain.revisions import PublishedDecision
from domain.values import assemble
from schemas.codec import DecodeError, shared_codec
from schemas.json_form import to_json as record_to_json
from service.unit_of_work import (
    Cause,
    Loaded,
    RecordedEvent,
    Refused,
    Report,
    Stored,
    Work,
    trace_of,
)
from storage import state_json
from storage.order_rows import order_from_row, row_of
from storage.records import headers_from_json, headers_json
from storage.transaction import OUTBOX_APPEND_LOCK, Timed, dumps

#: the exception class a refused record's dead letter names
REFUSED_ERROR = "domain.decision.InvalidRecord"


class PostgresDecisions(Timed):
    def __init__(self, conn: Any, policy: Policy) -> None:
        super().__init__(conn)
        self.policy = policy
        self.codec = shared_codec()
        self._sellers_as_loaded: dict[str, list[StandingDecision]] = {}
        #: stored records that could not be read back (see `_stored`)
        self.unreadable: list[Refused] = []
        #: bytes of JSON state written (orders and sellers), for the benchmark
        self.state_bytes = 0
        #: carrier reports not decided yet that cannot be read back (see `reports`)
        self._unreadable_reports: list[str] = []
        #: the queue rows `load` read, by event_id: deleted by their key once decided
        self._queued: dict[str, tuple[str, dt.datetime]] = {}
        #: each loaded order's terms as its row holds them (written again only if changed)
        self._terms_as_loaded: dict[str, OrderTerms | None] = {}

    # ---- reading records back ----------------------------------------------------------

    def _stored(self, event_id: str, topic: str, partition: int, offset: int,
                payload: bytes, headers: Any) -> Stored | Refused:
        """The record as stored, or why it cannot be read back (a row no consumer of
        this version wrote): refused like bad input, never a stop of the sweeper."""
        started = time.perf_counter()
        cause = Cause(topic, partition, offset, event_id)
        try:
            record: InboundRecord = from_record(self.codec.decode(bytes(payload)))
        except (DecodeError, KeyError, TypeError, ValueError) as exc:
            return Refused(cause, f"the stored record cannot be read back: {exc}")
        finally:
            self.state_seconds += time.perf_counter() - started
        # made for every record read back (domain.values)
        return assemble(Stored, {"cause": cause, "record": record,
                                 "trace": trace_of(headers_from_json(headers))})

    def _readable(self, rows: list[Stored | Refused]) -> list[Stored]:
        for row in rows:
            if isinstance(row, Refused):
                self.unreadable.append(row)
        return [row for row in rows if isinstance(row, Stored)]

    # ---- what to decide ----------------------------------------------------------------

    def work(self, until: dt.datetime) -> Work:
        orders = self.rows(
            "SELECT order_id FROM undecided_records WHERE occurred_at <= %(u)s "
            "UNION SELECT order_id FROM orders WHERE due_at <= %(u)s "
            "UNION SELECT p.order_id FROM undecided_reports r JOIN case_proofs p "
            "USING (carrier, tracking_number) WHERE r.occurred_at <= %(u)s", {"u": until})
        # A report on a parcel no case names is decided by the pass itself: the order
        # whose case names the parcel later takes in every report on it then.
        self.execute(
            "DELETE FROM undecided_reports r WHERE r.occurred_at <= %s AND NOT EXISTS ("
            "SELECT 1 FROM case_proofs p WHERE p.carrier = r.carrier "
            "AND p.tracking_number = r.tracking_number)", (until,))
        return Work(sorted(r[0] for r in orders))

    def load(self, order_ids: list[str], until: dt.datetime) -> Loaded:
        ids = sorted(order_ids)
        self.execute(
            "INSERT INTO orders (order_id, state) SELECT unnest(%b::text[]), '{}'::jsonb "
            "ON CONFLICT DO NOTHING", (ids,))
        rows = self.rows(
            "SELECT o.order_id, o.terms, o.state FROM unnest(%b::text[]) AS k(id), LATERAL ("
            "SELECT order_id, terms, state FROM orders WHERE order_id = k.id FOR UPDATE) AS o",
            (ids,))
        started = time.perf_counter()
        orders = {order_id: order_from_row(order_id, terms, state)
                  for order_id, terms, state in rows}
        self._terms_as_loaded.update((o.order_id, o.terms) for o in orders.values())
        self.state_seconds += time.perf_counter() - started
        undecided: dict[str, list[Stored]] = {}
        unreadable: list[Refused] = []
        placed_sellers = set()
        for order_id, occurred_at, seller_id, *columns in self.rows(
                'SELECT r.order_id, r.occurred_at, r.seller_id, r.event_id, r.topic, '
                'r."partition", r."offset", r.payload, r.headers FROM undecided_records u '
                "JOIN order_records r USING (event_id) "
                "WHERE u.order_id = ANY(%b::text[]) AND u.occurred_at <= %b "
                'ORDER BY r.order_id, r.occurred_at, r."offset"', (ids, until)):
            self._queued[columns[0]] = (order_id, occurred_at)
            stored = self._stored(*columns)
            if isinstance(stored, Refused):
                unreadable.append(stored)
                continue
            undecided.setdefault(order_id, []).append(stored)
            if seller_id is not None:
                placed_sellers.add(seller_id)
        seller_ids = {o.terms.seller_id for o in orders.values() if o.terms} | placed_sellers
        return Loaded(orders, undecided, self.lock_sellers(seller_ids), unreadable)

    def reports(self, parcels: Iterable[Parcel], until: dt.datetime
                ) -> dict[Parcel, list[Report]]:
        wanted = sorted(parcels)
        if not wanted:
            return {}
        found: dict[Parcel, list[Report]] = {}
        for carrier, number, decided, *columns in self.rows(
                "SELECT r.carrier, r.tracking_number, r.decided, r.event_id, r.topic, "
                'r."partition", r."offset", r.payload, r.headers '
                "FROM unnest(%b::text[], %b::text[]) AS k(carrier, number), "
                "LATERAL (SELECT p.*, u.event_id IS NULL AS decided FROM parcel_reports p "
                "LEFT JOIN undecided_reports u USING (event_id) WHERE p.carrier = k.carrier "
                "AND p.tracking_number = k.number AND p.occurred_at <= %b "
                'ORDER BY p.occurred_at, p."offset" OFFSET 0) AS r',
                ([p.carrier for p in wanted], [p.tracking_number for p in wanted], until)):
            stored = self._stored(*columns)
            if isinstance(stored, Stored):
                found.setdefault(Parcel(carrier, number), []).append(Report(stored, decided))
            elif not decided:  # an unreadable report counts for nothing: out of the queue
                self._unreadable_reports.append(stored.cause.event_id)
        return found

    def history(self, order_id: str, until: dt.datetime) -> list[Stored]:
        return self._readable([self._stored(*columns) for columns in self.rows(
            'SELECT event_id, topic, "partition", "offset", payload, headers '
            "FROM order_records WHERE order_id = %s "
            'AND occurred_at <= %s ORDER BY occurred_at, "offset"', (order_id, until))])

    def published(self, order_id: str) -> Mapping[str, PublishedDecision]:
        return {key: PublishedDecision(event_id, kind, _content(record))
                for key, event_id, kind, record in self.rows(
                    "SELECT decision_key, event_id, type, record FROM case_events "
                    "WHERE order_id = %s AND superseded_by IS NULL "
                    "AND type <> 'DecisionSuperseded' ORDER BY seq", (order_id,))}

    def content(self, event: CaseEvent) -> object:
        return _content(record_to_json(event.to_record()))

    def undecided_standing(self, until: dt.datetime) -> list[tuple[str, Stored]]:
        found = [(seller_id, self._stored(*columns)) for seller_id, *columns in self.rows(
            "SELECT coalesce(o.seller_id, p.seller_id), r.event_id, r.topic, "
            'r."partition", r."offset", r.payload, r.headers FROM undecided_records u '
            "JOIN order_records r USING (event_id) "
            "LEFT JOIN orders o ON o.order_id = u.order_id "
            "LEFT JOIN LATERAL (SELECT seller_id FROM order_records "
            "WHERE order_id = u.order_id AND record_type = 'OrderPlaced' "
            "AND occurred_at <= %(u)s LIMIT 1) p ON true "
            "WHERE u.standing AND u.occurred_at <= %(u)s "
            "AND coalesce(o.seller_id, p.seller_id) IS NOT NULL", {"u": until})]
        return [(seller_id, s) for seller_id, s in found if isinstance(s, Stored)]

    def lock_sellers(self, seller_ids: Iterable[str]) -> dict[str, SellerStanding]:
        ids = sorted(seller_ids)
        if not ids:
            return {}
        self.execute(
            "INSERT INTO sellers (seller_id) SELECT unnest(%b::text[]) ON CONFLICT DO NOTHING",
            (ids,))
        rows = self.rows(
            "SELECT s.seller_id, s.decisions FROM unnest(%b::text[]) AS k(id), LATERAL ("
            "SELECT seller_id, decisions FROM sellers WHERE seller_id = k.id FOR UPDATE) AS s",
            (ids,))
        sellers = {seller_id: state_json.from_json(SellerStanding, {
            "seller_id": seller_id, "decisions": decisions}) for seller_id, decisions in rows}
        self._sellers_as_loaded.update({s.seller_id: list(s.decisions)
                                        for s in sellers.values()})
        return sellers

    # ---- writes ------------------------------------------------------------------------

    def save(self, orders: Iterable[Order], sellers: Iterable[SellerStanding],
             decided: Iterable[str], refused: list[Refused],
             events: list[RecordedEvent]) -> None:
        started = time.perf_counter()
        orders = list(orders)
        # popped: each order's terms as loaded are needed once, here
        rows = [row_of(o, self._terms_as_loaded.pop(o.order_id, None)) for o in orders]
        order_rows = ([o.order_id for o in orders],
                      [o.terms.seller_id if o.terms else None for o in orders],
                      [r.terms_kept for r in rows], [r.terms for r in rows],
                      [r.state for r in rows],
                      [o.case.state if o.case else None for o in orders],
                      [o.decided_through for o in orders],
                      [next_deadline(o, self.policy) for o in orders])
        changed = [s for s in sellers
                   if s.decisions != self._sellers_as_loaded.get(s.seller_id)]
        seller_rows = ([s.seller_id for s in changed], [s.suspended for s in changed],
                       [s.reason for s in changed],
                       [dumps(state_json.to_json(s.decisions)) for s in changed])
        proofs = sorted({(p.carrier, p.tracking_number, o.order_id)
                         for o in orders if o.case for p in o.case.proofs})
        event_rows = _event_rows(events) if events else None
        self.state_bytes += (sum(len(r.terms or "") + len(r.state) for r in rows)
                             + sum(map(len, seller_rows[3])))
        self.state_seconds += time.perf_counter() - started

        if orders:
            self.execute(
                """
                UPDATE orders SET seller_id = v.seller_id,
                       terms = CASE WHEN v.terms_kept THEN orders.terms ELSE v.terms END,
                       state = v.state, case_state = v.case_state,
                       decided_through = v.decided_through, due_at = v.due_at,
                       updated_at = now()
                FROM unnest(%b::text[], %b::text[], %b::boolean[], %b::jsonb[], %b::jsonb[],
                            %b::text[], %b::timestamptz[], %b::timestamptz[])
                     AS v(order_id, seller_id, terms_kept, terms, state, case_state,
                          decided_through, due_at)
                WHERE orders.order_id = v.order_id
                """, order_rows)
        for seller in changed:
            self._sellers_as_loaded[seller.seller_id] = list(seller.decisions)
        if changed:
            self.execute(
                """
                UPDATE sellers SET suspended = v.suspended, reason = v.reason,
                       decisions = v.decisions
                FROM unnest(%b::text[], %b::boolean[], %b::text[], %b::jsonb[])
                     AS v(seller_id, suspended, reason, decisions)
                WHERE sellers.seller_id = v.seller_id
                """, seller_rows)
        keys = sorted((*self._queued.pop(e), e) for e in set(decided) if e in self._queued)
        if keys:
            # by the whole key: a record of these orders stored since `load` stays queued
            self.execute(
                "DELETE FROM undecided_records u USING unnest(%b::text[], %b::timestamptz[], "
                "%b::text[]) AS k(order_id, occurred_at, event_id) WHERE u.order_id = "
                "k.order_id AND u.occurred_at = k.occurred_at AND u.event_id = k.event_id",
                tuple(map(list, zip(*keys, strict=True))))
        if self._unreadable_reports:
            self.execute("DELETE FROM undecided_reports WHERE event_id = ANY(%b::text[])",
                         (sorted(set(self._unreadable_reports)),))
            self._unreadable_reports.clear()
        if proofs:
            self.execute(
                "INSERT INTO case_proofs (carrier, tracking_number, order_id) "
                "SELECT * FROM unnest(%b::text[], %b::text[], %b::text[]) "
                "ON CONFLICT DO NOTHING",
                ([c for c, _, _ in proofs], [n for _, n, _ in proofs], [o for _, _, o in proofs]))
        if refused:
            self._refuse(refused)
        if event_rows is not None:
            self._append_events(event_rows)
            superseded = [(e.supersedes, e.event.event_id) for e in events if e.supersedes]
            if superseded:
                self.execute(
                    "UPDATE case_events SET superseded_by = v.by FROM unnest(%b::text[], "
                    "%b::text[]) AS v(id, by) WHERE case_events.event_id = v.id",
                    ([s for s, _ in superseded], [b for _, b in superseded]))
        if event_rows is not None or refused:
            self.notify()

    def _refuse(self, refused: list[Refused]) -> None:
        """To the dead-letter outbox, as they were read; out of the records (the
        inbox), so that a corrected redrive can apply them."""
        ids = [r.cause.event_id for r in refused]
        self.execute(
            """
            INSERT INTO dead_letter_outbox (topic, "partition", "offset", "timestamp", key,
                                            value, headers, error, reason)
            SELECT r.topic, r."partition", r."offset", r."timestamp",
                   convert_to(r.order_id, 'UTF8'), r.payload, r.headers, %b, v.reason
            FROM unnest(%b::text[], %b::text[]) WITH ORDINALITY AS v(event_id, reason, n)
            JOIN order_records r ON r.event_id = v.event_id
            ORDER BY v.n
            """, (REFUSED_ERROR, ids, [r.reason for r in refused]))
        self.execute(
            "DELETE FROM undecided_records u USING order_records r "
            "WHERE r.event_id = ANY(%b::text[]) AND u.order_id = r.order_id "
            "AND u.occurred_at = r.occurred_at AND u.event_id = r.event_id", (ids,))
        self.execute("DELETE FROM order_records WHERE event_id = ANY(%b::text[])", (ids,))

    def _append_events(self, rows: tuple[list[Any], ...]) -> None:
        # held to the commit: no other append takes a seq before this one commits
        self.execute("SELECT pg_advisory_xact_lock(%s)", (OUTBOX_APPEND_LOCK,))
        self.execute(
            """
            INSERT INTO case_events (event_id, decision_key, order_id, type, occurred_at,
                                     record, payload, rule, cause_topic, cause_partition,
                                     cause_offset, cause_event_id, cause_headers)
            SELECT v.event_id, v.decision_key, v.order_id, v.type, v.occurred_at, v.record,
                   v.payload, v.rule,
                   -- a held action's position is its record's, not the time rule's
                   coalesce(r.topic, v.topic), coalesce(r."partition", v."partition"),
                   coalesce(r."offset", v."offset"), v.cause_event_id,
                   coalesce(v.headers, r.headers)
            FROM unnest(%b::text[], %b::text[], %b::text[], %b::text[], %b::timestamptz[],
                        %b::jsonb[], %b::bytea[], %b::text[], %b::text[], %b::int[],
                        %b::bigint[], %b::text[], %b::jsonb[])
                 WITH ORDINALITY AS v(event_id, decision_key, order_id, type, occurred_at,
                                      record, payload, rule, topic, "partition", "offset",
                                      cause_event_id, headers, n)
            LEFT JOIN order_records r ON v.topic = 'sweeper' AND r.event_id = v.cause_event_id
            ORDER BY v.n  -- seq follows the order the rules produced the events in
            ON CONFLICT (event_id) DO NOTHING
            """, rows)

    def reports_decided(self, taken_in: Mapping[str, Collection[str]]) -> list[str]:
        pairs = sorted((event_id, order_id) for event_id, orders in taken_in.items()
                       for order_id in orders)
        if not pairs:
            return []
        return sorted(r[0] for r in self.rows(
            """
            WITH t(event_id, order_id) AS (SELECT * FROM unnest(%b::text[], %b::text[])),
            decided AS (
                DELETE FROM undecided_reports r
                WHERE r.event_id IN (SELECT event_id FROM t)
                  AND NOT EXISTS (SELECT 1 FROM case_proofs p
                                  WHERE p.carrier = r.carrier
                                    AND p.tracking_number = r.tracking_number
                                    AND NOT EXISTS (SELECT 1 FROM t
                                                    WHERE t.event_id = r.event_id
                                                      AND t.order_id = p.order_id))
                RETURNING r.event_id)
            -- the statement's snapshot is from before the DELETE: still queued, less it
            SELECT q.event_id FROM undecided_reports q
            WHERE q.event_id IN (SELECT event_id FROM t)
              AND q.event_id NOT IN (SELECT event_id FROM decided)
            """, ([e for e, _ in pairs], [o for _, o in pairs])))


def _content(record: dict[str, Any]) -> str:
    """What an event says, without its id, as comparable text: keys sorted at every
    depth, since a JSONB column gives an object's keys back in an order of its own."""
    return orjson.dumps({k: v for k, v in record.items() if k != "event_id"},
                        option=orjson.OPT_SORT_KEYS).decode()


def _trace_headers(recorded: RecordedEvent) -> str | None:
    """The cause's trace context, kept as Kafka headers are (`records.headers_json`)."""
    if recorded.trace is None:
        return None
    parent, state = recorded.trace
    return headers_json((("traceparent", parent.encode()),
                         *((("tracestate", state.encode()),) if state else ())))


def _event_rows(events: list[RecordedEvent]) -> tuple[list[Any], ...]:
    codec = shared_codec()
    records = [r.event.to_record() for r in events]
    return ([r["event_id"] for r in records], [e.event.decision_key for e in events],
            [r["order_id"] for r in records], [r["type"] for r in records],
            [r["occurred_at"] for r in records],
            [dumps(record_to_json(r)) for r in records],
            [codec.encode(r) for r in records], [e.event.rule for e in events],
            [e.cause.topic for e in events], [e.cause.partition for e in events],
            [e.cause.offset for e in events], [e.cause.event_id for e in events],
            [_trace_headers(e) for e in events])
