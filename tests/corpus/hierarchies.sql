-- schemas: parts
-- Tables made of tables: inheritance with rules on the parent, declarative partitions two
-- levels deep with a default partition, a partitioned table with a foreign key and a row
-- trigger, and row-level security enabled and forced with policies.
CREATE SCHEMA parts;
CREATE TABLE parts.events (id integer NOT NULL, kind text NOT NULL, body text);
CREATE TABLE parts.events_web (url text) INHERITS (parts.events);
CREATE TABLE parts.events_app (app text NOT NULL DEFAULT 'ios') INHERITS (parts.events);
CREATE TABLE parts.events_log (id integer, kind text, body text);
CREATE RULE events_logged AS ON INSERT TO parts.events DO ALSO
    INSERT INTO parts.events_log VALUES (NEW.id, NEW.kind, NEW.body);
INSERT INTO parts.events VALUES (1, 'base', 'on the parent itself'), (2, 'base', NULL);
INSERT INTO parts.events_web SELECT i, 'web', 'b' || i, 'https://example.org/' || i FROM generate_series(10, 40) i;
INSERT INTO parts.events_app (id, kind) SELECT i, 'app' FROM generate_series(100, 120) i;

CREATE TABLE parts.regions (code text PRIMARY KEY);
INSERT INTO parts.regions VALUES ('eu'), ('us'), ('ap');
CREATE TABLE parts.readings (
    region text NOT NULL REFERENCES parts.regions (code),
    taken date NOT NULL,
    value double precision,
    PRIMARY KEY (region, taken)
) PARTITION BY LIST (region);
CREATE TABLE parts.readings_eu PARTITION OF parts.readings FOR VALUES IN ('eu') PARTITION BY RANGE (taken);
CREATE TABLE parts.readings_eu_2025 PARTITION OF parts.readings_eu FOR VALUES FROM ('2025-01-01') TO ('2026-01-01');
CREATE TABLE parts.readings_eu_2026 PARTITION OF parts.readings_eu FOR VALUES FROM ('2026-01-01') TO ('2027-01-01');
CREATE TABLE parts.readings_other PARTITION OF parts.readings DEFAULT;
CREATE INDEX readings_value ON parts.readings (value);
CREATE FUNCTION parts.clamp() RETURNS trigger LANGUAGE plpgsql AS
    $$ BEGIN NEW.value := greatest(NEW.value, 0); RETURN NEW; END $$;
CREATE TRIGGER readings_clamp BEFORE INSERT ON parts.readings FOR EACH ROW EXECUTE FUNCTION parts.clamp();
INSERT INTO parts.readings
    SELECT (ARRAY['eu', 'us', 'ap'])[1 + i % 3], DATE '2025-06-01' + i * 3, i - 20
    FROM generate_series(1, 150) i;

CREATE TABLE parts.notes (id integer PRIMARY KEY, author text NOT NULL, body text);
ALTER TABLE parts.notes ENABLE ROW LEVEL SECURITY;
ALTER TABLE parts.notes FORCE ROW LEVEL SECURITY;
CREATE POLICY notes_own ON parts.notes USING (author = current_user);
CREATE POLICY notes_readers ON parts.notes AS RESTRICTIVE FOR SELECT TO corpus_reader USING (body IS NOT NULL);
INSERT INTO parts.notes SELECT i, CASE WHEN i % 2 = 0 THEN 'postgres' ELSE 'corpus_reader' END, 'note ' || i FROM generate_series(1, 20) i;
GRANT SELECT ON parts.notes TO corpus_reader;
