-- Roles every corpus shape may use. Roles belong to the cluster, not to a database: this runs
-- once per test cluster, before any shape is loaded.
CREATE ROLE corpus_owner;
CREATE ROLE corpus_reader;
CREATE ROLE corpus_writer;
-- Holds a grant option, so that some privileges have a grantor other than the owner.
CREATE ROLE corpus_admin;
CREATE ROLE "Corpus Ünïcode";
