-- schemas: app
-- A schema of its own with an owner, grants and a comment, holding one of nearly every kind
-- of object pg_dump writes: domains, composite, range and enum types, a collation, a text
-- search configuration, identity and generated columns, extended statistics, functions in
-- SQL, PL/pgSQL and SQL-standard bodies, a procedure and an aggregate, triggers, rules,
-- materialized views with and without data, default privileges, column privileges and
-- comments on everything, and a TOASTed value.
CREATE SCHEMA app AUTHORIZATION corpus_owner;
COMMENT ON SCHEMA app IS 'the app';
GRANT USAGE ON SCHEMA app TO corpus_reader, corpus_writer;
ALTER DEFAULT PRIVILEGES FOR ROLE corpus_owner IN SCHEMA app GRANT SELECT ON TABLES TO corpus_reader;
ALTER DEFAULT PRIVILEGES FOR ROLE corpus_owner IN SCHEMA app GRANT USAGE ON SEQUENCES TO corpus_writer;
ALTER DEFAULT PRIVILEGES IN SCHEMA app GRANT EXECUTE ON FUNCTIONS TO corpus_writer;

CREATE DOMAIN app.positive_amount AS numeric(12, 2) NOT NULL CHECK (VALUE > 0);
CREATE DOMAIN app.email AS text CONSTRAINT email_has_at CHECK (VALUE LIKE '%@%');
CREATE TYPE app.status AS ENUM ('new', 'paid', 'shipped', 'cancelled');
ALTER TYPE app.status ADD VALUE 'refunded' BEFORE 'cancelled';
CREATE TYPE app.money_pair AS (amount numeric, currency char(3));
CREATE TYPE app.floatrange AS RANGE (subtype = float8, subtype_diff = float8mi);
CREATE COLLATION app.c_utf8 (provider = libc, locale = 'C.UTF-8');
CREATE COLLATION app.posix_c FROM "C";
CREATE TEXT SEARCH CONFIGURATION app.english_simple (COPY = pg_catalog.english);
ALTER TEXT SEARCH CONFIGURATION app.english_simple DROP MAPPING FOR email, url;
CREATE TEXT SEARCH DICTIONARY app.simple_dict (TEMPLATE = pg_catalog.simple, STOPWORDS = english);
COMMENT ON TYPE app.status IS 'where an order is';
COMMENT ON DOMAIN app.email IS 'an address';

CREATE SEQUENCE app.ticket_seq START 1000 INCREMENT 7 CACHE 1;
ALTER SEQUENCE app.ticket_seq OWNER TO corpus_owner;
CREATE TABLE app.orders (
    id bigint GENERATED ALWAYS AS IDENTITY (START WITH 500) PRIMARY KEY,
    ticket bigint NOT NULL DEFAULT nextval('app.ticket_seq'),
    status app.status NOT NULL DEFAULT 'new',
    amount app.positive_amount,
    price app.money_pair,
    window_range app.floatrange,
    customer text COLLATE app.c_utf8,
    contact app.email,
    net numeric GENERATED ALWAYS AS ((amount * 0.8)) STORED,
    body text,
    tsv tsvector,
    placed date NOT NULL DEFAULT '2026-01-01',
    CONSTRAINT orders_ticket_unique UNIQUE (ticket),
    CONSTRAINT amount_sane CHECK (amount < 1000000) NOT VALID
);
ALTER TABLE app.orders OWNER TO corpus_owner;
ALTER TABLE app.orders ALTER COLUMN body SET STORAGE EXTERNAL;
ALTER TABLE app.orders ALTER COLUMN customer SET STATISTICS 500;
ALTER TABLE app.orders SET (fillfactor = 90, autovacuum_enabled = false);
CREATE INDEX orders_status_placed ON app.orders (status, placed DESC) WHERE status <> 'cancelled';
CREATE INDEX orders_tsv ON app.orders USING gin (tsv);
CREATE INDEX orders_lower_contact ON app.orders ((lower(contact::text)));
CREATE STATISTICS app.orders_status_customer (ndistinct, dependencies) ON status, customer FROM app.orders;
ALTER STATISTICS app.orders_status_customer OWNER TO corpus_owner;
COMMENT ON TABLE app.orders IS 'orders, one a row';
COMMENT ON COLUMN app.orders.net IS 'amount after the fee';
COMMENT ON INDEX app.orders_tsv IS 'full text';
COMMENT ON CONSTRAINT amount_sane ON app.orders IS 'not validated on purpose';
GRANT SELECT (id, status), UPDATE (status) ON app.orders TO corpus_writer;

