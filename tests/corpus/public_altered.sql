-- schemas: public
-- public changed the ways operators change it: another owner, CREATE revoked from everyone,
-- USAGE for two roles only, a grant made by a role holding the grant option, a comment of its own.
ALTER SCHEMA public OWNER TO corpus_owner;
REVOKE CREATE ON SCHEMA public FROM PUBLIC;
REVOKE ALL ON SCHEMA public FROM PUBLIC;
GRANT USAGE ON SCHEMA public TO corpus_reader;
GRANT USAGE, CREATE ON SCHEMA public TO corpus_writer;
GRANT USAGE ON SCHEMA public TO corpus_admin WITH GRANT OPTION;
SET ROLE corpus_admin;
GRANT USAGE ON SCHEMA public TO "Corpus Ünïcode";
RESET ROLE;
COMMENT ON SCHEMA public IS 'the application''s schema';
CREATE TABLE public.accounts (
    id serial PRIMARY KEY,
    login text NOT NULL,
    balance bigint NOT NULL DEFAULT 0
);
ALTER TABLE public.accounts OWNER TO corpus_owner;
GRANT SELECT ON public.accounts TO corpus_reader;
GRANT SELECT, INSERT, UPDATE ON public.accounts TO corpus_writer;
GRANT SELECT (id, login) ON public.accounts TO "Corpus Ünïcode";
INSERT INTO public.accounts (login, balance)
    SELECT 'user' || i, i * 100 FROM generate_series(1, 50) i;
