"""Every metric the service exports, in one list (Prometheus conventions: a prefix, base
units, `_total` for counters). A component records what it counts and times here; the
HTTP endpoint (`observability.http`) serves them with /healthz and /readyz.

`cases run` with several components runs each in a process of its own: then the
supervisor sets PROMETHEUS_MULTIPROC_DIR before starting them, each writes its figures
there, and the supervisor's endpoint serves them together (prometheus_client's
multiprocess mode). Gauges say how they combine across processes.

A series whose label values are known in advance (a topic, a component, a time rule, a
case event type) is created at zero when its component starts (bootstrap.components):
exported from the start, as deploy/observability/metrics.txt lists it, and `increase()`
counts its first increment.
"""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

PREFIX = "order_cases"

# ---- consumers ---------------------------------------------------------------------------
RECORDS_STORED = Counter(f"{PREFIX}_records_stored_total",
                         "Inbound records stored for the sweeper", ["topic"])
RECORDS_DUPLICATE = Counter(f"{PREFIX}_records_duplicate_total",
                            "Inbound records read again (already stored)", ["topic"])
DEAD_LETTERS = Counter(f"{PREFIX}_dead_letters_total",
                       "Records sent to their dead-letter topic, by the error's class",
                       ["topic", "reason"])
BATCH_DURATION = Histogram(f"{PREFIX}_batch_duration_seconds",
                           "Time a batch kept its consumer busy (decode to offsets)",
                           ["topic"], buckets=(.005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5,
                                               10, 30))
BATCH_SIZE = Histogram(f"{PREFIX}_batch_size_records", "Records per batch", ["topic"],
                       buckets=(1, 5, 10, 50, 100, 250, 500, 1000, 2000, 5000))
CONSUMER_LAG = Gauge(f"{PREFIX}_consumer_lag_records",
                     "Records not yet read, per assigned partition", ["topic", "partition"],
                     multiprocess_mode="livemax")

# ---- the sweeper -------------------------------------------------------------------------
WATERMARK = Gauge(f"{PREFIX}_watermark_timestamp_seconds",
                  "The low watermark in event time (Unix seconds)", multiprocess_mode="max")
# the sweeper's latest measure: every process of `cases run` holds a 0 it never set,
# which a minimum across processes would report instead
WATERMARK_DELAY = Gauge(f"{PREFIX}_watermark_delay_seconds",
                        "Wall clock minus the low watermark",
                        multiprocess_mode="livemostrecent")
FRONTIER = Gauge(f"{PREFIX}_partition_frontier_timestamp_seconds",
                 "Latest event time stored from an inbound partition (Unix seconds)",
                 ["topic", "partition"], multiprocess_mode="max")
READ_THROUGH = Gauge(
    f"{PREFIX}_partition_read_through_timestamp_seconds",
    "Last moment an inbound partition's log was seen ending where its consumers have "
    "stored up to (Unix seconds): the wall clock less it is how far they trail the log",
    ["topic", "partition"], multiprocess_mode="max")
SWEEPER_LOOKS = Counter(
    f"{PREFIX}_sweeper_looks_total",
    "The leading sweeper's looks for something to decide, by outcome: measured (the "
    "watermark, then a pass), nothing_due, held_back (due, but no watermark until a "
    "partition with records, none read yet, has stored some), catching_up (a backlog "
    "is read: passes CASES_CATCH_UP_PASS_SECONDS apart)", ["outcome"])
UNREAD = Gauge(f"{PREFIX}_unread_records",
               "Inbound records on the broker that no consumer has stored yet, every "
               "partition together, at the sweeper's last measure",
               multiprocess_mode="livemostrecent")
DECISIONS = Counter(f"{PREFIX}_decisions_total",
                    "Records and time rules decided", ["kind"])
DEADLINES_FIRED = Counter(f"{PREFIX}_deadlines_fired_total",
                          "Time rules that published an event, by rule", ["rule"])
LATE_RECORDS = Counter(f"{PREFIX}_late_records_total",
                       "Records that came after their order was decided past their time",
                       ["topic"])
SUPERSEDED = Counter(f"{PREFIX}_decisions_superseded_total",
                     "Published decisions superseded after a late record")
SWEEPER_LAST_PASS = Gauge(f"{PREFIX}_sweeper_last_pass_timestamp_seconds",
                          "When the sweeper last finished a pass (Unix seconds)",
                          multiprocess_mode="max")
DECIDE_PASS_DURATION = Histogram(f"{PREFIX}_decide_pass_duration_seconds",
                                 "Time a pass of the sweeper's decisions took",
                                 buckets=(.005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10,
                                          30, 60))

# ---- the relay ---------------------------------------------------------------------------
OUTBOX_BACKLOG = Gauge(f"{PREFIX}_outbox_backlog_events", "Case events not yet published",
                       multiprocess_mode="livemax")
OUTBOX_OLDEST_AGE = Gauge(f"{PREFIX}_outbox_oldest_age_seconds",
                          "Age of the oldest case event not yet published",
                          multiprocess_mode="livemax")
RELAY_PUBLISH_LATENCY = Histogram(f"{PREFIX}_relay_publish_latency_seconds",
                                  "From a case event's commit to the broker's acknowledgement",
                                  buckets=(.005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10,
                                           30, 60))
EVENTS_PUBLISHED = Counter(f"{PREFIX}_case_events_published_total",
                           "Case events published, by type", ["type"])
RELAY_LEADER = Gauge(f"{PREFIX}_relay_leader", "1 while this relay publishes",
                     multiprocess_mode="livemax")

# ---- every component ---------------------------------------------------------------------
DATABASE_RETRIES = Counter(f"{PREFIX}_database_retries_total",
                           "Waits for PostgreSQL to come back", ["component"])
BROKER_ERRORS = Counter(f"{PREFIX}_broker_errors_total",
                        "Errors the Kafka clients reported", ["component"])
READY = Gauge(f"{PREFIX}_ready", "1 while the component is ready", ["component"],
              multiprocess_mode="liveall")
HEARTBEAT = Gauge(f"{PREFIX}_heartbeat_timestamp_seconds",
                  "When the component's loop last went round (Unix seconds)",
                  ["component"], multiprocess_mode="liveall")

ALL = [RECORDS_STORED, RECORDS_DUPLICATE, DEAD_LETTERS, BATCH_DURATION, BATCH_SIZE, CONSUMER_LAG,
       WATERMARK, WATERMARK_DELAY, FRONTIER, READ_THROUGH, UNREAD, DECISIONS, DEADLINES_FIRED,
       LATE_RECORDS, SUPERSEDED, SWEEPER_LAST_PASS, DECIDE_PASS_DURATION, OUTBOX_BACKLOG,
       OUTBOX_OLDEST_AGE, RELAY_PUBLISH_LATENCY, EVENTS_PUBLISHED, RELAY_LEADER,
       DATABASE_RETRIES, BROKER_ERRORS, READY, HEARTBEAT]
