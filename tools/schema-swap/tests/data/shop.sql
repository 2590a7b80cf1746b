-- The shapes a one-table restore (schema-swap --table) must survive: a table with every kind
-- of object that belongs to it, referenced by foreign keys from other tables (one of them
-- partitioned), read by views and a materialized view in and outside its schema, and a
-- partitioned table with its partitions and an inheritance parent with its children.
CREATE ROLE shop_owner;
CREATE ROLE shop_reader;
CREATE SCHEMA shop AUTHORIZATION shop_owner;
CREATE SCHEMA report;
SET ROLE shop_owner;

CREATE TABLE shop.customers (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    email text NOT NULL UNIQUE
);
INSERT INTO shop.customers (email) SELECT 'c' || g || '@example.org' FROM generate_series(1, 50) g;

CREATE FUNCTION shop.touch() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN NEW.updated_at := now(); RETURN NEW; END $$;

CREATE TABLE shop.orders (
    id serial PRIMARY KEY,
    customer_id bigint NOT NULL REFERENCES shop.customers (id),
    amount numeric(10, 2) NOT NULL CHECK (amount >= 0),
    note text DEFAULT 'none',
    placed_at timestamptz NOT NULL DEFAULT '2026-01-01 00:00:00+00',
    updated_at timestamptz,
    total_cents bigint GENERATED ALWAYS AS ((amount * 100)::bigint) STORED
);
CREATE INDEX orders_customer ON shop.orders (customer_id);
CREATE INDEX orders_big ON shop.orders (amount) WHERE amount > 100;
CREATE TRIGGER orders_touch BEFORE UPDATE ON shop.orders FOR EACH ROW EXECUTE FUNCTION shop.touch();
CREATE RULE orders_no_delete_zero AS ON DELETE TO shop.orders WHERE old.amount = 0 DO INSTEAD NOTHING;
CREATE STATISTICS shop.orders_stats (dependencies) ON customer_id, amount FROM shop.orders;
ALTER TABLE shop.orders ENABLE ROW LEVEL SECURITY;
CREATE POLICY orders_mine ON shop.orders FOR SELECT USING (customer_id > 0);
COMMENT ON TABLE shop.orders IS 'one row per order';
COMMENT ON COLUMN shop.orders.amount IS 'in euros';
GRANT SELECT ON shop.orders TO shop_reader;
GRANT SELECT (id, amount) ON shop.orders TO PUBLIC;
INSERT INTO shop.orders (customer_id, amount, note)
SELECT 1 + g % 50, (g % 300)::numeric + 0.25, CASE WHEN g % 7 = 0 THEN NULL ELSE 'n' || g END
FROM generate_series(1, 400) g;

-- Other tables that point at orders: one plain, one partitioned.
CREATE TABLE shop.notes (
    id int PRIMARY KEY,
    order_id int REFERENCES shop.orders (id) ON DELETE CASCADE,
    body text
);
INSERT INTO shop.notes SELECT g, g * 3, 'note ' || g FROM generate_series(1, 60) g;
CREATE TABLE shop.shipments (
    order_id int NOT NULL REFERENCES shop.orders (id),
    shipped_on date NOT NULL,
    PRIMARY KEY (order_id, shipped_on)
) PARTITION BY RANGE (shipped_on);
CREATE TABLE shop.shipments_2025 PARTITION OF shop.shipments FOR VALUES FROM ('2025-01-01') TO ('2026-01-01');
CREATE TABLE shop.shipments_2026 PARTITION OF shop.shipments FOR VALUES FROM ('2026-01-01') TO ('2027-01-01');
INSERT INTO shop.shipments SELECT g, DATE '2025-06-01' + g FROM generate_series(1, 300) g;

-- A name that needs quoting, with a key column that does too, pointing at orders.
CREATE TABLE shop."Order Lines" (
    "Line No" int PRIMARY KEY,
    order_id int NOT NULL REFERENCES shop.orders (id),
    "Qty" int NOT NULL
);
INSERT INTO shop."Order Lines" SELECT g, 1 + g % 300, g % 5 FROM generate_series(1, 90) g;

-- Readers of orders: a view in the schema, a view on that view, a materialized view outside.
CREATE VIEW shop.order_totals AS
    SELECT customer_id, sum(amount) AS total, count(*) AS n FROM shop.orders GROUP BY customer_id;
CREATE VIEW shop.big_spenders AS SELECT customer_id FROM shop.order_totals WHERE total > 1000;
GRANT SELECT ON shop.order_totals TO shop_reader;
RESET ROLE;
CREATE MATERIALIZED VIEW report.daily AS
    SELECT placed_at::date AS day, count(*) AS n FROM shop.orders GROUP BY 1;
CREATE UNIQUE INDEX daily_day ON report.daily (day);
GRANT SELECT ON report.daily TO shop_reader;
SET ROLE shop_owner;

-- A partitioned table two levels deep, with a default partition.
CREATE TABLE shop.events (
    id bigint NOT NULL,
    at date NOT NULL,
    kind text NOT NULL
) PARTITION BY RANGE (at);
CREATE TABLE shop.events_2025 PARTITION OF shop.events FOR VALUES FROM ('2025-01-01') TO ('2026-01-01')
    PARTITION BY LIST (kind);
CREATE TABLE shop.events_2025_a PARTITION OF shop.events_2025 FOR VALUES IN ('a');
CREATE TABLE shop.events_2025_rest PARTITION OF shop.events_2025 DEFAULT;
CREATE TABLE shop.events_other PARTITION OF shop.events DEFAULT;
CREATE INDEX events_kind ON shop.events (kind);
INSERT INTO shop.events SELECT g, DATE '2024-12-01' + g, CASE WHEN g % 3 = 0 THEN 'a' ELSE 'b' END
FROM generate_series(1, 500) g;

-- An inheritance parent with two children.
CREATE TABLE shop.vehicles (id int PRIMARY KEY, name text NOT NULL);
CREATE TABLE shop.cars (seats int) INHERITS (shop.vehicles);
CREATE TABLE shop.trucks (load_kg int) INHERITS (shop.vehicles);
INSERT INTO shop.vehicles VALUES (1, 'generic');
INSERT INTO shop.cars VALUES (2, 'car', 4), (3, 'car', 5);
INSERT INTO shop.trucks VALUES (4, 'truck', 9000);
RESET ROLE;
ANALYZE;
REFRESH MATERIALIZED VIEW report.daily;
