-- schemas: core, "Straße Daten"
-- expect core fresh: refused prerequisites
-- Schemas tied to others: core's columns use a domain and an enum of schema shared, a view of
-- schema reporting reads core and a table there inherits from core's, a partition of core's
-- partitioned table lives in schema archive and one of core's tables is a partition of a
-- table of shared, publications name core's tables and the whole of core; and a schema whose
-- names need quoting and are not ASCII.
CREATE SCHEMA shared;
CREATE DOMAIN shared.code AS text CHECK (VALUE ~ '^[A-Z]{3}$');
CREATE TYPE shared.level AS ENUM ('low', 'high');
CREATE SCHEMA core;
CREATE TABLE core.items (
    id integer PRIMARY KEY,
    currency shared.code NOT NULL,
    level shared.level NOT NULL DEFAULT 'low'
);
INSERT INTO core.items SELECT i, 'EUR', CASE WHEN i % 3 = 0 THEN 'high' ELSE 'low' END::shared.level FROM generate_series(1, 30) i;
CREATE TABLE core.history (at date NOT NULL, item integer NOT NULL, PRIMARY KEY (at, item)) PARTITION BY RANGE (at);
CREATE TABLE core.history_now PARTITION OF core.history FOR VALUES FROM ('2026-01-01') TO (MAXVALUE);
CREATE SCHEMA archive;
CREATE TABLE archive.history_old PARTITION OF core.history FOR VALUES FROM (MINVALUE) TO ('2026-01-01');
INSERT INTO core.history SELECT DATE '2025-12-20' + i, i FROM generate_series(1, 20) i;
CREATE TABLE shared.events (at date NOT NULL, n integer NOT NULL, PRIMARY KEY (at, n)) PARTITION BY RANGE (at);
CREATE TABLE core.events_2026 PARTITION OF shared.events FOR VALUES FROM ('2026-01-01') TO ('2027-01-01');
INSERT INTO shared.events SELECT DATE '2026-03-01' + i, i FROM generate_series(1, 12) i;
CREATE SCHEMA reporting;
CREATE VIEW reporting.high_items AS SELECT id, currency FROM core.items WHERE level = 'high';
CREATE TABLE reporting.items_extra (note text) INHERITS (core.items);
INSERT INTO reporting.items_extra (id, currency, note) VALUES (1000, 'USD', 'an inheritance child in another schema');
CREATE PUBLICATION corpus_items FOR TABLE core.items;
CREATE PUBLICATION corpus_core FOR TABLES IN SCHEMA core;

CREATE SCHEMA "Straße Daten";
CREATE TABLE "Straße Daten"."Größe" ("naïve col" text, "Mixed Case" integer PRIMARY KEY, "with ""quote""" text);
CREATE INDEX "größe idx" ON "Straße Daten"."Größe" ("naïve col");
CREATE VIEW "Straße Daten"."Übersicht" AS SELECT "Mixed Case", "naïve col" FROM "Straße Daten"."Größe";
COMMENT ON TABLE "Straße Daten"."Größe" IS 'Größe – mit Sonderzeichen';
GRANT SELECT ON "Straße Daten"."Größe" TO "Corpus Ünïcode";
INSERT INTO "Straße Daten"."Größe" SELECT 'wert ' || i || ' ü', i, 'q"' || i FROM generate_series(1, 15) i;
