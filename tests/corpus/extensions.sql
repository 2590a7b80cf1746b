-- schemas: public, kit
-- expect * fresh/schema-dump: refused prerequisites
-- Extensions whose objects live in the schema being restored, used the ways applications use
-- them: operator classes in indexes (pg_trgm, btree_gist in an exclusion constraint), column
-- types (citext, hstore), a default calling an extension's function (uuid-ossp). public
-- holds four; kit, a schema of its own, holds hstore and a table using it.
CREATE EXTENSION pg_trgm SCHEMA public;
CREATE EXTENSION citext SCHEMA public;
CREATE EXTENSION btree_gist SCHEMA public;
CREATE EXTENSION "uuid-ossp" SCHEMA public;
CREATE TABLE public.users (
    id uuid PRIMARY KEY DEFAULT public.uuid_generate_v5(public.uuid_nil(), 'seed'),
    handle public.citext NOT NULL UNIQUE,
    bio text
);
CREATE INDEX users_bio_trgm ON public.users USING gin (bio public.gin_trgm_ops);
CREATE INDEX users_handle_trgm ON public.users USING gist (handle public.gist_trgm_ops);
CREATE TABLE public.bookings (
    room integer NOT NULL,
    during tsrange NOT NULL,
    EXCLUDE USING gist (room WITH =, during WITH &&)
);
INSERT INTO public.users (id, handle, bio)
    SELECT public.uuid_generate_v5(public.uuid_ns_url(), 'u' || i), 'User' || i, 'likes trigram number ' || i
    FROM generate_series(1, 30) i;
INSERT INTO public.bookings
    SELECT i % 5, tsrange(TIMESTAMP '2026-01-01' + i * INTERVAL '1 hour', TIMESTAMP '2026-01-01' + (i + 1) * INTERVAL '1 hour')
    FROM generate_series(1, 40) i;

CREATE SCHEMA kit;
CREATE EXTENSION hstore SCHEMA kit;
CREATE TABLE kit.settings (
    id integer PRIMARY KEY,
    attrs kit.hstore NOT NULL DEFAULT ''::kit.hstore
);
CREATE INDEX settings_attrs ON kit.settings USING gin (attrs);
INSERT INTO kit.settings SELECT i, kit.hstore('k' || i, 'v' || i) FROM generate_series(1, 25) i;
