"""The outbox relay: publishes committed case events to `case-events`, in order per key."""
