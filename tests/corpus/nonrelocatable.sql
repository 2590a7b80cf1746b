-- schemas: xmlkit
-- expect xmlkit fresh/schema-dump: refused prerequisites
-- expect xmlkit in_place: refused extensions
-- xml2 cannot be moved with ALTER EXTENSION ... SET SCHEMA: a swap that sets xmlkit aside
-- would take its functions along, and the restored schema would have none. Refused, before
-- anything changes; where xmlkit is absent the dump's CREATE EXTENSION brings xml2 back.
CREATE SCHEMA xmlkit;
CREATE EXTENSION xml2 SCHEMA xmlkit;
CREATE TABLE xmlkit.docs (id integer PRIMARY KEY, doc text NOT NULL);
CREATE VIEW xmlkit.titles AS SELECT id, xmlkit.xpath_string(doc, '/a/b') AS title FROM xmlkit.docs;
INSERT INTO xmlkit.docs SELECT i, '<a><b>title ' || i || '</b></a>' FROM generate_series(1, 10) i;