CREATE TABLE app.order_lines (
    order_id bigint NOT NULL REFERENCES app.orders (id) DEFERRABLE INITIALLY DEFERRED,
    line smallint NOT NULL,
    sku text NOT NULL,
    qty integer NOT NULL DEFAULT 1,
    PRIMARY KEY (order_id, line)
);
ALTER TABLE app.order_lines OWNER TO corpus_owner;
ALTER TABLE app.order_lines CLUSTER ON order_lines_pkey;
ALTER TABLE app.order_lines REPLICA IDENTITY FULL;

CREATE TABLE app.audit (
    at timestamptz NOT NULL DEFAULT '2026-01-01 00:00:00+00',
    what text NOT NULL
);
ALTER TABLE app.audit OWNER TO corpus_owner;

CREATE FUNCTION app.net_of(a numeric) RETURNS numeric
    LANGUAGE sql IMMUTABLE PARALLEL SAFE AS 'SELECT a * 0.8';
CREATE FUNCTION app.order_total(oid_ bigint) RETURNS numeric
    LANGUAGE sql STABLE
    BEGIN ATOMIC
        SELECT sum(o.amount) FROM app.orders o WHERE o.id = oid_;
    END;
CREATE FUNCTION app.touch() RETURNS trigger
    LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog AS $$
BEGIN
    INSERT INTO app.audit (what) VALUES (TG_OP || ' ' || TG_TABLE_NAME);
    RETURN NEW;
END
$$;
ALTER FUNCTION app.touch() OWNER TO corpus_owner;
CREATE PROCEDURE app.cancel_order(oid_ bigint)
    LANGUAGE plpgsql AS $$ BEGIN UPDATE app.orders SET status = 'cancelled' WHERE id = oid_; END $$;
CREATE FUNCTION app.add_amount(s numeric, v numeric) RETURNS numeric
    LANGUAGE sql IMMUTABLE AS 'SELECT coalesce(s, 0) + coalesce(v, 0)';
CREATE AGGREGATE app.total(numeric) (SFUNC = app.add_amount, STYPE = numeric, INITCOND = '0');
REVOKE EXECUTE ON FUNCTION app.net_of(numeric) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION app.net_of(numeric) TO corpus_reader;
COMMENT ON FUNCTION app.order_total(bigint) IS 'an SQL-standard body';

CREATE TRIGGER orders_touch AFTER INSERT OR UPDATE ON app.orders
    FOR EACH ROW WHEN (NEW.status IS DISTINCT FROM 'new') EXECUTE FUNCTION app.touch();
CREATE TRIGGER lines_touch AFTER DELETE ON app.order_lines
    FOR EACH STATEMENT EXECUTE FUNCTION app.touch();
ALTER TABLE app.order_lines DISABLE TRIGGER lines_touch;
COMMENT ON TRIGGER orders_touch ON app.orders IS 'audits every change';
CREATE RULE audit_no_delete AS ON DELETE TO app.audit DO INSTEAD NOTHING;

CREATE VIEW app.open_orders WITH (security_barrier) AS
    SELECT id, status, amount FROM app.orders WHERE status IN ('new', 'paid');
CREATE VIEW app.open_orders_cheap AS
    SELECT * FROM app.open_orders WHERE amount < 100 WITH CASCADED CHECK OPTION;
CREATE MATERIALIZED VIEW app.daily AS
    SELECT placed, count(*) AS n, app.total(amount) AS amount FROM app.orders GROUP BY placed;
CREATE UNIQUE INDEX daily_placed ON app.daily (placed);
CREATE MATERIALIZED VIEW app.never_filled AS SELECT id FROM app.orders WITH NO DATA;
ALTER MATERIALIZED VIEW app.daily OWNER TO corpus_owner;
GRANT SELECT ON app.daily TO corpus_reader;

INSERT INTO app.orders (status, amount, price, window_range, customer, contact, body, tsv, placed)
    SELECT (ARRAY['new', 'paid', 'shipped', 'refunded', 'cancelled'])[1 + i % 5]::app.status,
           i * 3.5, ROW(i, 'EUR')::app.money_pair, app.floatrange(i, i + 0.5),
           CASE WHEN i % 2 = 0 THEN 'Alice' ELSE 'ALICE' END, 'a' || i || '@example.org',
           CASE WHEN i = 7 THEN (SELECT string_agg(md5(g::text), '') FROM generate_series(1, 3000) g) ELSE 'short ' || i END,
           to_tsvector('english', 'order number ' || i), DATE '2026-01-01' + i % 9
    FROM generate_series(1, 60) i;
INSERT INTO app.order_lines SELECT o.id, l, 'sku-' || l, l FROM app.orders o, generate_series(1, 3) l;
SELECT setval('app.ticket_seq', 5000);
SELECT nextval('app.ticket_seq');
REFRESH MATERIALIZED VIEW app.daily;
