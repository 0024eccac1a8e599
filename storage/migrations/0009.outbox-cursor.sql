-- The relay marks what it published with one row per batch, not a write per event.
-- Setting `published_at` on each case event rewrote its whole row (record and payload)
-- and three of its index entries, since a partial index named the column: about a
-- third of what a live record wrote to the WAL. Case events are now published in seq
-- order up to a cursor: every event with a seq up to a row's `through_seq` was
-- acknowledged by the broker at its `published_at` (or at an earlier row's).
--
-- A cursor skips nothing only if no seq commits after a higher one was read: whoever
-- appends case events first takes the advisory lock
-- `storage.transaction.OUTBOX_APPEND_LOCK` for the rest of its transaction, so appends
-- commit in seq order.

CREATE TABLE case_events_published (
    through_seq   bigint PRIMARY KEY,
    published_at  timestamptz NOT NULL DEFAULT now()
);

-- What was published before: the prefix of seq below the first unpublished event, one
-- row per relay batch (each marked its rows with its own transaction's now()). A
-- published event after that first unpublished one is sent again, with its event_id.
INSERT INTO case_events_published (through_seq, published_at)
SELECT max(seq), published_at FROM case_events
WHERE published_at IS NOT NULL
  AND seq < coalesce((SELECT min(seq) FROM case_events WHERE published_at IS NULL),
                     9223372036854775807)
GROUP BY published_at;

DROP INDEX case_events_unpublished;
ALTER TABLE case_events DROP COLUMN published_at;

-- The outbox: the case events after the cursor, for the relay, `cases status` and tools.
CREATE VIEW unpublished_case_events AS
SELECT * FROM case_events
WHERE seq > coalesce((SELECT max(through_seq) FROM case_events_published), 0);
