-- An order's terms (what OrderPlaced said: buyer, seller, total, shipping address,
-- dates) move out of its state document into a column of their own. They are set once,
-- yet every decision on the order rewrote them with the rest of the document, of which
-- they are about a third. A column the UPDATE leaves as it was is not logged again
-- (storage/order_rows.py).

ALTER TABLE orders ADD COLUMN terms jsonb;
UPDATE orders SET terms = state->'terms', state = state - 'terms' WHERE state ? 'terms';
