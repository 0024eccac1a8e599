-- Nearly every record rewrites its order (and every carrier status its parcel's report).
-- Free room on each page lets PostgreSQL put the new version beside the old one (a HOT
-- update: no new index entries, less WAL) instead of on another page.
ALTER TABLE orders SET (fillfactor = 70);
ALTER TABLE carrier_reports SET (fillfactor = 70);
