-- An order's state passes 2 kB once its history has a few records; PostgreSQL then
-- compresses it on every rewrite. lz4 does that several times faster than the default
-- pglz. A server built without lz4 keeps pglz.
DO $$
BEGIN
    ALTER TABLE orders ALTER COLUMN state SET COMPRESSION lz4;
EXCEPTION WHEN feature_not_supported THEN
    RAISE NOTICE 'lz4 not available: order states stay compressed with pglz';
END
$$;
