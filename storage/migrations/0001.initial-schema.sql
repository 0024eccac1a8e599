-- The whole state of the service. Each order's state (its terms, payments, held actions
-- and case) is one JSONB document, locked and rewritten as a unit by the batch that
-- changes it; columns beside it exist for queries (sweeper deadlines, case states).

CREATE TABLE orders (
    order_id    text PRIMARY KEY,
    state       jsonb NOT NULL,
    case_state  text,
    due_at      timestamptz,
    updated_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX orders_due_at ON orders (due_at) WHERE due_at IS NOT NULL;

CREATE TABLE sellers (
    seller_id  text PRIMARY KEY,
    suspended  boolean NOT NULL DEFAULT false,
    reason     text
);

-- The latest status a carrier reported for a parcel, whether or not a case knows it yet.
CREATE TABLE carrier_reports (
    tracking_key  text PRIMARY KEY,
    status        text,
    occurred_at   timestamptz,
    delivered_to  jsonb
);

-- Which orders' cases carry a tracking number as proof of shipping.
CREATE TABLE case_proofs (
    tracking_key  text NOT NULL,
    order_id      text NOT NULL,
    PRIMARY KEY (tracking_key, order_id)
);

-- Every inbound record applied, by its producer's event_id: the de-duplication key.
CREATE TABLE inbox (
    event_id      text PRIMARY KEY,
    topic         text NOT NULL,
    "partition"   integer NOT NULL,
    "offset"      bigint NOT NULL,
    processed_at  timestamptz NOT NULL DEFAULT now()
);

-- Every case event, with what caused it: the outbox the relay publishes from (rows with
-- no published_at yet, in seq order) and the case history `cases show` prints.
CREATE TABLE case_events (
    seq              bigserial PRIMARY KEY,
    event_id         text NOT NULL UNIQUE,
    order_id         text NOT NULL,
    type             text NOT NULL,
    occurred_at      timestamptz NOT NULL,
    record           jsonb NOT NULL,
    payload          bytea NOT NULL,  -- the Avro single-object encoding the relay sends
    rule             text NOT NULL,
    cause_topic      text NOT NULL,
    cause_partition  integer NOT NULL,
    cause_offset     bigint NOT NULL,
    cause_event_id   text NOT NULL,
    created_at       timestamptz NOT NULL DEFAULT now(),
    published_at     timestamptz
);
CREATE INDEX case_events_unpublished ON case_events (seq) WHERE published_at IS NULL;
CREATE INDEX case_events_by_order ON case_events (order_id, seq);
