-- The TrackingUpdated behind each carrier report, so an order that links the parcel later
-- can place the report in its own history at the time it happened.
ALTER TABLE carrier_reports ADD COLUMN event_id text;
